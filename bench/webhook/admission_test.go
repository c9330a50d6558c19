package webhook

import (
	"bytes"
	"context"
	"crypto/tls"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"sync"
	"testing"
	"time"

	"go.uber.org/zap"
	admissionv1 "k8s.io/api/admission/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/types"

	"github.com/kfpargo/kfpargo/artifact"
	"github.com/kfpargo/kfpargo/bench/benchutil"
	"github.com/kfpargo/kfpargo/cachekey"
	"github.com/kfpargo/kfpargo/cachestore"
	"github.com/kfpargo/kfpargo/cachewebhook"
	"github.com/kfpargo/kfpargo/step"
	"github.com/kfpargo/kfpargo/test/servers"
)

const ns = "bench"

// launcherArgs are a step's launcher flags; cache false leaves out --cache,
// so the webhook skips the pod after parsing it, without a lookup.
func launcherArgs(hidden string, cache bool) []string {
	var c []string
	if cache {
		c = []string{"--cache"}
	}
	return append(c, "--image=python:3.11", "--env=MODE",
		"--run-name", "run-1", "--namespace", ns, "--pod-name", "run-1-train-1", "--task", "train",
		"--pipeline-root", "minio://mlpipeline/v2/artifacts",
		"--param", "hidden:NUMBER_INTEGER="+hidden,
		"--artifact", `data:system.Dataset={"uri":"minio://mlpipeline/d","sha256":"`+fmt.Sprintf("%064x", 7)+`","size":10}`,
		"--output-param", "acc:NUMBER_DOUBLE", "--output-artifact", "model:system.Model",
		"--", "python3", "train.py", "{{$.inputs.parameters['hidden']}}")
}

// review is the AdmissionReview the apiserver would send for a step pod.
func review(hidden string) []byte { return reviewFor(hidden, "u", true) }

// reviewFor is review with the request's UID and whether the step asks for
// the cache.
func reviewFor(hidden, uid string, cache bool) []byte {
	pod := corev1.Pod{
		TypeMeta:   metav1.TypeMeta{APIVersion: "v1", Kind: "Pod"},
		ObjectMeta: metav1.ObjectMeta{GenerateName: "run-1-train-", Namespace: ns, Labels: map[string]string{step.LabelCache: step.CacheEnabled}, Annotations: map[string]string{"workflows.argoproj.io/node-name": "run-1.train"}},
		Spec: corev1.PodSpec{
			InitContainers: []corev1.Container{{Name: "init", Image: "argoexec"}, {Name: step.InitContainerName, Image: "launcher"}},
			Containers: []corev1.Container{
				{Name: "wait", Image: "argoexec"},
				{Name: "main", Image: "python:3.11",
					Command: []string{"/var/run/argo/argoexec", "emissary", "--", step.LauncherPath, "run"},
					Args:    launcherArgs(hidden, cache), Env: []corev1.EnvVar{{Name: "MODE", Value: "fast"}}},
			},
		},
	}
	raw, _ := json.Marshal(pod)
	r := admissionv1.AdmissionReview{
		TypeMeta: metav1.TypeMeta{APIVersion: "admission.k8s.io/v1", Kind: "AdmissionReview"},
		Request: &admissionv1.AdmissionRequest{UID: types.UID(uid), Namespace: ns, Operation: admissionv1.Create,
			Kind: metav1.GroupVersionKind{Version: "v1", Kind: "Pod"}, Object: runtime.RawExtension{Raw: raw}},
	}
	b, _ := json.Marshal(r)
	return b
}

