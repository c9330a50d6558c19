package main

import (
	"io"
	"net"
	"net/http"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/kfpargo/kfpargo/test/servers"
)

func TestHelpNamesEveryFlag(t *testing.T) {
	var out strings.Builder
	if code := run(t.Context(), []string{"--help"}, &out, &out); code != 0 {
		t.Fatalf("--help exit %d", code)
	}
	for _, f := range []string{"listen", "probe-listen", "tls-cert-file", "tls-key-file", "cert-reload-interval", "timeout",
		"shutdown-grace", "redis-addr", "redis-username", "redis-password-file", "redis-db", "s3-endpoint",
		"s3-access-key-file", "s3-secret-key-file", "s3-insecure", "s3-region", "launcher-image", "cache-scope",
		"max-cache-ttl", "verify-cache-ttl", "self-signed-certs", "webhook-config", "ca-lifetime", "cert-lifetime", "cert-dir", "log-level", "version", "Example", "Exit codes"} {
		if !strings.Contains(out.String(), f) {
			t.Errorf("--help does not mention %s", f)
		}
	}
}

func TestBadFlags(t *testing.T) {
	for _, c := range []struct {
		args []string
		want string
	}{
		{[]string{}, "--tls-cert-file"},
		{[]string{"--tls-cert-file", "c", "--tls-key-file", "k", "--cache-scope", "world"}, "--cache-scope"},
		{[]string{"--tls-cert-file", "c", "--tls-key-file", "k", "--max-cache-ttl", "forever"}, "--max-cache-ttl"},
		{[]string{"--tls-cert-file", "c", "--tls-key-file", "k", "--s3-access-key-file", "a"}, "--s3-endpoint"},
		{[]string{"--no-such-flag"}, "no-such-flag"},
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
	cert, key := servers.WriteSelfSigned(t, dir, "test")
	probe := freeAddr(t)
	cmd := exec.Command(bin, "--listen", freeAddr(t), "--probe-listen", probe, "--tls-cert-file", cert, "--tls-key-file", key,
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
	code, body := get("/metrics")
	for _, m := range []string{"kfpargo_cachewebhook_admissions_total", "kfpargo_cachewebhook_admission_duration_seconds", "go_goroutines"} {
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

func freeAddr(t *testing.T) string {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	return l.Addr().String()
}
