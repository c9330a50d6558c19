package e2e

import (
	"context"
	"fmt"
	"os"
	"testing"
	"time"

	"github.com/kfpargo/kfpargo/artifact"
	"github.com/kfpargo/kfpargo/test/localstack"
	"github.com/kfpargo/kfpargo/test/runner"
)

// target is where every test runs its pipelines; nil when the suite is
// skipped, with skipReason saying why.
var (
	target     *runner.Target
	skipReason string
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
	stack, err := localstack.Up(ctx, localstack.Config{Progress: os.Stderr, RequireLauncher: true})
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
	target, err = runner.NewTarget(stack.RESTConfig, stack.Namespace, artifact.Config{
		Endpoint: stack.S3Endpoint, AccessKey: stack.S3AccessKey, SecretKey: stack.S3SecretKey, Insecure: true,
	}, localstack.DefaultLauncherImage, "")
	if err != nil {
		fmt.Fprintf(os.Stderr, "e2e: %v\n", err)
		return 1
	}
	return m.Run()
}

func needTarget(t *testing.T) *runner.Target {
	t.Helper()
	if target == nil {
		t.Skip(skipReason)
	}
	return target
}
