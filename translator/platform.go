package translator

import (
	"encoding/json"
	"fmt"
	"sort"
	"strconv"
	"strings"

	wfv1 "github.com/argoproj/argo-workflows/v3/pkg/apis/workflow/v1alpha1"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/intstr"
	"k8s.io/apimachinery/pkg/util/validation"

	"github.com/kfpargo/kfpargo/ir"
	"github.com/kfpargo/kfpargo/step"
)

// platformInput is a template input carrying a run-time value of the
// executor's Kubernetes config (a Secret name from a pipeline input, a PVC
// name from an upstream CreatePVC, a tolerationJson, …). KFP's driver
// resolves such a value in the DAG that holds the task, so each task of the
// component binds it there (see platformArguments).
type platformInput struct {
	name string
	spec *ir.InputParameterSpec
	at   string
}

// k8sValue is a name or JSON value of an executor's Kubernetes config.
type k8sValue struct {
	constant any    // known at compile time
	input    string // else the template input that carries it
	// absent: the input may hold step.AbsentValue (an optional input left
	// unset); KFP then leaves the setting out, so it goes into the
	// podSpecPatch behind a run-time test.
	absent bool
}

// text is the value as it goes into a template field: the constant, or the
// Argo variable that Argo substitutes when it creates the pod.
func (v k8sValue) text() string {
	if v.input != "" {
		return "{{inputs.parameters." + v.input + "}}"
	}
	s, _ := v.constant.(string)
	return s
}

// ref is the value in an Argo expression.
func (v k8sValue) ref() string { return "inputs.parameters[" + exprString(v.input) + "]" }

// unless wraps list-valued code so it yields [] when the value is absent.
func (v k8sValue) unless(list string) string {
	if !v.absent {
		return list
	}
	return "(" + v.ref() + " == " + exprString(step.AbsentValue) + " ? [] : " + list + ")"
}

// podPatch collects the parts of a pod that exist only at run time. Each
// list entry is expr-lang code that yields a list; the lists are
// concatenated in the template's podSpecPatch.
type podPatch struct {
	env, mounts, volumes, pullSecrets, tolerations []string
	nodeSelector, nodeAffinity                     string
}

func (p *podPatch) empty() bool {
	return len(p.env)+len(p.mounts)+len(p.volumes)+len(p.pullSecrets)+len(p.tolerations) == 0 &&
		p.nodeSelector == "" && p.nodeAffinity == ""
}

// platformBuilder applies one executor's Kubernetes config to its template.
type platformBuilder struct {
	t        *translation
	at       string
	compName string
	tmpl     *wfv1.Template
	main     *corev1.Container
	uses     []ir.TaskUse
	volumes  map[string]bool // volume names taken
	patch    podPatch
}

// applyPlatform adds the Kubernetes config of the component's executor,
// and the workspace, to its container template.
func (t *translation) applyPlatform(tmpl *wfv1.Template, compName string, comp *ir.ComponentSpec) {
	main := tmpl.Container
	if main == nil {
		return
	}
	t.applyWorkspace(tmpl, "components."+compName)
	cfg := t.k8s.ExecutorConfig(comp.ExecutorLabel)
	if cfg == nil {
		return
	}
	b := &platformBuilder{
		t: t, at: "platforms.kubernetes.deploymentSpec.executors." + comp.ExecutorLabel,
		compName: compName, tmpl: tmpl, main: main,
		uses:    t.executorUses()[comp.ExecutorLabel],
		volumes: map[string]bool{},
	}
	for _, v := range tmpl.Volumes {
		b.volumes[v.Name] = true
	}
	if t.workspace != nil {
		b.volumes[step.WorkspaceVolumeName] = true
	}
	b.secrets(cfg)
	b.configMaps(cfg)
	b.pvcs(cfg)
	b.pullSecrets(cfg)
	b.scheduling(cfg)
	b.podAffinity(cfg)
	b.podSettings(cfg)
	b.localVolumes(cfg)
	b.initContainers(cfg)
	if !b.patch.empty() {
		b.writePatch()
	}
}

func (b *platformBuilder) fail(field, format string, args ...any) {
	b.t.fail(b.at+"."+field, format, args...)
}

