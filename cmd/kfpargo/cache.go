package main

import (
	"context"
	"crypto/tls"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"sort"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/redis/go-redis/v9"
	"github.com/spf13/cobra"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/tools/clientcmd"

	"github.com/kfpargo/kfpargo/cachekey"
	"github.com/kfpargo/kfpargo/cachestore"
	"github.com/kfpargo/kfpargo/cachewebhook"
	"github.com/kfpargo/kfpargo/step"
	"github.com/kfpargo/kfpargo/tlsclient"
)

// cacheFlags reach the cache store and pick a scope.
type cacheFlags struct {
	addr, username, passwordFile string
	db                           int
	tls                          bool
	caFile, serverName           string
	namespace                    string
	allNamespaces, cluster       bool
	kubeconfig                   string
}

func (f *cacheFlags) store() (*cachestore.Store, func(), error) {
	password := os.Getenv(step.EnvRedisPassword)
	if f.passwordFile != "" {
		b, err := os.ReadFile(f.passwordFile)
		if err != nil {
			return nil, nil, usageError{fmt.Errorf("--redis-password-file: %w", err)}
		}
		password = strings.TrimRight(string(b), "\r\n")
	}
	var tlsCfg *tls.Config
	if f.tls {
		var ca []byte
		var err error
		if f.caFile != "" {
			ca, err = os.ReadFile(f.caFile)
		}
		if err == nil {
			tlsCfg, err = tlsclient.Config(ca, f.serverName)
		}
		if err != nil {
			return nil, nil, usageError{fmt.Errorf("--redis-ca-file: %w", err)}
		}
	} else if f.caFile != "" || f.serverName != "" {
		return nil, nil, usageError{errors.New("--redis-ca-file and --redis-server-name need --redis-tls")}
	}
	rdb := redis.NewClient(&redis.Options{Addr: f.addr, Username: f.username, Password: password, DB: f.db, TLSConfig: tlsCfg,
		DialTimeout: 3 * time.Second, ReadTimeout: 10 * time.Second})
	cachestore.NameServer(rdb)
	if err := rdb.Ping(context.Background()).Err(); err != nil {
		rdb.Close()
		return nil, nil, fmt.Errorf("cache store at %s: %w (set --redis-addr or %s)", f.addr, err, step.EnvRedisAddr)
	}
	return cachestore.New(rdb, cachestore.Options{}), func() { rdb.Close() }, nil
}

// scope is the one scope the flags name; "" means every scope.
func (f *cacheFlags) scope() (cachestore.Scope, error) {
	switch {
	case f.cluster:
		return cachestore.ClusterScope, nil
	case f.allNamespaces:
		return "", nil
	}
	s := cachestore.NamespaceScope(f.namespace)
	if err := s.Validate(); err != nil {
		return "", usageError{fmt.Errorf("--namespace: %w", err)}
	}
	return s, nil
}

func newCacheCommand() *cobra.Command {
	f := &cacheFlags{}
	cmd := &cobra.Command{
		Use:   "cache",
		Short: "Inspect and manage the step cache",
		Long: `Inspect and manage the step cache in Redis (docs/caching.md).

Entries are scoped by namespace unless the webhook runs with --cache-scope cluster;
-n picks the namespace, --cluster the shared scope, -A every scope.`,
		Example: `  kfpargo cache ls -n team-a
  kfpargo cache inspect 3f9c2a
  kfpargo cache explain seed-mnist-x7k2p-train-123456 -n team-a
  kfpargo cache purge --pipeline seed-mnist --older-than 72h
  kfpargo cache stats -A`,
	}
	addr := os.Getenv(step.EnvRedisAddr)
	if addr == "" {
		addr = "127.0.0.1:6379"
	}
	ns := os.Getenv("KFPARGO_NAMESPACE")
	if ns == "" {
		ns = "argo"
	}
	pf := cmd.PersistentFlags()
	pf.StringVar(&f.addr, "redis-addr", addr, "Redis host:port; $"+step.EnvRedisAddr+" sets the default")
	pf.StringVar(&f.username, "redis-username", "", "Redis ACL user")
	pf.StringVar(&f.passwordFile, "redis-password-file", "", "file holding the Redis password (else $"+step.EnvRedisPassword+")")
	pf.IntVar(&f.db, "redis-db", 0, "Redis database number")
	pf.BoolVar(&f.tls, "redis-tls", false, "connect to Redis over TLS (1.2 or newer), trusting the system's roots and --redis-ca-file")
	pf.StringVar(&f.caFile, "redis-ca-file", "", "with --redis-tls: CA certificates (PEM) trusted for Redis besides the system's")
	pf.StringVar(&f.serverName, "redis-server-name", "", "with --redis-tls: the name Redis's certificate must carry, if not the host of --redis-addr")
	pf.StringVarP(&f.namespace, "namespace", "n", ns, "namespace whose entries to use; $KFPARGO_NAMESPACE sets the default")
	pf.BoolVarP(&f.allNamespaces, "all-namespaces", "A", false, "every scope")
	pf.BoolVar(&f.cluster, "cluster", false, "the cluster-wide scope (webhook --cache-scope cluster)")
	pf.StringVar(&f.kubeconfig, "kubeconfig", "", "kubeconfig for explain (default $KUBECONFIG, else ~/.kube/config)")
	cmd.AddCommand(newCacheLsCommand(f), newCacheInspectCommand(f), newCacheExplainCommand(f),
		newCacheRmCommand(f), newCachePurgeCommand(f), newCacheStatsCommand(f))
	return cmd
}

