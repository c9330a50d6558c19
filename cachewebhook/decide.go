package cachewebhook

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"sync"
	"time"

	admissionv1 "k8s.io/api/admission/v1"
	corev1 "k8s.io/api/core/v1"

	"github.com/kfpargo/kfpargo/artifact"
	"github.com/kfpargo/kfpargo/cachekey"
	"github.com/kfpargo/kfpargo/cachestore"
	"github.com/kfpargo/kfpargo/step"
)

// Outcome names a decision.
type Outcome string

const (
	// Hit: the pod replays a verified entry.
	Hit Outcome = "hit"
	// Miss: no usable entry; the step runs and its launcher writes one.
	Miss Outcome = "miss"
	// Skip: the pod is not looked up (not a cached launcher step, a refresh,
	// a key that cannot be computed here); it runs unchanged.
	Skip Outcome = "skip"
	// Error: the webhook failed (store unreachable, ...); the pod runs
	// unchanged.
	Error Outcome = "error"
)

// Decision is the webhook's answer for one pod, before it becomes an
// admission response.
type Decision struct {
	Outcome Outcome
	Reason  string
	Key     string
	Entry   *cachestore.Entry
	// VerifyFailed is set when an entry was found but its artifacts were
	// gone or changed (the entry is deleted and the step runs).
	VerifyFailed bool
	// ErrorKind says what failed for an Error outcome: key, redis,
	// signature (an entry not signed with the installation's key), s3.
	ErrorKind string
	Patch     []PatchOp
}

// Handle decodes a pod CREATE and decides (Handler).
func (d *Decider) Handle(ctx context.Context, req *admissionv1.AdmissionRequest) Response {
	if req.Kind.Kind != "Pod" || req.Operation != admissionv1.Create {
		return Allowed(Skip, fmt.Sprintf("not a pod creation (%s %s)", req.Operation, req.Kind.Kind))
	}
	var pod corev1.Pod
	if err := json.Unmarshal(req.Object.Raw, &pod); err != nil {
		return Response{Decision: Error, ErrorKind: "decode", Reason: "decode pod: " + err.Error()}
	}
	dec := d.Decide(ctx, req.Namespace, &pod)
	if dec.Outcome == Hit || dec.Outcome == Miss {
		d.count(req.Namespace, dec)
	}
	return Response{Patch: dec.Patch, Decision: dec.Outcome, Reason: dec.Reason, Key: dec.Key, ErrorKind: dec.ErrorKind, VerifyFailed: dec.VerifyFailed}
}

// Decider looks pods up in the cache.
type Decider struct {
	Cache     *cachestore.Store
	Artifacts *artifact.Store
	// LauncherImage replaces the main container's image on a hit: the
	// replay needs nothing of the step's own (often large) image.
	LauncherImage string
	ClusterScope  bool
	// MaxTTL is the operator's limit on an entry's age.
	MaxTTL time.Duration
	// MaxReplayBytes bounds the entry that is written into the pod.
	MaxReplayBytes int
	Now            func() time.Time
	// Verified, when set, remembers artifacts found intact for a short
	// while, so a burst of hits on the same artifacts does not send each
	// one to the object store again.
	Verified *VerifiedCache
	// Counter, when set, counts hits and misses for `kfpargo cache stats`.
	Counter *Counter
}

// DefaultMaxReplayBytes is the largest entry a hit replays: the entry is
// one argument of the replaying container (--entry JSON), and Linux refuses
// to start a process with a longer one, so a larger entry would turn a hit
// into a pod that cannot start. It also keeps a hit pod far below the
// apiserver's object size limit (~1.5 MiB in etcd).
const DefaultMaxReplayBytes = step.MaxArgBytes

