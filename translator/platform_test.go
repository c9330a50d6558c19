package translator

import (
	"encoding/json"
	"reflect"
	"strings"
	"testing"

	wfv1 "github.com/argoproj/argo-workflows/v3/pkg/apis/workflow/v1alpha1"
	argotemplate "github.com/argoproj/argo-workflows/v3/util/template"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/util/strategicpatch"
	"sigs.k8s.io/yaml"

	"github.com/kfpargo/kfpargo/artifact"
	"github.com/kfpargo/kfpargo/ir"
	"github.com/kfpargo/kfpargo/step"
)

// platformSpec runs exec-a (task a, after task p which outputs a name) in
// the root DAG. Root inputs: opt (optional STRING, no default), optjson
// (optional STRUCT), given (STRING with a default).
const platformSpec = `
pipelineInfo: {name: plat}
schemaVersion: 2.1.0
deploymentSpec:
  executors:
    exec-a: {container: {image: busybox, command: [sh, -c, 'echo {{$.workspace_path}}']}}
    exec-p: {container: {image: busybox, command: [echo]}}
components:
  comp-a: {executorLabel: exec-a}
  comp-p:
    executorLabel: exec-p
    outputDefinitions: {parameters: {name: {parameterType: STRING}}}
root:
  inputDefinitions:
    parameters:
      opt: {parameterType: STRING, isOptional: true}
      optjson: {parameterType: STRUCT, isOptional: true}
      given: {parameterType: STRING, defaultValue: cm}
  dag:
    tasks:
      p: {componentRef: {name: comp-p}}
      a: {componentRef: {name: comp-a}, dependentTasks: [p]}
---
platforms:
  kubernetes:
`

func translatePlatform(t *testing.T, executor, pipelineConfig string) (*wfv1.Workflow, error) {
	t.Helper()
	doc := platformSpec
	if pipelineConfig == "" {
		doc = strings.Replace(doc, "{{$.workspace_path}}", "/tmp", 1)
	} else {
		doc += "    pipelineConfig: " + pipelineConfig + "\n"
	}
	if executor != "" {
		doc += "    deploymentSpec: {executors: {exec-a: " + executor + "}}\n"
	}
	p, err := ir.Parse("plat.yaml", []byte(doc))
	if err != nil {
		t.Fatalf("parse: %v\n%s", err, doc)
	}
	return Translate(p, Options{})
}

func templateNamed(wf *wfv1.Workflow, name string) *wfv1.Template {
	for i := range wf.Spec.Templates {
		if wf.Spec.Templates[i].Name == name {
			return &wf.Spec.Templates[i]
		}
	}
	return nil
}

func taskArg(wf *wfv1.Workflow, task, param string) string {
	for _, tmpl := range wf.Spec.Templates {
		if tmpl.DAG == nil {
			continue
		}
		for _, dt := range tmpl.DAG.Tasks {
			if dt.Name != task {
				continue
			}
			for _, p := range dt.Arguments.Parameters {
				if p.Name == param {
					return p.Value.String()
				}
			}
		}
	}
	return "<unbound>"
}

func jsonOf(v any) string {
	b, _ := json.Marshal(v)
	return string(b)
}

