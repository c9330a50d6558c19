package main

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/minio/minio-go/v7"

	"github.com/kfpargo/kfpargo/cachestore"
	"github.com/kfpargo/kfpargo/step"
	"github.com/kfpargo/kfpargo/test/servers"
)

// Fault tests run the launcher as a process, as in a pod, against a real
// MinIO and Redis, and break things while it uploads an output.

const (
	faultBucket = "mlpipeline"
	// faultKey is the final name of the big step's output: the pipeline
	// root, namespace, run, task and output name.
	faultKey = "v2/artifacts/ns/run-1/big/model"
	// faultSize is large enough to go up as a multipart upload (minio-go
	// splits at 16 MiB), so an interrupted upload leaves parts behind.
	faultSize = 48 << 20
)

type faultEnv struct {
	minio   *servers.Minio
	redis   *servers.Redis
	cache   *cachestore.Store
	counter string // the user command appends a line per run
}

func newFaultEnv(t *testing.T) *faultEnv {
	t.Helper()
	return &faultEnv{
		minio:   servers.StartMinio(t, faultBucket),
		redis:   servers.StartRedis(t),
		counter: filepath.Join(t.TempDir(), "runs"),
	}
}

// lockedBuffer collects a process's stderr while the test reads it.
type lockedBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (l *lockedBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func (l *lockedBuffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}

// pod is one launcher process running the big step, as pod podName, with
// its own filesystem under root.
type pod struct {
	cmd    *exec.Cmd
	root   string
	stderr *lockedBuffer
	done   chan struct{}
	err    error
}

// start runs the big step's launcher, reaching the object store at s3.
func (e *faultEnv) start(t *testing.T, podName, s3 string) *pod {
	t.Helper()
	p := &pod{root: t.TempDir(), stderr: &lockedBuffer{}, done: make(chan struct{})}
	p.cmd = launcherCmd("run", "--cache", "--image=busybox:1.36",
		"--pipeline-name", "p", "--run-name", "run-1", "--namespace", "ns",
		"--pipeline-root", "minio://"+faultBucket+"/v2/artifacts",
		"--pod-name", podName, "--task", "big",
		"--output-artifact", "model:system.Model",
		"--", "sh", "-c", `echo run >> "$0" && head -c "$1" /dev/urandom > "$2"`,
		e.counter, fmt.Sprint(faultSize), "{{$.outputs.artifacts['model'].path}}")
	p.cmd.Env = append(p.cmd.Env,
		"KFPARGO_TEST_LAYOUT_ROOT="+p.root,
		step.EnvS3Endpoint+"="+s3,
		step.EnvS3AccessKey+"="+e.minio.AccessKey,
		step.EnvS3SecretKey+"="+e.minio.SecretKey,
		step.EnvS3Insecure+"=true",
		step.EnvRedisAddr+"="+e.redis.Addr,
	)
	p.cmd.Stdout, p.cmd.Stderr = p.stderr, p.stderr
	if err := p.cmd.Start(); err != nil {
		t.Fatal(err)
	}
	go func() {
		p.err = p.cmd.Wait()
		close(p.done)
	}()
	t.Cleanup(func() {
		_ = p.cmd.Process.Kill()
		<-p.done
	})
	return p
}

// wait waits for the launcher to exit and returns its exit code.
func (p *pod) wait(t *testing.T, timeout time.Duration) int {
	t.Helper()
	select {
	case <-p.done:
	case <-time.After(timeout):
		t.Fatalf("the launcher did not finish in %s; its log:\n%s", timeout, p.stderr)
	}
	var exit *exec.ExitError
	if errors.As(p.err, &exit) {
		if ws, ok := exit.Sys().(syscall.WaitStatus); ok && ws.Signaled() {
			return 128 + int(ws.Signal())
		}
		return exit.ExitCode()
	}
	if p.err != nil {
		t.Fatal(p.err)
	}
	return 0
}

// whenSent waits until the proxy has passed n bytes to the server while
// the launcher still runs.
func whenSent(t *testing.T, px *servers.Proxy, p *pod, n int64) {
	t.Helper()
	deadline := time.Now().Add(time.Minute)
	for px.Sent() < n {
		select {
		case <-p.done:
			t.Fatalf("the launcher exited (%v) before uploading %d bytes; its log:\n%s", p.err, n, p.stderr)
		default:
		}
		if time.Now().After(deadline) {
			t.Fatalf("only %d bytes reached the server in a minute; the launcher's log:\n%s", px.Sent(), p.stderr)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// output is the digest of the file the step wrote in pod p.
func (p *pod) output(t *testing.T) string {
	t.Helper()
	f, err := os.Open(filepath.Join(p.root, "fs", "minio", faultBucket, faultKey))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	h := sha256.New()
	if _, err := io.Copy(h, f); err != nil {
		t.Fatal(err)
	}
	return hex.EncodeToString(h.Sum(nil))
}

func (e *faultEnv) runs(t *testing.T) int {
	t.Helper()
	b, err := os.ReadFile(e.counter)
	if err != nil && !os.IsNotExist(err) {
		t.Fatal(err)
	}
	return strings.Count(string(b), "run")
}

// entries are the cache entries in the step's namespace.
func (e *faultEnv) entries(t *testing.T) []*cachestore.Entry {
	t.Helper()
	var out []*cachestore.Entry
	for en, err := range cachestore.New(e.redis.Client, cachestore.Options{}).Entries(context.Background(), cachestore.NamespaceScope("ns")) {
		if err != nil {
			t.Fatal(err)
		}
		out = append(out, en)
	}
	return out
}

// checkObject asserts that the final name holds exactly the bytes with
// digest want: the size, the digest in the metadata and the content.
func (e *faultEnv) checkObject(t *testing.T, want string) {
	t.Helper()
	ctx := context.Background()
	obj, err := e.minio.Client.GetObject(ctx, faultBucket, faultKey, minio.GetObjectOptions{})
	if err != nil {
		t.Fatal(err)
	}
	defer obj.Close()
	st, err := obj.Stat()
	if err != nil {
		t.Fatalf("stat s3://%s/%s: %v", faultBucket, faultKey, err)
	}
	h := sha256.New()
	n, err := io.Copy(h, obj)
	if err != nil {
		t.Fatal(err)
	}
	if got := hex.EncodeToString(h.Sum(nil)); st.Size != faultSize || n != faultSize || got != want || st.UserMetadata["Kfpargo-Sha256"] != want {
		t.Errorf("object: size %d, read %d bytes with sha256 %s, metadata %v; want %d bytes with sha256 %s", st.Size, n, got, st.UserMetadata, faultSize, want)
	}
}

// checkEntry asserts that there is one entry, written by pod, recording
// the output with digest want.
func (e *faultEnv) checkEntry(t *testing.T, podName, want string) {
	t.Helper()
	es := e.entries(t)
	if len(es) != 1 {
		t.Fatalf("%d cache entries, want 1", len(es))
	}
	d := es[0].Artifacts["model"]
	if es[0].Source.Pod != podName || d.SHA256 != want || d.Size != faultSize || d.URI != "minio://"+faultBucket+"/"+faultKey {
		t.Errorf("entry from pod %s records %+v; want pod %s, sha256 %s", es[0].Source.Pod, d, podName, want)
	}
}

// TestKilledDuringUpload: the launcher is killed (SIGKILL, as when a node
// dies or the pod is OOM-killed) while it uploads its output. Nothing a
// cache hit could use is left: no entry, and no object under the output's
// final name (only the parts of an unfinished multipart upload). The
// retried step (another pod of the same task) waits for the dead pod's
// lease to expire, runs, and writes both; a third is served from the
// cache.
func TestKilledDuringUpload(t *testing.T) {
	e := newFaultEnv(t)
	ctx := context.Background()
	// 4 MiB/s per connection: the upload takes seconds, not milliseconds.
	px := servers.StartProxy(t, e.minio.Endpoint, 4<<20)
	first := e.start(t, "run-1-big-1", px.Addr)
	whenSent(t, px, first, 8<<20)
	if err := first.cmd.Process.Signal(syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	if code := first.wait(t, 10*time.Second); code != 128+int(syscall.SIGKILL) {
		t.Fatalf("killed launcher exited %d", code)
	}
	t.Logf("killed the launcher after %d MiB had reached MinIO", px.Sent()>>20)

	_, err := e.minio.Client.StatObject(ctx, faultBucket, faultKey, minio.StatObjectOptions{})
	if code := minio.ToErrorResponse(err).Code; code != "NoSuchKey" {
		t.Errorf("after the kill, stat of the final name: %v (code %q), want NoSuchKey", err, code)
	}
	incomplete := 0
	for u := range e.minio.Client.ListIncompleteUploads(ctx, faultBucket, faultKey, false) {
		if u.Err != nil {
			t.Fatal(u.Err)
		}
		incomplete++
	}
	if incomplete == 0 {
		t.Error("no unfinished multipart upload: the launcher was not killed during its upload")
	}
	if es := e.entries(t); len(es) != 0 {
		t.Errorf("the killed step left %d cache entries: %+v", len(es), es[0])
	}

	start := time.Now()
	retry := e.start(t, "run-1-big-2", e.minio.Endpoint)
	if code := retry.wait(t, 2*time.Minute); code != 0 {
		t.Fatalf("retried step exited %d; its log:\n%s", code, retry.stderr)
	}
	t.Logf("the retried step succeeded after %s (it waited for the killed pod's lease)", time.Since(start).Round(100*time.Millisecond))
	if n := e.runs(t); n != 2 {
		t.Errorf("the command ran %d times, want 2 (the killed step and its retry)", n)
	}
	want := retry.output(t)
	e.checkObject(t, want)
	e.checkEntry(t, "run-1-big-2", want)

	third := e.start(t, "run-1-big-3", e.minio.Endpoint)
	if code := third.wait(t, time.Minute); code != 0 || e.runs(t) != 2 {
		t.Errorf("third step: exit %d, the command ran %d times; want 0 and a replay; its log:\n%s", code, e.runs(t), third.stderr)
	}
}

// TestMinioRestartDuringUpload: MinIO is killed while the launcher uploads
// and comes back after longer than minio-go retries a request. The
// launcher starts the upload again, the step succeeds, the object and the
// cache entry hold the whole output, and at no time is a partial object
// visible under the final name.
func TestMinioRestartDuringUpload(t *testing.T) {
	e := newFaultEnv(t)
	ctx := context.Background()
	px := servers.StartProxy(t, e.minio.Endpoint, 4<<20)
	p := e.start(t, "run-1-big-1", px.Addr)
	whenSent(t, px, p, 8<<20)
	e.minio.Stop()
	// minio-go gives up on a request after ten retries of at most a
	// second each; the store stays away longer.
	down := 15 * time.Second
	t.Logf("stopped MinIO after %d MiB of the upload; restarting it in %s", px.Sent()>>20, down)
	time.Sleep(down)
	if err := e.minio.Start(); err != nil {
		t.Fatal(err)
	}
	// Until the launcher is done, whatever is under the final name must
	// be the whole object.
	var partial []string
	for done := false; !done; {
		select {
		case <-p.done:
			done = true
		case <-time.After(50 * time.Millisecond):
		}
		st, err := e.minio.Client.StatObject(ctx, faultBucket, faultKey, minio.StatObjectOptions{})
		if err == nil && st.Size != faultSize {
			partial = append(partial, fmt.Sprintf("%d bytes", st.Size))
		}
	}
	if len(partial) > 0 {
		t.Errorf("partial objects seen under the final name: %v", partial)
	}
	if code := p.wait(t, 3*time.Minute); code != 0 {
		t.Fatalf("launcher exited %d; its log:\n%s", code, p.stderr)
	}
	log := p.stderr.String()
	if !strings.Contains(log, "starting again") {
		t.Errorf("the launcher's log does not show the upload started again:\n%s", log)
	}
	want := p.output(t)
	e.checkObject(t, want)
	e.checkEntry(t, "run-1-big-1", want)
	if n := e.runs(t); n != 1 {
		t.Errorf("the command ran %d times, want 1", n)
	}
}
