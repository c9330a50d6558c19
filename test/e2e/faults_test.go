package e2e

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	wfv1 "github.com/argoproj/argo-workflows/v3/pkg/apis/workflow/v1alpha1"
	"github.com/minio/minio-go/v7"
	"github.com/minio/minio-go/v7/pkg/credentials"
	"github.com/redis/go-redis/v9"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/kfpargo/kfpargo/artifact"
	"github.com/kfpargo/kfpargo/cachestore"
	"github.com/kfpargo/kfpargo/step"
	"github.com/kfpargo/kfpargo/test/runner"
	"github.com/kfpargo/kfpargo/test/servers"
)

// Fault tests: a component of the stack fails while a run is under way,
// and the run still succeeds. The launcher killed and MinIO restarted
// during an upload are tested on the launcher process in cmd/launcher
// (fault_test.go), where the moment of the fault can be controlled.

const fanout = "testdata/fanout.yaml"

// fanoutItems is the length of fanout.yaml's default item list.
const fanoutItems = 16

// whenRan calls f once stepName's command has started for tag (its
// counter file exists), in the background; the returned channel receives
// f's error.
func whenRan(tag, stepName string, f func() error) <-chan error {
	errc := make(chan error, 1)
	go func() {
		deadline := time.Now().Add(5 * time.Minute)
		for {
			if _, err := os.Stat(filepath.Join(counterDir(tag), stepName)); err == nil {
				break
			}
			if time.Now().After(deadline) {
				errc <- fmt.Errorf("step %s did not start in 5 minutes", stepName)
				return
			}
			time.Sleep(50 * time.Millisecond)
		}
		errc <- f()
	}()
	return errc
}

// TestFaultAPIServerRestart: kube-apiserver is restarted (same flags, same
// etcd) while a step runs. Argo's controller, the node agent and the cache
// webhook reconnect by themselves: the run completes, every step once.
func TestFaultAPIServerRestart(t *testing.T) {
	tg := needTarget(t)
	if stack == nil {
		t.Skip("restarts the local stack's apiserver")
	}
	tag := uniqueTag(t)
	var took time.Duration
	restarted := whenRan(tag, "consume", func() error {
		start := time.Now()
		err := stack.RestartAPIServer(context.Background())
		took = time.Since(start)
		return err
	})
	res := runWith(t, tg, cacheChain, map[string]string{"tag": tag, "work_seconds": "10"})
	if err := <-restarted; err != nil {
		t.Fatal(err)
	}
	t.Logf("kube-apiserver restarted in %s while consume ran", took.Round(100*time.Millisecond))
	mustSucceed(t, res)
	if p, c, k := ran(t, tag, "produce"), ran(t, tag, "consume"), ran(t, tag, "check"); p != 1 || c != 1 || k != 1 {
		t.Errorf("commands ran produce %d, consume %d, check %d times; want each once", p, c, k)
	}
}

// TestFaultRedisRestart: Redis is killed while a cached step runs and
// comes back (empty) before it ends. The step records its entry in the new
// Redis (the launcher's client reconnects), the next step is looked up
// there (the webhook's client reconnects: a miss, not an error), and a
// second run is served from the cache.
func TestFaultRedisRestart(t *testing.T) {
	tg := cacheStack(t)
	tag := uniqueTag(t)
	t.Cleanup(func() {
		if err := dev.StartRedis(context.Background()); err != nil {
			t.Error(err)
		}
	})
	var restartedAt time.Time
	restarted := whenRan(tag, "consume", func() error {
		ctx := context.Background()
		if err := dev.StopRedis(ctx); err != nil {
			return err
		}
		if err := dev.StartRedis(ctx); err != nil {
			return err
		}
		restartedAt = time.Now()
		return nil
	})
	// consume works long enough for Redis to go and come back meanwhile.
	params := map[string]string{"tag": tag, "work_seconds": "25"}
	first := runWith(t, tg, cacheChain, params)
	if err := <-restarted; err != nil {
		t.Fatal(err)
	}
	mustSucceed(t, first)
	consumeEnd := stepByName(first.Steps)["consume"].Finished
	if consumeEnd.IsZero() || consumeEnd.Add(time.Second).Before(restartedAt) {
		t.Fatalf("consume finished at %s, before Redis was back at %s: the fault did not land mid-step (make work_seconds longer)", consumeEnd, restartedAt)
	}
	if d := decisions(first); d["consume"] != "miss" || d["check"] != "miss" {
		t.Errorf("first run decisions %v; want consume and check misses (check looked up in the restarted Redis)", d)
	}
	second := runWith(t, tg, cacheChain, params)
	mustSucceed(t, second)
	if d := decisions(second); d["consume"] != "hit" || d["check"] != "hit" {
		t.Errorf("second run decisions %v; want consume and check hits from entries written after the restart", d)
	}
	if c, k := ran(t, tag, "consume"), ran(t, tag, "check"); c != 1 || k != 1 {
		t.Errorf("consume ran %d, check %d times; want once each", c, k)
	}
}

