package ir

import (
	"fmt"
	"sort"
	"strings"
)

// Validate checks what strict decoding cannot: required fields, references
// between components, executors and tasks, and dependency cycles.
func Validate(p *Pipeline) error {
	v := &validator{p: p.Spec}
	v.spec()
	v.platform(p.Platform)
	return v.errs.errOrNil()
}

type validator struct {
	p    *PipelineSpec
	errs Errors
}

func (v *validator) fail(at path, format string, args ...any) {
	v.errs = append(v.errs, &FieldError{Path: string(at), Msg: fmt.Sprintf(format, args...)})
}

func (v *validator) spec() {
	s := v.p
	if strings.TrimSpace(s.PipelineInfo.Name) == "" {
		v.fail("pipelineInfo.name", "required: the pipeline has no name")
	}
	switch s.SchemaVersion {
	case "2.0.0", "2.1.0":
	case "":
		v.fail("schemaVersion", "required (expected 2.1.0)")
	default:
		v.fail("schemaVersion", "unsupported version %q (expected 2.1.0)", s.SchemaVersion)
	}
	if s.Root == nil {
		v.fail("root", "required: the pipeline has no root component")
	} else {
		if s.Root.DAG == nil {
			v.fail("root.dag", "required: the root component must be a DAG")
		}
		v.component("root", s.Root)
	}
	for _, name := range sortedKeys(s.Components) {
		if s.Components[name] == nil {
			v.fail(path("components").key(name), "empty component")
			continue
		}
		v.component(path("components").key(name), s.Components[name])
	}
	for _, label := range sortedKeys(s.DeploymentSpec.Executors) {
		v.executor(path("deploymentSpec.executors").key(label), s.DeploymentSpec.Executors[label])
	}
}

func (v *validator) executor(at path, e *ExecutorSpec) {
	if e == nil {
		v.fail(at, "empty executor")
		return
	}
	set := 0
	for _, ok := range []bool{e.Container != nil, e.Importer != nil, e.Resolver != nil, e.CustomJob != nil} {
		if ok {
			set++
		}
	}
	if set != 1 {
		v.fail(at, "exactly one of container, importer, resolver or customJob must be set (found %d)", set)
	}
	if e.Container != nil && strings.TrimSpace(e.Container.Image) == "" {
		v.fail(at.field("container.image"), "required: the container has no image")
	}
	if e.Importer != nil && e.Importer.ArtifactURI == nil {
		v.fail(at.field("importer.artifactUri"), "required: the importer has no artifact URI")
	}
}

func (v *validator) component(at path, c *ComponentSpec) {
	switch {
	case c.ExecutorLabel != "" && c.DAG != nil:
		v.fail(at, "both executorLabel and dag are set")
	case c.ExecutorLabel == "" && c.DAG == nil:
		v.fail(at, "one of executorLabel or dag is required")
	case c.ExecutorLabel != "":
		if _, ok := v.p.DeploymentSpec.Executors[c.ExecutorLabel]; !ok {
			v.fail(at.field("executorLabel"), "no executor %q in deploymentSpec.executors", c.ExecutorLabel)
		}
	}
	if c.InputDefinitions != nil {
		for _, n := range sortedKeys(c.InputDefinitions.Parameters) {
			v.paramType(at.field("inputDefinitions.parameters").key(n), c.InputDefinitions.Parameters[n])
		}
	}
	if c.OutputDefinitions != nil {
		for _, n := range sortedKeys(c.OutputDefinitions.Parameters) {
			v.paramType(at.field("outputDefinitions.parameters").key(n), c.OutputDefinitions.Parameters[n])
		}
	}
	if c.DAG != nil {
		v.dag(at.field("dag"), c, c.DAG)
	}
}

func (v *validator) paramType(at path, p *ParameterSpec) {
	if p == nil {
		v.fail(at, "empty parameter definition")
		return
	}
	if p.ParameterType == "" && p.Type == "" {
		v.fail(at.field("parameterType"), "required")
	} else if p.ParameterType != "" && !p.ParameterType.Valid() {
		v.fail(at.field("parameterType"), "unknown parameter type %q", p.ParameterType)
	}
}

