package ir

import (
	"fmt"
	"sort"
	"strings"
)

// TaskUse is one task that runs a component, with the DAG it sits in.
type TaskUse struct {
	At    string         // path of the task, e.g. root.dag.tasks.train
	Owner *ComponentSpec // the DAG component holding the task
	DAG   *DAGSpec
	Name  string
	Task  *TaskSpec
}

// ExecutorUses maps each executor label to the tasks that run it, in path
// order.
func ExecutorUses(s *PipelineSpec) map[string][]TaskUse {
	out := map[string][]TaskUse{}
	visit := func(at string, owner *ComponentSpec) {
		if owner == nil || owner.DAG == nil {
			return
		}
		for _, tn := range sortedKeys(owner.DAG.Tasks) {
			task := owner.DAG.Tasks[tn]
			if task == nil {
				continue
			}
			comp := s.Components[task.ComponentRef.Name]
			if comp == nil || comp.ExecutorLabel == "" {
				continue
			}
			out[comp.ExecutorLabel] = append(out[comp.ExecutorLabel], TaskUse{
				At: string(path(at).field("dag.tasks").key(tn)), Owner: owner, DAG: owner.DAG, Name: tn, Task: task,
			})
		}
	}
	visit("root", s.Root)
	for _, name := range sortedKeys(s.Components) {
		visit(string(path("components").key(name)), s.Components[name])
	}
	return out
}

func (v *validator) platform(p *PlatformSpec) {
	if p == nil {
		return
	}
	for _, name := range sortedKeys(p.Platforms) {
		at := path("platforms").key(name)
		if name != PlatformKubernetes {
			v.fail(at, "unknown platform %q: only %q is supported", name, PlatformKubernetes)
			continue
		}
		k := p.Platforms[name]
		if k == nil {
			continue
		}
		if k.PipelineConfig != nil {
			v.pipelineConfig(at.field("pipelineConfig"), k.PipelineConfig)
		}
		if k.DeploymentSpec == nil {
			continue
		}
		uses := ExecutorUses(v.p)
		for _, label := range sortedKeys(k.DeploymentSpec.Executors) {
			eat := at.field("deploymentSpec.executors").key(label)
			exec, ok := v.p.DeploymentSpec.Executors[label]
			switch {
			case !ok:
				v.fail(eat, "no executor %q in deploymentSpec.executors", label)
				continue
			case exec != nil && exec.Container == nil:
				v.fail(eat, "executor %q is not a container: only container executors run a pod to configure", label)
				continue
			}
			if c := k.DeploymentSpec.Executors[label]; c != nil {
				v.executorConfig(eat, c, uses[label])
			}
		}
	}
}

func (v *validator) pipelineConfig(at path, c *PipelineConfig) {
	for _, f := range []struct {
		name  string
		value int32
	}{
		{"resourceTtlOnCompletion", c.ResourceTTLOnCompletion},
		{"resourceTtlOnSuccess", c.ResourceTTLOnSuccess},
		{"resourceTtlOnFailure", c.ResourceTTLOnFailure},
		{"activeDeadlineSeconds", c.ActiveDeadlineSeconds},
	} {
		if f.value < 0 {
			v.fail(at.field(f.name), "must not be negative, got %d", f.value)
		}
	}
	if w := c.Workspace; w != nil && strings.TrimSpace(w.Size) == "" {
		v.fail(at.field("workspace.size"), "required: the workspace has no size")
	}
}