// TestFaultWebhookKilledMidBurst: the webhook's pods are deleted (no grace
// period, so admissions in flight are cut off) and deleted again as they
// come back, first while a run creates a burst of step pods, then while
// the test creates a burst of step pods itself. The apiserver admits
// every pod (failurePolicy Ignore): the run succeeds with every item run
// once, every pod of the second burst is created, the first ones served
// by the webhook and later ones without it.
func TestFaultWebhookKilledMidBurst(t *testing.T) {
	tg := cacheStack(t)
	tag := uniqueTag(t)
	ctx := context.Background()
	t.Cleanup(func() {
		if err := dev.StartWebhook(context.Background()); err != nil {
			t.Error(err)
		}
	})
	pods := dev.kc.CoreV1().Pods(tg.Namespace)
	// The run: kill from its first pod until every item has started.
	submitted := time.Now()
	k := startKiller(func() bool {
		list, err := pods.List(ctx, metav1.ListOptions{LabelSelector: "workflows.argoproj.io/workflow"})
		if err != nil {
			return false
		}
		for _, p := range list.Items {
			if strings.HasPrefix(p.Name, "e2e-fanout-") && p.CreationTimestamp.After(submitted.Add(-time.Second)) {
				return true
			}
		}
		return false
	}, func() bool { return started(tag) == fanoutItems })
	res := runWith(t, tg, fanout, map[string]string{"tag": tag})
	killed, err := k.wait()
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("run: deleted %d webhook pods while its %d step pods were created", killed, fanoutItems)
	mustSucceed(t, res)
	if killed == 0 {
		t.Error("no webhook pod was deleted during the run's burst")
	}
	counts := map[string]int{}
	for _, s := range res.Steps {
		counts[s.Cache]++
	}
	t.Logf("run: cache decisions %v (\"\" = admitted without the webhook)", counts)
	for i := 1; i <= fanoutItems; i++ {
		if n := ran(t, tag, fmt.Sprintf("item-%d", i)); n != 1 {
			t.Errorf("item %d ran %d times, want 1", i, n)
		}
	}

	// A burst of our own, so the moment of the kill is known: copies of
	// one of the run's step pods (its key now has an entry, so the
	// webhook annotates each copy with a hit), bound to a node that does
	// not exist so that nothing runs them.
	if err := dev.StartWebhook(ctx); err != nil {
		t.Fatal(err)
	}
	runPods := stepPods(t, tg, res)
	var tmpl corev1.Pod
	for _, p := range runPods {
		tmpl = p
		break
	}
	if tmpl.Name == "" {
		t.Fatal("the run has no pods")
	}
	spec := tmpl.Spec.DeepCopy()
	spec.NodeName = "kfpargo-fault-nowhere"
	const burst, workers, before = 48, 4, 6
	t.Cleanup(func() {
		// No grace: no kubelet would ever confirm that they stopped.
		zero := int64(0)
		for i := range burst {
			_ = pods.Delete(context.Background(), fmt.Sprintf("%s-burst-%d", tag, i), metav1.DeleteOptions{GracePeriodSeconds: &zero})
		}
	})
	var created atomic.Int64
	var finished atomic.Bool
	k = startKiller(func() bool { return created.Load() >= before || finished.Load() }, finished.Load)
	decided := make([]string, burst)
	errs := make(chan error, burst)
	var wg sync.WaitGroup
	next := atomic.Int64{}
	for range workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := next.Add(1) - 1; i < burst; i = next.Add(1) - 1 {
				p := &corev1.Pod{
					ObjectMeta: metav1.ObjectMeta{
						Name:   fmt.Sprintf("%s-burst-%d", tag, i),
						Labels: map[string]string{step.LabelCache: tmpl.Labels[step.LabelCache]},
					},
					Spec: *spec.DeepCopy(),
				}
				got, err := pods.Create(ctx, p, metav1.CreateOptions{})
				if err != nil {
					errs <- fmt.Errorf("create pod %d: %w", i, err)
					continue
				}
				decided[i] = got.Annotations[step.AnnotationCacheDecision]
				created.Add(1)
			}
		}()
	}
	wg.Wait()
	finished.Store(true)
	close(errs)
	killed, err = k.wait()
	if err != nil {
		t.Fatal(err)
	}
	for err := range errs {
		t.Error(err)
	}
	served := 0
	for _, d := range decided {
		if d != "" {
			served++
		}
	}
	t.Logf("burst: %d pods created, %d webhook pods deleted after the first %d; %d admitted by the webhook, %d without it", created.Load(), killed, before, served, burst-served)
	if served < before || served == burst {
		t.Errorf("%d of %d pods were admitted by the webhook; want the first %d or more, and not all", served, burst, before)
	}
}

