package main

import (
	"bufio"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/kfpargo/kfpargo/launcher"
)

// TestMain lets the test binary act as the launcher, so process-level
// behaviour (signals, exit codes) is tested on the real main.
func TestMain(m *testing.M) {
	if os.Getenv("KFPARGO_TEST_AS_LAUNCHER") == "1" {
		if root := os.Getenv("KFPARGO_TEST_LAYOUT_ROOT"); root != "" {
			// A pod's filesystem, under a temporary directory.
			os.Exit(runIn(os.Args[1:], os.Stderr, launcher.Layout{LocalRoot: filepath.Join(root, "fs"), StepDir: filepath.Join(root, "kfpargo")}))
		}
		os.Exit(run(os.Args[1:], os.Stderr))
	}
	os.Exit(m.Run())
}

func launcherCmd(args ...string) *exec.Cmd {
	cmd := exec.Command(os.Args[0], args...)
	cmd.Env = append(os.Environ(), "KFPARGO_TEST_AS_LAUNCHER=1")
	return cmd
}

// TestSignalForwarding: SIGTERM to the launcher reaches the user command,
// which gets to clean up; the launcher waits for it and passes its exit code
// on.
func TestSignalForwarding(t *testing.T) {
	cmd := launcherCmd("run", "--", "sh", "-c", `trap 'echo "cleaning up"; exit 42' TERM; echo ready; while :; do sleep 0.05; done`)
	out, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	lines := bufio.NewScanner(out)
	if !lines.Scan() || lines.Text() != "ready" {
		t.Fatalf("command did not start: %q", lines.Text())
	}
	start := time.Now()
	_ = cmd.Process.Signal(syscall.SIGTERM)
	var rest []string
	for lines.Scan() {
		rest = append(rest, lines.Text())
	}
	err = cmd.Wait()
	var exit *exec.ExitError
	if !errors.As(err, &exit) || exit.ExitCode() != 42 {
		t.Fatalf("launcher ended with %v, want the command's exit code 42", err)
	}
	if !strings.Contains(strings.Join(rest, "\n"), "cleaning up") {
		t.Errorf("the command's TERM handler did not run: %q", rest)
	}
	t.Logf("command cleaned up and exited %s after SIGTERM", time.Since(start).Round(time.Millisecond))
}

// TestExitCodes: usage errors and start failures have their documented codes.
func TestExitCodes(t *testing.T) {
	for _, tc := range []struct {
		args []string
		code int
	}{
		{[]string{"run", "--bogus", "--", "true"}, 64},
		{[]string{"run", "--", "/nonexistent/program"}, 127},
		{[]string{"run", "--", "sh", "-c", "exit 3"}, 3},
		{[]string{"run", "--", "true"}, 0},
		{[]string{"frobnicate"}, 64},
	} {
		err := launcherCmd(tc.args...).Run()
		code := 0
		var exit *exec.ExitError
		if errors.As(err, &exit) {
			code = exit.ExitCode()
		}
		if code != tc.code {
			t.Errorf("launcher %q: exit %d, want %d (%v)", tc.args, code, tc.code, err)
		}
	}
}
