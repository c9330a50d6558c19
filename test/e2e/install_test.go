package e2e

import (
	"context"
	"path/filepath"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"

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
	a := newApplier(t)
	for _, dir := range []string{"base", "overlays/cert-manager", "overlays/self-signed", "overlays/dev", "argo"} {
		t.Run(dir, func(t *testing.T) {
			objs := manifestObjects(t, dir)
			accepted := 0
			for _, obj := range objs {
				if err := a.apply(ctx, obj, true); err != nil {
					t.Errorf("%s %s/%s: %v", obj.GetKind(), obj.GetNamespace(), obj.GetName(), err)
					continue
				}
				accepted++
			}
			t.Logf("%s: %d of %d objects accepted by server-side dry-run", dir, accepted, len(objs))
		})
	}
}
