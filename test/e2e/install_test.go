package e2e

import (
	"context"
	"path/filepath"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
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

	"github.com/kfpargo/kfpargo/test/localstack"
)

// TestManifestsServerDryRun renders each kustomization under manifests/
// and applies every object with server-side dry-run to the stack's real
// kube-apiserver: schema, defaulting and admission see them as an
// installation would, without changing the cluster.
func TestManifestsServerDryRun(t *testing.T) {
	if stack == nil {
		t.Skip("needs the local stack's apiserver")
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	cm, err := localstack.ModuleDir(ctx, "github.com/cert-manager/cert-manager", localstack.CertManagerVersion)
	if err != nil {
		t.Fatal(err)
	}
	err = stack.InstallCRDs(ctx, filepath.Join(cm, "deploy", "crds", "cert-manager.io_certificates.yaml"),
		filepath.Join(cm, "deploy", "crds", "cert-manager.io_issuers.yaml"))
	if err != nil && !apierrors.IsAlreadyExists(err) {
		t.Fatalf("cert-manager CRDs: %v", err)
	}
	kc, err := kubernetes.NewForConfig(stack.RESTConfig)
	if err != nil {
		t.Fatal(err)
	}
	// Namespaced objects can only be dry-run into a namespace that exists.
	if _, err := kc.CoreV1().Namespaces().Create(ctx, &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: "kfpargo-system"}}, metav1.CreateOptions{}); err != nil && !apierrors.IsAlreadyExists(err) {
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
	for _, dir := range []string{"base", "overlays/cert-manager", "overlays/self-signed", "overlays/dev", "argo"} {
		t.Run(dir, func(t *testing.T) {
			m, err := krusty.MakeKustomizer(krusty.MakeDefaultOptions()).Run(filesys.MakeFsOnDisk(), filepath.Join("../../manifests", dir))
			if err != nil {
				t.Fatal(err)
			}
			accepted := 0
			for _, r := range m.Resources() {
				raw, err := r.Map()
				if err != nil {
					t.Fatal(err)
				}
				obj := &unstructured.Unstructured{Object: raw}
				gvk := obj.GroupVersionKind()
				mapping, err := mapper.RESTMapping(gvk.GroupKind(), gvk.Version)
				if err != nil {
					t.Errorf("%s %s: the apiserver does not serve it: %v", gvk.Kind, obj.GetName(), err)
					continue
				}
				ri := dyn.Resource(mapping.Resource)
				var target dynamic.ResourceInterface = ri
				if mapping.Scope.Name() == meta.RESTScopeNameNamespace {
					target = ri.Namespace(obj.GetNamespace())
				}
				_, err = target.Apply(ctx, obj.GetName(), obj, metav1.ApplyOptions{FieldManager: "kfpargo-install-test", Force: true, DryRun: []string{metav1.DryRunAll}})
				if err != nil {
					t.Errorf("%s %s/%s: %v", gvk.Kind, obj.GetNamespace(), obj.GetName(), err)
					continue
				}
				accepted++
			}
			t.Logf("%s: %d of %d objects accepted by server-side dry-run", dir, accepted, m.Size())
		})
	}
}