// killer deletes the webhook's pods, and again as they come back, from
// when start says so until stop does.
type killer struct {
	killed atomic.Int64
	done   chan error
}

func startKiller(start, stop func() bool) *killer {
	k := &killer{done: make(chan error, 1)}
	go func() {
		ctx := context.Background()
		zero := int64(0)
		deadline := time.Now().Add(5 * time.Minute)
		for !start() {
			if time.Now().After(deadline) {
				k.done <- errors.New("the burst did not begin in 5 minutes")
				return
			}
			time.Sleep(20 * time.Millisecond)
		}
		for !stop() {
			if time.Now().After(deadline) {
				k.done <- errors.New("the burst did not end in 5 minutes")
				return
			}
			pods, err := dev.pods(ctx, devWebhook)
			if err != nil {
				k.done <- err
				return
			}
			for _, p := range pods {
				if p.DeletionTimestamp != nil {
					continue
				}
				if err := dev.kc.CoreV1().Pods(devNamespace).Delete(ctx, p.Name, metav1.DeleteOptions{GracePeriodSeconds: &zero}); err == nil {
					k.killed.Add(1)
				}
			}
			time.Sleep(100 * time.Millisecond)
		}
		k.done <- nil
	}()
	return k
}

// wait returns how many webhook pods were deleted.
func (k *killer) wait() (int64, error) {
	err := <-k.done
	return k.killed.Load(), err
}

// started counts the fan-out items whose command has started.
func started(tag string) int {
	ents, _ := os.ReadDir(counterDir(tag))
	return len(ents)
}

const bigOutput = "testdata/big-output.yaml"

