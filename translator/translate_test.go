package translator

import (
	"context"
	"errors"
	"flag"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"testing"

	wfv1 "github.com/argoproj/argo-workflows/v3/pkg/apis/workflow/v1alpha1"
	"github.com/argoproj/argo-workflows/v3/workflow/validate"

	"github.com/kfpargo/kfpargo/ir"
)

var update = flag.Bool("update", false, "rewrite the golden files in testdata/golden")

const corpusDir = "../../shared/kfp-ir-corpus"

func load(t *testing.T, path string) *ir.Pipeline {
	t.Helper()
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	p, err := ir.Parse(path, data)
	if err != nil {
		t.Fatalf("parse %s: %v", path, err)
	}
	return p
}

func argoValidate(t *testing.T, wf *wfv1.Workflow) {
	t.Helper()
	if err := validate.ValidateWorkflow(nil, nil, wf, nil, validate.ValidateOpts{Submit: true}); err != nil {
		y, _ := MarshalYAML(wf)
		t.Fatalf("Argo rejects the workflow: %v\n%s", err, y)
	}
}

// goldens are the specs whose whole translation is checked in: the seed
// example, and one corpus spec per construct.
var goldens = []struct{ name, path string }{
	{"seed-mnist", "../examples/seed-mnist/pipeline.yaml"},
	{"condition", corpusDir + "/valid/essential/pipeline_with_condition.yaml"},
	{"if-elif-else-oneof", corpusDir + "/valid/if_elif_else_with_oneof_parameters.yaml"},
	{"oneof-artifacts", corpusDir + "/valid/if_else_with_oneof_artifacts.yaml"},
	{"nested-loops", corpusDir + "/valid/pipeline_with_nested_loops.yaml"},
	{"loop-parallelism", corpusDir + "/valid/pipeline_with_parallelfor_parallelism.yaml"},
	{"collected", corpusDir + "/valid/critical/collected_parameters.yaml"},
	{"collected-ints", corpusDir + "/valid/critical/parameters_simple.yaml"},
	{"exit-handler-status", corpusDir + "/valid/critical/pipeline_with_input_status_state.yaml"},
	{"ignore-upstream-failure", corpusDir + "/valid/pipeline_with_task_using_ignore_upstream_failure.yaml"},
	{"retry", corpusDir + "/valid/critical/pipeline_with_retry.yaml"},
	{"importer", corpusDir + "/valid/pipeline_with_importer.yaml"},
	{"constant-placeholders", corpusDir + "/valid/critical/flip_coin.yaml"},
	{"input-artifact", corpusDir + "/valid/input_artifact.yaml"},
	{"runtime-resources", corpusDir + "/valid/pipeline_with_string_machine_fields_task_output.yaml"},
	{"loop-artifact-lists", corpusDir + "/valid/pipeline_with_parallelfor_list_artifacts_GH-12033.yaml"},
	{"k8s-optional-inputs", corpusDir + "/valid/critical/missing_kubernetes_optional_inputs.yaml"},
	{"k8s-pod-metadata", corpusDir + "/valid/create_pod_metadata_complex.yaml"},
	{"k8s-secret-env", corpusDir + "/valid/critical/pipeline_with_secret_as_env.yaml"},
	{"k8s-pvc", corpusDir + "/valid/pipeline_with_volume_no_cache.yaml"},
	{"workspace", corpusDir + "/valid/critical/pipeline_with_workspace.yaml"},
	{"importer-workspace", corpusDir + "/valid/critical/pipeline_with_importer_workspace.yaml"},
}

func TestGolden(t *testing.T) {
	for _, g := range goldens {
		t.Run(g.name, func(t *testing.T) {
			if _, err := os.Stat(g.path); err != nil {
				t.Skipf("spec %s not found: %v", g.path, err)
			}
			p := load(t, g.path)
			opts := Options{Params: requiredParams(p)}
			wf, err := Translate(p, opts)
			if err != nil {
				t.Fatal(err)
			}
			argoValidate(t, wf)
			got, err := MarshalYAML(wf)
			if err != nil {
				t.Fatal(err)
			}
			golden := filepath.Join("testdata", "golden", g.name+".yaml")
			if *update {
				if err := os.MkdirAll(filepath.Dir(golden), 0o755); err != nil {
					t.Fatal(err)
				}
				if err := os.WriteFile(golden, got, 0o644); err != nil {
					t.Fatal(err)
				}
			}
			want, err := os.ReadFile(golden)
			if err != nil {
				t.Fatalf("%v (run go test ./translator -update to create it)", err)
			}
			if string(got) != string(want) {
				t.Fatalf("output differs from %s; inspect and rerun with -update if intended\n--- got ---\n%s", golden, got)
			}
			again, _ := Translate(p, opts)
			b, _ := MarshalYAML(again)
			if string(b) != string(got) {
				t.Fatal("translation is not deterministic")
			}
		})
	}
}

