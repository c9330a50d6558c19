package translator

import (
	"slices"
	"sort"
	"strings"

	wfv1 "github.com/argoproj/argo-workflows/v3/pkg/apis/workflow/v1alpha1"
	corev1 "k8s.io/api/core/v1"

	"github.com/kfpargo/kfpargo/ir"
	"github.com/kfpargo/kfpargo/step"
)

// cacheConfig is a task's caching options as its pod carries them.
type cacheConfig struct {
	enabled bool
	key     string
}

func (t *translation) taskCache(task *ir.TaskSpec) cacheConfig {
	co := task.CachingOptions
	if t.opts.DisableCache || co == nil || !co.EnableCache {
		return cacheConfig{}
	}
	return cacheConfig{enabled: true, key: co.CacheKey}
}

// baseCaches picks, for each component, the caching options most of its
// tasks use: its template carries those, and tasks that differ get a copy
// (cachingOptions are per task, templates per component).
func (t *translation) baseCaches() map[string]cacheConfig {
	counts := map[string]map[cacheConfig]int{}
	dags := []*ir.ComponentSpec{t.spec.Root}
	for _, comp := range t.spec.Components {
		dags = append(dags, comp)
	}
	for _, d := range dags {
		if d == nil || d.DAG == nil {
			continue
		}
		for _, task := range d.DAG.Tasks {
			c := counts[task.ComponentRef.Name]
			if c == nil {
				c = map[cacheConfig]int{}
				counts[task.ComponentRef.Name] = c
			}
			c[t.taskCache(task)]++
		}
	}
	base := map[string]cacheConfig{}
	for comp, c := range counts {
		configs := make([]cacheConfig, 0, len(c))
		for cfg := range c {
			configs = append(configs, cfg)
		}
		sort.Slice(configs, func(i, j int) bool {
			a, b := configs[i], configs[j]
			switch {
			case c[a] != c[b]:
				return c[a] > c[b]
			case a.enabled != b.enabled:
				return a.enabled
			}
			return a.key < b.key
		})
		base[comp] = configs[0]
	}
	return base
}

// applyCache writes a caching configuration into a template: the label
// the cache webhook selects pods by, and the launcher flags both the webhook
// and the launcher compute the cache key from. Flags of an earlier
// configuration (a template being copied) are replaced.
func (t *translation) applyCache(tmpl *wfv1.Template, cfg cacheConfig) {
	if tmpl.Metadata.Labels == nil {
		tmpl.Metadata.Labels = map[string]string{}
	}
	delete(tmpl.Metadata.Labels, step.LabelCache)
	c := tmpl.Container
	if c == nil {
		return
	}
	args := c.Args
	for len(args) > 0 && isCacheFlag(args[0]) {
		args = args[1:]
	}
	c.EnvFrom = slices.DeleteFunc(c.EnvFrom, func(e corev1.EnvFromSource) bool { return e.Prefix == step.EnvRedisPrefix })
	if !cfg.enabled {
		c.Args = args
		return
	}
	// The launcher writes the entry when the step succeeded. Optional: a
	// cluster without the Secret runs cached steps uncached.
	c.EnvFrom = append(c.EnvFrom, optionalSecretEnv(step.EnvRedisPrefix, t.opts.RedisSecret))
	tmpl.Metadata.Labels[step.LabelCache] = step.CacheEnabled
	flags := []string{step.FlagCache, step.FlagImage + "=" + c.Image}
	for _, e := range c.Env {
		if e.ValueFrom == nil {
			flags = append(flags, step.FlagEnv+"="+e.Name)
		}
	}
	if cfg.key != "" {
		flags = append(flags, step.FlagCacheSalt+"="+cfg.key)
	}
	if t.opts.MaxCacheStaleness != "" {
		flags = append(flags, step.FlagMaxCacheStaleness+"="+t.opts.MaxCacheStaleness)
	}
	if t.opts.RefreshCache {
		flags = append(flags, step.FlagRefreshCache)
	}
	c.Args = append(flags, args...)
}

// isCacheFlag reports whether a launcher argument is one applyCache writes.
func isCacheFlag(arg string) bool {
	if arg == step.FlagCache || arg == step.FlagRefreshCache {
		return true
	}
	for _, f := range []string{step.FlagImage, step.FlagEnv, step.FlagCacheSalt, step.FlagMaxCacheStaleness} {
		if strings.HasPrefix(arg, f+"=") {
			return true
		}
	}
	return false
}

// cacheTemplate returns the template a task runs: the component's own, or
// a copy with the task's caching options when they differ from it.
func (t *translation) cacheTemplate(compName, tmplName string, task *ir.TaskSpec) string {
	base, ok := t.baseCache[compName]
	cfg := t.taskCache(task)
	if !ok || cfg == base {
		return tmplName
	}
	memo := cacheCopy{tmplName, cfg}
	if name, ok := t.cacheCopies[memo]; ok {
		return name
	}
	orig := t.templateByName(tmplName)
	if orig == nil || orig.Container == nil {
		return tmplName
	}
	cp := *orig.DeepCopy()
	suffix := "-nocache"
	if cfg.enabled {
		suffix = "-cached"
	}
	cp.Name = t.names.unique(tmplName + suffix)
	t.applyCache(&cp, cfg)
	t.templates = append(t.templates, cp)
	t.cacheCopies[memo] = cp.Name
	return cp.Name
}

// cacheCopy identifies a template copied for a caching configuration.
type cacheCopy struct {
	template string
	cfg      cacheConfig
}
