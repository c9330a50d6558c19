package report

import (
	"bytes"
	"flag"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/kfpargo/kfpargo/runview"
	"github.com/kfpargo/kfpargo/runview/fixture"
)

var update = flag.Bool("update", false, "rewrite the golden files in testdata")

// loadRun reads one of runview's captured runs (see runview/run_test.go).
func loadRun(t *testing.T, name string) *runview.Run {
	t.Helper()
	fx, err := fixture.Load(filepath.Join("..", "runview", "testdata", name+".json"))
	if err != nil {
		t.Fatal(err)
	}
	r, err := runview.FromWorkflow(&fx.Workflow, fx.Pods)
	if err != nil {
		t.Fatal(err)
	}
	return r
}

func render(t *testing.T, r *runview.Run) string {
	t.Helper()
	var b bytes.Buffer
	if err := Render(&b, r); err != nil {
		t.Fatal(err)
	}
	return b.String()
}

// The page for the second MNIST run (two steps from the cache, a
// confusion matrix and a ROC curve) is pinned: regenerate with
// go test ./report -update and look at the difference.
func TestGolden(t *testing.T) {
	got := render(t, loadRun(t, "mnist-run2-cached"))
	path := filepath.Join("testdata", "mnist-run2-cached.html")
	if *update {
		if err := os.MkdirAll("testdata", 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(path, []byte(got), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("%v (go test ./report -update creates it)", err)
	}
	if got != string(want) {
		t.Errorf("the page differs from %s (go test ./report -update rewrites it)", path)
	}
}

func TestContent(t *testing.T) {
	for _, tc := range []struct {
		fixture string
		want    []string
		count   map[string]int
	}{
		{"mnist-run2-cached", []string{
			`<h1>mnist-classification-gfqxk</h1>`, "experiment <b>mnist</b>",
			`data-step="load-data"`, `<td class="num metric-value">99.6</td>`,
			`class="cm confusion-matrix"`, `class="roc-line"`, "AUC <span class=\"auc\">",
			"minio://mlpipeline/v2/artifacts/argo/mnist-classification-l28g5/load-data/output_dataset",
			"hit: replaying the outputs of argo/mnist-classification-l28g5/",
		}, map[string]int{
			`<g class="node cached"`: 2, `<g class="node"`: 2, `class="cached-badge"`: 2,
			`<g class="bar cached"`: 2, `<path class="edge"`: 4, `<g class="metric-bar"`: 5,
		}},
		{"loops", []string{`data-step="tag #2.1"`, `data-step="check-part #0"`}, map[string]int{
			`<g class="node"`: 13, `<path class="edge"`: 36, `class="cached-badge"`: 0,
		}},
		{"exit-handler", []string{`data-phase="Omitted"`, `data-phase="Failed"`, "No step logged metrics."}, map[string]int{
			`stroke-dasharray="4 3"`: 1, // the edge into the omitted step
		}},
	} {
		t.Run(tc.fixture, func(t *testing.T) {
			page := render(t, loadRun(t, tc.fixture))
			for _, w := range tc.want {
				if !strings.Contains(page, w) {
					t.Errorf("page lacks %q", w)
				}
			}
			for w, n := range tc.count {
				if got := strings.Count(page, w); got != n {
					t.Errorf("%q appears %d times, want %d", w, got, n)
				}
			}
			assertSelfContained(t, page)
		})
	}
}

// externalRef finds what would make a browser fetch something.
var externalRef = regexp.MustCompile(`(?i)<link|<img|<iframe|\bsrc=|@import|url\((["']?)(https?:|//)`)

func assertSelfContained(t *testing.T, page string) {
	t.Helper()
	if m := externalRef.FindString(page); m != "" {
		t.Errorf("the page refers to an external asset: %q", m)
	}
	// The only absolute URL allowed is SVG's namespace name, which is never
	// fetched.
	rest := strings.ReplaceAll(page, `xmlns="http://www.w3.org/2000/svg"`, "")
	if i := strings.Index(rest, "http"); i >= 0 {
		t.Errorf("the page holds a URL: %q", rest[i:min(len(rest), i+60)])
	}
}

// Every value comes from the cluster, so every value is escaped.
func TestEscaping(t *testing.T) {
	evil := `<script>alert(1)</script>"'&`
	r := &runview.Run{
		Name: evil, Namespace: "ns", Phase: "Failed", Message: evil, Pipeline: evil, Experiment: evil,
		Parameters: []runview.Param{{Name: evil, Value: evil}},
		Steps: []runview.Step{{
			ID: "a", Name: evil, Phase: "Failed", Message: evil, Inputs: []runview.Param{{Name: evil, Value: evil}},
			Cache:     &runview.Cache{Decision: "miss", Reason: evil, Key: evil},
			Artifacts: []runview.Artifact{{Name: evil, Direction: "output", URI: "javascript:alert(1)", SHA256: evil}, {Name: "h", Direction: "output", URI: "https://example.com/a?x=<b>"}},
			Metrics:   []runview.Metric{{Artifact: evil, Name: evil, Value: evil}, {Artifact: "m", Name: "n", Value: 0.5}},
			Classification: []runview.Classification{{Artifact: evil,
				ConfusionMatrix: &runview.ConfusionMatrix{Classes: []string{evil}, Rows: [][]float64{{3}}},
				ROC:             []runview.ROCPoint{{Threshold: 1, FPR: 0, TPR: 0}, {Threshold: 0, FPR: 1, TPR: 1}}}},
		}},
	}
	page := render(t, r)
	if strings.Contains(page, "<script>alert") || strings.Contains(page, `href="javascript`) {
		t.Errorf("unescaped value in the page")
	}
	if !strings.Contains(page, "&lt;script&gt;alert(1)&lt;/script&gt;") {
		t.Errorf("the value is not shown escaped")
	}
	if !strings.Contains(page, `<a href="https://example.com/a?x=%3cb%3e">`) {
		t.Errorf("an http(s) artifact URI is a link")
	}
	if strings.Contains(page, "ZgotmplZ") {
		t.Errorf("a value was rejected by html/template's filters (it shows as ZgotmplZ)")
	}
	if err := Render(&bytes.Buffer{}, nil); err == nil {
		t.Error("nil run accepted")
	}
}

// A run that has not started yet still renders.
func TestEmptyRun(t *testing.T) {
	page := render(t, &runview.Run{Name: "r", Namespace: "ns", Phase: "Pending"})
	for _, w := range []string{"The run has no steps yet.", "No step has started.", "The run has no parameters."} {
		if !strings.Contains(page, w) {
			t.Errorf("page lacks %q", w)
		}
	}
}
