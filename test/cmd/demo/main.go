// Command demo is `make demo`: it brings up the local stack (building what
// is missing), runs the seed MNIST pipeline on the real Argo controller
// three times — as given, with one parameter changed (hidden_units), and
// again unchanged — and prints each run's steps with their cache decisions,
// the artifacts left in MinIO, the logged metrics and the wall times side by
// side, then tears the stack down. It exits 0 only when every run and step
// succeeded and, for the seed pipeline, the cache served exactly the steps
// the change did not touch.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"slices"
	"strings"
	"syscall"
	"text/tabwriter"
	"time"

	"github.com/kfpargo/kfpargo/artifact"
	"github.com/kfpargo/kfpargo/test/localstack"
	"github.com/kfpargo/kfpargo/test/runner"
)

type paramFlags map[string]string

func (p paramFlags) String() string { return "" }
func (p paramFlags) Set(v string) error {
	k, val, ok := strings.Cut(v, "=")
	if !ok || k == "" {
		return fmt.Errorf("expected NAME=VALUE, got %q", v)
	}
	p[k] = val
	return nil
}

func main() {
	params := paramFlags{}
	fs := flag.NewFlagSet("demo", flag.ExitOnError)
	pipeline := fs.String("pipeline", "examples/seed-mnist/pipeline.yaml", "pipeline spec to run (path from the repository root)")
	keep := fs.Bool("keep", false, "leave the stack running afterwards (stop it with `make stack-down`)")
	stateDir := fs.String("state-dir", "", "stack state directory (default <repo>/.stack)")
	timeout := fs.Duration("timeout", 30*time.Minute, "give up after this long, builds included")
	fs.Var(params, "param", "pipeline argument NAME=VALUE (repeatable)")
	change := fs.String("change", "hidden_units=256", "NAME=VALUE changed for the second and third runs; empty for a single run")
	fs.Usage = func() {
		fmt.Fprintf(fs.Output(), "usage: demo [flags]\n\nRuns a pipeline on the local stack (needs root: the node agent uses mount namespaces).\n\nFlags:\n")
		fs.PrintDefaults()
	}
	_ = fs.Parse(os.Args[1:])
	var changed map[string]string
	if *change != "" {
		changed = paramFlags{}
		if err := paramFlags(changed).Set(*change); err != nil {
			fmt.Fprintf(os.Stderr, "error: -change: %v\n", err)
			os.Exit(2)
		}
	}
	os.Exit(run(*pipeline, params, changed, *keep, *stateDir, *timeout))
}

// seedPipeline is the default pipeline, whose cache behaviour the demo checks.
const seedPipeline = "examples/seed-mnist/pipeline.yaml"

// scenarioRun is one run of the demo's cache scenario.
type scenarioRun struct {
	title  string
	params map[string]string
	// wantHits are the steps the cache must serve (seed pipeline only).
	wantHits []string
	res      *runner.Result
}

