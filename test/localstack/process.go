package localstack

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync/atomic"
	"syscall"
	"time"

	"go.uber.org/zap"
)

// childSpec describes one long-running process of the stack.
type childSpec struct {
	name string
	path string
	args []string
	// env is the whole environment: children never inherit ours (a
	// KUBECONFIG or ETCD_* variable would change their behaviour).
	env   []string
	dir   string
	grace time.Duration
}

// child is a started process in its own process group, logging to
// <state>/logs/<name>.log.
type child struct {
	spec     childSpec
	cmd      *exec.Cmd
	logPath  string
	pidPath  string
	done     chan struct{}
	waitErr  error
	stopping atomic.Bool
}

// baseEnv is the environment every child starts from.
func baseEnv(stateDir string) []string {
	return []string{
		"PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin",
		"HOME=" + filepath.Join(stateDir, "home"),
		"LANG=C.UTF-8",
	}
}

// startChild starts spec and reports an unexpected exit on exited.
func startChild(log *zap.Logger, stateDir string, spec childSpec, exited chan<- error) (*child, error) {
	logPath := filepath.Join(stateDir, "logs", spec.name+".log")
	logf, err := os.OpenFile(logPath, os.O_CREATE|os.O_WRONLY|os.O_TRUNC, 0o644)
	if err != nil {
		return nil, fmt.Errorf("start %s: %w", spec.name, err)
	}
	defer logf.Close()
	cmd := exec.Command(spec.path, spec.args...)
	cmd.Env = spec.env
	cmd.Dir = spec.dir
	cmd.Stdout = logf
	cmd.Stderr = logf
	cmd.SysProcAttr = &syscall.SysProcAttr{
		Setpgid: true,
		// If the process running the stack dies without Down, children
		// are told to stop instead of living on unsupervised.
		Pdeathsig: syscall.SIGTERM,
	}
	fmt.Fprintf(logf, "### %s %s\n", spec.path, strings.Join(spec.args, " "))
	if err := cmd.Start(); err != nil {
		return nil, fmt.Errorf("start %s: %w", spec.name, err)
	}
	c := &child{
		spec:    spec,
		cmd:     cmd,
		logPath: logPath,
		pidPath: filepath.Join(stateDir, "pids", spec.name+".pid"),
		done:    make(chan struct{}),
	}
	// The pid file lets a later run stop this process if we crash.
	if err := os.WriteFile(c.pidPath, []byte(fmt.Sprintf("%d\n%s\n", cmd.Process.Pid, spec.path)), 0o644); err != nil {
		_ = syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL)
		return nil, fmt.Errorf("start %s: pid file: %w", spec.name, err)
	}
	log.Info("started", zap.String("process", spec.name), zap.Int("pid", cmd.Process.Pid), zap.String("log", logPath))
	go func() {
		c.waitErr = cmd.Wait()
		close(c.done)
		if !c.stopping.Load() {
			err := fmt.Errorf("%s exited unexpectedly (%v); last lines of %s:\n%s", spec.name, c.waitErr, logPath, c.tail())
			log.Error("process exited", zap.String("process", spec.name), zap.Error(c.waitErr))
			select {
			case exited <- err:
			default:
			}
		}
	}()
	return c, nil
}

func (c *child) exited() bool {
	select {
	case <-c.done:
		return true
	default:
		return false
	}
}

func (c *child) tail() string {
	return fileTail(c.logPath, 25)
}

// stop sends SIGTERM to the child's process group, then SIGKILL after the
// grace period, and finally SIGKILL to whatever is left in the group.
func (c *child) stop(log *zap.Logger) {
	c.stopping.Store(true)
	pgid := c.cmd.Process.Pid
	if !c.exited() {
		_ = syscall.Kill(-pgid, syscall.SIGTERM)
		select {
		case <-c.done:
		case <-time.After(c.spec.grace):
			log.Warn("did not stop in time; killing", zap.String("process", c.spec.name), zap.Duration("grace", c.spec.grace))
			_ = syscall.Kill(-pgid, syscall.SIGKILL)
			<-c.done
		}
	}
	_ = syscall.Kill(-pgid, syscall.SIGKILL)
	_ = os.Remove(c.pidPath)
	log.Info("stopped", zap.String("process", c.spec.name), zap.NamedError("exit", c.waitErr))
}

