package translator

import (
	"encoding/json"
	"fmt"
	"math"
	"strconv"
	"strings"
	"time"

	wfv1 "github.com/argoproj/argo-workflows/v3/pkg/apis/workflow/v1alpha1"
	"k8s.io/apimachinery/pkg/util/intstr"

	"github.com/kfpargo/kfpargo/ir"
	"github.com/kfpargo/kfpargo/step"
)

// itemsParam is the wrapper template input carrying a loop's items when a
// parallelism limit needs the wrapper.
const itemsParam = "kfpargo-items"

// loop makes a for-loop DAG task fan out: raw items become withItems, an
// input parameter or artifact list becomes withParam, and the loop body's
// item input is bound to {{item}} (by taskArguments). Argo aggregates the
// iterations' outputs into JSON lists, which is dsl.Collected.
func (t *translation) loop(at string, task *ir.TaskSpec, dt *wfv1.DAGTask, argoName map[string]string) bool {
	var inputs ir.TaskInputsSpec
	if task.Inputs != nil {
		inputs = *task.Inputs
	}
	switch it := task.ParameterIterator; {
	case it != nil && it.Items.Raw != "":
		var items []wfv1.Item
		if err := json.Unmarshal([]byte(it.Items.Raw), &items); err != nil {
			t.fail(at+".parameterIterator.items.raw", "not a JSON array: %v", err)
			return false
		}
		if len(items) == 0 {
			// An empty withItems would vanish from the YAML; an empty
			// withParam is a loop Argo runs zero times.
			dt.WithParam = "[]"
			break
		}
		dt.WithItems = items
	case it != nil && it.Items.InputParameter != "":
		in := inputs.Parameters[it.Items.InputParameter]
		if in == nil {
			t.fail(at+".parameterIterator.items.inputParameter", "the task has no input %q", it.Items.InputParameter)
			return false
		}
		v, err := t.parameterSource(in, &ir.ParameterSpec{ParameterType: ir.TypeList}, "", task, argoName)
		if err == nil && in.ParameterExpressionSelector != "" {
			v, err = t.selectorSource(in, argoName)
		}
		if err != nil {
			t.fail(at+".parameterIterator.items.inputParameter", "%v", err)
			return false
		}
		dt.WithParam = v
	case it != nil:
		t.fail(at+".parameterIterator.items", "neither raw nor inputParameter is set")
		return false
	default:
		name := task.ArtifactIterator.Items.InputArtifact
		in := inputs.Artifacts[name]
		switch {
		case in == nil:
			t.fail(at+".artifactIterator.items.inputArtifact", "the task has no input artifact %q", name)
			return false
		case in.TaskOutputArtifact != nil:
			dt.WithParam = taskOutputRef(argoName[in.TaskOutputArtifact.ProducerTask], step.ArtifactParam(in.TaskOutputArtifact.OutputArtifactKey))
		default:
			dt.WithParam = "{{inputs.parameters." + step.ArtifactParam(in.ComponentInputArtifact) + "}}"
		}
	}
	if p := task.IteratorPolicy; p != nil && p.ParallelismLimit > 0 {
		t.limitParallelism(dt, p.ParallelismLimit)
	}
	return true
}

// limitParallelism moves a loop task into a wrapper DAG template whose
// parallelism is the limit: Argo limits parallelism per template, and the
// loop's siblings must not count against it. The wrapper passes the
// arguments through and returns the loop's aggregated outputs.
func (t *translation) limitParallelism(dt *wfv1.DAGTask, limit int64) {
	body := t.templateByName(dt.Template)
	wrapper := wfv1.Template{
		Name:        t.names.unique(dt.Template + "-parallelism-" + strconv.FormatInt(limit, 10)),
		Parallelism: &limit,
		DAG:         &wfv1.DAGTemplate{},
	}
	inner := wfv1.DAGTask{Name: dt.Name, Template: dt.Template, WithItems: dt.WithItems}
	outer := wfv1.DAGTask{Name: dt.Name, Template: wrapper.Name, Depends: dt.Depends, When: dt.When}
	for _, p := range dt.Arguments.Parameters {
		if p.Value != nil && p.Value.String() == "{{item}}" {
			inner.Arguments.Parameters = append(inner.Arguments.Parameters, p)
			continue
		}
		wrapper.Inputs.Parameters = append(wrapper.Inputs.Parameters, wfv1.Parameter{Name: p.Name})
		inner.Arguments.Parameters = append(inner.Arguments.Parameters, wfv1.Parameter{Name: p.Name, Value: wfv1.AnyStringPtr("{{inputs.parameters." + p.Name + "}}")})
		outer.Arguments.Parameters = append(outer.Arguments.Parameters, p)
	}
	if dt.WithParam != "" {
		wrapper.Inputs.Parameters = append(wrapper.Inputs.Parameters, wfv1.Parameter{Name: itemsParam})
		outer.Arguments.Parameters = append(outer.Arguments.Parameters, wfv1.Parameter{Name: itemsParam, Value: wfv1.AnyStringPtr(dt.WithParam)})
		inner.WithParam = "{{inputs.parameters." + itemsParam + "}}"
	}
	if body != nil {
		for _, o := range body.Outputs.Parameters {
			wrapper.Outputs.Parameters = append(wrapper.Outputs.Parameters, wfv1.Parameter{
				Name:      o.Name,
				ValueFrom: &wfv1.ValueFrom{Parameter: taskOutput(inner.Name, o.Name)},
			})
		}
	}
	wrapper.DAG.Tasks = []wfv1.DAGTask{inner}
	t.templates = append(t.templates, wrapper)
	*dt = outer
}

