package launcher

import (
	"encoding/json"
	"fmt"
	"regexp"
	"strings"

	"github.com/kfpargo/kfpargo/artifact"
	"github.com/kfpargo/kfpargo/step"
)

// placeholderRE finds KFP placeholders; Argo's own {{...}} were resolved
// before the pod started.
var placeholderRE = regexp.MustCompile(`\{\{\$[^{}]*\}\}`)

// resolver substitutes KFP placeholders for one step.
type resolver struct {
	spec    *step.Spec
	layout  Layout
	input   *ExecutorInput
	outURIs map[string]string
}

// args resolves a command line. An argument that is a JSON object with the
// single key IfPresent or Concat is structural and may expand to zero or more
// arguments; anything else is a string with placeholders in it.
func (r *resolver) args(in []string) ([]string, error) {
	var out []string
	for _, a := range in {
		expanded, err := r.arg(a)
		if err != nil {
			return nil, fmt.Errorf("argument %q: %w", a, err)
		}
		out = append(out, expanded...)
	}
	return out, nil
}

func (r *resolver) arg(a string) ([]string, error) {
	if strings.HasPrefix(strings.TrimSpace(a), "{\"") {
		var obj map[string]json.RawMessage
		if json.Unmarshal([]byte(a), &obj) == nil && len(obj) == 1 {
			if body, ok := obj["IfPresent"]; ok {
				return r.ifPresent(body)
			}
			if body, ok := obj["Concat"]; ok {
				s, err := r.concat(body)
				return []string{s}, err
			}
		}
	}
	s, err := r.str(a)
	return []string{s}, err
}

func (r *resolver) ifPresent(body json.RawMessage) ([]string, error) {
	var ip struct {
		InputName string          `json:"InputName"`
		Then      json.RawMessage `json:"Then"`
		Else      json.RawMessage `json:"Else"`
	}
	if err := json.Unmarshal(body, &ip); err != nil {
		return nil, fmt.Errorf("IfPresent: %v", err)
	}
	branch := ip.Else
	if r.present(ip.InputName) {
		branch = ip.Then
	}
	return r.structuralList(branch)
}

func (r *resolver) concat(body json.RawMessage) (string, error) {
	parts, err := r.structuralList(body)
	if err != nil {
		return "", fmt.Errorf("Concat: %w", err)
	}
	return strings.Join(parts, ""), nil
}

// structuralList resolves a Then/Else/Concat operand: a string or a list
// whose items are strings or nested structural placeholders.
func (r *resolver) structuralList(raw json.RawMessage) ([]string, error) {
	if len(raw) == 0 || string(raw) == "null" {
		return nil, nil
	}
	var one string
	if json.Unmarshal(raw, &one) == nil {
		return r.arg(one)
	}
	var items []json.RawMessage
	if err := json.Unmarshal(raw, &items); err != nil {
		return nil, fmt.Errorf("expected a string or a list: %v", err)
	}
	var out []string
	for _, it := range items {
		var s string
		if json.Unmarshal(it, &s) == nil {
			got, err := r.arg(s)
			if err != nil {
				return nil, err
			}
			out = append(out, got...)
			continue
		}
		got, err := r.arg(string(it))
		if err != nil {
			return nil, err
		}
		out = append(out, got...)
	}
	return out, nil
}

func (r *resolver) present(name string) bool {
	if p, ok := r.spec.Params[name]; ok {
		return p.Present
	}
	if a, ok := r.spec.Artifacts[name]; ok {
		return a.Present
	}
	return false
}

// str substitutes every placeholder in s.
func (r *resolver) str(s string) (string, error) {
	var firstErr error
	out := placeholderRE.ReplaceAllStringFunc(s, func(m string) string {
		v, err := r.placeholder(m[2 : len(m)-2])
		if err != nil && firstErr == nil {
			firstErr = fmt.Errorf("%s: %w", m, err)
		}
		return v
	})
	return out, firstErr
}