func TestSeedExampleShape(t *testing.T) {
	wf, err := Translate(load(t, "../examples/seed-mnist/pipeline.yaml"), Options{Params: map[string]string{"hidden_units": "256"}})
	if err != nil {
		t.Fatal(err)
	}
	var dag *wfv1.Template
	containers := 0
	for i := range wf.Spec.Templates {
		tmpl := &wf.Spec.Templates[i]
		if tmpl.DAG != nil {
			dag = tmpl
		}
		if tmpl.Container != nil {
			containers++
			if len(tmpl.InitContainers) != 1 || tmpl.Container.Command[0] != "/kfpargo/bin/launcher" {
				t.Errorf("template %s does not run the launcher: %+v", tmpl.Name, tmpl.Container.Command)
			}
			mounts := map[string]string{}
			for _, m := range tmpl.Container.VolumeMounts {
				mounts[m.MountPath] = m.Name
			}
			emptyDirs := map[string]bool{}
			for _, v := range tmpl.Volumes {
				emptyDirs[v.Name] = v.EmptyDir != nil
			}
			for _, dir := range []string{"/kfpargo", "/minio", "/s3", "/gcs"} {
				if !emptyDirs[mounts[dir]] {
					t.Errorf("template %s has no emptyDir at %s (non-root images write outputs there): %v", tmpl.Name, dir, mounts)
				}
			}
		}
	}
	if dag == nil || dag.Name != wf.Spec.Entrypoint {
		t.Fatalf("entrypoint %q is not the DAG", wf.Spec.Entrypoint)
	}
	if containers != 4 || len(dag.DAG.Tasks) != 4 {
		t.Fatalf("want 4 container templates and 4 tasks, got %d and %d", containers, len(dag.DAG.Tasks))
	}
	deps := map[string]string{}
	for _, task := range dag.DAG.Tasks {
		deps[task.Name] = task.Depends
	}
	want := map[string]string{"load-data": "", "preprocessing": "load-data", "train": "preprocessing", "evaluate": "preprocessing && train"}
	for k, v := range want {
		if deps[k] != v {
			t.Errorf("task %s depends %q, want %q", k, deps[k], v)
		}
	}
	for _, p := range wf.Spec.Arguments.Parameters {
		if p.Name == "hidden_units" && p.Value.String() != "256" {
			t.Errorf("hidden_units = %s, want 256", p.Value)
		}
	}
}

func TestParamErrors(t *testing.T) {
	p := load(t, "../examples/seed-mnist/pipeline.yaml")
	for _, tc := range []struct {
		params map[string]string
		want   string
	}{
		{map[string]string{"hidden": "1"}, `--param hidden: the pipeline has no input "hidden"`},
		{map[string]string{"hidden_units": "many"}, `--param hidden_units: "many" is not an integer`},
		{map[string]string{"epochs": "2.5"}, `--param epochs: "2.5" is not an integer`},
	} {
		_, err := Translate(p, Options{Params: tc.params})
		var list ir.Errors
		if !errors.As(err, &list) || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("params %v: got %v, want %q", tc.params, err, tc.want)
		}
	}
}

// TestCorpusValidates translates every corpus spec, as each kind, and has
// Argo's validator for that kind check the result.
func TestCorpusValidates(t *testing.T) {
	if _, err := os.Stat(filepath.Join(corpusDir, "valid")); err != nil {
		t.Skipf("corpus not found at %s: %v", corpusDir, err)
	}
	translated := 0
	var err error
	for _, dir := range []string{"valid", "argo_compatibility"} {
		root := filepath.Join(corpusDir, dir)
		err = errors.Join(err, filepath.WalkDir(root, func(path string, d fs.DirEntry, err error) error {
			if err != nil || d.IsDir() {
				return err
			}
			t.Run(dir+"/"+strings.TrimPrefix(path, root+"/"), func(t *testing.T) {
				p := load(t, path)
				params := requiredParams(p)
				// Images are not pulled here: containers without a command
				// get a stand-in entrypoint, as --image-entrypoint gives.
				images := map[string]ImageDefaults{}
				for _, img := range ImagesWithoutCommand(p) {
					images[img] = ImageDefaults{Entrypoint: []string{"/entrypoint"}}
				}
				wf, err := Translate(p, Options{Params: params, Images: images})
				if err != nil {
					t.Fatal(err)
				}
				translated++
				argoValidate(t, wf)
				obj, err := TranslateObject(p, Options{Kind: KindWorkflowTemplate, Images: images})
				if err != nil {
					t.Fatalf("as a WorkflowTemplate: %v", err)
				}
				if err := validate.ValidateWorkflowTemplate(nil, nil, obj.(*wfv1.WorkflowTemplate), nil, validate.ValidateOpts{}); err != nil {
					t.Fatalf("Argo rejects the WorkflowTemplate: %v", err)
				}
				obj, err = TranslateObject(p, Options{Kind: KindCronWorkflow, Schedule: "*/15 * * * *", Params: params, Images: images})
				if err != nil {
					t.Fatalf("as a CronWorkflow: %v", err)
				}
				if err := validate.ValidateCronWorkflow(context.Background(), nil, nil, obj.(*wfv1.CronWorkflow), nil); err != nil {
					t.Fatalf("Argo rejects the CronWorkflow: %v", err)
				}
			})
			return nil
		}))
	}
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("translated and validated %d specs, each as a Workflow, a WorkflowTemplate and a CronWorkflow", translated)
	if translated == 0 {
		t.Fatal("no corpus spec translated")
	}
}

