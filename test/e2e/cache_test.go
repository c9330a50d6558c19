package e2e

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/minio/minio-go/v7"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/kfpargo/kfpargo/artifact"
	"github.com/kfpargo/kfpargo/cachestore"
	"github.com/kfpargo/kfpargo/runstatus"
	"github.com/kfpargo/kfpargo/step"
	"github.com/kfpargo/kfpargo/test/runner"
	"github.com/kfpargo/kfpargo/test/stacktest"

	"github.com/redis/go-redis/v9"
)

const cacheChain = "testdata/cache-chain.yaml"

// cacheStack is the local stack with its cache webhook and Redis; cache
// tests need to reach them directly.
func cacheStack(t *testing.T) *runner.Target {
	t.Helper()
	tg := needTarget(t)
	if dev == nil {
		t.Skip("the cache tests need the local stack with the dev overlay installed")
	}
	cached := *tg
	cached.NoCache = false
	return &cached
}

// counterDir is where cache-chain's commands count their runs; the node
// agent's pods share /var/tmp with the host.
func counterDir(tag string) string { return filepath.Join("/var/tmp/kfpargo-e2e", tag) }

// ran says how often a cache-chain step's command really ran for tag.
func ran(t *testing.T, tag, stepName string) int {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(counterDir(tag), stepName))
	if os.IsNotExist(err) {
		return 0
	}
	if err != nil {
		t.Fatal(err)
	}
	return strings.Count(string(b), "run")
}

func uniqueTag(t *testing.T) string {
	tag := fmt.Sprintf("%s-%d", strings.ToLower(strings.ReplaceAll(t.Name(), "/", "-")), time.Now().UnixNano())
	t.Cleanup(func() { _ = os.RemoveAll(counterDir(tag)) })
	return tag
}

// runWith compiles a spec for a target, runs it and logs its report.
func runWith(t *testing.T, tg *runner.Target, spec string, params map[string]string) *runner.Result {
	t.Helper()
	wf, err := tg.Compile(spec, params)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Minute)
	defer cancel()
	res, err := tg.Run(ctx, wf, stacktest.LogWriter{T: t})
	if err != nil {
		t.Fatal(err)
	}
	var b strings.Builder
	res.Report(&b)
	t.Log(b.String())
	return res
}

func mustSucceed(t *testing.T, res *runner.Result) {
	t.Helper()
	if !res.Succeeded() {
		t.Fatalf("run %s: %s (%s)", res.Workflow.Name, res.Workflow.Status.Phase, res.Workflow.Status.Message)
	}
}

// decisions maps step name to the webhook's decision for it.
func decisions(res *runner.Result) map[string]string {
	out := map[string]string{}
	for _, s := range res.Steps {
		out[s.Name] = s.Cache
	}
	return out
}

// stepPods returns each step's pod by step name.
func stepPods(t *testing.T, tg *runner.Target, res *runner.Result) map[string]corev1.Pod {
	t.Helper()
	pods, err := runstatus.Pods(context.Background(), tg.Clients, tg.Namespace, res.Workflow.Name)
	if err != nil {
		t.Fatal(err)
	}
	byNode := map[string]corev1.Pod{}
	for _, p := range pods {
		byNode[p.Annotations["workflows.argoproj.io/node-name"]] = p
	}
	out := map[string]corev1.Pod{}
	for _, s := range res.Steps {
		out[s.Name] = byNode[s.NodeName]
	}
	return out
}