// TestFaultLauncherKilledDuringUpload: the launcher of a cached step with a
// retry policy is killed (SIGKILL) while it uploads its output. Until the
// retry has run, nothing a cache hit could use exists: no entry and no
// object under the output's final name. Argo retries the step, the retry
// waits out the dead pod's lease, runs and records an entry that points at
// the whole output, and the next run is served from it.
func TestFaultLauncherKilledDuringUpload(t *testing.T) {
	tg := cacheStack(t)
	if stack == nil {
		t.Skip("kills a process of the local stack's node")
	}
	tag := uniqueTag(t)
	ctx := context.Background()
	mc := tg.Store.Client()
	root, err := artifact.ParseURI(tg.PipelineRoot)
	if err != nil {
		t.Fatal(err)
	}
	// The step reaches MinIO through a proxy on the node's address that
	// takes 4 MiB/s per connection, so the upload of its 64 MiB lasts
	// seconds: a Secret like kfpargo-s3 with the proxy as the endpoint.
	px := servers.StartProxyAt(t, net.JoinHostPort(stack.NodeIP, "0"), dev.S3Endpoint, 4<<20)
	secrets := dev.kc.CoreV1().Secrets(tg.Namespace)
	s3, err := secrets.Get(ctx, "kfpargo-s3", metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	slow := &corev1.Secret{ObjectMeta: metav1.ObjectMeta{Name: "kfpargo-s3-throttled"}, Data: map[string][]byte{}}
	for k, v := range s3.Data {
		slow.Data[k] = v
	}
	slow.Data[step.SecretKeyEndpoint] = []byte(px.Addr)
	if _, err := secrets.Create(ctx, slow, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = secrets.Delete(context.Background(), slow.Name, metav1.DeleteOptions{}) })
	throttled := *tg
	throttled.S3Secret = slow.Name

	// Kill the launcher once 8 MiB have gone up, then check, while Argo
	// retries, that nothing usable was left.
	runCtx, cancel := context.WithCancel(ctx)
	defer cancel()
	var key string // the output's final name
	checked := make(chan error, 1)
	go func() {
		for px.Sent() < 8<<20 {
			select {
			case <-runCtx.Done():
				checked <- errors.New("the run ended before 8 MiB of big's output went up")
				return
			case <-time.After(10 * time.Millisecond):
			}
		}
		pid, run, err := launcherPID("e2e-big-output", "big")
		if err == nil {
			err = syscall.Kill(pid, syscall.SIGKILL)
		}
		if err != nil {
			checked <- err
			return
		}
		key = root.Join(tg.Namespace, run, "big", "model").Key
		t.Logf("killed launcher pid %d of run %s after %d MiB had gone up", pid, run, px.Sent()>>20)
		var errs []error
		_, err = mc.StatObject(ctx, root.Bucket, key, minio.StatObjectOptions{})
		if code := minio.ToErrorResponse(err).Code; code != "NoSuchKey" {
			errs = append(errs, fmt.Errorf("after the kill, stat of %s: %v (code %q), want NoSuchKey", key, err, code))
		}
		if es := bigEntries(t, tg); len(es) != 0 {
			errs = append(errs, fmt.Errorf("after the kill, %d cache entries of big exist (from pod %s)", len(es), es[0].Source.Pod))
		}
		checked <- errors.Join(errs...)
	}()
	params := map[string]string{"tag": tag, "mib": "64"}
	res := runWith(t, &throttled, bigOutput, params)
	cancel()
	if err := <-checked; err != nil {
		t.Fatal(err)
	}
	// The killed attempt failed (137 = 128+SIGKILL); the run did not.
	if res.Workflow.Status.Phase != wfv1.WorkflowSucceeded {
		t.Fatalf("run %s: %s (%s)", res.Workflow.Name, res.Workflow.Status.Phase, res.Workflow.Status.Message)
	}
	byName := stepByName(res.Steps)
	killed, big := byName["big(0)"], byName["big(1)"]
	if len(res.Steps) != 2 || killed.Phase != wfv1.NodeFailed || killed.ExitCode != "137" || big.Phase != wfv1.NodeSucceeded {
		t.Fatalf("steps %+v; want big(0) failed with exit code 137 and big(1) succeeded", res.Steps)
	}
	if n := ran(t, tag, "big"); n != 2 {
		t.Errorf("big's command ran %d times; want 2 (the killed attempt and Argo's retry)", n)
	}
	es := bigEntries(t, tg)
	if len(es) != 1 || es[0].Source.Workflow != res.Workflow.Name || es[0].Source.Pod != big.Pod {
		t.Fatalf("entries of big: %+v; want one, written by the retry pod %s", es, big.Pod)
	}
	d := es[0].Artifacts["model"]
	st, err := mc.StatObject(ctx, root.Bucket, key, minio.StatObjectOptions{})
	if d.URI != root.Scheme+"://"+root.Bucket+"/"+key || err != nil || d.Size != 64<<20 || st.Size != d.Size || st.UserMetadata[artifact.MetaSHA256] != d.SHA256 {
		t.Errorf("the entry's artifact %s (%d bytes, sha256 %s): stat %v, size %d, metadata %v; want the whole output at %s", d.URI, d.Size, d.SHA256, err, st.Size, st.UserMetadata, key)
	}
	second := runWith(t, &throttled, bigOutput, params)
	mustSucceed(t, second)
	if dec := decisions(second)["big(0)"]; dec != "hit" || ran(t, tag, "big") != 2 {
		t.Errorf("second run: big's decision %q, ran %d times in all; want a hit", dec, ran(t, tag, "big"))
	}
}

