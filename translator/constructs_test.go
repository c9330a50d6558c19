package translator

import (
	"encoding/json"
	"io"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	wfv1 "github.com/argoproj/argo-workflows/v3/pkg/apis/workflow/v1alpha1"
	argoenv "github.com/argoproj/argo-workflows/v3/util/expr/env"
	"github.com/expr-lang/expr"

	"github.com/kfpargo/kfpargo/ir"
	"github.com/kfpargo/kfpargo/step"
)

// translateCorpus translates one corpus file with its required inputs
// filled in, or skips when the corpus is not there.
func translateCorpus(t *testing.T, rel string) *wfv1.Workflow {
	t.Helper()
	path := filepath.Join(corpusDir, "valid", rel)
	if _, err := os.Stat(path); err != nil {
		t.Skipf("corpus file %s not found", path)
	}
	p := load(t, path)
	wf, err := Translate(p, Options{Params: requiredParams(p)})
	if err != nil {
		t.Fatal(err)
	}
	argoValidate(t, wf)
	return wf
}

func findTask(wf *wfv1.Workflow, tmpl, task string) *wfv1.DAGTask {
	for _, tp := range wf.Spec.Templates {
		if tp.Name != tmpl || tp.DAG == nil {
			continue
		}
		for i := range tp.DAG.Tasks {
			if tp.DAG.Tasks[i].Name == task {
				return &tp.DAG.Tasks[i]
			}
		}
	}
	return nil
}

func findTemplate(wf *wfv1.Workflow, name string) *wfv1.Template {
	for i := range wf.Spec.Templates {
		if wf.Spec.Templates[i].Name == name {
			return &wf.Spec.Templates[i]
		}
	}
	return nil
}

func argValue(dt *wfv1.DAGTask, name string) string {
	for _, p := range dt.Arguments.Parameters {
		if p.Name == name && p.Value != nil {
			return p.Value.String()
		}
	}
	return ""
}

