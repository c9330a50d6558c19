package translator

import (
	"fmt"
	"strings"

	wfv1 "github.com/argoproj/argo-workflows/v3/pkg/apis/workflow/v1alpha1"

	"github.com/kfpargo/kfpargo/ir"
	"github.com/kfpargo/kfpargo/step"
)

// dagTemplate translates a DAG component into an Argo DAG template. Its
// inputs are Argo input parameters (artifacts as descriptor parameters), so
// the root DAG receives the workflow's arguments like any other.
func (t *translation) dagTemplate(name, at string, comp *ir.ComponentSpec) {
	tmpl := wfv1.Template{Name: name, DAG: &wfv1.DAGTemplate{}}
	if in := comp.InputDefinitions; in != nil {
		for _, p := range sortedKeys(in.Parameters) {
			param := wfv1.Parameter{Name: p}
			if def := in.Parameters[p]; at != "root" {
				if v, ok, err := defaultValue(def); err != nil {
					t.fail(at+".inputDefinitions.parameters."+p+".defaultValue", "%v", err)
				} else if ok {
					param.Default = wfv1.AnyStringPtr(v)
				}
			}
			tmpl.Inputs.Parameters = append(tmpl.Inputs.Parameters, param)
		}
		for _, a := range sortedKeys(in.Artifacts) {
			param := wfv1.Parameter{Name: step.ArtifactParam(a)}
			if in.Artifacts[a].IsOptional {
				param.Default = wfv1.AnyStringPtr(step.AbsentValue)
			}
			tmpl.Inputs.Parameters = append(tmpl.Inputs.Parameters, param)
		}
	}

	d := comp.DAG
	taskNames := newNamer()
	argoName := map[string]string{}
	for _, tn := range sortedKeys(d.Tasks) {
		argoName[tn] = taskNames.unique(tn)
	}
	for _, tn := range sortedKeys(d.Tasks) {
		task := d.Tasks[tn]
		tat := at + ".dag.tasks." + tn
		if !t.supported(tat, task) {
			continue
		}
		tmplName, ok := t.componentTemplate(task.ComponentRef.Name, tat+".componentRef.name")
		if !ok {
			continue
		}
		dt := wfv1.DAGTask{Name: argoName[tn], Template: tmplName}
		dt.Arguments = t.taskArguments(tat, tn, task, argoName)
		var deps []string
		for _, dep := range ir.TaskDependencies(task) {
			deps = append(deps, argoName[dep])
		}
		dt.Depends = strings.Join(deps, " && ")
		tmpl.DAG.Tasks = append(tmpl.DAG.Tasks, dt)
	}
	if out := d.Outputs; out != nil {
		for _, p := range sortedKeys(out.Parameters) {
			o := out.Parameters[p]
			if o.ValueFromParameter == nil {
				t.fail(at+".dag.outputs.parameters."+p, "dsl.OneOf outputs are not supported yet")
				continue
			}
			s := o.ValueFromParameter
			tmpl.Outputs.Parameters = append(tmpl.Outputs.Parameters, wfv1.Parameter{
				Name:      p,
				ValueFrom: &wfv1.ValueFrom{Parameter: taskOutput(argoName[s.ProducerSubtask], s.OutputParameterKey)},
			})
		}
		for _, a := range sortedKeys(out.Artifacts) {
			sels := out.Artifacts[a].ArtifactSelectors
			if len(sels) != 1 {
				t.fail(at+".dag.outputs.artifacts."+a, "dsl.OneOf outputs are not supported yet")
				continue
			}
			tmpl.Outputs.Parameters = append(tmpl.Outputs.Parameters, wfv1.Parameter{
				Name:      step.ArtifactParam(a),
				ValueFrom: &wfv1.ValueFrom{Parameter: taskOutput(argoName[sels[0].ProducerSubtask], step.ArtifactParam(sels[0].OutputArtifactKey))},
			})
		}
	}
	t.templates = append(t.templates, tmpl)
}

