package translator

import (
	"encoding/json"
	"fmt"
	"slices"
	"strconv"
	"strings"

	wfv1 "github.com/argoproj/argo-workflows/v3/pkg/apis/workflow/v1alpha1"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/resource"

	"github.com/kfpargo/kfpargo/artifact"
	"github.com/kfpargo/kfpargo/ir"
	"github.com/kfpargo/kfpargo/step"
)

// containerTemplate translates an executor component into one Argo container
// template. The main container keeps the component's image; the launcher,
// copied in by an init container, wraps the component's command and resolves
// its placeholders at run time.
func (t *translation) containerTemplate(name, compName string, comp *ir.ComponentSpec, c *ir.ContainerSpec, at string) {
	userArgv := append(append([]string{}, c.Command...), c.Args...)
	if len(c.Command) == 0 {
		// The image's entrypoint is meant; the launcher wraps the command,
		// so it must be spelled out.
		img, ok := t.opts.Images[c.Image]
		if !ok {
			reason := t.opts.ImageLookupErrors[c.Image]
			if reason == "" {
				reason = "no registry lookup was made"
			}
			t.fail(at+".command", "the container has no command, so the image's entrypoint is meant, and kfpargo must know it to wrap it: it could not be read from the registry (%s); pass --image-entrypoint %s=CMD", reason, c.Image)
			return
		}
		userArgv = append(append([]string{}, img.Entrypoint...), c.Args...)
		if len(c.Args) == 0 {
			userArgv = append(userArgv, img.Cmd...)
		}
	}
	tmpl := wfv1.Template{
		Name: name,
		Metadata: wfv1.Metadata{
			Labels: map[string]string{LabelComponent: dnsName(strings.TrimPrefix(compName, "comp-"))},
		},
		Volumes: []corev1.Volume{{Name: step.VolumeName, VolumeSource: corev1.VolumeSource{EmptyDir: &corev1.EmptyDirVolumeSource{}}}},
	}
	mount := corev1.VolumeMount{Name: step.VolumeName, MountPath: step.MountPath}
	tmpl.InitContainers = []wfv1.UserContainer{{Container: corev1.Container{
		Name:         step.InitContainerName,
		Image:        t.opts.LauncherImage,
		Command:      []string{"launcher", "copy", step.LauncherPath},
		VolumeMounts: []corev1.VolumeMount{mount},
	}}}

	args := []string{
		step.FlagPipelineName, t.spec.PipelineInfo.Name,
		step.FlagRunName, "{{workflow.name}}",
		step.FlagRunUID, "{{workflow.uid}}",
		step.FlagNamespace, "{{workflow.namespace}}",
		step.FlagPodName, "{{pod.name}}",
		step.FlagTask, "{{inputs.parameters." + step.TaskParam + "}}",
		step.FlagPipelineRoot, t.opts.PipelineRoot,
	}
	if t.perPod[compName] && comp.OutputDefinitions != nil && len(comp.OutputDefinitions.Artifacts) > 0 {
		args = append(args, step.FlagPerPodOutputs)
	}
	tmpl.Inputs.Parameters = append(tmpl.Inputs.Parameters, wfv1.Parameter{Name: step.TaskParam})
	if in := comp.InputDefinitions; in != nil {
		for _, p := range sortedKeys(in.Parameters) {
			def := in.Parameters[p]
			param := wfv1.Parameter{Name: p}
			if v, ok, err := defaultValue(def); err != nil {
				t.fail("components."+compName+".inputDefinitions.parameters."+p+".defaultValue", "%v", err)
			} else if ok {
				param.Default = wfv1.AnyStringPtr(v)
			}
			tmpl.Inputs.Parameters = append(tmpl.Inputs.Parameters, param)
			args = append(args, step.FlagParam, fmt.Sprintf("%s:%s={{inputs.parameters.%s}}", p, paramType(def), p))
		}
		for _, a := range sortedKeys(in.Artifacts) {
			def := in.Artifacts[a]
			param := wfv1.Parameter{Name: step.ArtifactParam(a)}
			if def.IsOptional {
				param.Default = wfv1.AnyStringPtr(step.AbsentValue)
			}
			tmpl.Inputs.Parameters = append(tmpl.Inputs.Parameters, param)
			typ := schemaTitle(def)
			if def.IsArtifactList {
				typ += step.ListSuffix
			}
			args = append(args, step.FlagArtifact, fmt.Sprintf("%s:%s={{inputs.parameters.%s}}", a, typ, step.ArtifactParam(a)))
		}
	}
	if out := comp.OutputDefinitions; out != nil {
		for _, p := range sortedKeys(out.Parameters) {
			tmpl.Outputs.Parameters = append(tmpl.Outputs.Parameters, wfv1.Parameter{
				Name:      p,
				ValueFrom: &wfv1.ValueFrom{Path: step.OutputParameterFile(p)},
			})
			args = append(args, step.FlagOutputParam, p+":"+string(paramType(out.Parameters[p])))
		}
		for _, a := range sortedKeys(out.Artifacts) {
			tmpl.Outputs.Parameters = append(tmpl.Outputs.Parameters, wfv1.Parameter{
				Name:      step.ArtifactParam(a),
				ValueFrom: &wfv1.ValueFrom{Path: step.OutputArtifactFile(a)},
			})
			args = append(args, step.FlagOutputArtifact, a+":"+schemaTitle(out.Artifacts[a]))
		}
		for _, a := range sortedKeys(out.Artifacts) {
			if step.IsMetrics(schemaTitle(out.Artifacts[a])) {
				tmpl.Outputs.Parameters = append(tmpl.Outputs.Parameters, wfv1.Parameter{
					Name:      step.MetricsParam,
					ValueFrom: &wfv1.ValueFrom{Path: step.MetricsFile},
				})
				break
			}
		}
	}
	for i, a := range c.Command {
		if err := step.CheckArg(a); err != nil {
			t.fail(fmt.Sprintf("%s.command[%d]", at, i), "%v", err)
		}
	}
	for i, a := range c.Args {
		if err := step.CheckArg(a); err != nil {
			t.fail(fmt.Sprintf("%s.args[%d]", at, i), "%v", err)
		}
	}
	user := userArgv
	if slices.ContainsFunc(user, step.NeedsBraceEscape) {
		// Argo would substitute the user's own {{...}}; KFP passes them on.
		args = append(args, step.FlagEscapedBraces)
		for i, a := range user {
			user[i] = step.EscapeBraces(a)
		}
	}
	args = append(args, "--")
	args = append(args, user...)

	main := &corev1.Container{
		Image:        c.Image,
		Command:      []string{step.LauncherPath, "run"},
		Args:         args,
		VolumeMounts: []corev1.VolumeMount{mount},
	}
	// KFP's local artifact paths (/minio/BUCKET/KEY, ...) must be writable
	// whatever user the image runs as.
	for _, dir := range artifact.LocalRoots {
		name := step.VolumeName + "-" + strings.TrimPrefix(dir, "/")
		tmpl.Volumes = append(tmpl.Volumes, corev1.Volume{Name: name, VolumeSource: corev1.VolumeSource{EmptyDir: &corev1.EmptyDirVolumeSource{}}})
		main.VolumeMounts = append(main.VolumeMounts, corev1.VolumeMount{Name: name, MountPath: dir})
	}
	for _, e := range c.Env {
		main.Env = append(main.Env, corev1.EnvVar{Name: e.Name, Value: e.Value})
	}
	main.EnvFrom = append(main.EnvFrom, t.s3Env()...)
	if c.Resources != nil {
		var patch resourcePatch
		main.Resources = t.resources(at+".resources", c.Resources, &patch)
		if len(patch.limits)+len(patch.requests) > 0 {
			t.addPatch(&tmpl, compName, comp, &patch)
		}
	}
	tmpl.Container = main
	t.applyPlatform(&tmpl, compName, comp)
	t.applyCache(&tmpl, t.baseCache[compName])
	t.templates = append(t.templates, tmpl)
}