func (v *validator) executorConfig(at path, c *KubernetesExecutorConfig, uses []TaskUse) {
	required := func(field path, value, what string) {
		if strings.TrimSpace(value) == "" {
			v.fail(field, "required: %s", what)
		}
	}
	for i, s := range c.SecretAsVolume {
		required(at.field("secretAsVolume").index(i).field("mountPath"), s.MountPath, "where to mount the Secret")
	}
	for i, s := range c.SecretAsEnv {
		for j, k := range s.KeyToEnv {
			kat := at.field("secretAsEnv").index(i).field("keyToEnv").index(j)
			required(kat.field("secretKey"), k.SecretKey, "the Secret key")
			required(kat.field("envVar"), k.EnvVar, "the variable name")
		}
	}
	for i, m := range c.PvcMount {
		required(at.field("pvcMount").index(i).field("mountPath"), m.MountPath, "where to mount the PVC")
	}
	for i, s := range c.ConfigMapAsVolume {
		required(at.field("configMapAsVolume").index(i).field("mountPath"), s.MountPath, "where to mount the ConfigMap")
	}
	for i, s := range c.ConfigMapAsEnv {
		for j, k := range s.KeyToEnv {
			kat := at.field("configMapAsEnv").index(i).field("keyToEnv").index(j)
			required(kat.field("configMapKey"), k.ConfigMapKey, "the ConfigMap key")
			required(kat.field("envVar"), k.EnvVar, "the variable name")
		}
	}
	switch c.ImagePullPolicy {
	case "", "Always", "Never", "IfNotPresent":
	default:
		v.fail(at.field("imagePullPolicy"), "%q is not one of Always, Never, IfNotPresent", c.ImagePullPolicy)
	}
	if c.ActiveDeadlineSeconds < 0 {
		v.fail(at.field("activeDeadlineSeconds"), "must not be negative, got %d", c.ActiveDeadlineSeconds)
	}
	for i, f := range c.FieldPathAsEnv {
		required(at.field("fieldPathAsEnv").index(i).field("name"), f.Name, "the variable name")
		required(at.field("fieldPathAsEnv").index(i).field("fieldPath"), f.FieldPath, "the pod field")
	}
	for i, t := range c.Tolerations {
		tat := at.field("tolerations").index(i)
		if t.TolerationJSON != nil {
			continue
		}
		switch t.Operator {
		case "", "Exists", "Equal":
		default:
			v.fail(tat.field("operator"), "%q is not one of Exists, Equal", t.Operator)
		}
		switch t.Effect {
		case "", "NoSchedule", "PreferNoSchedule", "NoExecute":
		default:
			v.fail(tat.field("effect"), "%q is not one of NoSchedule, PreferNoSchedule, NoExecute", t.Effect)
		}
	}
	for i, a := range c.PodAffinity {
		required(at.field("podAffinity").index(i).field("topologyKey"), a.TopologyKey, "the topology key")
	}
	for i, e := range c.GenericEphemeralVolume {
		eat := at.field("genericEphemeralVolume").index(i)
		required(eat.field("volumeName"), e.VolumeName, "the volume name")
		required(eat.field("mountPath"), e.MountPath, "where to mount the volume")
		required(eat.field("size"), e.Size, "the volume size")
	}
	for i, e := range c.EmptyDirMounts {
		eat := at.field("emptyDirMounts").index(i)
		required(eat.field("volumeName"), e.VolumeName, "the volume name")
		required(eat.field("mountPath"), e.MountPath, "where to mount the volume")
	}
	for i, ic := range c.InitContainers {
		iat := at.field("initContainers").index(i)
		required(iat.field("name"), ic.Name, "the init container's name")
		required(iat.field("image"), ic.Image, "the init container's image")
		if ic.RestartPolicy != nil && *ic.RestartPolicy != "Always" {
			v.fail(iat.field("restartPolicy"), "only Always (a sidecar) is allowed, got %q", *ic.RestartPolicy)
		}
		for j, e := range ic.Env {
			required(iat.field("env").index(j).field("name"), e.Name, "the variable name")
		}
		for j, m := range ic.VolumeMounts {
			required(iat.field("volumeMounts").index(j).field("volumeName"), m.VolumeName, "the volume name")
			if !strings.HasPrefix(m.MountPath, "/") {
				v.fail(iat.field("volumeMounts").index(j).field("mountPath"), "must be an absolute path, got %q", m.MountPath)
			}
		}
	}
	for _, p := range c.Parameters() {
		v.platformParameter(at.field(p.Field), p, uses)
	}
}

// platformParameter checks one run-time value of an executor config. KFP's
// driver resolves it in the scope of the DAG that holds the task: a
// componentInputParameter names an input of that DAG, a
// taskOutputParameter an output of a sibling task. So it is checked once
// for every task that runs the executor.
func (v *validator) platformParameter(at path, p PlatformParameter, uses []TaskUse) {
	in := p.Spec
	if in == nil {
		v.fail(at, "required: no name given (neither the parameter nor its deprecated form is set)")
		return
	}
	set := 0
	for _, ok := range []bool{in.ComponentInputParameter != "", in.TaskOutputParameter != nil, in.RuntimeValue != nil, in.TaskFinalStatus != nil} {
		if ok {
			set++
		}
	}
	switch {
	case set != 1:
		v.fail(at, "exactly one of componentInputParameter, taskOutputParameter or runtimeValue must be set (found %d)", set)
		return
	case in.TaskFinalStatus != nil:
		v.fail(at.field("taskFinalStatus"), "a task's final status cannot configure a pod")
		return
	case in.ParameterExpressionSelector != "":
		v.fail(at.field("parameterExpressionSelector"), "not supported in a Kubernetes executor config")
		return
	case in.RuntimeValue != nil:
		c := in.Constant()
		switch x := c.(type) {
		case string:
			if !p.JSON && strings.TrimSpace(x) == "" {
				v.fail(at.field("runtimeValue.constant"), "the name is empty")
			}
		case map[string]any, []any:
			if !p.JSON {
				v.fail(at.field("runtimeValue.constant"), "expected a name, got %s", kindOf(c))
			}
		default:
			v.fail(at.field("runtimeValue.constant"), "expected a %s, got %s", map[bool]string{false: "name", true: "JSON object or list"}[p.JSON], kindOf(c))
		}
		return
	}
	for _, u := range uses {
		switch {
		case in.ComponentInputParameter != "":
			if !declaresParam(u.Owner, in.ComponentInputParameter) {
				v.fail(at.field("componentInputParameter"), "task %s: the DAG holding it has no input parameter %q", u.At, in.ComponentInputParameter)
			}
		case in.TaskOutputParameter != nil:
			src := in.TaskOutputParameter
			before := len(v.errs)
			v.producerOutput(at.field("taskOutputParameter"), u.DAG, src.ProducerTask, src.OutputParameterKey, false)
			if len(v.errs) > before {
				v.errs[len(v.errs)-1].Msg = fmt.Sprintf("task %s: %s", u.At, v.errs[len(v.errs)-1].Msg)
				continue
			}
			deps := TaskDependencies(u.Task)
			if i := sort.SearchStrings(deps, src.ProducerTask); i == len(deps) || deps[i] != src.ProducerTask {
				v.fail(at.field("taskOutputParameter"), "task %s reads an output of task %q but does not depend on it (add it to dependentTasks)", u.At, src.ProducerTask)
			}
		}
	}
}
