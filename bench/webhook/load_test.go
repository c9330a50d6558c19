package webhook

import (
	"context"
	"fmt"
	"maps"
	"net/http"
	"os"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/kfpargo/kfpargo/artifact"
	"github.com/kfpargo/kfpargo/bench/benchutil"
	"github.com/kfpargo/kfpargo/cachestore"
	"github.com/kfpargo/kfpargo/test/servers"
)

// loadEnv starts real Redis and MinIO on loopback, records a cache entry
// for each of the returned hidden values (their pods are hits), and runs
// the cachewebhook binary against them, with the extra flags of
// KFPARGO_BENCH_WEBHOOK_FLAGS (space-separated, e.g. "--timeout 200ms").
func loadEnv(t *testing.T) (*webhookProcess, []string, *servers.Redis) {
	t.Helper()
	bin := buildWebhook(t)
	r := servers.StartRedis(t)
	m := servers.StartMinio(t, "mlpipeline")
	s3, err := artifact.NewStore(artifact.Config{Endpoint: m.Endpoint, AccessKey: m.AccessKey, SecretKey: m.SecretKey, Insecure: true})
	if err != nil {
		t.Fatal(err)
	}
	var hits []string
	for i := range 20 {
		hits = append(hits, strconv.Itoa(1000+i))
	}
	recordHits(t, cachestore.New(r.Client, cachestore.Options{}), s3, hits...)
	return startWebhook(t, bin, r.Addr, m, strings.Fields(os.Getenv("KFPARGO_BENCH_WEBHOOK_FLAGS"))...), hits, r
}

// request is one admission of a load: what the pod is and what the webhook
// should decide for it.
type request struct {
	body      []byte
	uid, want string
}

// mixed is the i-th request of a mixed load: pods with cache entries
// (hits, cycling through hits), pods without (misses, each a new key, as
// new parameters make), and, when skipEvery > 0, every skipEvery-th a pod
// that does not ask for the cache (the in-run baseline: same binary, same
// decoding and logging, no lookup).
func mixed(i int, hits []string, skipEvery int) request {
	uid := fmt.Sprintf("uid-%d", i)
	switch {
	case skipEvery > 0 && i%skipEvery == 0:
		return request{reviewFor(hits[0], uid, false), uid, "skip"}
	case i%2 == 0:
		return request{reviewFor(hits[(i/2)%len(hits)], uid, true), uid, "hit"}
	default:
		return request{reviewFor(strconv.Itoa(1_000_000+i), uid, true), uid, "miss"}
	}
}

// tally collects a load's outcomes by what the request should have been
// decided (hit, miss, skip).
type tally struct {
	mu    sync.Mutex
	by    map[string]*result
	open  map[string]int // admitted unchanged after a webhook error (decision "error": fail open)
	wrong map[string]int // another decision than expected, not an error
	errs  map[string]int // failed admissions, by error (first 10 kinds)
}

func newTally() *tally {
	return &tally{by: map[string]*result{}, open: map[string]int{}, wrong: map[string]int{}, errs: map[string]int{}}
}

func (t *tally) add(want, got string, lat time.Duration, err error) {
	t.mu.Lock()
	defer t.mu.Unlock()
	r := t.by[want]
	if r == nil {
		r = &result{}
		t.by[want] = r
	}
	if err != nil {
		r.failed++
		msg := err.Error()
		if _, ok := t.errs[msg]; ok || len(t.errs) < 10 {
			t.errs[msg]++
		}
		return
	}
	r.lat = append(r.lat, lat)
	switch got {
	case want:
	case "error":
		t.open[want]++
	default:
		t.wrong[want]++
	}
}

// all pools the latencies of the given kinds (every kind when none given).
func (t *tally) all(kinds ...string) *result {
	if len(kinds) == 0 {
		kinds = slices.Sorted(maps.Keys(t.by))
	}
	out := &result{}
	for _, k := range kinds {
		if r := t.by[k]; r != nil {
			out.lat = append(out.lat, r.lat...)
			out.failed += r.failed
		}
	}
	return out
}

func (t *tally) count(m map[string]int) int {
	n := 0
	for _, v := range m {
		n += v
	}
	return n
}

func (t *tally) errors() string {
	var s []string
	for _, e := range slices.Sorted(maps.Keys(t.errs)) {
		s = append(s, fmt.Sprintf("%d× %s", t.errs[e], e))
	}
	return strings.Join(s, "; ")
}

// errorKinds lists the webhook's errors between two scrapes by kind
// (timeout: no decision within --timeout; redis, s3: a call failed or ran
// out of the budget itself).
func errorKinds(before, after map[string]float64) string {
	const prefix = `kfpargo_cachewebhook_errors_total{kind="`
	var s []string
	for _, k := range slices.Sorted(maps.Keys(after)) {
		if kind, ok := strings.CutPrefix(k, prefix); ok {
			if n := after[k] - before[k]; n > 0 {
				s = append(s, fmt.Sprintf("%s %.0f", strings.TrimSuffix(kind, `"}`), n))
			}
		}
	}
	if len(s) == 0 {
		return "none"
	}
	return strings.Join(s, ", ")
}

