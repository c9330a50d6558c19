package ir

import (
	"strings"
	"testing"
)

// platformBase runs exec-a from the root DAG (task a, after task p) and from
// a sub-DAG (task inner), so references are checked in both scopes.
const platformBase = `
pipelineInfo: {name: p}
schemaVersion: 2.1.0
deploymentSpec:
  executors:
    exec-a: {container: {image: busybox, command: [echo]}}
    exec-p: {container: {image: busybox, command: [echo]}}
    exec-i: {importer: {artifactUri: {constant: 'minio://b/k'}, typeSchema: {schemaTitle: system.Artifact}}}
components:
  comp-a:
    executorLabel: exec-a
  comp-p:
    executorLabel: exec-p
    outputDefinitions: {parameters: {name: {parameterType: STRING}}}
  comp-sub:
    inputDefinitions: {parameters: {pipelinechannel--secret: {parameterType: STRING}}}
    dag:
      tasks:
        inner: {componentRef: {name: comp-a}}
root:
  inputDefinitions: {parameters: {secret: {parameterType: STRING, isOptional: true}}}
  dag:
    tasks:
      p: {componentRef: {name: comp-p}}
      a: {componentRef: {name: comp-a}, dependentTasks: [p]}
      sub:
        componentRef: {name: comp-sub}
        inputs: {parameters: {pipelinechannel--secret: {componentInputParameter: secret}}}
---
platforms:
  kubernetes:
    deploymentSpec:
      executors:
        exec-a:
`

func TestPlatformSpec(t *testing.T) {
	for _, tc := range []struct {
		name, config, want string
	}{
		{"valid constant", `{secretAsEnv: [{secretNameParameter: {runtimeValue: {constant: s}}, keyToEnv: [{secretKey: k, envVar: V}]}]}`, ""},
		{"deprecated name", `{secretAsVolume: [{secretName: s, mountPath: /m}], pvcMount: [{constant: c, mountPath: /p}]}`, ""},
		{"unknown field deep", `{secretAsEnv: [{secretName: s, keyToEnv: [{secretKey: k, envVar: V}, {secretKey: k, envVr: W}]}]}`,
			`platforms.kubernetes.deploymentSpec.executors.exec-a.secretAsEnv[0].keyToEnv[1].envVr: unknown field "envVr"`},
		{"wrong type", `{tolerations: [{key: k, tolerationSeconds: soon}]}`,
			`platforms.kubernetes.deploymentSpec.executors.exec-a.tolerations[0].tolerationSeconds: expected an integer, got "soon"`},
		{"int32 range", `{nodeAffinity: [{weight: 3000000000, matchExpressions: [{key: a, operator: In, values: [b]}]}]}`,
			`nodeAffinity[0].weight: integer 3000000000 out of range`},
		{"no name", `{secretAsVolume: [{mountPath: /m}]}`,
			`exec-a.secretAsVolume[0].secretNameParameter: required: no name given`},
		{"no mount path", `{configMapAsVolume: [{configMapName: c}]}`,
			`exec-a.configMapAsVolume[0].mountPath: required`},
		{"bad pull policy", `{imagePullPolicy: Sometimes}`, `exec-a.imagePullPolicy: "Sometimes" is not one of`},
		{"component input missing in sub-DAG", `{secretAsVolume: [{mountPath: /m, secretNameParameter: {componentInputParameter: secret}}]}`,
			`exec-a.secretAsVolume[0].secretNameParameter.componentInputParameter: task components.comp-sub.dag.tasks.inner: the DAG holding it has no input parameter "secret"`},
		{"producer missing in sub-DAG", `{pvcMount: [{mountPath: /m, pvcNameParameter: {taskOutputParameter: {producerTask: p, outputParameterKey: name}}}]}`,
			`exec-a.pvcMount[0].pvcNameParameter.taskOutputParameter: task components.comp-sub.dag.tasks.inner: no task "p" in this DAG`},
		{"deprecated pvc task output key", `{pvcMount: [{mountPath: /m, taskOutputParameter: {producerTask: p, outputParameterKey: nom}}]}`,
			`exec-a.pvcMount[0].pvcNameParameter.taskOutputParameter: task root.dag.tasks.a: task "p" has no output parameter "nom"`},
		{"name is a struct", `{imagePullSecret: [{secretNameParameter: {runtimeValue: {constant: {a: 1}}}}]}`,
			`exec-a.imagePullSecret[0].secretNameParameter.runtimeValue.constant: expected a name, got a mapping`},
		{"json is a number", `{nodeSelector: {nodeSelectorJson: {runtimeValue: {constant: 3}}}}`,
			`exec-a.nodeSelector.nodeSelectorJson.runtimeValue.constant: expected a JSON object or list, got a number`},
		{"init container restart", `{initContainers: [{name: i, image: busybox, restartPolicy: OnFailure}]}`,
			`exec-a.initContainers[0].restartPolicy: only Always`},
		{"relative init mount", `{initContainers: [{name: i, image: busybox, volumeMounts: [{volumeName: v, mountPath: data}]}]}`,
			`exec-a.initContainers[0].volumeMounts[0].mountPath: must be an absolute path`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := Parse("p.yaml", []byte(platformBase+"          "+tc.config+"\n"))
			switch {
			case tc.want == "" && err != nil:
				t.Fatalf("unexpected error: %v", err)
			case tc.want != "" && (err == nil || !strings.Contains(err.Error(), tc.want)):
				t.Fatalf("got %v\nwant %q", err, tc.want)
			}
		})
	}
}

func TestPlatformSpecLabelsAndPipelineConfig(t *testing.T) {
	doc := strings.TrimSuffix(platformBase, "        exec-a:\n")
	for _, tc := range []struct{ name, tail, want string }{
		{"unknown executor", "        exec-zz: {imagePullPolicy: Always}\n", `platforms.kubernetes.deploymentSpec.executors.exec-zz: no executor "exec-zz"`},
		{"importer executor", "        exec-i: {imagePullPolicy: Always}\n", `exec-i: executor "exec-i" is not a container`},
		{"no workspace size", "    pipelineConfig: {workspace: {kubernetes: {pvcSpecPatch: {accessModes: [ReadWriteOnce]}}}}\n", `platforms.kubernetes.pipelineConfig.workspace.size: required`},
		{"negative ttl", "    pipelineConfig: {resourceTtlOnSuccess: -1}\n", `pipelineConfig.resourceTtlOnSuccess: must not be negative`},
		{"unknown pipelineConfig field", "    pipelineConfig: {ttl: 1}\n", `platforms.kubernetes.pipelineConfig.ttl: unknown field "ttl"`},
		{"unknown platform", "  google_cloud: {}\n", `platforms.google_cloud: unknown platform "google_cloud"`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			text := doc + tc.tail
			if strings.HasPrefix(tc.tail, "    pipelineConfig") || strings.HasPrefix(tc.tail, "  google") {
				text = strings.TrimSuffix(doc, "    deploymentSpec:\n      executors:\n") + tc.tail
			}
			_, err := Parse("p.yaml", []byte(text))
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("got %v\nwant %q", err, tc.want)
			}
		})
	}
}
