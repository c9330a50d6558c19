package e2e

import (
	"context"
	"sort"
	"strings"
	"testing"

	wfv1 "github.com/argoproj/argo-workflows/v3/pkg/apis/workflow/v1alpha1"
	"github.com/minio/minio-go/v7"

	"github.com/kfpargo/kfpargo/runstatus"
	"github.com/kfpargo/kfpargo/test/runner"
)

// The corpus has loops, exit handlers, retries and importers only in
// lightweight Python components, which need the KFP SDK at run time; these
// hand-written specs exercise the same IR constructs with shell and Python
// standard-library steps.

// TestLoops: fan-out over a pipeline parameter (3 shards, at most 2 at a
// time), a nested loop (2 letters each), fan-in of parameters and artifacts,
// and a loop over the collected artifacts.
func TestLoops(t *testing.T) {
	res := runPipeline(t, "testdata/loops.yaml", nil)
	defer logOnFailure(t, res.Workflow)
	if !res.Succeeded() {
		t.Fatalf("run %s: %s (%s)", res.Workflow.Name, res.Workflow.Status.Phase, res.Workflow.Status.Message)
	}
	steps := stepsByTask(res.Steps)
	for task, want := range map[string]int{"make-part": 3, "tag": 6, "join": 1, "check-part": 3} {
		if got := len(steps[task]); got != want {
			t.Errorf("%s ran %d times, want %d", task, got, want)
		}
	}
	for _, s := range res.Steps {
		if s.Pods != 1 {
			t.Errorf("step %s ran %d pods, want 1", s.Name, s.Pods)
		}
	}
	if n := totalPods(t, res); n != 13 {
		t.Errorf("%d pods, want 13: one per executed task, nothing else", n)
	}
	if got := strings.Join(outputsOf(steps["tag"], "tag"), " "); got != "1-x 1-y 2-x 2-y 3-x 3-y" {
		t.Errorf("nested loop tags %q", got)
	}
	if got := output(t, steps, "join", "total"); got != "24" {
		t.Errorf("sum of collected sizes %q, want 24 (3 parts of 8 bytes)", got)
	}
	if got := output(t, steps, "join", "text"); got != "shard 1\nshard 2\nshard 3" {
		t.Errorf("joined collected artifacts %q", got)
	}
	if got := strings.Join(outputsOf(steps["check-part"], "line"), ","); got != "shard 1,shard 2,shard 3" {
		t.Errorf("artifact iterator saw %q", got)
	}
	// Three iterations of one IR task wrote three distinct objects.
	parts := 0
	for _, a := range res.Artifacts {
		if strings.Contains(a.URI, "/make-part/") && strings.HasSuffix(a.URI, "/part") {
			parts++
		}
	}
	if parts != 3 {
		t.Errorf("%d make-part artifacts in MinIO, want 3 (one per iteration): %v", parts, res.Artifacts)
	}
	// parallelismLimit 2: never three make-part steps at once.
	if max := maxOverlap(steps["make-part"]); max > 2 {
		t.Errorf("%d make-part steps ran at once; the loop's parallelism limit is 2", max)
	}
}

// TestExitHandlerOnFailure: the handled step fails, the exit task still
// runs and sees FAILED, the ignore_upstream_failure task runs with its
// default, the plain downstream task is not run, and the run fails.
func TestExitHandlerOnFailure(t *testing.T) {
	res := runPipeline(t, "testdata/exit-handler.yaml", nil)
	defer logOnFailure(t, res.Workflow)
	if res.Workflow.Status.Phase != wfv1.WorkflowFailed {
		t.Errorf("workflow %s, want Failed", res.Workflow.Status.Phase)
	}
	steps := stepsByTask(res.Steps)
	if w := steps["work"]; len(w) != 1 || w[0].Phase != wfv1.NodeFailed || w[0].ExitCode != "7" {
		t.Errorf("work: %+v, want Failed with exit code 7", w)
	}
	if got := output(t, steps, "cleanup", "state"); got != "FAILED" {
		t.Errorf("exit task saw state %q, want FAILED", got)
	}
	if got := output(t, steps, "report-anyway", "said"); got != "upstream failed" {
		t.Errorf("ignore_upstream_failure task got %q, want its default", got)
	}
	if len(steps["report-after-success"]) != 0 {
		t.Errorf("report-after-success ran after a failed upstream: %+v", steps["report-after-success"])
	}
	// And when nothing fails, the exit task sees COMPLETE (KFP's open-source
	// backend reports ML Metadata's execution state).
	ok := runPipeline(t, "testdata/exit-handler.yaml", map[string]string{"fail": "false"})
	defer logOnFailure(t, ok.Workflow)
	if !ok.Succeeded() {
		t.Fatalf("run %s: %s", ok.Workflow.Name, ok.Workflow.Status.Phase)
	}
	okSteps := stepsByTask(ok.Steps)
	if got := output(t, okSteps, "cleanup", "state"); got != "COMPLETE" {
		t.Errorf("exit task saw state %q, want COMPLETE", got)
	}
	if got := output(t, okSteps, "report-after-success", "said"); got != "done" {
		t.Errorf("report-after-success got %q", got)
	}
}

