package step_test

import (
	"io"
	"os"
	"regexp"
	"strings"
	"testing"

	"github.com/kfpargo/kfpargo/ir"
	"github.com/kfpargo/kfpargo/step"
	"github.com/kfpargo/kfpargo/translator"
)

// TestTranslatorContract feeds the launcher the arguments the translator
// writes for the seed example's train step, with Argo's variables filled in
// as Argo would, so the two sides cannot drift apart.
func TestTranslatorContract(t *testing.T) {
	data, err := os.ReadFile("../examples/seed-mnist/pipeline.yaml")
	if err != nil {
		t.Fatal(err)
	}
	p, err := ir.Parse("pipeline.yaml", data)
	if err != nil {
		t.Fatal(err)
	}
	wf, err := translator.Translate(p, translator.Options{})
	if err != nil {
		t.Fatal(err)
	}
	var args []string
	for _, tmpl := range wf.Spec.Templates {
		if tmpl.Name == "train" {
			args = tmpl.Container.Args
		}
	}
	values := map[string]string{
		"workflow.name": "seed-abc", "workflow.uid": "u-1", "workflow.namespace": "argo", "pod.name": "seed-abc-train-1",
		"inputs.parameters." + step.TaskParam: "train",
		"inputs.parameters.epochs":            "3",
		"inputs.parameters.hidden_units":      "256",
		"inputs.parameters.artifact-dataset":  `{"uri":"minio://mlpipeline/v2/artifacts/argo/seed-abc/preprocessing/output_dataset","sha256":"ab","size":10,"schemaTitle":"system.Dataset"}`,
	}
	argoVar := regexp.MustCompile(`\{\{([a-z][^{}$]*)\}\}`)
	for i, a := range args {
		args[i] = argoVar.ReplaceAllStringFunc(a, func(m string) string {
			v, ok := values[m[2:len(m)-2]]
			if !ok {
				t.Fatalf("unexpected Argo variable %s", m)
			}
			return v
		})
	}
	s, err := step.ParseRunArgs(args, io.Discard)
	if err != nil {
		t.Fatal(err)
	}
	if s.RunName != "seed-abc" || s.Namespace != "argo" || s.Task != "train" || s.PipelineRoot != translator.DefaultPipelineRoot {
		t.Errorf("context: %+v", s)
	}
	if p := s.Params["hidden_units"]; !p.Present || p.Value != 256.0 || p.Type != ir.TypeInteger {
		t.Errorf("hidden_units = %+v", p)
	}
	if a := s.Artifacts["dataset"]; !a.Present || len(a.Items) != 1 || a.Items[0].SHA256 != "ab" || a.SchemaTitle != "system.Dataset" {
		t.Errorf("dataset = %+v", a)
	}
	if s.OutputParams["accuracy"] != ir.TypeDouble || s.OutputArtifacts["output_model"] != "system.Model" || s.OutputArtifacts["metrics"] != "system.Metrics" {
		t.Errorf("outputs: %v %v", s.OutputParams, s.OutputArtifacts)
	}
	if s.Command[0] != "python3" || !strings.Contains(strings.Join(s.Command, " "), "{{$.inputs.parameters['hidden_units']}}") {
		t.Errorf("command: %q", s.Command)
	}
}

func TestParseRunArgsErrors(t *testing.T) {
	for _, tc := range []struct {
		args []string
		want string
	}{
		{[]string{"--param", "x:STRING=a"}, "no command"},
		{[]string{"--param", "x=a", "--", "true"}, "expected NAME:TYPE"},
		{[]string{"--param", "x:TEXT=a", "--", "true"}, `unknown type "TEXT"`},
		{[]string{"--param", "x:NUMBER_INTEGER=a", "--", "true"}, `"a" is not an integer`},
		{[]string{"--artifact", "d:system.Dataset={bad", "--", "true"}, "invalid artifact descriptor"},
		{[]string{"--output-artifact", "m:system.Model", "--", "true"}, "--pipeline-root is required"},
		{[]string{"--artifact", "d:system.Dataset[]={}", "--", "true"}, "no uri"},
		{[]string{"--artifact", "d:system.Dataset[]=[1]", "--", "true"}, "is not a descriptor"},
		{[]string{"--artifact", `d:system.Dataset[]=["x"]`, "--", "true"}, `"x" is not a descriptor`},
		{[]string{"--per-pod-outputs", "--pipeline-root", "minio://b", "--run-name", "r", "--namespace", "n", "--task", "t", "--output-artifact", "m:system.Model", "--", "true"}, "--pod-name is required"},
	} {
		_, err := step.ParseRunArgs(tc.args, io.Discard)
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%q: got %v, want %q", tc.args, err, tc.want)
		}
	}
	s, err := step.ParseRunArgs([]string{"--pod-name", "run-1-t-42", "--param", "id:STRING=task {{$.pipeline_task_uuid}}", "--", "true"}, io.Discard)
	if err != nil || s.Params["id"].Value != "task run-1-t-42" {
		t.Errorf("task uuid in a constant: %+v %v", s.Params["id"], err)
	}
	s, err = step.ParseRunArgs([]string{"--param", "x:STRING=" + step.AbsentValue, "--", "true"}, io.Discard)
	if err != nil || s.Params["x"].Present {
		t.Errorf("absent value: %+v %v", s, err)
	}
}

// A fan-in arrives as Argo aggregates it: a flat array of descriptors for one
// loop, and for nested loops an array whose items are the inner arrays'
// JSON text.
func TestParseArtifactLists(t *testing.T) {
	for _, tc := range []struct {
		value string
		want  []string
	}{
		{`[]`, nil},
		{`[{"uri":"minio://b/a"},{"uri":"minio://b/b"}]`, []string{"minio://b/a", "minio://b/b"}},
		{`["[{\"uri\":\"minio://b/a\"}]","[{\"uri\":\"minio://b/b\"},{\"uri\":\"minio://b/c\"}]"]`, []string{"minio://b/a", "minio://b/b", "minio://b/c"}},
		{`[[{"uri":"minio://b/a"}],[]]`, []string{"minio://b/a"}},
		{`["__kfpargo_absent__",{"uri":"minio://b/a"},"[]"]`, []string{"minio://b/a"}},
	} {
		s, err := step.ParseRunArgs([]string{"--artifact", "models:system.Model[]=" + tc.value, "--", "true"}, io.Discard)
		if err != nil {
			t.Errorf("%s: %v", tc.value, err)
			continue
		}
		a := s.Artifacts["models"]
		var got []string
		for _, d := range a.Items {
			got = append(got, d.URI)
		}
		if !a.List || !a.Present || a.SchemaTitle != "system.Model" || strings.Join(got, " ") != strings.Join(tc.want, " ") {
			t.Errorf("%s: got %+v (%v)", tc.value, a, got)
		}
	}
}
