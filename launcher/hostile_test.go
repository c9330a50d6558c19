package launcher_test

import (
	"context"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"go.uber.org/zap"
	"go.uber.org/zap/zaptest/observer"

	"github.com/kfpargo/kfpargo/launcher"
	"github.com/kfpargo/kfpargo/step"
)

// TestHostileOutputs: what the user's command leaves behind is untrusted.
// Each case writes something hostile where the launcher reads outputs back
// (an output parameter file, the executor output JSON, an artifact path)
// and must end in ExitOutputs with a log line that names the output and
// says what is wrong, with no file for Argo written and nothing created
// outside the step's directories.
func TestHostileOutputs(t *testing.T) {
	// py runs a Python program with $0 = the output parameter file, $1 =
	// the executor output file, $2 = the artifact's local path, $3 = a
	// directory outside the step that nothing may touch.
	const outputs = `"{{$.outputs.parameters['p'].output_file}}" "{{$.outputs.output_file}}" "{{$.outputs.artifacts['m'].path}}"`
	for _, tc := range []struct {
		name, program, want string
	}{
		{"1 MiB output parameter file",
			`open(sys.argv[1], "w").write("x" * (1 << 20))`,
			"output parameter p: " + "{{p}} holds more than 102400 bytes"},
		{"16 MiB output parameter file",
			`open(sys.argv[1], "w").write("x" * (16 << 20))`,
			"output parameter p: " + "{{p}} holds more than 102400 bytes"},
		{"output parameter not UTF-8",
			`open(sys.argv[1], "wb").write(b"ok\xff")`,
			"output parameter p: value is not UTF-8 text: byte 0xff at offset 2"},
		{"1 MiB value in the executor output",
			`json.dump({"parameterValues": {"p": "x" * (1 << 20)}}, open(sys.argv[2], "w"))`,
			"output parameter p: value of 1048576 bytes is larger than the 102400 a parameter can carry"},
		{"executor output nested 100 000 deep",
			`open(sys.argv[2], "w").write('{"parameterValues": {"p": ' + "[" * 100000 + "]" * 100000 + "}}")`,
			"is not valid JSON: invalid character '[' exceeded max depth"},
		{"executor output of 9 MiB",
			`open(sys.argv[2], "w").write("{" + " " * (9 << 20) + "}")`,
			"executor output {{eo}} holds more than 8388608 bytes"},
		{"executor output not UTF-8",
			`open(sys.argv[2], "wb").write(b'{"parameterValues": {"p": "ok\xff"}}')`,
			"executor output {{eo}} is not UTF-8: byte 0xff at offset 29"},
		{"1 MiB of artifact metadata",
			`open(sys.argv[1], "w").write("v"); json.dump({"artifacts": {"m": {"artifacts": [{"metadata": {"big": "x" * (1 << 20)}}]}}}, open(sys.argv[2], "w"))`,
			"output artifact m: descriptor of 1048"},
		{"metrics at a custom path outside the step",
			`open(sys.argv[1], "w").write("v"); json.dump({"artifacts": {"m": {"artifacts": [{"custom_path": sys.argv[4] + "/metrics.json", "metadata": {"a": 1}}]}}}, open(sys.argv[2], "w"))`,
			"output artifact m was not written at {{outside}}/metrics.json"},
		// /proc/self is the launcher, whose environment holds the object
		// store's keys: uploading it would hand them to the pipeline.
		{"custom path in /proc",
			`open(sys.argv[1], "w").write("v"); json.dump({"artifacts": {"m": {"artifacts": [{"custom_path": "/proc/self/environ"}]}}}, open(sys.argv[2], "w"))`,
			`output artifact m: custom path "/proc/self/environ" is under /proc`},
		{"custom path in /dev",
			`open(sys.argv[1], "w").write("v"); json.dump({"artifacts": {"m": {"artifacts": [{"custom_path": "/dev/../dev/zero"}]}}}, open(sys.argv[2], "w"))`,
			`output artifact m: custom path "/dev/../dev/zero" is under /dev`},
		{"artifact is a named pipe",
			`open(sys.argv[1], "w").write("v"); os.makedirs(os.path.dirname(sys.argv[3]), exist_ok=True); os.mkfifo(sys.argv[3])`,
			"output artifact m: {{art}} is not a regular file or a directory"},
		{"artifact is a symlink to a file outside",
			`open(sys.argv[1], "w").write("v"); open(sys.argv[4] + "/secret", "w").write("s"); os.symlink(sys.argv[4] + "/secret", sys.argv[3])`,
			"output artifact m: {{art}} is a symbolic link"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			e := newStepEnv(t)
			outside := t.TempDir()
			args := append(append([]string{}, common...), "--task", "t",
				"--output-param", "p:STRING", "--output-artifact", "m:system.Metrics",
				"--", "python3", "-c", "import json, os, sys\n"+tc.program)
			args = append(args, strings.Fields(strings.ReplaceAll(outputs, `"`, ""))...)
			args = append(args, outside)
			spec, err := step.ParseRunArgs(args, io.Discard)
			if err != nil {
				t.Fatal(err)
			}
			core, logs := observer.New(zap.InfoLevel)
			devnull, _ := os.Open(os.DevNull)
			defer devnull.Close()
			r := &launcher.Runner{Spec: spec, Layout: e.layout, Store: e.store, Log: zap.New(core),
				Env: []string{"PATH=/usr/bin:/bin"}, Stdout: devnull, Stderr: devnull}
			if code := r.Run(context.Background()); code != launcher.ExitOutputs {
				t.Fatalf("exit %d, want %d; log: %v", code, launcher.ExitOutputs, logs.All())
			}
			taskDir := filepath.Join(e.layout.LocalRoot, "minio/mlpipeline/v2/artifacts/ns/run-1/t")
			want := strings.NewReplacer("{{p}}", e.layout.UserParamFile("p"), "{{eo}}", filepath.Join(taskDir, "executor_output.json"),
				"{{art}}", filepath.Join(taskDir, "m"), "{{outside}}", outside).Replace(tc.want)
			var found bool
			for _, l := range logs.FilterLevelExact(zap.ErrorLevel).All() {
				msg := l.ContextMap()["error"]
				s, _ := msg.(string)
				if len(s) > 4000 {
					t.Errorf("error of %d bytes repeats the input", len(s))
				}
				found = found || strings.Contains(s, want)
			}
			if !found {
				t.Fatalf("no error log with %q; log: %.2000v", want, logs.All())
			}
			for _, f := range []string{e.layout.ArgoParamFile("p"), e.layout.ArgoArtifactFile("m"), e.layout.MetricsFile()} {
				if _, err := os.Stat(f); !os.IsNotExist(err) {
					t.Errorf("%s written for a failed step", f)
				}
			}
			left, _ := os.ReadDir(outside)
			for _, f := range left {
				if f.Name() != "secret" {
					t.Errorf("%s created outside the step", filepath.Join(outside, f.Name()))
				}
			}
		})
	}
}