// entries lists the entries of the flags' scope, newest first.
func (f *cacheFlags) entries(ctx context.Context, s *cachestore.Store, stderr io.Writer) ([]*cachestore.Entry, error) {
	scope, err := f.scope()
	if err != nil {
		return nil, err
	}
	var out []*cachestore.Entry
	for e, err := range s.Entries(ctx, scope) {
		if errors.Is(err, cachestore.ErrCorrupt) {
			fmt.Fprintf(stderr, "warning: %v\n", err)
			continue
		}
		if err != nil {
			return nil, err
		}
		out = append(out, e)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Created.After(out[j].Created) })
	return out, nil
}

func newCacheLsCommand(f *cacheFlags) *cobra.Command {
	var pipeline, task, output string
	cmd := &cobra.Command{
		Use:     "ls",
		Short:   "List cache entries, newest first",
		Example: "  kfpargo cache ls -n team-a --pipeline seed-mnist\n  kfpargo cache ls -A -o json",
		Args:    cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if output != "table" && output != "json" {
				return usageError{fmt.Errorf("-o %q: want table or json", output)}
			}
			s, done, err := f.store()
			if err != nil {
				return err
			}
			defer done()
			all, err := f.entries(cmd.Context(), s, cmd.ErrOrStderr())
			if err != nil {
				return err
			}
			var es []*cachestore.Entry
			for _, e := range all {
				if (pipeline == "" || e.Source.Pipeline == pipeline) && (task == "" || e.Source.Task == task) {
					es = append(es, e)
				}
			}
			if output == "json" {
				enc := json.NewEncoder(cmd.OutOrStdout())
				enc.SetIndent("", "  ")
				return enc.Encode(es)
			}
			tw := tabwriter.NewWriter(cmd.OutOrStdout(), 0, 4, 2, ' ', 0)
			fmt.Fprintln(tw, "KEY\tSCOPE\tPIPELINE\tTASK\tSOURCE RUN\tAGE\tTTL\tOUTPUTS")
			for _, e := range es {
				ttl, _ := s.TTL(cmd.Context(), e.Scope, e.Key)
				fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\t%s\t%d\n", e.Key[:12], e.Scope, dash(e.Source.Pipeline), e.Source.Task, e.Source.Workflow,
					age(time.Since(e.Created)), age(ttl), len(e.Params)+len(e.Artifacts))
			}
			if err := tw.Flush(); err != nil {
				return err
			}
			fmt.Fprintf(cmd.ErrOrStderr(), "%d entries\n", len(es))
			return nil
		},
	}
	cmd.Flags().StringVar(&pipeline, "pipeline", "", "only entries of this pipeline (pipelineInfo.name)")
	cmd.Flags().StringVar(&task, "task", "", "only entries of this task")
	cmd.Flags().StringVarP(&output, "output", "o", "table", "table or json")
	return cmd
}

// find resolves a key or a unique prefix of one within the flags' scope.
func (f *cacheFlags) find(ctx context.Context, s *cachestore.Store, prefix string, stderr io.Writer) (*cachestore.Entry, error) {
	if len(prefix) < 6 {
		return nil, usageError{fmt.Errorf("key %q: give at least 6 characters", prefix)}
	}
	all, err := f.entries(ctx, s, stderr)
	if err != nil {
		return nil, err
	}
	var found []*cachestore.Entry
	for _, e := range all {
		if strings.HasPrefix(e.Key, prefix) {
			found = append(found, e)
		}
	}
	switch len(found) {
	case 0:
		return nil, fmt.Errorf("no entry with key %s in %s (try -A)", prefix, f.scopeName())
	case 1:
		return found[0], nil
	}
	return nil, usageError{fmt.Errorf("key %s is ambiguous: %d entries match", prefix, len(found))}
}