// value resolves a name or JSON field; a run-time value becomes template
// input `input`, which every task of the component binds.
func (b *platformBuilder) value(p ir.PlatformParameter, input string) (k8sValue, bool) {
	if p.Spec == nil {
		b.fail(p.Field, "required: no name given")
		return k8sValue{}, false
	}
	if p.Spec.RuntimeValue != nil {
		return k8sValue{constant: p.Spec.Constant()}, true
	}
	b.tmpl.Inputs.Parameters = append(b.tmpl.Inputs.Parameters, wfv1.Parameter{Name: input})
	b.t.platformInputs[b.compName] = append(b.t.platformInputs[b.compName], platformInput{name: input, spec: p.Spec, at: b.at + "." + p.Field})
	return k8sValue{input: input, absent: b.mayBeAbsent(p.Spec)}, true
}

// mayBeAbsent reports whether a value can be an unset optional input in
// any DAG that runs the executor.
func (b *platformBuilder) mayBeAbsent(in *ir.InputParameterSpec) bool {
	if in.ComponentInputParameter == "" {
		return false
	}
	for _, u := range b.uses {
		if u.Owner.InputDefinitions == nil {
			continue
		}
		if def := u.Owner.InputDefinitions.Parameters[in.ComponentInputParameter]; def != nil && def.IsOptional && !def.HasDefault() {
			return true
		}
	}
	return false
}

// params indexes the config's run-time values by field path.
func params(cfg *ir.KubernetesExecutorConfig) map[string]ir.PlatformParameter {
	out := map[string]ir.PlatformParameter{}
	for _, p := range cfg.Parameters() {
		out[p.Field] = p
	}
	return out
}

func item(list string, i int, field string) string {
	return list + "[" + strconv.Itoa(i) + "]." + field
}

// volumeName is KFP's volume name (the Secret, ConfigMap or PVC name) when
// that is a constant usable as a volume name, so init containers can mount
// it by that name; otherwise a generated one.
func (b *platformBuilder) volumeName(v k8sValue, generated string) string {
	if s, ok := v.constant.(string); ok && len(validation.IsDNS1123Label(s)) == 0 && !b.volumes[s] {
		b.volumes[s] = true
		return s
	}
	b.volumes[generated] = true
	return generated
}

// addVolume mounts a volume in the main container, at run time when the
// value naming it may be absent.
func (b *platformBuilder) addVolume(v k8sValue, vol corev1.Volume, mount corev1.VolumeMount) {
	if v.absent {
		refs := map[string]string{v.text(): v.ref()}
		b.patch.volumes = append(b.patch.volumes, v.unless("["+exprLiteral(toTree(vol), refs)+"]"))
		b.patch.mounts = append(b.patch.mounts, v.unless("["+exprLiteral(toTree(mount), refs)+"]"))
		return
	}
	b.tmpl.Volumes = append(b.tmpl.Volumes, vol)
	b.main.VolumeMounts = append(b.main.VolumeMounts, mount)
}

func (b *platformBuilder) addEnv(v k8sValue, env corev1.EnvVar) {
	if v.absent {
		b.patch.env = append(b.patch.env, v.unless("["+exprLiteral(toTree(env), map[string]string{v.text(): v.ref()})+"]"))
		return
	}
	b.main.Env = append(b.main.Env, env)
}

func (b *platformBuilder) secrets(cfg *ir.KubernetesExecutorConfig) {
	ps := params(cfg)
	for i, s := range cfg.SecretAsEnv {
		v, ok := b.value(ps[item("secretAsEnv", i, "secretNameParameter")], "k8s-secret-env-"+strconv.Itoa(i))
		if !ok {
			continue
		}
		for _, k := range s.KeyToEnv {
			b.addEnv(v, corev1.EnvVar{Name: k.EnvVar, ValueFrom: &corev1.EnvVarSource{SecretKeyRef: &corev1.SecretKeySelector{
				LocalObjectReference: corev1.LocalObjectReference{Name: v.text()}, Key: k.SecretKey, Optional: s.Optional,
			}}})
		}
	}
	for i, s := range cfg.SecretAsVolume {
		v, ok := b.value(ps[item("secretAsVolume", i, "secretNameParameter")], "k8s-secret-volume-"+strconv.Itoa(i))
		if !ok {
			continue
		}
		optional := s.Optional != nil && *s.Optional
		name := b.volumeName(v, "k8s-secret-volume-"+strconv.Itoa(i))
		b.addVolume(v,
			corev1.Volume{Name: name, VolumeSource: corev1.VolumeSource{Secret: &corev1.SecretVolumeSource{SecretName: v.text(), Optional: &optional}}},
			corev1.VolumeMount{Name: name, MountPath: s.MountPath})
	}
}

