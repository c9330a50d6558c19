package launcher_test

import (
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	wfv1 "github.com/argoproj/argo-workflows/v3/pkg/apis/workflow/v1alpha1"
	"go.uber.org/zap"

	"github.com/kfpargo/kfpargo/artifact"
	"github.com/kfpargo/kfpargo/ir"
	"github.com/kfpargo/kfpargo/launcher"
	"github.com/kfpargo/kfpargo/step"
	"github.com/kfpargo/kfpargo/test/kfpsdk"
	"github.com/kfpargo/kfpargo/translator"
)

const corpus = "../../shared/kfp-ir-corpus/valid/"

// sdkEnv runs lightweight Python components, exactly as the SDK compiled
// them, against the KFP SDK source in KFP_SDK_DIR (see package kfpsdk).
type sdkEnv struct {
	stepEnv
	env []string
	run string
}

func newSDKEnv(t *testing.T) sdkEnv {
	sdk, ok, err := kfpsdk.Dir()
	if err != nil {
		t.Fatal(err)
	}
	if !ok {
		t.Skip(kfpsdk.EnvVar + " is not set: point it at a KFP checkout's sdk/python to run the SDK's lightweight components through the launcher")
	}
	if _, err := os.Stat(corpus); err != nil {
		t.Skipf("corpus not found at %s", corpus)
	}
	bin, err := kfpsdk.Shim(t.TempDir(), sdk)
	if err != nil {
		t.Fatal(err)
	}
	// The SDK maps artifact URIs to /minio/... itself, so these steps use
	// the real local roots, as in a pod, under a run name of their own.
	for _, dir := range artifact.LocalRoots {
		if err := os.MkdirAll(dir, 0o777); err != nil {
			t.Skipf("the SDK writes artifacts under %s, which cannot be created here (run as root): %v", dir, err)
		}
	}
	se := sdkEnv{stepEnv: newStepEnv(t), run: "sdk-" + strconv.FormatInt(time.Now().UnixNano(), 36)}
	se.layout.LocalRoot = "/"
	t.Cleanup(func() {
		for _, dir := range artifact.LocalRoots {
			_ = os.RemoveAll(filepath.Join(dir, "mlpipeline", "v2", "artifacts", "ns", se.run))
		}
	})
	se.env = []string{"PATH=" + bin + ":/usr/local/bin:/usr/bin:/bin", "HOME=" + t.TempDir()}
	return se
}

// runComponent translates spec, takes the container template of component
// comp, fills in the Argo variables as the controller would, and runs the
// launcher with those arguments. It returns the step's Argo output files.
func (e sdkEnv) runComponent(t *testing.T, spec, comp, pod string, inputs map[string]string) (int, map[string]string) {
	t.Helper()
	data, err := os.ReadFile(spec)
	if err != nil {
		t.Fatal(err)
	}
	p, err := ir.Parse(spec, data)
	if err != nil {
		t.Fatal(err)
	}
	// A WorkflowTemplate leaves pipeline inputs open; only the component's
	// template matters here.
	obj, err := translator.TranslateObject(p, translator.Options{Kind: translator.KindWorkflowTemplate})
	if err != nil {
		t.Fatal(err)
	}
	templates := obj.(*wfv1.WorkflowTemplate).Spec.Templates
	var tmpl *wfv1.Template
	for i := range templates {
		if l := templates[i].Metadata.Labels[translator.LabelComponent]; l == strings.TrimPrefix(comp, "comp-") && templates[i].Container != nil {
			tmpl = &templates[i]
		}
	}
	if tmpl == nil {
		t.Fatalf("no container template for %s", comp)
	}
	vars := map[string]string{
		"workflow.name": e.run, "workflow.uid": "uid-1", "workflow.namespace": "ns", "pod.name": pod,
		"inputs.parameters." + step.TaskParam: strings.TrimPrefix(comp, "comp-"),
	}
	for k, v := range inputs {
		vars["inputs.parameters."+k] = v
	}
	argoVar := regexp.MustCompile(`\{\{([a-z][^{}$]*)\}\}`)
	args := append([]string{}, tmpl.Container.Args...)
	for i, a := range args {
		args[i] = argoVar.ReplaceAllStringFunc(a, func(m string) string {
			v, ok := vars[m[2:len(m)-2]]
			if !ok {
				t.Fatalf("no value for Argo variable %s", m)
			}
			return v
		})
	}
	s, err := step.ParseRunArgs(args, os.Stderr)
	if err != nil {
		t.Fatal(err)
	}
	e.layout.StepDir = filepath.Join(t.TempDir(), "kfpargo")
	e.layout.TaskRoot = ""
	r := &launcher.Runner{Spec: s, Layout: e.layout, Store: e.store, Log: zap.NewNop(), Env: e.env, Stdout: os.Stdout, Stderr: os.Stderr}
	code := r.Run(context.Background())
	outs := map[string]string{}
	for _, o := range tmpl.Outputs.Parameters {
		if b, err := os.ReadFile(filepath.Join(e.layout.StepDir, strings.TrimPrefix(o.ValueFrom.Path, step.MountPath))); err == nil {
			outs[o.Name] = string(b)
		}
	}
	return code, outs
}