func schemaTitle(a *ir.ArtifactSpec) string {
	if a.ArtifactType.SchemaTitle != "" {
		return a.ArtifactType.SchemaTitle
	}
	return "system.Artifact"
}

// s3Env imports the object-store Secret into the launcher's environment,
// so no credential is ever written into the workflow. It is optional: a
// step without artifacts runs without it, and the launcher says which
// variable is missing when a step needs it.
func (t *translation) s3Env() []corev1.EnvFromSource {
	return []corev1.EnvFromSource{optionalSecretEnv(step.EnvS3Prefix, t.opts.S3Secret)}
}

func optionalSecretEnv(prefix, secret string) corev1.EnvFromSource {
	optional := true
	return corev1.EnvFromSource{
		Prefix: prefix,
		SecretRef: &corev1.SecretEnvSource{
			LocalObjectReference: corev1.LocalObjectReference{Name: secret},
			Optional:             &optional,
		},
	}
}

// resources maps the static resource fields; values that are placeholders
// need a runtime podSpecPatch, which comes later.
func (t *translation) resources(at string, r *ir.Resources, patch *resourcePatch) corev1.ResourceRequirements {
	var req corev1.ResourceRequirements
	set := func(list *corev1.ResourceList, name corev1.ResourceName, field, value string) {
		if value == "" {
			return
		}
		if strings.Contains(value, "{{$.") || strings.Contains(string(name), "{{$.") {
			if err := patch.add(list == &req.Requests, string(name), value); err != nil {
				t.fail(at+"."+field, "%v", err)
			}
			return
		}
		q, err := resource.ParseQuantity(value)
		if err != nil {
			t.fail(at+"."+field, "invalid quantity %q: %v", value, err)
			return
		}
		if *list == nil {
			*list = corev1.ResourceList{}
		}
		(*list)[name] = q
	}
	gb := func(f float64) string {
		if f == 0 {
			return ""
		}
		return strconv.FormatFloat(f, 'f', -1, 64) + "G"
	}
	num := func(f float64) string {
		if f == 0 {
			return ""
		}
		return strconv.FormatFloat(f, 'f', -1, 64)
	}
	set(&req.Limits, corev1.ResourceCPU, "cpuLimit", num(r.CPULimit))
	set(&req.Limits, corev1.ResourceMemory, "memoryLimit", gb(r.MemoryLimit))
	set(&req.Requests, corev1.ResourceCPU, "cpuRequest", num(r.CPURequest))
	set(&req.Requests, corev1.ResourceMemory, "memoryRequest", gb(r.MemoryRequest))
	set(&req.Limits, corev1.ResourceCPU, "resourceCpuLimit", r.ResourceCPULimit)
	set(&req.Limits, corev1.ResourceMemory, "resourceMemoryLimit", r.ResourceMemoryLimit)
	set(&req.Requests, corev1.ResourceCPU, "resourceCpuRequest", r.ResourceCPURequest)
	set(&req.Requests, corev1.ResourceMemory, "resourceMemoryRequest", r.ResourceMemoryRequest)
	if a := r.Accelerator; a != nil {
		typ, count := a.ResourceType, a.ResourceCount
		if typ == "" {
			typ = a.Type
		}
		if count == "" && a.Count > 0 {
			count = strconv.FormatInt(a.Count, 10)
		}
		if typ != "" && count != "" {
			set(&req.Limits, corev1.ResourceName(typ), "accelerator.resourceCount", count)
		}
	}
	return req
}

