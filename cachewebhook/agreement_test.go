package cachewebhook

import (
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	wfv1 "github.com/argoproj/argo-workflows/v3/pkg/apis/workflow/v1alpha1"
	corev1 "k8s.io/api/core/v1"

	"github.com/kfpargo/kfpargo/cachekey"
	"github.com/kfpargo/kfpargo/ir"
	"github.com/kfpargo/kfpargo/step"
	"github.com/kfpargo/kfpargo/translator"
)

const corpusDir = "../../shared/kfp-ir-corpus"

// TestWebhookAndLauncherAgree translates every corpus spec, builds each
// step's pod as Argo would (emissary in front, variables filled in), and
// computes the key the webhook computes from the pod and the key the
// launcher computes from its argv and environment: they must be equal, and
// equal again for another run of the same step.
func TestWebhookAndLauncherAgree(t *testing.T) {
	var specs []string
	for _, dir := range []string{"valid", "argo_compatibility"} {
		_ = filepath.WalkDir(filepath.Join(corpusDir, dir), func(p string, d fs.DirEntry, err error) error {
			if err == nil && !d.IsDir() && (strings.HasSuffix(p, ".yaml") || strings.HasSuffix(p, ".json")) {
				specs = append(specs, p)
			}
			return nil
		})
	}
	if len(specs) == 0 {
		t.Skipf("no corpus at %s", corpusDir)
	}
	specs = append(specs, "../examples/seed-mnist/pipeline.yaml")
	steps := 0
	for _, path := range specs {
		data, err := os.ReadFile(path)
		if err != nil {
			t.Fatal(err)
		}
		p, err := ir.Parse(filepath.Base(path), data)
		if err != nil {
			t.Fatalf("%s: %v", path, err)
		}
		images := map[string]translator.ImageDefaults{}
		for _, img := range translator.ImagesWithoutCommand(p) {
			images[img] = translator.ImageDefaults{Entrypoint: []string{"/entrypoint"}}
		}
		obj, err := translator.TranslateObject(p, translator.Options{Kind: translator.KindWorkflowTemplate, Images: images})
		if err != nil {
			t.Fatalf("%s: %v", path, err)
		}
		for _, tmpl := range obj.(*wfv1.WorkflowTemplate).Spec.Templates {
			if tmpl.Container == nil || tmpl.Metadata.Labels[step.LabelCache] != step.CacheEnabled {
				continue
			}
			t.Run(filepath.Base(path)+"/"+tmpl.Name, func(t *testing.T) {
				k1 := agreeingKey(t, tmpl, "run-a")
				if k2 := agreeingKey(t, tmpl, "run-b"); k1 != k2 {
					t.Errorf("another run of the same step has key %s, the first %s", k2, k1)
				}
			})
			steps++
		}
	}
	t.Logf("%d cached steps of %d specs: webhook and launcher agree", steps, len(specs))
	if steps < 50 {
		t.Errorf("only %d cached steps found; the corpus should give many more", steps)
	}
}

var argoVar = regexp.MustCompile(`\{\{(workflow\.name|workflow\.uid|workflow\.namespace|pod\.name|inputs\.parameters\.[^}]+)\}\}`)

