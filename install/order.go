package install

import (
	"slices"

	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
)

// applyOrder ranks kinds so that what an object refers to exists first:
// definitions and namespaces, then identities, permissions and
// configuration, then Services, then the workloads that use all of these,
// and the webhook configuration last, once there is a webhook to call.
// Kinds not listed (cert-manager's Issuers and Certificates) go between
// configuration and Services.
var applyOrder = []string{
	"CustomResourceDefinition",
	"Namespace",
	"ServiceAccount",
	"ClusterRole",
	"Role",
	"ClusterRoleBinding",
	"RoleBinding",
	"ConfigMap",
	"Secret",
	"", // any other kind
	"Service",
	"PodDisruptionBudget",
	"Deployment",
	"StatefulSet",
	"DaemonSet",
	"MutatingWebhookConfiguration",
	"ValidatingWebhookConfiguration",
}

func rank(kind string) int {
	if i := slices.Index(applyOrder, kind); i >= 0 {
		return i
	}
	return slices.Index(applyOrder, "")
}

// SortForApply orders objects for creation (see applyOrder); objects of
// the same rank keep their order.
func SortForApply(objs []*unstructured.Unstructured) {
	slices.SortStableFunc(objs, func(a, b *unstructured.Unstructured) int {
		return rank(a.GetKind()) - rank(b.GetKind())
	})
}

// SortForDelete orders objects for removal: webhook configurations first,
// so that no pod creation is sent to a webhook being removed, then the
// reverse of the apply order (workloads before what they use, namespaces
// last).
func SortForDelete(objs []*unstructured.Unstructured) {
	SortForApply(objs)
	slices.Reverse(objs)
	slices.SortStableFunc(objs, func(a, b *unstructured.Unstructured) int {
		return webhookFirst(a) - webhookFirst(b)
	})
}

func webhookFirst(o *unstructured.Unstructured) int {
	switch o.GetKind() {
	case "MutatingWebhookConfiguration", "ValidatingWebhookConfiguration":
		return 0
	}
	return 1
}