// resourcePatch collects resources whose name or value is a placeholder:
// they are known only at run time, so they go into the template's
// podSpecPatch, which Argo fills in from the template's inputs.
type resourcePatch struct {
	limits, requests map[string]string
	inputs           map[string]bool // parameters the placeholders read
}

func (p *resourcePatch) add(request bool, name, value string) error {
	n, err := p.argo(name)
	if err != nil {
		return err
	}
	v, err := p.argo(value)
	if err != nil {
		return err
	}
	m := &p.limits
	if request {
		m = &p.requests
	}
	if *m == nil {
		*m = map[string]string{}
	}
	(*m)[n] = v
	return nil
}

// argo rewrites {{$.inputs.parameters['x']}} as {{inputs.parameters.x}}.
func (p *resourcePatch) argo(s string) (string, error) {
	return replacePlaceholders(s, func(expr string) (string, error) {
		name, ok := quotedIndex(expr, "inputs.parameters")
		if !ok {
			return "", fmt.Errorf("placeholder {{$.%s}} in a resource is not supported yet", expr)
		}
		if p.inputs == nil {
			p.inputs = map[string]bool{}
		}
		p.inputs[name] = true
		return "{{inputs.parameters." + name + "}}", nil
	})
}

// addPatch writes the podSpecPatch and declares the inputs it reads. An
// input the component does not declare (the SDK points resources at the
// task's pipelinechannel inputs) becomes an extra template input that
// every task of the component binds (see taskArguments).
func (t *translation) addPatch(tmpl *wfv1.Template, compName string, comp *ir.ComponentSpec, p *resourcePatch) {
	res := map[string]any{}
	if len(p.limits) > 0 {
		res["limits"] = p.limits
	}
	if len(p.requests) > 0 {
		res["requests"] = p.requests
	}
	b, err := json.Marshal(map[string]any{"containers": []any{map[string]any{"name": "main", "resources": res}}})
	if err != nil {
		t.fail("components."+compName, "podSpecPatch: %v", err)
		return
	}
	tmpl.PodSpecPatch = string(b)
	for _, name := range sortedKeys(p.inputs) {
		if comp.InputDefinitions != nil && comp.InputDefinitions.Parameters[name] != nil {
			continue
		}
		tmpl.Inputs.Parameters = append(tmpl.Inputs.Parameters, wfv1.Parameter{Name: name})
		t.extraInputs[compName] = append(t.extraInputs[compName], name)
	}
}