// TestConstructs checks, per construct, the Argo field it becomes in a
// corpus spec that uses it.
func TestConstructs(t *testing.T) {
	for _, tc := range []struct {
		name, file, tmpl, task string
		check                  func(t *testing.T, wf *wfv1.Workflow, dt *wfv1.DAGTask)
	}{
		{"condition on a task output", "essential/pipeline_with_condition.yaml", "single-condition-pipeline", "condition-1",
			func(t *testing.T, _ *wfv1.Workflow, dt *wfv1.DAGTask) {
				if dt.When != `{{=tasks["flip-coin-op"].outputs.parameters["Output"] == "heads"}}` || dt.Depends != "flip-coin-op" {
					t.Errorf("when %q depends %q", dt.When, dt.Depends)
				}
			}},
		{"raw items of structs", "pipeline_with_parallelfor_parallelism.yaml", "for-loop-6-parallelism-1", "for-loop-6",
			func(t *testing.T, wf *wfv1.Workflow, dt *wfv1.DAGTask) {
				if len(dt.WithItems) != 2 || argValue(dt, "pipelinechannel--loop-item-param-5") != "{{item}}" {
					t.Errorf("withItems %v args %v", dt.WithItems, dt.Arguments.Parameters)
				}
				if w := findTemplate(wf, "for-loop-6-parallelism-1"); w == nil || w.Parallelism == nil || *w.Parallelism != 1 {
					t.Errorf("wrapper template has no parallelism 1: %+v", w)
				}
			}},
		{"items from an upstream output", "critical/collected_parameters.yaml", "collecting-parameters", "for-loop-1",
			func(t *testing.T, wf *wfv1.Workflow, dt *wfv1.DAGTask) {
				if dt.WithParam != "{{tasks.split-ids.outputs.parameters.Output}}" {
					t.Errorf("withParam %q", dt.WithParam)
				}
				consume := findTask(wf, "collecting-parameters", "consume-ids")
				if consume == nil || argValue(consume, "ids") != "{{tasks.for-loop-1.outputs.parameters.pipelinechannel--prepend-id-Output}}" {
					t.Errorf("fan-in argument: %+v", consume)
				}
			}},
		{"selector over a loop item", "pipeline_with_nested_loops.yaml", "for-loop-1", "for-loop-2",
			func(t *testing.T, _ *wfv1.Workflow, dt *wfv1.DAGTask) {
				if dt.WithParam != `{{=fromJSON(inputs.parameters["pipelinechannel--loop_parameter-loop-item"])["p_a"]}}` {
					t.Errorf("withParam %q", dt.WithParam)
				}
			}},
		{"exit handler", "critical/pipeline_with_input_status_state.yaml", "status-state-pipeline", "echo-state",
			func(t *testing.T, wf *wfv1.Workflow, dt *wfv1.DAGTask) {
				if !strings.Contains(dt.Depends, "exit-handler-1.Failed") || !strings.Contains(argValue(dt, "status"), `tasks["exit-handler-1"].status`) {
					t.Errorf("depends %q status %q", dt.Depends, argValue(dt, "status"))
				}
				root := findTemplate(wf, "status-state-pipeline")
				if root.DAG.FailFast == nil || *root.DAG.FailFast || root.DAG.Target != "echo-state exit-handler-1" {
					t.Errorf("failFast %v target %q", root.DAG.FailFast, root.DAG.Target)
				}
			}},
		{"retry", "critical/pipeline_with_retry.yaml", "test-pipeline", "add",
			func(t *testing.T, wf *wfv1.Workflow, dt *wfv1.DAGTask) {
				rs := findTemplate(wf, dt.Template).RetryStrategy
				if rs == nil || rs.Limit.IntValue() != 3 || rs.Backoff.Cap != "1h0m0s" || rs.Backoff.Factor.IntValue() != 2 {
					t.Errorf("retryStrategy %+v", rs)
				}
			}},
		{"importer with a constant URI", "pipeline_with_importer.yaml", "pipeline-with-importer", "train",
			func(t *testing.T, wf *wfv1.Workflow, dt *wfv1.DAGTask) {
				want := `{"metadata":{"key":"value"},"schemaTitle":"system.Dataset","uri":"gs://ml-pipeline-playground/shakespeare1.txt"}`
				if argValue(dt, "artifact-dataset") != want || dt.Depends != "" {
					t.Errorf("descriptor %q depends %q", argValue(dt, "artifact-dataset"), dt.Depends)
				}
				if findTask(wf, "pipeline-with-importer", "importer") != nil {
					t.Error("an importer became a task")
				}
			}},
		{"placeholder in a constant", "critical/flip_coin.yaml", "condition-2", "print-msg",
			func(t *testing.T, _ *wfv1.Workflow, dt *wfv1.DAGTask) {
				if got := argValue(dt, "msg"); got != "heads and {{inputs.parameters.pipelinechannel--random-num-Output}} > 5!" {
					t.Errorf("msg = %q", got)
				}
			}},
		{"placeholder-valued resources", "pipeline_with_string_machine_fields_task_output.yaml", "pipeline", "sum-numbers",
			func(t *testing.T, wf *wfv1.Workflow, dt *wfv1.DAGTask) {
				patch := findTemplate(wf, dt.Template).PodSpecPatch
				if !strings.Contains(patch, `"cpu":"{{inputs.parameters.pipelinechannel--cpu-limit-Output}}"`) ||
					argValue(dt, "pipelinechannel--cpu-limit-Output") != "{{tasks.cpu-limit.outputs.parameters.Output}}" {
					t.Errorf("podSpecPatch %s, args %v", patch, dt.Arguments.Parameters)
				}
			}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			wf := translateCorpus(t, tc.file)
			dt := findTask(wf, tc.tmpl, tc.task)
			if dt == nil {
				t.Fatalf("no task %s in template %s", tc.task, tc.tmpl)
			}
			tc.check(t, wf, dt)
		})
	}
}

func TestRetryStrategy(t *testing.T) {
	for _, tc := range []struct {
		in   ir.RetryPolicy
		want string
	}{
		{ir.RetryPolicy{MaxRetryCount: 2}, `{"limit":2,"retryPolicy":"Always"}`},
		{ir.RetryPolicy{MaxRetryCount: 3, BackoffDuration: "0s", BackoffFactor: 2, BackoffMaxDuration: "3600s"},
			`{"limit":3,"retryPolicy":"Always","backoff":{"duration":"0s","factor":2,"cap":"1h0m0s"}}`},
		{ir.RetryPolicy{MaxRetryCount: 1, BackoffDuration: "1.5s", BackoffFactor: 1.5},
			`{"limit":1,"retryPolicy":"Always","backoff":{"duration":"1.5s","factor":2}}`},
	} {
		rs, err := retryStrategy(&tc.in)
		if err != nil {
			t.Fatal(err)
		}
		b, _ := json.Marshal(rs)
		if string(b) != tc.want {
			t.Errorf("%+v: got %s, want %s", tc.in, b, tc.want)
		}
	}
	if _, err := retryStrategy(&ir.RetryPolicy{BackoffDuration: "soon"}); err == nil {
		t.Error("a bad duration was accepted")
	}
}