// supported rejects, with a path, the task features later issues add.
func (t *translation) supported(at string, task *ir.TaskSpec) bool {
	ok := true
	unsupported := func(field string, set bool) {
		if set {
			t.fail(at+"."+field, "not supported yet")
			ok = false
		}
	}
	unsupported("triggerPolicy", task.TriggerPolicy != nil && (task.TriggerPolicy.Condition != "" || task.TriggerPolicy.Strategy != ""))
	unsupported("parameterIterator", task.ParameterIterator != nil)
	unsupported("artifactIterator", task.ArtifactIterator != nil)
	if task.Inputs != nil {
		for _, n := range sortedKeys(task.Inputs.Parameters) {
			in := task.Inputs.Parameters[n]
			unsupported("inputs.parameters."+n+".taskFinalStatus", in.TaskFinalStatus != nil)
			unsupported("inputs.parameters."+n+".parameterExpressionSelector", in.ParameterExpressionSelector != "")
		}
	}
	return ok
}

// taskArguments binds every input the task's component declares.
func (t *translation) taskArguments(at, taskName string, task *ir.TaskSpec, argoName map[string]string) wfv1.Arguments {
	comp := t.spec.Components[task.ComponentRef.Name]
	var args wfv1.Arguments
	if comp.DAG == nil {
		args.Parameters = append(args.Parameters, wfv1.Parameter{Name: step.TaskParam, Value: wfv1.AnyStringPtr(taskName)})
	}
	var inputs ir.TaskInputsSpec
	if task.Inputs != nil {
		inputs = *task.Inputs
	}
	defs := comp.InputDefinitions
	if defs == nil {
		defs = &ir.InputsSpec{}
	}
	for _, p := range sortedKeys(defs.Parameters) {
		def := defs.Parameters[p]
		in := inputs.Parameters[p]
		pat := at + ".inputs.parameters." + p
		if in == nil {
			if !def.HasDefault() && !def.IsOptional {
				t.fail(pat, "required input of component %q is not bound", task.ComponentRef.Name)
			}
			continue // the template's default applies
		}
		value, err := t.parameterSource(in, def, argoName)
		if err != nil {
			t.fail(pat, "%v", err)
			continue
		}
		args.Parameters = append(args.Parameters, wfv1.Parameter{Name: p, Value: wfv1.AnyStringPtr(value)})
	}
	for _, a := range sortedKeys(defs.Artifacts) {
		in := inputs.Artifacts[a]
		aat := at + ".inputs.artifacts." + a
		if in == nil {
			if !defs.Artifacts[a].IsOptional {
				t.fail(aat, "required input artifact of component %q is not bound", task.ComponentRef.Name)
			}
			continue
		}
		var value string
		switch {
		case in.TaskOutputArtifact != nil:
			value = taskOutputRef(argoName[in.TaskOutputArtifact.ProducerTask], step.ArtifactParam(in.TaskOutputArtifact.OutputArtifactKey))
		case in.ComponentInputArtifact != "":
			value = "{{inputs.parameters." + step.ArtifactParam(in.ComponentInputArtifact) + "}}"
		}
		args.Parameters = append(args.Parameters, wfv1.Parameter{Name: step.ArtifactParam(a), Value: wfv1.AnyStringPtr(value)})
	}
	return args
}

// parameterSource is the Argo expression (or literal) for one bound input.
func (t *translation) parameterSource(in *ir.InputParameterSpec, def *ir.ParameterSpec, argoName map[string]string) (string, error) {
	switch {
	case in.TaskOutputParameter != nil:
		return taskOutputRef(argoName[in.TaskOutputParameter.ProducerTask], in.TaskOutputParameter.OutputParameterKey), nil
	case in.ComponentInputParameter != "":
		return "{{inputs.parameters." + in.ComponentInputParameter + "}}", nil
	case in.RuntimeValue != nil:
		v := in.RuntimeValue.Constant
		if v == nil {
			v = in.RuntimeValue.ConstantValue
		}
		if s, ok := v.(string); ok && strings.Contains(s, "{{$.") {
			return "", fmt.Errorf("placeholders in constants are not supported yet")
		}
		return encode(def, v)
	}
	return "", fmt.Errorf("no value source")
}

func taskOutputRef(task, param string) string {
	return "{{" + taskOutput(task, param) + "}}"
}

func taskOutput(task, param string) string {
	return "tasks." + task + ".outputs.parameters." + param
}

// defaultValue encodes a parameter's default; ok is false without one.
func defaultValue(def *ir.ParameterSpec) (string, bool, error) {
	switch {
	case def.HasDefault():
		v, err := encode(def, def.DefaultValue)
		return v, err == nil, err
	case def.IsOptional:
		return step.AbsentValue, true, nil
	}
	return "", false, nil
}
