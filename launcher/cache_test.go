package launcher_test

import (
	"context"
	"io"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/minio/minio-go/v7"
	"go.uber.org/zap"

	"github.com/kfpargo/kfpargo/cachestore"
	"github.com/kfpargo/kfpargo/launcher"
	"github.com/kfpargo/kfpargo/step"
	"github.com/kfpargo/kfpargo/test/servers"
)

// cachedStep runs `launcher run --cache` steps against a real MinIO and
// Redis, each pod in a fresh filesystem.
type cachedStep struct {
	env   stepEnv
	cache *launcher.Cache
	store *cachestore.Store
	redis *servers.Redis
	// runs counts the user command's executions, through a file outside
	// every pod's filesystem.
	counter string
}

func newCachedStep(t *testing.T) *cachedStep {
	e := newStepEnv(t)
	r := servers.StartRedis(t)
	cs := cachestore.New(r.Client, cachestore.Options{})
	return &cachedStep{env: e, store: cs, redis: r, counter: filepath.Join(t.TempDir(), "runs"),
		cache: &launcher.Cache{Store: cs, MaxTTL: time.Hour,
			Claim: cachestore.ClaimOptions{LeaseTTL: time.Second, Poll: 20 * time.Millisecond, Wait: time.Minute}}}
}

func (c *cachedStep) args(pod, hidden, script string) []string {
	return append(append([]string{}, "--cache", "--image=python:3.11", "--env=MODE"), append(append([]string{}, common...),
		"--pod-name", pod, "--task", "train",
		"--param", "hidden:NUMBER_INTEGER="+hidden,
		"--output-param", "acc:NUMBER_DOUBLE", "--output-artifact", "model:system.Model",
		"--", "sh", "-c", `echo run >> "$0"; `+script+`; echo "weights $1" > "$2"; echo 0.9 > "$3"`,
		c.counter, "{{$.inputs.parameters['hidden']}}", "{{$.outputs.artifacts['model'].path}}", "{{$.outputs.parameters['acc'].output_file}}")...)
}

// run runs one pod and returns its exit code and its Argo output files.
func (c *cachedStep) run(t *testing.T, args []string) (int, map[string]string) {
	t.Helper()
	spec, err := step.ParseRunArgs(args, io.Discard)
	if err != nil {
		t.Fatal(err)
	}
	root := t.TempDir()
	layout := launcher.Layout{LocalRoot: filepath.Join(root, "fs"), StepDir: filepath.Join(root, "kfpargo")}
	devnull, _ := os.Open(os.DevNull)
	defer devnull.Close()
	r := &launcher.Runner{Spec: spec, Layout: layout, Store: c.env.store, Log: zap.NewNop(), Cache: c.cache,
		Env: []string{"PATH=/usr/bin:/bin", "MODE=fast"}, Stdout: devnull, Stderr: devnull}
	code := r.Run(context.Background())
	out := map[string]string{}
	for _, f := range []string{layout.ArgoParamFile("acc"), layout.ArgoArtifactFile("model")} {
		if b, err := os.ReadFile(f); err == nil {
			out[filepath.Base(f)] = string(b)
		}
	}
	return code, out
}

func (c *cachedStep) runs(t *testing.T) int {
	b, err := os.ReadFile(c.counter)
	if os.IsNotExist(err) {
		return 0
	}
	if err != nil {
		t.Fatal(err)
	}
	return strings.Count(string(b), "run")
}

func TestCacheWriteAndReplay(t *testing.T) {
	c := newCachedStep(t)
	code, first := c.run(t, c.args("run-1-a", "128", "true"))
	if code != 0 || c.runs(t) != 1 || first["acc"] != "0.9" || first["model.json"] == "" {
		t.Fatalf("first run: exit %d, %d runs, outputs %v", code, c.runs(t), first)
	}
	// Another run of the same step (another pod): replayed, not run.
	code, second := c.run(t, c.args("run-2-b", "128", "true"))
	if code != 0 || c.runs(t) != 1 {
		t.Fatalf("second run: exit %d, the command ran %d times", code, c.runs(t))
	}
	if second["acc"] != first["acc"] || second["model.json"] != first["model.json"] {
		t.Fatalf("replayed outputs %v, first %v", second, first)
	}
	// A changed input runs.
	if code, _ := c.run(t, c.args("run-3-c", "256", "true")); code != 0 || c.runs(t) != 2 {
		t.Fatalf("changed input: exit %d, %d runs", code, c.runs(t))
	}
	// --refresh-cache runs although an entry exists.
	if code, _ := c.run(t, append([]string{"--refresh-cache"}, c.args("run-4-d", "128", "true")...)); code != 0 || c.runs(t) != 3 {
		t.Fatalf("refresh: exit %d, %d runs", code, c.runs(t))
	}
}

