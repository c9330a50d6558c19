package e2e

import (
	"context"
	"path/filepath"
	"testing"
	"time"

	authorizationv1 "k8s.io/api/authorization/v1"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/client-go/discovery"
	"k8s.io/client-go/discovery/cached/memory"
	"k8s.io/client-go/dynamic"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/restmapper"
	"sigs.k8s.io/kustomize/api/krusty"
	"sigs.k8s.io/kustomize/kyaml/filesys"
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
	m, err := krusty.MakeKustomizer(krusty.MakeDefaultOptions()).Run(filesys.MakeFsOnDisk(), filepath.Join("../../manifests", dir))
	if err != nil {
		t.Fatal(err)
	}
	dc, err := discovery.NewDiscoveryClientForConfig(stack.RESTConfig)
	if err != nil {
		t.Fatal(err)
	}
	mapper := restmapper.NewDeferredDiscoveryRESTMapper(memory.NewMemCacheClient(dc))
	dyn, err := dynamic.NewForConfig(stack.RESTConfig)
	if err != nil {
		t.Fatal(err)
	}
	want := map[string]bool{}
	for _, k := range kinds {
		want[k] = true
	}
	for _, r := range m.Resources() {
		if !want[r.GetKind()] {
			continue
		}
		raw, err := r.Map()
		if err != nil {
			t.Fatal(err)
		}
		obj := &unstructured.Unstructured{Object: raw}
		gvk := obj.GroupVersionKind()
		mapping, err := mapper.RESTMapping(gvk.GroupKind(), gvk.Version)
		if err != nil {
			t.Fatal(err)
		}
		var ri dynamic.ResourceInterface = dyn.Resource(mapping.Resource)
		if mapping.Scope.Name() == meta.RESTScopeNameNamespace {
			ri = dyn.Resource(mapping.Resource).Namespace(obj.GetNamespace())
		}
		if _, err := ri.Apply(ctx, obj.GetName(), obj, metav1.ApplyOptions{FieldManager: "kfpargo-rbac-test", Force: true}); err != nil {
			t.Fatalf("apply %s %s: %v", gvk.Kind, obj.GetName(), err)
		}
	}
}