// TestPlatformFields checks each executor-config field's translation in
// the template (and, for run-time values, the task's binding).
func TestPlatformFields(t *testing.T) {
	for _, tc := range []struct {
		name, config string
		check        func(t *testing.T, wf *wfv1.Workflow, a *wfv1.Template)
	}{
		{"secretAsEnv constant", `{secretAsEnv: [{secretNameParameter: {runtimeValue: {constant: s1}}, keyToEnv: [{secretKey: k, envVar: V}], optional: false}]}`,
			func(t *testing.T, _ *wfv1.Workflow, a *wfv1.Template) {
				want := `{"name":"V","valueFrom":{"secretKeyRef":{"name":"s1","key":"k","optional":false}}}`
				if got := jsonOf(a.Container.Env[len(a.Container.Env)-1]); got != want {
					t.Errorf("env %s, want %s", got, want)
				}
			}},
		{"secretAsEnv from pipeline input with default", `{secretAsEnv: [{secretNameParameter: {componentInputParameter: given}, keyToEnv: [{secretKey: k, envVar: V}]}]}`,
			func(t *testing.T, wf *wfv1.Workflow, a *wfv1.Template) {
				want := `{"name":"V","valueFrom":{"secretKeyRef":{"name":"{{inputs.parameters.k8s-secret-env-0}}","key":"k"}}}`
				if got := jsonOf(a.Container.Env[len(a.Container.Env)-1]); got != want {
					t.Errorf("env %s, want %s", got, want)
				}
				if got := taskArg(wf, "a", "k8s-secret-env-0"); got != "{{inputs.parameters.given}}" {
					t.Errorf("binding %s", got)
				}
				if a.PodSpecPatch != "" {
					t.Errorf("a name that is always set needs no patch: %s", a.PodSpecPatch)
				}
			}},
		{"secretAsVolume from upstream output", `{secretAsVolume: [{mountPath: /s, secretNameParameter: {taskOutputParameter: {producerTask: p, outputParameterKey: name}}}]}`,
			func(t *testing.T, wf *wfv1.Workflow, a *wfv1.Template) {
				if got, want := jsonOf(a.Volumes[len(a.Volumes)-1]), `{"name":"k8s-secret-volume-0","secret":{"secretName":"{{inputs.parameters.k8s-secret-volume-0}}","optional":false}}`; got != want {
					t.Errorf("volume %s, want %s", got, want)
				}
				if got := taskArg(wf, "a", "k8s-secret-volume-0"); got != "{{tasks.p.outputs.parameters.name}}" {
					t.Errorf("binding %s", got)
				}
			}},
		{"deprecated secretName as volume named after it", `{secretAsVolume: [{secretName: creds, mountPath: /s, optional: true}]}`,
			func(t *testing.T, _ *wfv1.Workflow, a *wfv1.Template) {
				if got, want := jsonOf(a.Volumes[len(a.Volumes)-1]), `{"name":"creds","secret":{"secretName":"creds","optional":true}}`; got != want {
					t.Errorf("volume %s, want %s", got, want)
				}
				if got, want := jsonOf(a.Container.VolumeMounts[len(a.Container.VolumeMounts)-1]), `{"name":"creds","mountPath":"/s"}`; got != want {
					t.Errorf("mount %s, want %s", got, want)
				}
			}},
		{"configMapAsEnv and volume", `{configMapAsEnv: [{configMapName: cm, keyToEnv: [{configMapKey: k, envVar: V}]}], configMapAsVolume: [{configMapNameParameter: {runtimeValue: {constant: cm}}, mountPath: /c}]}`,
			func(t *testing.T, _ *wfv1.Workflow, a *wfv1.Template) {
				if got, want := jsonOf(a.Container.Env[len(a.Container.Env)-1]), `{"name":"V","valueFrom":{"configMapKeyRef":{"name":"cm","key":"k"}}}`; got != want {
					t.Errorf("env %s, want %s", got, want)
				}
				if got, want := jsonOf(a.Volumes[len(a.Volumes)-1]), `{"name":"cm","configMap":{"name":"cm","optional":false}}`; got != want {
					t.Errorf("volume %s, want %s", got, want)
				}
			}},
		{"pvcMount with subPath, deprecated constant", `{pvcMount: [{constant: data, mountPath: /d, subPath: x/y}]}`,
			func(t *testing.T, _ *wfv1.Workflow, a *wfv1.Template) {
				if got, want := jsonOf(a.Volumes[len(a.Volumes)-1]), `{"name":"data","persistentVolumeClaim":{"claimName":"data"}}`; got != want {
					t.Errorf("volume %s, want %s", got, want)
				}
				if got, want := jsonOf(a.Container.VolumeMounts[len(a.Container.VolumeMounts)-1]), `{"name":"data","mountPath":"/d","subPath":"x/y"}`; got != want {
					t.Errorf("mount %s, want %s", got, want)
				}
			}},
		{"nodeSelector labels", `{nodeSelector: {labels: {disk: ssd}}}`,
			func(t *testing.T, _ *wfv1.Workflow, a *wfv1.Template) {
				if !reflect.DeepEqual(a.NodeSelector, map[string]string{"disk": "ssd"}) {
					t.Errorf("nodeSelector %v", a.NodeSelector)
				}
			}},
		{"nodeSelectorJson constant wins over labels", `{nodeSelector: {labels: {a: b}, nodeSelectorJson: {runtimeValue: {constant: {zone: z1}}}}}`,
			func(t *testing.T, _ *wfv1.Workflow, a *wfv1.Template) {
				if !reflect.DeepEqual(a.NodeSelector, map[string]string{"zone": "z1"}) {
					t.Errorf("nodeSelector %v", a.NodeSelector)
				}
			}},
		{"tolerations static and json constant list", `{tolerations: [{key: k, operator: Equal, value: v, effect: NoSchedule, tolerationSeconds: 30}, {tolerationJson: {runtimeValue: {constant: [{key: gpu, operator: Exists}]}}}]}`,
			func(t *testing.T, _ *wfv1.Workflow, a *wfv1.Template) {
				want := `[{"key":"k","operator":"Equal","value":"v","effect":"NoSchedule","tolerationSeconds":30},{"key":"gpu","operator":"Exists"}]`
				if got := jsonOf(a.Tolerations); got != want {
					t.Errorf("tolerations %s, want %s", got, want)
				}
			}},
		{"nodeAffinity required and preferred", `{nodeAffinity: [{matchExpressions: [{key: zone, operator: In, values: [a]}]}, {matchFields: [{key: metadata.name, operator: NotIn, values: [n1]}], weight: 5}, {}]}`,
			func(t *testing.T, _ *wfv1.Workflow, a *wfv1.Template) {
				want := `{"requiredDuringSchedulingIgnoredDuringExecution":{"nodeSelectorTerms":[{"matchExpressions":[{"key":"zone","operator":"In","values":["a"]}]}]},"preferredDuringSchedulingIgnoredDuringExecution":[{"weight":5,"preference":{"matchFields":[{"key":"metadata.name","operator":"NotIn","values":["n1"]}]}}]}`
				if a.Affinity == nil || jsonOf(a.Affinity.NodeAffinity) != want {
					t.Errorf("affinity %s, want %s", jsonOf(a.Affinity), want)
				}
			}},
		{"podAffinity and anti-affinity", `{podAffinity: [{matchPodLabels: {app: db}, topologyKey: zone}, {matchPodExpressions: [{key: app, operator: In, values: [web]}], topologyKey: host, weight: 10, anti: true, namespaces: [ns1], matchNamespaceLabels: {team: x}}]}`,
			func(t *testing.T, _ *wfv1.Workflow, a *wfv1.Template) {
				want := `{"podAffinity":{"requiredDuringSchedulingIgnoredDuringExecution":[{"labelSelector":{"matchLabels":{"app":"db"}},"topologyKey":"zone"}]},"podAntiAffinity":{"preferredDuringSchedulingIgnoredDuringExecution":[{"weight":10,"podAffinityTerm":{"labelSelector":{"matchExpressions":[{"key":"app","operator":"In","values":["web"]}]},"namespaces":["ns1"],"topologyKey":"host","namespaceSelector":{"matchLabels":{"team":"x"}}}}]}}`
				if got := jsonOf(a.Affinity); got != want {
					t.Errorf("affinity %s, want %s", got, want)
				}
			}},
		{"podMetadata", `{podMetadata: {labels: {l: "1"}, annotations: {an: x}}}`,
			func(t *testing.T, _ *wfv1.Workflow, a *wfv1.Template) {
				if a.Metadata.Labels["l"] != "1" || a.Metadata.Labels[LabelComponent] != "a" || a.Metadata.Annotations["an"] != "x" {
					t.Errorf("metadata %+v", a.Metadata)
				}
			}},
		{"fieldPathAsEnv", `{fieldPathAsEnv: [{name: POD, fieldPath: metadata.name}]}`,
			func(t *testing.T, _ *wfv1.Workflow, a *wfv1.Template) {
				if got, want := jsonOf(a.Container.Env[len(a.Container.Env)-1]), `{"name":"POD","valueFrom":{"fieldRef":{"fieldPath":"metadata.name"}}}`; got != want {
					t.Errorf("env %s, want %s", got, want)
				}
			}},
		{"imagePullSecret constant is workflow-level", `{imagePullSecret: [{secretName: reg}, {secretNameParameter: {runtimeValue: {constant: reg2}}}]}`,
			func(t *testing.T, wf *wfv1.Workflow, a *wfv1.Template) {
				if got, want := jsonOf(wf.Spec.ImagePullSecrets), `[{"name":"reg"},{"name":"reg2"}]`; got != want {
					t.Errorf("imagePullSecrets %s, want %s", got, want)
				}
			}},
		{"imagePullPolicy, deadline, security context", `{imagePullPolicy: Always, activeDeadlineSeconds: 60, securityContext: {runAsUser: 1000, runAsNonRoot: true}}`,
			func(t *testing.T, _ *wfv1.Workflow, a *wfv1.Template) {
				if a.Container.ImagePullPolicy != corev1.PullAlways || a.ActiveDeadlineSeconds == nil || a.ActiveDeadlineSeconds.IntValue() != 60 {
					t.Errorf("policy %q deadline %v", a.Container.ImagePullPolicy, a.ActiveDeadlineSeconds)
				}
				if got, want := jsonOf(a.Container.SecurityContext), `{"capabilities":{"drop":["ALL"]},"runAsUser":1000,"runAsNonRoot":true}`; got != want {
					t.Errorf("securityContext %s, want %s", got, want)
				}
			}},
		{"ephemeral volume, shared memory, emptyDir", `{genericEphemeralVolume: [{volumeName: scratch, mountPath: /x, accessModes: [ReadWriteOnce], size: 1Gi, storageClassName: fast, metadata: {labels: {a: b}}}], enabledSharedMemory: {size: 1Gi}, emptyDirMounts: [{volumeName: tmp, mountPath: /t, medium: Memory, sizeLimit: 10Mi}]}`,
			func(t *testing.T, _ *wfv1.Workflow, a *wfv1.Template) {
				got := jsonOf(a.Volumes[1+len(artifact.LocalRoots):])
				want := `[{"name":"scratch","ephemeral":{"volumeClaimTemplate":{"metadata":{"creationTimestamp":null,"labels":{"a":"b"}},"spec":{"accessModes":["ReadWriteOnce"],"resources":{"requests":{"storage":"1Gi"}},"storageClassName":"fast"}}}},` +
					`{"name":"shm","emptyDir":{"medium":"Memory","sizeLimit":"1Gi"}},{"name":"tmp","emptyDir":{"medium":"Memory","sizeLimit":"10Mi"}}]`
				if got != want {
					t.Errorf("volumes %s\nwant %s", got, want)
				}
				if got, want := jsonOf(a.Container.VolumeMounts[1+len(artifact.LocalRoots):]), `[{"name":"scratch","mountPath":"/x"},{"name":"shm","mountPath":"/dev/shm"},{"name":"tmp","mountPath":"/t"}]`; got != want {
					t.Errorf("mounts %s, want %s", got, want)
				}
			}},
		{"initContainers after the launcher's", `{emptyDirMounts: [{volumeName: tmp, mountPath: /t}], initContainers: [{name: prep, image: busybox, command: [sh], args: [-c, x], env: [{name: A, value: b}], volumeMounts: [{volumeName: tmp, mountPath: /t}], restartPolicy: Always, resources: {limits: {cpu: 100m}}}]}`,
			func(t *testing.T, _ *wfv1.Workflow, a *wfv1.Template) {
				if len(a.InitContainers) != 2 || a.InitContainers[0].Name != step.InitContainerName {
					t.Fatalf("init containers %s", jsonOf(a.InitContainers))
				}
				want := `{"name":"prep","image":"busybox","command":["sh"],"args":["-c","x"],"env":[{"name":"A","value":"b"}],"resources":{"limits":{"cpu":"100m"}},"restartPolicy":"Always","volumeMounts":[{"name":"tmp","mountPath":"/t"}]}`
				if got := jsonOf(a.InitContainers[1]); got != want {
					t.Errorf("init container %s\nwant %s", got, want)
				}
			}},
		{"dynamic pull secret and tolerations go to podSpecPatch", `{imagePullSecret: [{secretNameParameter: {componentInputParameter: opt}}], tolerations: [{key: k, operator: Exists}, {tolerationJson: {componentInputParameter: optjson}}]}`,
			func(t *testing.T, wf *wfv1.Workflow, a *wfv1.Template) {
				if a.Tolerations != nil || !strings.Contains(a.PodSpecPatch, `"tolerations":{{=toJson((concat([{"key": "k", "operator": "Exists" }]`) {
					t.Errorf("tolerations %v, patch %s", a.Tolerations, a.PodSpecPatch)
				}
				if taskArg(wf, "a", "k8s-toleration-1") != "{{inputs.parameters.optjson}}" {
					t.Errorf("binding %s", taskArg(wf, "a", "k8s-toleration-1"))
				}
			}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			wf, err := translatePlatform(t, tc.config, "")
			if err != nil {
				t.Fatal(err)
			}
			argoValidate(t, wf)
			a := templateNamed(wf, "a")
			if a == nil {
				t.Fatal("no template a")
			}
			tc.check(t, wf, a)
		})
	}
}

