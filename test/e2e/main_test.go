package e2e

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"testing"
	"time"

	"github.com/kfpargo/kfpargo/test/kfpsdk"
	"github.com/kfpargo/kfpargo/test/localstack"
	"github.com/kfpargo/kfpargo/test/runner"
)

// target is where every test runs its pipelines; nil when the suite is
// skipped, with skipReason saying why.
var (
	target     *runner.Target
	skipReason string
	// stack is the local stack, nil on an existing cluster.
	stack *localstack.Stack
	// dev is manifests/overlays/dev installed on the stack: the cache
	// webhook, Redis and MinIO every test's steps use.
	dev *devInstall
	// kfpargoBin is the CLI, built once.
	kfpargoBin string
	// sdkAvailable: KFP_SDK_DIR is set and Python images on the local
	// stack run lightweight components with it (package kfpsdk).
	sdkAvailable bool
)

func TestMain(m *testing.M) {
	os.Exit(runMain(m))
}

func runMain(m *testing.M) int {
	if os.Getenv("KFPARGO_E2E_CLUSTER") == "existing" {
		t, err := runner.TargetFromEnv()
		if err != nil {
			fmt.Fprintf(os.Stderr, "e2e: existing cluster: %v\n", err)
			return 1
		}
		target = t
		return m.Run()
	}
	if os.Getenv("KFPARGO_SKIP_STACK") == "1" {
		skipReason = "KFPARGO_SKIP_STACK=1"
		return m.Run()
	}
	if os.Geteuid() != 0 {
		skipReason = "the local stack needs root (its node agent uses mount namespaces); run as root or set KFPARGO_E2E_CLUSTER=existing"
		if os.Getenv("KFPARGO_REQUIRE_SERVERS") == "1" {
			fmt.Fprintln(os.Stderr, "e2e: "+skipReason)
			return 1
		}
		return m.Run()
	}
	ctx, cancel := context.WithTimeout(context.Background(), 45*time.Minute)
	defer cancel()
	// The webhook is the installation's (manifests/overlays/dev), reached
	// through its own configuration and Service, not the stack's shortcut.
	cfg := localstack.Config{Progress: os.Stderr, RequireLauncher: true, NoCacheWebhook: true}
	sdk, ok, err := kfpsdk.Dir()
	if err != nil {
		fmt.Fprintf(os.Stderr, "e2e: %v\n", err)
		return 1
	}
	if ok {
		// Python images get the SDK stand-ins, so lightweight components
		// from the corpus run too.
		// Not under /tmp: the stack's pods get a private one.
		dir, err := os.MkdirTemp("/var/tmp", "kfpargo-sdk-shim-")
		if err != nil {
			fmt.Fprintf(os.Stderr, "e2e: %v\n", err)
			return 1
		}
		defer os.RemoveAll(dir)
		bin, err := kfpsdk.Shim(dir, sdk)
		if err != nil {
			fmt.Fprintf(os.Stderr, "e2e: SDK shim: %v\n", err)
			return 1
		}
		cfg.ImageDirs = map[string]string{}
		for _, image := range kfpsdk.PythonImages {
			cfg.ImageDirs[image] = bin
		}
		sdkAvailable = true
	}
	stack, err = localstack.Up(ctx, cfg)
	if err != nil {
		fmt.Fprintf(os.Stderr, "e2e: local stack: %v\n", err)
		return 1
	}
	defer func() {
		downCtx, c := context.WithTimeout(context.Background(), 2*time.Minute)
		defer c()
		if err := stack.Down(downCtx); err != nil {
			fmt.Fprintf(os.Stderr, "e2e: stack down: %v\n", err)
		}
	}()
	dir, err := os.MkdirTemp("", "kfpargo-e2e-bin-")
	if err != nil {
		fmt.Fprintf(os.Stderr, "e2e: %v\n", err)
		return 1
	}
	defer os.RemoveAll(dir)
	kfpargoBin = filepath.Join(dir, "kfpargo")
	if out, err := exec.CommandContext(ctx, "go", "build", "-o", kfpargoBin, "../../cmd/kfpargo").CombinedOutput(); err != nil {
		fmt.Fprintf(os.Stderr, "e2e: go build kfpargo: %v\n%s", err, out)
		return 1
	}
	t0 := time.Now()
	fmt.Fprintln(os.Stderr, "kfpargo install --overlay dev ...")
	if err := setUpDev(ctx); err != nil {
		fmt.Fprintf(os.Stderr, "e2e: %v\n", err)
		return 1
	}
	fmt.Fprintf(os.Stderr, "dev overlay ready in %s: webhook, Redis (%s) and MinIO (%s) as pods\n", time.Since(t0).Round(100*time.Millisecond), dev.RedisAddr, dev.S3Endpoint)
	return m.Run()
}

func needTarget(t *testing.T) *runner.Target {
	t.Helper()
	if target == nil {
		t.Skip(skipReason)
	}
	return target
}
