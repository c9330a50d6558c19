package e2e

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/client-go/discovery/cached/memory"
	"k8s.io/client-go/dynamic"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/restmapper"

	"github.com/kfpargo/kfpargo/install"
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
	c := installClient(t)
	for _, dir := range []string{"base", "overlays/cert-manager", "overlays/self-signed", "overlays/dev", "argo"} {
		t.Run(dir, func(t *testing.T) {
			objs := manifestObjects(t, dir)
			accepted := 0
			for _, obj := range objs {
				if err := applyOne(ctx, c, obj, true); err != nil {
					t.Error(err)
					continue
				}
				accepted++
			}
			t.Logf("%s: %d of %d objects accepted by server-side dry-run", dir, accepted, len(objs))
		})
	}
}

// kfpargoBinary is the CLI as an operator runs it (built once by TestMain
// on the local stack).
func kfpargoBinary(t *testing.T) string {
	t.Helper()
	if kfpargoBin != "" {
		return kfpargoBin
	}
	bin := filepath.Join(t.TempDir(), "kfpargo")
	if out, err := exec.Command("go", "build", "-o", bin, "../../cmd/kfpargo").CombinedOutput(); err != nil {
		t.Fatalf("go build: %v\n%s", err, out)
	}
	return bin
}

// kfpargoCLI runs the CLI against the stack and returns its exit code and
// its output (stdout and stderr together).
func kfpargoCLI(t *testing.T, bin string, args ...string) (int, string) {
	t.Helper()
	cmd := exec.Command(bin, append(args, "--kubeconfig", stack.Kubeconfig)...)
	out, err := cmd.CombinedOutput()
	var ee *exec.ExitError
	switch {
	case errors.As(err, &ee):
		return ee.ExitCode(), string(out)
	case err != nil:
		t.Fatalf("%s: %v", bin, err)
	}
	return 0, string(out)
}

// TestInstallServerDryRun: the apiserver accepts every object `kfpargo
// install` applies, and nothing is stored.
func TestInstallServerDryRun(t *testing.T) {
	if stack == nil {
		t.Skip("needs the local stack's apiserver")
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	kc, err := kubernetes.NewForConfig(stack.RESTConfig)
	if err != nil {
		t.Fatal(err)
	}
	// With the namespace present the apiserver checks every object, not
	// only the cluster-scoped ones.
	if _, err := kc.CoreV1().Namespaces().Create(ctx, &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: install.SystemNamespace}}, metav1.CreateOptions{}); err != nil && !apierrors.IsAlreadyExists(err) {
		t.Fatal(err)
	}
	// The suite's own installation (the dev overlay) may be there: the
	// dry run must leave the configuration as it was, present or not.
	before := webhookConfigVersion(ctx, t, kc)
	bin := kfpargoBinary(t)
	code, out := kfpargoCLI(t, bin, "install", "--overlay", "self-signed", "--dry-run=server")
	if code != 0 {
		t.Fatalf("exit %d:\n%s", code, out)
	}
	// Install always renders a signing key: the installed one or a new one.
	objs, err := install.Render(install.Options{Overlay: install.OverlaySelfSigned, ArgoNamespaces: []string{"argo"}, SigningKey: strings.Repeat("0", 64)})
	if err != nil {
		t.Fatal(err)
	}
	for _, o := range objs {
		if !strings.Contains(out, install.Describe(o)+" ") {
			t.Errorf("no line for %s", install.Describe(o))
		}
	}
	if want := fmt.Sprintf("server dry run: %d objects accepted; nothing changed", len(objs)); !strings.Contains(out, want) {
		t.Errorf("output lacks %q:\n%s", want, out)
	}
	if after := webhookConfigVersion(ctx, t, kc); after != before {
		t.Errorf("the dry run changed the webhook configuration: resourceVersion %q -> %q", before, after)
	}
	t.Logf("kfpargo install --dry-run=server:\n%s", out)
}

// webhookConfigVersion is the installation's webhook configuration's
// resourceVersion, "" when there is none.
func webhookConfigVersion(ctx context.Context, t *testing.T, kc kubernetes.Interface) string {
	t.Helper()
	cfg, err := kc.AdmissionregistrationV1().MutatingWebhookConfigurations().Get(ctx, install.WebhookConfigName, metav1.GetOptions{})
	if apierrors.IsNotFound(err) {
		return ""
	}
	if err != nil {
		t.Fatal(err)
	}
	return cfg.ResourceVersion
}

