package install

import (
	"slices"
	"testing"

	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
)

func obj(kind, name string) *unstructured.Unstructured {
	u := &unstructured.Unstructured{}
	u.SetKind(kind)
	u.SetName(name)
	return u
}

func kinds(objs []*unstructured.Unstructured) []string {
	var out []string
	for _, o := range objs {
		out = append(out, o.GetKind()+"/"+o.GetName())
	}
	return out
}

func TestSortOrders(t *testing.T) {
	in := func() []*unstructured.Unstructured {
		return []*unstructured.Unstructured{
			obj("MutatingWebhookConfiguration", "w"), obj("Deployment", "d1"), obj("Certificate", "c"),
			obj("Service", "s"), obj("RoleBinding", "rb"), obj("Secret", "x"), obj("Role", "r"),
			obj("Namespace", "n"), obj("Deployment", "d2"), obj("ServiceAccount", "sa"),
			obj("CustomResourceDefinition", "crd"), obj("ConfigMap", "cm"),
		}
	}
	apply := in()
	SortForApply(apply)
	want := []string{"CustomResourceDefinition/crd", "Namespace/n", "ServiceAccount/sa", "Role/r", "RoleBinding/rb",
		"ConfigMap/cm", "Secret/x", "Certificate/c", "Service/s", "Deployment/d1", "Deployment/d2", "MutatingWebhookConfiguration/w"}
	if got := kinds(apply); !slices.Equal(got, want) {
		t.Errorf("apply order\n got %v\nwant %v", got, want)
	}
	del := in()
	SortForDelete(del)
	got := kinds(del)
	if got[0] != "MutatingWebhookConfiguration/w" {
		t.Errorf("delete order starts with %s, want the webhook configuration", got[0])
	}
	rev := slices.Clone(want[:len(want)-1])
	slices.Reverse(rev)
	if !slices.Equal(got[1:], rev) {
		t.Errorf("delete order after the webhook\n got %v\nwant %v", got[1:], rev)
	}
}

func TestUninstallSet(t *testing.T) {
	for _, tc := range []struct {
		name          string
		nss           []string
		deleteSecrets bool
		want, absent  []string
	}{
		{"keeps workflow Secrets", []string{"argo"}, false,
			[]string{"Role argo/kfpargo-executor", "Deployment kfpargo-system/minio", "Certificate kfpargo-system/kfpargo-cachewebhook", "ClusterRole kfpargo-cachewebhook-cabundle", "Secret kfpargo-system/kfpargo-s3"},
			[]string{"Secret argo/kfpargo-s3", "Secret argo/kfpargo-redis"}},
		{"deletes them when asked", []string{"argo", "team-a"}, true,
			[]string{"Secret argo/kfpargo-s3", "Secret team-a/kfpargo-redis", "RoleBinding team-a/kfpargo-executor"}, nil},
		{"no workflow namespace", nil, true,
			[]string{"Namespace kfpargo-system"}, []string{"Role argo/kfpargo-executor", "Secret argo/kfpargo-s3"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			objs, err := UninstallSet(tc.nss, tc.deleteSecrets)
			if err != nil {
				t.Fatal(err)
			}
			got := names(objs)
			for _, w := range tc.want {
				if !slices.Contains(got, w) {
					t.Errorf("missing %s", w)
				}
			}
			for _, a := range tc.absent {
				if slices.Contains(got, a) {
					t.Errorf("%s would be deleted", a)
				}
			}
			seen := map[string]bool{}
			for _, n := range got {
				if seen[n] {
					t.Errorf("%s twice", n)
				}
				seen[n] = true
			}
			if got[0] != "MutatingWebhookConfiguration kfpargo-cache" || got[len(got)-1] != "Namespace kfpargo-system" {
				t.Errorf("order %v: the webhook configuration first, the namespace last", got)
			}
		})
	}
}
