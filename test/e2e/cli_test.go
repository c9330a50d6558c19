package e2e

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/yaml"

	wfv1 "github.com/argoproj/argo-workflows/v3/pkg/apis/workflow/v1alpha1"
	wfclient "github.com/argoproj/argo-workflows/v3/pkg/client/clientset/versioned"

	"github.com/kfpargo/kfpargo/runview"
)

// cli runs the kfpargo binary against the stack in the workflow namespace
// and returns its exit code and output.
func cli(t *testing.T, args ...string) (int, string) {
	t.Helper()
	code, out := kfpargoCLI(t, kfpargoBinary(t), append(args, "-n", stack.Namespace)...)
	t.Logf("kfpargo %s -> exit %d\n%s", strings.Join(args, " "), code, out)
	return code, out
}

var submittedRun = regexp.MustCompile(`run ([a-z0-9-]+)/([a-z0-9-]+) submitted`)

func runName(t *testing.T, out string) string {
	t.Helper()
	m := submittedRun.FindStringSubmatch(out)
	if m == nil {
		t.Fatalf("no \"run NS/NAME submitted\" line in:\n%s", out)
	}
	return m[2]
}

// TestRunExperience is issue 7's scenario with the CLI an operator runs:
// kfpargo run of the seed pipeline in an experiment, watched to the end;
// a second run with other training settings shows the cached steps; list,
// get, compare and report show both; errors name what is wrong.
func TestRunExperience(t *testing.T) {
	if dev == nil {
		t.Skip("needs the local stack with the dev overlay")
	}
	experiment := fmt.Sprintf("mnist-%d", time.Now().UnixNano()%1e6)
	spec := "../../examples/seed-mnist/pipeline.yaml"
	// Parameters no other test uses, so that the cache holds nothing for
	// them yet; --refresh-cache makes sure of it for the first run.
	code, out := cli(t, "run", spec, "--experiment", experiment, "--watch", "--param", "load_seconds=3", "--refresh-cache")
	if code != 0 {
		t.Fatalf("first run: exit %d", code)
	}
	first := runName(t, out)
	for _, want := range []string{"load-data", "Succeeded in", "(ran)", "STEP", "CACHED", ": 4 steps ran, 0 from the cache"} {
		if !strings.Contains(out, want) {
			t.Errorf("the watched first run does not show %q", want)
		}
	}
	code, out = cli(t, "run", spec, "--experiment", experiment, "--param", "load_seconds=3", "--param", "hidden_units=96")
	if code != 0 {
		t.Fatalf("second run: exit %d", code)
	}
	second := runName(t, out)
	if !strings.Contains(out, ": 2 steps ran, 2 from the cache") || !strings.Contains(out, "(cached)") {
		t.Errorf("the second run does not show load-data and preprocessing served from the cache")
	}

	// On a terminal the step table is redrawn in place (cursor up, clear);
	// the third run has every step from the cache.
	tty := exec.Command("script", "-qec", strings.Join([]string{kfpargoBinary(t), "run", spec, "--experiment", experiment,
		"--param", "load_seconds=3", "--param", "hidden_units=96", "-n", stack.Namespace, "--kubeconfig", stack.Kubeconfig}, " "), "/dev/null")
	ttyOut, err := tty.CombinedOutput()
	t.Logf("kfpargo run on a terminal:\n%q", ttyOut)
	if err != nil {
		t.Fatalf("run on a terminal: %v", err)
	}
	if !strings.Contains(string(ttyOut), "\x1b[") || !strings.Contains(string(ttyOut), "[J") || !strings.Contains(string(ttyOut), ": 0 steps ran, 4 from the cache") {
		t.Errorf("on a terminal the table is not redrawn in place, or the third run is not served from the cache")
	}

	code, out = cli(t, "list", "--experiment", experiment)
	if code != 0 || !strings.Contains(out, first) || !strings.Contains(out, second) || strings.Count(out, experiment) != 3 {
		t.Errorf("list --experiment: exit %d, want the three runs and no other", code)
	}

	code, out = cli(t, "get", second, "-o", "json")
	if code != 0 {
		t.Fatalf("get -o json: exit %d", code)
	}
	var run runview.Run
	if err := json.Unmarshal([]byte(out), &run); err != nil {
		t.Fatalf("get -o json: %v", err)
	}
	cached := map[string]bool{}
	for _, s := range run.Steps {
		cached[s.Name] = s.Cached
	}
	if !cached["load-data"] || !cached["preprocessing"] || cached["train"] || cached["evaluate"] || run.Experiment != experiment {
		t.Errorf("get: experiment %q, cached steps %v", run.Experiment, cached)
	}
	if code, out = cli(t, "get", second); code != 0 || !strings.Contains(out, "hidden_units = 96") || !strings.Contains(out, "metric accuracy = ") {
		t.Errorf("get (table): exit %d, want the parameters and the metrics", code)
	}

	code, out = cli(t, "compare", first, second)
	if code != 0 {
		t.Fatalf("compare: exit %d", code)
	}
	// Both accuracies, side by side, and the changed parameter marked.
	for _, row := range []string{`\* hidden_units\s+parameter\s+128\s+96`, `train/accuracy\s+metric\s+[0-9.]+\s+[0-9.]+`, `evaluate/test_accuracy\s+metric\s+[0-9.]+\s+[0-9.]+`} {
		if !regexp.MustCompile(row).MatchString(out) {
			t.Errorf("compare lacks a row matching %s", row)
		}
	}

	html := filepath.Join(t.TempDir(), "report.html")
	if code, _ = cli(t, "report", second, "-o", html); code != 0 {
		t.Fatalf("report: exit %d", code)
	}
	page, err := os.ReadFile(html)
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"<svg", "load-data", "evaluate", "test_accuracy", "cached"} {
		if !strings.Contains(string(page), want) {
			t.Errorf("the report lacks %q", want)
		}
	}
	if dir := os.Getenv("KFPARGO_E2E_KEEP_REPORT"); dir != "" {
		_ = os.WriteFile(filepath.Join(dir, "report.html"), page, 0o644)
	}

	// Errors name what is wrong.
	if code, out = cli(t, "get", "no-such-run"); code != 1 || !strings.Contains(out, `run "no-such-run" not found in namespace "argo"`) {
		t.Errorf("get of an unknown run: exit %d", code)
	}
	if code, out = cli(t, "run", spec, "--param", "no_such_param=1"); code != 2 || !strings.Contains(out, "no_such_param") {
		t.Errorf("run with an unknown parameter: exit %d", code)
	}
}