// TestAdmissionLatency measures hit, miss and no-op admissions at 200 and
// 1000 requests per second.
func TestAdmissionLatency(t *testing.T) {
	benchutil.Require(t)
	seconds := benchutil.EnvInt(t, "KFPARGO_BENCH_SECONDS", 10)
	r := servers.StartRedis(t)
	m := servers.StartMinio(t, "mlpipeline")
	s3, err := artifact.NewStore(artifact.Config{Endpoint: m.Endpoint, AccessKey: m.AccessKey, SecretKey: m.SecretKey, Insecure: true})
	if err != nil {
		t.Fatal(err)
	}
	cs := cachestore.New(r.Client, cachestore.Options{})
	recordHits(t, cs, s3, "128")

	certs := selfSigned(t)
	// As cmd/cachewebhook runs it by default (--verify-cache-ttl 5s), and
	// with every hit's artifacts sent to the object store (0).
	counter := &cachewebhook.Counter{Store: cs}
	cctx, stop := context.WithCancel(context.Background())
	defer stop()
	go counter.Run(cctx, 5*time.Second)
	decider := &cachewebhook.Decider{Cache: cs, Artifacts: s3, LauncherImage: "launcher", MaxTTL: time.Hour, Counter: counter, Verified: cachewebhook.NewVerifiedCache(5 * time.Second)}
	hitURL := serve(t, certs, cachewebhook.Serve(decider, cachewebhook.ServeOptions{Timeout: time.Second, Log: zap.NewNop()}))
	strict := &cachewebhook.Decider{Cache: cs, Artifacts: s3, LauncherImage: "launcher", MaxTTL: time.Hour, Counter: counter}
	strictURL := serve(t, certs, cachewebhook.Serve(strict, cachewebhook.ServeOptions{Timeout: time.Second, Log: zap.NewNop()}))
	noop := cachewebhook.HandlerFunc(func(context.Context, *admissionv1.AdmissionRequest) cachewebhook.Response {
		return cachewebhook.Allowed(cachewebhook.Skip, "")
	})
	noopURL := serve(t, certs, cachewebhook.Serve(noop, cachewebhook.ServeOptions{Timeout: time.Second, Log: zap.NewNop()}))

	hit, miss := review("128"), review("256")
	// Check the fixtures decide as intended before measuring.
	for body, want := range map[string]string{string(hit): "hit", string(miss): "miss"} {
		if got := decisionOf(t, hitURL, []byte(body)); got != want {
			t.Fatalf("fixture decided %q, want %q", got, want)
		}
	}
	var rows []benchutil.Row
	for _, rate := range []int{200, 1000} {
		// Interleaved per rate: no-op, hit, miss, so load on the machine
		// hits all three alike.
		base := load(t, noopURL, hit, rate, seconds)
		for _, c := range []struct {
			name   string
			url    string
			body   []byte
			target bool // the target: p99 ≤ 5 ms at 1000 req/s on a verified hit
		}{
			{"hit, verified (5 s verification cache)", hitURL, hit, true},
			{"hit, every artifact HEADed", strictURL, hit, false},
			{"miss", hitURL, miss, false},
		} {
			res := load(t, c.url, c.body, rate, seconds)
			target, met := "–", "–"
			if c.target && rate == 1000 {
				target, met = "p99 ≤ 5 ms", benchutil.Verdict(res.p(99) <= 5*time.Millisecond && res.failed == 0)
			}
			rows = append(rows, benchutil.Row{
				Measure:  fmt.Sprintf("admission %s at %d req/s, %d s: p50 / p99 / max (ms)", c.name, rate, seconds),
				Value:    fmt.Sprintf("%s / %s / %s", ms(res.p(50)), ms(res.p(99)), ms(res.max())),
				Baseline: fmt.Sprintf("%s / %s / %s (no-op)", ms(base.p(50)), ms(base.p(99)), ms(base.max())),
				Ratio:    fmt.Sprintf("p99 +%s ms; %d failed, %d late", ms(res.p(99)-base.p(99)), res.failed, res.late),
				Target:   target, Met: met,
			})
		}
	}
	benchutil.Report(t, rows...)
}

func ms(d time.Duration) string { return fmt.Sprintf("%.2f", float64(d)/float64(time.Millisecond)) }

// recordHits writes a cache entry for the step with each hidden value, each
// with a 1 MiB model artifact of its own in MinIO, as a finished launcher
// would.
func recordHits(t *testing.T, cs *cachestore.Store, s3 *artifact.Store, hidden ...string) {
	t.Helper()
	for _, h := range hidden {
		spec, err := step.ParseRunArgs(launcherArgs(h, true), io.Discard)
		if err != nil {
			t.Fatal(err)
		}
		mat, err := cachekey.FromSpec(spec, map[string]string{"MODE": "fast"}, nil)
		if err != nil {
			t.Fatal(err)
		}
		key, _ := mat.Key()
		src := filepath.Join(t.TempDir(), "model")
		if err := os.WriteFile(src, bytes.Repeat([]byte("w"+h), 1<<20/(1+len(h))), 0o644); err != nil {
			t.Fatal(err)
		}
		loc, _ := artifact.ParseURI("minio://mlpipeline/v2/artifacts/bench/run-0-" + h + "/train/model")
		d, err := s3.Upload(context.Background(), src, loc)
		if err != nil {
			t.Fatal(err)
		}
		e := &cachestore.Entry{Version: cachestore.EntryVersion, Key: key, Scope: cachestore.NamespaceScope(ns),
			Params: map[string]string{"acc": "0.98"}, Artifacts: map[string]artifact.Descriptor{"model": *d},
			Source: cachestore.Source{Namespace: ns, Workflow: "run-0", Pod: "run-0-train-1", Task: "train"}, Created: time.Now()}
		if err := cs.Put(context.Background(), e, time.Hour); err != nil {
			t.Fatal(err)
		}
	}
}