func (b *platformBuilder) configMaps(cfg *ir.KubernetesExecutorConfig) {
	ps := params(cfg)
	for i, c := range cfg.ConfigMapAsEnv {
		v, ok := b.value(ps[item("configMapAsEnv", i, "configMapNameParameter")], "k8s-configmap-env-"+strconv.Itoa(i))
		if !ok {
			continue
		}
		for _, k := range c.KeyToEnv {
			b.addEnv(v, corev1.EnvVar{Name: k.EnvVar, ValueFrom: &corev1.EnvVarSource{ConfigMapKeyRef: &corev1.ConfigMapKeySelector{
				LocalObjectReference: corev1.LocalObjectReference{Name: v.text()}, Key: k.ConfigMapKey, Optional: c.Optional,
			}}})
		}
	}
	for i, c := range cfg.ConfigMapAsVolume {
		v, ok := b.value(ps[item("configMapAsVolume", i, "configMapNameParameter")], "k8s-configmap-volume-"+strconv.Itoa(i))
		if !ok {
			continue
		}
		optional := c.Optional != nil && *c.Optional
		name := b.volumeName(v, "k8s-configmap-volume-"+strconv.Itoa(i))
		b.addVolume(v,
			corev1.Volume{Name: name, VolumeSource: corev1.VolumeSource{ConfigMap: &corev1.ConfigMapVolumeSource{
				LocalObjectReference: corev1.LocalObjectReference{Name: v.text()}, Optional: &optional,
			}}},
			corev1.VolumeMount{Name: name, MountPath: c.MountPath})
	}
}

// pvcs mounts existing claims. KFP fails the task when a PVC name is
// missing rather than leaving the mount out, so an absent name is not
// tested for: the pod is rejected.
func (b *platformBuilder) pvcs(cfg *ir.KubernetesExecutorConfig) {
	ps := params(cfg)
	for i, m := range cfg.PvcMount {
		v, ok := b.value(ps[item("pvcMount", i, "pvcNameParameter")], "k8s-pvc-"+strconv.Itoa(i))
		if !ok {
			continue
		}
		v.absent = false
		name := b.volumeName(v, "k8s-pvc-"+strconv.Itoa(i))
		b.addVolume(v,
			corev1.Volume{Name: name, VolumeSource: corev1.VolumeSource{PersistentVolumeClaim: &corev1.PersistentVolumeClaimVolumeSource{ClaimName: v.text()}}},
			corev1.VolumeMount{Name: name, MountPath: m.MountPath, SubPath: m.SubPath})
	}
}

// pullSecrets: Argo templates have no imagePullSecrets, the workflow has.
// A constant name joins the workflow's list (a pull secret on a pod that
// does not need it changes nothing); a run-time name goes into this
// template's podSpecPatch, which Kubernetes merges by name.
func (b *platformBuilder) pullSecrets(cfg *ir.KubernetesExecutorConfig) {
	ps := params(cfg)
	for i := range cfg.ImagePullSecret {
		v, ok := b.value(ps[item("imagePullSecret", i, "secretNameParameter")], "k8s-pull-secret-"+strconv.Itoa(i))
		if !ok {
			continue
		}
		if v.input == "" {
			b.t.pullSecrets[v.text()] = true
			continue
		}
		b.patch.pullSecrets = append(b.patch.pullSecrets, v.unless(`[{"name": `+v.ref()+" }]"))
	}
}