func (t *translation) templateByName(name string) *wfv1.Template {
	for i := range t.templates {
		if t.templates[i].Name == name {
			return &t.templates[i]
		}
	}
	return nil
}

// retryTemplate returns a copy of a component's template carrying the
// task's retry policy: Argo retries templates, not DAG tasks, and other
// tasks may use the same component without one. Copies are shared between
// tasks with the same policy.
func (t *translation) retryTemplate(at, tmplName string, rp *ir.RetryPolicy) (string, bool) {
	rs, err := retryStrategy(rp)
	if err != nil {
		t.fail(at, "%v", err)
		return "", false
	}
	key := tmplName + "\x00" + fmt.Sprintf("%+v", *rp)
	if name, ok := t.retries[key]; ok {
		return name, true
	}
	base := t.templateByName(tmplName)
	if base == nil {
		t.fail(at, "template %q is not available for a retry copy", tmplName)
		return "", false
	}
	cp := *base.DeepCopy()
	cp.Name = t.names.unique(tmplName + "-retry")
	cp.RetryStrategy = rs
	t.templates = append(t.templates, cp)
	t.retries[key] = cp.Name
	return cp.Name, true
}

// retryStrategy maps KFP's retry policy. KFP retries whatever made the task
// fail, so the Argo policy is Always (OnFailure would not retry errors such
// as an evicted pod).
func retryStrategy(rp *ir.RetryPolicy) (*wfv1.RetryStrategy, error) {
	// Argo keeps both numbers as int32; a larger value would wrap silently.
	if rp.MaxRetryCount < 0 || rp.MaxRetryCount > math.MaxInt32 {
		return nil, fmt.Errorf("maxRetryCount: %d is not between 0 and %d", rp.MaxRetryCount, math.MaxInt32)
	}
	if f := rp.BackoffFactor; math.IsNaN(f) || f < 0 || f > math.MaxInt32 {
		return nil, fmt.Errorf("backoffFactor: %v is not between 0 and %d", f, math.MaxInt32)
	}
	limit := intstr.FromInt32(int32(rp.MaxRetryCount))
	rs := &wfv1.RetryStrategy{Limit: &limit, RetryPolicy: wfv1.RetryPolicyAlways}
	dur, err := duration("backoffDuration", rp.BackoffDuration)
	if err != nil {
		return nil, err
	}
	maxDur, err := duration("backoffMaxDuration", rp.BackoffMaxDuration)
	if err != nil {
		return nil, err
	}
	if dur == "" && maxDur == "" && rp.BackoffFactor == 0 {
		return rs, nil
	}
	b := &wfv1.Backoff{Duration: dur, Cap: maxDur}
	if b.Duration == "" {
		b.Duration = "0s"
	}
	factor := rp.BackoffFactor
	if factor == 0 {
		factor = 2 // KFP's default
	}
	f := intstr.Parse(strconv.FormatFloat(factor, 'f', -1, 64))
	if f.Type == intstr.String {
		// Argo's factor is an integer; round up so backoff never shrinks.
		f = intstr.FromInt(int(factor + 0.999999))
	}
	b.Factor = &f
	rs.Backoff = b
	return rs, nil
}

// duration turns a protobuf Duration ("3600s", "0.5s") into a Go duration
// string, which Argo parses.
func duration(field, s string) (string, error) {
	if s == "" {
		return "", nil
	}
	d, err := time.ParseDuration(s)
	if err != nil {
		return "", fmt.Errorf("%s: %q is not a duration: %v", field, s, err)
	}
	return d.String(), nil
}

