package translator

import (
	"fmt"
	"strings"

	"github.com/kfpargo/kfpargo/ir"
	"github.com/kfpargo/kfpargo/step"
)

// constantWithPlaceholders resolves the {{$.…}} placeholders the SDK leaves
// in a constant input (f-strings over pipeline channels, dsl.PIPELINE_*
// values) into Argo variables, so the task receives the finished string and
// the launcher needs nothing new. A placeholder that only the step's pod
// knows (its task UUID, the workspace path) is not supported yet.
func (t *translation) constantWithPlaceholders(s, irTask string, task *ir.TaskSpec, argoName map[string]string) (string, error) {
	return replacePlaceholders(s, func(expr string) (string, error) {
		return t.constantPlaceholder(expr, irTask, task, argoName)
	})
}

// replacePlaceholders substitutes every {{$.EXPR}} in s with fn(EXPR).
func replacePlaceholders(s string, fn func(expr string) (string, error)) (string, error) {
	var b strings.Builder
	for {
		i := strings.Index(s, "{{$.")
		if i < 0 {
			b.WriteString(s)
			return b.String(), nil
		}
		j := strings.Index(s[i:], "}}")
		if j < 0 {
			return "", fmt.Errorf("unterminated placeholder in %q", s)
		}
		b.WriteString(s[:i])
		v, err := fn(s[i+4 : i+j])
		if err != nil {
			return "", err
		}
		b.WriteString(v)
		s = s[i+j+2:]
	}
}

func (t *translation) constantPlaceholder(ph, irTask string, task *ir.TaskSpec, argoName map[string]string) (string, error) {
	switch ph {
	case "pipeline_job_name", "pipeline_job_resource_name":
		return "{{workflow.name}}", nil
	case "pipeline_job_uuid":
		return "{{workflow.uid}}", nil
	case "pipeline_task_name":
		return irTask, nil
	case "pipeline_root":
		return t.opts.PipelineRoot, nil
	case "pipeline_job_create_time_utc":
		return "{{workflow.creationTimestamp}}", nil
	case "pipeline_task_uuid":
		// Known only once the pod exists: left for the launcher, which
		// resolves it in parameter values (Argo leaves {{$...}} alone).
		return "{{$." + ph + "}}", nil
	case "workspace_path":
		if t.workspace == nil {
			return "", fmt.Errorf("placeholder {{$.workspace_path}}: the pipeline has no workspace (platforms.kubernetes.pipelineConfig.workspace)")
		}
		return step.WorkspaceMountPath, nil
	}
	name, ok := quotedIndex(ph, "inputs.parameters")
	if !ok {
		return "", fmt.Errorf("placeholder {{$.%s}} in a constant is not supported yet", ph)
	}
	var in *ir.InputParameterSpec
	if task.Inputs != nil {
		in = task.Inputs.Parameters[name]
	}
	if in == nil {
		return "", fmt.Errorf("placeholder {{$.%s}}: the task has no input %q", ph, name)
	}
	if in.RuntimeValue != nil {
		v := in.RuntimeValue.Constant
		if v == nil {
			v = in.RuntimeValue.ConstantValue
		}
		if s, ok := v.(string); ok && strings.Contains(s, "{{$.") {
			return "", fmt.Errorf("placeholder {{$.%s}}: input %q is itself a constant with placeholders", ph, name)
		}
	}
	v, err := t.parameterSource(in, &ir.ParameterSpec{ParameterType: ir.TypeString}, irTask, task, argoName)
	if err == nil && in.ParameterExpressionSelector != "" {
		v, err = t.selectorSource(in, argoName)
	}
	return v, err
}

// quotedIndex reads PREFIX['NAME'] (or ["NAME"]) and returns NAME.
func quotedIndex(s, prefix string) (string, bool) {
	rest, ok := strings.CutPrefix(s, prefix+"[")
	if !ok || len(rest) < 3 || !strings.HasSuffix(rest, "]") {
		return "", false
	}
	rest = rest[:len(rest)-1]
	q := rest[0]
	if (q != '\'' && q != '"') || rest[len(rest)-1] != q {
		return "", false
	}
	return rest[1 : len(rest)-1], true
}