// scheduling: node selector, tolerations and node affinity. A *Json field
// known at compile time is decoded into the template; one known at run time
// goes into the podSpecPatch. Tolerations and affinity terms are lists a
// strategic merge replaces, so once one entry is dynamic the whole list is
// built in the patch.
func (b *platformBuilder) scheduling(cfg *ir.KubernetesExecutorConfig) {
	ps := params(cfg)
	if ns := cfg.NodeSelector; ns != nil {
		if ns.NodeSelectorJSON != nil {
			p := ps["nodeSelector.nodeSelectorJson"]
			if v, ok := b.value(p, "k8s-node-selector"); ok {
				if v.input == "" {
					var sel map[string]string
					if b.decode(p.Field, v.constant, &sel) && len(sel) > 0 {
						b.tmpl.NodeSelector = sel
					}
				} else if v.absent {
					b.patch.nodeSelector = "(" + v.ref() + " == " + exprString(step.AbsentValue) + " ? { } : fromJSON(" + v.ref() + "))"
				} else {
					b.patch.nodeSelector = "fromJSON(" + v.ref() + ")"
				}
			}
		} else if len(ns.Labels) > 0 {
			b.tmpl.NodeSelector = ns.Labels
		}
	}

	var static []corev1.Toleration
	var dynamic []string
	for i, tol := range cfg.Tolerations {
		if tol.TolerationJSON == nil {
			static = append(static, corev1.Toleration{
				Key: tol.Key, Operator: corev1.TolerationOperator(tol.Operator), Value: tol.Value,
				Effect: corev1.TaintEffect(tol.Effect), TolerationSeconds: tol.TolerationSeconds,
			})
			continue
		}
		p := ps[item("tolerations", i, "tolerationJson")]
		v, ok := b.value(p, "k8s-toleration-"+strconv.Itoa(i))
		if !ok {
			continue
		}
		if v.input == "" {
			static = append(static, b.tolerations(p.Field, v.constant)...)
			continue
		}
		// One toleration or a list of them; an empty one adds nothing.
		j := "fromJSON(" + v.ref() + ")"
		dynamic = append(dynamic, v.unless("(type("+j+`) == "array" ? `+j+" : (len("+j+") == 0 ? [] : ["+j+"]))"))
	}
	if len(dynamic) == 0 {
		b.tmpl.Tolerations = static
	} else {
		if len(static) > 0 {
			b.patch.tolerations = append(b.patch.tolerations, exprLiteral(toTree(static), nil))
		}
		b.patch.tolerations = append(b.patch.tolerations, dynamic...)
	}

	var required []corev1.NodeSelectorTerm
	var preferred []corev1.PreferredSchedulingTerm
	var dynRequired, dynPreferred []string
	for i, a := range cfg.NodeAffinity {
		if a.NodeAffinityJSON != nil {
			p := ps[item("nodeAffinity", i, "nodeAffinityJson")]
			v, ok := b.value(p, "k8s-node-affinity-"+strconv.Itoa(i))
			if !ok {
				continue
			}
			if v.input == "" {
				var na corev1.NodeAffinity
				if b.decode(p.Field, v.constant, &na) {
					if na.RequiredDuringSchedulingIgnoredDuringExecution != nil {
						required = append(required, na.RequiredDuringSchedulingIgnoredDuringExecution.NodeSelectorTerms...)
					}
					preferred = append(preferred, na.PreferredDuringSchedulingIgnoredDuringExecution...)
				}
				continue
			}
			j := "fromJSON(" + v.ref() + ")"
			dynRequired = append(dynRequired, v.unless("("+j+"?.requiredDuringSchedulingIgnoredDuringExecution?.nodeSelectorTerms ?? [])"))
			dynPreferred = append(dynPreferred, v.unless("("+j+"?.preferredDuringSchedulingIgnoredDuringExecution ?? [])"))
			continue
		}
		if len(a.MatchExpressions)+len(a.MatchFields) == 0 {
			continue // KFP skips an empty term
		}
		term := corev1.NodeSelectorTerm{MatchExpressions: nodeRequirements(a.MatchExpressions), MatchFields: nodeRequirements(a.MatchFields)}
		if a.Weight != nil {
			preferred = append(preferred, corev1.PreferredSchedulingTerm{Weight: *a.Weight, Preference: term})
		} else {
			required = append(required, term)
		}
	}
	if len(dynRequired) > 0 {
		req := concat(append([]string{exprLiteral(toTree(orEmpty(required)), nil)}, dynRequired...))
		pref := concat(append([]string{exprLiteral(toTree(orEmpty(preferred)), nil)}, dynPreferred...))
		// No term at all: null, which leaves the pod without node affinity.
		b.patch.nodeAffinity = `len(` + req + `) + len(` + pref + `) == 0 ? nil : ` +
			`{"requiredDuringSchedulingIgnoredDuringExecution": len(` + req + `) == 0 ? nil : {"nodeSelectorTerms": ` + req + ` }, ` +
			`"preferredDuringSchedulingIgnoredDuringExecution": len(` + pref + `) == 0 ? nil : ` + pref + " }"
		return
	}
	if len(required)+len(preferred) > 0 {
		na := &corev1.NodeAffinity{PreferredDuringSchedulingIgnoredDuringExecution: preferred}
		if len(required) > 0 {
			na.RequiredDuringSchedulingIgnoredDuringExecution = &corev1.NodeSelector{NodeSelectorTerms: required}
		}
		b.affinity().NodeAffinity = na
	}
}

