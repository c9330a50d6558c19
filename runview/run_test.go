package runview

import (
	"bytes"
	"encoding/json"
	"flag"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"testing"

	wfv1 "github.com/argoproj/argo-workflows/v3/pkg/apis/workflow/v1alpha1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/yaml"

	"github.com/kfpargo/kfpargo/runview/fixture"
)

var update = flag.Bool("update", false, "rewrite the golden files in testdata")

// The fixtures are runs captured on the local stack with test/cmd/dumprun:
// mnist-run1 ran testdata/mnist-classification.yaml, mnist-run2-cached the
// same with hidden_units=256 (load-data and preprocessing served from the
// cache); loops, exit-handler and retry-importer ran test/e2e/testdata's
// pipelines.
func load(t *testing.T, name string) *Run {
	t.Helper()
	fx, err := fixture.Load(filepath.Join("testdata", name+".json"))
	if err != nil {
		t.Fatal(err)
	}
	r, err := FromWorkflow(&fx.Workflow, fx.Pods)
	if err != nil {
		t.Fatalf("%s: %v", name, err)
	}
	return r
}

func byName(r *Run) map[string]*Step {
	m := map[string]*Step{}
	for i := range r.Steps {
		m[r.Steps[i].Label()] = &r.Steps[i]
	}
	return m
}

// edgeNames lists the edges as "from->to" by step name, sorted.
func edgeNames(r *Run) []string {
	var out []string
	for _, e := range r.Edges {
		out = append(out, r.Step(e.From).Label()+"->"+r.Step(e.To).Label())
	}
	sort.Strings(out)
	return out
}

func TestFromWorkflowMNIST(t *testing.T) {
	r := load(t, "mnist-run1")
	if r.Name != "mnist-classification-l28g5" || r.Namespace != "argo" || r.Pipeline != "mnist-classification" ||
		r.Experiment != "mnist" || r.Phase != "Succeeded" || r.UID == "" || r.DurationSeconds != 16 {
		t.Errorf("run header: %+v", r)
	}
	wantParams := []Param{{"epochs", "5"}, {"hidden_units", "128"}, {"load_seconds", "2"}}
	if !equalJSON(r.Parameters, wantParams) {
		t.Errorf("parameters %v, want %v", r.Parameters, wantParams)
	}
	var order []string
	for _, s := range r.Steps {
		order = append(order, s.Name)
	}
	if strings.Join(order, ",") != "load-data,preprocessing,train,evaluate" {
		t.Errorf("steps in start order: %v", order)
	}
	if got := strings.Join(edgeNames(r), " "); got != "load-data->preprocessing preprocessing->evaluate preprocessing->train train->evaluate" {
		t.Errorf("edges: %s", got)
	}
	steps := byName(r)
	train := steps["train"]
	if !equalJSON(train.Inputs, []Param{{"epochs", "5"}, {"hidden_units", "128"}}) {
		t.Errorf("train inputs (kfpargo-task and artifact-* hidden): %v", train.Inputs)
	}
	if !equalJSON(train.Outputs, []Param{{"accuracy", "98.9"}}) {
		t.Errorf("train outputs (artifact-* and kfpargo-metrics hidden): %v", train.Outputs)
	}
	if train.Cache == nil || train.Cache.Decision != "miss" || train.Cache.Reason != "no entry" || len(train.Cache.Key) != 64 || train.Cached {
		t.Errorf("train cache: %+v", train.Cache)
	}
	metrics := map[string]string{}
	for _, m := range train.Metrics {
		metrics[m.Artifact+"/"+m.Name] = m.Text()
	}
	if metrics["metrics/accuracy"] != "98.9" || metrics["metrics/loss"] != "0.0908" || metrics["metrics/framework"] != "python-stdlib" {
		t.Errorf("train metrics: %v", metrics)
	}

	ev := steps["evaluate"]
	arts := map[string]Artifact{}
	for _, a := range ev.Artifacts {
		arts[a.Direction+":"+a.Name] = a
	}
	if a := arts["input:model"]; a.URI != "minio://mlpipeline/v2/artifacts/argo/mnist-classification-l28g5/train/output_model" ||
		a.Size != 162242 || len(a.SHA256) != 64 || a.SchemaTitle != "system.Model" {
		t.Errorf("evaluate's model input: %+v", a)
	}
	if a := arts["output:classification"]; a.SchemaTitle != "system.ClassificationMetrics" || a.Metadata != nil {
		t.Errorf("classification output (values move to classification[]): %+v", a)
	}
	if len(ev.Artifacts) != 4 {
		t.Errorf("evaluate artifacts: %+v", ev.Artifacts)
	}
	if len(ev.Classification) != 1 {
		t.Fatalf("evaluate classification: %+v", ev.Classification)
	}
	c := ev.Classification[0]
	if c.Artifact != "classification" || c.ConfusionMatrix == nil || len(c.ConfusionMatrix.Classes) != 10 ||
		c.ConfusionMatrix.Rows[0][0] != 24 || c.ConfusionMatrix.Rows[0][9] != 1 || c.ConfusionMatrix.Rows[6][8] != 2 {
		t.Errorf("confusion matrix: %+v", c.ConfusionMatrix)
	}
	if len(c.ROC) != 21 || c.ROCPoints != 21 || c.ROC[0].FPR != 0 || c.ROC[0].TPR != 0 || c.ROC[20] != (ROCPoint{Threshold: 0, FPR: 1, TPR: 1}) {
		t.Errorf("ROC (ordered by FPR): %d points %+v", len(c.ROC), c.ROC)
	}
	for i := 1; i < len(c.ROC); i++ {
		if c.ROC[i].FPR < c.ROC[i-1].FPR {
			t.Errorf("ROC point %d out of order: %+v", i, c.ROC)
		}
	}
}

