package ir

import (
	"strings"
	"testing"
)

const minimal = `
pipelineInfo: {name: p}
schemaVersion: 2.1.0
deploymentSpec:
  executors:
    exec-a: {container: {image: busybox, command: [echo]}}
components:
  comp-a:
    executorLabel: exec-a
    inputDefinitions: {parameters: {x: {parameterType: STRING}}}
    outputDefinitions: {parameters: {y: {parameterType: STRING}}}
root:
  dag:
    tasks:
      a:
        componentRef: {name: comp-a}
        inputs: {parameters: {x: {taskOutputParameter: {producerTask: b, outputParameterKey: y}}}}
      b:
        componentRef: {name: comp-a}
        dependentTasks: [a]
        inputs: {parameters: {x: {runtimeValue: {constant: hi}}}}
`

func TestValidateProblems(t *testing.T) {
	for _, tc := range []struct {
		name, old, new, want string
	}{
		{"cycle", "", "", `root.dag.tasks.b: dependency cycle: a -> b -> a`},
		{"unknown field", "schemaVersion: 2.1.0", "schemaVersion: 2.1.0\nextra: 1", `extra: unknown field "extra"`},
		{"snake case accepted, bad type", "pipelineInfo: {name: p}", "pipeline_info: {name: 3}", `pipeline_info.name: expected a string, got a number`},
		{"dangling executor", "executorLabel: exec-a", "executorLabel: exec-b", `components.comp-a.executorLabel: no executor "exec-b"`},
		{"dangling output key", "outputParameterKey: y", "outputParameterKey: z", `root.dag.tasks.a.inputs.parameters.x.taskOutputParameter: task "b" has no output parameter "z"`},
		{"bad type", "parameterType: STRING}}}\n    outputDefinitions", "parameterType: TEXT}}}\n    outputDefinitions", `components.comp-a.inputDefinitions.parameters.x.parameterType: unknown parameter type "TEXT"`},
		{"no image", "image: busybox", "image: ''", `deploymentSpec.executors.exec-a.container.image: required`},
		{"bad version", "2.1.0", "3.0.0", `schemaVersion: unsupported version "3.0.0"`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			spec := strings.Replace(minimal, tc.old, tc.new, 1)
			_, err := Parse("p.yaml", []byte(spec))
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("got %v\nwant %q", err, tc.want)
			}
		})
	}
}

func TestParseFormats(t *testing.T) {
	withoutCycle := strings.Replace(minimal, "        dependentTasks: [a]\n", "", 1)
	withoutCycle = strings.Replace(withoutCycle, "{taskOutputParameter: {producerTask: b, outputParameterKey: y}}", "{runtimeValue: {constant: 1}}", 1)
	if _, err := Parse("p.yaml", []byte(withoutCycle)); err != nil {
		t.Fatalf("yaml: %v", err)
	}
	platform := withoutCycle + "---\nplatforms:\n  kubernetes:\n    deploymentSpec:\n      executors:\n        exec-a: {nodeSelector: {labels: {a: b}}}\n"
	p, err := Parse("p.yml", []byte(platform))
	if err != nil || p.Platform == nil || p.Platform.Platforms["kubernetes"] == nil {
		t.Fatalf("platform spec: %v", err)
	}
	if _, err := Parse("p.yaml", []byte(platform+"---\na: 1\n")); err == nil || !strings.Contains(err.Error(), "3 documents") {
		t.Fatalf("three documents: %v", err)
	}
	if _, err := Parse("p.json", []byte(`{"pipelineInfo": {"name": "p"}, "schemaVersion": "2.1.0", "bogus": true}`)); err == nil || !strings.Contains(err.Error(), `bogus: unknown field`) {
		t.Fatalf("json: %v", err)
	}
	if _, err := Parse("p.png", []byte("\x89PNG\r\n\x1a\n\x00\x00")); err == nil || !strings.Contains(err.Error(), "not a text file") {
		t.Fatalf("binary: %v", err)
	}
}