// checkReplayed asserts that a step was served from the cache: its pod is
// labelled cached, its main container ran the launcher's replay from the
// launcher image, and the replay took under a second.
func checkReplayed(t *testing.T, tg *runner.Target, res *runner.Result, names ...string) {
	t.Helper()
	pods := stepPods(t, tg, res)
	for _, name := range names {
		p, ok := pods[name]
		if !ok {
			t.Errorf("no pod for step %s", name)
			continue
		}
		if p.Labels[step.LabelCached] != "true" {
			t.Errorf("step %s: pod %s not labelled %s (decision %q)", name, p.Name, step.LabelCached, p.Annotations[step.AnnotationCacheDecision])
			continue
		}
		for _, c := range p.Spec.Containers {
			if c.Name != "main" {
				continue
			}
			if !strings.Contains(strings.Join(c.Command, " "), step.LauncherPath+" replay") || c.Image != tg.LauncherImage {
				t.Errorf("step %s: main container %s runs %q, want the launcher's replay", name, c.Image, c.Command)
			}
		}
		if stack == nil {
			continue
		}
		// The launcher logs its whole lifetime at the end of a replay.
		logPath := filepath.Join(stack.StateDir, "node", "logs", fmt.Sprintf("%s_%s_%s", p.Namespace, p.Name, p.UID), "main.log")
		b, err := os.ReadFile(logPath)
		if err != nil {
			t.Errorf("step %s: %v", name, err)
			continue
		}
		m := regexp.MustCompile(`replay finished\s.*"took": ([0-9.e+-]+)`).FindSubmatch(b)
		if m == nil {
			t.Errorf("step %s: no replay in its main container's log:\n%s", name, b)
			continue
		}
		took, _ := strconv.ParseFloat(string(m[1]), 64)
		t.Logf("step %s: replay took %.1f ms", name, took*1000)
		if took >= 1 {
			t.Errorf("step %s: the replay took %.2fs, want under 1s", name, took)
		}
	}
}

// TestCacheSeedScenario is issue 5's scenario on the seed pipeline: change
// only the training step's hidden units and the slow data loading and the
// preprocessing come from the cache; run it again unchanged and every step
// does.
func TestCacheSeedScenario(t *testing.T) {
	tg := cacheStack(t)
	// A salt of our own: other runs of the seed pipeline on this stack
	// must not serve this test.
	spec := saltedSeed(t)
	first := runWith(t, tg, spec, map[string]string{"hidden_units": "128"})
	mustSucceed(t, first)
	for name, d := range decisions(first) {
		if d != "miss" {
			t.Errorf("first run: step %s decision %q, want miss", name, d)
		}
	}
	second := runWith(t, tg, spec, map[string]string{"hidden_units": "256"})
	mustSucceed(t, second)
	d := decisions(second)
	if d["load-data"] != "hit" || d["preprocessing"] != "hit" || d["train"] != "miss" || d["evaluate"] != "miss" {
		t.Errorf("second run decisions %v, want load-data and preprocessing hits", d)
	}
	checkReplayed(t, tg, second, "load-data", "preprocessing")
	// kfpargo cache explain says why train ran.
	out := explain(t, stepPods(t, tg, second)["train"].Name)
	if !strings.Contains(out, "decision:  miss") || !strings.Contains(out, "parameter hidden_units") || !strings.Contains(out, "128") || !strings.Contains(out, "256") {
		t.Errorf("kfpargo cache explain of the second run's train pod:\n%s", out)
	}
	third := runWith(t, tg, spec, map[string]string{"hidden_units": "256"})
	mustSucceed(t, third)
	for name, d := range decisions(third) {
		if d != "hit" {
			t.Errorf("third run: step %s decision %q, want hit", name, d)
		}
	}
	checkReplayed(t, tg, third, "load-data", "preprocessing", "train", "evaluate")
	// The replayed outputs are the recorded ones.
	if a, b := stepByName(third.Steps)["evaluate"].Outputs["test_accuracy"], stepByName(second.Steps)["evaluate"].Outputs["test_accuracy"]; a != b || a == "" {
		t.Errorf("replayed test_accuracy %q, recorded %q", a, b)
	}
	t.Logf("wall time: first run %s, second (hidden_units changed) %s, third (unchanged) %s",
		first.Elapsed.Round(100*time.Millisecond), second.Elapsed.Round(100*time.Millisecond), third.Elapsed.Round(100*time.Millisecond))
	if second.Elapsed >= first.Elapsed {
		t.Errorf("the second run (%s) was not faster than the first (%s)", second.Elapsed, first.Elapsed)
	}
}