func (f *cacheFlags) scopeName() string {
	s, err := f.scope()
	if err != nil || s == "" {
		return "any scope"
	}
	return "scope " + string(s)
}

func newCacheInspectCommand(f *cacheFlags) *cobra.Command {
	return &cobra.Command{
		Use:     "inspect KEY",
		Short:   "Show one entry: outputs, source run, key material and time left",
		Example: "  kfpargo cache inspect 3f9c2a8b1d0e",
		Args:    cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			s, done, err := f.store()
			if err != nil {
				return err
			}
			defer done()
			e, err := f.find(cmd.Context(), s, args[0], cmd.ErrOrStderr())
			if err != nil {
				return err
			}
			ttl, err := s.TTL(cmd.Context(), e.Scope, e.Key)
			if err != nil {
				return err
			}
			out := struct {
				*cachestore.Entry
				ExpiresIn string `json:"expiresIn"`
			}{e, ttl.Round(time.Second).String()}
			enc := json.NewEncoder(cmd.OutOrStdout())
			enc.SetIndent("", "  ")
			return enc.Encode(out)
		},
	}
}

func newCacheRmCommand(f *cacheFlags) *cobra.Command {
	return &cobra.Command{
		Use:     "rm KEY...",
		Short:   "Delete entries (the next run of their steps runs them)",
		Example: "  kfpargo cache rm 3f9c2a8b1d0e 77ab01c4e9f2",
		Args:    cobra.MinimumNArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			s, done, err := f.store()
			if err != nil {
				return err
			}
			defer done()
			for _, k := range args {
				e, err := f.find(cmd.Context(), s, k, cmd.ErrOrStderr())
				if err != nil {
					return err
				}
				if _, err := s.Delete(cmd.Context(), e.Scope, e.Key); err != nil {
					return err
				}
				fmt.Fprintf(cmd.OutOrStdout(), "deleted %s (%s/%s, task %s)\n", e.Key, e.Scope, e.Source.Workflow, e.Source.Task)
			}
			return nil
		},
	}
}

func newCachePurgeCommand(f *cacheFlags) *cobra.Command {
	var pipeline string
	var olderThan time.Duration
	var dryRun bool
	cmd := &cobra.Command{
		Use:   "purge",
		Short: "Delete every entry of a pipeline, a namespace, or older than a duration",
		Long: `Delete entries in the chosen scope (-n NS, --cluster or -A) that match every given filter.
With no filter, every entry of the scope goes; -A without a filter is refused.`,
		Example: "  kfpargo cache purge -n team-a --pipeline seed-mnist\n  kfpargo cache purge -A --older-than 168h --dry-run",
		Args:    cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if f.allNamespaces && pipeline == "" && olderThan == 0 {
				return usageError{errors.New("purge -A needs --pipeline or --older-than; to empty every scope, use redis-cli")}
			}
			s, done, err := f.store()
			if err != nil {
				return err
			}
			defer done()
			es, err := f.entries(cmd.Context(), s, cmd.ErrOrStderr())
			if err != nil {
				return err
			}
			n := 0
			for _, e := range es {
				if pipeline != "" && e.Source.Pipeline != pipeline || olderThan > 0 && time.Since(e.Created) < olderThan {
					continue
				}
				n++
				if dryRun {
					fmt.Fprintf(cmd.OutOrStdout(), "would delete %s (%s, %s, task %s)\n", e.Key[:12], e.Scope, e.Source.Workflow, e.Source.Task)
					continue
				}
				if _, err := s.Delete(cmd.Context(), e.Scope, e.Key); err != nil {
					return err
				}
			}
			verb := "deleted"
			if dryRun {
				verb = "would delete"
			}
			fmt.Fprintf(cmd.OutOrStdout(), "%s %d of %d entries\n", verb, n, len(es))
			return nil
		},
	}
	cmd.Flags().StringVar(&pipeline, "pipeline", "", "only entries of this pipeline (pipelineInfo.name)")
	cmd.Flags().DurationVar(&olderThan, "older-than", 0, "only entries written longer ago than this, e.g. 72h")
	cmd.Flags().BoolVar(&dryRun, "dry-run", false, "list what would be deleted")
	return cmd
}