// placeholder resolves one expression such as $.inputs.parameters['x'].
func (r *resolver) placeholder(expr string) (string, error) {
	segs, err := parseExpr(expr)
	if err != nil {
		return "", err
	}
	if len(segs) == 0 { // {{$}}
		b, err := json.Marshal(r.input)
		return string(b), err
	}
	switch {
	case match(segs, "inputs", "parameters", "*"):
		p, ok := r.spec.Params[segs[2]]
		if !ok {
			return "", fmt.Errorf("the step has no input parameter %q", segs[2])
		}
		if !p.Present {
			return "", fmt.Errorf("optional input parameter %q has no value", segs[2])
		}
		return step.EncodeValue(p.Type, p.Value)
	case match(segs, "inputs", "artifacts", "*") || (len(segs) >= 4 && match(segs[:3], "inputs", "artifacts", "*")):
		a, ok := r.spec.Artifacts[segs[2]]
		if !ok {
			return "", fmt.Errorf("the step has no input artifact %q", segs[2])
		}
		if !a.Present {
			return "", fmt.Errorf("optional input artifact %q has no value", segs[2])
		}
		if len(segs) == 3 { // the list form
			b, err := json.Marshal(runtimeArtifacts(segs[2], a).Artifacts)
			return string(b), err
		}
		d, err := a.Single()
		if err != nil {
			return "", fmt.Errorf("input artifact %q %w", segs[2], err)
		}
		return r.artifactField(d.URI, metadataOf(d), segs[3:])
	case match(segs, "outputs", "parameters", "*", "output_file"):
		if _, ok := r.spec.OutputParams[segs[2]]; !ok {
			return "", fmt.Errorf("the step has no output parameter %q", segs[2])
		}
		return r.layout.UserParamFile(segs[2]), nil
	case len(segs) >= 4 && match(segs[:3], "outputs", "artifacts", "*"):
		uri, ok := r.outURIs[segs[2]]
		if !ok {
			return "", fmt.Errorf("the step has no output artifact %q", segs[2])
		}
		return r.artifactField(uri, map[string]any{}, segs[3:])
	case match(segs, "outputs", "output_file"):
		return r.layout.ExecutorOutputFile(), nil
	case len(segs) == 1:
		return r.context(segs[0])
	}
	return "", fmt.Errorf("unsupported placeholder")
}

func (r *resolver) artifactField(uri string, md map[string]any, rest []string) (string, error) {
	switch {
	case match(rest, "uri"):
		return uri, nil
	case match(rest, "path"):
		loc, err := artifact.ParseURI(uri)
		if err != nil {
			return "", err
		}
		return r.layout.InputPath(loc, md, r.spec.Workspace), nil
	case match(rest, "metadata"):
		b, err := json.Marshal(md)
		return string(b), err
	case match(rest, "metadata", "*"):
		v, ok := md[rest[1]]
		if !ok {
			return "", fmt.Errorf("no metadata key %q", rest[1])
		}
		if s, ok := v.(string); ok {
			return s, nil
		}
		b, err := json.Marshal(v)
		return string(b), err
	}
	return "", fmt.Errorf("unsupported artifact field %q", strings.Join(rest, "."))
}

// context resolves the pipeline and task context placeholders.
func (r *resolver) context(name string) (string, error) {
	switch name {
	case "pipeline_job_name", "pipeline_job_resource_name":
		return r.spec.RunName, nil
	case "pipeline_job_uuid":
		return r.spec.RunUID, nil
	case "pipeline_task_name":
		return r.spec.Task, nil
	case "pipeline_task_uuid":
		// KFP gives an execution ID; the pod name is this task's unique ID.
		return r.spec.PodName, nil
	case "pipeline_root":
		return r.spec.PipelineRoot, nil
	}
	return "", fmt.Errorf("unsupported placeholder $.%s", name)
}

// match compares segments with a pattern where "*" matches any one segment.
func match(segs []string, pattern ...string) bool {
	if len(segs) != len(pattern) {
		return false
	}
	for i, p := range pattern {
		if p != "*" && p != segs[i] {
			return false
		}
	}
	return true
}

// parseExpr splits "$.a.b['c'].d" into [a b c d].
func parseExpr(expr string) ([]string, error) {
	expr = strings.TrimSpace(expr)
	if !strings.HasPrefix(expr, "$") {
		return nil, fmt.Errorf("placeholder must start with $")
	}
	rest := expr[1:]
	var segs []string
	for rest != "" {
		switch rest[0] {
		case '.':
			rest = rest[1:]
			end := strings.IndexAny(rest, ".[")
			if end < 0 {
				end = len(rest)
			}
			if end == 0 {
				return nil, fmt.Errorf("empty field name")
			}
			segs = append(segs, rest[:end])
			rest = rest[end:]
		case '[':
			if len(rest) < 4 || (rest[1] != '\'' && rest[1] != '"') {
				return nil, fmt.Errorf("expected ['name']")
			}
			q := rest[1]
			end := strings.IndexByte(rest[2:], q)
			if end < 0 || len(rest) < end+4 || rest[end+3] != ']' {
				return nil, fmt.Errorf("unterminated ['name']")
			}
			segs = append(segs, rest[2:end+2])
			rest = rest[end+4:]
		default:
			return nil, fmt.Errorf("unexpected %q", rest[:1])
		}
	}
	return segs, nil
}
