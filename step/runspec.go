package step

import (
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"strings"
	"time"

	"github.com/kfpargo/kfpargo/artifact"
	"github.com/kfpargo/kfpargo/ir"
)

// Spec is what the translator told the launcher about one
type Spec struct {
	PipelineName  string
	RunName       string
	RunUID        string
	Namespace     string
	Task          string
	PodName       string
	PipelineRoot  string
	PerPodOutputs bool
	// Workspace is where the pipeline workspace is mounted; empty without one.
	Workspace       string
	Params          map[string]Param
	Artifacts       map[string]InputArtifact
	OutputParams    map[string]ir.ParameterType
	OutputArtifacts map[string]string // name -> schema title
	Command         []string
	// Image and EnvNames are what the cache key needs to know of the
	// container: its image, and which of its variables are the component's.
	Image    string
	EnvNames []string
	Cache    CacheOptions
}

// CacheOptions are a cached step's settings.
type CacheOptions struct {
	Enabled bool
	Salt    string
	// MaxStaleness is the oldest entry to reuse; 0 means the operator's limit.
	MaxStaleness time.Duration
	// Refresh: run even when an entry exists, and replace it.
	Refresh bool
}

// Param is an input parameter; Present is false for an unbound optional one.
type Param struct {
	Type    ir.ParameterType
	Value   any
	Present bool
}

// InputArtifact is an input artifact: one descriptor, or any number for a
// list input. Present is false for an unbound optional one.
type InputArtifact struct {
	SchemaTitle string
	List        bool
	Present     bool
	Items       []*artifact.Descriptor
}