func orEmpty[T any](list []T) []T {
	if list == nil {
		return []T{}
	}
	return list
}

func (b *platformBuilder) affinity() *corev1.Affinity {
	if b.tmpl.Affinity == nil {
		b.tmpl.Affinity = &corev1.Affinity{}
	}
	return b.tmpl.Affinity
}

func nodeRequirements(rs []ir.SelectorRequirement) []corev1.NodeSelectorRequirement {
	var out []corev1.NodeSelectorRequirement
	for _, r := range rs {
		out = append(out, corev1.NodeSelectorRequirement{Key: r.Key, Operator: corev1.NodeSelectorOperator(r.Operator), Values: r.Values})
	}
	return out
}

func labelSelector(labels map[string]string, rs []ir.SelectorRequirement) *metav1.LabelSelector {
	if len(labels)+len(rs) == 0 {
		return nil
	}
	sel := &metav1.LabelSelector{MatchLabels: labels}
	for _, r := range rs {
		sel.MatchExpressions = append(sel.MatchExpressions, metav1.LabelSelectorRequirement{Key: r.Key, Operator: metav1.LabelSelectorOperator(r.Operator), Values: r.Values})
	}
	return sel
}

func (b *platformBuilder) podAffinity(cfg *ir.KubernetesExecutorConfig) {
	for _, a := range cfg.PodAffinity {
		term := corev1.PodAffinityTerm{
			LabelSelector:     labelSelector(a.MatchPodLabels, a.MatchPodExpressions),
			TopologyKey:       a.TopologyKey,
			Namespaces:        a.Namespaces,
			NamespaceSelector: labelSelector(a.MatchNamespaceLabels, a.MatchNamespaceExpressions),
		}
		anti := a.Anti != nil && *a.Anti
		aff := b.affinity()
		switch {
		case anti && aff.PodAntiAffinity == nil:
			aff.PodAntiAffinity = &corev1.PodAntiAffinity{}
		case !anti && aff.PodAffinity == nil:
			aff.PodAffinity = &corev1.PodAffinity{}
		}
		switch {
		case anti && a.Weight != nil:
			aff.PodAntiAffinity.PreferredDuringSchedulingIgnoredDuringExecution = append(aff.PodAntiAffinity.PreferredDuringSchedulingIgnoredDuringExecution,
				corev1.WeightedPodAffinityTerm{Weight: *a.Weight, PodAffinityTerm: term})
		case anti:
			aff.PodAntiAffinity.RequiredDuringSchedulingIgnoredDuringExecution = append(aff.PodAntiAffinity.RequiredDuringSchedulingIgnoredDuringExecution, term)
		case a.Weight != nil:
			aff.PodAffinity.PreferredDuringSchedulingIgnoredDuringExecution = append(aff.PodAffinity.PreferredDuringSchedulingIgnoredDuringExecution,
				corev1.WeightedPodAffinityTerm{Weight: *a.Weight, PodAffinityTerm: term})
		default:
			aff.PodAffinity.RequiredDuringSchedulingIgnoredDuringExecution = append(aff.PodAffinity.RequiredDuringSchedulingIgnoredDuringExecution, term)
		}
	}
}