func newCacheStatsCommand(f *cacheFlags) *cobra.Command {
	return &cobra.Command{
		Use:     "stats",
		Short:   "Entries and hit/miss counters per scope",
		Example: "  kfpargo cache stats -A",
		Args:    cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			s, done, err := f.store()
			if err != nil {
				return err
			}
			defer done()
			es, err := f.entries(cmd.Context(), s, cmd.ErrOrStderr())
			if err != nil {
				return err
			}
			counters, err := s.Stats(cmd.Context())
			if err != nil {
				return err
			}
			want, _ := f.scope()
			entries := map[cachestore.Scope]int{}
			for _, e := range es {
				entries[e.Scope]++
			}
			scopes := map[cachestore.Scope]bool{}
			for sc := range entries {
				scopes[sc] = true
			}
			for sc := range counters {
				if want == "" || sc == want {
					scopes[sc] = true
				}
			}
			names := make([]string, 0, len(scopes))
			for sc := range scopes {
				names = append(names, string(sc))
			}
			sort.Strings(names)
			tw := tabwriter.NewWriter(cmd.OutOrStdout(), 0, 4, 2, ' ', 0)
			fmt.Fprintln(tw, "SCOPE\tENTRIES\tWEBHOOK HITS\tWEBHOOK MISSES\tHIT RATE\tLAUNCHER WRITES\tLAUNCHER REPLAYS\tVERIFY FAILURES")
			for _, n := range names {
				c := counters[cachestore.Scope(n)]
				rate := "-"
				if total := c["webhook_hits"] + c["webhook_misses"]; total > 0 {
					rate = fmt.Sprintf("%.0f%%", 100*float64(c["webhook_hits"])/float64(total))
				}
				fmt.Fprintf(tw, "%s\t%d\t%d\t%d\t%s\t%d\t%d\t%d\n", n, entries[cachestore.Scope(n)], c["webhook_hits"], c["webhook_misses"], rate,
					c["launcher_writes"], c["launcher_replays"], c["verify_failures"])
			}
			return tw.Flush()
		},
	}
}

func newCacheExplainCommand(f *cacheFlags) *cobra.Command {
	return &cobra.Command{
		Use:   "explain POD",
		Short: "Say why a step pod hit or missed, and what its key is made of",
		Long: `Reads the pod's cache decision and key, computes the key's material from the pod as the
webhook does, and, for a miss, compares it with the newest entry of the same task: the
differing parts are why the step ran.`,
		Example: "  kfpargo cache explain seed-mnist-x7k2p-train-123456 -n team-a",
		Args:    cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			ctx := cmd.Context()
			rules := clientcmd.NewDefaultClientConfigLoadingRules()
			rules.ExplicitPath = f.kubeconfig
			cfg, err := clientcmd.NewNonInteractiveDeferredLoadingClientConfig(rules, nil).ClientConfig()
			if err != nil {
				return fmt.Errorf("kubeconfig: %w", err)
			}
			kc, err := kubernetes.NewForConfig(cfg)
			if err != nil {
				return err
			}
			pod, err := kc.CoreV1().Pods(f.namespace).Get(ctx, args[0], metav1.GetOptions{})
			if err != nil {
				return fmt.Errorf("pod %s/%s: %w", f.namespace, args[0], err)
			}
			out := cmd.OutOrStdout()
			fmt.Fprintf(out, "pod:       %s/%s\n", pod.Namespace, pod.Name)
			fmt.Fprintf(out, "decision:  %s\n", dash(pod.Annotations[step.AnnotationCacheDecision]))
			fmt.Fprintf(out, "key:       %s\n", dash(pod.Annotations[step.AnnotationCacheKey]))
			if src := pod.Annotations[step.AnnotationCacheSource]; src != "" {
				fmt.Fprintf(out, "served from: %s\n", src)
			}
			s, done, err := f.store()
			if err != nil {
				return err
			}
			defer done()
			m, spec, err := cachewebhook.PodMaterial(pod, nil)
			if err != nil {
				// A replay pod no longer holds the launcher flags: its entry
				// holds the material.
				if key := pod.Annotations[step.AnnotationCacheKey]; key != "" {
					if e, gerr := f.find(ctx, s, key, cmd.ErrOrStderr()); gerr == nil {
						fmt.Fprintf(out, "\nmaterial of the entry:\n%s\n", indentJSON(e.Material))
						return nil
					}
				}
				return fmt.Errorf("cannot compute the key from the pod: %w", err)
			}
			b, _ := json.MarshalIndent(m, "", "  ")
			fmt.Fprintf(out, "\nmaterial computed from the pod:\n%s\n", b)
			key, err := m.Key()
			if err != nil {
				return err
			}
			if own, _ := s.Get(ctx, scopeOf(f, pod.Namespace), key); own != nil {
				fmt.Fprintf(out, "\nan entry with this key exists now (from %s, written %s ago)\n", own.Source.Workflow, age(time.Since(own.Created)))
			}
			es, err := f.entries(ctx, s, cmd.ErrOrStderr())
			if err != nil {
				return err
			}
			// The newest entry of the same task with another key: what
			// differs between them is why this pod's step did not hit it.
			for _, e := range es {
				if e.Key == key || e.Source.Task != spec.Task || e.Source.Pipeline != spec.PipelineName || len(e.Material) == 0 {
					continue
				}
				var old cachekey.Material
				if json.Unmarshal(e.Material, &old) != nil {
					continue
				}
				diffs := diffMaterial(&old, m)
				if len(diffs) == 0 {
					fmt.Fprintf(out, "\nthe newest other entry of task %s (%s, from %s) has the same material\n", spec.Task, e.Key[:12], e.Source.Workflow)
				} else {
					fmt.Fprintf(out, "\ncompared with the newest other entry of task %s (%s, from %s):\n", spec.Task, e.Key[:12], e.Source.Workflow)
					for _, d := range diffs {
						fmt.Fprintf(out, "  %s\n", d)
					}
				}
				return nil
			}
			fmt.Fprintf(out, "\nno other entry of task %s in %s to compare with\n", spec.Task, f.scopeName())
			return nil
		},
	}
}

