package launcher_test

import (
	"context"
	"encoding/json"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"go.uber.org/zap"

	"github.com/kfpargo/kfpargo/artifact"
	"github.com/kfpargo/kfpargo/launcher"
	"github.com/kfpargo/kfpargo/step"
	"github.com/kfpargo/kfpargo/test/servers"
	"github.com/minio/minio-go/v7"
)

type stepEnv struct {
	store  *artifact.Store
	layout launcher.Layout
}

func newStepEnv(t *testing.T) stepEnv {
	m := servers.StartMinio(t, "mlpipeline")
	s, err := artifact.NewStore(artifact.Config{Endpoint: m.Endpoint, AccessKey: m.AccessKey, SecretKey: m.SecretKey, Insecure: true})
	if err != nil {
		t.Fatal(err)
	}
	root := t.TempDir()
	return stepEnv{store: s, layout: launcher.Layout{LocalRoot: filepath.Join(root, "fs"), StepDir: filepath.Join(root, "kfpargo")}}
}

func (e stepEnv) run(t *testing.T, args ...string) int {
	t.Helper()
	spec, err := step.ParseRunArgs(args, io.Discard)
	if err != nil {
		t.Fatal(err)
	}
	devnull, _ := os.Open(os.DevNull)
	defer devnull.Close()
	r := &launcher.Runner{Spec: spec, Layout: e.layout, Store: e.store, Log: zap.NewNop(),
		Env: []string{"PATH=/usr/bin:/bin"}, Stdout: devnull, Stderr: devnull}
	return r.Run(context.Background())
}

var common = []string{"--pipeline-name", "p", "--run-name", "run-1", "--namespace", "ns", "--pipeline-root", "minio://mlpipeline/v2/artifacts"}

// TestProducerConsumer runs two steps the way two pods would: the first
// writes an artifact and a parameter, the second reads the artifact through
// the descriptor the first left for Argo.
func TestProducerConsumer(t *testing.T) {
	e := newStepEnv(t)
	produce := append(append([]string{}, common...), "--task", "make",
		"--param", "n:NUMBER_INTEGER=3",
		"--output-param", "count:NUMBER_INTEGER", "--output-artifact", "data:system.Dataset",
		"--", "sh", "-c", `for i in $(seq "$0"); do echo "row $i"; done > "$1"; printf ' 3\n' > "$2"`,
		"{{$.inputs.parameters['n']}}", "{{$.outputs.artifacts['data'].path}}", "{{$.outputs.parameters['count'].output_file}}")
	if code := e.run(t, produce...); code != 0 {
		t.Fatalf("producer exit %d", code)
	}
	count, err := os.ReadFile(e.layout.ArgoParamFile("count"))
	if err != nil || string(count) != "3" {
		t.Fatalf("count parameter %q %v (an integer is normalised)", count, err)
	}
	descJSON, err := os.ReadFile(e.layout.ArgoArtifactFile("data"))
	if err != nil {
		t.Fatal(err)
	}
	d, err := artifact.ParseDescriptor(string(descJSON))
	if err != nil {
		t.Fatal(err)
	}
	if d.URI != "minio://mlpipeline/v2/artifacts/ns/run-1/make/data" || d.Size != int64(len("row 1\nrow 2\nrow 3\n")) || d.SchemaTitle != "system.Dataset" {
		t.Fatalf("descriptor %+v", d)
	}

	// The consumer runs in a fresh filesystem, as another pod would.
	e2 := e
	e2.layout = launcher.Layout{LocalRoot: filepath.Join(t.TempDir(), "fs"), StepDir: filepath.Join(t.TempDir(), "kfpargo")}
	consume := append(append([]string{}, common...), "--task", "use",
		"--artifact", "data:system.Dataset="+string(descJSON),
		"--output-param", "lines:STRING",
		"--", "sh", "-c", `wc -l < "$0" | tr -d ' \n' > "$1"`,
		"{{$.inputs.artifacts['data'].path}}", "{{$.outputs.parameters['lines'].output_file}}")
	if code := e2.run(t, consume...); code != 0 {
		t.Fatalf("consumer exit %d", code)
	}
	lines, _ := os.ReadFile(e2.layout.ArgoParamFile("lines"))
	if string(lines) != "3" {
		t.Fatalf("consumer saw %q lines", lines)
	}
}

