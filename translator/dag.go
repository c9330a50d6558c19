package translator

import (
	"fmt"
	"sort"
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
	imports := t.importers(at, d, argoName)
	for _, tn := range sortedKeys(d.Tasks) {
		task := d.Tasks[tn]
		tat := at + ".dag.tasks." + tn
		if _, ok := imports[tn]; ok {
			continue
		}
		if !t.supported(tat, task) {
			continue
		}
		tmplName, ok := t.componentTemplate(task.ComponentRef.Name, tat+".componentRef.name")
		if !ok {
			continue
		}
		t.siblings = d.Tasks // componentTemplate may have translated a nested DAG
		tmplName = t.cacheTemplate(task.ComponentRef.Name, tmplName, task)
		if task.RetryPolicy != nil {
			if tmplName, ok = t.retryTemplate(tat+".retryPolicy", tmplName, task.RetryPolicy); !ok {
				continue
			}
		}
		dt := wfv1.DAGTask{Name: argoName[tn], Template: tmplName}
		dt.Arguments = t.taskArguments(tat, tn, task, argoName, imports)
		dt.Depends = dependsExpr(task, d, argoName, imports)
		if c := conditionOf(task); c != "" {
			code, _, err := celCondition(c, t.inputResolver(task, argoName))
			if err != nil {
				t.fail(tat+".triggerPolicy.condition", "%v", err)
				continue
			}
			dt.When = "{{=" + code + "}}"
		}
		if task.ParameterIterator != nil || task.ArtifactIterator != nil {
			if !t.loop(tat, task, &dt, argoName) {
				continue
			}
		}
		tmpl.DAG.Tasks = append(tmpl.DAG.Tasks, dt)
	}
	keepFailures(tmpl.DAG, d, argoName, imports)
	if out := d.Outputs; out != nil {
		for _, p := range sortedKeys(out.Parameters) {
			o := out.Parameters[p]
			var sels []outputSelector
			switch {
			case o.ValueFromParameter != nil:
				sels = []outputSelector{{o.ValueFromParameter.ProducerSubtask, o.ValueFromParameter.OutputParameterKey}}
			case o.ValueFromOneof != nil:
				for _, s := range o.ValueFromOneof.ParameterSelectors {
					sels = append(sels, outputSelector{s.ProducerSubtask, s.OutputParameterKey})
				}
			}
			if len(sels) == 0 {
				t.fail(at+".dag.outputs.parameters."+p, "no value source")
				continue
			}
			vf := oneOf(sels, argoName)
			if len(sels) == 1 {
				producer := d.Tasks[sels[0].task]
				if code := t.collected(producer, argoName[sels[0].task], sels[0].param); code != "" {
					vf = &wfv1.ValueFrom{Expression: code}
				}
				vf.Default = absentDefault(producer, false)
			}
			tmpl.Outputs.Parameters = append(tmpl.Outputs.Parameters, wfv1.Parameter{Name: p, ValueFrom: vf})
		}
		for _, a := range sortedKeys(out.Artifacts) {
			var sels []outputSelector
			for _, s := range out.Artifacts[a].ArtifactSelectors {
				sels = append(sels, outputSelector{s.ProducerSubtask, step.ArtifactParam(s.OutputArtifactKey)})
			}
			if len(sels) == 0 {
				t.fail(at+".dag.outputs.artifacts."+a, "no artifact selector")
				continue
			}
			vf := oneOf(sels, argoName)
			if v, ok := imports[sels[0].task]; ok && len(sels) == 1 {
				vf = &wfv1.ValueFrom{Expression: importedExpr(v)}
			} else if len(sels) == 1 {
				producer := d.Tasks[sels[0].task]
				if code := t.collected(producer, argoName[sels[0].task], sels[0].param); code != "" {
					vf = &wfv1.ValueFrom{Expression: code}
				}
				vf.Default = absentDefault(producer, comp.OutputDefinitions != nil && comp.OutputDefinitions.Artifacts[a] != nil && comp.OutputDefinitions.Artifacts[a].IsArtifactList)
			}
			tmpl.Outputs.Parameters = append(tmpl.Outputs.Parameters, wfv1.Parameter{Name: step.ArtifactParam(a), ValueFrom: vf})
		}
	}
	t.templates = append(t.templates, tmpl)
}

