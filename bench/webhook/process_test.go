package webhook

import (
	"bufio"
	"bytes"
	"context"
	"crypto/tls"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	admissionv1 "k8s.io/api/admission/v1"

	"github.com/kfpargo/kfpargo/test/servers"
)

// webhookProcess is the shipped cachewebhook binary running as a process
// of its own, so its memory can be read from /proc and its /metrics
// scraped, and nothing of the load generator shares its heap.
type webhookProcess struct {
	url        string // https://.../mutate
	metricsURL string
	pid        int
	logPath    string
}

// The manifests' MutatingWebhookConfiguration timeoutSeconds: past it the
// apiserver gives up on the webhook (and, failurePolicy Ignore, admits the
// pod unchanged — but the pod creation waited the whole time).
const apiserverTimeout = 2 * time.Second

// buildWebhook builds ./cmd/cachewebhook as it ships (no race detector,
// no test hooks).
func buildWebhook(t *testing.T) string {
	t.Helper()
	bin := filepath.Join(t.TempDir(), "cachewebhook")
	if out, err := exec.Command("go", "build", "-o", bin, "../../cmd/cachewebhook").CombinedOutput(); err != nil {
		t.Fatalf("go build ./cmd/cachewebhook: %v\n%s", err, out)
	}
	return bin
}