func TestDependsExpr(t *testing.T) {
	d := &ir.DAGSpec{Tasks: map[string]*ir.TaskSpec{
		"a":   {},
		"imp": {DependentTasks: []string{"a"}},
		"b":   {DependentTasks: []string{"imp"}},
		"c":   {DependentTasks: []string{"a", "b"}, TriggerPolicy: &ir.TriggerPolicy{Strategy: "ALL_UPSTREAM_TASKS_COMPLETED"}},
	}}
	names := map[string]string{"a": "a", "b": "b", "c": "c", "imp": "imp"}
	imports := map[string]string{"imp": "{}"}
	for task, want := range map[string]string{
		"a": "",
		"b": "a", // through the importer, which runs no task
		"c": "(a.Succeeded || a.Skipped || a.Failed || a.Errored) && (b.Succeeded || b.Skipped || b.Failed || b.Errored)",
	} {
		if got := dependsExpr(d.Tasks[task], d, names, imports); got != want {
			t.Errorf("%s: depends %q, want %q", task, got, want)
		}
	}
}

// TestOneOfOutput evaluates a dsl.OneOf output with Argo's expression
// environment, as the controller does when the DAG finishes.
func TestOneOfOutput(t *testing.T) {
	vf := oneOf([]outputSelector{{"condition-2", "x"}, {"condition-3", "y"}, {"condition-4", "z"}},
		map[string]string{"condition-2": "condition-2", "condition-3": "condition-3", "condition-4": "condition-4"})
	for _, tc := range []struct {
		scope map[string]any
		want  string
	}{
		{map[string]any{"tasks.condition-2.status": "Skipped", "tasks.condition-3.status": "Succeeded", "tasks.condition-3.outputs.parameters.y": "B", "tasks.condition-4.status": "Skipped"}, "B"},
		{map[string]any{"tasks.condition-2.status": "Succeeded", "tasks.condition-2.outputs.parameters.x": "A", "tasks.condition-3.status": "Skipped", "tasks.condition-4.status": "Skipped"}, "A"},
		{map[string]any{"tasks.condition-2.status": "Skipped", "tasks.condition-3.status": "Skipped", "tasks.condition-4.status": "Succeeded", "tasks.condition-4.outputs.parameters.z": "C"}, "C"},
	} {
		env := argoenv.GetFuncMap(tc.scope)
		prog, err := expr.Compile(vf.Expression, expr.Env(env))
		if err != nil {
			t.Fatalf("%s: %v", vf.Expression, err)
		}
		got, err := expr.Run(prog, env)
		if err != nil || got != tc.want {
			t.Errorf("got %v, %v; want %s", got, err, tc.want)
		}
	}
}

// TestImporterDescriptor checks the descriptor Argo builds for an importer
// whose URI and metadata come from parameters.
func TestImporterDescriptor(t *testing.T) {
	tr := &translation{spec: &ir.PipelineSpec{}}
	task := &ir.TaskSpec{Inputs: &ir.TaskInputsSpec{Parameters: map[string]*ir.InputParameterSpec{
		"uri":  {ComponentInputParameter: "dataset"},
		"meta": {TaskOutputParameter: &ir.TaskOutputParameterRef{ProducerTask: "make-name", OutputParameterKey: "Output"}},
	}}}
	imp := &ir.ImporterSpec{
		ArtifactURI: &ir.ValueOrRuntimeParameter{RuntimeParameter: "uri"},
		TypeSchema:  ir.ArtifactTypeSchema{SchemaTitle: "system.Model"},
		Metadata:    map[string]any{"name": []any{"{{$.inputs.parameters['meta']}}", "alias"}, "nested": map[string]any{"k": "v-{{$.inputs.parameters['meta']}}"}},
	}
	v, err := tr.importerDescriptor(imp, "importer", task, map[string]string{"make-name": "make-name"})
	if err != nil {
		t.Fatal(err)
	}
	got := evalWhen(t, v, map[string]string{
		"inputs.parameters.dataset":                 `s3://b/it's "quoted"`,
		"tasks.make-name.outputs.parameters.Output": "m}}x",
	})
	var d map[string]any
	if err := json.Unmarshal([]byte(got), &d); err != nil {
		t.Fatalf("%s -> %q: %v", v, got, err)
	}
	want := `{"metadata":{"name":["m}}x","alias"],"nested":{"k":"v-m}}x"}},"schemaTitle":"system.Model","uri":"s3://b/it's \"quoted\""}`
	if b, _ := json.Marshal(d); string(b) != want {
		t.Errorf("got %s\nwant %s", b, want)
	}
}