// explain runs `kfpargo cache explain POD` against the stack.
func explain(t *testing.T, pod string) string {
	t.Helper()
	out, err := exec.Command(kfpargoBinary(t), "cache", "explain", pod, "-n", stack.Namespace, "--redis-addr", dev.RedisAddr, "--kubeconfig", stack.Kubeconfig).CombinedOutput()
	if err != nil {
		t.Fatalf("kfpargo cache explain: %v\n%s", err, out)
	}
	t.Logf("kfpargo cache explain %s:\n%s", pod, out)
	return string(out)
}

// saltedSeed writes the seed pipeline with a cache salt unique to the test.
func saltedSeed(t *testing.T) string {
	t.Helper()
	b, err := os.ReadFile(seedPipeline)
	if err != nil {
		t.Fatal(err)
	}
	salt := fmt.Sprintf("cacheKey: e2e-%d", time.Now().UnixNano())
	s := strings.ReplaceAll(string(b), "enableCache: true", "enableCache: true\n          "+salt)
	if s == string(b) {
		t.Fatal("no cachingOptions to salt in the seed pipeline")
	}
	path := filepath.Join(t.TempDir(), "seed.yaml")
	if err := os.WriteFile(path, []byte(s), 0o644); err != nil {
		t.Fatal(err)
	}
	return path
}

// TestCacheIdenticalUpstreamBytes: produce is not cached and runs again,
// writing the same bytes to a new URI; consume and check still hit, because
// the key holds content digests, not URIs.
func TestCacheIdenticalUpstreamBytes(t *testing.T) {
	tg := cacheStack(t)
	tag := uniqueTag(t)
	mustSucceed(t, runWith(t, tg, cacheChain, map[string]string{"tag": tag}))
	res := runWith(t, tg, cacheChain, map[string]string{"tag": tag})
	mustSucceed(t, res)
	if p, c, k := ran(t, tag, "produce"), ran(t, tag, "consume"), ran(t, tag, "check"); p != 2 || c != 1 || k != 1 {
		t.Errorf("commands ran produce %d, consume %d, check %d times; want 2, 1, 1", p, c, k)
	}
	checkReplayed(t, tg, res, "consume", "check")
}

// TestCacheDeletedArtifact: deleting a cached artifact makes the next run
// miss for that step and re-run it, which heals the entry.
func TestCacheDeletedArtifact(t *testing.T) {
	tg := cacheStack(t)
	tag := uniqueTag(t)
	first := runWith(t, tg, cacheChain, map[string]string{"tag": tag})
	mustSucceed(t, first)
	desc, err := artifact.ParseDescriptor(stepByName(first.Steps)["consume"].Outputs[step.ArtifactParam("summary")])
	if err != nil {
		t.Fatal(err)
	}
	loc, _ := artifact.ParseURI(desc.URI)
	if err := tg.Store.Client().RemoveObject(context.Background(), loc.Bucket, loc.Key, minio.RemoveObjectOptions{}); err != nil {
		t.Fatal(err)
	}
	second := runWith(t, tg, cacheChain, map[string]string{"tag": tag})
	mustSucceed(t, second)
	if d := decisions(second)["consume"]; d != "miss" {
		t.Errorf("after deleting its artifact, consume's decision is %q, want miss", d)
	}
	if n := ran(t, tag, "consume"); n != 2 {
		t.Errorf("consume ran %d times, want 2", n)
	}
	third := runWith(t, tg, cacheChain, map[string]string{"tag": tag})
	mustSucceed(t, third)
	if n := ran(t, tag, "consume"); n != 2 || decisions(third)["consume"] != "hit" {
		t.Errorf("after healing: consume ran %d times, decision %q; want 2 and hit", n, decisions(third)["consume"])
	}
}