func TestFromWorkflowCached(t *testing.T) {
	r := load(t, "mnist-run2-cached")
	cached := map[string]bool{}
	for _, s := range r.Steps {
		cached[s.Name] = s.Cached
	}
	if !cached["load-data"] || !cached["preprocessing"] || cached["train"] || cached["evaluate"] {
		t.Errorf("cached steps: %v", cached)
	}
	pre := byName(r)["preprocessing"]
	if pre.Cache.Source != "argo/mnist-classification-l28g5/mnist-classification-l28g5-preprocessing-3882937134" {
		t.Errorf("preprocessing served from %q", pre.Cache.Source)
	}
	// A replay hands back the first run's descriptors.
	for _, a := range pre.Artifacts {
		if a.Direction == Output && !strings.Contains(a.URI, "/mnist-classification-l28g5/") {
			t.Errorf("replayed output %s at %s", a.Name, a.URI)
		}
	}
}

// Loops, retries, exit handlers and skipped tasks put grouping nodes
// between the steps; edges must join the steps themselves.
func TestEdgesOfConstructs(t *testing.T) {
	for _, tc := range []struct {
		fixture string
		// phases counts the steps by phase.
		phases map[string]int
		// edges that must be present, by step name.
		edges  []string
		nEdges int
	}{
		// for-loop-1 over [1,2,3] runs make-part and a nested loop of tag
		// over [x,y]; join collects them; for-loop-3 runs check-part on
		// each collected part, after all of for-loop-1.
		{fixture: "loops", phases: map[string]int{"Succeeded": 13}, nEdges: 3*3 + 6*3 + 3 + 6,
			edges: []string{"make-part #0->join", "make-part #2->join", "tag #1.1->join", "make-part #0->check-part #2", "tag #2.0->check-part #1"}},
		// work fails: report-anyway runs, report-after-success is omitted,
		// the exit task cleanup runs after both.
		{fixture: "exit-handler", phases: map[string]int{"Failed": 1, "Succeeded": 2, "Omitted": 1}, nEdges: 5,
			edges: []string{"work->report-after-success", "work->report-anyway", "work->cleanup", "report-anyway->cleanup", "report-after-success->cleanup"}},
	} {
		t.Run(tc.fixture, func(t *testing.T) {
			r := load(t, tc.fixture)
			phases := map[string]int{}
			for _, s := range r.Steps {
				phases[s.Phase]++
			}
			if !equalJSON(phases, tc.phases) {
				t.Errorf("phases %v, want %v", phases, tc.phases)
			}
			got := map[string]bool{}
			for _, e := range edgeNames(r) {
				got[e] = true
			}
			for _, e := range tc.edges {
				if !got[e] {
					t.Errorf("no edge %s in %v", e, edgeNames(r))
				}
			}
			if len(r.Edges) != tc.nEdges {
				t.Errorf("%d edges, want %d: %v", len(r.Edges), tc.nEdges, edgeNames(r))
			}
			for _, e := range r.Edges {
				if r.Step(e.From) == nil || r.Step(e.To) == nil || e.From == e.To {
					t.Errorf("edge %+v does not join two steps", e)
				}
			}
		})
	}
}

