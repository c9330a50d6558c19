package e2e

import (
	"encoding/json"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"sort"
	"strconv"
	"strings"
	"testing"

	wfv1 "github.com/argoproj/argo-workflows/v3/pkg/apis/workflow/v1alpha1"

	"github.com/kfpargo/kfpargo/ir"
	"github.com/kfpargo/kfpargo/runstatus"
	"github.com/kfpargo/kfpargo/test/kfpsdk"
	"github.com/kfpargo/kfpargo/test/nodeagent"
)

const corpusDir = "../../../shared/kfp-ir-corpus/valid"

// corpusParams are run arguments for corpus specs whose inputs have no
// default.
var corpusParams = map[string]map[string]string{
	"arguments_parameters.yaml":                                {"param1": "hello", "param2": "world"},
	"sequential_v1.yaml":                                       {"param1": "hello", "param2": "world"},
	"critical/add_numbers.yaml":                                {"a": "2", "b": "3"},
	"essential/concat_message.yaml":                            {"message1": "hello ", "message2": "world"},
	"essential/dict_input.yaml":                                {"struct": `{"a": 1, "b": "two"}`},
	"essential/lightweight_python_functions_pipeline.yaml":     {"message": "hello"},
	"essential/lightweight_python_functions_with_outputs.yaml": {"first_message": "a", "second_message": "b", "first_number": "1", "second_number": "2"},
	"pipeline_with_parallelfor_parallelism.yaml":               {"loop_parameter": `["a", "b", "c"]`},
	"pipeline_with_parallelfor_pipeline_param.yaml":            {"loop_parameter": `["a", "b"]`, "prefix": "p-"},
	"component_with_metadata_fields.yaml":                      {"dataset_a": fixtureURI + "greeting.txt", "dataset_b": fixtureURI + "greeting.txt"},
	"input_artifact.yaml":                                      {"data": fixtureURI + "greeting.txt"},
	"pipeline_with_metadata_fields.yaml":                       {"string": "s", "in_dataset": fixtureURI + "greeting.txt"},
	"take_nap_compiled.yaml":                                   {"naptime_secs": "1"},
	"take_nap_pipeline_root_compiled.yaml":                     {"naptime_secs": "1"},
}

// corpusFailing are specs that fail on purpose, with what must still hold.
var corpusFailing = map[string]func(t *testing.T, steps map[string][]runstatus.Step){
	// The exit task is a DAG: it reads the handled tasks' status and
	// notifies on failure.
	"pipeline_as_exit_task.yaml": func(t *testing.T, steps map[string][]runstatus.Step) {
		if got := output(t, steps, "get-run-state", "Output"); got != "FAILED" {
			t.Errorf("exit task saw state %q, want FAILED", got)
		}
		if n := len(steps["print-op"]); n != 2 {
			t.Errorf("print-op ran %d times, want 2 (the handled one and the failure notice)", n)
		}
	},
	// print-op ignores its upstream's failure and gets its input's default.
	"pipeline_with_task_using_ignore_upstream_failure.yaml": func(t *testing.T, steps map[string][]runstatus.Step) {
		if p := steps["print-op"]; len(p) != 1 || p[0].Phase != wfv1.NodeSucceeded {
			t.Errorf("print-op: %+v, want one Succeeded run", p)
		}
	},
}

// corpusExcluded are container-only specs that still cannot run on the
// local stack, with the reason. Everything else the selection below admits
// must run.
var corpusExcluded = map[string]string{
	// `[[` is a busybox/bash builtin; the local node agent runs commands on
	// the host, whose sh is dash.
	"pipeline_with_concat_placeholder.yaml": "needs the image's busybox sh",
	// A component compiled as a pipeline whose input is a
	// PipelineTaskFinalStatus: only an exit handler can supply one, so it
	// cannot run in KFP either (compile-only regression test).
	"component_with_task_final_status_GH-12033.yaml":                       "its TASK_FINAL_STATUS pipeline input has no producer",
	"pipeline_with_condition_dynamic_task_output_custom_training_job.yaml": "runs a Vertex AI custom training job",
}

// programs is what argv[0] can be: itself, or for an IfPresent
// placeholder the first word of either branch.
func programs(argv []string) []string {
	var ph struct {
		IfPresent *struct {
			Then, Else any
		}
	}
	if json.Unmarshal([]byte(argv[0]), &ph) != nil || ph.IfPresent == nil {
		return argv[:1]
	}
	var out []string
	for _, branch := range []any{ph.IfPresent.Then, ph.IfPresent.Else} {
		switch b := branch.(type) {
		case []any:
			if len(b) > 0 {
				out = append(out, fmt.Sprint(b[0]))
			}
		case string:
			out = append(out, strings.Fields(b + " x")[0])
		}
	}
	return out
}