// startWebhook runs bin against Redis and MinIO with the defaults of the
// Deployment (--timeout 40ms, --verify-cache-ttl 5s, log level info, one
// JSON line per admission, here into a file), on free loopback ports;
// extra flags come last, so they override.
func startWebhook(t *testing.T, bin, redisAddr string, m *servers.Minio, extra ...string) *webhookProcess {
	t.Helper()
	dir := t.TempDir()
	cert, key := servers.WriteSelfSigned(t, dir, "bench")
	access, secret := filepath.Join(dir, "access"), filepath.Join(dir, "secret")
	if err := os.WriteFile(access, []byte(m.AccessKey), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(secret, []byte(m.SecretKey), 0o600); err != nil {
		t.Fatal(err)
	}
	logPath := filepath.Join(dir, "webhook.log")
	logFile, err := os.Create(logPath)
	if err != nil {
		t.Fatal(err)
	}
	defer logFile.Close()
	args := append([]string{"--listen", "127.0.0.1:0", "--probe-listen", freeAddr(t),
		"--tls-cert-file", cert, "--tls-key-file", key, "--redis-addr", redisAddr,
		"--s3-endpoint", m.Endpoint, "--s3-insecure", "--s3-access-key-file", access, "--s3-secret-key-file", secret,
		"--launcher-image", "launcher"}, extra...)
	cmd := exec.Command(bin, args...)
	cmd.Stderr = logFile
	if err := cmd.Start(); err != nil {
		t.Fatalf("start %s: %v", bin, err)
	}
	exited := make(chan struct{})
	go func() { _ = cmd.Wait(); close(exited) }()
	t.Cleanup(func() {
		_ = cmd.Process.Signal(os.Interrupt)
		select {
		case <-exited:
		case <-time.After(15 * time.Second):
			_ = cmd.Process.Kill()
			<-exited
		}
	})
	// The admission port is the kernel's choice: the "serving" log line
	// names it.
	deadline := time.Now().Add(20 * time.Second)
	for {
		if admission, probe := servingAddrs(logPath); admission != "" {
			p := &webhookProcess{url: "https://" + admission + "/mutate", metricsURL: "http://" + probe + "/metrics", pid: cmd.Process.Pid, logPath: logPath}
			if resp, err := http.Get("http://" + probe + "/readyz"); err == nil {
				resp.Body.Close()
				if resp.StatusCode == http.StatusOK {
					return p
				}
			}
		}
		select {
		case <-exited:
			b, _ := os.ReadFile(logPath)
			t.Fatalf("cachewebhook exited before serving:\n%s", b)
		default:
		}
		if time.Now().After(deadline) {
			b, _ := os.ReadFile(logPath)
			t.Fatalf("cachewebhook not ready after 20s:\n%s", b)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// freeAddr is a loopback address nothing listens on now (the webhook
// refuses port 0 for both of its listeners).
func freeAddr(t *testing.T) string {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	return l.Addr().String()
}

// servingAddrs reads the admission and probe addresses from the
// "serving" log line, empty until it is written.
func servingAddrs(logPath string) (admission, probe string) {
	f, err := os.Open(logPath)
	if err != nil {
		return "", ""
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		var l struct{ Msg, Admission, Probes string }
		if json.Unmarshal(sc.Bytes(), &l) == nil && l.Msg == "serving" {
			return l.Admission, l.Probes
		}
	}
	return "", ""
}

// rss is the process's resident set (VmRSS), in bytes.
func (p *webhookProcess) rss() (float64, error) {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", p.pid))
	if err != nil {
		return 0, fmt.Errorf("read the webhook's memory: %w", err)
	}
	for _, l := range strings.Split(string(b), "\n") {
		if rest, ok := strings.CutPrefix(l, "VmRSS:"); ok {
			kb, err := strconv.ParseFloat(strings.TrimSuffix(strings.TrimSpace(rest), " kB"), 64)
			if err != nil {
				return 0, fmt.Errorf("/proc/%d/status VmRSS %q: %w", p.pid, rest, err)
			}
			return kb * 1024, nil
		}
	}
	return 0, fmt.Errorf("/proc/%d/status has no VmRSS", p.pid)
}

// metrics scrapes /metrics into series (name with its labels, as
// written) → value.
func (p *webhookProcess) metrics() (map[string]float64, error) {
	resp, err := http.Get(p.metricsURL)
	if err != nil {
		return nil, fmt.Errorf("scrape %s: %w", p.metricsURL, err)
	}
	defer resp.Body.Close()
	out := map[string]float64{}
	sc := bufio.NewScanner(resp.Body)
	for sc.Scan() {
		l := sc.Text()
		if l == "" || l[0] == '#' {
			continue
		}
		i := strings.LastIndexByte(l, ' ')
		if i < 0 {
			continue
		}
		if v, err := strconv.ParseFloat(l[i+1:], 64); err == nil {
			out[l[:i]] = v
		}
	}
	if err := sc.Err(); err != nil {
		return nil, fmt.Errorf("read %s: %w", p.metricsURL, err)
	}
	return out, nil
}

// memSample is the webhook's memory at one moment of a load.
type memSample struct {
	at                         time.Duration
	rss, heap, goroutines, cpu float64
	// fds are the process's open files, nearly all of them connections
	// (admission clients, the Redis pool, the object store): memory
	// follows them (buffers, TLS state), not the time served.
	fds int
}

func (p *webhookProcess) sample(at time.Duration) (memSample, error) {
	m, err := p.metrics()
	if err != nil {
		return memSample{}, err
	}
	rss, err := p.rss()
	if err != nil {
		return memSample{}, err
	}
	fds, err := os.ReadDir(fmt.Sprintf("/proc/%d/fd", p.pid))
	if err != nil {
		return memSample{}, fmt.Errorf("count the webhook's open files: %w", err)
	}
	return memSample{at: at, rss: rss, heap: m[mHeapInuse], goroutines: m[mGoroutine], cpu: m[mCPU], fds: len(fds)}, nil
}

func (s memSample) String() string {
	return fmt.Sprintf("t=%s RSS %s MiB, heap in use %s MiB, goroutines %.0f, open files %d, CPU %.1f s", s.at.Round(time.Second), mib(s.rss), mib(s.heap), s.goroutines, s.fds, s.cpu)
}

// Series the reports read.
const (
	mHeapInuse = "go_memstats_heap_inuse_bytes"
	mGoroutine = "go_goroutines"
	mCPU       = "process_cpu_seconds_total"
)

// client is an apiserver-like client: keep-alive HTTP/1.1 connections and
// the webhook configuration's timeoutSeconds as the whole request's limit.
func client() *http.Client {
	return &http.Client{Timeout: apiserverTimeout, Transport: &http.Transport{
		TLSClientConfig: &tls.Config{InsecureSkipVerify: true}, MaxIdleConnsPerHost: 256, ForceAttemptHTTP2: false,
	}}
}

// admit sends one AdmissionReview and checks what the apiserver would
// need to admit the pod: HTTP 200 within the timeout and a well-formed
// admission.k8s.io/v1 review answering this UID with allowed=true and, if
// it patches, a JSON patch. It returns the webhook's decision (its audit
// annotation) or why the admission failed.
func admit(ctx context.Context, c *http.Client, url string, body []byte, uid string) (string, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, url, bytes.NewReader(body))
	if err != nil {
		return "", err
	}
	req.Header.Set("Content-Type", "application/json")
	resp, err := c.Do(req)
	if err != nil {
		return "", err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		return "", fmt.Errorf("read response: %w", err)
	}
	if resp.StatusCode != http.StatusOK {
		return "", fmt.Errorf("HTTP %d: %.200s", resp.StatusCode, b)
	}
	var out admissionv1.AdmissionReview
	if err := json.Unmarshal(b, &out); err != nil {
		return "", fmt.Errorf("decode response: %w", err)
	}
	switch r := out.Response; {
	case out.APIVersion != "admission.k8s.io/v1" || out.Kind != "AdmissionReview":
		return "", fmt.Errorf("response is %s %s", out.APIVersion, out.Kind)
	case r == nil:
		return "", fmt.Errorf("review without a response")
	case string(r.UID) != uid:
		return "", fmt.Errorf("response for UID %q, sent %q", r.UID, uid)
	case !r.Allowed:
		return "", fmt.Errorf("not allowed: %v", r.Result)
	case len(r.Patch) > 0 && (r.PatchType == nil || *r.PatchType != admissionv1.PatchTypeJSONPatch || !json.Valid(r.Patch) || r.Patch[0] != '['):
		return "", fmt.Errorf("patch is not a JSON patch: %.100s", r.Patch)
	default:
		return r.AuditAnnotations["decision"], nil
	}
}

func mib(b float64) string { return fmt.Sprintf("%.1f", b/(1<<20)) }