// TestRetryAndImporters: the flaky step succeeds on its second pod; the
// importers make no pod, and the reader gets a single object and a prefix.
func TestRetryAndImporters(t *testing.T) {
	uploadFixtures(t, needTarget(t))
	res := runPipeline(t, "testdata/retry-importer.yaml", map[string]string{"data_uri": fixtureURI + "data"})
	defer logOnFailure(t, res.Workflow)
	if res.Workflow.Status.Phase != wfv1.WorkflowSucceeded {
		t.Fatalf("run %s: %s (%s)", res.Workflow.Name, res.Workflow.Status.Phase, res.Workflow.Status.Message)
	}
	steps := stepsByTask(res.Steps)
	flaky := steps["flaky"]
	if len(flaky) != 2 || flaky[0].Phase != wfv1.NodeFailed || flaky[1].Phase != wfv1.NodeSucceeded {
		t.Errorf("flaky attempts: %+v, want one Failed then one Succeeded", flaky)
	}
	if len(steps["importer"])+len(steps["importer-2"]) != 0 {
		t.Errorf("importers ran as pods: %+v %+v", steps["importer"], steps["importer-2"])
	}
	if got := output(t, steps, "read", "text"); got != "hello / 1,23,4" {
		t.Errorf("reader saw %q", got)
	}
	if n := totalPods(t, res); n != 3 {
		t.Errorf("%d pods, want 3 (two flaky attempts and the reader)", n)
	}
}

// fixtureURI is where uploadFixtures puts objects for imports and pipeline
// input artifacts.
const fixtureURI = "minio://mlpipeline/e2e-fixtures/"

func uploadFixtures(t *testing.T, tg *runner.Target) {
	t.Helper()
	for key, content := range map[string]string{
		"greeting.txt": "hello",
		"data/a.csv":   "1,2",
		"data/b.csv":   "3,4",
	} {
		if _, err := tg.Store.Client().PutObject(context.Background(), "mlpipeline", "e2e-fixtures/"+key, strings.NewReader(content), int64(len(content)), minio.PutObjectOptions{}); err != nil {
			t.Fatal(err)
		}
	}
}

// outputsOf is output name of every run of a task (loop iterations), sorted.
func outputsOf(steps []runstatus.Step, name string) []string {
	var out []string
	for _, s := range steps {
		out = append(out, s.Outputs[name])
	}
	sort.Strings(out)
	return out
}

// maxOverlap is the largest number of steps running at the same instant.
func maxOverlap(steps []runstatus.Step) int {
	max := 0
	for _, a := range steps {
		n := 0
		for _, b := range steps {
			if !b.Started.After(a.Started) && b.Finished.After(a.Started) {
				n++
			}
		}
		if n > max {
			max = n
		}
	}
	return max
}

func logOnFailure(t *testing.T, wf *wfv1.Workflow) {
	if t.Failed() {
		logNodes(t, wf)
	}
}

// TestLiteralBraces: text in a command that looks like Argo variables
// reaches the container unchanged.
func TestLiteralBraces(t *testing.T) {
	res := runPipeline(t, "testdata/literal-braces.yaml", nil)
	defer logOnFailure(t, res.Workflow)
	if !res.Succeeded() {
		t.Fatalf("run %s: %s", res.Workflow.Name, res.Workflow.Status.Phase)
	}
	want := "{{workflow.name}} {{inputs.parameters.x}} {{=1+1}} {{ jinja }} a·b"
	if got := output(t, stepsByTask(res.Steps), "echo", "text"); got != want {
		t.Errorf("the command saw %q, want %q", got, want)
	}
}
