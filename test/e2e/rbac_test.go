package e2e

import (
	"context"
	"slices"
	"testing"
	"time"

	authorizationv1 "k8s.io/api/authorization/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"
)

// TestRBACLeastPrivilege applies the RBAC objects of the self-signed
// overlay and the Argo side for real, then asks the apiserver
// (SubjectAccessReview) what the webhook's and the step pods' service
// accounts may do: exactly what they need, and nothing next to it.
func TestRBACLeastPrivilege(t *testing.T) {
	if stack == nil {
		t.Skip("needs the local stack's apiserver")
	}
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	kc, err := kubernetes.NewForConfig(stack.RESTConfig)
	if err != nil {
		t.Fatal(err)
	}
	applyKinds(ctx, t, "overlays/self-signed", "Namespace", "ServiceAccount", "Role", "RoleBinding", "ClusterRole", "ClusterRoleBinding")
	applyKinds(ctx, t, "argo", "Role", "RoleBinding")

	webhook := "system:serviceaccount:kfpargo-system:kfpargo-cachewebhook"
	executor := "system:serviceaccount:argo:default"
	for _, c := range []struct {
		user                                   string
		verb, group, resource, namespace, name string
		allowed                                bool
	}{
		{webhook, "get", "", "secrets", "kfpargo-system", "kfpargo-cachewebhook-tls", true},
		{webhook, "update", "", "secrets", "kfpargo-system", "kfpargo-cachewebhook-tls", true},
		{webhook, "create", "", "secrets", "kfpargo-system", "", true},
		{webhook, "get", "admissionregistration.k8s.io", "mutatingwebhookconfigurations", "", "kfpargo-cache", true},
		{webhook, "patch", "admissionregistration.k8s.io", "mutatingwebhookconfigurations", "", "kfpargo-cache", true},
		{webhook, "get", "", "secrets", "kfpargo-system", "kfpargo-s3", false},
		{webhook, "list", "", "secrets", "kfpargo-system", "", false},
		{webhook, "delete", "", "secrets", "kfpargo-system", "kfpargo-cachewebhook-tls", false},
		{webhook, "get", "", "secrets", "argo", "kfpargo-cachewebhook-tls", false},
		{webhook, "patch", "admissionregistration.k8s.io", "mutatingwebhookconfigurations", "", "other", false},
		{webhook, "list", "admissionregistration.k8s.io", "mutatingwebhookconfigurations", "", "", false},
		{webhook, "get", "", "pods", "argo", "", false},
		{executor, "create", "argoproj.io", "workflowtaskresults", "argo", "", true},
		{executor, "patch", "argoproj.io", "workflowtaskresults", "argo", "x", true},
		{executor, "get", "", "secrets", "argo", "kfpargo-s3", false},
		{executor, "list", "", "pods", "argo", "", false},
		{executor, "create", "", "pods", "argo", "", false},
		{executor, "create", "argoproj.io", "workflowtaskresults", "kfpargo-system", "", false},
	} {
		sar := &authorizationv1.SubjectAccessReview{Spec: authorizationv1.SubjectAccessReviewSpec{
			User:   c.user,
			Groups: []string{"system:serviceaccounts", "system:authenticated"},
			ResourceAttributes: &authorizationv1.ResourceAttributes{
				Verb: c.verb, Group: c.group, Resource: c.resource, Namespace: c.namespace, Name: c.name,
			},
		}}
		got, err := kc.AuthorizationV1().SubjectAccessReviews().Create(ctx, sar, metav1.CreateOptions{})
		if err != nil {
			t.Fatal(err)
		}
		if got.Status.Allowed != c.allowed {
			t.Errorf("%s %s %s/%s %q in %q: allowed=%v, want %v (%s)", c.user, c.verb, c.group, c.resource, c.name, c.namespace,
				got.Status.Allowed, c.allowed, got.Status.Reason)
		}
	}
}

// applyKinds server-side applies the objects of the given kinds from a
// kustomization.
func applyKinds(ctx context.Context, t *testing.T, dir string, kinds ...string) {
	t.Helper()
	a := newApplier(t)
	for _, obj := range manifestObjects(t, dir) {
		if !slices.Contains(kinds, obj.GetKind()) {
			continue
		}
		if err := a.apply(ctx, obj, false); err != nil {
			t.Fatalf("apply %s %s: %v", obj.GetKind(), obj.GetName(), err)
		}
	}
}
