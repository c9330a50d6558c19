package nodeagent

import (
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"os/signal"
	"path/filepath"
	"runtime"
	"strings"
	"syscall"

	"golang.org/x/sys/unix"
)

// InitCommand is the hidden sub-command the agent re-executes itself with
// to become a container's init process: `nodeagent container-init SPEC`.
// A program that embeds the agent (or a test binary that starts
// containers) must dispatch it to ContainerInit before anything else.
const InitCommand = "container-init"

// containerSpec is what the agent hands a container's init process, as a
// JSON file.
type containerSpec struct {
	// Pod (namespace/name) and Container only label messages.
	Pod       string `json:"pod"`
	Container string `json:"container"`
	Hostname  string `json:"hostname"`
	// Argv is the command after $(VAR) expansion; Argv[0] is looked up
	// on the PATH in Env unless it contains a slash.
	Argv []string `json:"argv"`
	// Env is the whole environment (never the agent's own).
	Env        []string `json:"env"`
	WorkingDir string   `json:"workingDir,omitempty"`
	// Mounts are bind-mounted in this order.
	Mounts []mount `json:"mounts"`
	// NetNS is the pod's network namespace to join ("" for the host's).
	NetNS string `json:"netns,omitempty"`
}

// initEvent is one JSON line the init process writes to its status pipe
// (file descriptor 3).
type initEvent struct {
	// HostPath is a mount point the init process had to create on the
	// host's file system (outside any mount of its own): the agent
	// removes it at shutdown.
	HostPath string `json:"hostPath,omitempty"`
	// Started is set once the command runs.
	Started bool `json:"started,omitempty"`
	// Error says why the command could not be started.
	Error string `json:"error,omitempty"`
}

// statusFD is the init process's end of the status pipe.
const statusFD = 3

// ContainerInit is the container-init sub-command. It runs as PID 1 of a
// new PID namespace, in a new mount and UTS namespace: it sets up the
// container's mounts, starts the command and returns its exit status
// (128+N when killed by signal N), forwarding signals to it and reaping
// orphans meanwhile. The caller must exit with the returned status right
// away: the kernel then kills whatever else still runs in the namespace,
// so nothing a container started outlives it.
func ContainerInit(args []string) int {
	status := os.NewFile(statusFD, "status")
	// The command must not inherit the pipe, or the agent would wait for
	// the command instead of the init process.
	unix.CloseOnExec(statusFD)
	enc := json.NewEncoder(status)
	report := func(ev initEvent) { _ = enc.Encode(ev) }
	fail := func(err error) int {
		fmt.Fprintf(os.Stderr, "nodeagent %s: %v\n", InitCommand, err)
		report(initEvent{Error: err.Error()})
		return 128
	}
	if len(args) != 1 {
		return fail(fmt.Errorf("usage: %s SPEC.json", InitCommand))
	}
	data, err := os.ReadFile(args[0])
	if err != nil {
		return fail(fmt.Errorf("read container spec: %w", err))
	}
	var spec containerSpec
	if err := json.Unmarshal(data, &spec); err != nil {
		return fail(fmt.Errorf("container spec %s: %w", args[0], err))
	}
	pid, err := startContainer(&spec, report)
	if err != nil {
		return fail(fmt.Errorf("container %s of pod %s: %w", spec.Container, spec.Pod, err))
	}
	report(initEvent{Started: true})
	status.Close()
	return reapUntil(pid)
}

