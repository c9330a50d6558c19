package cachewebhook

import (
	"context"
	"encoding/json"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/minio/minio-go/v7"
	jsonpatch "gopkg.in/evanphx/json-patch.v4"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/kfpargo/kfpargo/artifact"
	"github.com/kfpargo/kfpargo/cachekey"
	"github.com/kfpargo/kfpargo/cachestore"
	"github.com/kfpargo/kfpargo/step"
	"github.com/kfpargo/kfpargo/test/servers"
)

const testNS = "team-a"

var emissary = []string{"/var/run/argo/argoexec", "emissary", "--loglevel", "info", "--"}

// stepPodOf builds a step pod as Argo creates it for a cached step.
func stepPodOf(launcherArgs ...string) *corev1.Pod {
	return &corev1.Pod{
		ObjectMeta: metav1.ObjectMeta{
			GenerateName: "run-1-train-",
			Labels:       map[string]string{step.LabelCache: step.CacheEnabled},
			Annotations:  map[string]string{"workflows.argoproj.io/node-name": "run-1.train"},
		},
		Spec: corev1.PodSpec{
			InitContainers: []corev1.Container{{Name: "init", Image: "argoexec"}, {Name: step.InitContainerName, Image: "launcher"}},
			Containers: []corev1.Container{
				{Name: "wait", Image: "argoexec", Command: []string{"argoexec", "wait"}},
				{
					Name: MainContainer, Image: "python:3.11",
					Command: append(append([]string{}, emissary...), step.LauncherPath, "run"),
					Args:    launcherArgs,
					Env:     []corev1.EnvVar{{Name: "MODE", Value: "fast"}, {Name: "ARGO_CONTAINER_NAME", Value: "main"}},
					Resources: corev1.ResourceRequirements{
						Limits: corev1.ResourceList{"nvidia.com/gpu": resource.MustParse("1"), corev1.ResourceMemory: resource.MustParse("4Gi")},
					},
				},
			},
		},
	}
}

func trainArgs(hidden string, extra ...string) []string {
	return append(append([]string{"--cache", "--image=python:3.11", "--env=MODE"}, extra...),
		"--run-name", "run-1", "--namespace", testNS, "--pod-name", "run-1-train-1", "--task", "train",
		"--pipeline-root", "minio://mlpipeline/v2/artifacts",
		"--param", "hidden:NUMBER_INTEGER="+hidden,
		"--output-param", "acc:NUMBER_DOUBLE", "--output-artifact", "model:system.Model",
		"--", "python3", "train.py", "{{$.inputs.parameters['hidden']}}")
}

type fixture struct {
	d     *Decider
	cache *cachestore.Store
	s3    *artifact.Store
	minio *servers.Minio
	redis *servers.Redis
}

func newFixture(t *testing.T) *fixture {
	r := servers.StartRedis(t)
	m := servers.StartMinio(t, "mlpipeline")
	s3, err := artifact.NewStore(artifact.Config{Endpoint: m.Endpoint, AccessKey: m.AccessKey, SecretKey: m.SecretKey, Insecure: true})
	if err != nil {
		t.Fatal(err)
	}
	cs := cachestore.New(r.Client, cachestore.Options{})
	return &fixture{d: &Decider{Cache: cs, Artifacts: s3, LauncherImage: "kfpargo/launcher:test", MaxTTL: time.Hour}, cache: cs, s3: s3, minio: m, redis: r}
}

// record stores an entry for the step the args describe, as its launcher
// would after a successful run, with a real uploaded model.
func (f *fixture) record(t *testing.T, args []string, created time.Time) *cachestore.Entry {
	t.Helper()
	spec, err := step.ParseRunArgs(args, io.Discard)
	if err != nil {
		t.Fatal(err)
	}
	m, err := cachekey.FromSpec(spec, map[string]string{"MODE": "fast"}, nil)
	if err != nil {
		t.Fatal(err)
	}
	key, _ := m.Key()
	src := filepath.Join(t.TempDir(), "model")
	_ = os.WriteFile(src, []byte("weights"), 0o644)
	loc, _ := artifact.ParseURI("minio://mlpipeline/v2/artifacts/team-a/run-0/train/model")
	d, err := f.s3.Upload(context.Background(), src, loc)
	if err != nil {
		t.Fatal(err)
	}
	d.SchemaTitle = "system.Model"
	material, _ := json.Marshal(m)
	e := &cachestore.Entry{Version: cachestore.EntryVersion, Key: key, Scope: cachestore.NamespaceScope(testNS),
		Params: map[string]string{"acc": "0.98"}, Artifacts: map[string]artifact.Descriptor{"model": *d},
		Source:  cachestore.Source{Namespace: testNS, Workflow: "run-0", Pod: "run-0-train-9", Task: "train"},
		Created: created, Material: material}
	if err := f.cache.Put(context.Background(), e, time.Hour); err != nil {
		t.Fatal(err)
	}
	return e
}