// TestInstallUninstall installs for real with the CLI (self-signed, a
// workflow namespace of its own, settings from files), checks that every
// object is there with kfpargo's field manager and that a second install
// changes nothing, then uninstalls: everything gone but the workflow
// namespace's Secrets, which go only with --delete-secrets. It does not
// wait for the webhook to roll out.
func TestInstallUninstall(t *testing.T) {
	if stack == nil {
		t.Skip("needs the local stack's apiserver")
	}
	// It uninstalls: the suite's own installation goes first, and comes
	// back afterwards.
	withoutDev(t)
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Minute)
	defer cancel()
	kc, err := kubernetes.NewForConfig(stack.RESTConfig)
	if err != nil {
		t.Fatal(err)
	}
	// Not the stack's argo namespace: its Secrets serve the other tests.
	const wf = "kfpargo-e2e-install"
	if _, err := kc.CoreV1().Namespaces().Create(ctx, &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: wf}}, metav1.CreateOptions{}); err != nil && !apierrors.IsAlreadyExists(err) {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		_ = kc.CoreV1().Namespaces().Delete(context.Background(), wf, metav1.DeleteOptions{})
	})
	dir := t.TempDir()
	ak, sk := filepath.Join(dir, "access-key"), filepath.Join(dir, "secret-key")
	if err := errors.Join(os.WriteFile(ak, []byte(stack.S3AccessKey+"\n"), 0o600), os.WriteFile(sk, []byte(stack.S3SecretKey+"\n"), 0o600)); err != nil {
		t.Fatal(err)
	}
	bin := kfpargoBinary(t)
	args := []string{"install", "--overlay", "self-signed", "--wait=false", "--argo-namespace", wf,
		"--s3-endpoint", stack.S3Endpoint, "--s3-insecure", "--s3-access-key-file", ak, "--s3-secret-key-file", sk,
		"--redis-addr", stack.RedisAddr}
	code, out := kfpargoCLI(t, bin, args...)
	t.Logf("kfpargo install:\n%s", out)
	if code != 0 {
		t.Fatalf("install: exit %d", code)
	}
	if strings.Contains(out, stack.S3SecretKey) {
		t.Error("install printed the secret key")
	}
	// Any signing key renders the key's Secret, which a second install
	// must leave unchanged: an upgrade keeps the installed key.
	objs, err := install.Render(install.Options{Overlay: install.OverlaySelfSigned, ArgoNamespaces: []string{wf},
		S3: &install.S3{Endpoint: stack.S3Endpoint, AccessKey: "x", SecretKey: "x"}, Redis: &install.Redis{Addr: stack.RedisAddr},
		SigningKey: strings.Repeat("0", 64)})
	if err != nil {
		t.Fatal(err)
	}
	dyn, err := dynamic.NewForConfig(stack.RESTConfig)
	if err != nil {
		t.Fatal(err)
	}
	mapper := restmapper.NewDeferredDiscoveryRESTMapper(memory.NewMemCacheClient(kc.Discovery()))
	get := func(o *unstructured.Unstructured) (*unstructured.Unstructured, error) {
		gvk := o.GroupVersionKind()
		m, err := mapper.RESTMapping(gvk.GroupKind(), gvk.Version)
		if err != nil {
			return nil, err
		}
		if m.Scope.Name() == meta.RESTScopeNameNamespace {
			return dyn.Resource(m.Resource).Namespace(o.GetNamespace()).Get(ctx, o.GetName(), metav1.GetOptions{})
		}
		return dyn.Resource(m.Resource).Get(ctx, o.GetName(), metav1.GetOptions{})
	}
	for _, o := range objs {
		cur, err := get(o)
		if err != nil {
			t.Errorf("%s after install: %v", install.Describe(o), err)
			continue
		}
		if !slices.ContainsFunc(cur.GetManagedFields(), func(m metav1.ManagedFieldsEntry) bool {
			return m.Manager == install.FieldManager && m.Operation == metav1.ManagedFieldsOperationApply
		}) {
			t.Errorf("%s: no fields applied by %s", install.Describe(o), install.FieldManager)
		}
	}
	sec, err := kc.CoreV1().Secrets(wf).Get(ctx, install.S3SecretName, metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if string(sec.Data["SECRET_KEY"]) != stack.S3SecretKey || string(sec.Data["ENDPOINT"]) != stack.S3Endpoint {
		t.Error("the workflow namespace's kfpargo-s3 Secret does not hold the given settings")
	}

	// Installing again (an upgrade to the same version) changes nothing.
	code, out = kfpargoCLI(t, bin, args...)
	if code != 0 {
		t.Fatalf("second install: exit %d\n%s", code, out)
	}
	for _, o := range objs {
		if !strings.Contains(out, install.Describe(o)+" unchanged") {
			t.Errorf("second install did not leave %s unchanged:\n%s", install.Describe(o), out)
		}
	}

	code, out = kfpargoCLI(t, bin, "uninstall", "--argo-namespace", wf, "--timeout", "3m")
	t.Logf("kfpargo uninstall:\n%s", out)
	if code != 0 {
		t.Fatalf("uninstall: exit %d", code)
	}
	if i, j := strings.Index(out, "MutatingWebhookConfiguration kfpargo-cache deleted"), strings.Index(out, "Deployment kfpargo-system/kfpargo-cachewebhook deleted"); i < 0 || j < 0 || i > j {
		t.Error("the webhook configuration was not deleted first")
	}
	for _, o := range objs {
		_, err := get(o)
		kept := o.GetKind() == "Secret" && o.GetNamespace() == wf
		switch {
		case kept && err != nil:
			t.Errorf("%s was deleted without --delete-secrets: %v", install.Describe(o), err)
		case !kept && !apierrors.IsNotFound(err):
			t.Errorf("%s still there after uninstall (get: %v)", install.Describe(o), err)
		}
	}

	// Again, with the Secrets: they go; a third run finds nothing and
	// succeeds.
	for i, want := range []string{"Secret " + wf + "/kfpargo-s3 deleted", "Secret " + wf + "/kfpargo-s3 not found"} {
		code, out = kfpargoCLI(t, bin, "uninstall", "--argo-namespace", wf, "--delete-secrets")
		if code != 0 || !strings.Contains(out, want) {
			t.Fatalf("uninstall --delete-secrets #%d: exit %d, want %q in\n%s", i+1, code, want, out)
		}
	}
	if _, err := kc.CoreV1().Secrets(wf).Get(ctx, install.RedisSecretName, metav1.GetOptions{}); !apierrors.IsNotFound(err) {
		t.Errorf("kfpargo-redis still there after --delete-secrets (get: %v)", err)
	}
}