// TestRegisteredAndScheduledRuns: a pipeline registered as a
// WorkflowTemplate runs with submit --from, and kfpargo schedule creates a
// CronWorkflow whose runs Argo starts, in the experiment.
func TestRegisteredAndScheduledRuns(t *testing.T) {
	if dev == nil {
		t.Skip("needs the local stack with the dev overlay")
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	argo, err := wfclient.NewForConfig(stack.RESTConfig)
	if err != nil {
		t.Fatal(err)
	}
	spec := "testdata/cache-chain.yaml"
	// Short: it ends up in Workflow names, which are label values.
	tag := fmt.Sprintf("r%d", time.Now().UnixNano()%1e8)
	t.Cleanup(func() { _ = os.RemoveAll(counterDir(tag)) })
	out, err := exec.Command(kfpargoBinary(t), "compile", spec, "--kind", "workflowtemplate", "--no-cache").Output()
	if err != nil {
		t.Fatalf("compile --kind workflowtemplate: %v", err)
	}
	var tmpl wfv1.WorkflowTemplate
	if err := yaml.Unmarshal(out, &tmpl); err != nil {
		t.Fatal(err)
	}
	tmpl.Name = "cache-chain-" + tag
	if _, err := argo.ArgoprojV1alpha1().WorkflowTemplates(stack.Namespace).Create(ctx, &tmpl, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	code, cliOut := cli(t, "submit", "--from", "workflowtemplate/"+tmpl.Name, "--param", "tag="+tag, "--watch")
	if code != 0 || !strings.Contains(cliOut, "Succeeded in") {
		t.Fatalf("submit --from: exit %d", code)
	}
	if ran(t, tag, "produce") != 1 {
		t.Errorf("the registered pipeline's first step ran %d times", ran(t, tag, "produce"))
	}

	experiment := "nightly-" + tag
	code, cliOut = cli(t, "schedule", spec, "--cron", "* * * * *", "--concurrency-policy", "Forbid", "--name", "chain-"+tag,
		"--experiment", experiment, "--param", "tag="+tag+"-cron", "--no-cache")
	if code != 0 || !strings.Contains(cliOut, "cronworkflow argo/chain-"+tag+" created") {
		t.Fatalf("schedule: exit %d", code)
	}
	defer func() {
		_ = argo.ArgoprojV1alpha1().CronWorkflows(stack.Namespace).Delete(context.WithoutCancel(ctx), "chain-"+tag, metav1.DeleteOptions{})
	}()
	cw, err := argo.ArgoprojV1alpha1().CronWorkflows(stack.Namespace).Get(ctx, "chain-"+tag, metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if cw.Spec.ConcurrencyPolicy != wfv1.ForbidConcurrent {
		t.Errorf("concurrency policy %q", cw.Spec.ConcurrencyPolicy)
	}
	// Argo starts a run at the next minute.
	err = poll(ctx, 100*time.Second, func() error {
		list, err := argo.ArgoprojV1alpha1().Workflows(stack.Namespace).List(ctx, metav1.ListOptions{LabelSelector: "kfpargo.io/experiment=" + experiment})
		if err != nil {
			return err
		}
		if len(list.Items) == 0 {
			return fmt.Errorf("no run of the schedule yet")
		}
		return nil
	})
	if err != nil {
		t.Fatalf("scheduled run: %v", err)
	}
}
