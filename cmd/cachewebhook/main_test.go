package main

import (
	"crypto/tls"
	"crypto/x509"
	"encoding/json"
	"errors"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"go.uber.org/zap"
	admissionv1 "k8s.io/api/admission/v1"

	"github.com/kfpargo/kfpargo/cachestore"
	"github.com/kfpargo/kfpargo/cachewebhook"
	"github.com/kfpargo/kfpargo/test/servers"
)

func TestHelpNamesEveryFlag(t *testing.T) {
	var out strings.Builder
	if code := run(t.Context(), []string{"--help"}, &out, &out); code != 0 {
		t.Fatalf("--help exit %d", code)
	}
	for _, f := range []string{"listen", "probe-listen", "tls-cert-file", "tls-key-file", "cert-reload-interval", "timeout",
		"shutdown-grace", "redis-addr", "redis-username", "redis-username-file", "redis-password-file", "hmac-key-file", "redis-db",
		"redis-tls", "redis-ca-file", "redis-server-name", "s3-endpoint",
		"s3-access-key-file", "s3-secret-key-file", "s3-insecure", "s3-ca-file", "s3-region", "launcher-image", "cache-scope",
		"max-cache-ttl", "verify-cache-ttl", "self-signed-certs", "self-signed-secret", "self-signed-namespace", "self-signed-dns-names",
		"self-signed-ips", "webhook-config", "ca-lifetime", "cert-lifetime", "cert-dir", "kubeconfig", "log-level", "version",
		"Example", "Exit codes"} {
		if !strings.Contains(out.String(), f) {
			t.Errorf("--help does not mention %s", f)
		}
	}
}

func TestBadFlags(t *testing.T) {
	certs := []string{"--tls-cert-file", "c", "--tls-key-file", "k"}
	for _, c := range []struct {
		args []string
		want string
	}{
		{[]string{}, "--tls-cert-file"},
		{[]string{"--no-such-flag"}, "no-such-flag"},
		{[]string{"--timeout", "soon"}, "-timeout"},
		{[]string{"stray"}, `unexpected argument "stray"`},
		{append(certs, "--cache-scope", "world"), "--cache-scope"},
		{append(certs, "--max-cache-ttl", "forever"), "--max-cache-ttl"},
		{append(certs, "--max-cache-ttl", "-1h"), "--max-cache-ttl"},
		{append(certs, "--s3-access-key-file", "a"), "--s3-endpoint"},
		{append(certs, "--timeout", "0s"), "--timeout"},
		{append(certs, "--timeout", "1m"), "--timeout"},
		{append(certs, "--cert-reload-interval", "0s"), "--cert-reload-interval"},
		{append(certs, "--shutdown-grace", "-1s"), "--shutdown-grace"},
		{append(certs, "--redis-db", "-1"), "--redis-db"},
		{append(certs, "--redis-addr", "redis"), "--redis-addr"},
		{append(certs, "--redis-server-name", "redis"), "--redis-server-name needs --redis-tls"},
		{append(certs, "--redis-username", "u", "--redis-username-file", "f"), "give one"},
		{append(certs, "--listen", "9443"), "--listen"},
		{append(certs, "--probe-listen", ":9443"), "--probe-listen"},
		{append(certs, "--log-level", "chatty"), "--log-level"},
		{append(certs, "--verify-cache-ttl", "-1s"), "--verify-cache-ttl"},
		{[]string{"--self-signed-certs", "--self-signed-namespace", "ns", "--self-signed-ips", "nope"}, "--self-signed-ips"},
		{[]string{"--self-signed-certs", "--self-signed-namespace", "ns", "--cert-lifetime", "20000h", "--ca-lifetime", "10h"}, "--cert-lifetime"},
	} {
		var out strings.Builder
		if code := run(t.Context(), c.args, &out, &out); code != 2 || !strings.Contains(out.String(), c.want) {
			t.Errorf("%v: exit %d, output %q (want 2 and %q)", c.args, code, out.String(), c.want)
		}
	}
}