// apply applies a decision's patch as the apiserver would.
func apply(t *testing.T, pod *corev1.Pod, ops []PatchOp) *corev1.Pod {
	t.Helper()
	doc, _ := json.Marshal(pod)
	patch, _ := json.Marshal(ops)
	p, err := jsonpatch.DecodePatch(patch)
	if err != nil {
		t.Fatal(err)
	}
	out, err := p.Apply(doc)
	if err != nil {
		t.Fatalf("patch does not apply: %v\n%s", err, patch)
	}
	var got corev1.Pod
	if err := json.Unmarshal(out, &got); err != nil {
		t.Fatal(err)
	}
	return &got
}

func TestDecideHit(t *testing.T) {
	f := newFixture(t)
	e := f.record(t, trainArgs("128"), time.Now())
	pod := stepPodOf(trainArgs("128")...)
	dec := f.d.Decide(context.Background(), testNS, pod)
	if dec.Outcome != Hit || dec.Key != e.Key {
		t.Fatalf("decision %s (%s), key %s want %s", dec.Outcome, dec.Reason, dec.Key, e.Key)
	}
	got := apply(t, pod, dec.Patch)
	main := got.Spec.Containers[1]
	if got.Labels[step.LabelCached] != "true" || got.Labels[step.LabelCache] != step.CacheEnabled {
		t.Errorf("labels %v", got.Labels)
	}
	if got.Annotations[step.AnnotationCacheKey] != e.Key || got.Annotations[step.AnnotationCacheSource] != "team-a/run-0/run-0-train-9" ||
		!strings.HasPrefix(got.Annotations[step.AnnotationCacheDecision], "hit") || got.Annotations["workflows.argoproj.io/node-name"] == "" {
		t.Errorf("annotations %v", got.Annotations)
	}
	wantCmd := append(append([]string{}, emissary...), step.LauncherPath, "replay")
	if main.Image != "kfpargo/launcher:test" || strings.Join(main.Command, " ") != strings.Join(wantCmd, " ") || len(main.Args) != 2 || main.Args[0] != "--entry" {
		t.Fatalf("main container %q %q %q", main.Image, main.Command, main.Args)
	}
	replayed, err := cachestore.DecodeEntry([]byte(main.Args[1]))
	if err != nil || replayed.Params["acc"] != "0.98" || replayed.Artifacts["model"].SHA256 != e.Artifacts["model"].SHA256 {
		t.Fatalf("the replay's entry %+v, %v", replayed, err)
	}
	if _, ok := main.Resources.Limits["nvidia.com/gpu"]; ok || main.Resources.Limits.Memory().String() != "4Gi" {
		t.Errorf("replay resources %v: the GPU must go, memory stay", main.Resources)
	}
	if len(got.Spec.InitContainers) != 2 || got.Spec.Containers[0].Name != "wait" || got.Spec.Containers[1].Env[0].Name != "MODE" {
		t.Errorf("Argo's containers must stay: %+v", got.Spec)
	}
}