func TestFailuresRecordNothing(t *testing.T) {
	for _, tc := range []struct {
		name   string
		script string
		code   int
	}{
		{"command exits 3 after writing outputs", `echo x > "$0"; echo 1 > "$1"; exit 3`, 3},
		{"artifact never written", `echo 1 > "$1"`, launcher.ExitOutputs},
		{"parameter never written", `echo x > "$0"`, launcher.ExitOutputs},
		{"parameter of the wrong type", `echo x > "$0"; echo many > "$1"`, launcher.ExitOutputs},
		{"killed by a signal", `kill -TERM $$`, 128 + 15},
	} {
		t.Run(tc.name, func(t *testing.T) {
			e := newStepEnv(t)
			args := append(append([]string{}, common...), "--task", "t",
				"--output-param", "n:NUMBER_INTEGER", "--output-artifact", "data:system.Dataset",
				"--", "sh", "-c", tc.script, "{{$.outputs.artifacts['data'].path}}", "{{$.outputs.parameters['n'].output_file}}")
			if code := e.run(t, args...); code != tc.code {
				t.Fatalf("exit %d, want %d", code, tc.code)
			}
			for _, f := range []string{e.layout.ArgoParamFile("n"), e.layout.ArgoArtifactFile("data")} {
				if _, err := os.Stat(f); !os.IsNotExist(err) {
					t.Errorf("%s exists after a failed step", f)
				}
			}
		})
	}
}

func TestExecutorOutputFile(t *testing.T) {
	e := newStepEnv(t)
	// A lightweight Python component writes its results to the executor
	// output file named in {{$}}; here sh plays that part.
	args := append(append([]string{}, common...), "--task", "t",
		"--output-param", "msg:STRING", "--output-artifact", "metrics:system.Metrics",
		"--", "sh", "-c", `python3 -c 'import json,sys; ei=json.loads(sys.argv[1]); o=ei["outputs"]; open(o["artifacts"]["metrics"]["artifacts"][0]["uri"].replace("minio://", sys.argv[2] + "/minio/"), "w").write("{}"); json.dump({"parameterValues": {"msg": "hi"}, "artifacts": {"metrics": {"artifacts": [{"metadata": {"accuracy": 0.9}}]}}}, open(o["outputFile"], "w"))' "$0" "$1"`,
		"{{$}}", e.layout.LocalRoot)
	if code := e.run(t, args...); code != 0 {
		t.Fatalf("exit %d", code)
	}
	msg, _ := os.ReadFile(e.layout.ArgoParamFile("msg"))
	if string(msg) != "hi" {
		t.Errorf("msg = %q", msg)
	}
	b, _ := os.ReadFile(e.layout.ArgoArtifactFile("metrics"))
	var d artifact.Descriptor
	if err := json.Unmarshal(b, &d); err != nil || d.Metadata["accuracy"] != 0.9 {
		t.Errorf("metrics descriptor %s: %v", b, err)
	}
	if !strings.HasSuffix(d.URI, "/ns/run-1/t/metrics") {
		t.Errorf("uri %s", d.URI)
	}
	mb, err := os.ReadFile(e.layout.MetricsFile())
	if err != nil || string(mb) != `{"metrics":{"accuracy":0.9}}` {
		t.Errorf("metrics parameter %s (%v)", mb, err)
	}
}

// TestMovedOutputs: a component may move an output artifact (the SDK's
// `artifact.uri = dsl.get_uri(...)`) within its run, but not elsewhere.
func TestMovedOutputs(t *testing.T) {
	for _, tc := range []struct {
		name, uri string
		code      int
	}{
		{"inside the run", "minio://mlpipeline/v2/artifacts/ns/run-1/t/custom/model.bin", 0},
		{"another run", "minio://mlpipeline/v2/artifacts/ns/run-2/t/model", launcher.ExitOutputs},
		{"climbing out", "minio://mlpipeline/v2/artifacts/ns/run-1/../run-2/model", launcher.ExitOutputs},
		{"custom path", "", 0},
	} {
		t.Run(tc.name, func(t *testing.T) {
			e := newStepEnv(t)
			// With no URI given, the component writes elsewhere and says so
			// with custom_path, as the SDK's artifact.set_path() does.
			custom := filepath.Join(t.TempDir(), "elsewhere", "model.bin")
			args := append(append([]string{}, common...), "--task", "t", "--output-artifact", "model:system.Model",
				"--", "python3", "-c", `import json, os, sys
ei, root, uri, custom = json.loads(sys.argv[1]), sys.argv[2], sys.argv[3], sys.argv[4]
out = {"metadata": {"k": 1}}
if uri:
    path = os.path.normpath(root + "/minio/" + uri.split("://", 1)[1])
    out["uri"] = uri
else:
    path = out["custom_path"] = custom
os.makedirs(os.path.dirname(path), exist_ok=True)
open(path, "w").write("weights")
json.dump({"artifacts": {"model": {"artifacts": [out]}}}, open(ei["outputs"]["outputFile"], "w"))`,
				"{{$}}", e.layout.LocalRoot, tc.uri, custom)
			if code := e.run(t, args...); code != tc.code {
				t.Fatalf("exit %d, want %d", code, tc.code)
			}
			b, err := os.ReadFile(e.layout.ArgoArtifactFile("model"))
			if tc.code != 0 {
				if err == nil {
					t.Errorf("a refused move left a descriptor: %s", b)
				}
				return
			}
			want := tc.uri
			if want == "" {
				want = "minio://mlpipeline/v2/artifacts/ns/run-1/t/model"
			}
			d, err := artifact.ParseDescriptor(string(b))
			if err != nil || d.URI != want || d.Size != 7 {
				t.Fatalf("descriptor %s (%v)", b, err)
			}
		})
	}
}