// startContainer prepares the namespaces and starts the command.
func startContainer(spec *containerSpec, report func(initEvent)) (int, error) {
	if len(spec.Argv) == 0 {
		return 0, errors.New("no command")
	}
	if spec.NetNS != "" {
		// setns changes only this thread, which must then be the one
		// that forks the command.
		runtime.LockOSThread()
		fd, err := unix.Open(spec.NetNS, unix.O_RDONLY|unix.O_CLOEXEC, 0)
		if err != nil {
			return 0, fmt.Errorf("open network namespace: %w", err)
		}
		err = unix.Setns(fd, unix.CLONE_NEWNET)
		unix.Close(fd)
		if err != nil {
			return 0, fmt.Errorf("join network namespace %s: %w", spec.NetNS, err)
		}
	}
	// Nothing mounted here may show up on the host.
	if err := unix.Mount("", "/", "", unix.MS_REC|unix.MS_PRIVATE, ""); err != nil {
		return 0, fmt.Errorf("make / private: %w", err)
	}
	// Open every source first: once the private /tmp is mounted, a
	// source below the host's /tmp is out of sight.
	fds := make([]int, len(spec.Mounts))
	dirs := make([]bool, len(spec.Mounts))
	for i, m := range spec.Mounts {
		fd, err := unix.Open(m.Source, unix.O_PATH|unix.O_CLOEXEC, 0)
		if err != nil {
			return 0, fmt.Errorf("open mount source %s: %w", m.Source, err)
		}
		var st unix.Stat_t
		if err := unix.Fstat(fd, &st); err != nil {
			return 0, fmt.Errorf("stat mount source %s: %w", m.Source, err)
		}
		fds[i], dirs[i] = fd, st.Mode&unix.S_IFMT == unix.S_IFDIR
	}
	ns := &mountNamespace{report: report}
	// A /proc of the new PID namespace: ps and /proc/<pid> show the
	// container's processes. Not essential, so a failure is only logged.
	if err := unix.Mount("proc", "/proc", "proc", unix.MS_NOSUID|unix.MS_NODEV|unix.MS_NOEXEC, ""); err != nil {
		fmt.Fprintf(os.Stderr, "nodeagent %s: warning: mount /proc: %v\n", InitCommand, err)
	} else {
		ns.mounted = append(ns.mounted, "/proc")
	}
	if spec.Hostname != "" {
		if err := unix.Sethostname([]byte(spec.Hostname)); err != nil {
			return 0, fmt.Errorf("set host name: %w", err)
		}
	}
	resolved := make([]string, len(spec.Mounts))
	for i, m := range spec.Mounts {
		target, err := ns.ensure(m.Target, dirs[i])
		if err != nil {
			return 0, fmt.Errorf("mount point %s: %w", m.Target, err)
		}
		if err := unix.Mount(fmt.Sprintf("/proc/self/fd/%d", fds[i]), target, "", unix.MS_BIND|unix.MS_REC, ""); err != nil {
			return 0, fmt.Errorf("bind %s at %s: %w", m.Source, m.Target, err)
		}
		ns.mounted = append(ns.mounted, target)
		resolved[i] = target
		unix.Close(fds[i])
	}
	// Read-only last: a deeper mount point may have to be created inside
	// a read-only volume first.
	for i, m := range spec.Mounts {
		if !m.ReadOnly {
			continue
		}
		if err := unix.Mount("", resolved[i], "", unix.MS_BIND|unix.MS_REMOUNT|unix.MS_RDONLY, ""); err != nil {
			return 0, fmt.Errorf("make %s read-only: %w", m.Target, err)
		}
	}
	wd := spec.WorkingDir
	if wd == "" {
		wd = "/"
	}
	if _, err := ns.ensure(wd, true); err != nil {
		return 0, fmt.Errorf("working directory %s: %w", wd, err)
	}
	if err := os.Chdir(wd); err != nil {
		return 0, fmt.Errorf("working directory: %w", err)
	}
	path, err := lookPath(spec.Argv[0], envValue(spec.Env, "PATH"))
	if err != nil {
		return 0, err
	}
	// Register before the command exists so that no signal is lost.
	sigs := make(chan os.Signal, 8)
	signal.Notify(sigs, forwardedSignals()...)
	devnull, err := os.Open(os.DevNull)
	if err != nil {
		return 0, err
	}
	pid, err := syscall.ForkExec(path, spec.Argv, &syscall.ProcAttr{
		Dir:   wd,
		Env:   spec.Env,
		Files: []uintptr{devnull.Fd(), os.Stdout.Fd(), os.Stderr.Fd()},
	})
	devnull.Close()
	if err != nil {
		return 0, fmt.Errorf("exec %s: %w", path, err)
	}
	go func() {
		for s := range sigs {
			_ = syscall.Kill(pid, s.(syscall.Signal))
		}
	}()
	return pid, nil
}

