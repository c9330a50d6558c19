package cachewebhook

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"io"
	"net"
	"net/http"
	"os"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	admissionv1 "k8s.io/api/admission/v1"

	"github.com/kfpargo/kfpargo/test/servers"
)

// running is a Run in the background.
type running struct {
	admission, probe string
	client           *http.Client // trusts the serving certificate
	cancel           context.CancelFunc
	// wait returns Run's result once it returned.
	wait func() error
}

func startRun(t *testing.T, h Handler, checks map[string]Check) *running {
	t.Helper()
	certFile, keyFile := servers.WriteSelfSigned(t, t.TempDir(), "webhook")
	certs, err := NewCertWatcher(certFile, keyFile, nil)
	if err != nil {
		t.Fatal(err)
	}
	pem, err := os.ReadFile(certFile)
	if err != nil {
		t.Fatal(err)
	}
	roots := x509.NewCertPool()
	roots.AppendCertsFromPEM(pem)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	r := &running{cancel: cancel, wait: sync.OnceValue(func() error { return <-done }),
		client: &http.Client{Transport: &http.Transport{TLSClientConfig: &tls.Config{RootCAs: roots}}}}
	ready := make(chan struct{})
	metrics := NewMetrics()
	go func() {
		done <- Run(ctx, ServerConfig{
			Listen: "127.0.0.1:0", ProbeListen: "127.0.0.1:0", Certs: certs, Metrics: metrics, Checks: checks,
			Handler: Serve(h, ServeOptions{Timeout: time.Minute, Metrics: metrics}), Grace: time.Minute,
			Ready: func(a, p net.Addr) { r.admission, r.probe = a.String(), p.String(); close(ready) },
		})
	}()
	select {
	case <-ready:
	case err := <-done:
		t.Fatalf("Run: %v", err)
	}
	t.Cleanup(func() {
		cancel()
		_ = r.wait()
	})
	return r
}

func (r *running) get(t *testing.T, path string) (int, string) {
	t.Helper()
	resp, err := http.Get("http://" + r.probe + path)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b)
}

func (r *running) admit(uid string) (*http.Response, []byte, error) {
	resp, err := r.client.Post("https://"+r.admission+"/mutate", "application/json", strings.NewReader(string(review(uid))))
	if err != nil {
		return nil, nil, err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	return resp, b, err
}

func TestRunServesAdmissionsAndProbes(t *testing.T) {
	var redisDown atomic.Bool
	r := startRun(t, HandlerFunc(func(context.Context, *admissionv1.AdmissionRequest) Response {
		return Patched(Hit, "", []PatchOp{{Op: "add", Path: "/metadata/annotations", Value: map[string]string{"a": "b"}}})
	}), map[string]Check{"redis": func(context.Context) error {
		if redisDown.Load() {
			return errors.New("dial tcp: connection refused")
		}
		return nil
	}})

	resp, body, err := r.admit("one")
	if err != nil {
		t.Fatal(err)
	}
	if resp.StatusCode != http.StatusOK || resp.TLS == nil {
		t.Fatalf("HTTP %d over TLS %v: %s", resp.StatusCode, resp.TLS != nil, body)
	}
	if out := checkReview(t, body, "u-one"); len(out.Response.Patch) == 0 {
		t.Errorf("no patch in %s", body)
	}
	// Admissions are not served on the probe port, nor probes on TLS.
	if code, _ := r.get(t, "/mutate"); code != http.StatusNotFound {
		t.Errorf("/mutate on the probe port: HTTP %d", code)
	}

	cases := []struct {
		name      string
		path      string
		redisDown bool
		code      int
		want      []string
	}{
		{"healthz", "/healthz", false, http.StatusOK, []string{"ok"}},
		{"healthz while a check fails", "/healthz", true, http.StatusOK, []string{"ok"}},
		{"readyz", "/readyz", false, http.StatusOK, []string{"certificate: ok", "redis: ok"}},
		{"readyz with a failing check", "/readyz", true, http.StatusServiceUnavailable, []string{"certificate: ok", "redis: dial tcp: connection refused"}},
		{"metrics", "/metrics", false, http.StatusOK, []string{
			`kfpargo_cachewebhook_admissions_total{decision="hit"} 1`, "kfpargo_cachewebhook_verify_failures_total",
			"kfpargo_cachewebhook_admission_duration_seconds_bucket", "go_goroutines",
		}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			redisDown.Store(c.redisDown)
			code, body := r.get(t, c.path)
			if code != c.code {
				t.Errorf("HTTP %d, want %d: %s", code, c.code, body)
			}
			for _, w := range c.want {
				if !strings.Contains(body, w) {
					t.Errorf("body lacks %q:\n%s", w, body)
				}
			}
		})
	}
}

