package e2e

import (
	"context"
	"slices"
	"testing"
	"time"

	authorizationv1 "k8s.io/api/authorization/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/client-go/kubernetes"

	"github.com/kfpargo/kfpargo/install"
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
	// What kfpargo install applies for the self-signed overlay and the
	// workflow namespace argo.
	applyKinds(ctx, t, install.Options{Overlay: install.OverlaySelfSigned, ArgoNamespaces: []string{"argo"}},
		"Namespace", "ServiceAccount", "Role", "RoleBinding", "ClusterRole", "ClusterRoleBinding")

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

// applyKinds server-side applies the objects of the given kinds from an
// installation.
func applyKinds(ctx context.Context, t *testing.T, o install.Options, kinds ...string) {
	t.Helper()
	objs, err := install.Render(o)
	if err != nil {
		t.Fatal(err)
	}
	objs = slices.DeleteFunc(objs, func(obj *unstructured.Unstructured) bool { return !slices.Contains(kinds, obj.GetKind()) })
	if _, err := installClient(t).Apply(ctx, objs, install.ApplyOptions{}); err != nil {
		t.Fatal(err)
	}
}