// TestCacheFailedStepAndTTL: a failed step leaves no entry; an entry past
// its TTL is not used.
func TestCacheFailedStepAndTTL(t *testing.T) {
	tg := cacheStack(t)
	tag := uniqueTag(t)
	res := runWith(t, tg, cacheChain, map[string]string{"tag": tag, "fail": "true"})
	if res.Succeeded() {
		t.Fatal("the run with a failing check succeeded")
	}
	rdb := redis.NewClient(&redis.Options{Addr: dev.RedisAddr})
	defer rdb.Close()
	cs := cachestore.New(rdb, cachestore.Options{})
	tasks := map[string]bool{}
	for e, err := range cs.Entries(context.Background(), cachestore.NamespaceScope(tg.Namespace)) {
		if err != nil {
			t.Fatal(err)
		}
		if e.Source.Workflow == res.Workflow.Name {
			tasks[e.Source.Task] = true
		}
	}
	if !tasks["consume"] || tasks["check"] || tasks["produce"] {
		t.Errorf("entries of the failed run: %v; want consume only", tasks)
	}
	// A retry runs check again (no entry) and succeeds.
	mustSucceed(t, runWith(t, tg, cacheChain, map[string]string{"tag": tag}))
	if n := ran(t, tag, "check"); n != 2 {
		t.Errorf("check ran %d times, want 2", n)
	}

	short := *tg
	short.MaxCacheStaleness = "3s"
	ttlTag := uniqueTag(t)
	mustSucceed(t, runWith(t, &short, cacheChain, map[string]string{"tag": ttlTag}))
	time.Sleep(4 * time.Second)
	second := runWith(t, &short, cacheChain, map[string]string{"tag": ttlTag})
	mustSucceed(t, second)
	if n := ran(t, ttlTag, "consume"); n != 2 || decisions(second)["consume"] != "miss" {
		t.Errorf("past the TTL: consume ran %d times, decision %q; want 2 and miss", n, decisions(second)["consume"])
	}
}

// TestCacheForgedEntry: whoever can write to Redis but does not hold the
// installation's signing key cannot make a pod skip its work. The entries
// of a run are replaced by forgeries (unsigned, or signed with another
// key); the next run runs every step, the webhook counts the refusals, and
// the launchers' new, signed entries serve the run after.
func TestCacheForgedEntry(t *testing.T) {
	tg := cacheStack(t)
	tag := uniqueTag(t)
	ctx := context.Background()
	first := runWith(t, tg, cacheChain, map[string]string{"tag": tag})
	mustSucceed(t, first)

	rdb := redis.NewClient(&redis.Options{Addr: dev.RedisAddr})
	defer rdb.Close()
	unsigned := cachestore.New(rdb, cachestore.Options{})
	otherKey, err := cachestore.ParseKeyring(strings.Repeat("f", 64))
	if err != nil {
		t.Fatal(err)
	}
	forgers := []*cachestore.Store{unsigned, cachestore.New(rdb, cachestore.Options{Keys: otherKey})}
	var genuine []*cachestore.Entry
	for e, err := range unsigned.Entries(ctx, cachestore.NamespaceScope(tg.Namespace)) {
		if err != nil {
			t.Fatal(err)
		}
		if e.Source.Workflow == first.Workflow.Name {
			genuine = append(genuine, e)
		}
	}
	if len(genuine) != 2 {
		t.Fatalf("%d entries of the first run, want 2 (consume and check)", len(genuine))
	}
	for i, e := range genuine {
		if e.Signature == "" {
			t.Errorf("the entry of %s is not signed", e.Source.Task)
		}
		// Same key, outputs of the forger's choosing.
		e.Source.Workflow, e.Signature = "forged", ""
		for name := range e.Params {
			e.Params[name] = "forged"
		}
		if err := forgers[i%2].Put(ctx, e, time.Hour); err != nil {
			t.Fatal(err)
		}
	}
	before := webhookMetric(t, `kfpargo_cachewebhook_errors_total{kind="signature"}`)
	second := runWith(t, tg, cacheChain, map[string]string{"tag": tag})
	mustSucceed(t, second)
	// Both cached steps run again: the webhook refuses consume's forgery
	// and the launchers refuse both.
	for _, task := range []string{"consume", "check"} {
		if n, d := ran(t, tag, task), decisions(second)[task]; n != 2 || d == "hit" {
			t.Errorf("over a forged entry, %s ran %d times (decision %q); want 2, not a hit", task, n, d)
		}
	}
	// The refusal is on the pod, for `kfpargo get` to show.
	if a := stepPods(t, tg, second)["consume"].Annotations[step.AnnotationCacheDecision]; !strings.HasPrefix(a, "error: ") || !strings.Contains(a, "signature does not verify") {
		t.Errorf("consume's decision annotation %q, want the signature error", a)
	}
	if got := webhookMetric(t, `kfpargo_cachewebhook_errors_total{kind="signature"}`) - before; got < 1 {
		t.Errorf("errors_total{kind=\"signature\"} rose by %v, want 1 or more", got)
	}
	third := runWith(t, tg, cacheChain, map[string]string{"tag": tag})
	mustSucceed(t, third)
	for _, task := range []string{"consume", "check"} {
		if n := ran(t, tag, task); n != 2 {
			t.Errorf("after the forgeries were replaced, %s ran %d times; want 2 (served from the new entry)", task, n)
		}
	}
	if d := decisions(third)["consume"]; d != "hit" {
		t.Errorf("after the forgeries were replaced, consume's decision %q, want hit", d)
	}
}