func lats(r *result) string {
	if len(r.lat) == 0 {
		return "– / – / –"
	}
	return fmt.Sprintf("%s / %s / %s", ms(r.p(50)), ms(r.p(99)), ms(r.max()))
}

// burst sends n requests from conc workers at once, each on its own
// keep-alive connection (a new client: the first request of each worker
// pays the TLS handshake, as after a webhook restart). Closed loop: a
// worker sends its next request when the last was answered.
func burst(n, conc int, url string, next func(i int) request) *tally {
	c := client()
	defer c.CloseIdleConnections()
	reqs := make([]request, n)
	for i := range reqs {
		reqs[i] = next(i)
	}
	work := make(chan request)
	tl := newTally()
	var wg sync.WaitGroup
	for range conc {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for r := range work {
				start := time.Now()
				got, err := admit(context.Background(), c, url, r.body, r.uid)
				tl.add(r.want, got, time.Since(start), err)
			}
		}()
	}
	for _, r := range reqs {
		work <- r
	}
	close(work)
	wg.Wait()
	return tl
}

// TestAdmissionBurst sends bursts of pod admissions (default 2 000, 200 at
// a time) to the cachewebhook binary, half hits and half misses, and as the
// baseline the same burst of pods that do not ask for the cache, in
// alternating rounds against one process. A failed admission is one the
// apiserver could not use: not HTTP 200, not a valid allowing review for
// the request, or no answer within the webhook configuration's 2 s.
func TestAdmissionBurst(t *testing.T) {
	benchutil.Require(t)
	n := benchutil.EnvInt(t, "KFPARGO_BENCH_BURST", 2000)
	conc := benchutil.EnvInt(t, "KFPARGO_BENCH_BURST_CONCURRENCY", 200)
	rounds := benchutil.EnvInt(t, "KFPARGO_BENCH_BURST_ROUNDS", 3)
	wp, hits, rdb := loadEnv(t)
	var rows []benchutil.Row
	for round := 1; round <= rounds; round++ {
		base := burst(n, conc, wp.url, func(i int) request { return mixed(i, hits, 1) })
		before, err := wp.metrics()
		if err != nil {
			t.Fatal(err)
		}
		tl := burst(n, conc, wp.url, func(i int) request { return mixed(i, hits, 0) })
		after, err := wp.metrics()
		if err != nil {
			t.Fatal(err)
		}
		if e := tl.errors() + base.errors(); e != "" {
			t.Logf("round %d failures: %s", round, e)
		}
		res, b := tl.all(), base.all()
		failed := res.failed
		rows = append(rows, benchutil.Row{
			Measure:  fmt.Sprintf("burst %d: %d admissions, %d concurrent, half hits half misses: p50 / p99 / max (ms)", round, n, conc),
			Value:    lats(res),
			Baseline: fmt.Sprintf("%s (same burst, pods without --cache: skipped, %d failed)", lats(b), b.failed),
			Ratio: fmt.Sprintf("p99 ×%.1f; hits %s, misses %s; %d failed, %d admitted unchanged (webhook's errors: %s), %d wrong decisions",
				float64(res.p(99))/float64(max(b.p(99), 1)), lats(tl.all("hit")), lats(tl.all("miss")),
				failed, tl.count(tl.open), errorKinds(before, after), tl.count(tl.wrong)),
			Target: "0 failed", Met: benchutil.Verdict(failed == 0),
		})
	}
	s, err := wp.sample(0)
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("after %d rounds: %s", rounds, s)
	// Connections Redis accepted (the webhook's pool, and the few of the
	// set-up): a pool that keeps its connections accepts few.
	info, err := rdb.Client.Info(context.Background(), "stats").Result()
	if err != nil {
		t.Fatal(err)
	}
	for _, l := range strings.Split(info, "\n") {
		if strings.HasPrefix(l, "total_connections_received:") {
			t.Logf("Redis %s", strings.TrimSpace(l))
		}
	}
	benchutil.Report(t, rows...)
}