// TestInstallRejectedObject: an object the apiserver rejects is named, with
// the apiserver's reason.
func TestInstallRejectedObject(t *testing.T) {
	if stack == nil {
		t.Skip("needs the local stack's apiserver")
	}
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	bad := &unstructured.Unstructured{Object: map[string]any{
		"apiVersion": "v1", "kind": "ConfigMap",
		"metadata": map[string]any{"name": "Not_A_Name", "namespace": stack.Namespace},
	}}
	_, err := installClient(t).Apply(ctx, []*unstructured.Unstructured{bad}, install.ApplyOptions{DryRun: true})
	if err == nil {
		t.Fatal("accepted")
	}
	for _, want := range []string{"ConfigMap " + stack.Namespace + "/Not_A_Name: rejected:", "RFC 1123"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error %q lacks %q", err, want)
		}
	}
}

// TestInstallGuide follows docs/install.md as written: every ```sh block,
// in order, in one shell each, with the environment `source .stack/env`
// gives and the stack's kubectl. The guide installs the self-signed
// overlay against the stack's MinIO and Redis, checks the installation,
// runs the seed pipeline twice and sees the second run served from the
// cache, upgrades and uninstalls. It runs in a copy of the checkout (the
// guide writes files where it runs), without the suite's installation.
func TestInstallGuide(t *testing.T) {
	withoutDev(t)
	doc, err := os.ReadFile("../../docs/install.md")
	if err != nil {
		t.Fatal(err)
	}
	blocks, err := shellBlocks(doc)
	if err != nil {
		t.Fatalf("docs/install.md: %v", err)
	}
	if len(blocks) < 5 {
		t.Fatalf("docs/install.md has %d sh blocks; the guide lost its commands?", len(blocks))
	}
	dir := checkoutCopy(t)
	env := append(os.Environ(), stack.Env()...)
	env = append(env, "PATH="+filepath.Dir(stack.Binaries.Kubectl)+string(os.PathListSeparator)+os.Getenv("PATH"))
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Minute)
	defer cancel()
	var log strings.Builder
	err = runDocBlocks(ctx, "docs/install.md", blocks, dir, env, &log)
	t.Logf("docs/install.md, %d blocks:\n%s", len(blocks), log.String())
	if err != nil {
		t.Fatal(err)
	}
	// What the guide says its verification shows: the second run's steps
	// all replayed.
	if n := strings.Count(log.String(), ": hit:"); n < 4 {
		t.Errorf("the guide's second run shows %d cache hits, want the 4 steps", n)
	}
}

// checkoutCopy is a directory that looks like the checkout (each top-level
// entry a symbolic link to the real one) but has its own bin/, so that
// commands run there write nothing into the repository.
func checkoutCopy(t *testing.T) string {
	t.Helper()
	root, err := filepath.Abs("../..")
	if err != nil {
		t.Fatal(err)
	}
	entries, err := os.ReadDir(root)
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	for _, e := range entries {
		switch e.Name() {
		case "bin", ".stack", ".git":
			continue
		}
		if err := os.Symlink(filepath.Join(root, e.Name()), filepath.Join(dir, e.Name())); err != nil {
			t.Fatal(err)
		}
	}
	return dir
}