// podSettings: pod metadata, downward-API variables, pull policy, deadline
// and security context.
func (b *platformBuilder) podSettings(cfg *ir.KubernetesExecutorConfig) {
	if md := cfg.PodMetadata; md != nil {
		m := &b.tmpl.Metadata
		for _, k := range sortedKeys(md.Labels) {
			if strings.HasPrefix(k, "kfpargo.io/") {
				b.fail("podMetadata.labels."+k, "labels under kfpargo.io/ are kfpargo's own")
				continue
			}
			if m.Labels == nil {
				m.Labels = map[string]string{}
			}
			m.Labels[k] = md.Labels[k]
		}
		for _, k := range sortedKeys(md.Annotations) {
			if strings.HasPrefix(k, "kfpargo.io/") {
				b.fail("podMetadata.annotations."+k, "annotations under kfpargo.io/ are kfpargo's own")
				continue
			}
			if m.Annotations == nil {
				m.Annotations = map[string]string{}
			}
			m.Annotations[k] = md.Annotations[k]
		}
	}
	for _, f := range cfg.FieldPathAsEnv {
		b.main.Env = append(b.main.Env, corev1.EnvVar{Name: f.Name, ValueFrom: &corev1.EnvVarSource{FieldRef: &corev1.ObjectFieldSelector{FieldPath: f.FieldPath}}})
	}
	if cfg.ImagePullPolicy != "" {
		b.main.ImagePullPolicy = corev1.PullPolicy(cfg.ImagePullPolicy)
	}
	if cfg.ActiveDeadlineSeconds > 0 {
		d := intstr.FromInt(int(cfg.ActiveDeadlineSeconds))
		b.tmpl.ActiveDeadlineSeconds = &d
	}
	if sc := cfg.SecurityContext; sc != nil {
		if sc.RunAsUser != nil && *sc.RunAsUser == 0 && sc.RunAsNonRoot != nil && *sc.RunAsNonRoot {
			b.fail("securityContext.runAsUser", "runAsUser 0 (root) contradicts runAsNonRoot: true")
		}
		// Like KFP, every capability is dropped whenever a security
		// context is asked for.
		b.main.SecurityContext = &corev1.SecurityContext{
			RunAsUser: sc.RunAsUser, RunAsGroup: sc.RunAsGroup, RunAsNonRoot: sc.RunAsNonRoot,
			Capabilities: &corev1.Capabilities{Drop: []corev1.Capability{"ALL"}},
		}
	}
}

// localVolumes: generic ephemeral volumes, shared memory and emptyDirs.
func (b *platformBuilder) localVolumes(cfg *ir.KubernetesExecutorConfig) {
	add := func(field string, vol corev1.Volume, mount corev1.VolumeMount) {
		if b.volumes[vol.Name] {
			b.fail(field, "volume name %q is already used in this pod", vol.Name)
			return
		}
		b.volumes[vol.Name] = true
		b.tmpl.Volumes = append(b.tmpl.Volumes, vol)
		b.main.VolumeMounts = append(b.main.VolumeMounts, mount)
	}
	for i, e := range cfg.GenericEphemeralVolume {
		field := item("genericEphemeralVolume", i, "")
		size, ok := b.quantity(field+"size", e.Size)
		if !ok {
			continue
		}
		var modes []corev1.PersistentVolumeAccessMode
		for _, m := range e.AccessModes {
			modes = append(modes, corev1.PersistentVolumeAccessMode(m))
		}
		// As in KFP: the storage class is set, possibly to "" (no dynamic
		// provisioning), unless the default class is asked for.
		var class *string
		if !e.DefaultStorageClass {
			c := e.StorageClassName
			class = &c
		}
		claim := &corev1.PersistentVolumeClaimTemplate{Spec: corev1.PersistentVolumeClaimSpec{
			AccessModes:      modes,
			Resources:        corev1.VolumeResourceRequirements{Requests: corev1.ResourceList{corev1.ResourceStorage: size}},
			StorageClassName: class,
		}}
		if md := e.Metadata; md != nil {
			claim.ObjectMeta = metav1.ObjectMeta{Labels: md.Labels, Annotations: md.Annotations}
		}
		add(field+"volumeName",
			corev1.Volume{Name: e.VolumeName, VolumeSource: corev1.VolumeSource{Ephemeral: &corev1.EphemeralVolumeSource{VolumeClaimTemplate: claim}}},
			corev1.VolumeMount{Name: e.VolumeName, MountPath: e.MountPath})
	}
	if shm := cfg.EnabledSharedMemory; shm != nil {
		name := shm.VolumeName
		if name == "" {
			name = "shm"
		}
		src := &corev1.EmptyDirVolumeSource{Medium: corev1.StorageMediumMemory}
		if shm.Size != "" {
			q, ok := b.quantity("enabledSharedMemory.size", shm.Size)
			if !ok {
				return
			}
			src.SizeLimit = &q
		}
		add("enabledSharedMemory.volumeName",
			corev1.Volume{Name: name, VolumeSource: corev1.VolumeSource{EmptyDir: src}},
			corev1.VolumeMount{Name: name, MountPath: "/dev/shm"})
	}
	for i, e := range cfg.EmptyDirMounts {
		field := item("emptyDirMounts", i, "")
		src := &corev1.EmptyDirVolumeSource{}
		if e.Medium != nil {
			src.Medium = corev1.StorageMedium(*e.Medium)
		}
		if e.SizeLimit != nil && *e.SizeLimit != "" {
			q, ok := b.quantity(field+"sizeLimit", *e.SizeLimit)
			if !ok {
				continue
			}
			src.SizeLimit = &q
		}
		add(field+"volumeName",
			corev1.Volume{Name: e.VolumeName, VolumeSource: corev1.VolumeSource{EmptyDir: src}},
			corev1.VolumeMount{Name: e.VolumeName, MountPath: e.MountPath})
	}
}

