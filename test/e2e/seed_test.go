package e2e

import (
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	wfv1 "github.com/argoproj/argo-workflows/v3/pkg/apis/workflow/v1alpha1"

	"github.com/kfpargo/kfpargo/runstatus"
	"github.com/kfpargo/kfpargo/step"
	"github.com/kfpargo/kfpargo/test/runner"
)

const seedPipeline = "../../examples/seed-mnist/pipeline.yaml"

// runPipeline runs a spec on the suite's (uncached) target.
func runPipeline(t *testing.T, spec string, params map[string]string) *runner.Result {
	t.Helper()
	return runWith(t, needTarget(t), spec, params)
}

func stepByName(steps []runstatus.Step) map[string]runstatus.Step {
	out := map[string]runstatus.Step{}
	for _, s := range steps {
		out[s.Name] = s
	}
	return out
}

// TestSeedPipeline is the demo's claim: every step Succeeded, exactly one
// pod per IR task, and each output artifact is in MinIO.
func TestSeedPipeline(t *testing.T) {
	res := runPipeline(t, seedPipeline, map[string]string{"load_seconds": "1"})
	if !res.Succeeded() {
		t.Fatalf("run %s: %s (%s)", res.Workflow.Name, res.Workflow.Status.Phase, res.Workflow.Status.Message)
	}
	steps := stepByName(res.Steps)
	for _, task := range []string{"load-data", "preprocessing", "train", "evaluate"} {
		s, ok := steps[task]
		if !ok {
			t.Errorf("no step %s", task)
			continue
		}
		if s.Pods != 1 {
			t.Errorf("step %s ran %d pods, want exactly 1", task, s.Pods)
		}
	}
	if len(res.Steps) != 4 {
		t.Errorf("%d pod steps, want 4", len(res.Steps))
	}
	if total := totalPods(t, res); total != 4 {
		t.Errorf("the workflow created %d pods, want 4 (one per task, no driver pods)", total)
	}
	found := map[string]int64{}
	for _, a := range res.Artifacts {
		found[a.URI[strings.Index(a.URI, res.Workflow.Name)+len(res.Workflow.Name)+1:]] = a.Size
	}
	for _, want := range []string{"load-data/output_dataset", "preprocessing/output_dataset", "train/output_model", "train/metrics", "evaluate/metrics"} {
		if found[want] <= 0 {
			t.Errorf("artifact %s missing or empty in MinIO (found %v)", want, found)
		}
	}
	acc, err := strconv.ParseFloat(steps["evaluate"].Outputs["test_accuracy"], 64)
	if err != nil || acc < 50 {
		t.Errorf("evaluate test_accuracy = %q, want a number above 50", steps["evaluate"].Outputs["test_accuracy"])
	}
	ms, err := target.Metrics(context.Background(), res)
	if err != nil {
		t.Fatal(err)
	}
	logged := map[string]any{}
	for _, m := range ms {
		logged[m.Step+"/"+m.Name] = m.Value
	}
	for _, k := range []string{"train/accuracy", "train/loss", "evaluate/test_accuracy"} {
		if _, ok := logged[k].(float64); !ok {
			t.Errorf("metric %s = %v, want a number (all: %v)", k, logged[k], logged)
		}
	}
	// The same values are an Argo output parameter of the step, for the UI.
	var shown map[string]map[string]any
	if err := json.Unmarshal([]byte(steps["train"].Outputs[step.MetricsParam]), &shown); err != nil {
		t.Errorf("train's %s parameter %q: %v", step.MetricsParam, steps["train"].Outputs[step.MetricsParam], err)
	} else if _, ok := shown["metrics"]["accuracy"].(float64); !ok {
		t.Errorf("train's %s parameter lacks the accuracy: %v", step.MetricsParam, shown)
	}
	if n, _ := strconv.Atoi(steps["load-data"].Outputs["num_samples"]); n != 1200 {
		t.Errorf("load-data num_samples = %q", steps["load-data"].Outputs["num_samples"])
	}
}

func totalPods(t *testing.T, res *runner.Result) int {
	t.Helper()
	pods, err := runstatus.Pods(context.Background(), target.Clients, target.Namespace, res.Workflow.Name)
	if err != nil {
		t.Fatal(err)
	}
	return len(pods)
}

// TestFailingStep breaks preprocessing so it exits 3: the run fails, the
// step is Failed with exit code 3, nothing downstream runs, and the failed
// step uploaded nothing.
func TestFailingStep(t *testing.T) {
	spec, err := os.ReadFile(seedPipeline)
	if err != nil {
		t.Fatal(err)
	}
	broken := strings.Replace(string(spec), "          import json, sys\n          src, dst = sys.argv[1], sys.argv[2]\n",
		"          import json, sys\n          src, dst = sys.argv[1], sys.argv[2]\n          open(dst, 'w').write('partial')\n          sys.exit(3)\n", 1)
	if broken == string(spec) {
		t.Fatal("could not break the preprocessing step: the example changed")
	}
	path := filepath.Join(t.TempDir(), "broken.yaml")
	if err := os.WriteFile(path, []byte(broken), 0o644); err != nil {
		t.Fatal(err)
	}
	res := runPipeline(t, path, map[string]string{"load_seconds": "0"})
	if res.Workflow.Status.Phase != wfv1.WorkflowFailed {
		t.Fatalf("workflow phase %s, want Failed", res.Workflow.Status.Phase)
	}
	steps := stepByName(res.Steps)
	pre := steps["preprocessing"]
	if pre.Phase != wfv1.NodeFailed || pre.ExitCode != "3" {
		t.Errorf("preprocessing: phase %s exit %q, want Failed and 3", pre.Phase, pre.ExitCode)
	}
	var table strings.Builder
	_ = runstatus.WriteTable(&table, res.Steps)
	if !strings.Contains(table.String(), "Failed") || !strings.Contains(table.String(), "  3  ") {
		t.Errorf("the step table does not show the failure and exit code:\n%s", table.String())
	}
	for _, s := range []string{"train", "evaluate"} {
		if _, ran := steps[s]; ran {
			t.Errorf("%s ran after its upstream failed", s)
		}
	}
	for _, a := range res.Artifacts {
		if strings.Contains(a.URI, "/preprocessing/") {
			t.Errorf("the failed step uploaded %s", a.URI)
		}
	}
}