func (v *validator) dag(at path, owner *ComponentSpec, d *DAGSpec) {
	if len(d.Tasks) == 0 {
		v.fail(at.field("tasks"), "required: the DAG has no tasks")
	}
	for _, name := range sortedKeys(d.Tasks) {
		t := d.Tasks[name]
		tat := at.field("tasks").key(name)
		if t == nil {
			v.fail(tat, "empty task")
			continue
		}
		comp, ok := v.p.Components[t.ComponentRef.Name]
		if t.ComponentRef.Name == "" {
			v.fail(tat.field("componentRef.name"), "required")
		} else if !ok || comp == nil {
			v.fail(tat.field("componentRef.name"), "no component %q in components", t.ComponentRef.Name)
		}
		for i, dep := range t.DependentTasks {
			if _, ok := d.Tasks[dep]; !ok {
				v.fail(tat.field("dependentTasks").index(i), "no task %q in this DAG", dep)
			}
		}
		v.taskInputs(tat.field("inputs"), owner, d, t)
	}
	v.cycles(at.field("tasks"), d)
	if d.Outputs != nil {
		for _, n := range sortedKeys(d.Outputs.Parameters) {
			o := d.Outputs.Parameters[n]
			oat := at.field("outputs.parameters").key(n)
			if o == nil {
				v.fail(oat, "empty output")
				continue
			}
			var sels []ParameterSelector
			if o.ValueFromParameter != nil {
				sels = append(sels, *o.ValueFromParameter)
			}
			if o.ValueFromOneof != nil {
				sels = append(sels, o.ValueFromOneof.ParameterSelectors...)
			}
			if len(sels) == 0 {
				v.fail(oat, "one of valueFromParameter or valueFromOneof is required")
			}
			for _, s := range sels {
				v.producerOutput(oat, d, s.ProducerSubtask, s.OutputParameterKey, false)
			}
		}
		for _, n := range sortedKeys(d.Outputs.Artifacts) {
			o := d.Outputs.Artifacts[n]
			oat := at.field("outputs.artifacts").key(n)
			if o == nil || len(o.ArtifactSelectors) == 0 {
				v.fail(oat, "artifactSelectors is required")
				continue
			}
			for i, s := range o.ArtifactSelectors {
				v.producerOutput(oat.field("artifactSelectors").index(i), d, s.ProducerSubtask, s.OutputArtifactKey, true)
			}
		}
	}
}

func (v *validator) taskInputs(at path, owner *ComponentSpec, d *DAGSpec, t *TaskSpec) {
	if t.Inputs == nil {
		return
	}
	for _, n := range sortedKeys(t.Inputs.Parameters) {
		in := t.Inputs.Parameters[n]
		iat := at.field("parameters").key(n)
		if in == nil {
			v.fail(iat, "empty input")
			continue
		}
		// A task may bind inputs its component does not declare: the SDK
		// adds them for placeholders in constants and resource fields.
		switch {
		case in.TaskOutputParameter != nil:
			v.producerOutput(iat.field("taskOutputParameter"), d, in.TaskOutputParameter.ProducerTask, in.TaskOutputParameter.OutputParameterKey, false)
		case in.TaskFinalStatus != nil:
			if _, ok := d.Tasks[in.TaskFinalStatus.ProducerTask]; !ok {
				v.fail(iat.field("taskFinalStatus.producerTask"), "no task %q in this DAG", in.TaskFinalStatus.ProducerTask)
			}
		case in.ComponentInputParameter != "":
			if !declaresParam(owner, in.ComponentInputParameter) {
				v.fail(iat.field("componentInputParameter"), "the enclosing component has no input parameter %q", in.ComponentInputParameter)
			}
		case in.RuntimeValue != nil:
		default:
			v.fail(iat, "no value source: one of taskOutputParameter, runtimeValue, componentInputParameter or taskFinalStatus is required")
		}
	}
	for _, n := range sortedKeys(t.Inputs.Artifacts) {
		in := t.Inputs.Artifacts[n]
		iat := at.field("artifacts").key(n)
		if in == nil {
			v.fail(iat, "empty input")
			continue
		}
		switch {
		case in.TaskOutputArtifact != nil:
			v.producerOutput(iat.field("taskOutputArtifact"), d, in.TaskOutputArtifact.ProducerTask, in.TaskOutputArtifact.OutputArtifactKey, true)
		case in.ComponentInputArtifact != "":
			if owner.InputDefinitions == nil || owner.InputDefinitions.Artifacts[in.ComponentInputArtifact] == nil {
				v.fail(iat.field("componentInputArtifact"), "the enclosing component has no input artifact %q", in.ComponentInputArtifact)
			}
		default:
			v.fail(iat, "no value source: one of taskOutputArtifact or componentInputArtifact is required")
		}
	}
}