// TestTypedCollection checks, with Argo's expression environment, that an
// aggregated list of number strings becomes a list of numbers, without the
// iterations that produced nothing.
func TestTypedCollection(t *testing.T) {
	env := argoenv.GetFuncMap(map[string]any{"tasks.for-loop-2.outputs.parameters.x": `["1","2.5","__kfpargo_absent__","true"]`})
	prog, err := expr.Compile(typedCollection("for-loop-2", "x", true, true), expr.Env(env))
	if err != nil {
		t.Fatal(err)
	}
	got, err := expr.Run(prog, env)
	if err != nil || got != `[1,2.5,true]` {
		t.Fatalf("got %v, %v", got, err)
	}
}

// TestCachingOptions: cachingOptions are per task, templates per component;
// the template carries what most of its tasks ask for and a task that
// differs runs a copy. --no-cache turns the label off everywhere.
func TestCachingOptions(t *testing.T) {
	spec := `pipelineInfo: {name: p}
schemaVersion: 2.1.0
root:
  dag:
    tasks:
      a: {componentRef: {name: comp-echo}, taskInfo: {name: a}, cachingOptions: {enableCache: true}}
      b: {componentRef: {name: comp-echo}, taskInfo: {name: b}, cachingOptions: {enableCache: true}}
      c: {componentRef: {name: comp-echo}, taskInfo: {name: c}, cachingOptions: {}}
      d: {componentRef: {name: comp-echo}, taskInfo: {name: d}, cachingOptions: {enableCache: true, cacheKey: v2}}
components:
  comp-echo: {executorLabel: exec-echo}
deploymentSpec:
  executors:
    exec-echo:
      container: {image: alpine, command: [echo, hi], env: [{name: A, value: "1"}]}
`
	p, err := ir.Parse("p.yaml", []byte(spec))
	if err != nil {
		t.Fatal(err)
	}
	wf, err := Translate(p, Options{MaxCacheStaleness: "24h"})
	if err != nil {
		t.Fatal(err)
	}
	argoValidate(t, wf)
	byTask := map[string]*wfv1.Template{}
	for _, task := range templateNamed(wf, wf.Spec.Entrypoint).DAG.Tasks {
		byTask[task.Name] = templateNamed(wf, task.Template)
	}
	for task, want := range map[string]struct{ label, key string }{"a": {"enabled", ""}, "b": {"enabled", ""}, "c": {"", ""}, "d": {"enabled", "v2"}} {
		tmpl := byTask[task]
		if tmpl.Metadata.Labels[step.LabelCache] != want.label {
			t.Errorf("task %s runs %s with labels %v", task, tmpl.Name, tmpl.Metadata.Labels)
		}
		// The launcher (and the cache webhook) read the flags as written.
		s, err := step.ParseRunArgs(tmpl.Container.Args, io.Discard)
		if err != nil {
			t.Fatalf("task %s: %v", task, err)
		}
		wantCache := step.CacheOptions{}
		if want.label != "" {
			wantCache = step.CacheOptions{Enabled: true, Salt: want.key, MaxStaleness: 24 * time.Hour}
		}
		if s.Cache != wantCache {
			t.Errorf("task %s: cache options %+v, want %+v", task, s.Cache, wantCache)
		}
		if want.label != "" && (s.Image != "alpine" || !slices.Equal(s.EnvNames, []string{"A"})) {
			t.Errorf("task %s: image %q env %v", task, s.Image, s.EnvNames)
		}
	}
	if byTask["a"].Name != "echo" || byTask["a"] != byTask["b"] || byTask["c"].Name != "echo-nocache" || byTask["d"].Name != "echo-cached" {
		t.Errorf("templates a=%s b=%s c=%s d=%s", byTask["a"].Name, byTask["b"].Name, byTask["c"].Name, byTask["d"].Name)
	}

	wf, err = Translate(p, Options{DisableCache: true})
	if err != nil {
		t.Fatal(err)
	}
	for _, tmpl := range wf.Spec.Templates {
		if tmpl.Metadata.Labels[step.LabelCache] != "" {
			t.Errorf("--no-cache left the label on %s", tmpl.Name)
		}
	}
	if _, err := Translate(p, Options{MaxCacheStaleness: "a week"}); err == nil || !strings.Contains(err.Error(), "--max-cache-staleness") {
		t.Errorf("bad staleness: %v", err)
	}
}
