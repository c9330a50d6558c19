// Command localstack builds and runs kfpargo's local test stack (see
// package test/localstack): `localstack up` starts it in the background,
// `localstack down` stops it.
package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"os/signal"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/spf13/cobra"
	"go.uber.org/zap"
	"go.uber.org/zap/zapcore"

	"github.com/kfpargo/kfpargo/test/localstack"
)

// Files in the state directory owned by this command.
const (
	supervisorLog = "logs/supervisor.log"
	supervisorPid = "supervisor.pid"
	readyFile     = "ready"
)

type options struct {
	stateDir        string
	cacheDir        string
	launcherImage   string
	requireLauncher bool
	verbose         bool
}

func main() {
	if err := newRootCmd().Execute(); err != nil {
		fmt.Fprintln(os.Stderr, "error:", err)
		os.Exit(1)
	}
}

func newRootCmd() *cobra.Command {
	o := &options{}
	root := &cobra.Command{
		Use:   "localstack",
		Short: "Run kfpargo's local test stack (etcd, kube-apiserver, Argo, MinIO, Redis, node agent) on 127.0.0.1",
		Long: `localstack builds and runs a real single-machine Kubernetes + Argo Workflows stack on
127.0.0.1 for kfpargo's tests: etcd, kube-apiserver, kube-controller-manager, the Argo
workflow-controller, MinIO, Redis and the process node agent. Needs root.

Control-plane binaries are built once per version into the cache directory
(a cold build takes 10-20 minutes on two cores; later runs start in seconds).`,
		SilenceUsage:  true,
		SilenceErrors: true,
	}
	root.CompletionOptions.DisableDefaultCmd = true
	pf := root.PersistentFlags()
	pf.StringVar(&o.stateDir, "state-dir", "", "directory for all state, logs and built project binaries (default: .stack in the repository root)")
	pf.StringVar(&o.cacheDir, "cache-dir", "", "directory whose bin/ caches version-named control-plane binaries (default: $KFPARGO_CACHE_DIR, else ~/.cache/kfpargo)")
	pf.StringVar(&o.launcherImage, "launcher-image", localstack.DefaultLauncherImage, "image whose repository the node agent maps to the locally built launcher")
	pf.BoolVar(&o.requireLauncher, "require-launcher", false, "fail when ./cmd/launcher does not exist instead of running without a launcher")
	pf.BoolVarP(&o.verbose, "verbose", "v", false, "log every step (structured, to stderr or the supervisor log)")
	root.AddCommand(newUpCmd(o), newDownCmd(o), newServeCmd(o), newBuildCmd(o))
	return root
}

func (o *options) config(progress io.Writer) (localstack.Config, error) {
	repo, err := localstack.FindRepoRoot(".")
	if err != nil {
		return localstack.Config{}, err
	}
	state := o.stateDir
	if state == "" {
		state = filepath.Join(repo, ".stack")
	}
	if state, err = filepath.Abs(state); err != nil {
		return localstack.Config{}, err
	}
	logger := zap.NewNop()
	if o.verbose {
		zc := zap.NewDevelopmentConfig()
		zc.Level = zap.NewAtomicLevelAt(zapcore.InfoLevel)
		if logger, err = zc.Build(); err != nil {
			return localstack.Config{}, err
		}
	}
	return localstack.Config{
		RepoDir:         repo,
		StateDir:        state,
		CacheDir:        o.cacheDir,
		Logger:          logger,
		Progress:        progress,
		LauncherImage:   o.launcherImage,
		RequireLauncher: o.requireLauncher,
	}, nil
}

func newBuildCmd(o *options) *cobra.Command {
	return &cobra.Command{
		Use:   "build",
		Short: "Build (or find cached) every binary the stack runs, without starting anything",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			cfg, err := o.config(os.Stderr)
			if err != nil {
				return err
			}
			ctx, stop := signal.NotifyContext(cmd.Context(), os.Interrupt, syscall.SIGTERM)
			defer stop()
			start := time.Now()
			bins, err := localstack.Build(ctx, cfg)
			if err != nil {
				return err
			}
			for _, b := range []struct{ name, path string }{
				{"etcd", bins.Etcd}, {"kube-apiserver", bins.APIServer}, {"kube-controller-manager", bins.ControllerManager},
				{"workflow-controller", bins.WorkflowController}, {"argoexec", bins.Argoexec}, {"minio", bins.Minio},
				{"redis-server", bins.Redis}, {"nodeagent", bins.NodeAgent}, {"launcher", bins.Launcher},
			} {
				if b.path == "" {
					b.path = "(not built: no ./cmd/launcher)"
				}
				fmt.Printf("%-24s %s\n", b.name, b.path)
			}
			fmt.Fprintf(os.Stderr, "all binaries ready in %s\n", time.Since(start).Round(100*time.Millisecond))
			return nil
		},
	}
}

