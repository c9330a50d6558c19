package launcher

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"time"

	"go.uber.org/zap"

	"github.com/kfpargo/kfpargo/artifact"
	"github.com/kfpargo/kfpargo/cachekey"
	"github.com/kfpargo/kfpargo/cachestore"
	"github.com/kfpargo/kfpargo/step"
)

// Cache is the step cache as a launcher uses it.
type Cache struct {
	Store *cachestore.Store
	// ClusterScope shares entries across namespaces (the webhook's
	// --cache-scope cluster); otherwise an entry is seen only in the
	// namespace that wrote it.
	ClusterScope bool
	// MaxTTL caps every entry's lifetime.
	MaxTTL time.Duration
	Claim  cachestore.ClaimOptions
}

func (c *Cache) scope(namespace string) cachestore.Scope {
	if c.ClusterScope {
		return cachestore.ClusterScope
	}
	return cachestore.NamespaceScope(namespace)
}

// cacheSession is one cached step's use of the cache: its key, what the key
// was computed from, and the lease while the step runs.
type cacheSession struct {
	key      string
	scope    cachestore.Scope
	material *cachekey.Material
	// imported are the identities of inputs without a digest, checked again
	// before the entry is written: content that changed while the step ran
	// must not be recorded under the old key.
	imported map[*artifact.Descriptor]string
	lease    *cachestore.Lease
	// hit is an entry to replay instead of running.
	hit *cachestore.Entry
}

// openCache computes the step's key and claims it: an entry written since
// the pod was admitted (say, by an identical step of a run started at the
// same time) is replayed; otherwise the step runs under a lease, so an
// identical step waits for this one instead of computing the same thing.
// The cache never fails a step: any error is logged and the step runs
// uncached (nil).
func (r *Runner) openCache(ctx context.Context) *cacheSession {
	s := r.Spec
	if !s.Cache.Enabled || r.Cache == nil || r.Cache.Store == nil {
		return nil
	}
	sess := &cacheSession{scope: r.Cache.scope(s.Namespace), imported: map[*artifact.Descriptor]string{}}
	var identify cachekey.Identify
	if r.Store != nil {
		identify = func(d *artifact.Descriptor) (string, error) {
			id, err := r.Store.Identity(ctx, d)
			if err == nil {
				sess.imported[d] = id
			}
			return id, err
		}
	}
	m, err := cachekey.FromSpec(s, envMap(r.Env), identify)
	if err != nil {
		r.Log.Warn("cache: no key, the step runs uncached", zap.Error(err))
		return nil
	}
	key, err := m.Key()
	if err != nil {
		r.Log.Warn("cache: no key, the step runs uncached", zap.Error(err))
		return nil
	}
	sess.key, sess.material = key, m
	log := r.Log.With(zap.String("cacheKey", key))
	if s.Cache.Refresh {
		log.Info("cache: refresh requested, the step runs and replaces any entry")
		return sess
	}
	for attempt := 0; attempt < 2; attempt++ {
		entry, lease, err := r.Cache.Store.Claim(ctx, sess.scope, key, r.holder(), r.Cache.Claim)
		switch {
		case errors.Is(err, cachestore.ErrWaitTimeout):
			log.Warn("cache: gave up waiting for an identical step; running it too", zap.Duration("waited", r.Cache.Claim.Wait))
			return sess
		case err != nil:
			log.Warn("cache: store unavailable, the step runs and will try to record its outputs", zap.Error(err))
			return sess
		case lease != nil:
			lease.Keep(ctx)
			sess.lease = lease
			log.Info("cache: miss, running the step")
			return sess
		}
		if reason := r.unusable(ctx, entry); reason != "" {
			log.Info("cache: entry not usable, running the step", zap.String("reason", reason))
			if _, err := r.Cache.Store.Delete(ctx, sess.scope, key); err != nil {
				log.Warn("cache: delete unusable entry", zap.Error(err))
			}
			continue
		}
		sess.hit = entry
		_ = r.Cache.Store.Count(ctx, sess.scope, "launcher_replays", 1)
		return sess
	}
	return sess
}

// unusable says why an entry cannot be replayed, or "".
func (r *Runner) unusable(ctx context.Context, e *cachestore.Entry) string {
	maxAge := r.Cache.MaxTTL
	if st := r.Spec.Cache.MaxStaleness; st > 0 && (maxAge <= 0 || st < maxAge) {
		maxAge = st
	}
	if age := time.Since(e.Created); maxAge > 0 && age > maxAge {
		return fmt.Sprintf("written %s ago, older than %s", age.Round(time.Second), maxAge)
	}
	for name := range r.Spec.OutputParams {
		if _, ok := e.Params[name]; !ok {
			return "no value for output parameter " + name
		}
	}
	for name := range r.Spec.OutputArtifacts {
		if _, ok := e.Artifacts[name]; !ok {
			return "no descriptor for output artifact " + name
		}
	}
	for name, d := range e.Artifacts {
		if r.Store == nil {
			return "no object store to check artifact " + name
		}
		if err := r.Store.Check(ctx, &d); err != nil {
			return fmt.Sprintf("artifact %s: %v", name, err)
		}
	}
	return ""
}