// TestServesAndStopsOnSIGTERM runs the real binary: probes answer, metrics
// are exported, and SIGTERM ends it with exit 0.
func TestServesAndStopsOnSIGTERM(t *testing.T) {
	dir := t.TempDir()
	bin := filepath.Join(dir, "cachewebhook")
	if out, err := exec.Command("go", "build", "-ldflags", "-X github.com/kfpargo/kfpargo/version.Version=v9.9.9-test", "-o", bin, ".").CombinedOutput(); err != nil {
		t.Fatalf("build: %v\n%s", err, out)
	}
	if out, err := exec.Command(bin, "--version").Output(); err != nil || strings.TrimSpace(string(out)) != "v9.9.9-test" {
		t.Errorf("--version printed %q (%v), want the stamped version", out, err)
	}
	// Exit codes as the process reports them, not only as run returns them.
	for _, c := range []struct {
		args []string
		code int
		want string
	}{
		{[]string{"--help"}, 0, "Example"},
		{[]string{"--cache-scope", "world"}, 2, "--cache-scope"},
	} {
		out, err := exec.Command(bin, c.args...).CombinedOutput()
		code := 0
		var exit *exec.ExitError
		if errors.As(err, &exit) {
			code = exit.ExitCode()
		} else if err != nil {
			t.Fatal(err)
		}
		if code != c.code || !strings.Contains(string(out), c.want) {
			t.Errorf("%v: exit %d, want %d and %q in:\n%s", c.args, code, c.code, c.want, out)
		}
	}
	cert, key := servers.WriteSelfSigned(t, dir, "test")
	probe := freeAddr(t)
	admission := freeAddr(t)
	cmd := exec.Command(bin, "--listen", admission, "--probe-listen", probe, "--tls-cert-file", cert, "--tls-key-file", key,
		"--redis-addr", freeAddr(t)) // nothing listens there: readiness does not depend on Redis
	var logs strings.Builder
	cmd.Stderr = &logs
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	defer func() { _ = cmd.Process.Kill() }()
	get := func(path string) (int, string) {
		resp, err := http.Get("http://" + probe + path)
		if err != nil {
			return 0, err.Error()
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return resp.StatusCode, string(b)
	}
	deadline := time.Now().Add(20 * time.Second)
	for {
		if code, _ := get("/readyz"); code == http.StatusOK {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("not ready; logs:\n%s", logs.String())
		}
		time.Sleep(50 * time.Millisecond)
	}
	if code, _ := get("/healthz"); code != http.StatusOK {
		t.Errorf("/healthz %d", code)
	}
	// A pod that is no launcher step, over HTTPS with the served
	// certificate: skipped without a lookup (nothing listens at Redis).
	admit(t, admission, cert, "u-binary")
	code, body := get("/metrics")
	for _, m := range []string{`kfpargo_cachewebhook_admissions_total{decision="skip"} 1`, "kfpargo_cachewebhook_admission_duration_seconds",
		"kfpargo_cachewebhook_verify_failures_total", "go_goroutines", "process_cpu_seconds_total"} {
		if code != http.StatusOK || !strings.Contains(body, m) {
			t.Errorf("/metrics (%d) lacks %s", code, m)
		}
	}
	_ = cmd.Process.Signal(syscall.SIGTERM)
	done := make(chan error, 1)
	go func() { done <- cmd.Wait() }()
	select {
	case err := <-done:
		if err != nil {
			t.Fatalf("exit after SIGTERM: %v\n%s", err, logs.String())
		}
	case <-time.After(20 * time.Second):
		t.Fatal("still running 20s after SIGTERM")
	}
	if !strings.Contains(logs.String(), "shutting down") {
		t.Errorf("no shutdown in the logs:\n%s", logs.String())
	}
}

// admit posts an AdmissionReview for a plain pod to the webhook at addr,
// trusting the certificate in certFile, and checks the answer.
func admit(t *testing.T, addr, certFile, uid string) {
	t.Helper()
	pemBytes, err := os.ReadFile(certFile)
	if err != nil {
		t.Fatal(err)
	}
	roots := x509.NewCertPool()
	roots.AppendCertsFromPEM(pemBytes)
	client := &http.Client{Transport: &http.Transport{TLSClientConfig: &tls.Config{RootCAs: roots}}}
	review := `{"apiVersion":"admission.k8s.io/v1","kind":"AdmissionReview","request":{"uid":"` + uid +
		`","kind":{"version":"v1","kind":"Pod"},"operation":"CREATE","namespace":"ns",` +
		`"object":{"metadata":{"generateName":"p-"},"spec":{"containers":[{"name":"main","image":"busybox"}]}}}}`
	resp, err := client.Post("https://"+addr+"/mutate", "application/json", strings.NewReader(review))
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var out admissionv1.AdmissionReview
	if err := json.NewDecoder(resp.Body).Decode(&out); err != nil {
		t.Fatalf("HTTP %d, not a review: %v", resp.StatusCode, err)
	}
	if out.APIVersion != "admission.k8s.io/v1" || out.Response == nil || !out.Response.Allowed || string(out.Response.UID) != uid {
		t.Fatalf("answer %+v", out)
	}
}

func freeAddr(t *testing.T) string {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	return l.Addr().String()
}

// The manifests mount the kfpargo-redis Secret as optional: a missing
// password file means no password; an unreadable one is still an error.
func TestRedisPasswordFile(t *testing.T) {
	dir := t.TempDir()
	for _, tc := range []struct {
		file string
		ok   bool
	}{
		{filepath.Join(dir, "absent", "PASSWORD"), true},
		{dir, false}, // a directory
	} {
		cfg, err := parseFlags([]string{"--tls-cert-file=c", "--tls-key-file=k", "--redis-addr=127.0.0.1:1", "--redis-password-file=" + tc.file}, io.Discard)
		if err != nil {
			t.Fatal(err)
		}
		_, release, err := newHandler(*cfg, zap.NewNop(), cachewebhook.NewMetrics())
		if (err == nil) != tc.ok {
			t.Errorf("password file %s: err %v, want ok=%v", tc.file, err, tc.ok)
		}
		if release != nil {
			release()
		}
	}
}

// A key file that is named but missing, empty or too short stops the
// webhook (serving unsigned entries is no fallback); the error never
// shows the file's content.
func TestHMACKeyFile(t *testing.T) {
	dir := t.TempDir()
	write := func(name, content string) string {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, []byte(content), 0o600); err != nil {
			t.Fatal(err)
		}
		return p
	}
	good := strings.Repeat("a", cachestore.MinKeyBytes)
	for _, tc := range []struct {
		file, err string
	}{
		{write("good", good+"\n"), ""},
		{write("rotating", good+" "+strings.Repeat("b", cachestore.MinKeyBytes)+"\n"), ""},
		{filepath.Join(dir, "absent"), "no such file"},
		{write("empty", "\n"), "no HMAC key"},
		{write("short", "s3cr3t-but-short\n"), "16 bytes, want at least 32"},
	} {
		cfg, err := parseFlags([]string{"--tls-cert-file=c", "--tls-key-file=k", "--redis-addr=127.0.0.1:1", "--hmac-key-file=" + tc.file}, io.Discard)
		if err != nil {
			t.Fatal(err)
		}
		_, release, err := newHandler(*cfg, zap.NewNop(), cachewebhook.NewMetrics())
		if release != nil {
			release()
		}
		switch {
		case tc.err == "" && err != nil:
			t.Errorf("%s: %v", tc.file, err)
		case tc.err != "" && (err == nil || !strings.Contains(err.Error(), tc.err) || !strings.Contains(err.Error(), "--hmac-key-file")):
			t.Errorf("%s: error %v, want --hmac-key-file: ...%s", tc.file, err, tc.err)
		case err != nil && strings.Contains(err.Error(), "s3cr3t"):
			t.Errorf("the error shows the key: %v", err)
		}
	}
}
