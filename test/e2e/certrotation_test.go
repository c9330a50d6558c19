package e2e

import (
	"bufio"
	"context"
	"crypto/x509"
	"encoding/pem"
	"net"
	"net/http"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	admissionregistrationv1 "k8s.io/api/admissionregistration/v1"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"

	"github.com/kfpargo/kfpargo/step"
)

// TestSelfSignedRotation runs the webhook with --self-signed-certs and
// lifetimes of seconds against the real apiserver: it creates its CA and
// certificate, puts the CA into its configuration's caBundle, and renews
// the certificate several times and the CA at least once while the
// apiserver keeps calling it — no restart, no admission lost.
func TestSelfSignedRotation(t *testing.T) {
	if stack == nil {
		t.Skip("needs the local stack's apiserver")
	}
	if testing.Short() {
		t.Skip("takes two minutes")
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	kc, err := kubernetes.NewForConfig(stack.RESTConfig)
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	bin := filepath.Join(dir, "cachewebhook")
	if out, err := exec.Command("go", "build", "-o", bin, "../../cmd/cachewebhook").CombinedOutput(); err != nil {
		t.Fatalf("build: %v\n%s", err, out)
	}
	const ns, secretName, cfgName = "kfpargo-system", "rotation-test-tls", "kfpargo-rotation-test"
	if _, err := kc.CoreV1().Namespaces().Create(ctx, &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: ns}}, metav1.CreateOptions{}); err != nil && !apierrors.IsAlreadyExists(err) {
		t.Fatal(err)
	}
	addr, probe := freeAddr(t), freeAddr(t)
	url := "https://" + addr + "/mutate"
	ignore, none, timeout := admissionregistrationv1.Ignore, admissionregistrationv1.SideEffectClassNone, int32(2)
	_, err = kc.AdmissionregistrationV1().MutatingWebhookConfigurations().Create(ctx, &admissionregistrationv1.MutatingWebhookConfiguration{
		ObjectMeta: metav1.ObjectMeta{Name: cfgName},
		Webhooks: []admissionregistrationv1.MutatingWebhook{{
			Name: "rotation.kfpargo.io", ClientConfig: admissionregistrationv1.WebhookClientConfig{URL: &url},
			Rules: []admissionregistrationv1.RuleWithOperations{{Operations: []admissionregistrationv1.OperationType{admissionregistrationv1.Create},
				Rule: admissionregistrationv1.Rule{APIGroups: []string{""}, APIVersions: []string{"v1"}, Resources: []string{"pods"}}}},
			FailurePolicy: &ignore, SideEffects: &none, TimeoutSeconds: &timeout, AdmissionReviewVersions: []string{"v1"},
			ObjectSelector: &metav1.LabelSelector{MatchLabels: map[string]string{step.LabelCache: step.CacheEnabled, "kfpargo-test": "rotation"}},
		}},
	}, metav1.CreateOptions{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		_ = kc.AdmissionregistrationV1().MutatingWebhookConfigurations().Delete(context.Background(), cfgName, metav1.DeleteOptions{})
		_ = kc.CoreV1().Secrets(ns).Delete(context.Background(), secretName, metav1.DeleteOptions{})
	})
	cmd := exec.CommandContext(ctx, bin, "--self-signed-certs", "--kubeconfig", stack.Kubeconfig,
		"--self-signed-namespace", ns, "--self-signed-secret", secretName, "--webhook-config", cfgName,
		"--self-signed-ips", "127.0.0.1", "--self-signed-dns-names", "localhost",
		"--ca-lifetime", "90s", "--cert-lifetime", "30s", "--cert-reload-interval", "1s", "--cert-dir", filepath.Join(dir, "certs"),
		"--listen", addr, "--probe-listen", probe, "--redis-addr", stack.RedisAddr, "--timeout", "1s")
	var logs strings.Builder
	cmd.Stdout, cmd.Stderr = &logs, &logs
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	defer func() {
		_ = cmd.Process.Kill()
		_ = cmd.Wait()
		if t.Failed() {
			t.Logf("webhook log:\n%s", logs.String())
		}
	}()

	pod := &corev1.Pod{
		ObjectMeta: metav1.ObjectMeta{GenerateName: "rotation-", Labels: map[string]string{step.LabelCache: step.CacheEnabled, "kfpargo-test": "rotation"}},
		Spec: corev1.PodSpec{Containers: []corev1.Container{{
			Name: "main", Image: "busybox",
			Command: []string{"/var/run/argo/argoexec", "emissary", "--", step.LauncherPath, "run"},
			Args:    []string{"--cache", "--image=busybox", "--run-name", "r", "--namespace", stack.Namespace, "--task", "t", "--param", "n:NUMBER_INTEGER=1", "--", "true"},
		}}},
	}
	admitted := func() float64 { return metricSum(t, probe, "kfpargo_cachewebhook_admissions_total") }
	serving, cas := map[string]bool{}, map[string]bool{}
	var first time.Time
	calls, missed := 0, 0
	for end := time.Now().Add(110 * time.Second); time.Now().Before(end); time.Sleep(2 * time.Second) {
		before := admitted()
		if _, err := kc.CoreV1().Pods(stack.Namespace).Create(ctx, pod, metav1.CreateOptions{DryRun: []string{metav1.DryRunAll}}); err != nil {
			t.Fatalf("pod creation refused: %v", err)
		}
		called := admitted() > before
		switch {
		case called && first.IsZero():
			first = time.Now()
			calls++
		case called:
			calls++
		case !first.IsZero():
			missed++
			t.Logf("%s: the apiserver did not reach the webhook", time.Since(first).Round(time.Second))
		}
		if sec, err := kc.CoreV1().Secrets(ns).Get(ctx, secretName, metav1.GetOptions{}); err == nil {
			serving[serial(sec.Data["tls.crt"])] = true
			cas[serial(sec.Data["ca.crt"])] = true
		}
	}
	t.Logf("%d admissions through the apiserver after the first; %d serving certificates and %d CAs seen", calls, len(serving), len(cas))
	if first.IsZero() {
		t.Fatal("the apiserver never reached the webhook")
	}
	if missed > 0 {
		t.Errorf("%d of %d admissions after the first did not reach the webhook", missed, calls+missed)
	}
	if len(serving) < 3 || len(cas) < 2 {
		t.Errorf("saw %d serving certificates and %d CAs, want at least 3 and 2 (rotation)", len(serving), len(cas))
	}
	// Renewal at a third of a 30 s life left, over 110 s, plus the
	// certificates that follow each CA rotation: far fewer than one per
	// reconcile pass (every 3 s).
	if len(serving) > 15 {
		t.Errorf("%d serving certificates in 110 s: renewed far more often than due", len(serving))
	}
}

func serial(certPEM []byte) string {
	b, _ := pem.Decode(certPEM)
	if b == nil {
		return ""
	}
	c, err := x509.ParseCertificate(b.Bytes)
	if err != nil {
		return ""
	}
	return c.SerialNumber.String()
}

// metricSum adds up every sample of a metric on a /metrics endpoint.
func metricSum(t *testing.T, addr, name string) float64 {
	t.Helper()
	resp, err := http.Get("http://" + addr + "/metrics")
	if err != nil {
		return 0
	}
	defer resp.Body.Close()
	sum := 0.0
	sc := bufio.NewScanner(resp.Body)
	sc.Buffer(make([]byte, 1<<20), 1<<20)
	for sc.Scan() {
		line := sc.Text()
		if strings.HasPrefix(line, name+"{") || strings.HasPrefix(line, name+" ") {
			f := strings.Fields(line)
			if v, err := strconv.ParseFloat(f[len(f)-1], 64); err == nil {
				sum += v
			}
		}
	}
	return sum
}

func freeAddr(t *testing.T) string {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	return l.Addr().String()
}