// A check that never answers makes /readyz fail, not hang past the
// kubelet's probe timeout.
func TestReadyzCheckWithoutAnswer(t *testing.T) {
	unstuck := make(chan struct{})
	defer close(unstuck)
	r := startRun(t, HandlerFunc(func(context.Context, *admissionv1.AdmissionRequest) Response { return Allowed(Skip, "") }),
		map[string]Check{"stuck": func(context.Context) error { <-unstuck; return nil }})
	code, body := r.get(t, "/readyz")
	if code != http.StatusServiceUnavailable || !strings.Contains(body, "stuck: no answer") {
		t.Errorf("HTTP %d: %s", code, body)
	}
}

// On cancel, Run stops taking connections but lets an admission in flight
// finish, then returns nil.
func TestRunDrainsInFlight(t *testing.T) {
	started, release := make(chan struct{}), make(chan struct{})
	r := startRun(t, HandlerFunc(func(ctx context.Context, req *admissionv1.AdmissionRequest) Response {
		if req.UID == "u-slow" {
			close(started)
			<-release
		}
		return Allowed(Skip, "")
	}), nil)
	type result struct {
		body []byte
		err  error
	}
	slow := make(chan result, 1)
	go func() {
		_, body, err := r.admit("slow")
		slow <- result{body, err}
	}()
	<-started
	r.cancel()
	// Shutdown closes the listeners first: wait for that, then let the
	// request in flight finish.
	for {
		c, err := net.Dial("tcp", r.admission)
		if err != nil {
			break
		}
		c.Close()
		time.Sleep(10 * time.Millisecond)
	}
	close(release)
	res := <-slow
	if res.err != nil {
		t.Fatalf("in-flight admission: %v", res.err)
	}
	checkReview(t, res.body, "u-slow")
	if err := r.wait(); err != nil {
		t.Errorf("Run: %v", err)
	}
}

func TestRunListenErrors(t *testing.T) {
	busy, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer busy.Close()
	certFile, keyFile := servers.WriteSelfSigned(t, t.TempDir(), "x")
	certs, err := NewCertWatcher(certFile, keyFile, nil)
	if err != nil {
		t.Fatal(err)
	}
	h := Serve(HandlerFunc(func(context.Context, *admissionv1.AdmissionRequest) Response { return Allowed(Skip, "") }), ServeOptions{})
	cases := []struct {
		name   string
		cfg    ServerConfig
		wantIn string
	}{
		{"admission port taken", ServerConfig{Listen: busy.Addr().String(), ProbeListen: "127.0.0.1:0", Certs: certs, Handler: h}, busy.Addr().String()},
		{"probe port taken", ServerConfig{Listen: "127.0.0.1:0", ProbeListen: busy.Addr().String(), Certs: certs, Handler: h}, busy.Addr().String()},
		{"no certificates", ServerConfig{Listen: "127.0.0.1:0", ProbeListen: "127.0.0.1:0", Handler: h}, "Certs"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			err := Run(t.Context(), c.cfg)
			if err == nil || !strings.Contains(err.Error(), c.wantIn) {
				t.Errorf("Run: %v, want an error naming %s", err, c.wantIn)
			}
		})
	}
}
