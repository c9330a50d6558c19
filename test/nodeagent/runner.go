package nodeagent

import (
	"bufio"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"syscall"
	"time"
)

// runner starts containers by re-executing a binary that dispatches
// InitCommand to ContainerInit (the agent itself, or a test binary).
// serve must run while containers are started.
type runner struct {
	// exe is the binary; "/proc/self/exe" normally.
	exe    string
	starts chan startRequest
}

type startRequest struct {
	cmd  *exec.Cmd
	done chan error
}

func newRunner(exe string) *runner {
	return &runner{exe: exe, starts: make(chan startRequest)}
}

// serve starts the processes start hands it, all from one OS thread,
// until stop is closed. Containers get SIGKILL when their parent dies,
// but the kernel ties that to the thread that forked them, not the
// process, and Go may end a thread at any time; this one lives until
// serve returns (and is then only released, not ended).
func (r *runner) serve(stop <-chan struct{}) {
	runtime.LockOSThread()
	defer runtime.UnlockOSThread()
	for {
		select {
		case <-stop:
			return
		case req := <-r.starts:
			req.done <- req.cmd.Start()
		}
	}
}

// containerResult is how a container ended.
type containerResult struct {
	// ExitCode is the command's exit status, 128+N when killed by signal
	// N, 128 when it could not be started.
	ExitCode int32
	// StartError is set when the command never ran.
	StartError string
	StartedAt  time.Time
	FinishedAt time.Time
}

// containerProcess is a started container's init process.
type containerProcess struct {
	cmd *exec.Cmd
	// started is closed once the command runs (startedAt is set then) or
	// could not be started (startedAt stays zero).
	started   chan struct{}
	startedAt time.Time
	// done is closed after result is set.
	done   chan struct{}
	result containerResult
}

// start writes spec to specPath and starts the container, its output
// appended to logPath. onHostPath receives every mount point the
// container had to create on the host.
func (r *runner) start(spec *containerSpec, specPath, logPath string, onHostPath func(string)) (*containerProcess, error) {
	data, err := json.Marshal(spec)
	if err != nil {
		return nil, fmt.Errorf("container spec: %w", err)
	}
	// The environment may hold secrets.
	if err := os.WriteFile(specPath, data, 0o600); err != nil {
		return nil, fmt.Errorf("container spec: %w", err)
	}
	if err := os.MkdirAll(filepath.Dir(logPath), 0o755); err != nil {
		return nil, fmt.Errorf("container log: %w", err)
	}
	logf, err := os.OpenFile(logPath, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o644)
	if err != nil {
		return nil, fmt.Errorf("container log: %w", err)
	}
	defer logf.Close()
	pr, pw, err := os.Pipe()
	if err != nil {
		return nil, fmt.Errorf("status pipe: %w", err)
	}
	cmd := &exec.Cmd{
		Path: r.exe,
		Args: []string{r.exe, InitCommand, specPath},
		// Not nil: nil would mean the agent's own environment.
		Env:        []string{},
		Dir:        "/",
		Stdout:     logf,
		Stderr:     logf,
		ExtraFiles: []*os.File{pw}, // becomes statusFD
		SysProcAttr: &syscall.SysProcAttr{
			Cloneflags: syscall.CLONE_NEWNS | syscall.CLONE_NEWPID | syscall.CLONE_NEWUTS,
			// Its own process group: a signal to the agent's group (a
			// supervisor stopping it) must not reach containers, which
			// the agent stops in order.
			Setpgid: true,
			// Containers never outlive a crashed agent.
			Pdeathsig: syscall.SIGKILL,
		},
	}
	req := startRequest{cmd: cmd, done: make(chan error, 1)}
	r.starts <- req
	err = <-req.done
	pw.Close()
	if err != nil {
		pr.Close()
		return nil, fmt.Errorf("start container init: %w", err)
	}
	p := &containerProcess{cmd: cmd, started: make(chan struct{}), done: make(chan struct{})}
	events := make(chan initEvent)
	go readEvents(pr, events)
	go p.supervise(events, onHostPath)
	return p, nil
}

// readEvents decodes the init process's status pipe until it closes.
func readEvents(pr *os.File, out chan<- initEvent) {
	defer close(out)
	defer pr.Close()
	sc := bufio.NewScanner(pr)
	sc.Buffer(make([]byte, 64<<10), 1<<20)
	for sc.Scan() {
		var ev initEvent
		if err := json.Unmarshal(sc.Bytes(), &ev); err != nil {
			ev = initEvent{Error: fmt.Sprintf("bad status line from container init: %q", sc.Text())}
		}
		out <- ev
	}
}

func (p *containerProcess) supervise(events <-chan initEvent, onHostPath func(string)) {
	var startErr string
	var startedAt time.Time
	for ev := range events {
		switch {
		case ev.HostPath != "":
			onHostPath(ev.HostPath)
		case ev.Error != "":
			startErr = ev.Error
		case ev.Started && startedAt.IsZero():
			startedAt = time.Now()
			p.startedAt = startedAt
			close(p.started)
		}
	}
	// The pipe closes once the command runs or the init process exits.
	err := p.cmd.Wait()
	res := containerResult{StartedAt: startedAt, FinishedAt: time.Now(), ExitCode: exitCode(p.cmd.ProcessState, err)}
	switch {
	case startErr != "":
		res.StartError, res.ExitCode = startErr, 128
	case startedAt.IsZero():
		res.StartError = fmt.Sprintf("container init exited before starting the command (%v)", p.cmd.ProcessState)
		res.ExitCode = 128
	}
	if startedAt.IsZero() {
		res.StartedAt = res.FinishedAt
		close(p.started)
	}
	p.result = res
	close(p.done)
}

func exitCode(ps *os.ProcessState, err error) int32 {
	if ps == nil {
		return 128
	}
	if ws, ok := ps.Sys().(syscall.WaitStatus); ok && ws.Signaled() {
		return 128 + int32(ws.Signal())
	}
	var ee *exec.ExitError
	if err != nil && !errors.As(err, &ee) {
		return 128
	}
	return int32(ps.ExitCode())
}

// stop sends SIGTERM (forwarded to the command by the init process) and
// SIGKILL after grace, which ends the whole PID namespace; it returns
// when the container has ended.
func (p *containerProcess) stop(grace time.Duration) {
	select {
	case <-p.done:
		return
	default:
	}
	_ = p.cmd.Process.Signal(syscall.SIGTERM)
	t := time.NewTimer(grace)
	defer t.Stop()
	select {
	case <-p.done:
	case <-t.C:
		_ = p.cmd.Process.Signal(syscall.SIGKILL)
		<-p.done
	}
}