// result holds one load phase's latencies.
type result struct {
	lat          []time.Duration
	failed, late int
}

func (r *result) p(q float64) time.Duration {
	if len(r.lat) == 0 {
		return 0
	}
	s := slices.Clone(r.lat)
	slices.Sort(s)
	return s[min(len(s)-1, int(float64(len(s))*q/100))]
}

func (r *result) max() time.Duration { return slices.Max(r.lat) }

// load sends body to url at rate per second for seconds, open loop: each
// request is due at its slot whether or not earlier ones were answered,
// and its latency counts from the slot, so a stalled server is not hidden
// (no coordinated omission). One warm-up second is not counted.
func load(t *testing.T, url string, body []byte, rate, seconds int) *result {
	t.Helper()
	client := &http.Client{Timeout: 5 * time.Second, Transport: &http.Transport{
		TLSClientConfig: &tls.Config{InsecureSkipVerify: true}, MaxIdleConnsPerHost: 256, MaxConnsPerHost: 0, ForceAttemptHTTP2: false,
	}}
	defer client.CloseIdleConnections()
	total := rate * (seconds + 1)
	interval := time.Second / time.Duration(rate)
	res := &result{}
	var mu sync.Mutex
	var wg sync.WaitGroup
	start := time.Now().Add(50 * time.Millisecond)
	for i := range total {
		due := start.Add(time.Duration(i) * interval)
		time.Sleep(time.Until(due))
		wg.Add(1)
		go func() {
			defer wg.Done()
			req, _ := http.NewRequest(http.MethodPost, url, bytes.NewReader(body))
			req.Header.Set("Content-Type", "application/json")
			resp, err := client.Do(req)
			ok := err == nil && resp.StatusCode == http.StatusOK
			if err == nil {
				_, _ = io.Copy(io.Discard, resp.Body)
				resp.Body.Close()
			}
			lat := time.Since(due)
			if i < rate {
				return // warm-up
			}
			mu.Lock()
			defer mu.Unlock()
			if !ok {
				res.failed++
				return
			}
			if time.Since(due) > 100*time.Millisecond {
				res.late++
			}
			res.lat = append(res.lat, lat)
		}()
	}
	wg.Wait()
	return res
}

func decisionOf(t *testing.T, url string, body []byte) string {
	client := &http.Client{Transport: &http.Transport{TLSClientConfig: &tls.Config{InsecureSkipVerify: true}}}
	resp, err := client.Post(url, "application/json", bytes.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var out admissionv1.AdmissionReview
	if err := json.NewDecoder(resp.Body).Decode(&out); err != nil {
		t.Fatal(err)
	}
	return out.Response.AuditAnnotations["decision"]
}

// serve runs an admission handler over HTTPS on loopback.
func serve(t *testing.T, certs *cachewebhook.CertWatcher, h http.Handler) string {
	l, err := tls.Listen("tcp", "127.0.0.1:0", &tls.Config{GetCertificate: certs.GetCertificate})
	if err != nil {
		t.Fatal(err)
	}
	srv := &http.Server{Handler: h}
	go func() { _ = srv.Serve(l) }()
	t.Cleanup(func() { _ = srv.Close() })
	return "https://" + l.Addr().String() + "/mutate"
}

func selfSigned(t *testing.T) *cachewebhook.CertWatcher {
	cert, key := servers.WriteSelfSigned(t, t.TempDir(), "bench")
	w, err := cachewebhook.NewCertWatcher(cert, key, nil)
	if err != nil {
		t.Fatal(err)
	}
	return w
}