func TestFromWorkflowBadValues(t *testing.T) {
	wf := &wfv1.Workflow{
		ObjectMeta: metav1.ObjectMeta{Name: "r", Namespace: "ns"},
		Status: wfv1.WorkflowStatus{Phase: wfv1.WorkflowFailed, Nodes: wfv1.Nodes{
			"r": {ID: "r", Name: "r", Type: wfv1.NodeTypeDAG, Children: []string{"r-1", "r-2"}},
			"r-1": {ID: "r-1", Name: "r.a", DisplayName: "a", Type: wfv1.NodeTypePod, Phase: wfv1.NodeSucceeded, Children: []string{"r-3"},
				Outputs: &wfv1.Outputs{Parameters: []wfv1.Parameter{
					{Name: "artifact-broken", Value: wfv1.AnyStringPtr("{not json")},
					{Name: "artifact-nouri", Value: wfv1.AnyStringPtr(`{"sha256":"x"}`)},
					{Name: "artifact-list", Value: wfv1.AnyStringPtr(`[{"uri":"s3://b/1","size":3},"{\"uri\":\"s3://b/2\"}",[{"uri":"s3://b/3"}]]`)},
					{Name: "kfpargo-metrics", Value: wfv1.AnyStringPtr(`{"m":{"acc":0.5,"confusionMatrix":{"annotationSpecs":[{"displayName":"x"}],"rows":[{"row":[1,2]}]},"confidenceMetrics":{"points":7}}}`)},
					{Name: "pending"},
				}}},
			"r-2": {ID: "r-2", Name: "r.cond", DisplayName: "cond", Type: wfv1.NodeTypeSkipped, Phase: wfv1.NodeSkipped, Message: "when 'false' evaluated false"},
			"r-3": {ID: "r-3", Name: "r.b", DisplayName: "b", Type: wfv1.NodeTypeSkipped, Phase: wfv1.NodeOmitted},
		}},
	}
	r, err := FromWorkflow(wf, nil)
	if err == nil || !strings.Contains(err.Error(), "artifact-broken") || !strings.Contains(err.Error(), "nouri: artifact descriptor has no uri") {
		t.Errorf("error should name the bad parameters: %v", err)
	}
	if r == nil || len(r.Steps) != 3 {
		t.Fatalf("the run is still built: %+v", r)
	}
	a := byName(r)["a"]
	var names []string
	for _, x := range a.Artifacts {
		names = append(names, x.Name+"="+x.URI)
	}
	if strings.Join(names, " ") != "list[0]=s3://b/1 list[1]=s3://b/2 list[2][0]=s3://b/3" {
		t.Errorf("list artifacts: %v", names)
	}
	if len(a.Outputs) != 0 {
		t.Errorf("an output without a value is not shown: %v", a.Outputs)
	}
	if len(a.Metrics) != 1 || a.Metrics[0].Text() != "0.5" || len(a.Classification) != 1 ||
		a.Classification[0].ConfusionMatrix != nil || a.Classification[0].ROCPoints != 7 {
		t.Errorf("metrics from the summary (bad matrix left out): %+v %+v", a.Metrics, a.Classification)
	}
	if !byName(r)["cond"].Skipped() || !byName(r)["b"].Skipped() || byName(r)["a"].Skipped() {
		t.Errorf("skipped: %+v", r.Steps)
	}
	if got := strings.Join(edgeNames(r), " "); got != "a->b" {
		t.Errorf("edges %s", got)
	}
	if _, err := FromWorkflow(nil, nil); err == nil {
		t.Error("nil workflow accepted")
	}
}

// The serialised form is `kfpargo get -o json|yaml`'s: its field names are
// an interface, so they are pinned by a golden file (go test -update).
func TestSerialisedForm(t *testing.T) {
	r := load(t, "mnist-run2-cached")
	b, err := json.MarshalIndent(r, "", "  ")
	if err != nil {
		t.Fatal(err)
	}
	golden(t, "mnist-run2-cached.view.json", append(b, '\n'))
	y, err := yaml.Marshal(r)
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"experiment: mnist\n", "  cached: true\n", "    decision: hit\n", "    rocPoints: 21\n", "- from: "} {
		if !bytes.Contains(y, []byte(want)) {
			t.Errorf("YAML lacks %q", want)
		}
	}
}

func golden(t *testing.T, name string, got []byte) {
	t.Helper()
	path := filepath.Join("testdata", name)
	if *update {
		if err := os.WriteFile(path, got, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("%v (run go test -update to create it)", err)
	}
	if !bytes.Equal(got, want) {
		t.Errorf("%s differs from what was produced (go test ./runview -update rewrites it)", path)
	}
}

func equalJSON(a, b any) bool {
	x, _ := json.Marshal(a)
	y, _ := json.Marshal(b)
	return bytes.Equal(x, y)
}

func TestIteration(t *testing.T) {
	for _, tc := range []struct{ node, want string }{
		{"wf.train", ""},
		{"wf.train(1)", ""},
		{"wf.for-loop-1.for-loop-1(2:3).make-part", "2"},
		{"wf.for-loop-1.for-loop-1(0:1).for-loop-2(1:y).tag", "0.1"},
		{`wf.for-loop-3(10:schemaTitle:system.Dataset,uri:minio://b/a.b(c)/part).check-part`, "10"},
		{"wf.loop(x:1).a", ""},
		{"wf.unbalanced)(", ""},
	} {
		if got := iteration(tc.node); got != tc.want {
			t.Errorf("iteration(%q) = %q, want %q", tc.node, got, tc.want)
		}
	}
}