// agreeingKey fills in Argo's variables for a run and returns the key both
// sides compute, failing when they differ.
func agreeingKey(t *testing.T, tmpl wfv1.Template, run string) string {
	t.Helper()
	c := tmpl.Container
	types := flagTypes(c.Args)
	args := make([]string, len(c.Args))
	for i, a := range c.Args {
		args[i] = argoVar.ReplaceAllStringFunc(a, func(v string) string {
			name := strings.TrimSuffix(strings.TrimPrefix(v, "{{"), "}}")
			switch name {
			case "workflow.name":
				return run
			case "workflow.uid":
				return "uid-" + run
			case "workflow.namespace":
				return "team-a"
			case "pod.name":
				return run + "-123"
			}
			return sampleValue(strings.TrimPrefix(name, "inputs.parameters."), types)
		})
	}
	pod := &corev1.Pod{Spec: corev1.PodSpec{Containers: []corev1.Container{
		{Name: "wait", Image: "argoexec"},
		{
			Name:    MainContainer,
			Image:   c.Image,
			Command: append([]string{"/var/run/argo/argoexec", "emissary", "--loglevel", "info", "--log-format", "text", "--"}, c.Command...),
			Args:    args,
			Env:     append(append([]corev1.EnvVar{}, c.Env...), corev1.EnvVar{Name: "ARGO_CONTAINER_NAME", Value: "main"}),
		},
	}}}

	// The webhook's side.
	sp, err := readStepPod(pod)
	if err != nil {
		t.Fatal(err)
	}
	env, err := sp.keyEnv()
	if err != nil {
		t.Fatal(err)
	}
	wm, err := cachekey.FromSpec(sp.spec, env, nil)
	if err != nil {
		t.Fatal(err)
	}
	wk, err := wm.Key()
	if err != nil {
		t.Fatal(err)
	}

	// The launcher's side: its argv after `launcher run`, its process
	// environment (the image's variables too, and Argo's).
	if len(c.Command) != 2 || c.Command[0] != step.LauncherPath || c.Command[1] != "run" {
		t.Fatalf("template command %q", c.Command)
	}
	ls, err := step.ParseRunArgs(args, io.Discard)
	if err != nil {
		t.Fatal(err)
	}
	procEnv := map[string]string{"PATH": "/usr/local/bin:/usr/bin", "HOME": "/root", "ARGO_CONTAINER_NAME": "main"}
	for _, e := range c.Env {
		procEnv[e.Name] = e.Value
	}
	lm, err := cachekey.FromSpec(ls, procEnv, nil)
	if err != nil {
		t.Fatal(err)
	}
	lk, err := lm.Key()
	if err != nil {
		t.Fatal(err)
	}
	if wk != lk {
		t.Fatalf("webhook key %s, launcher key %s", wk, lk)
	}
	return wk
}

// flagTypes maps each input of the launcher flags to its declared type.
func flagTypes(args []string) map[string]string {
	out := map[string]string{}
	value := regexp.MustCompile(`^\{\{inputs\.parameters\.([^}]+)\}\}$`)
	for i := 0; i+1 < len(args); i++ {
		if args[i] != step.FlagParam && args[i] != step.FlagArtifact {
			continue
		}
		head, v, _ := strings.Cut(args[i+1], "=")
		_, typ, _ := strings.Cut(head, ":")
		if m := value.FindStringSubmatch(v); m != nil {
			if args[i] == step.FlagArtifact {
				typ = "artifact:" + typ
			}
			out[m[1]] = typ
		}
	}
	return out
}

// sampleValue is a value Argo could pass for an input of the given type.
func sampleValue(param string, types map[string]string) string {
	typ := types[param]
	switch {
	case strings.HasPrefix(typ, "artifact:") && strings.HasSuffix(typ, step.ListSuffix):
		return `[{"uri":"minio://b/x","sha256":"` + strings.Repeat("1", 64) + `","size":1}]`
	case strings.HasPrefix(typ, "artifact:"):
		return `{"uri":"minio://b/x","sha256":"` + strings.Repeat("2", 64) + `","size":1}`
	}
	switch ir.ParameterType(typ) {
	case ir.TypeInteger:
		return "7"
	case ir.TypeDouble:
		return "0.5"
	case ir.TypeBoolean:
		return "true"
	case ir.TypeList:
		return `[1,"a"]`
	case ir.TypeStruct:
		return `{"b":1,"a":[2]}`
	case ir.TypeTaskFinalStatus:
		return `{"state":"SUCCEEDED","pipelineTaskName":"t","error":{}}`
	case "":
		return "task-name" // kfpargo-task and other plain parameters
	}
	return fmt.Sprintf("value of %s", param)
}