func TestPlatformErrors(t *testing.T) {
	for _, tc := range []struct{ name, config, pipelineConfig, want string }{
		{"bad size", `{enabledSharedMemory: {size: lots}}`, "", `platforms.kubernetes.deploymentSpec.executors.exec-a.enabledSharedMemory.size: invalid quantity "lots"`},
		{"bad toleration json", `{tolerations: [{tolerationJson: {runtimeValue: {constant: {key: k, colour: red}}}}]}`, "", `exec-a.tolerations[0].tolerationJson.runtimeValue.constant: not a valid`},
		{"reserved label", `{podMetadata: {labels: {kfpargo.io/cache: x}}}`, "", `podMetadata.labels.kfpargo.io/cache: labels under kfpargo.io/ are kfpargo's own`},
		{"init mount of unknown volume", `{initContainers: [{name: i, image: busybox, volumeMounts: [{volumeName: nope, mountPath: /n}]}]}`, "", `initContainers[0].volumeMounts[0].volumeName: no volume "nope"`},
		{"init container name taken", `{initContainers: [{name: kfpargo-launcher, image: busybox}]}`, "", `initContainers[0].name: init container name "kfpargo-launcher" is taken`},
		{"duplicate volume", `{emptyDirMounts: [{volumeName: kfpargo, mountPath: /t}]}`, "", `emptyDirMounts[0].volumeName: volume name "kfpargo" is already used`},
		{"root with non-root", `{securityContext: {runAsUser: 0, runAsNonRoot: true}}`, "", `securityContext.runAsUser: runAsUser 0 (root) contradicts`},
		{"workspace without access modes", "", `{workspace: {size: 1Gi}}`, `pipelineConfig.workspace.kubernetes.pvcSpecPatch.accessModes: required`},
		{"workspace with bad patch", "", `{workspace: {size: 1Gi, kubernetes: {pvcSpecPatch: {accessModes: [ReadWriteOnce], colour: red}}}}`, `pipelineConfig.workspace.kubernetes.pvcSpecPatch: not a PersistentVolumeClaim spec`},
		{"workspace with bad size", "", `{workspace: {size: big, kubernetes: {pvcSpecPatch: {accessModes: [ReadWriteOnce]}}}}`, `pipelineConfig.workspace.size: invalid size "big"`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := translatePlatform(t, tc.config, tc.pipelineConfig)
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("got %v\nwant %q", err, tc.want)
			}
		})
	}
	// The workspace placeholder needs a workspace.
	doc := platformSpec + "    deploymentSpec: {executors: {exec-p: {imagePullPolicy: Never}}}\n"
	p, err := ir.Parse("plat.yaml", []byte(doc))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := Translate(p, Options{}); err == nil || !strings.Contains(err.Error(), "components.comp-a: the component uses {{$.workspace_path}} but the pipeline has no workspace") {
		t.Fatalf("got %v", err)
	}
}