// holder names this pod in a lease.
func (r *Runner) holder() string {
	return r.Spec.Namespace + "/" + r.Spec.PodName
}

// record writes the entry of a step that succeeded, then gives up the lease.
func (r *Runner) record(ctx context.Context, sess *cacheSession, out *Outputs) {
	log := r.Log.With(zap.String("cacheKey", sess.key))
	for d, id := range sess.imported {
		now, err := r.Store.Identity(ctx, d)
		if err != nil || now != id {
			log.Warn("cache: an imported input changed while the step ran; no entry is written", zap.String("uri", d.URI), zap.Error(err))
			return
		}
	}
	material, err := json.Marshal(sess.material)
	if err != nil {
		log.Warn("cache: encode key material", zap.Error(err))
		return
	}
	s := r.Spec
	e := &cachestore.Entry{
		Version:   cachestore.EntryVersion,
		Key:       sess.key,
		Scope:     sess.scope,
		Params:    out.Params,
		Artifacts: map[string]artifact.Descriptor{},
		Metrics:   out.Metrics,
		Source:    cachestore.Source{Namespace: s.Namespace, Workflow: s.RunName, Pod: s.PodName, Task: s.Task, Pipeline: s.PipelineName},
		Created:   time.Now().UTC(),
		Material:  material,
	}
	for name, d := range out.Artifacts {
		e.Artifacts[name] = *d
	}
	ttl := r.Cache.MaxTTL
	if st := s.Cache.MaxStaleness; st > 0 && (ttl <= 0 || st < ttl) {
		ttl = st
	}
	if err := r.Cache.Store.Put(ctx, e, ttl); err != nil {
		log.Warn("cache: the step succeeded but its entry could not be written", zap.Error(err))
		return
	}
	log.Info("cache: entry written", zap.Duration("ttl", ttl))
	_ = r.Cache.Store.Count(ctx, sess.scope, "launcher_writes", 1)
}

// close gives up the lease, if any: after a failure, a waiting identical
// step then runs instead of waiting for an entry that will not come.
func (sess *cacheSession) close(ctx context.Context, log *zap.Logger) {
	if sess == nil || sess.lease == nil {
		return
	}
	if err := sess.lease.Release(context.WithoutCancel(ctx)); err != nil {
		log.Warn("cache: release lease", zap.Error(err))
	}
}

// outputsOf turns an entry back into the outputs it recorded.
func outputsOf(e *cachestore.Entry) (*Outputs, error) {
	out := &Outputs{Params: map[string]string{}, Artifacts: map[string]*artifact.Descriptor{}, Metrics: e.Metrics}
	for name, v := range e.Params {
		if !keyPart(name) {
			return nil, fmt.Errorf("entry output parameter %q is not a valid name", name)
		}
		out.Params[name] = v
	}
	for name, d := range e.Artifacts {
		if !keyPart(name) {
			return nil, fmt.Errorf("entry output artifact %q is not a valid name", name)
		}
		out.Artifacts[name] = &d
	}
	return out, nil
}

// envMap reads KEY=VALUE pairs.
func envMap(env []string) map[string]string {
	m := make(map[string]string, len(env))
	for _, kv := range env {
		if k, v, ok := strings.Cut(kv, "="); ok && !strings.HasPrefix(k, step.EnvPrefix) {
			m[k] = v
		}
	}
	return m
}

// Replay writes a cache entry's outputs where Argo reads them: what
// `launcher replay` does in a pod the cache webhook rewrote, and what
// `launcher run` does when an entry appeared after its pod was admitted.
func Replay(e *cachestore.Entry, l Layout, log *zap.Logger) int {
	out, err := outputsOf(e)
	if err != nil {
		log.Error("replay", zap.Error(err))
		return ExitUsage
	}
	if err := out.write(l); err != nil {
		log.Error("replay: write outputs", zap.Error(err))
		return ExitOutputs
	}
	src := e.Source
	log.Info("cache hit: outputs replayed, the step did not run",
		zap.String("cacheKey", e.Key), zap.String("source", src.Namespace+"/"+src.Workflow+"/"+src.Pod),
		zap.Time("written", e.Created), zap.Int("parameters", len(out.Params)), zap.Int("artifacts", len(out.Artifacts)))
	return 0
}