// TestLoopFanIn runs a loop body twice with per-pod outputs, then a step
// that takes both results as one list input, as a dsl.Collected fan-in does.
func TestLoopFanIn(t *testing.T) {
	e := newStepEnv(t)
	var descs []string
	for i, pod := range []string{"run-1-body-111", "run-1-body-222"} {
		e.layout.StepDir = filepath.Join(t.TempDir(), "kfpargo")
		args := append(append([]string{}, common...), "--task", "body", "--per-pod-outputs", "--pod-name", pod,
			"--output-artifact", "part:system.Dataset",
			"--", "sh", "-c", `echo "part $0" > "$1"`, string(rune('a'+i)), "{{$.outputs.artifacts['part'].path}}")
		if code := e.run(t, args...); code != 0 {
			t.Fatalf("iteration %d: exit %d", i, code)
		}
		b, err := os.ReadFile(e.layout.ArgoArtifactFile("part"))
		if err != nil {
			t.Fatal(err)
		}
		d, _ := artifact.ParseDescriptor(string(b))
		if want := "minio://mlpipeline/v2/artifacts/ns/run-1/body/" + pod + "/part"; d == nil || d.URI != want {
			t.Fatalf("iteration %d: descriptor %s, want uri %s", i, b, want)
		}
		descs = append(descs, string(b))
	}
	e.layout = launcher.Layout{LocalRoot: filepath.Join(t.TempDir(), "fs"), StepDir: filepath.Join(t.TempDir(), "kfpargo")}
	list := "[" + strings.Join(descs, ",") + "]"
	// The list placeholder names each item's URI; the files sit at their
	// KFP local paths under the layout's root.
	args := append(append([]string{}, common...), "--task", "join",
		"--artifact", "parts:system.Dataset[]="+list, "--output-param", "joined:STRING",
		"--", "sh", "-c", `for p in $(echo "$0" | python3 -c 'import json,sys; print(" ".join(a["uri"].split("://",1)[1] for a in json.load(sys.stdin)))'); do cat "$2/minio/$p"; done > "$1"`,
		"{{$.inputs.artifacts['parts']}}", "{{$.outputs.parameters['joined'].output_file}}", e.layout.LocalRoot)
	if code := e.run(t, args...); code != 0 {
		t.Fatalf("fan-in exit %d", code)
	}
	got, _ := os.ReadFile(e.layout.ArgoParamFile("joined"))
	if string(got) != "part a\npart b\n" {
		t.Fatalf("fan-in read %q", got)
	}
}

// TestWorkspaceInputs: an artifact marked to live in the pipeline workspace
// (an importer with downloadToWorkspace) is downloaded there once, read from
// there by later steps, and refused by a step without a workspace.
func TestWorkspaceInputs(t *testing.T) {
	e := newStepEnv(t)
	ctx := context.Background()
	src := filepath.Join(t.TempDir(), "f")
	_ = os.WriteFile(src, []byte("shared data"), 0o644)
	loc, _ := artifact.ParseURI("minio://mlpipeline/imports/f")
	if _, err := e.store.Upload(ctx, src, loc); err != nil {
		t.Fatal(err)
	}
	desc := `{"uri":"minio://mlpipeline/imports/f","schemaTitle":"system.Dataset","metadata":{"_kfp_workspace":true}}`
	ws := t.TempDir()
	read := func(workspace string) (int, string) {
		e.layout.StepDir = filepath.Join(t.TempDir(), "kfpargo")
		args := append(append([]string{}, common...), "--task", "use")
		if workspace != "" {
			args = append(args, "--workspace", workspace)
		}
		args = append(args, "--artifact", "d:system.Dataset="+desc, "--output-param", "where:STRING",
			"--", "sh", "-c", `printf '%s' "$0" > "$1"`, "{{$.inputs.artifacts['d'].path}}", "{{$.outputs.parameters['where'].output_file}}")
		code := e.run(t, args...)
		b, _ := os.ReadFile(e.layout.ArgoParamFile("where"))
		return code, string(b)
	}
	want := filepath.Join(ws, ".artifacts", "minio", "mlpipeline", "imports", "f")
	if code, where := read(ws); code != 0 || where != want {
		t.Fatalf("exit %d, path %q, want %q", code, where, want)
	}
	if b, err := os.ReadFile(want); err != nil || string(b) != "shared data" {
		t.Fatalf("workspace copy %q (%v)", b, err)
	}
	// A later step finds it in the workspace, even with the object gone.
	if err := e.store.Client().RemoveObject(ctx, "mlpipeline", "imports/f", minio.RemoveObjectOptions{}); err != nil {
		t.Fatal(err)
	}
	if code, where := read(ws); code != 0 || where != want {
		t.Fatalf("second step: exit %d, path %q", code, where)
	}
	if code, _ := read(""); code != launcher.ExitInputs {
		t.Errorf("a step without a workspace: exit %d, want %d", code, launcher.ExitInputs)
	}
}