// A placeholder can resolve to more than Linux passes as one argument
// ({{$}} holds every input value); the launcher says which argument
// instead of the exec's bare "argument list too long".
func TestResolvedArgumentTooLong(t *testing.T) {
	e := newStepEnv(t)
	args := append(append([]string{}, common...), "--task", "t",
		"--param", "a:STRING="+strings.Repeat("a", 90<<10), "--param", "b:STRING="+strings.Repeat("b", 90<<10),
		"--", "echo", "ok", "{{$}}")
	spec, err := step.ParseRunArgs(args, io.Discard)
	if err != nil {
		t.Fatal(err)
	}
	core, logs := observer.New(zap.InfoLevel)
	r := &launcher.Runner{Spec: spec, Layout: e.layout, Store: e.store, Log: zap.New(core),
		Env: []string{"PATH=/usr/bin:/bin"}, Stdout: os.Stderr, Stderr: os.Stderr}
	if code := r.Run(context.Background()); code != launcher.ExitInputs {
		t.Fatalf("exit %d, want %d", code, launcher.ExitInputs)
	}
	want := "argument 2 of the command resolves to"
	for _, l := range logs.All() {
		if s, _ := l.ContextMap()["error"].(string); strings.Contains(s, want) && strings.Contains(s, "resolves to an argument of 18") && strings.Contains(s, "larger than the 131071 Linux passes") {
			return
		}
	}
	t.Fatalf("no error with %q: %v", want, logs.All())
}