// TestCacheNamespaceScope: a pod is served only entries written in its own
// namespace. The pod of a cached step that has an entry is created again,
// as a server-side dry run that goes through the real webhook: in its own
// namespace it is a hit, in another namespace (launcher flags changed to
// match) a miss, although the key is the same.
func TestCacheNamespaceScope(t *testing.T) {
	tg := cacheStack(t)
	tag := uniqueTag(t)
	ctx := context.Background()
	first := runWith(t, tg, cacheChain, map[string]string{"tag": tag})
	mustSucceed(t, first)
	ran := stepPods(t, tg, first)["consume"]
	if ran.Annotations[step.AnnotationCacheKey] == "" {
		t.Fatalf("consume's pod has no cache key: %v", ran.Annotations)
	}
	kc := tg.Clients.Kube
	other := "kfpargo-e2e-tenant"
	if _, err := kc.CoreV1().Namespaces().Create(ctx, &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: other}}, metav1.CreateOptions{}); err != nil && !apierrors.IsAlreadyExists(err) {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = kc.CoreV1().Namespaces().Delete(context.Background(), other, metav1.DeleteOptions{}) })
	// Pods need the namespace's default service account to be admitted.
	if err := poll(ctx, time.Minute, func() error {
		_, err := kc.CoreV1().ServiceAccounts(other).Get(ctx, "default", metav1.GetOptions{})
		return err
	}); err != nil {
		t.Fatal(err)
	}
	decide := func(namespace string) (key, decision string) {
		t.Helper()
		pod := &corev1.Pod{
			ObjectMeta: metav1.ObjectMeta{GenerateName: "scope-", Namespace: namespace, Labels: map[string]string{}, Annotations: map[string]string{}},
			Spec:       *ran.Spec.DeepCopy(),
		}
		for k, v := range ran.Labels {
			if k != step.LabelCached {
				pod.Labels[k] = v
			}
		}
		pod.Annotations["workflows.argoproj.io/node-name"] = ran.Annotations["workflows.argoproj.io/node-name"]
		pod.Spec.NodeName = ""
		for i, c := range pod.Spec.Containers {
			for j := 1; j < len(c.Args); j++ {
				if c.Args[j-1] == "--namespace" {
					pod.Spec.Containers[i].Args[j] = namespace
				}
			}
		}
		got, err := kc.CoreV1().Pods(namespace).Create(ctx, pod, metav1.CreateOptions{DryRun: []string{metav1.DryRunAll}})
		if err != nil {
			t.Fatalf("dry-run pod in %s: %v", namespace, err)
		}
		return got.Annotations[step.AnnotationCacheKey], got.Annotations[step.AnnotationCacheDecision]
	}
	// The apiserver may call the webhook before its Redis connection is
	// warm; a decision of "error" (admitted unchanged) is retried.
	var key, decision string
	for _, ns := range []string{tg.Namespace, other} {
		if err := poll(ctx, 30*time.Second, func() error {
			key, decision = decide(ns)
			if strings.HasPrefix(decision, "error") || decision == "" {
				return fmt.Errorf("decision %q", decision)
			}
			return nil
		}); err != nil {
			t.Fatalf("in %s: %v", ns, err)
		}
		t.Logf("in %s: %s", ns, decision)
		want := "hit"
		if ns == other {
			want = "miss"
		}
		if key != ran.Annotations[step.AnnotationCacheKey] || !strings.HasPrefix(decision, want) {
			t.Errorf("in %s: key %s, decision %q; want key %s and %s", ns, key, decision, ran.Annotations[step.AnnotationCacheKey], want)
		}
	}
}

