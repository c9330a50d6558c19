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