// supported rejects, with a path, the task features later issues add.
func (t *translation) supported(at string, task *ir.TaskSpec) bool {
	if tp := task.TriggerPolicy; tp != nil {
		switch tp.Strategy {
		case "", "ALL_UPSTREAM_TASKS_SUCCEEDED", "ALL_UPSTREAM_TASKS_COMPLETED":
		default:
			t.fail(at+".triggerPolicy.strategy", "unknown strategy %q", tp.Strategy)
			return false
		}
	}
	return true
}

func conditionOf(task *ir.TaskSpec) string {
	if task.TriggerPolicy == nil {
		return ""
	}
	return task.TriggerPolicy.Condition
}

// dependsExpr is the task's Argo depends. A task that runs whatever its
// upstream tasks did (exit handlers, ignore_upstream_failure) waits for
// each to finish in any phase.
func dependsExpr(task *ir.TaskSpec, d *ir.DAGSpec, argoName, imports map[string]string) string {
	completed := task.TriggerPolicy != nil && task.TriggerPolicy.Strategy == "ALL_UPSTREAM_TASKS_COMPLETED"
	var deps []string
	for _, dep := range runDependencies(task, d, imports) {
		n := argoName[dep]
		if completed {
			n = "(" + n + ".Succeeded || " + n + ".Skipped || " + n + ".Failed || " + n + ".Errored)"
		}
		deps = append(deps, n)
	}
	return strings.Join(deps, " && ")
}

// taskArguments binds every input the task's component declares.
func (t *translation) taskArguments(at, taskName string, task *ir.TaskSpec, argoName, imports map[string]string) wfv1.Arguments {
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
	item := loopItemInput(task)
	for _, p := range sortedKeys(defs.Parameters) {
		def := defs.Parameters[p]
		in := inputs.Parameters[p]
		pat := at + ".inputs.parameters." + p
		if in == nil && p == item && task.ParameterIterator != nil {
			args.Parameters = append(args.Parameters, wfv1.Parameter{Name: p, Value: wfv1.AnyStringPtr("{{item}}")})
			continue
		}
		if in == nil {
			if !def.HasDefault() && !def.IsOptional {
				t.fail(pat, "required input of component %q is not bound", task.ComponentRef.Name)
			}
			continue // the template's default applies
		}
		value, err := t.parameterSource(in, def, taskName, task, argoName)
		if err == nil && in.ParameterExpressionSelector != "" {
			value, err = t.selectorSource(in, argoName)
		}
		if err == nil && completedStrategy(task) && in.TaskOutputParameter != nil {
			value, err = unlessFailed(value, argoName[in.TaskOutputParameter.ProducerTask], in.TaskOutputParameter.OutputParameterKey, def)
		}
		if err != nil {
			t.fail(pat, "%v", err)
			continue
		}
		args.Parameters = append(args.Parameters, wfv1.Parameter{Name: p, Value: wfv1.AnyStringPtr(value)})
	}
	for _, p := range t.extraInputs[task.ComponentRef.Name] {
		in := inputs.Parameters[p]
		if in == nil {
			t.fail(at+".inputs.parameters."+p, "the executor of component %q reads input %q, which the task does not bind", task.ComponentRef.Name, p)
			continue
		}
		value, err := t.parameterSource(in, &ir.ParameterSpec{ParameterType: ir.TypeString}, taskName, task, argoName)
		if err == nil && in.ParameterExpressionSelector != "" {
			value, err = t.selectorSource(in, argoName)
		}
		if err != nil {
			t.fail(at+".inputs.parameters."+p, "%v", err)
			continue
		}
		args.Parameters = append(args.Parameters, wfv1.Parameter{Name: p, Value: wfv1.AnyStringPtr(value)})
	}
	args.Parameters = append(args.Parameters, t.platformArguments(taskName, task, argoName)...)
	for _, a := range sortedKeys(defs.Artifacts) {
		in := inputs.Artifacts[a]
		aat := at + ".inputs.artifacts." + a
		if in == nil && a == item && task.ArtifactIterator != nil {
			args.Parameters = append(args.Parameters, wfv1.Parameter{Name: step.ArtifactParam(a), Value: wfv1.AnyStringPtr("{{item}}")})
			continue
		}
		if in == nil {
			if !defs.Artifacts[a].IsOptional {
				t.fail(aat, "required input artifact of component %q is not bound", task.ComponentRef.Name)
			}
			continue
		}
		var value string
		switch {
		case in.TaskOutputArtifact != nil && imports[in.TaskOutputArtifact.ProducerTask] != "":
			value = imports[in.TaskOutputArtifact.ProducerTask]
		case in.TaskOutputArtifact != nil:
			value = taskOutputRef(argoName[in.TaskOutputArtifact.ProducerTask], step.ArtifactParam(in.TaskOutputArtifact.OutputArtifactKey))
			if completedStrategy(task) {
				value, _ = unlessFailed(value, argoName[in.TaskOutputArtifact.ProducerTask], step.ArtifactParam(in.TaskOutputArtifact.OutputArtifactKey), &ir.ParameterSpec{IsOptional: true})
			}
		case in.ComponentInputArtifact != "":
			value = "{{inputs.parameters." + step.ArtifactParam(in.ComponentInputArtifact) + "}}"
		}
		args.Parameters = append(args.Parameters, wfv1.Parameter{Name: step.ArtifactParam(a), Value: wfv1.AnyStringPtr(value)})
	}
	return args
}

