package launcher

import (
	"encoding/json"
	"reflect"
	"strings"
	"testing"

	"github.com/kfpargo/kfpargo/artifact"
	"github.com/kfpargo/kfpargo/ir"
	"github.com/kfpargo/kfpargo/step"
)

func testResolver() *resolver {
	s := &step.Spec{
		RunName: "run-1", RunUID: "uid-1", Task: "train", PodName: "run-1-train-123", PipelineRoot: "minio://b/root",
		Params: map[string]step.Param{
			"s":    {Type: ir.TypeString, Value: "hello world", Present: true},
			"n":    {Type: ir.TypeInteger, Value: 3.0, Present: true},
			"l":    {Type: ir.TypeList, Value: []any{1.0, "a"}, Present: true},
			"none": {Type: ir.TypeString},
		},
		Artifacts: map[string]step.InputArtifact{
			"data": {SchemaTitle: "system.Dataset", Present: true, Items: []*artifact.Descriptor{{URI: "minio://b/k/data", Metadata: map[string]any{"rows": 3.0}}}},
			"many": {SchemaTitle: "system.Model", List: true, Present: true, Items: []*artifact.Descriptor{{URI: "minio://b/k/m1"}, {URI: "minio://b/k/m2"}}},
			"opt":  {SchemaTitle: "system.Dataset"},
		},
		OutputParams:    map[string]ir.ParameterType{"acc": ir.TypeDouble},
		OutputArtifacts: map[string]string{"model": "system.Model"},
	}
	l := Layout{LocalRoot: "/", StepDir: "/kfpargo"}
	out := map[string]string{"model": "minio://b/root/ns/run-1/train/model"}
	return &resolver{spec: s, layout: l, input: buildExecutorInput(s, l, out), outURIs: out}
}

func TestResolveArgs(t *testing.T) {
	r := testResolver()
	for _, tc := range []struct {
		in   []string
		want []string
	}{
		{[]string{"{{$.inputs.parameters['s']}}"}, []string{"hello world"}},
		{[]string{`--n={{$.inputs.parameters["n"]}} and {{$.inputs.parameters['l']}}`}, []string{`--n=3 and [1,"a"]`}},
		{[]string{"{{$.inputs.artifacts['data'].path}}", "{{$.inputs.artifacts['data'].uri}}"}, []string{"/minio/b/k/data", "minio://b/k/data"}},
		{[]string{"{{$.inputs.artifacts['data'].metadata}}", "{{$.inputs.artifacts['data'].metadata['rows']}}"}, []string{`{"rows":3}`, "3"}},
		{[]string{"{{$.outputs.artifacts['model'].path}}", "{{$.outputs.parameters['acc'].output_file}}"}, []string{"/minio/b/root/ns/run-1/train/model", "/kfpargo/user/outputs/parameters/acc"}},
		{[]string{"{{$.pipeline_job_name}}/{{$.pipeline_task_name}}/{{$.pipeline_job_uuid}}/{{$.pipeline_root}}"}, []string{"run-1/train/uid-1/minio://b/root"}},
		{[]string{`{"IfPresent": {"InputName": "s", "Then": ["--s", "{{$.inputs.parameters['s']}}"], "Else": ["--no-s"]}}`}, []string{"--s", "hello world"}},
		{[]string{`{"IfPresent": {"InputName": "opt", "Then": ["--opt"], "Else": "--no-opt"}}`}, []string{"--no-opt"}},
		{[]string{`{"IfPresent": {"InputName": "none", "Then": ["--none"]}}`}, nil},
		{[]string{`{"Concat": ["a-", "{{$.inputs.parameters['n']}}", "-b"]}`}, []string{"a-3-b"}},
		{[]string{`{"not": "structural {{$.inputs.parameters['n']}}"}`}, []string{`{"not": "structural 3"}`}},
		{[]string{"echo {{ plain }}"}, []string{"echo {{ plain }}"}},
		{[]string{"{{$.inputs.artifacts['many']}}"}, []string{`[{"name":"many","type":{"schemaTitle":"system.Model"},"uri":"minio://b/k/m1","metadata":{}},{"name":"many","type":{"schemaTitle":"system.Model"},"uri":"minio://b/k/m2","metadata":{}}]`}},
	} {
		got, err := r.args(tc.in)
		if err != nil {
			t.Errorf("%q: %v", tc.in, err)
			continue
		}
		if !reflect.DeepEqual(got, tc.want) {
			t.Errorf("%q: got %q, want %q", tc.in, got, tc.want)
		}
	}
}

func TestResolveErrors(t *testing.T) {
	r := testResolver()
	for in, want := range map[string]string{
		"{{$.inputs.parameters['missing']}}":  `no input parameter "missing"`,
		"{{$.inputs.parameters['none']}}":     `optional input parameter "none" has no value`,
		"{{$.inputs.artifacts['data'].size}}": `unsupported artifact field "size"`,
		"{{$.pipeline_google_cloud_project}}": "unsupported placeholder",
		"{{$.inputs.parameters[x]}}":          "expected ['name']",
		"{{$.inputs.artifacts['many'].uri}}":  `input artifact "many" is a list of 2 artifacts`,
	} {
		_, err := r.args([]string{in})
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("%s: got %v, want %q", in, err, want)
		}
	}
}

func TestExecutorInputPlaceholder(t *testing.T) {
	r := testResolver()
	got, err := r.args([]string{"{{$}}"})
	if err != nil {
		t.Fatal(err)
	}
	var ei ExecutorInput
	if err := json.Unmarshal([]byte(got[0]), &ei); err != nil {
		t.Fatal(err)
	}
	if ei.Inputs.ParameterValues["s"] != "hello world" || ei.Inputs.ParameterValues["n"] != 3.0 {
		t.Errorf("parameterValues = %v", ei.Inputs.ParameterValues)
	}
	if _, ok := ei.Inputs.ParameterValues["none"]; ok {
		t.Error("an absent optional input must not appear in parameterValues")
	}
	if a := ei.Inputs.Artifacts["data"].Artifacts; len(a) != 1 || a[0].URI != "minio://b/k/data" || a[0].Type.SchemaTitle != "system.Dataset" {
		t.Errorf("input artifacts = %+v", ei.Inputs.Artifacts)
	}
	if ei.Outputs.Parameters["acc"].OutputFile != "/kfpargo/user/outputs/parameters/acc" || ei.Outputs.OutputFile != "/kfpargo/user/executor_output.json" {
		t.Errorf("outputs = %+v", ei.Outputs)
	}
	if a := ei.Outputs.Artifacts["model"].Artifacts; len(a) != 1 || a[0].URI != "minio://b/root/ns/run-1/train/model" {
		t.Errorf("output artifacts = %+v", ei.Outputs.Artifacts)
	}
}

func TestUserEnvDropsLauncherVariables(t *testing.T) {
	got := userEnv([]string{"PATH=/bin", "KFPARGO_S3_SECRET_KEY=s3cret", "HOME=/root", "KFPARGO_X=1"})
	if !reflect.DeepEqual(got, []string{"PATH=/bin", "HOME=/root"}) {
		t.Fatalf("got %q", got)
	}
}
