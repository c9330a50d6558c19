package cachewebhook

import (
	"fmt"
	"maps"
	"slices"

	corev1 "k8s.io/api/core/v1"

	"github.com/kfpargo/kfpargo/cachestore"
	"github.com/kfpargo/kfpargo/step"
)

// maxReasonLen bounds the decision annotation.
const maxReasonLen = 512

// annotated adds the decision (and key, when known) and any extra
// annotations to the pod and returns the decision with that patch.
func (d *Decider) annotated(pod *corev1.Pod, dec Decision, extra ...string) Decision {
	ann := map[string]string{step.AnnotationCacheDecision: decisionText(dec)}
	if dec.Key != "" {
		ann[step.AnnotationCacheKey] = dec.Key
	}
	for i := 0; i+1 < len(extra); i += 2 {
		ann[extra[i]] = extra[i+1]
	}
	dec.Patch = append(dec.Patch, metadataOps(pod.Annotations, "annotations", ann)...)
	return dec
}

func decisionText(dec Decision) string {
	s := string(dec.Outcome)
	if dec.Reason != "" {
		s += ": " + dec.Reason
	}
	if len(s) > maxReasonLen {
		s = s[:maxReasonLen-3] + "..."
	}
	return s
}

// metadataOps sets keys in a label or annotation map, creating the map when
// the pod has none (a JSON patch cannot add a key to a missing object).
func metadataOps(existing map[string]string, field string, set map[string]string) []PatchOp {
	if existing == nil {
		return []PatchOp{{Op: "add", Path: "/metadata/" + field, Value: set}}
	}
	ops := make([]PatchOp, 0, len(set))
	for _, k := range slices.Sorted(maps.Keys(set)) {
		ops = append(ops, PatchOp{Op: "add", Path: "/metadata/" + field + "/" + EscapePointer(k), Value: set[k]})
	}
	return ops
}

// hit turns the pod into a replay of the entry (design.md §4): Argo's init
// and wait containers and the emissary prefix stay, so Argo collects the
// outputs the replay writes as if the step had run; the main container runs
// `launcher replay` from the launcher image. Extended resources such as GPUs
// are dropped from it so the pod does not wait for one; CPU and memory stay
// as they were, so quotas that require them still admit the pod.
func (d *Decider) hit(pod *corev1.Pod, sp *stepPod, key string, e *cachestore.Entry) Decision {
	b, err := e.Encode()
	if err != nil {
		return d.annotated(pod, Decision{Outcome: Error, ErrorKind: "entry", Key: key, Reason: "encode entry: " + err.Error()})
	}
	limit := d.MaxReplayBytes
	if limit <= 0 {
		limit = DefaultMaxReplayBytes
	}
	if len(b) > limit {
		return d.annotated(pod, Decision{Outcome: Miss, Key: key, Reason: fmt.Sprintf("entry of %d bytes is too large to replay inline (limit %d)", len(b), limit)})
	}
	src := e.Source.Namespace + "/" + e.Source.Workflow + "/" + e.Source.Pod
	dec := d.annotated(pod, Decision{Outcome: Hit, Key: key, Entry: e, Reason: "replaying the outputs of " + src}, step.AnnotationCacheSource, src)
	dec.Patch = append(dec.Patch, metadataOps(pod.Labels, "labels", map[string]string{step.LabelCached: "true"})...)
	c := pod.Spec.Containers[sp.index]
	base := fmt.Sprintf("/spec/containers/%d", sp.index)
	image := d.LauncherImage
	if image == "" {
		image = c.Image
	}
	dec.Patch = append(dec.Patch,
		PatchOp{Op: "add", Path: base + "/image", Value: image},
		PatchOp{Op: "add", Path: base + "/command", Value: append(append([]string{}, sp.prefix...), step.LauncherPath, "replay")},
		PatchOp{Op: "add", Path: base + "/args", Value: []string{"--entry", string(b)}},
		PatchOp{Op: "add", Path: base + "/resources", Value: replayResources(c.Resources)},
	)
	return dec
}

// replayResources keeps CPU, memory and ephemeral storage and drops the
// rest (GPUs and other extended resources).
func replayResources(r corev1.ResourceRequirements) corev1.ResourceRequirements {
	keep := func(l corev1.ResourceList) corev1.ResourceList {
		if l == nil {
			return nil
		}
		out := corev1.ResourceList{}
		for name, q := range l {
			switch name {
			case corev1.ResourceCPU, corev1.ResourceMemory, corev1.ResourceEphemeralStorage:
				out[name] = q
			}
		}
		return out
	}
	return corev1.ResourceRequirements{Requests: keep(r.Requests), Limits: keep(r.Limits)}
}