// parameterSource is the Argo expression (or literal) for one bound input.
func (t *translation) parameterSource(in *ir.InputParameterSpec, def *ir.ParameterSpec, irTask string, task *ir.TaskSpec, argoName map[string]string) (string, error) {
	switch {
	case in.TaskOutputParameter != nil:
		src := in.TaskOutputParameter
		if code := t.collected(t.siblings[src.ProducerTask], argoName[src.ProducerTask], src.OutputParameterKey); code != "" {
			return "{{=" + code + "}}", nil
		}
		return taskOutputRef(argoName[src.ProducerTask], src.OutputParameterKey), nil
	case in.ComponentInputParameter != "":
		return "{{inputs.parameters." + in.ComponentInputParameter + "}}", nil
	case in.TaskFinalStatus != nil:
		return finalStatus(argoName[in.TaskFinalStatus.ProducerTask], in.TaskFinalStatus.ProducerTask), nil
	case in.RuntimeValue != nil:
		v := in.RuntimeValue.Constant
		if v == nil {
			v = in.RuntimeValue.ConstantValue
		}
		if s, ok := v.(string); ok && strings.Contains(s, "{{$.") {
			return t.constantWithPlaceholders(s, irTask, task, argoName)
		}
		return encode(def, v)
	}
	return "", fmt.Errorf("no value source")
}

// absentDefault is the value of a DAG output whose producer may have left
// none: the absent marker for a skipped task, an empty list for a loop with
// no iterations (or any list output).
func absentDefault(producer *ir.TaskSpec, list bool) *wfv1.AnyString {
	switch {
	case producer != nil && (producer.ParameterIterator != nil || producer.ArtifactIterator != nil), list:
		return wfv1.AnyStringPtr("[]")
	case skippable(producer):
		return wfv1.AnyStringPtr(step.AbsentValue)
	}
	return nil
}

func completedStrategy(task *ir.TaskSpec) bool {
	return task.TriggerPolicy != nil && task.TriggerPolicy.Strategy == "ALL_UPSTREAM_TASKS_COMPLETED"
}