// initContainers run after kfpargo's own, which copies the launcher and
// stays first.
func (b *platformBuilder) initContainers(cfg *ir.KubernetesExecutorConfig) {
	taken := map[string]bool{"main": true, "wait": true, "init": true}
	for _, c := range b.tmpl.InitContainers {
		taken[c.Name] = true
	}
	for i, ic := range cfg.InitContainers {
		field := item("initContainers", i, "")
		if taken[ic.Name] {
			b.fail(field+"name", "init container name %q is taken (main, wait, init and %s are reserved)", ic.Name, step.InitContainerName)
			continue
		}
		taken[ic.Name] = true
		c := corev1.Container{Name: ic.Name, Image: ic.Image, Command: ic.Command, Args: ic.Args}
		for _, e := range ic.Env {
			c.Env = append(c.Env, corev1.EnvVar{Name: e.Name, Value: e.Value})
		}
		for j, m := range ic.VolumeMounts {
			if !b.volumes[m.VolumeName] {
				b.fail(item(field+"volumeMounts", j, "volumeName"), "no volume %q in this pod: it must come from another field of the executor's config (or be %s)", m.VolumeName, step.WorkspaceVolumeName)
				continue
			}
			c.VolumeMounts = append(c.VolumeMounts, corev1.VolumeMount{Name: m.VolumeName, MountPath: m.MountPath})
		}
		if ic.RestartPolicy != nil {
			p := corev1.ContainerRestartPolicy(*ic.RestartPolicy)
			c.RestartPolicy = &p
		}
		if r := ic.Resources; r != nil {
			c.Resources.Requests = b.resourceList(field+"resources.requests", r.Requests)
			c.Resources.Limits = b.resourceList(field+"resources.limits", r.Limits)
		}
		b.tmpl.InitContainers = append(b.tmpl.InitContainers, wfv1.UserContainer{Container: c})
	}
}

func (b *platformBuilder) resourceList(field string, m map[string]string) corev1.ResourceList {
	if len(m) == 0 {
		return nil
	}
	out := corev1.ResourceList{}
	for _, k := range sortedKeys(m) {
		if q, ok := b.quantity(field+"."+k, m[k]); ok {
			out[corev1.ResourceName(k)] = q
		}
	}
	return out
}

func (b *platformBuilder) quantity(field, s string) (resource.Quantity, bool) {
	q, err := resource.ParseQuantity(s)
	if err != nil {
		b.fail(field, "invalid quantity %q: %v", s, err)
		return q, false
	}
	return q, true
}

// decode reads a JSON constant into a Kubernetes type, strictly.
func (b *platformBuilder) decode(field string, v any, dst any) bool {
	raw, err := json.Marshal(v)
	if err == nil {
		dec := json.NewDecoder(strings.NewReader(string(raw)))
		dec.DisallowUnknownFields()
		err = dec.Decode(dst)
	}
	if err != nil {
		b.fail(field+".runtimeValue.constant", "not a valid %T: %v", dst, err)
		return false
	}
	return true
}

// tolerations decodes a tolerationJson constant: one toleration or a list.
func (b *platformBuilder) tolerations(field string, v any) []corev1.Toleration {
	switch x := v.(type) {
	case []any:
		var list []corev1.Toleration
		b.decode(field, x, &list)
		return list
	case map[string]any:
		if len(x) == 0 {
			return nil
		}
		var one corev1.Toleration
		if b.decode(field, x, &one) {
			return []corev1.Toleration{one}
		}
	}
	return nil
}