// bigEntries are the cache entries big-output.yaml's step wrote.
func bigEntries(t *testing.T, tg *runner.Target) []*cachestore.Entry {
	rdb := redis.NewClient(&redis.Options{Addr: dev.RedisAddr})
	defer rdb.Close()
	var out []*cachestore.Entry
	for e, err := range cachestore.New(rdb, cachestore.Options{}).Entries(context.Background(), cachestore.NamespaceScope(tg.Namespace)) {
		if err != nil {
			t.Error(err)
			return nil
		}
		if e.Source.Pipeline == "e2e-big-output" && e.Source.Task == "big" {
			out = append(out, e)
		}
	}
	return out
}

// launcherPID finds the process of `launcher run` for a pipeline's task on
// the local stack's node (every container is a process of this host) and
// returns it with its run's name.
func launcherPID(pipeline, task string) (int, string, error) {
	procs, err := os.ReadDir("/proc")
	if err != nil {
		return 0, "", err
	}
	for _, p := range procs {
		pid, err := strconv.Atoi(p.Name())
		if err != nil {
			continue
		}
		b, err := os.ReadFile(filepath.Join("/proc", p.Name(), "cmdline"))
		if err != nil {
			continue
		}
		args := strings.Split(string(b), "\x00")
		if len(args) < 2 || !strings.HasSuffix(args[0], "/launcher") || args[1] != "run" {
			continue
		}
		if flagValue(args, step.FlagPipelineName) == pipeline && flagValue(args, step.FlagTask) == task {
			return pid, flagValue(args, step.FlagRunName), nil
		}
	}
	return 0, "", fmt.Errorf("no launcher process of pipeline %s, task %s", pipeline, task)
}

func flagValue(args []string, name string) string {
	for i, a := range args {
		if a == "--" {
			return ""
		}
		if a == name && i+1 < len(args) {
			return args[i+1]
		}
		if v, ok := strings.CutPrefix(a, name+"="); ok {
			return v
		}
	}
	return ""
}