// unlessFailed guards an upstream output for a task that runs whatever its
// upstream did (ignore_upstream_failure): a producer that failed or was
// skipped has no outputs, and Argo would fail to resolve the reference, so
// the input falls back to its default (or the absent marker), as KFP does.
func unlessFailed(value, producer, key string, def *ir.ParameterSpec) (string, error) {
	fallback, ok, err := defaultValue(def)
	if err != nil {
		return "", err
	}
	if !ok {
		fallback = step.AbsentValue
	}
	var expr string
	switch {
	case value == taskOutputRef(producer, key):
		expr = "tasks[" + exprString(producer) + "].outputs.parameters[" + exprString(key) + "]"
	case strings.HasPrefix(value, "{{=") && strings.HasSuffix(value, "}}"):
		expr = value[3 : len(value)-2]
	default:
		return value, nil
	}
	return fmt.Sprintf("{{=tasks[%s].status == \"Succeeded\" ? %s : %s}}", exprString(producer), expr, exprString(fallback)), nil
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

// loopItemInput is the loop component input that receives one item.
func loopItemInput(task *ir.TaskSpec) string {
	switch {
	case task.ParameterIterator != nil:
		return task.ParameterIterator.ItemInput
	case task.ArtifactIterator != nil:
		return task.ArtifactIterator.ItemInput
	}
	return ""
}

// inputResolver resolves a name in a CEL expression over the task's
// inputs to the Argo variable the input is bound from, in the task's parent
// DAG; the empty name is a selector's string_value.
func (t *translation) inputResolver(task *ir.TaskSpec, argoName map[string]string) celResolver {
	return func(name string) (celRef, error) {
		var in *ir.InputParameterSpec
		if task.Inputs != nil {
			in = task.Inputs.Parameters[name]
		}
		if in == nil {
			return celRef{}, fmt.Errorf("the task has no input parameter %q", name)
		}
		ref, err := t.sourceRef(in, argoName)
		if err != nil || in.ParameterExpressionSelector == "" {
			return ref, err
		}
		code, kind, scope, err := celTranslate(in.ParameterExpressionSelector, func(n string) (celRef, error) {
			if n != "" {
				return celRef{}, fmt.Errorf("a selector can only use string_value")
			}
			return ref, nil
		})
		if err != nil {
			return celRef{}, fmt.Errorf("input %q: parameterExpressionSelector: %w", name, err)
		}
		return celRef{code: code, kind: kind, scope: scope}, nil
	}
}

// sourceRef is the expr-lang reference to where a task input comes from.
func (t *translation) sourceRef(in *ir.InputParameterSpec, argoName map[string]string) (celRef, error) {
	switch {
	case in.ComponentInputParameter != "":
		return celRef{code: "inputs.parameters[" + exprString(in.ComponentInputParameter) + "]", scope: scopeInputs}, nil
	case in.TaskOutputParameter != nil:
		return celRef{
			code:  "tasks[" + exprString(argoName[in.TaskOutputParameter.ProducerTask]) + "].outputs.parameters[" + exprString(in.TaskOutputParameter.OutputParameterKey) + "]",
			scope: scopeTasks,
		}, nil
	case in.RuntimeValue != nil:
		v := in.RuntimeValue.Constant
		if v == nil {
			v = in.RuntimeValue.ConstantValue
		}
		s, err := step.EncodeValue(ir.TypeString, v)
		if err != nil {
			return celRef{}, err
		}
		return celRef{code: exprString(s)}, nil
	}
	return celRef{}, fmt.Errorf("this kind of input cannot be used in an expression")
}

// selectorSource evaluates parameterExpressionSelector in Argo: strings come
// out verbatim and other JSON values as JSON text, which is how step encodes
// parameter values.
func (t *translation) selectorSource(in *ir.InputParameterSpec, argoName map[string]string) (string, error) {
	ref, err := t.sourceRef(in, argoName)
	if err != nil {
		return "", err
	}
	code, _, _, err := celTranslate(in.ParameterExpressionSelector, func(n string) (celRef, error) {
		if n != "" {
			return celRef{}, fmt.Errorf("a selector can only use string_value")
		}
		return ref, nil
	})
	if err != nil {
		return "", fmt.Errorf("parameterExpressionSelector: %w", err)
	}
	return "{{=" + code + "}}", nil
}

// finalStatus is the PipelineTaskFinalStatus JSON of an upstream task,
// built by Argo once the task has finished. Argo phases map onto KFP
// states; an Argo task that did not run (Skipped, Omitted) did not fail.
// The error message is the Argo phase of a task that did not succeed.
func finalStatus(argoTask, irTask string) string {
	status := "tasks[" + exprString(argoTask) + "].status"
	ok := status + ` in ["Succeeded", "Skipped", "Omitted"]`
	return "{{=toJson({" +
		`"state": ` + ok + ` ? "COMPLETE" : "FAILED", ` +
		`"pipelineJobResourceName": workflow.name, ` +
		`"pipelineTaskName": ` + exprString(irTask) + `, ` +
		`"error": {"message": ` + ok + ` ? "" : ` + status + `} ` +
		"})}}"
}

// keepFailures makes a DAG that runs tasks after failed ones (exit
// handlers, ignore_upstream_failure) still fail when they do. Argo decides a
// DAG's phase from its target tasks, by default the leaves, and a leaf that
// succeeds after a failed upstream counts as the failure handled. So the
// upstream tasks of such a task become targets too, and failFast is off so
// the DAG waits for the exit task before it reports the failure.
func keepFailures(dag *wfv1.DAGTemplate, d *ir.DAGSpec, argoName, imports map[string]string) {
	targets := map[string]bool{}
	hasDependents := map[string]bool{}
	completed := false
	for _, tn := range sortedKeys(d.Tasks) {
		task := d.Tasks[tn]
		deps := runDependencies(task, d, imports)
		for _, dep := range deps {
			hasDependents[dep] = true
		}
		if task.TriggerPolicy != nil && task.TriggerPolicy.Strategy == "ALL_UPSTREAM_TASKS_COMPLETED" {
			completed = true
			for _, dep := range deps {
				targets[dep] = true
			}
		}
	}
	if !completed {
		return
	}
	var names []string
	for _, tn := range sortedKeys(d.Tasks) {
		if _, imported := imports[tn]; imported {
			continue
		}
		if targets[tn] || !hasDependents[tn] {
			names = append(names, argoName[tn])
		}
	}
	off := false
	dag.Target = strings.Join(names, " ")
	dag.FailFast = &off
}

// outputSelector names a subtask output (for artifacts, its descriptor
// parameter).
type outputSelector struct{ task, param string }

// oneOf is a DAG output's source. One selector is a plain reference;
// several (dsl.OneOf over If/Elif/Else branches) pick the output of the
// first branch that ran, with an expression Argo evaluates when the DAG
// finishes.
func oneOf(sels []outputSelector, argoName map[string]string) *wfv1.ValueFrom {
	if len(sels) == 1 {
		return &wfv1.ValueFrom{Parameter: taskOutput(argoName[sels[0].task], sels[0].param)}
	}
	ref := func(s outputSelector) string {
		return "tasks[" + exprString(argoName[s.task]) + "].outputs.parameters[" + exprString(s.param) + "]"
	}
	last := sels[len(sels)-1]
	code := ref(last)
	for i := len(sels) - 2; i >= 0; i-- {
		code = "tasks[" + exprString(argoName[sels[i].task]) + `].status == "Succeeded" ? ` + ref(sels[i]) + " : " + code
	}
	return &wfv1.ValueFrom{Expression: code}
}

// runDependencies are the tasks an Argo task waits for: an importer runs no
// task, so waiting for it means waiting for what it waits for.
func runDependencies(task *ir.TaskSpec, d *ir.DAGSpec, imports map[string]string) []string {
	seen := map[string]bool{}
	var out []string
	var walk func(deps []string)
	walk = func(deps []string) {
		for _, dep := range deps {
			if seen[dep] {
				continue
			}
			seen[dep] = true
			if _, ok := imports[dep]; ok {
				walk(ir.TaskDependencies(d.Tasks[dep]))
				continue
			}
			out = append(out, dep)
		}
	}
	walk(ir.TaskDependencies(task))
	sort.Strings(out)
	return out
}

// importedExpr turns an importer's descriptor value into an expression for
// a DAG output.
func importedExpr(v string) string {
	if code, ok := strings.CutPrefix(v, "{{="); ok {
		return strings.TrimSuffix(code, "}}")
	}
	return exprString(v)
}