func run(pipeline string, params, changed map[string]string, keep bool, stateDir string, timeout time.Duration) int {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()

	out := os.Stdout
	fmt.Fprintln(out, "== bringing up the local stack (etcd, kube-apiserver, Argo, MinIO, Redis, node agent)")
	start := time.Now()
	stack, err := localstack.Up(ctx, localstack.Config{StateDir: stateDir, Progress: out, RequireLauncher: true})
	if err != nil {
		fmt.Fprintf(os.Stderr, "error: %v\n", err)
		return 1
	}
	fmt.Fprintf(out, "== stack ready in %s\n", time.Since(start).Round(100*time.Millisecond))
	defer func() {
		if keep {
			fmt.Fprintf(out, "\nthe stack keeps running: source %s; stop it with make stack-down\n", stack.EnvFile)
			return
		}
		fmt.Fprintln(out, "\n== tearing the stack down")
		downCtx, c := context.WithTimeout(context.Background(), 2*time.Minute)
		defer c()
		if err := stack.Down(downCtx); err != nil {
			fmt.Fprintf(os.Stderr, "error: stack down: %v\n", err)
		}
	}()

	target, err := runner.NewTarget(stack.RESTConfig, stack.Namespace, artifact.Config{
		Endpoint: stack.S3Endpoint, AccessKey: stack.S3AccessKey, SecretKey: stack.S3SecretKey, Insecure: true,
	}, localstack.DefaultLauncherImage, "")
	if err != nil {
		fmt.Fprintf(os.Stderr, "error: %v\n", err)
		return 1
	}
	runs := []*scenarioRun{{title: "first run: every step runs", params: params}}
	if changed != nil {
		second := map[string]string{}
		for k, v := range params {
			second[k] = v
		}
		var what []string
		for k, v := range changed {
			second[k] = v
			what = append(what, k+"="+v)
		}
		runs = append(runs,
			&scenarioRun{title: "second run, " + strings.Join(what, " ") + ": only the steps that depend on it run", params: second},
			&scenarioRun{title: "third run, unchanged: every step is served from the cache", params: second})
		if pipeline == seedPipeline && len(changed) == 1 && changed["hidden_units"] != "" {
			runs[1].wantHits = []string{"load-data", "preprocessing"}
			runs[2].wantHits = []string{"evaluate", "load-data", "preprocessing", "train"} // sorted, as hits()
		}
	}
	ok := true
	for i, r := range runs {
		wf, err := target.Compile(pipeline, r.params)
		if err != nil {
			fmt.Fprintf(os.Stderr, "error: %v\n", err)
			return 2
		}
		fmt.Fprintf(out, "\n== %s (%s, %d templates)\n", r.title, pipeline, len(wf.Spec.Templates))
		res, err := target.Run(ctx, wf, out)
		if err != nil {
			if errors.Is(err, context.Canceled) {
				fmt.Fprintln(os.Stderr, "interrupted")
			} else {
				fmt.Fprintf(os.Stderr, "error: %v\n", err)
			}
			return 1
		}
		r.res = res
		res.Report(out)
		if ms, err := target.Metrics(ctx, res); err != nil {
			fmt.Fprintf(os.Stderr, "error: %v\n", err)
		} else if len(ms) > 0 {
			fmt.Fprintf(out, "\nmetrics:\n")
			runner.WriteMetrics(out, ms)
		}
		if !res.Succeeded() {
			fmt.Fprintf(out, "\nrun %d did not succeed; logs of every container are under %s\n", i+1, stack.LogDir)
			return 1
		}
		if r.wantHits != nil {
			if got := hits(res); !slices.Equal(got, r.wantHits) {
				fmt.Fprintf(out, "\nrun %d: the cache served %v, expected %v\n", i+1, got, r.wantHits)
				ok = false
			}
		}
	}
	if len(runs) > 1 {
		summary(out, runs)
	}
	if !ok {
		return 1
	}
	return 0
}

// hits lists the steps served from the cache, sorted.
func hits(res *runner.Result) []string {
	var out []string
	for _, s := range res.Steps {
		if s.Cached() {
			out = append(out, s.Name)
		}
	}
	slices.Sort(out)
	return out
}

// summary prints the runs' wall times side by side.
func summary(w io.Writer, runs []*scenarioRun) {
	fmt.Fprintf(w, "\n== the cache at work\n")
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "RUN\tWORKFLOW\tWALL TIME\tVS FIRST\tSTEPS RUN\tFROM CACHE")
	first := runs[0].res.Elapsed
	for i, r := range runs {
		h := hits(r.res)
		cached := "-"
		if len(h) > 0 {
			cached = strings.Join(h, ", ")
		}
		fmt.Fprintf(tw, "%d\t%s\t%s\t%.0f%%\t%d\t%s\n", i+1, r.res.Workflow.Name, r.res.Elapsed.Round(100*time.Millisecond),
			100*r.res.Elapsed.Seconds()/first.Seconds(), len(r.res.Steps)-len(h), cached)
	}
	_ = tw.Flush()
}