func newServeCmd(o *options) *cobra.Command {
	return &cobra.Command{
		Use:   "serve",
		Short: "Run the stack in the foreground until interrupted (Ctrl-C or SIGTERM stops it)",
		Long: `serve starts the stack and keeps it running in the foreground. Ctrl-C or SIGTERM stops
every process and cleans up. If any process of the stack dies, serve stops the rest and
exits with an error. "localstack up" runs serve in the background.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			cfg, err := o.config(os.Stdout)
			if err != nil {
				return err
			}
			return serve(cmd.Context(), cfg)
		},
	}
}

func serve(ctx context.Context, cfg localstack.Config) error {
	ctx, stop := signal.NotifyContext(ctx, os.Interrupt, syscall.SIGTERM)
	defer stop()
	if err := os.MkdirAll(cfg.StateDir, 0o755); err != nil {
		return err
	}
	pidPath := filepath.Join(cfg.StateDir, supervisorPid)
	ready := filepath.Join(cfg.StateDir, readyFile)
	_ = os.Remove(ready)
	if err := os.WriteFile(pidPath, []byte(strconv.Itoa(os.Getpid())+"\n"), 0o644); err != nil {
		return err
	}
	defer os.Remove(pidPath)
	s, err := localstack.Up(ctx, cfg)
	if err != nil {
		return err
	}
	printInfo(os.Stdout, s)
	if err := os.WriteFile(ready, []byte(strconv.Itoa(os.Getpid())+"\n"), 0o644); err != nil {
		_ = s.Down(context.Background())
		return err
	}
	var runErr error
	select {
	case <-ctx.Done():
		fmt.Println("stopping the local stack ...")
	case runErr = <-s.Exited():
		fmt.Println("a process of the stack died; stopping the rest:", runErr)
	}
	_ = os.Remove(ready)
	stop() // a second Ctrl-C during Down kills us the usual way
	if err := s.Down(context.Background()); err != nil {
		return fmt.Errorf("stop: %w", err)
	}
	fmt.Println("local stack stopped")
	return runErr
}

func printInfo(w io.Writer, s *localstack.Stack) {
	fmt.Fprintf(w, `local stack is up:
  kubeconfig   %s
  apiserver    %s
  namespace    %s (node %s)
  s3 (minio)   http://%s bucket %s (access key %s)
  redis        %s
  logs         %s
  environment  source %s
`, s.Kubeconfig, s.APIServerURL, s.Namespace, s.NodeName, s.S3Endpoint, s.Bucket, s.S3AccessKey, s.RedisAddr, s.LogDir, s.EnvFile)
}

func newUpCmd(o *options) *cobra.Command {
	var timeout time.Duration
	c := &cobra.Command{
		Use:   "up",
		Short: "Start the stack in a background supervisor and wait until it is ready",
		Long: `up starts "localstack serve" as a detached background process (its output goes to
<state-dir>/logs/supervisor.log and is echoed here while starting), waits until the stack is
ready, prints where everything is and writes <state-dir>/env, a file to source for KUBECONFIG
and the KFPARGO_* variables. Ctrl-C while waiting tears everything down again.
Stop the stack with "localstack down".`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			cfg, err := o.config(os.Stdout)
			if err != nil {
				return err
			}
			return up(cmd.Context(), cfg, o, timeout)
		},
	}
	c.Flags().DurationVar(&timeout, "timeout", 20*time.Minute, "give up (and tear down) if the stack is not ready by then; includes a first build")
	return c
}

func up(ctx context.Context, cfg localstack.Config, o *options, timeout time.Duration) error {
	if pid, ok := supervisorRunning(cfg.StateDir); ok {
		return fmt.Errorf("a local stack is already running in %s (supervisor pid %d); run `localstack down` first", cfg.StateDir, pid)
	}
	if err := os.MkdirAll(filepath.Join(cfg.StateDir, "logs"), 0o755); err != nil {
		return err
	}
	_ = os.Remove(filepath.Join(cfg.StateDir, readyFile))
	logPath := filepath.Join(cfg.StateDir, supervisorLog)
	logf, err := os.OpenFile(logPath, os.O_CREATE|os.O_WRONLY|os.O_TRUNC, 0o644)
	if err != nil {
		return err
	}
	defer logf.Close()
	self, err := os.Executable()
	if err != nil {
		return err
	}
	args := []string{"serve", "--state-dir", cfg.StateDir, "--launcher-image", o.launcherImage}
	if o.cacheDir != "" {
		args = append(args, "--cache-dir", o.cacheDir)
	}
	if o.requireLauncher {
		args = append(args, "--require-launcher")
	}
	if o.verbose {
		args = append(args, "--verbose")
	}
	sup := exec.Command(self, args...)
	sup.Dir = cfg.RepoDir
	sup.Stdout, sup.Stderr = logf, logf
	// Its own session: closing this terminal must not stop the stack.
	sup.SysProcAttr = &syscall.SysProcAttr{Setsid: true}
	if err := sup.Start(); err != nil {
		return fmt.Errorf("start supervisor: %w", err)
	}
	exited := make(chan error, 1)
	go func() { exited <- sup.Wait() }()

	sig := make(chan os.Signal, 1)
	signal.Notify(sig, os.Interrupt, syscall.SIGTERM)
	defer signal.Stop(sig)
	deadline := time.After(timeout)
	follow := &follower{path: logPath}
	tick := time.NewTicker(200 * time.Millisecond)
	defer tick.Stop()
	abort := func(why string) error {
		fmt.Fprintf(os.Stderr, "%s; stopping the stack ...\n", why)
		_ = sup.Process.Signal(syscall.SIGTERM)
		select {
		case <-exited:
		case <-time.After(2 * time.Minute):
			_ = sup.Process.Kill()
			<-exited
		}
		follow.copy(os.Stdout)
		return errors.New(why)
	}
	for {
		select {
		case <-tick.C:
			follow.copy(os.Stdout)
			if data, err := os.ReadFile(filepath.Join(cfg.StateDir, readyFile)); err == nil &&
				strings.TrimSpace(string(data)) == strconv.Itoa(sup.Process.Pid) {
				follow.copy(os.Stdout)
				pid := sup.Process.Pid
				_ = sup.Process.Release()
				fmt.Printf("supervisor pid %d; stop with: localstack down --state-dir %s\n", pid, cfg.StateDir)
				return nil
			}
		case err := <-exited:
			follow.copy(os.Stdout)
			return fmt.Errorf("the stack failed to start (supervisor exited: %v); see %s", err, logPath)
		case <-sig:
			return abort("interrupted")
		case <-deadline:
			return abort(fmt.Sprintf("not ready after %s", timeout))
		case <-ctx.Done():
			return abort(ctx.Err().Error())
		}
	}
}

// follower prints what was appended to a file since the last call.
type follower struct {
	path   string
	offset int64
}

func (f *follower) copy(w io.Writer) {
	file, err := os.Open(f.path)
	if err != nil {
		return
	}
	defer file.Close()
	if _, err := file.Seek(f.offset, io.SeekStart); err != nil {
		return
	}
	n, _ := io.Copy(w, file)
	f.offset += n
}

// supervisorRunning reports a live supervisor recorded in stateDir.
func supervisorRunning(stateDir string) (int, bool) {
	data, err := os.ReadFile(filepath.Join(stateDir, supervisorPid))
	if err != nil {
		return 0, false
	}
	pid, err := strconv.Atoi(strings.TrimSpace(string(data)))
	if err != nil || pid <= 1 {
		return 0, false
	}
	// A recycled pid belongs to some other program: only ours count.
	cmdline, err := os.ReadFile(fmt.Sprintf("/proc/%d/cmdline", pid))
	if err != nil || !strings.Contains(string(cmdline), "serve\x00") {
		return 0, false
	}
	stat, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err == nil {
		if i := strings.LastIndexByte(string(stat), ')'); i > 0 && i+2 < len(stat) && stat[i+2] == 'Z' {
			return 0, false
		}
	}
	return pid, true
}

func newDownCmd(o *options) *cobra.Command {
	var timeout time.Duration
	c := &cobra.Command{
		Use:   "down",
		Short: "Stop the background stack and clean up; succeeds when nothing is running",
		Long: `down sends SIGTERM to the supervisor started by "localstack up", waits for it to stop
every process (SIGKILL after --timeout), then removes whatever a crashed stack may have left:
processes recorded in <state-dir>/pids, mounts, host mount points and staged image
directories. Logs and data stay in the state directory until the next up.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			cfg, err := o.config(os.Stderr)
			if err != nil {
				return err
			}
			if pid, ok := supervisorRunning(cfg.StateDir); ok {
				fmt.Printf("stopping the local stack (supervisor pid %d) ...\n", pid)
				if err := syscall.Kill(pid, syscall.SIGTERM); err != nil && !errors.Is(err, syscall.ESRCH) {
					return fmt.Errorf("signal supervisor: %w", err)
				}
				deadline := time.Now().Add(timeout)
				for {
					if _, ok := supervisorRunning(cfg.StateDir); !ok {
						break
					}
					if time.Now().After(deadline) {
						fmt.Printf("supervisor did not stop within %s; killing it\n", timeout)
						_ = syscall.Kill(pid, syscall.SIGKILL)
						time.Sleep(time.Second)
						break
					}
					time.Sleep(200 * time.Millisecond)
				}
			}
			if err := localstack.Cleanup(cmd.Context(), cfg); err != nil {
				return err
			}
			_ = os.Remove(filepath.Join(cfg.StateDir, supervisorPid))
			fmt.Println("local stack is down")
			return nil
		},
	}
	c.Flags().DurationVar(&timeout, "timeout", 2*time.Minute, "how long to wait for the supervisor to stop before killing it")
	return c
}