func TestDecideMisses(t *testing.T) {
	f := newFixture(t)
	ctx := context.Background()
	for _, c := range []struct {
		name    string
		setup   func(t *testing.T) []string // returns the pod's launcher args
		outcome Outcome
		reason  string
	}{
		{"no entry", func(t *testing.T) []string { return trainArgs("1") }, Miss, "no entry"},
		{"other input", func(t *testing.T) []string { f.record(t, trainArgs("2"), time.Now()); return trainArgs("3") }, Miss, "no entry"},
		{"too old for the task", func(t *testing.T) []string {
			f.record(t, trainArgs("4"), time.Now().Add(-2*time.Hour))
			return trainArgs("4")
		}, Miss, "older than 1h0m0s"},
		{"task staleness", func(t *testing.T) []string {
			f.record(t, trainArgs("5", "--max-cache-staleness=1m"), time.Now().Add(-10*time.Minute))
			return trainArgs("5", "--max-cache-staleness=1m")
		}, Miss, "older than 1m0s"},
		{"artifact deleted", func(t *testing.T) []string {
			f.record(t, trainArgs("6"), time.Now())
			_ = f.minio.Client.RemoveObject(ctx, "mlpipeline", "v2/artifacts/team-a/run-0/train/model", minio.RemoveObjectOptions{})
			return trainArgs("6")
		}, Miss, "not verified"},
		{"refresh", func(t *testing.T) []string {
			f.record(t, trainArgs("7"), time.Now())
			return trainArgs("7", "--refresh-cache")
		}, Skip, "refresh"},
		{"not cached", func(t *testing.T) []string { return trainArgs("8")[1:] }, Skip, "do not enable"},
		{"image changed", func(t *testing.T) []string {
			a := trainArgs("9")
			a[1] = "--image=python:3.12"
			return a
		}, Skip, "launcher flags name"},
		{"other namespace", func(t *testing.T) []string {
			a := trainArgs("10")
			for i := range a {
				if a[i] == testNS {
					a[i] = "team-b"
				}
			}
			return a
		}, Skip, "namespace"},
	} {
		t.Run(c.name, func(t *testing.T) {
			args := c.setup(t)
			pod := stepPodOf(args...)
			dec := f.d.Decide(ctx, testNS, pod)
			if dec.Outcome != c.outcome || !strings.Contains(dec.Reason, c.reason) {
				t.Fatalf("got %s (%s), want %s (%s)", dec.Outcome, dec.Reason, c.outcome, c.reason)
			}
			got := apply(t, pod, dec.Patch)
			if got.Spec.Containers[1].Image != "python:3.11" || got.Labels[step.LabelCached] != "" {
				t.Errorf("a %s changed the pod: %+v", c.outcome, got.Spec.Containers[1])
			}
			if !strings.HasPrefix(got.Annotations[step.AnnotationCacheDecision], string(c.outcome)) {
				t.Errorf("decision annotation %q", got.Annotations[step.AnnotationCacheDecision])
			}
		})
	}
	// The entry with the deleted artifact is gone: the next run re-runs
	// the step and its launcher writes a fresh one.
	spec, _ := step.ParseRunArgs(trainArgs("6"), io.Discard)
	m, _ := cachekey.FromSpec(spec, map[string]string{"MODE": "fast"}, nil)
	key, _ := m.Key()
	if e, _ := f.cache.Get(ctx, cachestore.NamespaceScope(testNS), key); e != nil {
		t.Error("an entry whose artifact is gone was kept")
	}
}

func TestDecideRedisDown(t *testing.T) {
	f := newFixture(t)
	f.redis.Stop()
	dec := f.d.Decide(context.Background(), testNS, stepPodOf(trainArgs("1")...))
	if dec.Outcome != Error || dec.ErrorKind != "redis" {
		t.Fatalf("got %s/%s (%s)", dec.Outcome, dec.ErrorKind, dec.Reason)
	}
}

func TestDecideNoAnnotationsMap(t *testing.T) {
	f := newFixture(t)
	f.record(t, trainArgs("1"), time.Now())
	pod := stepPodOf(trainArgs("1")...)
	pod.Annotations = nil
	dec := f.d.Decide(context.Background(), testNS, pod)
	got := apply(t, pod, dec.Patch)
	if dec.Outcome != Hit || got.Annotations[step.AnnotationCacheSource] == "" || got.Annotations[step.AnnotationCacheKey] == "" {
		t.Fatalf("%s: annotations %v", dec.Outcome, got.Annotations)
	}
}

// A process that can write to Redis but does not hold the installation's
// key cannot make a pod skip its work: its entry is never served.
func TestDecideRefusesUnsignedEntries(t *testing.T) {
	f := newFixture(t)
	installed := strings.Repeat("k", cachestore.MinKeyBytes)
	keys, err := cachestore.ParseKeyring(installed)
	if err != nil {
		t.Fatal(err)
	}
	f.d.Cache = cachestore.New(f.redis.Client, cachestore.Options{Keys: keys, PerScope: true})
	// f.cache has no key: what it writes is a forgery to the webhook.
	forged := f.record(t, trainArgs("128"), time.Now())
	dec := f.d.Decide(context.Background(), testNS, stepPodOf(trainArgs("128")...))
	if dec.Outcome != Error || dec.ErrorKind != "signature" || dec.Key != forged.Key || !strings.Contains(dec.Reason, "not signed") {
		t.Fatalf("forged entry: %s/%s (%s)", dec.Outcome, dec.ErrorKind, dec.Reason)
	}
	// Left in place for the step's launcher to overwrite.
	if e, err := f.cache.Get(context.Background(), forged.Scope, forged.Key); e == nil || err != nil {
		t.Errorf("the forged entry was deleted: %v %v", e, err)
	}
	// The launcher holds its namespace's key: its entry is served.
	scopeKeys, err := cachestore.ScopeKeys(installed, cachestore.NamespaceScope(testNS))
	if err != nil {
		t.Fatal(err)
	}
	launcherKeys, err := cachestore.ParseKeyring(scopeKeys)
	if err != nil {
		t.Fatal(err)
	}
	f.cache = cachestore.New(f.redis.Client, cachestore.Options{Keys: launcherKeys})
	f.record(t, trainArgs("128"), time.Now())
	if dec := f.d.Decide(context.Background(), testNS, stepPodOf(trainArgs("128")...)); dec.Outcome != Hit {
		t.Fatalf("signed entry: %s (%s)", dec.Outcome, dec.Reason)
	}
}