func isPythonImage(image string) bool {
	repo := image
	if i := strings.LastIndex(repo, ":"); i > strings.LastIndex(repo, "/") {
		repo = repo[:i]
	}
	repo = strings.TrimPrefix(repo, "docker.io/")
	repo = strings.TrimPrefix(repo, "library/")
	return slices.Contains(kfpsdk.PythonImages, repo)
}

// onPath looks a program up the way the node agent starts containers.
func onPath(name, path string) bool {
	if strings.Contains(name, "/") {
		_, err := os.Stat(name)
		return err == nil
	}
	for _, dir := range filepath.SplitList(path) {
		if fi, err := os.Stat(filepath.Join(dir, name)); err == nil && !fi.IsDir() && fi.Mode()&0o111 != 0 {
			return true
		}
	}
	return false
}

// needsRE finds what the local stack cannot offer: pip or the KFP SDK
// (lightweight Python components install it at run time), cloud storage.
var needsRE = regexp.MustCompile(`\b(pip|kfp|gsutil|gcloud)\b|gs://`)

// runnable reports whether a corpus spec needs only what the local stack
// has: container executors whose program exists on this host (the node
// agent runs containers as host processes), no pip or KFP SDK, no GPU, no
// cloud storage, and no cluster objects from a platform spec.
func runnable(p *ir.Pipeline) (bool, string) {
	if p.Platform != nil {
		return false, "needs cluster objects from its platform spec"
	}
	for label, e := range p.Spec.DeploymentSpec.Executors {
		switch {
		case e.Importer != nil:
			uri := ""
			if e.Importer.ArtifactURI != nil {
				uri, _ = e.Importer.ArtifactURI.Constant.(string)
			}
			if !strings.HasPrefix(uri, "minio://") {
				return false, label + " imports from outside the stack's MinIO"
			}
			continue
		case e.Container == nil:
			return false, label + " is not a container"
		}
		c := e.Container
		if len(c.Command) == 0 {
			return false, label + " uses the image's entrypoint"
		}
		argv := append(append([]string{}, c.Command...), c.Args...)
		for _, prog := range programs(argv) {
			if !onPath(prog, nodeagent.DefaultPath) {
				return false, label + " runs " + prog + ", which this host lacks"
			}
		}
		if shell := filepath.Base(argv[0]); (shell == "sh" || shell == "bash") && len(argv) > 1 && !strings.HasPrefix(argv[1], "-") {
			return false, label + " runs the script " + argv[1] + " from its image"
		}
		if r := c.Resources; r != nil && r.Accelerator != nil {
			return false, label + " needs an accelerator"
		}
		text := strings.Join(argv, " ")
		if sdkAvailable && kfpsdk.OnlyNeedsKFP(text) && isPythonImage(c.Image) {
			continue // the SDK shim stands in for the install
		}
		if m := needsRE.FindString(text); m != "" {
			return false, label + " needs " + m
		}
	}
	return true, ""
}

// TestCorpusContainerPipelines runs every corpus spec made only of container
// components the local stack can run: each must succeed with exactly one
// pod per executed task and no pod for importers.
func TestCorpusContainerPipelines(t *testing.T) {
	tg := needTarget(t)
	if _, err := os.Stat(corpusDir); err != nil {
		t.Skipf("corpus not found at %s: %v", corpusDir, err)
	}
	var specs []string
	_ = filepath.WalkDir(corpusDir, func(path string, d fs.DirEntry, err error) error {
		if err == nil && !d.IsDir() && (strings.HasSuffix(path, ".yaml") || strings.HasSuffix(path, ".json")) {
			specs = append(specs, path)
		}
		return nil
	})
	sort.Strings(specs)
	uploadFixtures(t, tg)
	ran := 0
	for _, path := range specs {
		rel, _ := filepath.Rel(corpusDir, path)
		data, err := os.ReadFile(path)
		if err != nil {
			t.Fatal(err)
		}
		p, err := ir.Parse(path, data)
		if err != nil {
			t.Errorf("%s: %v", rel, err)
			continue
		}
		if ok, why := runnable(p); !ok {
			t.Logf("not run: %s: %s", rel, why)
			continue
		}
		if why, ok := corpusExcluded[rel]; ok {
			t.Logf("not run: %s: %s", rel, why)
			continue
		}
		ran++
		t.Run(rel, func(t *testing.T) {
			res := runPipeline(t, path, corpusParams[rel])
			defer logOnFailure(t, res.Workflow)
			if check, ok := corpusFailing[rel]; ok {
				if res.Workflow.Status.Phase != wfv1.WorkflowFailed {
					t.Errorf("run %s: %s, want Failed (the spec fails on purpose)", res.Workflow.Name, res.Workflow.Status.Phase)
				}
				check(t, stepsByTask(res.Steps))
				return
			}
			if !res.Succeeded() {
				t.Fatalf("run %s: %s (%s)", res.Workflow.Name, res.Workflow.Status.Phase, res.Workflow.Status.Message)
			}
			for _, s := range res.Steps {
				if s.Pods != 1 {
					t.Errorf("step %s ran %d pods, want 1", s.Name, s.Pods)
				}
			}
			if n, want := totalPods(t, res), len(res.Steps); n != want {
				t.Errorf("%d pods for %d executed steps: kfpargo adds no pods of its own", n, want)
			}
			if check, ok := corpusChecks[rel]; ok {
				check(t, p, stepsByTask(res.Steps))
			}

		})
	}
	if ran < 8 {
		t.Errorf("only %d corpus specs were runnable; the selection is broken", ran)
	}
	t.Logf("ran %d corpus specs", ran)
}