// Single is the one artifact of a non-list input.
func (a InputArtifact) Single() (*artifact.Descriptor, error) {
	if a.List || len(a.Items) != 1 {
		return nil, fmt.Errorf("is a list of %d artifacts; use the list placeholder", len(a.Items))
	}
	return a.Items[0], nil
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
	// The flag package's own error repeats the whole argument, which can be
	// a 100 KiB value; each flag's check records a short one instead, and
	// usage is printed only when asked for.
	fs.SetOutput(io.Discard)
	var flagErr error
	checked := func(flagName string, fn func(string) error) func(string) error {
		return func(v string) error {
			err := fn(v)
			if err != nil {
				flagErr = fmt.Errorf("%s %s: %w", flagName, Quote(v), err)
			}
			return err
		}
	}
	fs.Usage = func() {
		fs.SetOutput(usage)
		fmt.Fprintln(usage, "usage: launcher run [flags] -- COMMAND [ARGS...]\n\nRuns one KFP step: downloads inputs, resolves placeholders in COMMAND, runs it, uploads outputs.\nThe translator writes these flags; they are not meant to be typed by hand.\n\nFlags:")
		fs.PrintDefaults()
	}
	str := func(p *string, name, help string) { fs.StringVar(p, strings.TrimPrefix(name, "--"), "", help) }
	str(&s.PipelineName, FlagPipelineName, "pipeline name (pipelineInfo.name)")
	str(&s.RunName, FlagRunName, "run name (the Argo workflow's name)")
	str(&s.RunUID, FlagRunUID, "run UID (the Argo workflow's UID)")
	str(&s.Namespace, FlagNamespace, "namespace the run is in")
	str(&s.Task, FlagTask, "IR task name")
	str(&s.PodName, FlagPodName, "this pod's name")
	str(&s.PipelineRoot, FlagPipelineRoot, "pipeline root URI; outputs go to ROOT/NAMESPACE/RUN/TASK/OUTPUT")
	escaped := fs.Bool(strings.TrimPrefix(FlagEscapedBraces, "--"), false, "COMMAND's \"{{\" were escaped from Argo; undo that")
	str(&s.Workspace, FlagWorkspace, "where the pipeline workspace is mounted (pipelines with a workspace)")
	fs.BoolVar(&s.PerPodOutputs, strings.TrimPrefix(FlagPerPodOutputs, "--"), false, "put outputs at ROOT/NAMESPACE/RUN/TASK/POD/OUTPUT (tasks that run more than once per run)")
	fs.BoolVar(&s.Cache.Enabled, strings.TrimPrefix(FlagCache, "--"), false, "the step may be served from and written to the step cache")
	str(&s.Cache.Salt, FlagCacheSalt, "extra cache key material (the task's cachingOptions.cacheKey)")
	fs.Func(strings.TrimPrefix(FlagMaxCacheStaleness, "--"), "oldest cache entry to reuse, a duration such as 24h (default: the operator's limit)", checked(FlagMaxCacheStaleness, func(v string) error {
		d, err := time.ParseDuration(v)
		if err != nil || d <= 0 {
			return fmt.Errorf("%s is not a positive duration", Quote(v))
		}
		s.Cache.MaxStaleness = d
		return nil
	}))
	fs.BoolVar(&s.Cache.Refresh, strings.TrimPrefix(FlagRefreshCache, "--"), false, "run the step even on a cache hit, and replace the entry")
	str(&s.Image, FlagImage, "the main container's image (part of the cache key)")
	fs.Func(strings.TrimPrefix(FlagEnv, "--"), "NAME of an environment variable the component sets (part of the cache key; repeatable)", checked(FlagEnv, func(v string) error {
		if v == "" || strings.ContainsAny(v, "=\x00") {
			return fmt.Errorf("%s is not a variable name", Quote(v))
		}
		s.EnvNames = append(s.EnvNames, v)
		return nil
	}))
	fs.Func(strings.TrimPrefix(FlagParam, "--"), "input parameter NAME:TYPE=VALUE (repeatable)", checked(FlagParam, func(v string) error {
		name, typ, value, err := splitTyped(v, true)
		if err != nil {
			return err
		}
		t := ir.ParameterType(typ)
		if !t.Valid() {
			return fmt.Errorf("parameter %s: unknown type %s", name, Quote(typ))
		}
		if value == AbsentValue {
			s.Params[name] = Param{Type: t}
			return nil
		}
		// The cache key holds values as JSON, where every invalid byte
		// reads as U+FFFD: two different values would share a key.
		if err := checkUTF8(value); err != nil {
			return fmt.Errorf("parameter %s: %v", name, err)
		}
		decoded, err := DecodeValue(t, value)
		if err != nil {
			return fmt.Errorf("parameter %s: %v", name, err)
		}
		s.Params[name] = Param{Type: t, Value: decoded, Present: true}
		return nil
	}))
	fs.Func(strings.TrimPrefix(FlagArtifact, "--"), "input artifact NAME:SCHEMA_TITLE=DESCRIPTOR_JSON (repeatable)", checked(FlagArtifact, func(v string) error {
		name, schema, value, err := splitTyped(v, true)
		if err != nil {
			return err
		}
		in := InputArtifact{SchemaTitle: strings.TrimSuffix(schema, ListSuffix), List: strings.HasSuffix(schema, ListSuffix)}
		if value == AbsentValue {
			s.Artifacts[name] = in
			return nil
		}
		in.Present = true
		if in.List {
			in.Items, err = parseDescriptorList(value)
		} else {
			var d *artifact.Descriptor
			d, err = artifact.ParseDescriptor(value)
			in.Items = []*artifact.Descriptor{d}
		}
		if err != nil {
			return fmt.Errorf("artifact %s: %v", name, err)
		}
		s.Artifacts[name] = in
		return nil
	}))
	fs.Func(strings.TrimPrefix(FlagOutputParam, "--"), "output parameter NAME:TYPE (repeatable)", checked(FlagOutputParam, func(v string) error {
		name, typ, _, err := splitTyped(v, false)
		if err != nil {
			return err
		}
		if t := ir.ParameterType(typ); t.Valid() {
			s.OutputParams[name] = t
			return nil
		}
		return fmt.Errorf("output parameter %s: unknown type %s", name, Quote(typ))
	}))
	fs.Func(strings.TrimPrefix(FlagOutputArtifact, "--"), "output artifact NAME:SCHEMA_TITLE (repeatable)", checked(FlagOutputArtifact, func(v string) error {
		name, schema, _, err := splitTyped(v, false)
		if err != nil {
			return err
		}
		s.OutputArtifacts[name] = schema
		return nil
	}))
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			fs.Usage()
		} else if flagErr != nil {
			return nil, flagErr
		}
		return nil, err
	}
	s.Command = fs.Args()
	s.resolveTaskContext()
	if *escaped {
		for i, a := range s.Command {
			s.Command[i] = UnescapeBraces(a)
		}
	}
	if len(s.Command) == 0 {
		return nil, errors.New("no command: expected `-- COMMAND [ARGS...]` after the flags")
	}
	if s.Cache.Enabled && s.Image == "" {
		return nil, fmt.Errorf("%s is required with %s", FlagImage, FlagCache)
	}
	if len(s.OutputArtifacts) > 0 && s.PipelineRoot == "" {
		return nil, errors.New("--pipeline-root is required when the step has output artifacts")
	}
	required := []struct{ v, name string }{{s.RunName, FlagRunName}, {s.Namespace, FlagNamespace}, {s.Task, FlagTask}}
	if s.PerPodOutputs {
		required = append(required, struct{ v, name string }{s.PodName, FlagPodName})
	}
	for _, req := range required {
		if req.v == "" && len(s.OutputArtifacts) > 0 {
			return nil, fmt.Errorf("%s is required when the step has output artifacts", req.name)
		}
	}
	return s, nil
}