// TestFaultMinioRestartDuringUpload: the object store (the local stack's
// MinIO process, which keeps its data across a restart) is killed while a
// step uploads its output and comes back 15 s later, longer than minio-go
// retries a request. The launcher starts the upload again and the step
// succeeds in its first attempt (its retry policy is not what saves it);
// the object under the final name is never partial and ends up whole.
func TestFaultMinioRestartDuringUpload(t *testing.T) {
	tg := needTarget(t)
	if stack == nil {
		t.Skip("restarts the local stack's MinIO")
	}
	tag := uniqueTag(t)
	ctx := context.Background()
	mc, err := minio.New(stack.S3Endpoint, &minio.Options{Creds: credentials.NewStaticV4(stack.S3AccessKey, stack.S3SecretKey, "")})
	if err != nil {
		t.Fatal(err)
	}
	root, err := artifact.ParseURI(tg.PipelineRoot)
	if err != nil {
		t.Fatal(err)
	}
	// Through a throttling proxy, so the fault lands mid-upload.
	px := servers.StartProxyAt(t, net.JoinHostPort(stack.NodeIP, "0"), stack.S3Endpoint, 4<<20)
	secrets := dev.kc.CoreV1().Secrets(tg.Namespace)
	sec := &corev1.Secret{ObjectMeta: metav1.ObjectMeta{Name: "kfpargo-s3-stack-throttled"}, StringData: map[string]string{
		step.SecretKeyEndpoint: px.Addr, step.SecretKeyAccessKey: stack.S3AccessKey, step.SecretKeySecretKey: stack.S3SecretKey,
		step.SecretKeyInsecure: "true",
	}}
	if _, err := secrets.Create(ctx, sec, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = secrets.Delete(context.Background(), sec.Name, metav1.DeleteOptions{}) })
	t.Cleanup(func() {
		if err := stack.StartMinio(context.Background()); err != nil {
			t.Error(err)
		}
	})
	target := *tg
	target.S3Secret = sec.Name

	runCtx, cancel := context.WithCancel(ctx)
	defer cancel()
	var key string
	var partial []string
	faulted := make(chan error, 1)
	go func() {
		for px.Sent() < 8<<20 {
			select {
			case <-runCtx.Done():
				faulted <- errors.New("the run ended before 8 MiB of big's output went up")
				return
			case <-time.After(10 * time.Millisecond):
			}
		}
		_, run, err := launcherPID("e2e-big-output", "big")
		if err != nil {
			faulted <- err
			return
		}
		key = root.Join(tg.Namespace, run, "big", "model").Key
		stack.StopMinio()
		t.Logf("killed MinIO after %d MiB of the upload had gone up; starting it again in 15s", px.Sent()>>20)
		time.Sleep(15 * time.Second)
		if err := stack.StartMinio(ctx); err != nil {
			faulted <- err
			return
		}
		// Until the run ends, whatever is under the final name must be
		// the whole object.
		for runCtx.Err() == nil {
			if st, err := mc.StatObject(ctx, root.Bucket, key, minio.StatObjectOptions{}); err == nil && st.Size != 64<<20 {
				partial = append(partial, fmt.Sprintf("%d bytes", st.Size))
			}
			time.Sleep(50 * time.Millisecond)
		}
		faulted <- nil
	}()
	res := runWith(t, &target, bigOutput, map[string]string{"tag": tag, "mib": "64"})
	cancel()
	if err := <-faulted; err != nil {
		t.Fatal(err)
	}
	if len(partial) > 0 {
		t.Errorf("partial objects seen under %s: %v", key, partial)
	}
	// One attempt: the launcher's retry saved the step, not Argo's.
	mustSucceed(t, res)
	big, ok := stepByName(res.Steps)["big(0)"]
	if !ok || len(res.Steps) != 1 || ran(t, tag, "big") != 1 {
		t.Fatalf("steps %+v, the command ran %d times; want one attempt", res.Steps, ran(t, tag, "big"))
	}
	p := stepPods(t, &target, res)["big(0)"]
	log, err := os.ReadFile(filepath.Join(stack.StateDir, "node", "logs", fmt.Sprintf("%s_%s_%s", p.Namespace, p.Name, p.UID), "main.log"))
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(string(log), "starting again") {
		t.Errorf("the launcher's log does not show the upload started again:\n%s", log)
	}
	d, err := artifact.ParseDescriptor(big.Outputs[step.ArtifactParam("model")])
	if err != nil {
		t.Fatal(err)
	}
	obj, err := mc.GetObject(ctx, root.Bucket, key, minio.GetObjectOptions{})
	if err != nil {
		t.Fatal(err)
	}
	defer obj.Close()
	h := sha256.New()
	n, err := io.Copy(h, obj)
	if err != nil {
		t.Fatal(err)
	}
	if sum := hex.EncodeToString(h.Sum(nil)); d.URI != root.Scheme+"://"+root.Bucket+"/"+key || d.Size != 64<<20 || n != d.Size || sum != d.SHA256 {
		t.Errorf("descriptor %s (%d bytes, sha256 %s); the object at %s has %d bytes, sha256 %s", d.URI, d.Size, d.SHA256, key, n, sum)
	}
}
