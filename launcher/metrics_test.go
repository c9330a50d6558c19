package launcher

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestMetrics(t *testing.T) {
	dir := t.TempDir()
	file := filepath.Join(dir, "m.json")
	_ = os.WriteFile(file, []byte(`{"accuracy": 97.5, "loss": 0.08, "framework": "stdlib"}`), 0o644)
	notJSON := filepath.Join(dir, "n")
	_ = os.WriteFile(notJSON, []byte("accuracy=1"), 0o644)

	if m := readMetrics(map[string]any{"auc": 0.9}, file); len(m) != 1 || m["auc"] != 0.9 {
		t.Errorf("metadata must win over the file: %v", m)
	}
	if m := readMetrics(nil, file); m["accuracy"] != 97.5 || m["framework"] != "stdlib" {
		t.Errorf("file metrics: %v", m)
	}
	if m := readMetrics(nil, notJSON); m != nil {
		t.Errorf("non-JSON file gave %v", m)
	}
	var b strings.Builder
	writeMetricsTable(&b, "metrics", readMetrics(nil, file))
	want := "metrics (metrics):\n  accuracy   97.5\n  framework  stdlib\n  loss       0.08\n"
	if b.String() != want {
		t.Errorf("table:\n%s\nwant:\n%s", b.String(), want)
	}
}

// A ClassificationMetrics output as log_confusion_matrix and log_roc_curve
// leave it: the table shows the matrix, the summary keeps it but replaces
// the ROC points by their count.
func TestClassificationMetrics(t *testing.T) {
	m := map[string]any{
		"confusionMatrix": map[string]any{
			"annotationSpecs": []any{map[string]any{"displayName": "cat"}, map[string]any{"displayName": "dog"}},
			"rows":            []any{map[string]any{"row": []any{8.0, 2.0}}, map[string]any{"row": []any{1.0, 9.0}}},
		},
		"confidenceMetrics": []any{map[string]any{"threshold": 0.5}, map[string]any{"threshold": 0.9}},
		"note":              "v1",
	}
	var b strings.Builder
	writeMetricsTable(&b, "eval", m)
	for _, want := range []string{"note  v1", "confusion matrix", "cat          8          2", "dog          1          9", "ROC curve: 2 points"} {
		if !strings.Contains(b.String(), want) {
			t.Errorf("table lacks %q:\n%s", want, b.String())
		}
	}
	s := summarize(m)
	if s["note"] != "v1" || s["confusionMatrix"] == nil || s["confidenceMetrics"].(map[string]any)["points"] != 2 {
		t.Errorf("summary %v", s)
	}
}

// Metrics come from the user's command (a container component writes them
// as the artifact's JSON), so any shape must be survived: no panic, and
// what is not a confusion matrix is not shown as one.
func TestHostileMetrics(t *testing.T) {
	for _, doc := range []string{
		`{"confusionMatrix": {"annotationSpecs": [1, "x", null], "rows": [2, "y", null]}}`,
		`{"confusionMatrix": {"annotationSpecs": [{"displayName": 3}], "rows": [{"row": "no"}]}}`,
		`{"confusionMatrix": {"annotationSpecs": [{"displayName": "a"}], "rows": [{"row": [1, "two", null, {}]}]}}`,
		`{"confusionMatrix": 7, "confidenceMetrics": {"not": "a list"}}`,
		`{"confusionMatrix": {"annotationSpecs": [` + strings.Repeat(`{"displayName": "c"},`, 30) + `{}], "rows": []}}`,
	} {
		file := filepath.Join(t.TempDir(), "m.json")
		_ = os.WriteFile(file, []byte(doc), 0o644)
		func() {
			defer func() {
				if p := recover(); p != nil {
					t.Errorf("%s: panic: %v", doc, p)
				}
			}()
			m := readMetrics(nil, file)
			if m == nil {
				t.Fatalf("%s: not read", doc)
			}
			summarize(m)
			var b strings.Builder
			writeMetricsTable(&b, "m", m)
			if strings.Contains(b.String(), "confusion matrix") && !strings.Contains(doc, `"displayName": "a"`) {
				t.Errorf("%s: shown as a confusion matrix:\n%s", doc, b.String())
			}
		}()
	}
}
