package main

import (
	"bytes"
	"os"
	"path/filepath"
	"strings"
	"testing"

	wfv1 "github.com/argoproj/argo-workflows/v3/pkg/apis/workflow/v1alpha1"
	"sigs.k8s.io/yaml"
)

const example = "../../examples/seed-mnist/pipeline.yaml"

func runCLI(t *testing.T, stdin string, args ...string) (int, string, string) {
	t.Helper()
	var out, errb bytes.Buffer
	code := run(args, strings.NewReader(stdin), &out, &errb)
	return code, out.String(), errb.String()
}

func TestCompileExample(t *testing.T) {
	code, out, errs := runCLI(t, "", "compile", example, "--param", "hidden_units=256")
	if code != exitOK {
		t.Fatalf("exit %d: %s", code, errs)
	}
	var wf wfv1.Workflow
	if err := yaml.UnmarshalStrict([]byte(out), &wf); err != nil {
		t.Fatalf("output is not a Workflow: %v", err)
	}
	if wf.Kind != "Workflow" || wf.Spec.Entrypoint == "" {
		t.Fatalf("unexpected output: kind %q entrypoint %q", wf.Kind, wf.Spec.Entrypoint)
	}
	if !strings.Contains(out, "value: \"256\"") {
		t.Fatal("--param value not in the output")
	}
}

func TestCompileStdinAndOutputFile(t *testing.T) {
	data, err := os.ReadFile(example)
	if err != nil {
		t.Fatal(err)
	}
	dst := filepath.Join(t.TempDir(), "wf.yaml")
	code, out, errs := runCLI(t, string(data), "compile", "-", "-o", dst)
	if code != exitOK || out != "" {
		t.Fatalf("exit %d, stdout %q, stderr %s", code, out, errs)
	}
	written, err := os.ReadFile(dst)
	if err != nil || !bytes.Contains(written, []byte("kind: Workflow")) {
		t.Fatalf("output file: %v %q", err, written)
	}
}

func TestCompileErrors(t *testing.T) {
	bad := filepath.Join(t.TempDir(), "bad.yaml")
	spec, _ := os.ReadFile(example)
	broken := strings.Replace(string(spec), "      preprocessing:\n        cachingOptions:", "      preprocessing:\n        retries: 3\n        cachingOptions:", 1)
	if err := os.WriteFile(bad, []byte(broken), 0o644); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name string
		args []string
		want []string
	}{
		{"malformed spec", []string{"compile", bad}, []string{
			"error: " + bad + ": root.dag.tasks.preprocessing.retries: unknown field \"retries\"",
		}},
		{"missing file", []string{"compile", "nope.yaml"}, []string{"error: nope.yaml: no such file or directory"}},
		{"bad param", []string{"compile", example, "--param", "epochs=lots"}, []string{"error: " + example + ": --param epochs: \"lots\" is not an integer"}},
		{"param syntax", []string{"compile", example, "--param", "epochs"}, []string{`--param "epochs": expected NAME=VALUE`}},
		{"unknown flag", []string{"compile", example, "--frobnicate"}, []string{"unknown flag: --frobnicate"}},
		{"no argument", []string{"compile"}, []string{"exactly one PIPELINE"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			code, _, errs := runCLI(t, "", tc.args...)
			if code != exitInvalid {
				t.Fatalf("exit %d, want %d; stderr: %s", code, exitInvalid, errs)
			}
			for _, w := range tc.want {
				if !strings.Contains(errs, w) {
					t.Errorf("stderr lacks %q:\n%s", w, errs)
				}
			}
		})
	}
}

func TestCompileReportsEveryProblem(t *testing.T) {
	spec, _ := os.ReadFile(example)
	broken := strings.Replace(string(spec), "name: comp-train\n", "name: comp-trian\n", 1)
	broken = strings.Replace(broken, "        - load-data\n", "        - load-dta\n", 1)
	bad := filepath.Join(t.TempDir(), "refs.yaml")
	if err := os.WriteFile(bad, []byte(broken), 0o644); err != nil {
		t.Fatal(err)
	}
	code, _, errs := runCLI(t, "", "compile", bad)
	if code != exitInvalid {
		t.Fatalf("exit %d", code)
	}
	for _, w := range []string{
		"error: " + bad + ": root.dag.tasks.preprocessing.dependentTasks[0]: no task \"load-dta\" in this DAG",
		"error: " + bad + ": root.dag.tasks.train.componentRef.name: no component \"comp-trian\" in components",
	} {
		if !strings.Contains(errs, w) {
			t.Errorf("stderr lacks %q:\n%s", w, errs)
		}
	}
}

func TestInvalidCorpusExitsTwo(t *testing.T) {
	files, _ := filepath.Glob("../../../shared/kfp-ir-corpus/invalid/*")
	if len(files) == 0 {
		t.Skip("corpus not found beside the repository (../shared/kfp-ir-corpus)")
	}
	for _, f := range files {
		code, _, errs := runCLI(t, "", "compile", f)
		if code != exitInvalid || !strings.HasPrefix(errs, "error: "+f+": ") {
			t.Errorf("%s: exit %d, stderr %q", f, code, errs)
		}
	}
}