func TestPipelineConfig(t *testing.T) {
	wf, err := translatePlatform(t, "", `{resourceTtlOnCompletion: 100, resourceTtlOnFailure: 7, activeDeadlineSeconds: 3600, workspace: {size: 2Gi, kubernetes: {pvcSpecPatch: {accessModes: [ReadWriteMany], storageClassName: nfs}}}}`)
	if err != nil {
		t.Fatal(err)
	}
	argoValidate(t, wf)
	if got, want := jsonOf(wf.Spec.TTLStrategy), `{"secondsAfterCompletion":100,"secondsAfterFailure":7}`; got != want {
		t.Errorf("ttl %s, want %s", got, want)
	}
	if wf.Spec.ActiveDeadlineSeconds == nil || *wf.Spec.ActiveDeadlineSeconds != 3600 {
		t.Errorf("deadline %v", wf.Spec.ActiveDeadlineSeconds)
	}
	if got, want := jsonOf(wf.Spec.VolumeClaimTemplates), `[{"metadata":{"name":"kfp-workspace","creationTimestamp":null},"spec":{"accessModes":["ReadWriteMany"],"resources":{"requests":{"storage":"2Gi"}},"storageClassName":"nfs"},"status":{}}]`; got != want {
		t.Errorf("claim %s\nwant %s", got, want)
	}
	for _, name := range []string{"a", "p"} {
		c := templateNamed(wf, name).Container
		if got := jsonOf(c.VolumeMounts[len(c.VolumeMounts)-1]); got != `{"name":"kfp-workspace","mountPath":"/kfp-workspace"}` {
			t.Errorf("%s: mount %s", name, got)
		}
		args := strings.Join(c.Args, " ")
		if !strings.Contains(args, "--workspace /kfp-workspace -- ") {
			t.Errorf("%s: no --workspace flag before --: %s", name, args)
		}
		if name == "a" && !strings.Contains(args, "echo /kfp-workspace") {
			t.Errorf("placeholder not resolved: %s", args)
		}
	}
}