func declaresParam(c *ComponentSpec, name string) bool {
	return c != nil && c.InputDefinitions != nil && c.InputDefinitions.Parameters[name] != nil
}

// producerOutput checks that a producer task exists in d and declares the
// output key.
func (v *validator) producerOutput(at path, d *DAGSpec, producer, key string, artifact bool) {
	t, ok := d.Tasks[producer]
	if !ok || t == nil {
		v.fail(at, "no task %q in this DAG", producer)
		return
	}
	comp := v.p.Components[t.ComponentRef.Name]
	if comp == nil {
		return // reported at the producer's componentRef
	}
	var found bool
	if od := comp.OutputDefinitions; od != nil {
		if artifact {
			found = od.Artifacts[key] != nil
		} else {
			found = od.Parameters[key] != nil
		}
	}
	if !found {
		kind := "parameter"
		if artifact {
			kind = "artifact"
		}
		v.fail(at, "task %q has no output %s %q", producer, kind, key)
	}
}

// cycles reports each dependency cycle among a DAG's tasks once, counting
// both dependentTasks and data dependencies.
func (v *validator) cycles(at path, d *DAGSpec) {
	const (
		unseen = iota
		active
		done
	)
	state := map[string]int{}
	var stack []string
	var visit func(string)
	visit = func(n string) {
		state[n] = active
		stack = append(stack, n)
		for _, dep := range TaskDependencies(d.Tasks[n]) {
			if _, ok := d.Tasks[dep]; !ok {
				continue
			}
			switch state[dep] {
			case unseen:
				visit(dep)
			case active:
				i := len(stack) - 1
				for stack[i] != dep {
					i--
				}
				cycle := append(append([]string{}, stack[i:]...), dep)
				v.fail(at.key(n), "dependency cycle: %s", strings.Join(cycle, " -> "))
			}
		}
		stack = stack[:len(stack)-1]
		state[n] = done
	}
	for _, n := range sortedKeys(d.Tasks) {
		if state[n] == unseen && d.Tasks[n] != nil {
			visit(n)
		}
	}
}

// TaskDependencies returns the sorted, de-duplicated names of the tasks t
// depends on: dependentTasks plus every producer its inputs read from.
func TaskDependencies(t *TaskSpec) []string {
	if t == nil {
		return nil
	}
	set := map[string]bool{}
	for _, d := range t.DependentTasks {
		set[d] = true
	}
	if t.Inputs != nil {
		for _, in := range t.Inputs.Parameters {
			if in == nil {
				continue
			}
			if in.TaskOutputParameter != nil {
				set[in.TaskOutputParameter.ProducerTask] = true
			}
			if in.TaskFinalStatus != nil {
				set[in.TaskFinalStatus.ProducerTask] = true
			}
		}
		for _, in := range t.Inputs.Artifacts {
			if in != nil && in.TaskOutputArtifact != nil {
				set[in.TaskOutputArtifact.ProducerTask] = true
			}
		}
	}
	return sortedKeys(set)
}

func sortedKeys[V any](m map[string]V) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}