// requiredParams gives every required pipeline input a value of its type.
func requiredParams(p *ir.Pipeline) map[string]string {
	out := map[string]string{}
	if p.Spec.Root.InputDefinitions == nil {
		return out
	}
	for name, def := range p.Spec.Root.InputDefinitions.Artifacts {
		if !def.IsOptional {
			out[name] = "minio://mlpipeline/inputs/" + name
		}
	}
	for name, def := range p.Spec.Root.InputDefinitions.Parameters {
		if def.HasDefault() || def.IsOptional {
			continue
		}
		out[name] = map[ir.ParameterType]string{
			ir.TypeInteger: "1", ir.TypeDouble: "1.5", ir.TypeBoolean: "true",
			ir.TypeList: "[]", ir.TypeStruct: "{}",
		}[def.ParameterType]
	}
	return out
}

func firstLine(err error) string {
	s, _, _ := strings.Cut(err.Error(), "\n")
	return s
}

func TestKinds(t *testing.T) {
	p := load(t, "../examples/seed-mnist/pipeline.yaml")
	obj, err := TranslateObject(p, Options{Kind: KindWorkflowTemplate})
	if err != nil {
		t.Fatal(err)
	}
	wft, ok := obj.(*wfv1.WorkflowTemplate)
	if !ok || wft.Name != "seed-mnist" {
		t.Fatalf("got %T %v", obj, obj)
	}
	if err := validate.ValidateWorkflowTemplate(nil, nil, wft, nil, validate.ValidateOpts{}); err != nil {
		t.Fatalf("Argo rejects the WorkflowTemplate: %v", err)
	}
	obj, err = TranslateObject(p, Options{Kind: KindCronWorkflow, Schedule: "0 3 * * *", Timezone: "Europe/Berlin"})
	if err != nil {
		t.Fatal(err)
	}
	cwf, ok := obj.(*wfv1.CronWorkflow)
	if !ok || cwf.Spec.Schedules[0] != "0 3 * * *" {
		t.Fatalf("got %T %v", obj, obj)
	}
	if err := validate.ValidateCronWorkflow(context.Background(), nil, nil, cwf, nil); err != nil {
		t.Fatalf("Argo rejects the CronWorkflow: %v", err)
	}
	for _, tc := range []struct {
		opts Options
		want string
	}{
		{Options{Kind: KindCronWorkflow}, "--schedule: a cronworkflow needs a schedule"},
		{Options{Kind: "job"}, `--kind: unknown kind "job"`},
		{Options{Schedule: "* * * * *"}, "--schedule: only a cronworkflow has a schedule"},
	} {
		if _, err := TranslateObject(p, tc.opts); err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%+v: got %v, want %q", tc.opts, err, tc.want)
		}
	}
}

// A registered pipeline may leave required inputs for submit time; a run
// may not.
func TestRequiredInputs(t *testing.T) {
	path := filepath.Join(corpusDir, "valid", "critical", "add_numbers.yaml")
	if _, err := os.Stat(path); err != nil {
		t.Skipf("corpus file %s not found", path)
	}
	p := load(t, path)
	if _, err := Translate(p, Options{}); err == nil || !strings.Contains(err.Error(), "required pipeline input has no value: pass --param") {
		t.Fatalf("workflow without required inputs: %v", err)
	}
	obj, err := TranslateObject(p, Options{Kind: KindWorkflowTemplate})
	if err != nil {
		t.Fatal(err)
	}
	if err := validate.ValidateWorkflowTemplate(nil, nil, obj.(*wfv1.WorkflowTemplate), nil, validate.ValidateOpts{}); err != nil {
		t.Fatalf("Argo rejects the WorkflowTemplate: %v", err)
	}
}
