package translator

import (
	"encoding/json"
	"fmt"
	"sort"
	"strings"

	"github.com/kfpargo/kfpargo/ir"
	"github.com/kfpargo/kfpargo/step"
)

// importers finds the DAG's importer tasks and computes each one's artifact
// descriptor as an Argo value. An importer runs no pod: the descriptor is
// known at compile time (a constant URI) or is assembled by Argo from
// parameters, and consumers receive it in place of a task output. The
// descriptor has no sha256 and no size: the bytes were not made by the
// pipeline, so the consuming launcher downloads without a digest check and
// computes the digest itself.
func (t *translation) importers(at string, d *ir.DAGSpec, argoName map[string]string) map[string]string {
	out := map[string]string{}
	for _, tn := range sortedKeys(d.Tasks) {
		task := d.Tasks[tn]
		comp := t.spec.Components[task.ComponentRef.Name]
		if comp == nil || comp.DAG != nil {
			continue
		}
		exec := t.spec.DeploymentSpec.Executors[comp.ExecutorLabel]
		if exec == nil || exec.Importer == nil {
			continue
		}
		tat := at + ".dag.tasks." + tn
		if task.TriggerPolicy != nil && task.TriggerPolicy.Condition != "" || task.ParameterIterator != nil || task.ArtifactIterator != nil {
			t.fail(tat, "an importer task with a condition or a loop is not supported yet")
			continue
		}
		v, err := t.importerDescriptor(exec.Importer, tn, task, argoName)
		if err != nil {
			t.fail("deploymentSpec.executors."+comp.ExecutorLabel+".importer", "task %s: %v", tn, err)
			continue
		}
		out[tn] = v
	}
	return out
}

func (t *translation) importerDescriptor(imp *ir.ImporterSpec, tn string, task *ir.TaskSpec, argoName map[string]string) (string, error) {
	b := &jsonExprBuilder{t: t, tn: tn, task: task, argoName: argoName}
	fields := map[string]any{
		"schemaTitle": imp.TypeSchema.SchemaTitle,
	}
	if fields["schemaTitle"] == "" {
		fields["schemaTitle"] = "system.Artifact"
	}
	if len(imp.Metadata) > 0 {
		fields["metadata"] = imp.Metadata
	}
	if imp.DownloadToWorkspace {
		// No pod downloads it here: the descriptor carries KFP's marker and
		// each consuming launcher reads the artifact from the workspace,
		// downloading it there first if no step has yet (see package step).
		if t.workspace == nil {
			return "", fmt.Errorf("downloadToWorkspace needs a workspace (platforms.kubernetes.pipelineConfig.workspace)")
		}
		md := map[string]any{step.MetadataInWorkspace: true}
		for k, v := range imp.Metadata {
			md[k] = v
		}
		fields["metadata"] = md
	}
	uri := imp.ArtifactURI
	switch {
	case uri == nil:
		return "", fmt.Errorf("artifactUri is not set")
	case uri.RuntimeParameter != "":
		fields["uri"] = "{{$.inputs.parameters['" + uri.RuntimeParameter + "']}}"
	default:
		c := uri.Constant
		if c == nil {
			c = uri.ConstantValue
		}
		s, ok := c.(string)
		if !ok || s == "" {
			return "", fmt.Errorf("artifactUri.constant is not a URI: %v", c)
		}
		fields["uri"] = s
	}
	code, dynamic, err := b.value(fields)
	if err != nil {
		return "", err
	}
	if !dynamic {
		j, err := json.Marshal(fields)
		return string(j), err
	}
	return "{{=toJson(" + code + ")}}", nil
}

// jsonExprBuilder writes a JSON value as expr-lang code, turning the
// {{$.inputs.parameters['x']}} placeholders inside its strings into
// references to where the task's input x comes from.
type jsonExprBuilder struct {
	t        *translation
	tn       string
	task     *ir.TaskSpec
	argoName map[string]string
}

func (b *jsonExprBuilder) value(v any) (string, bool, error) {
	switch x := v.(type) {
	case map[string]any:
		keys := make([]string, 0, len(x))
		for k := range x {
			keys = append(keys, k)
		}
		sort.Strings(keys)
		parts := make([]string, 0, len(keys))
		dynamic := false
		for _, k := range keys {
			kc, kd, err := b.str(k)
			if err != nil {
				return "", false, err
			}
			if kd {
				kc = "(" + kc + ")"
			}
			vc, vd, err := b.value(x[k])
			if err != nil {
				return "", false, err
			}
			dynamic = dynamic || kd || vd
			parts = append(parts, kc+": "+vc)
		}
		// The space keeps two closing braces from ending the Argo tag.
		return "{" + strings.Join(parts, ", ") + " }", dynamic, nil
	case []any:
		parts := make([]string, 0, len(x))
		dynamic := false
		for _, e := range x {
			c, d, err := b.value(e)
			if err != nil {
				return "", false, err
			}
			dynamic = dynamic || d
			parts = append(parts, c)
		}
		return "[" + strings.Join(parts, ", ") + "]", dynamic, nil
	case string:
		return b.str(x)
	case nil:
		return "nil", false, nil
	default:
		j, err := json.Marshal(x)
		return string(j), false, err
	}
}

func (b *jsonExprBuilder) str(s string) (string, bool, error) {
	var parts []string
	dynamic := false
	for {
		i := strings.Index(s, "{{$.")
		if i < 0 {
			break
		}
		j := strings.Index(s[i:], "}}")
		if j < 0 {
			return "", false, fmt.Errorf("unterminated placeholder in %q", s)
		}
		if i > 0 {
			parts = append(parts, exprString(s[:i]))
		}
		name, ok := quotedIndex(s[i+4:i+j], "inputs.parameters")
		if !ok {
			return "", false, fmt.Errorf("placeholder %s is not supported here yet", s[i:i+j+2])
		}
		var in *ir.InputParameterSpec
		if b.task.Inputs != nil {
			in = b.task.Inputs.Parameters[name]
		}
		if in == nil {
			return "", false, fmt.Errorf("placeholder %s: the task has no input %q", s[i:i+j+2], name)
		}
		ref, err := b.t.inputResolver(b.task, b.argoName)(name)
		if err != nil {
			return "", false, err
		}
		if ref.kind != kindString {
			ref.code = "string(" + ref.code + ")"
		}
		parts = append(parts, ref.code)
		dynamic = true
		s = s[i+j+2:]
	}
	if s != "" || len(parts) == 0 {
		parts = append(parts, exprString(s))
	}
	return strings.Join(parts, " + "), dynamic, nil
}