// TestCacheRedisDown: Redis stops during a run; every pod is admitted, the
// run succeeds uncached, and the webhook counts the errors.
func TestCacheRedisDown(t *testing.T) {
	tg := cacheStack(t)
	tag := uniqueTag(t)
	before := webhookMetric(t, `kfpargo_cachewebhook_errors_total{kind="redis"}`)
	t.Cleanup(func() {
		if err := dev.StartRedis(context.Background()); err != nil {
			t.Fatal(err)
		}
	})
	// Redis goes away while the run is under way: produce (not cached)
	// is running or done, consume and check are still to be admitted.
	go func() {
		deadline := time.Now().Add(5 * time.Minute)
		for time.Now().Before(deadline) {
			if _, err := os.Stat(filepath.Join(counterDir(tag), "produce")); err == nil {
				break
			}
			time.Sleep(50 * time.Millisecond)
		}
		if err := dev.StopRedis(context.Background()); err != nil {
			t.Error(err)
		}
	}()
	// produce works long enough for Redis to be gone before consume is
	// admitted.
	res := runWith(t, tg, cacheChain, map[string]string{"tag": tag, "work_seconds": "6"})
	mustSucceed(t, res)
	if c, k := ran(t, tag, "consume"), ran(t, tag, "check"); c != 1 || k != 1 {
		t.Errorf("consume ran %d, check %d times", c, k)
	}
	if after := webhookMetric(t, `kfpargo_cachewebhook_errors_total{kind="redis"}`); after < before+2 {
		t.Errorf("webhook redis errors went from %v to %v, want +2 (consume and check)", before, after)
	}
}

// TestCacheWebhookDown: with the webhook stopped, the apiserver admits the
// pods (failurePolicy Ignore) and the run succeeds.
func TestCacheWebhookDown(t *testing.T) {
	tg := cacheStack(t)
	tag := uniqueTag(t)
	if err := dev.StopWebhook(context.Background()); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if err := dev.StartWebhook(context.Background()); err != nil {
			t.Fatal(err)
		}
	})
	res := runWith(t, tg, cacheChain, map[string]string{"tag": tag})
	mustSucceed(t, res)
	for name, d := range decisions(res) {
		if d != "" {
			t.Errorf("step %s has decision %q with the webhook down", name, d)
		}
	}
}

// TestCacheConcurrentRuns: two identical runs started together compute
// each cached step once; the other waits for the entry and replays it.
func TestCacheConcurrentRuns(t *testing.T) {
	tg := cacheStack(t)
	tag := uniqueTag(t)
	var wg sync.WaitGroup
	results := make([]*runner.Result, 2)
	for i := range results {
		wg.Add(1)
		go func() {
			defer wg.Done()
			wf, err := tg.Compile(cacheChain, map[string]string{"tag": tag, "work_seconds": "8"})
			if err != nil {
				t.Error(err)
				return
			}
			ctx, cancel := context.WithTimeout(context.Background(), 10*time.Minute)
			defer cancel()
			results[i], err = tg.Run(ctx, wf, stacktest.LogWriter{T: t})
			if err != nil {
				t.Error(err)
			}
		}()
	}
	wg.Wait()
	for _, r := range results {
		if r == nil {
			t.FailNow()
		}
		mustSucceed(t, r)
	}
	if p, c, k := ran(t, tag, "produce"), ran(t, tag, "consume"), ran(t, tag, "check"); p != 2 || c != 1 || k != 1 {
		t.Errorf("commands ran produce %d, consume %d, check %d times; want 2, 1, 1", p, c, k)
	}
}

// webhookMetric sums one sample of the webhook replicas' /metrics.
func webhookMetric(t *testing.T, sample string) float64 {
	t.Helper()
	v, err := dev.WebhookMetric(context.Background(), sample)
	if err != nil {
		t.Fatal(err)
	}
	return v
}