// TestAdmissionSoak sends mixed traffic (40 % hits, 50 % misses, 10 %
// skipped pods as the in-run baseline) to the cachewebhook binary at a
// steady rate over a bounded number of connections for KFPARGO_BENCH_SOAK
// (default 30s for a quick check; the soak is 30m, run by hand)
// and samples its RSS (/proc), Go heap and goroutines (/metrics) and open
// files along the way. Memory is flat when the end is within 20 % of the
// start; the start is read after a warm-up of a minute (a quarter of
// shorter soaks), once the pools, caches and GC have settled. A last
// sample after the client hung up shows what requests left behind.
func TestAdmissionSoak(t *testing.T) {
	benchutil.Require(t)
	d := benchutil.EnvDuration(t, "KFPARGO_BENCH_SOAK", 30*time.Second)
	rate := benchutil.EnvInt(t, "KFPARGO_BENCH_SOAK_RATE", 150)
	warm, every := min(time.Minute, d/4), min(30*time.Second, d/10)
	wp, hits, _ := loadEnv(t)
	idle, err := wp.sample(0)
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("idle: %s", idle)

	// At most conns connections, as a steady apiserver keeps: the webhook's
	// memory follows its open connections (buffers, TLS state), and
	// without a bound a load spike on the shared machine opens hundreds,
	// which would read as growth over time. Requests beyond them wait in
	// the client, and their latency still counts from when they were due.
	conns := benchutil.EnvInt(t, "KFPARGO_BENCH_SOAK_CONNS", 32)
	c := client()
	c.Transport.(*http.Transport).MaxConnsPerHost = conns
	defer c.CloseIdleConnections()
	tl := newTally()
	start := time.Now()
	var samples []memSample
	var sampleErr error
	sampled := make(chan struct{})
	go func() {
		defer close(sampled)
		for next := every; next <= d; next += every {
			time.Sleep(time.Until(start.Add(next)))
			s, err := wp.sample(next)
			if err != nil {
				sampleErr = err
				return
			}
			// In the log as it goes: a soak stopped early keeps its series.
			fmt.Fprintln(os.Stderr, s)
			samples = append(samples, s)
		}
	}()
	// Open loop, as load: request i is due at i/rate, its latency counts
	// from then. Requests due in the warm-up are sent, not counted.
	interval := time.Second / time.Duration(rate)
	var wg sync.WaitGroup
	for i := 0; ; i++ {
		off := time.Duration(i) * interval
		if off >= d {
			break
		}
		due := start.Add(off)
		time.Sleep(time.Until(due))
		wg.Add(1)
		go func() {
			defer wg.Done()
			r := mixed(i, hits, 10)
			got, err := admit(context.Background(), c, wp.url, r.body, r.uid)
			if off >= warm {
				tl.add(r.want, got, time.Since(due), err)
			}
		}()
	}
	wg.Wait()
	<-sampled
	if sampleErr != nil {
		t.Fatal(sampleErr)
	}
	for _, s := range samples {
		t.Log(s)
	}
	// Idle again: whatever a request left behind (goroutines, connections)
	// shows once the client hung up.
	c.CloseIdleConnections()
	time.Sleep(5 * time.Second)
	quiet, err := wp.sample(d + 5*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("idle after the soak: %s", quiet)
	if e := tl.errors(); e != "" {
		t.Logf("failures: %s", e)
	}
	var after []memSample
	for _, s := range samples {
		if s.at >= warm {
			after = append(after, s)
		}
	}
	if len(after) < 2 {
		t.Fatalf("%d samples after the warm-up of %s: soak longer", len(after), warm)
	}
	first, last := after[0], after[len(after)-1]
	peak := func(f func(memSample) float64) float64 {
		v := 0.0
		for _, s := range after {
			v = max(v, f(s))
		}
		return v
	}
	res, base := tl.all("hit", "miss"), tl.all("skip")
	label := fmt.Sprintf("soak %s at %d req/s over ≤ %d connections (40 %% hits, 50 %% misses, 10 %% skipped)", d, rate, conns)
	flat := last.rss <= 1.2*first.rss
	benchutil.Report(t,
		benchutil.Row{
			Measure: label + ", after the warm-up: p50 / p99 / max (ms)",
			Value:   lats(res), Baseline: lats(base) + " (the skipped pods)",
			Ratio: fmt.Sprintf("hits %s, misses %s; %d failed, %d admitted unchanged, %d wrong decisions",
				lats(tl.all("hit")), lats(tl.all("miss")), res.failed+base.failed, tl.count(tl.open), tl.count(tl.wrong)),
			Target: "0 failed", Met: benchutil.Verdict(res.failed+base.failed == 0),
		},
		benchutil.Row{
			Measure:  label + fmt.Sprintf(": webhook RSS at %s / end / max (MiB)", first.at.Round(time.Second)),
			Value:    fmt.Sprintf("%s / %s / %s", mib(first.rss), mib(last.rss), mib(peak(func(s memSample) float64 { return s.rss }))),
			Baseline: fmt.Sprintf("%s (idle, before the soak)", mib(idle.rss)),
			Ratio: fmt.Sprintf("end/start ×%.2f; goroutines %.0f → %.0f, open files %d → %d; idle before / after: goroutines %.0f / %.0f, open files %d / %d",
				last.rss/first.rss, first.goroutines, last.goroutines, first.fds, last.fds, idle.goroutines, quiet.goroutines, idle.fds, quiet.fds),
			Target: "end ≤ 1.2 × start", Met: benchutil.Verdict(flat),
		},
		benchutil.Row{
			Measure:  label + ": Go heap in use at start / end / max (MiB)",
			Value:    fmt.Sprintf("%s / %s / %s", mib(first.heap), mib(last.heap), mib(peak(func(s memSample) float64 { return s.heap }))),
			Baseline: fmt.Sprintf("%s (idle)", mib(idle.heap)),
			Ratio:    fmt.Sprintf("end/start ×%.2f; webhook CPU %.0f s in %s", last.heap/first.heap, last.cpu-idle.cpu, d),
			Target:   "–", Met: "–",
		},
	)
}