// Decide computes the pod's key and looks it up. It never changes anything
// but the returned patch, which annotates the decision and, on a hit,
// rewrites the main container.
func (d *Decider) Decide(ctx context.Context, namespace string, pod *corev1.Pod) Decision {
	sp, err := readStepPod(pod)
	if errors.Is(err, errNotLauncher) {
		return Decision{Outcome: Skip, Reason: err.Error()}
	}
	if err != nil {
		return d.annotated(pod, Decision{Outcome: Skip, Reason: err.Error()})
	}
	s := sp.spec
	switch {
	case !s.Cache.Enabled:
		return d.annotated(pod, Decision{Outcome: Skip, Reason: "the launcher flags do not enable the cache (" + step.FlagCache + ")"})
	case s.Image != pod.Spec.Containers[sp.index].Image:
		return d.annotated(pod, Decision{Outcome: Skip, Reason: fmt.Sprintf("the container runs image %q, the launcher flags name %q", pod.Spec.Containers[sp.index].Image, s.Image)})
	case s.Namespace != "" && s.Namespace != namespace:
		return d.annotated(pod, Decision{Outcome: Skip, Reason: fmt.Sprintf("the launcher flags name namespace %q, the pod is in %q", s.Namespace, namespace)})
	}
	env, err := sp.keyEnv()
	if err != nil {
		return d.annotated(pod, Decision{Outcome: Skip, Reason: err.Error()})
	}
	m, err := cachekey.FromSpec(s, env, func(a *artifact.Descriptor) (string, error) {
		if d.Artifacts == nil {
			return "", errors.New("the webhook has no object store to identify imported inputs")
		}
		return d.Artifacts.Identity(ctx, a)
	})
	if err != nil {
		return d.annotated(pod, Decision{Outcome: Error, ErrorKind: "key", Reason: "cache key: " + err.Error()})
	}
	key, err := m.Key()
	if err != nil {
		return d.annotated(pod, Decision{Outcome: Error, ErrorKind: "key", Reason: err.Error()})
	}
	if s.Cache.Refresh {
		return d.annotated(pod, Decision{Outcome: Skip, Key: key, Reason: "refresh requested (" + step.FlagRefreshCache + ")"})
	}
	scope := cachestore.NamespaceScope(namespace)
	if d.ClusterScope {
		scope = cachestore.ClusterScope
	}
	e, err := d.Cache.Get(ctx, scope, key)
	if errors.Is(err, cachestore.ErrCorrupt) {
		// Not a usable entry, and never will be: the step runs and its
		// launcher writes a good one.
		_, _ = d.Cache.Delete(ctx, scope, key)
		return d.annotated(pod, Decision{Outcome: Miss, Key: key, Reason: err.Error()})
	}
	if errors.Is(err, cachestore.ErrSignature) {
		// Written by someone without the installation's key (or by a
		// launcher not given it): never served, and left for the step's
		// launcher to replace, so a misconfiguration does not make the
		// webhook delete good entries.
		return d.annotated(pod, Decision{Outcome: Error, ErrorKind: "signature", Key: key, Reason: err.Error()})
	}
	if err != nil {
		return d.annotated(pod, Decision{Outcome: Error, ErrorKind: "redis", Key: key, Reason: "cache lookup: " + err.Error()})
	}
	if e == nil {
		return d.annotated(pod, Decision{Outcome: Miss, Key: key, Reason: "no entry"})
	}
	if reason := d.stale(e, s); reason != "" {
		return d.annotated(pod, Decision{Outcome: Miss, Key: key, Reason: reason})
	}
	if err := d.verify(ctx, e); err != nil {
		dec := Decision{Outcome: Error, ErrorKind: "s3", Key: key, Reason: "entry not verified: " + err.Error()}
		if errors.Is(err, artifact.ErrChanged) {
			dec.Outcome, dec.ErrorKind = Miss, ""
			// Gone for good: the next run must not find it again.
			dec.VerifyFailed = true
			if _, derr := d.Cache.Delete(ctx, scope, key); derr != nil {
				dec.Reason += "; deleting the entry failed: " + derr.Error()
			}
		}
		return d.annotated(pod, dec)
	}
	return d.hit(pod, sp, key, e)
}

// stale says why an entry may not be used for this step, or "".
func (d *Decider) stale(e *cachestore.Entry, s *step.Spec) string {
	maxAge := d.MaxTTL
	if st := s.Cache.MaxStaleness; st > 0 && (maxAge <= 0 || st < maxAge) {
		maxAge = st
	}
	if age := d.now().Sub(e.Created); maxAge > 0 && age > maxAge {
		return fmt.Sprintf("entry written %s ago, older than %s", age.Round(time.Second), maxAge)
	}
	for name := range s.OutputParams {
		if _, ok := e.Params[name]; !ok {
			return "entry has no value for output parameter " + name
		}
	}
	for name := range s.OutputArtifacts {
		if _, ok := e.Artifacts[name]; !ok {
			return "entry has no descriptor for output artifact " + name
		}
	}
	return ""
}

// verify checks every cached artifact concurrently (design.md §6).
func (d *Decider) verify(ctx context.Context, e *cachestore.Entry) error {
	if len(e.Artifacts) == 0 {
		return nil
	}
	if d.Artifacts == nil {
		return errors.New("the webhook has no object store to verify artifacts")
	}
	var wg sync.WaitGroup
	errs := make(chan error, len(e.Artifacts))
	for name, a := range e.Artifacts {
		if d.Verified.Recent(a.URI, a.SHA256, d.now()) {
			continue
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			if err := d.Artifacts.Check(ctx, &a); err != nil {
				errs <- fmt.Errorf("artifact %s: %w", name, err)
				return
			}
			d.Verified.Add(a.URI, a.SHA256, d.now())
		}()
	}
	wg.Wait()
	close(errs)
	return errors.Join(collect(errs)...)
}

func collect(ch <-chan error) []error {
	var out []error
	for err := range ch {
		out = append(out, err)
	}
	return out
}

// count records the decision in the store's counters for `kfpargo cache
// stats`, in batches off the admission's path.
func (d *Decider) count(namespace string, dec Decision) {
	scope := cachestore.NamespaceScope(namespace)
	if d.ClusterScope {
		scope = cachestore.ClusterScope
	}
	event := "webhook_hits"
	if dec.Outcome == Miss {
		event = "webhook_misses"
	}
	d.Counter.Add(scope, event)
	if dec.VerifyFailed {
		d.Counter.Add(scope, "verify_failures")
	}
}

func (d *Decider) now() time.Time {
	if d.Now != nil {
		return d.Now()
	}
	return time.Now()
}
