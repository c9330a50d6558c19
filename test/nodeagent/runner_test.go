package nodeagent

import (
	"bytes"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"reflect"
	"strconv"
	"strings"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
)

// TestRunnerIsolation runs a real container (no apiserver needed): a
// volume write reaches the host, a /tmp write does not, and a background
// process dies with the container's main process.
func TestRunnerIsolation(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Skip("SKIPPED: the container runner needs root (mount and PID namespaces); run as root to test it")
	}
	// The state lives under the host's /tmp on purpose: the container's
	// private /tmp hides it, so the volume must be opened before that.
	state := t.TempDir()
	volDir := filepath.Join(state, "volumes", "vol")
	scratchDir := filepath.Join(state, "scratch", "tmp")
	termLog := filepath.Join(state, "termination-log")
	for _, d := range []string{volDir, scratchDir} {
		if err := os.MkdirAll(d, 0o755); err != nil {
			t.Fatal(err)
		}
	}
	if err := os.WriteFile(termLog, nil, 0o644); err != nil {
		t.Fatal(err)
	}
	// Unique names, so that the host checks cannot be fooled by strays.
	tag := strconv.FormatInt(time.Now().UnixNano(), 36)
	tmpFile := "/tmp/nodeagent-runner-test-" + tag
	sleepArg := strconv.Itoa(3000 + int(time.Now().UnixNano()%1000))
	script := fmt.Sprintf("echo hi > %s; echo data > /mnt/vol/f; echo bye > /dev/termination-log; sleep %s & exit 3", tmpFile, sleepArg)

	c := &corev1.Container{
		Name:         "main",
		Command:      []string{"sh", "-c", script},
		VolumeMounts: []corev1.VolumeMount{{Name: "vol", MountPath: "/mnt/vol"}},
	}
	mounts, err := planMounts(mountInputs{
		container:      c,
		volumes:        map[string]string{"vol": volDir},
		scratch:        [][2]string{{"/tmp", scratchDir}},
		terminationLog: termLog,
	})
	if err != nil {
		t.Fatal(err)
	}
	exe, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	r := newRunner(exe)
	stop := make(chan struct{})
	defer close(stop)
	go r.serve(stop)
	spec := &containerSpec{Pod: "test/pod", Container: c.Name, Hostname: "pod", Argv: c.Command,
		Env: []string{"PATH=" + DefaultPath}, Mounts: mounts}
	created, err := loadHostPaths(filepath.Join(state, "host-paths.json"))
	if err != nil {
		t.Fatal(err)
	}
	defer func() {
		if err := created.removeAll(); err != nil {
			t.Errorf("remove host mount points: %v", err)
		}
	}()
	logPath := filepath.Join(state, "main.log")
	p, err := r.start(spec, filepath.Join(state, "spec.json"), logPath, func(p string) { _ = created.add(p) })
	if err != nil {
		t.Fatal(err)
	}
	select {
	case <-p.done:
	case <-time.After(20 * time.Second):
		p.stop(time.Second)
		t.Fatal("container did not end within 20s (did the background sleep keep it alive?)")
	}
	res := p.result
	logData, _ := os.ReadFile(logPath)
	if res.StartError != "" || res.ExitCode != 3 {
		t.Fatalf("result %+v, want exit code 3; log:\n%s", res, logData)
	}
	if got, err := os.ReadFile(filepath.Join(volDir, "f")); err != nil || string(got) != "data\n" {
		t.Errorf("volume file on the host: %q, %v; want \"data\\n\"", got, err)
	}
	if got, err := os.ReadFile(filepath.Join(scratchDir, filepath.Base(tmpFile))); err != nil || string(got) != "hi\n" {
		t.Errorf("/tmp file in the container's scratch dir: %q, %v; want \"hi\\n\"", got, err)
	}
	if _, err := os.Stat(tmpFile); !errors.Is(err, os.ErrNotExist) {
		os.Remove(tmpFile)
		t.Errorf("%s landed in the host's /tmp (stat: %v)", tmpFile, err)
	}
	if got, _ := os.ReadFile(termLog); string(got) != "bye\n" {
		t.Errorf("termination log %q, want \"bye\\n\"", got)
	}
	if pids := processesWithArgs("sleep", sleepArg); len(pids) > 0 {
		t.Errorf("background 'sleep %s' still alive after the container ended: pids %v", sleepArg, pids)
	}
	for _, hp := range created.list() {
		if strings.HasPrefix(hp, "/tmp/") {
			t.Errorf("host path %s reported although /tmp is a scratch mount", hp)
		}
	}
}

// processesWithArgs lists live processes whose command line is exactly args.
func processesWithArgs(args ...string) []int {
	want := []byte(strings.Join(args, "\x00") + "\x00")
	entries, _ := os.ReadDir("/proc")
	var pids []int
	for _, e := range entries {
		pid, err := strconv.Atoi(e.Name())
		if err != nil {
			continue
		}
		cmdline, err := os.ReadFile(fmt.Sprintf("/proc/%d/cmdline", pid))
		if err == nil && bytes.Equal(cmdline, want) {
			pids = append(pids, pid)
		}
	}
	return pids
}

// TestHostPathsKeptWhileInUse checks that the mount points a container
// created on the host are not removed while a container still mounts
// something there, and are once it has ended.
func TestHostPathsKeptWhileInUse(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Skip("SKIPPED: the container runner needs root (mount and PID namespaces); run as root to test it")
	}
	state := t.TempDir()
	vol := filepath.Join(state, "vol")
	if err := os.MkdirAll(vol, 0o755); err != nil {
		t.Fatal(err)
	}
	top := "/run/nodeagent-test-" + strconv.FormatInt(time.Now().UnixNano(), 36)
	target := filepath.Join(top, "mnt")
	defer os.RemoveAll(top)
	created, err := loadHostPaths(filepath.Join(state, "host-paths.json"))
	if err != nil {
		t.Fatal(err)
	}
	exe, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	r := newRunner(exe)
	stop := make(chan struct{})
	defer close(stop)
	go r.serve(stop)
	spec := &containerSpec{Pod: "test/pod", Container: "main", Argv: []string{"sleep", "30"},
		Env: []string{"PATH=" + DefaultPath}, Mounts: []mount{{Source: vol, Target: target}}}
	p, err := r.start(spec, filepath.Join(state, "spec.json"), filepath.Join(state, "main.log"), func(p string) { _ = created.add(p) })
	if err != nil {
		t.Fatal(err)
	}
	defer p.stop(0)
	<-p.started
	if got, want := created.list(), []string{top, target}; !reflect.DeepEqual(got, want) {
		t.Errorf("recorded host paths %v, want %v", got, want)
	}
	if err := created.removeAll(); err == nil {
		t.Error("removeAll while the container runs: no error, want one about the mount point in use")
	}
	if _, err := os.Stat(target); err != nil {
		t.Fatalf("%s removed while a container mounts a volume there: %v", target, err)
	}
	p.stop(time.Second)
	if err := created.removeAll(); err != nil {
		t.Errorf("removeAll after the container ended: %v", err)
	}
	if _, err := os.Stat(top); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("%s still there after removeAll (%v)", top, err)
	}
	if _, err := os.Stat(filepath.Join(state, "host-paths.json")); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("host path record still there after everything was removed (%v)", err)
	}
}