func stepsByTask(steps []runstatus.Step) map[string][]runstatus.Step {
	out := map[string][]runstatus.Step{}
	for _, s := range steps {
		out[s.Task] = append(out[s.Task], s)
	}
	return out
}

// corpusChecks are extra assertions for specs whose behaviour is more than
// "everything succeeded".
var corpusChecks = map[string]func(t *testing.T, p *ir.Pipeline, steps map[string][]runstatus.Step){
	// Nested conditions on a random coin and random numbers: exactly the
	// branches the values select ran, the others were skipped.
	"essential/pipeline_with_nested_conditions_yaml.yaml": func(t *testing.T, p *ir.Pipeline, steps map[string][]runstatus.Step) {
		coin := output(t, steps, "flip-coin", "output")
		var want []string
		if coin == "heads" {
			n := num(t, output(t, steps, "generate-random-number", "output"))
			if n > 5 {
				want = append(want, "print")
			} else {
				want = append(want, "print-2")
			}
		} else {
			n := num(t, output(t, steps, "generate-random-number-2", "output"))
			if n > 15 {
				want = append(want, "print-3")
			} else {
				want = append(want, "print-4")
			}
		}
		var got []string
		for _, task := range []string{"print", "print-2", "print-3", "print-4"} {
			if len(steps[task]) > 0 {
				got = append(got, task)
			}
		}
		if strings.Join(got, ",") != strings.Join(want, ",") {
			t.Errorf("coin %s: branches run %v, want %v", coin, got, want)
		}
	},
	// The exit task runs after the handled tasks and receives their status.
	"pipeline_with_task_final_status_yaml.yaml": func(t *testing.T, p *ir.Pipeline, steps map[string][]runstatus.Step) {
		exit, print := steps["exit-op"], steps["print-op"]
		if len(exit) != 1 || len(print) != 1 {
			t.Fatalf("exit-op ran %d times, print-op %d", len(exit), len(print))
		}
		if exit[0].Started.Before(print[0].Finished) {
			t.Errorf("exit-op started %s, before print-op finished %s", exit[0].Started, print[0].Finished)
		}
	},
	"critical/producer_consumer_param_pipeline.yaml": func(t *testing.T, p *ir.Pipeline, steps map[string][]runstatus.Step) {
		if got := output(t, steps, "producer", "output_value"); !strings.Contains(got, "this is an output parameter") {
			t.Errorf("producer output %q", got)
		}
	},
}

func output(t *testing.T, steps map[string][]runstatus.Step, task, name string) string {
	t.Helper()
	s := steps[task]
	if len(s) != 1 || s[0].Phase != wfv1.NodeSucceeded {
		t.Fatalf("task %s: %+v", task, s)
	}
	v, ok := s[0].Outputs[name]
	if !ok {
		t.Fatalf("task %s has no output %s (%v)", task, name, s[0].Outputs)
	}
	return strings.TrimSpace(v)
}

func num(t *testing.T, s string) float64 {
	t.Helper()
	f, err := strconv.ParseFloat(s, 64)
	if err != nil {
		t.Fatalf("%q is not a number", s)
	}
	return f
}

// logNodes shows every node of a run, DAG and skipped ones included, for a
// failure's context.
func logNodes(t *testing.T, wf *wfv1.Workflow) {
	var lines []string
	for _, n := range wf.Status.Nodes {
		var outs []string
		if n.Outputs != nil {
			for _, p := range n.Outputs.Parameters {
				if p.Value != nil {
					outs = append(outs, fmt.Sprintf("%s=%q", p.Name, p.Value.String()))
				}
			}
		}
		lines = append(lines, fmt.Sprintf("  %-50s %-8s %-10s %s %s", n.Name, n.Type, n.Phase, n.Message, strings.Join(outs, " ")))
	}
	sort.Strings(lines)
	t.Logf("nodes of %s:\n%s", wf.Name, strings.Join(lines, "\n"))
}