// taskUUIDPlaceholder is the one context placeholder the translator cannot
// resolve in a constant: the task's pod does not exist yet when Argo binds
// a DAG task's arguments, so the value arrives here unresolved.
const taskUUIDPlaceholder = "{{$.pipeline_task_uuid}}"

// resolveTaskContext fills in {{$.pipeline_task_uuid}} in string parameter
// values, with the same value the placeholder has in the command.
func (s *Spec) resolveTaskContext() {
	for name, p := range s.Params {
		if v, ok := p.Value.(string); ok && p.Type == ir.TypeString && strings.Contains(v, taskUUIDPlaceholder) {
			p.Value = strings.ReplaceAll(v, taskUUIDPlaceholder, s.PodName)
			s.Params[name] = p
		}
	}
}

// parseDescriptorList reads a list input. Argo aggregates a loop's outputs
// into a JSON array; an array whose items are arrays (nested loops) may hold
// them as JSON text, so strings are parsed again and arrays flattened.
func parseDescriptorList(value string) ([]*artifact.Descriptor, error) {
	var v any
	if err := json.Unmarshal([]byte(value), &v); err != nil {
		return nil, fmt.Errorf("artifact list is not JSON: %v", err)
	}
	out := []*artifact.Descriptor{}
	var walk func(v any, depth int) error
	walk = func(v any, depth int) error {
		if depth > 16 {
			return errors.New("artifact list nested too deeply")
		}
		switch x := v.(type) {
		case []any:
			for _, e := range x {
				if err := walk(e, depth+1); err != nil {
					return err
				}
			}
			return nil
		case string:
			if x == AbsentValue {
				return nil // an iteration whose condition was false
			}
			var inner any
			if err := json.Unmarshal([]byte(x), &inner); err != nil {
				return fmt.Errorf("artifact list item %s is not a descriptor", Quote(x))
			}
			return walk(inner, depth+1)
		case map[string]any:
			b, _ := json.Marshal(x)
			d, err := artifact.ParseDescriptor(string(b))
			if err != nil {
				return err
			}
			out = append(out, d)
			return nil
		}
		return fmt.Errorf("artifact list item %v is not a descriptor", v)
	}
	if err := walk(v, 0); err != nil {
		return nil, err
	}
	return out, nil
}

// splitTyped splits NAME:TYPE[=VALUE].
func splitTyped(v string, withValue bool) (name, typ, value string, err error) {
	head := v
	if withValue {
		var ok bool
		head, value, ok = strings.Cut(v, "=")
		if !ok {
			return "", "", "", errors.New("expected NAME:TYPE=VALUE")
		}
	}
	name, typ, ok := strings.Cut(head, ":")
	if !ok || name == "" || typ == "" {
		return "", "", "", fmt.Errorf("%s: expected NAME:TYPE", Quote(head))
	}
	if !ValidName(name) {
		return "", "", "", fmt.Errorf("%s is not a name (1 to %d letters, digits, '_' and '-')", Quote(name), MaxNameBytes)
	}
	return name, typ, value, nil
}