// kill ends the child at once with SIGKILL to its process group, as a
// crash or an OOM kill would.
func (c *child) kill(log *zap.Logger) {
	c.stopping.Store(true)
	_ = syscall.Kill(-c.cmd.Process.Pid, syscall.SIGKILL)
	<-c.done
	_ = os.Remove(c.pidPath)
	log.Info("killed", zap.String("process", c.spec.name), zap.NamedError("exit", c.waitErr))
}

// waitReady polls probe until it succeeds, the child exits, or timeout.
func waitReady(parent context.Context, c *child, timeout time.Duration, probe func(context.Context) error) error {
	ctx, cancel := context.WithTimeout(parent, timeout)
	defer cancel()
	tick := time.NewTicker(150 * time.Millisecond)
	defer tick.Stop()
	var last error
	for {
		if c.exited() {
			return fmt.Errorf("%s exited during start-up (%v); last lines of %s:\n%s", c.spec.name, c.waitErr, c.logPath, c.tail())
		}
		pctx, pcancel := context.WithTimeout(ctx, 5*time.Second)
		last = probe(pctx)
		pcancel()
		if last == nil {
			return nil
		}
		select {
		case <-ctx.Done():
			if err := parent.Err(); err != nil {
				return fmt.Errorf("waiting for %s: %w", c.spec.name, err)
			}
			return fmt.Errorf("%s not ready after %s (last check: %v); last lines of %s:\n%s", c.spec.name, timeout, last, c.logPath, c.tail())
		case <-c.done:
		case <-tick.C:
		}
	}
}

// killRecorded stops a process a previous run recorded in pidPath, if it
// still runs the recorded executable (pids are reused).
func killRecorded(log *zap.Logger, pidPath string, grace time.Duration) error {
	data, err := os.ReadFile(pidPath)
	if err != nil {
		if errors.Is(err, os.ErrNotExist) {
			return nil
		}
		return fmt.Errorf("read %s: %w", pidPath, err)
	}
	fields := strings.SplitN(strings.TrimSpace(string(data)), "\n", 2)
	pid, err := strconv.Atoi(fields[0])
	if err != nil || pid <= 1 || len(fields) != 2 {
		return os.Remove(pidPath)
	}
	if exe, err := os.Readlink(fmt.Sprintf("/proc/%d/exe", pid)); err == nil &&
		strings.TrimSuffix(exe, " (deleted)") == fields[1] {
		log.Info("stopping process left by a previous run", zap.Int("pid", pid), zap.String("exe", exe))
		_ = syscall.Kill(-pid, syscall.SIGTERM)
		_ = syscall.Kill(pid, syscall.SIGTERM)
		deadline := time.Now().Add(grace)
		for processAlive(pid) && time.Now().Before(deadline) {
			time.Sleep(100 * time.Millisecond)
		}
		_ = syscall.Kill(-pid, syscall.SIGKILL)
		_ = syscall.Kill(pid, syscall.SIGKILL)
	}
	if err := os.Remove(pidPath); err != nil && !errors.Is(err, os.ErrNotExist) {
		return err
	}
	return nil
}

// processAlive reports whether pid exists and is not a zombie.
func processAlive(pid int) bool {
	data, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return false
	}
	// The state follows the parenthesised command name.
	s := string(data)
	i := strings.LastIndexByte(s, ')')
	return i < 0 || i+2 >= len(s) || s[i+2] != 'Z'
}

// fileTail returns the last n lines of a file, reading at most 64 KiB.
func fileTail(path string, n int) string {
	f, err := os.Open(path)
	if err != nil {
		return fmt.Sprintf("(cannot read %s: %v)", path, err)
	}
	defer f.Close()
	const max = 64 << 10
	if fi, err := f.Stat(); err == nil && fi.Size() > max {
		_, _ = f.Seek(-max, io.SeekEnd)
	}
	data, _ := io.ReadAll(f)
	return tailLines(string(data), n)
}

func tailLines(s string, n int) string {
	lines := strings.Split(strings.TrimRight(s, "\n"), "\n")
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	return "    " + strings.Join(lines, "\n    ")
}
