package translator

import (
	"encoding/json"
	"fmt"
	"sort"
	"strings"
	"time"

	wfv1 "github.com/argoproj/argo-workflows/v3/pkg/apis/workflow/v1alpha1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/kfpargo/kfpargo/ir"
	"github.com/kfpargo/kfpargo/step"
)

// Labels and annotations put on the objects the translator writes.
const (
	LabelPipeline          = "kfpargo.io/pipeline"
	AnnotationPipelineName = "kfpargo.io/pipeline-name"
	AnnotationPipelineRoot = "kfpargo.io/pipeline-root"
	LabelComponent         = "kfpargo.io/component"
	AnnotationTask         = "kfpargo.io/task"
)

// Translate turns a pipeline into an Argo Workflow. Problems are returned as
// ir.Errors with the IR field path of each.
func Translate(p *ir.Pipeline, opts Options) (*wfv1.Workflow, error) {
	spec := p.Spec
	opts = opts.withDefaults(spec.DefaultPipelineRoot)
	if opts.Kind != KindWorkflow {
		return nil, ir.Errors{{Path: "--kind", Msg: fmt.Sprintf("Translate makes Workflows; use TranslateObject for kind %q", opts.Kind)}}
	}
	t := &translation{
		spec:        spec,
		opts:        opts,
		names:       newNamer(),
		byComponent: map[string]string{},
		building:    map[string]bool{},
		retries:     map[string]string{},
		extraInputs: map[string][]string{},
		perPod:      perPodComponents(spec),
		cacheCopies: map[cacheCopy]string{},

		k8s:            p.Kubernetes(),
		platformInputs: map[string][]platformInput{},
		pullSecrets:    map[string]bool{},
	}
	if pc := t.k8s; pc != nil && pc.PipelineConfig != nil {
		t.workspace = pc.PipelineConfig.Workspace
	}
	t.checkArgoNames()
	t.baseCache = t.baseCaches()
	if v := opts.MaxCacheStaleness; v != "" {
		if d, err := time.ParseDuration(v); err != nil || d <= 0 {
			t.fail("--max-cache-staleness", "%q is not a positive duration such as 24h or 30m", v)
		}
	}
	entry := t.names.unique(spec.PipelineInfo.Name)
	t.dagTemplate(entry, "root", spec.Root)
	args := t.arguments()
	wfSpec := wfv1.WorkflowSpec{
		Entrypoint:         entry,
		Arguments:          args,
		ServiceAccountName: opts.ServiceAccount,
	}
	t.workflowSettings(&wfSpec)
	if len(t.errs) > 0 {
		sort.SliceStable(t.errs, func(i, j int) bool { return t.errs[i].Path < t.errs[j].Path })
		return nil, t.errs
	}
	sort.Slice(t.templates, func(i, j int) bool { return t.templates[i].Name < t.templates[j].Name })
	wfSpec.Templates = t.templates
	name := dnsName(spec.PipelineInfo.Name)
	return &wfv1.Workflow{
		TypeMeta: metav1.TypeMeta{APIVersion: "argoproj.io/v1alpha1", Kind: "Workflow"},
		ObjectMeta: metav1.ObjectMeta{
			GenerateName: name + "-",
			Labels:       map[string]string{LabelPipeline: name},
			Annotations: map[string]string{
				AnnotationPipelineName: spec.PipelineInfo.Name,
				AnnotationPipelineRoot: opts.PipelineRoot,
			},
		},
		Spec: wfSpec,
	}, nil
}

type translation struct {
	spec        *ir.PipelineSpec
	opts        Options
	names       *namer
	templates   []wfv1.Template
	byComponent map[string]string       // component name -> template name
	building    map[string]bool         // DAG components being translated, to stop recursion
	retries     map[string]string       // template + retry policy -> template copy
	siblings    map[string]*ir.TaskSpec // tasks of the DAG whose task is being translated
	extraInputs map[string][]string     // component -> template inputs its executor reads beyond its declared ones
	perPod      map[string]bool         // executor components whose outputs need the pod name in their URI
	baseCache   map[string]cacheConfig  // component -> caching options its template carries
	cacheCopies map[cacheCopy]string    // template + caching options -> template copy
	errs        ir.Errors

	// The Kubernetes platform spec (platform.go, workspace.go).
	k8s            *ir.SinglePlatformSpec
	workspace      *ir.WorkspaceConfig
	platformInputs map[string][]platformInput // component -> template inputs carrying run-time config values
	pullSecrets    map[string]bool            // constant image pull secrets, set on the workflow
	uses           map[string][]ir.TaskUse    // executor label -> tasks running it
}

func (t *translation) fail(at string, format string, args ...any) {
	t.errs = append(t.errs, &ir.FieldError{Path: at, Msg: fmt.Sprintf(format, args...)})
}