// TestImageEntrypoint: a container without a command needs its image's
// entrypoint; --image-entrypoint gives it, and without it (and offline) the
// error names the field, the image and the flag.
func TestImageEntrypoint(t *testing.T) {
	spec := `pipelineInfo: {name: p}
schemaVersion: 2.1.0
root:
  dag:
    tasks:
      run: {componentRef: {name: comp-run}, taskInfo: {name: run}}
components:
  comp-run: {executorLabel: exec-run}
deploymentSpec:
  executors:
    exec-run:
      container: {image: registry.invalid/team/tool:1, args: [--fast]}
`
	code, out, errs := runCLI(t, spec, "compile", "-", "--image-entrypoint", `registry.invalid/team/tool:1=["/bin/tool", "run"]`)
	if code != exitOK {
		t.Fatalf("exit %d: %s", code, errs)
	}
	if !strings.Contains(out, "- --\n      - /bin/tool\n      - run\n      - --fast\n") {
		t.Errorf("the entrypoint and args are not the wrapped command:\n%s", out)
	}
	code, _, errs = runCLI(t, spec, "compile", "-", "--registry-lookup=false")
	if code != exitInvalid || !strings.Contains(errs, "deploymentSpec.executors.exec-run.container.command") ||
		!strings.Contains(errs, "--registry-lookup=false") || !strings.Contains(errs, "pass --image-entrypoint registry.invalid/team/tool:1=CMD") {
		t.Errorf("exit %d: %s", code, errs)
	}
}

// TestCompileHostileInput: `kfpargo compile` on input nobody checked. Each
// case exits 2 with a short "error: FILE: PATH: message" that names what is
// wrong, and writes no output file.
func TestCompileHostileInput(t *testing.T) {
	const spec = `
pipelineInfo: {name: p}
schemaVersion: 2.1.0
deploymentSpec:
  executors:
    exec-a: {container: {image: busybox, command: [echo, "{{$.inputs.parameters['x']}}"]}}
components:
  comp-a:
    executorLabel: exec-a
    inputDefinitions: {parameters: {x: {parameterType: STRING}}}
root:
  inputDefinitions: {parameters: {s: {parameterType: STRING, defaultValue: "hi"}}}
  dag:
    tasks:
      a:
        taskInfo: {name: a}
        componentRef: {name: comp-a}
        inputs: {parameters: {x: {componentInputParameter: s}}}
`
	dir := t.TempDir()
	write := func(name, content string) string {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, []byte(content), 0o644); err != nil {
			t.Fatal(err)
		}
		return p
	}
	good := write("p.yaml", spec)
	if code, _, errs := runCLI(t, "", "compile", good); code != 0 {
		t.Fatalf("the base spec does not compile: %s", errs)
	}
	deep := strings.Repeat("[", 100_000) + strings.Repeat("]", 100_000)
	out := filepath.Join(dir, "out.yaml")
	for _, tc := range []struct {
		name  string
		stdin string
		args  []string
		want  string
	}{
		{"1 MiB --param", "", []string{"compile", good, "--param", "s=" + strings.Repeat("x", 1<<20)},
			"error: " + good + ": --param s: value of 1048576 bytes is larger than the 102400 a parameter can carry"},
		{"--param not UTF-8", "", []string{"compile", good, "--param", "s=a\xff"},
			"error: " + good + ": --param s: value is not UTF-8 text: byte 0xff at offset 1"},
		{"16 MiB default", "", []string{"compile", write("big.yaml", strings.Replace(spec, `defaultValue: "hi"`, "defaultValue: "+strings.Repeat("y", 16<<20), 1))},
			"root.inputDefinitions.parameters.s: value of 16777216 bytes"},
		{"JSON nested 100 000 deep", "", []string{"compile", write("deep.json", `{"pipelineInfo": `+deep+`}`)},
			"invalid JSON: invalid character '[' exceeded max depth"},
		{"JSON not UTF-8", "", []string{"compile", write("bad.json", "{\"pipelineInfo\": {\"name\": \"p\xff\"}}")},
			"invalid JSON: not UTF-8: byte 0xff at line 1"},
		{"YAML nested 100 000 deep on stdin", "pipelineInfo: " + deep, []string{"compile", "-"},
			"error: <stdin>: invalid YAML: yaml: exceeded max depth of 10000"},
		{"task named ../x", "", []string{"compile", write("dots.yaml", strings.Replace(spec, "      a:\n", "      ../x:\n", 1)), "-o", out},
			`root.dag.tasks["../x"]: a task name is part of its outputs' paths`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			code, stdout, errs := runCLI(t, tc.stdin, tc.args...)
			if code != exitInvalid || !strings.Contains(errs, tc.want) {
				t.Fatalf("exit %d, want %d with %q; stderr: %.500s", code, exitInvalid, tc.want, errs)
			}
			if len(errs) > 2000 || stdout != "" {
				t.Errorf("%d bytes on stderr, %d on stdout: the input is repeated", len(errs), len(stdout))
			}
			if _, err := os.Stat(out); !os.IsNotExist(err) {
				t.Errorf("%s written for an invalid spec", out)
			}
		})
	}
}
