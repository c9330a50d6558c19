package launcher

import (
	"errors"
	"flag"
	"fmt"
	"io"
	"sort"
	"strings"

	"github.com/kfpargo/kfpargo/artifact"
	"github.com/kfpargo/kfpargo/ir"
	"github.com/kfpargo/kfpargo/step"
)

// Spec is what the translator told the launcher about one step.
type Spec struct {
	PipelineName    string
	RunName         string
	RunUID          string
	Namespace       string
	Task            string
	PodName         string
	PipelineRoot    string
	Params          map[string]Param
	Artifacts       map[string]InputArtifact
	OutputParams    map[string]ir.ParameterType
	OutputArtifacts map[string]string // name -> schema title
	Command         []string
}

// Param is an input parameter; Present is false for an unbound optional one.
type Param struct {
	Type    ir.ParameterType
	Value   any
	Present bool
}

// InputArtifact is an input artifact; Desc is nil for an unbound optional one.
type InputArtifact struct {
	SchemaTitle string
	Desc        *artifact.Descriptor
}

// ParseRunArgs reads `launcher run` flags up to "--" and the command after it.
func ParseRunArgs(args []string, usage io.Writer) (*Spec, error) {
	s := &Spec{
		Params:          map[string]Param{},
		Artifacts:       map[string]InputArtifact{},
		OutputParams:    map[string]ir.ParameterType{},
		OutputArtifacts: map[string]string{},
	}
	fs := flag.NewFlagSet("launcher run", flag.ContinueOnError)
	fs.SetOutput(usage)
	fs.Usage = func() {
		fmt.Fprintln(usage, "usage: launcher run [flags] -- COMMAND [ARGS...]\n\nRuns one KFP step: downloads inputs, resolves placeholders in COMMAND, runs it, uploads outputs.\nThe translator writes these flags; they are not meant to be typed by hand.\n\nFlags:")
		fs.PrintDefaults()
	}
	str := func(p *string, name, help string) { fs.StringVar(p, strings.TrimPrefix(name, "--"), "", help) }
	str(&s.PipelineName, step.FlagPipelineName, "pipeline name (pipelineInfo.name)")
	str(&s.RunName, step.FlagRunName, "run name (the Argo workflow's name)")
	str(&s.RunUID, step.FlagRunUID, "run UID (the Argo workflow's UID)")
	str(&s.Namespace, step.FlagNamespace, "namespace the run is in")
	str(&s.Task, step.FlagTask, "IR task name")
	str(&s.PodName, step.FlagPodName, "this pod's name")
	str(&s.PipelineRoot, step.FlagPipelineRoot, "pipeline root URI; outputs go to ROOT/NAMESPACE/RUN/TASK/OUTPUT")
	fs.Func(strings.TrimPrefix(step.FlagParam, "--"), "input parameter NAME:TYPE=VALUE (repeatable)", func(v string) error {
		name, typ, value, err := splitTyped(v, true)
		if err != nil {
			return err
		}
		t := ir.ParameterType(typ)
		if !t.Valid() {
			return fmt.Errorf("parameter %s: unknown type %q", name, typ)
		}
		if value == step.AbsentValue {
			s.Params[name] = Param{Type: t}
			return nil
		}
		decoded, err := step.DecodeValue(t, value)
		if err != nil {
			return fmt.Errorf("parameter %s: %v", name, err)
		}
		s.Params[name] = Param{Type: t, Value: decoded, Present: true}
		return nil
	})
	fs.Func(strings.TrimPrefix(step.FlagArtifact, "--"), "input artifact NAME:SCHEMA_TITLE=DESCRIPTOR_JSON (repeatable)", func(v string) error {
		name, schema, value, err := splitTyped(v, true)
		if err != nil {
			return err
		}
		in := InputArtifact{SchemaTitle: schema}
		if value != step.AbsentValue {
			if in.Desc, err = artifact.ParseDescriptor(value); err != nil {
				return fmt.Errorf("artifact %s: %v", name, err)
			}
		}
		s.Artifacts[name] = in
		return nil
	})
	fs.Func(strings.TrimPrefix(step.FlagOutputParam, "--"), "output parameter NAME:TYPE (repeatable)", func(v string) error {
		name, typ, _, err := splitTyped(v, false)
		if err != nil {
			return err
		}
		if t := ir.ParameterType(typ); t.Valid() {
			s.OutputParams[name] = t
			return nil
		}
		return fmt.Errorf("output parameter %s: unknown type %q", name, typ)
	})
	fs.Func(strings.TrimPrefix(step.FlagOutputArtifact, "--"), "output artifact NAME:SCHEMA_TITLE (repeatable)", func(v string) error {
		name, schema, _, err := splitTyped(v, false)
		if err != nil {
			return err
		}
		s.OutputArtifacts[name] = schema
		return nil
	})
	if err := fs.Parse(args); err != nil {
		return nil, err
	}
	s.Command = fs.Args()
	if len(s.Command) == 0 {
		return nil, errors.New("no command: expected `-- COMMAND [ARGS...]` after the flags")
	}
	if len(s.OutputArtifacts) > 0 && s.PipelineRoot == "" {
		return nil, errors.New("--pipeline-root is required when the step has output artifacts")
	}
	for _, req := range []struct{ v, name string }{{s.RunName, step.FlagRunName}, {s.Namespace, step.FlagNamespace}, {s.Task, step.FlagTask}} {
		if req.v == "" && len(s.OutputArtifacts) > 0 {
			return nil, fmt.Errorf("%s is required when the step has output artifacts", req.name)
		}
	}
	return s, nil
}

// splitTyped splits NAME:TYPE[=VALUE].
func splitTyped(v string, withValue bool) (name, typ, value string, err error) {
	head := v
	if withValue {
		var ok bool
		head, value, ok = strings.Cut(v, "=")
		if !ok {
			return "", "", "", fmt.Errorf("%q: expected NAME:TYPE=VALUE", v)
		}
	}
	name, typ, ok := strings.Cut(head, ":")
	if !ok || name == "" || typ == "" {
		return "", "", "", fmt.Errorf("%q: expected NAME:TYPE", head)
	}
	return name, typ, value, nil
}

func sortedKeys[V any](m map[string]V) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}