// scopeOf is the scope a pod's entries live in, by the flags.
func scopeOf(f *cacheFlags, namespace string) cachestore.Scope {
	if f.cluster {
		return cachestore.ClusterScope
	}
	return cachestore.NamespaceScope(namespace)
}

// diffMaterial lists the top-level parts (and the inputs) that differ.
func diffMaterial(old, now *cachekey.Material) []string {
	var out []string
	js := func(v any) string { b, _ := json.Marshal(v); return string(b) }
	for _, p := range []struct {
		name     string
		old, now any
	}{{"image", old.Image, now.Image}, {"command", old.Command, now.Command}, {"env", old.Env, now.Env},
		{"outputs", old.Outputs, now.Outputs}, {"salt", old.Salt, now.Salt}, {"version", old.Version, now.Version}} {
		if js(p.old) != js(p.now) {
			out = append(out, fmt.Sprintf("%s: %s -> %s", p.name, js(p.old), js(p.now)))
		}
	}
	for _, name := range unionKeys(old.Params, now.Params) {
		if a, b := js(old.Params[name]), js(now.Params[name]); a != b {
			out = append(out, fmt.Sprintf("parameter %s: %s -> %s", name, a, b))
		}
	}
	for _, name := range unionKeys(old.Artifacts, now.Artifacts) {
		if a, b := js(old.Artifacts[name]), js(now.Artifacts[name]); a != b {
			out = append(out, fmt.Sprintf("artifact %s: %s -> %s", name, a, b))
		}
	}
	return out
}

func unionKeys[V any](a, b map[string]V) []string {
	seen := map[string]bool{}
	for k := range a {
		seen[k] = true
	}
	for k := range b {
		seen[k] = true
	}
	keys := make([]string, 0, len(seen))
	for k := range seen {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}

func indentJSON(b []byte) string {
	var v any
	if json.Unmarshal(b, &v) != nil {
		return string(b)
	}
	out, _ := json.MarshalIndent(v, "", "  ")
	return string(out)
}

func dash(s string) string {
	if s == "" {
		return "-"
	}
	return s
}

// age renders a duration the way kubectl does: the largest unit or two.
func age(d time.Duration) string {
	switch {
	case d <= 0:
		return "-"
	case d < time.Minute:
		return fmt.Sprintf("%ds", int(d.Seconds()))
	case d < time.Hour:
		return fmt.Sprintf("%dm", int(d.Minutes()))
	case d < 48*time.Hour:
		return fmt.Sprintf("%dh%dm", int(d.Hours()), int(d.Minutes())%60)
	}
	return fmt.Sprintf("%dd", int(d.Hours()/24))
}