func TestCacheNoEntryForFailedStep(t *testing.T) {
	c := newCachedStep(t)
	if code, _ := c.run(t, c.args("run-1-a", "128", "exit 3")); code != 3 {
		t.Fatalf("exit %d, want 3", code)
	}
	n := 0
	for _, err := range c.store.Entries(context.Background(), "") {
		if err != nil {
			t.Fatal(err)
		}
		n++
	}
	if n != 0 {
		t.Fatalf("%d entries after a failed step", n)
	}
	// The next identical step runs (and is not kept waiting by a lease).
	start := time.Now()
	if code, _ := c.run(t, c.args("run-2-b", "128", "true")); code != 0 || c.runs(t) != 2 {
		t.Fatalf("after the failure: exit %d, %d runs", code, c.runs(t))
	}
	if time.Since(start) > 30*time.Second {
		t.Error("the failed step's lease was not released")
	}
}

func TestCacheDeletedArtifactHeals(t *testing.T) {
	c := newCachedStep(t)
	if code, _ := c.run(t, c.args("run-1-a", "128", "true")); code != 0 {
		t.Fatal(code)
	}
	if err := c.env.store.Client().RemoveObject(context.Background(), "mlpipeline", "v2/artifacts/ns/run-1/train/model", minio.RemoveObjectOptions{}); err != nil {
		t.Fatal(err)
	}
	if code, _ := c.run(t, c.args("run-2-b", "128", "true")); code != 0 || c.runs(t) != 2 {
		t.Fatalf("entry with a deleted artifact: exit %d, %d runs (want a re-run)", code, c.runs(t))
	}
	if code, _ := c.run(t, c.args("run-3-c", "128", "true")); code != 0 || c.runs(t) != 2 {
		t.Fatalf("after healing: exit %d, %d runs (want a replay)", code, c.runs(t))
	}
}

func TestCacheConcurrentIdenticalSteps(t *testing.T) {
	c := newCachedStep(t)
	var wg sync.WaitGroup
	codes := make([]int, 3)
	for i := range codes {
		wg.Add(1)
		go func() {
			defer wg.Done()
			codes[i], _ = c.run(t, c.args("run-"+string(rune('a'+i))+"-1", "128", "sleep 1"))
		}()
	}
	wg.Wait()
	for i, code := range codes {
		if code != 0 {
			t.Errorf("step %d exit %d", i, code)
		}
	}
	if n := c.runs(t); n != 1 {
		t.Errorf("the command ran %d times for three identical concurrent steps, want 1", n)
	}
}

func TestCacheStoreDown(t *testing.T) {
	e := newStepEnv(t)
	r := servers.StartRedis(t)
	c := &cachedStep{env: e, counter: filepath.Join(t.TempDir(), "runs"),
		cache: &launcher.Cache{Store: cachestore.New(r.Client, cachestore.Options{}), MaxTTL: time.Hour}}
	r.Stop()
	if code, out := c.run(t, c.args("run-1-a", "128", "true")); code != 0 || c.runs(t) != 1 || out["acc"] != "0.9" {
		t.Fatalf("with Redis down: exit %d, %d runs, outputs %v", code, c.runs(t), out)
	}
}

// With the installation's key, a launcher replays only entries signed with
// it: one planted without the key is run over and replaced by a signed one.
func TestCacheSignedEntries(t *testing.T) {
	c := newCachedStep(t)
	keys, err := cachestore.ParseKeyring(strings.Repeat("k", cachestore.MinKeyBytes))
	if err != nil {
		t.Fatal(err)
	}
	unsigned := c.cache.Store
	// A launcher without the key writes an entry the others must not use.
	if code, _ := c.run(t, c.args("run-1-a", "128", "true")); code != 0 || c.runs(t) != 1 {
		t.Fatalf("unsigned run: exit %d, %d runs", code, c.runs(t))
	}
	signed := *c.cache
	signed.Store = cachestore.New(c.redis.Client, cachestore.Options{Keys: keys})
	c.cache = &signed
	if code, _ := c.run(t, c.args("run-2-b", "128", "true")); code != 0 || c.runs(t) != 2 {
		t.Fatalf("over the unsigned entry: exit %d, %d runs (want the command run)", code, c.runs(t))
	}
	var e *cachestore.Entry
	for got, err := range unsigned.Entries(context.Background(), "") {
		if err != nil {
			t.Fatal(err)
		}
		e = got
	}
	if e == nil || e.Source.Pod != "run-2-b" || keys.Verify(e) != nil {
		t.Fatalf("the entry after the signed run: %+v", e)
	}
	if code, _ := c.run(t, c.args("run-3-c", "128", "true")); code != 0 || c.runs(t) != 2 {
		t.Fatalf("signed entry: exit %d, %d runs (want a replay)", code, c.runs(t))
	}
}