// collectedScalar reports whether a loop task's output parameter k is a
// collection of numbers or booleans. Argo aggregates the iterations' values
// into a JSON list of strings unless every value is a JSON object or list,
// so those elements need converting back to their type (dsl.Collected of
// ints is a list of ints).
func (t *translation) collectedScalar(producer *ir.TaskSpec, k string) bool {
	if producer == nil || producer.ParameterIterator == nil && producer.ArtifactIterator == nil {
		return false
	}
	switch t.outputType(producer.ComponentRef.Name, k, 0) {
	case ir.TypeInteger, ir.TypeDouble, ir.TypeBoolean:
		return true
	}
	return false
}

// outputType is the type of the values behind a component's output
// parameter, looking through DAGs to the executor that makes them; a nested
// loop's output is a list.
func (t *translation) outputType(compName, k string, depth int) ir.ParameterType {
	comp := t.spec.Components[compName]
	if comp == nil || depth > 50 {
		return ""
	}
	if comp.DAG == nil {
		if comp.OutputDefinitions == nil || comp.OutputDefinitions.Parameters[k] == nil {
			return ""
		}
		return paramType(comp.OutputDefinitions.Parameters[k])
	}
	if comp.DAG.Outputs == nil || comp.DAG.Outputs.Parameters[k] == nil || comp.DAG.Outputs.Parameters[k].ValueFromParameter == nil {
		return ""
	}
	sel := comp.DAG.Outputs.Parameters[k].ValueFromParameter
	sub := comp.DAG.Tasks[sel.ProducerSubtask]
	if sub == nil {
		return ""
	}
	if sub.ParameterIterator != nil || sub.ArtifactIterator != nil {
		return ir.TypeList
	}
	return t.outputType(sub.ComponentRef.Name, sel.OutputParameterKey, depth+1)
}

// collected is expr-lang code for a loop task's aggregated output k, or ""
// when Argo's aggregation can be used as it is. Iterations whose value was
// absent (a condition inside the loop was false) are dropped, as KFP's
// dsl.Collected only gathers what ran; scalars are parsed back to their type
// (Argo aggregates them as strings).
func (t *translation) collected(producer *ir.TaskSpec, argoTask, k string) string {
	if producer == nil || producer.ParameterIterator == nil && producer.ArtifactIterator == nil {
		return ""
	}
	typed := t.collectedScalar(producer, k)
	gaps := t.mayBeAbsent(producer.ComponentRef.Name, k, 0)
	if !typed && !gaps {
		return ""
	}
	return typedCollection(argoTask, k, typed, gaps)
}

// typedCollection is expr-lang code that drops absent elements of an
// aggregated list and/or parses each element of a list of scalars.
func typedCollection(argoTask, k string, typed, gaps bool) string {
	code := "fromJSON(tasks[" + exprString(argoTask) + "].outputs.parameters[" + exprString(k) + "])"
	if gaps {
		code = "filter(" + code + ", {# != " + exprString(step.AbsentValue) + "})"
	}
	if typed {
		code = "map(" + code + ", fromJSON(#))"
	}
	return "toJson(" + code + ")"
}

// mayBeAbsent reports whether a DAG component's output k can come from a
// task that a condition skipped, looking through nested DAGs.
func (t *translation) mayBeAbsent(compName, k string, depth int) bool {
	comp := t.spec.Components[compName]
	if comp == nil || comp.DAG == nil || comp.DAG.Outputs == nil || depth > 50 {
		return false
	}
	var producer, key string
	if o := comp.DAG.Outputs.Parameters[k]; o != nil && o.ValueFromParameter != nil {
		producer, key = o.ValueFromParameter.ProducerSubtask, o.ValueFromParameter.OutputParameterKey
	} else if a := comp.DAG.Outputs.Artifacts[strings.TrimPrefix(k, step.ArtifactParamPrefix)]; a != nil && len(a.ArtifactSelectors) == 1 {
		producer, key = a.ArtifactSelectors[0].ProducerSubtask, step.ArtifactParam(a.ArtifactSelectors[0].OutputArtifactKey)
	} else {
		return false
	}
	sub := comp.DAG.Tasks[producer]
	if sub == nil {
		return false
	}
	if conditionOf(sub) != "" {
		return true
	}
	return sub.ParameterIterator == nil && sub.ArtifactIterator == nil && t.mayBeAbsent(sub.ComponentRef.Name, key, depth+1)
}

// skippable reports whether a DAG task may end without outputs: a condition
// skipped it, or it is a loop that ran no iteration.
func skippable(task *ir.TaskSpec) bool {
	return task != nil && (conditionOf(task) != "" || task.ParameterIterator != nil || task.ArtifactIterator != nil)
}
