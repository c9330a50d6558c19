// Command demo is `make demo`: it brings up the local stack (building what
// is missing), runs the seed MNIST pipeline on the real Argo controller,
// prints a per-step table and the artifacts left in MinIO, and tears the
// stack down. It exits 0 only when the run and every step succeeded.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"os"
	"os/signal"
	"strings"
	"syscall"
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
	fs.Usage = func() {
		fmt.Fprintf(fs.Output(), "usage: demo [flags]\n\nRuns a pipeline on the local stack (needs root: the node agent uses mount namespaces).\n\nFlags:\n")
		fs.PrintDefaults()
	}
	_ = fs.Parse(os.Args[1:])
	os.Exit(run(*pipeline, params, *keep, *stateDir, *timeout))
}

func run(pipeline string, params map[string]string, keep bool, stateDir string, timeout time.Duration) int {
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
	wf, err := target.Compile(pipeline, params)
	if err != nil {
		fmt.Fprintf(os.Stderr, "error: %v\n", err)
		return 2
	}
	fmt.Fprintf(out, "\n== running %s (%d templates)\n", pipeline, len(wf.Spec.Templates))
	res, err := target.Run(ctx, wf, out)
	if err != nil {
		if errors.Is(err, context.Canceled) {
			fmt.Fprintln(os.Stderr, "interrupted")
		} else {
			fmt.Fprintf(os.Stderr, "error: %v\n", err)
		}
		return 1
	}
	res.Report(out)
	if ms, err := target.Metrics(ctx, res); err != nil {
		fmt.Fprintf(os.Stderr, "error: %v\n", err)
	} else if len(ms) > 0 {
		fmt.Fprintf(out, "\nmetrics:\n")
		runner.WriteMetrics(out, ms)
	}
	if !res.Succeeded() {
		fmt.Fprintf(out, "\nthe run did not succeed; logs of every container are under %s\n", stack.LogDir)
		return 1
	}
	return 0
}