func forwardedSignals() []os.Signal {
	return []os.Signal{unix.SIGTERM, unix.SIGINT, unix.SIGHUP, unix.SIGQUIT, unix.SIGUSR1, unix.SIGUSR2}
}

// reapUntil reaps every child (orphans are re-parented to PID 1) until
// pid exits, and returns its exit status.
func reapUntil(pid int) int {
	for {
		var ws unix.WaitStatus
		got, err := unix.Wait4(-1, &ws, 0, nil)
		if errors.Is(err, unix.EINTR) {
			continue
		}
		if err != nil {
			fmt.Fprintf(os.Stderr, "nodeagent %s: wait: %v\n", InitCommand, err)
			return 128
		}
		if got != pid {
			continue
		}
		if ws.Signaled() {
			return 128 + int(ws.Signal())
		}
		return ws.ExitStatus()
	}
}

// mountNamespace creates mount points and tells the agent which of them
// are on the host's file system rather than inside a mount of its own.
type mountNamespace struct {
	// mounted are the resolved targets mounted so far.
	mounted []string
	report  func(initEvent)
}

// ensure creates target (a directory, or an empty file when dir is false)
// and any missing parents, and returns it with symbolic links resolved.
func (ns *mountNamespace) ensure(target string, dir bool) (string, error) {
	parts := strings.Split(strings.Trim(filepath.Clean(target), "/"), "/")
	p := "/"
	for i, part := range parts {
		p = filepath.Join(p, part)
		if _, err := os.Stat(p); err == nil {
			continue
		} else if !errors.Is(err, os.ErrNotExist) {
			return "", err
		}
		var err error
		if i == len(parts)-1 && !dir {
			var f *os.File
			f, err = os.OpenFile(p, os.O_CREATE|os.O_EXCL|os.O_WRONLY, 0o644)
			if err == nil {
				err = f.Close()
			}
		} else {
			err = os.Mkdir(p, 0o755)
		}
		if errors.Is(err, os.ErrExist) {
			// Another container created it at the same moment.
			continue
		}
		if err != nil {
			return "", err
		}
		ns.created(p)
	}
	return filepath.EvalSymlinks(target)
}

// created reports p if it was made on the host's file system.
func (ns *mountNamespace) created(p string) {
	parent, err := filepath.EvalSymlinks(filepath.Dir(p))
	if err != nil {
		parent = filepath.Dir(p)
	}
	for _, m := range ns.mounted {
		if isUnder(parent, m) {
			return
		}
	}
	ns.report(initEvent{HostPath: filepath.Join(parent, filepath.Base(p))})
}

// lookPath finds a command on the container's PATH.
func lookPath(name, path string) (string, error) {
	if strings.Contains(name, "/") {
		if err := isExecutable(name); err != nil {
			return "", fmt.Errorf("command %s: %w", name, err)
		}
		return name, nil
	}
	for _, dir := range filepath.SplitList(path) {
		if dir == "" {
			dir = "."
		}
		p := filepath.Join(dir, name)
		if isExecutable(p) == nil {
			return p, nil
		}
	}
	return "", fmt.Errorf("command %q not found in PATH %s", name, path)
}

func isExecutable(p string) error {
	fi, err := os.Stat(p)
	if err != nil {
		return err
	}
	if fi.IsDir() || fi.Mode()&0o111 == 0 {
		return fmt.Errorf("%s is not an executable file", p)
	}
	return nil
}

func envValue(env []string, name string) string {
	for i := len(env) - 1; i >= 0; i-- {
		if v, ok := strings.CutPrefix(env[i], name+"="); ok {
			return v
		}
	}
	return ""
}