// TestSDKComponents runs real lightweight Python components from the corpus
// through the launcher with the KFP SDK's own executor: parameters in and
// out, an artifact created with dsl.get_uri(), a list-of-artifacts input,
// and metrics logged with log_metric.
func TestSDKComponents(t *testing.T) {
	e := newSDKEnv(t)
	ctx := context.Background()

	code, outs := e.runComponent(t, corpus+"critical/add_numbers.yaml", "comp-add-numbers", "add-1", map[string]string{"a": "1", "b": "2"})
	if code != 0 || outs["Output"] != "3" {
		t.Errorf("add_numbers(1, 2): exit %d, outputs %v", code, outs)
	}

	list := corpus + "pythonic_artifacts_with_list_of_artifacts.yaml"
	var descs []string
	for _, text := range []string{"Hello, ", "world!"} {
		code, outs := e.runComponent(t, list, "comp-make-dataset", "make-"+strings.ToLower(text[:1]), map[string]string{"text": text})
		d, err := artifact.ParseDescriptor(outs[step.ArtifactParam("Output")])
		if code != 0 || err != nil {
			t.Fatalf("make_dataset(%q): exit %d, outputs %v (%v)", text, code, outs, err)
		}
		if d.Size != int64(len(text)) || d.Metadata["length"] != float64(len(text)) || !strings.Contains(d.URI, "/ns/"+e.run+"/make-dataset/") {
			t.Errorf("make_dataset(%q) descriptor %+v", text, d)
		}
		descs = append(descs, outs[step.ArtifactParam("Output")])
	}
	code, outs = e.runComponent(t, list, "comp-join-datasets", "join", map[string]string{step.ArtifactParam("datasets"): "[" + strings.Join(descs, ",") + "]"})
	if code != 0 {
		t.Fatalf("join_datasets: exit %d, outputs %v", code, outs)
	}
	d, err := artifact.ParseDescriptor(outs[step.ArtifactParam("Output")])
	if err != nil {
		t.Fatal(err)
	}
	joined := filepath.Join(t.TempDir(), "joined")
	if _, err := e.store.Download(ctx, d, joined); err != nil {
		t.Fatal(err)
	}
	if b, _ := os.ReadFile(joined); string(b) != "Hello, world!" {
		t.Errorf("join_datasets wrote %q", b)
	}

	code, outs = e.runComponent(t, corpus+"essential/pipeline_with_metrics_outputs.yaml", "comp-output-metrics", "metrics-1", nil)
	var shown map[string]map[string]float64
	if code != 0 || json.Unmarshal([]byte(outs[step.MetricsParam]), &shown) != nil {
		t.Fatalf("output_metrics: exit %d, outputs %v", code, outs)
	}
	if acc, ok := shown["metrics"]["accuracy"]; !ok || acc < 0 || acc > 100 {
		t.Errorf("logged accuracy %v", shown)
	}
}
