package translator

import (
	"encoding/json"
	"strings"

	wfv1 "github.com/argoproj/argo-workflows/v3/pkg/apis/workflow/v1alpha1"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/kfpargo/kfpargo/ir"
	"github.com/kfpargo/kfpargo/step"
)

const workspaceAt = "platforms.kubernetes.pipelineConfig.workspace"

// workspaceClaim is the run's workspace PVC, from pipelineConfig.workspace:
// the pvcSpecPatch is the claim's spec (kfpargo has no server-side default
// to patch) and size its storage request. Argo creates the claim as
// <workflow name>-kfp-workspace when the run starts and, by its default
// volumeClaimGC (OnSuccess, which KFP keeps too), deletes it after a
// successful run and keeps it after a failed one for inspection.
func (t *translation) workspaceClaim(w *ir.WorkspaceConfig) *corev1.PersistentVolumeClaim {
	var spec corev1.PersistentVolumeClaimSpec
	if w.Kubernetes != nil && w.Kubernetes.PvcSpecPatch != nil {
		raw, err := json.Marshal(w.Kubernetes.PvcSpecPatch)
		if err == nil {
			dec := json.NewDecoder(strings.NewReader(string(raw)))
			dec.DisallowUnknownFields()
			err = dec.Decode(&spec)
		}
		if err != nil {
			t.fail(workspaceAt+".kubernetes.pvcSpecPatch", "not a PersistentVolumeClaim spec: %v", err)
			return nil
		}
	}
	if len(spec.AccessModes) == 0 {
		t.fail(workspaceAt+".kubernetes.pvcSpecPatch.accessModes", "required: the workspace claim needs accessModes (e.g. [ReadWriteMany] when steps may run on different nodes)")
	}
	if spec.StorageClassName != nil && *spec.StorageClassName == "" {
		t.fail(workspaceAt+".kubernetes.pvcSpecPatch.storageClassName", "must be omitted (the cluster default) or name a class")
	}
	size, err := resource.ParseQuantity(w.Size)
	if err != nil || size.Sign() <= 0 {
		t.fail(workspaceAt+".size", "invalid size %q: expected a positive quantity such as 10Gi", w.Size)
		return nil
	}
	if spec.Resources.Requests == nil {
		spec.Resources.Requests = corev1.ResourceList{}
	}
	spec.Resources.Requests[corev1.ResourceStorage] = size
	return &corev1.PersistentVolumeClaim{ObjectMeta: metav1.ObjectMeta{Name: step.WorkspaceVolumeName}, Spec: spec}
}

// applyWorkspace mounts the workspace in a step and resolves the
// {{$.workspace_path}} placeholder in its command, arguments and
// environment. The launcher learns of the workspace from --workspace.
func (t *translation) applyWorkspace(tmpl *wfv1.Template, at string) {
	main := tmpl.Container
	uses := false
	for i, a := range main.Args {
		if strings.Contains(a, step.WorkspacePlaceholder) {
			uses = true
			main.Args[i] = strings.ReplaceAll(a, step.WorkspacePlaceholder, step.WorkspaceMountPath)
		}
	}
	for i, e := range main.Env {
		if strings.Contains(e.Value, step.WorkspacePlaceholder) {
			uses = true
			main.Env[i].Value = strings.ReplaceAll(e.Value, step.WorkspacePlaceholder, step.WorkspaceMountPath)
		}
	}
	if t.workspace == nil {
		if uses {
			t.fail(at, "the component uses %s but the pipeline has no workspace (platforms.kubernetes.pipelineConfig.workspace)", step.WorkspacePlaceholder)
		}
		return
	}
	main.VolumeMounts = append(main.VolumeMounts, corev1.VolumeMount{Name: step.WorkspaceVolumeName, MountPath: step.WorkspaceMountPath})
	for i, a := range main.Args {
		if a == "--" {
			main.Args = append(main.Args[:i:i], append([]string{step.FlagWorkspace, step.WorkspaceMountPath}, main.Args[i:]...)...)
			break
		}
	}
}

// workflowSettings applies the run-level parts of the platform spec: the
// workspace claim, TTL, deadline and the image pull secrets known at
// compile time.
func (t *translation) workflowSettings(spec *wfv1.WorkflowSpec) {
	if t.workspace != nil {
		if claim := t.workspaceClaim(t.workspace); claim != nil {
			spec.VolumeClaimTemplates = []corev1.PersistentVolumeClaim{*claim}
		}
	}
	if t.k8s != nil && t.k8s.PipelineConfig != nil {
		pc := t.k8s.PipelineConfig
		var ttl wfv1.TTLStrategy
		set := func(dst **int32, v int32) {
			if v > 0 {
				*dst = &v
			}
		}
		set(&ttl.SecondsAfterCompletion, pc.ResourceTTLOnCompletion)
		set(&ttl.SecondsAfterSuccess, pc.ResourceTTLOnSuccess)
		set(&ttl.SecondsAfterFailure, pc.ResourceTTLOnFailure)
		if ttl != (wfv1.TTLStrategy{}) {
			spec.TTLStrategy = &ttl
		}
		if pc.ActiveDeadlineSeconds > 0 {
			d := int64(pc.ActiveDeadlineSeconds)
			spec.ActiveDeadlineSeconds = &d
		}
	}
	for _, name := range sortedKeys(t.pullSecrets) {
		spec.ImagePullSecrets = append(spec.ImagePullSecrets, corev1.LocalObjectReference{Name: name})
	}
}