// arguments are the workflow's run arguments: every pipeline input, with
// --param values checked against the input's type.
func (t *translation) arguments() wfv1.Arguments {
	var defs map[string]*ir.ParameterSpec
	var arts map[string]*ir.ArtifactSpec
	if in := t.spec.Root.InputDefinitions; in != nil {
		defs, arts = in.Parameters, in.Artifacts
	}
	for _, name := range sortedKeys(t.opts.Params) {
		if defs[name] == nil && arts[name] == nil {
			t.fail("--param "+name, "the pipeline has no input %q (inputs: %s)", name, strings.Join(sortedKeys(defs), ", "))
		}
	}
	var args wfv1.Arguments
	for _, name := range sortedKeys(defs) {
		def := defs[name]
		at := "root.inputDefinitions.parameters." + name
		var raw any
		switch v, ok := t.opts.Params[name]; {
		case ok:
			raw, at = v, "--param "+name
		case def.HasDefault():
			raw = def.DefaultValue
		case def.IsOptional:
			raw = step.AbsentValue
		case t.opts.allowMissingInputs:
			args.Parameters = append(args.Parameters, wfv1.Parameter{Name: name})
			continue
		default:
			t.fail(at, "required pipeline input has no value: pass --param %s=VALUE", name)
			continue
		}
		value, err := encode(def, raw)
		if err != nil {
			t.fail(at, "%v", err)
			continue
		}
		args.Parameters = append(args.Parameters, wfv1.Parameter{Name: name, Value: wfv1.AnyStringPtr(value)})
	}
	for _, name := range sortedKeys(arts) {
		if p, ok := t.rootArtifact(name, arts[name]); ok {
			args.Parameters = append(args.Parameters, p)
		}
	}
	return args
}

// rootArtifact is the run argument of a pipeline input artifact: the
// descriptor of an existing object, given as --param NAME=URI. Like an
// importer's, it has no digest; the consuming launcher checks none.
func (t *translation) rootArtifact(name string, def *ir.ArtifactSpec) (wfv1.Parameter, bool) {
	p := wfv1.Parameter{Name: step.ArtifactParam(name)}
	uri, ok := t.opts.Params[name]
	switch {
	case ok && uri == "":
		t.fail("--param "+name, "an input artifact needs a URI")
		return p, false
	case ok:
		b, err := json.Marshal(map[string]any{"uri": uri, "schemaTitle": schemaTitle(def)})
		if err != nil {
			t.fail("--param "+name, "%v", err)
			return p, false
		}
		p.Value = wfv1.AnyStringPtr(string(b))
	case def.IsOptional:
		p.Value = wfv1.AnyStringPtr(step.AbsentValue)
	case t.opts.allowMissingInputs:
	default:
		t.fail("root.inputDefinitions.artifacts."+name, "required pipeline input artifact has no value: pass --param %s=URI", name)
		return p, false
	}
	return p, true
}

func encode(def *ir.ParameterSpec, v any) (string, error) {
	if s, ok := v.(string); ok && s == step.AbsentValue {
		return s, nil
	}
	s, err := step.EncodeValue(paramType(def), v)
	if err != nil {
		return "", err
	}
	if err := step.CheckParamValue(s); err != nil {
		return "", err
	}
	return s, nil
}

// paramType maps the pre-2.0 primitive types onto parameterType.
func paramType(def *ir.ParameterSpec) ir.ParameterType {
	if def.ParameterType != "" {
		return def.ParameterType
	}
	switch def.Type {
	case "INT":
		return ir.TypeInteger
	case "DOUBLE":
		return ir.TypeDouble
	}
	return ir.TypeString
}

// componentTemplate returns the template name for a component, translating
// it on first use.
func (t *translation) componentTemplate(name string, at string) (string, bool) {
	if tn, ok := t.byComponent[name]; ok {
		return tn, true
	}
	comp := t.spec.Components[name]
	if comp == nil {
		t.fail(at, "no component %q", name)
		return "", false
	}
	cat := "components." + name
	tn := t.names.unique(strings.TrimPrefix(name, "comp-"))
	t.byComponent[name] = tn
	switch {
	case comp.DAG != nil:
		if t.building[name] {
			t.fail(at, "component %q contains itself", name)
			return "", false
		}
		t.building[name] = true
		t.dagTemplate(tn, cat, comp)
		delete(t.building, name)
	default:
		exec := t.spec.DeploymentSpec.Executors[comp.ExecutorLabel]
		switch {
		case exec == nil:
			t.fail(cat+".executorLabel", "no executor %q", comp.ExecutorLabel)
			return "", false
		case exec.Container != nil && isPVCStub(exec.Container.Image):
			t.pvcTemplate(tn, name, comp, exec.Container)
		case exec.Container != nil:
			t.containerTemplate(tn, name, comp, exec.Container, "deploymentSpec.executors."+comp.ExecutorLabel+".container")
		case exec.Importer != nil:
			t.fail("deploymentSpec.executors."+comp.ExecutorLabel+".importer", "importer executors are not supported yet")
			return "", false
		default:
			t.fail("deploymentSpec.executors."+comp.ExecutorLabel, "only container executors are supported")
			return "", false
		}
	}
	return tn, true
}

func sortedKeys[V any](m map[string]V) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}