// renderPod does what Argo's controller does to a step: substitute the
// template's inputs (and pod.name) into it, then apply its podSpecPatch to
// the pod spec made from it.
func renderPod(t *testing.T, tmpl *wfv1.Template, inputs map[string]string) corev1.PodSpec {
	t.Helper()
	raw, err := json.Marshal(tmpl)
	if err != nil {
		t.Fatal(err)
	}
	vars := map[string]string{"pod.name": "run-1-a-123", "workflow.name": "run-1", "workflow.uid": "u-1", "workflow.namespace": "ns"}
	for k, v := range inputs {
		vars["inputs.parameters."+k] = v
	}
	for _, p := range tmpl.Inputs.Parameters {
		if _, ok := inputs[p.Name]; !ok && p.Default != nil {
			vars["inputs.parameters."+p.Name] = p.Default.String()
		}
	}
	out, err := argotemplate.Replace(string(raw), vars, true) // as the controller does: KFP placeholders stay for the launcher
	if err != nil {
		t.Fatalf("Argo substitution: %v", err)
	}
	var resolved wfv1.Template
	if err := json.Unmarshal([]byte(out), &resolved); err != nil {
		t.Fatal(err)
	}
	main := *resolved.Container
	main.Name = "main"
	pod := corev1.PodSpec{Containers: []corev1.Container{main}, Volumes: resolved.Volumes, Tolerations: resolved.Tolerations, NodeSelector: resolved.NodeSelector, Affinity: resolved.Affinity}
	if resolved.PodSpecPatch == "" {
		return pod
	}
	// As Argo's util.ApplyPodSpecPatch (not imported: it drags in the
	// Argo server's dependencies): YAML to JSON, check it is a PodSpec,
	// strategic merge.
	patch, err := yaml.YAMLToJSON([]byte(resolved.PodSpecPatch))
	if err == nil {
		err = json.Unmarshal(patch, &corev1.PodSpec{})
	}
	if err != nil {
		t.Fatalf("podSpecPatch %s: %v", resolved.PodSpecPatch, err)
	}
	base, _ := json.Marshal(pod)
	merged, err := strategicpatch.StrategicMergePatch(base, patch, corev1.PodSpec{})
	if err != nil {
		t.Fatalf("podSpecPatch %s: %v", resolved.PodSpecPatch, err)
	}
	var result corev1.PodSpec
	if err := json.Unmarshal(merged, &result); err != nil {
		t.Fatal(err)
	}
	return result
}