// writePatch renders the run-time parts into the template's podSpecPatch,
// next to what the resources may have put there. Each part is an Argo
// expression tag that yields JSON; map literals close with " }" so that no
// "}}" ends a tag early.
func (b *platformBuilder) writePatch() {
	doc := map[string]any{}
	if b.tmpl.PodSpecPatch != "" {
		if err := json.Unmarshal([]byte(b.tmpl.PodSpecPatch), &doc); err != nil {
			b.t.fail("components."+b.compName, "podSpecPatch: %v", err)
			return
		}
	}
	var exprs []string
	tag := func(code string) string {
		exprs = append(exprs, code)
		return fmt.Sprintf("@kfpargo-expr-%d@", len(exprs)-1)
	}
	main := map[string]any{"name": "main"}
	if cs, ok := doc["containers"].([]any); ok && len(cs) == 1 {
		if m, ok := cs[0].(map[string]any); ok {
			main = m
		}
	}
	if len(b.patch.env) > 0 {
		main["env"] = tag(concat(b.patch.env))
	}
	if len(b.patch.mounts) > 0 {
		main["volumeMounts"] = tag(concat(b.patch.mounts))
	}
	if len(main) > 1 {
		doc["containers"] = []any{main}
	}
	if len(b.patch.volumes) > 0 {
		doc["volumes"] = tag(concat(b.patch.volumes))
	}
	if len(b.patch.pullSecrets) > 0 {
		doc["imagePullSecrets"] = tag(concat(b.patch.pullSecrets))
	}
	if len(b.patch.tolerations) > 0 {
		doc["tolerations"] = tag(concat(b.patch.tolerations))
	}
	if b.patch.nodeSelector != "" {
		doc["nodeSelector"] = tag(b.patch.nodeSelector)
	}
	if b.patch.nodeAffinity != "" {
		doc["affinity"] = map[string]any{"nodeAffinity": tag(b.patch.nodeAffinity)}
	}
	out, err := json.Marshal(doc)
	if err != nil {
		b.t.fail("components."+b.compName, "podSpecPatch: %v", err)
		return
	}
	s := string(out)
	for i, code := range exprs {
		s = strings.Replace(s, fmt.Sprintf(`"@kfpargo-expr-%d@"`, i), "{{=toJson("+code+")}}", 1)
	}
	b.tmpl.PodSpecPatch = s
}

// concat joins list-valued code. expr's concat yields nil, which a patch
// would read as "delete the list", when every list is empty: ?? [] keeps it
// an empty list, which merges as no change.
func concat(lists []string) string {
	if len(lists) == 1 {
		return lists[0]
	}
	return "(concat(" + strings.Join(lists, ", ") + ") ?? [])"
}

// toTree turns a Kubernetes object into its JSON tree.
func toTree(v any) any {
	raw, err := json.Marshal(v)
	if err != nil {
		return nil
	}
	var out any
	if json.Unmarshal(raw, &out) != nil {
		return nil
	}
	return out
}

// exprLiteral writes a JSON tree as expr-lang code; a string found in refs
// becomes the code refs gives for it (a variable, never spliced text).
func exprLiteral(v any, refs map[string]string) string {
	switch x := v.(type) {
	case map[string]any:
		keys := make([]string, 0, len(x))
		for k := range x {
			keys = append(keys, k)
		}
		sort.Strings(keys)
		parts := make([]string, len(keys))
		for i, k := range keys {
			parts[i] = exprString(k) + ": " + exprLiteral(x[k], refs)
		}
		return "{" + strings.Join(parts, ", ") + " }"
	case []any:
		parts := make([]string, len(x))
		for i, e := range x {
			parts[i] = exprLiteral(e, refs)
		}
		return "[" + strings.Join(parts, ", ") + "]"
	case string:
		if r, ok := refs[x]; ok {
			return r
		}
		return exprString(x)
	case bool:
		return strconv.FormatBool(x)
	case float64:
		return strconv.FormatFloat(x, 'g', -1, 64)
	}
	return "nil"
}

// platformArguments binds the component's platform inputs for one task,
// from the DAG the task sits in.
func (t *translation) platformArguments(taskName string, task *ir.TaskSpec, argoName map[string]string) []wfv1.Parameter {
	var out []wfv1.Parameter
	for _, in := range t.platformInputs[task.ComponentRef.Name] {
		value, err := t.parameterSource(in.spec, &ir.ParameterSpec{ParameterType: ir.TypeString}, taskName, task, argoName)
		if err != nil {
			t.fail(in.at, "task %s: %v", taskName, err)
			continue
		}
		out = append(out, wfv1.Parameter{Name: in.name, Value: wfv1.AnyStringPtr(value)})
	}
	return out
}

func (t *translation) executorUses() map[string][]ir.TaskUse {
	if t.uses == nil {
		t.uses = ir.ExecutorUses(t.spec)
	}
	return t.uses
}