// TestPlatformRuntimeValues runs Argo's own substitution and patching on
// the corpus spec whose Kubernetes settings all come from optional
// pipeline inputs: left unset, nothing is added; set, everything is.
func TestPlatformRuntimeValues(t *testing.T) {
	path := corpusDir + "/valid/critical/missing_kubernetes_optional_inputs.yaml"
	wf, err := Translate(load(t, path), Options{})
	if err != nil {
		t.Fatal(err)
	}
	tmpl := templateNamed(wf, "log-message")
	absent := map[string]string{}
	for _, p := range tmpl.Inputs.Parameters {
		absent[p.Name] = step.AbsentValue
	}
	pod := renderPod(t, tmpl, absent)
	own := 1 + len(artifact.LocalRoots) // kfpargo's emptyDirs
	if len(pod.Containers[0].Env) != 0 || len(pod.Volumes) != own || len(pod.Containers[0].VolumeMounts) != own ||
		len(pod.Tolerations)+len(pod.NodeSelector)+len(pod.ImagePullSecrets) != 0 || pod.Affinity != nil && pod.Affinity.NodeAffinity != nil {
		t.Errorf("unset optional inputs added settings: %s", jsonOf(pod))
	}

	set := map[string]string{
		"k8s-secret-env-0": "sec", "k8s-secret-volume-0": "sec", "k8s-configmap-env-0": "cm", "k8s-configmap-volume-0": "cm",
		"k8s-pull-secret-0": "reg", "k8s-node-selector": `{"disk":"ssd"}`, "k8s-toleration-0": `{"key":"gpu","operator":"Exists"}`,
		"k8s-node-affinity-0": `{"requiredDuringSchedulingIgnoredDuringExecution":{"nodeSelectorTerms":[{"matchExpressions":[{"key":"z","operator":"In","values":["a"]}]}]}}`,
		"message":             "hi", "kfpargo-task": "log-message",
	}
	pod = renderPod(t, tmpl, set)
	// Patched entries come first; kfpargo's own stay.
	if len(pod.Containers[0].Env) != 2 || len(pod.Volumes) != own+2 || len(pod.Containers[0].VolumeMounts) != own+2 {
		t.Errorf("set optional inputs: %s", jsonOf(pod))
	}
	for _, check := range []struct{ got, want string }{
		{jsonOf(pod.Containers[0].Env[:2]), `[{"name":"PASSWORD","valueFrom":{"secretKeyRef":{"name":"sec","key":"password","optional":true}}},{"name":"SETTING","valueFrom":{"configMapKeyRef":{"name":"cm","key":"setting","optional":true}}}]`},
		{jsonOf(pod.Volumes[:2]), `[{"name":"k8s-secret-volume-0","secret":{"secretName":"sec","optional":true}},{"name":"k8s-configmap-volume-0","configMap":{"name":"cm","optional":true}}]`},
		{jsonOf(pod.Containers[0].VolumeMounts[:2]), `[{"name":"k8s-secret-volume-0","mountPath":"/mnt/secret"},{"name":"k8s-configmap-volume-0","mountPath":"/mnt/config"}]`},
		{jsonOf(pod.ImagePullSecrets), `[{"name":"reg"}]`},
		{jsonOf(pod.NodeSelector), `{"disk":"ssd"}`},
		{jsonOf(pod.Tolerations), `[{"key":"gpu","operator":"Exists"}]`},
		{jsonOf(pod.Affinity), `{"nodeAffinity":{"requiredDuringSchedulingIgnoredDuringExecution":{"nodeSelectorTerms":[{"matchExpressions":[{"key":"z","operator":"In","values":["a"]}]}]}}}`},
	} {
		if check.got != check.want {
			t.Errorf("got  %s\nwant %s", check.got, check.want)
		}
	}
	// A list of tolerations is taken as it is.
	set["k8s-toleration-0"] = `[{"key":"a","operator":"Exists"},{"key":"b","operator":"Exists"}]`
	if got := jsonOf(renderPod(t, tmpl, set).Tolerations); got != `[{"key":"a","operator":"Exists"},{"key":"b","operator":"Exists"}]` {
		t.Errorf("toleration list: %s", got)
	}
}
