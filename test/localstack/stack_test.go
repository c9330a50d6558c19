package localstack

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	wfv1 "github.com/argoproj/argo-workflows/v3/pkg/apis/workflow/v1alpha1"
	wfclientset "github.com/argoproj/argo-workflows/v3/pkg/client/clientset/versioned"
	"github.com/minio/minio-go/v7"
	"github.com/minio/minio-go/v7/pkg/credentials"
	"github.com/redis/go-redis/v9"
	"go.uber.org/zap"
	"go.uber.org/zap/zaptest"
	"golang.org/x/sys/unix"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"

	"github.com/kfpargo/kfpargo/step"
	"github.com/kfpargo/kfpargo/test/stacktest"
)

// TestStack brings a real stack up, runs plain Argo workflows on it, and
// checks that Down leaves nothing behind.
func TestStack(t *testing.T) {
	stacktest.RequireStack(t, "the local-stack integration test", "mount namespaces for the node agent")
	// Orphans of the stack's processes become our children, so the final
	// check can see any process that outlived Down.
	if err := unix.Prctl(unix.PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0); err != nil {
		t.Fatalf("become child subreaper: %v", err)
	}
	stateDir := os.Getenv("KFPARGO_STACK_STATE_DIR")
	if stateDir == "" {
		// Not under /tmp: containers get a private /tmp.
		d, err := os.MkdirTemp("/var/tmp", "kfpargo-stack-test-")
		if err != nil {
			t.Fatal(err)
		}
		stateDir = d
	}
	cfg := Config{
		StateDir: stateDir,
		Logger:   zaptest.NewLogger(t, zaptest.Level(zap.InfoLevel)),
		Progress: stacktest.LogWriter{T: t},
	}
	ctx, cancel := context.WithTimeout(context.Background(), 25*time.Minute)
	defer cancel()

	start := time.Now()
	s, err := Up(ctx, cfg)
	if err != nil {
		t.Fatalf("Up: %v", err)
	}
	t.Logf("Up took %s", time.Since(start).Round(10*time.Millisecond))
	defer s.Down(context.Background())

	t.Run("second Up on the same state dir is refused", func(t *testing.T) {
		_, err := Up(ctx, cfg)
		if err == nil || !strings.Contains(err.Error(), "in use") {
			t.Fatalf("Up on a busy state dir: got %v, want an 'in use' error", err)
		}
	})
	t.Run("minio and redis answer", func(t *testing.T) { testStorage(ctx, t, s) })
	t.Run("DAG passes an output parameter", func(t *testing.T) { testParameterDAG(ctx, t, s) })
	t.Run("failing step fails the workflow", func(t *testing.T) { testFailingStep(ctx, t, s) })

	start = time.Now()
	if err := s.Down(context.Background()); err != nil {
		t.Fatalf("Down: %v", err)
	}
	t.Logf("Down took %s", time.Since(start).Round(10*time.Millisecond))

	if left := leftoverProcesses(t, stateDir); len(left) > 0 {
		t.Errorf("processes left after Down:\n%s", strings.Join(left, "\n"))
	}
	left, err := HostLeftovers(stateDir)
	if err != nil {
		t.Fatalf("HostLeftovers: %v", err)
	}
	switch others := otherStacks(stateDir); {
	case len(left) == 0:
	case len(others) > 0:
		// Shared host mount points stay while another stack runs.
		t.Logf("another local stack is running (%v); not asserting on host leftovers %v", others, left)
	default:
		t.Errorf("host leftovers after Down: %v", left)
	}
	if !t.Failed() && os.Getenv("KFPARGO_STACK_STATE_DIR") == "" {
		_ = os.RemoveAll(stateDir)
	} else {
		t.Logf("state and logs kept in %s", stateDir)
	}
}

func testStorage(ctx context.Context, t *testing.T, s *Stack) {
	mc, err := minio.New(s.S3Endpoint, &minio.Options{Creds: credentials.NewStaticV4(s.S3AccessKey, s.S3SecretKey, "")})
	if err != nil {
		t.Fatal(err)
	}
	want := []byte("hello object store")
	if _, err := mc.PutObject(ctx, s.Bucket, "localstack/hello.txt", bytes.NewReader(want), int64(len(want)), minio.PutObjectOptions{}); err != nil {
		t.Fatalf("PutObject: %v", err)
	}
	obj, err := mc.GetObject(ctx, s.Bucket, "localstack/hello.txt", minio.GetObjectOptions{})
	if err != nil {
		t.Fatalf("GetObject: %v", err)
	}
	got, err := io.ReadAll(obj)
	obj.Close()
	if err != nil || !bytes.Equal(got, want) {
		t.Fatalf("GetObject: got %q, %v; want %q", got, err, want)
	}

	rc := redis.NewClient(&redis.Options{Addr: s.RedisAddr})
	defer rc.Close()
	if err := rc.Set(ctx, "localstack:hello", "world", time.Minute).Err(); err != nil {
		t.Fatalf("redis SET: %v", err)
	}
	if v, err := rc.Get(ctx, "localstack:hello").Result(); err != nil || v != "world" {
		t.Fatalf("redis GET: got %q, %v; want world", v, err)
	}

	kc := kubernetes.NewForConfigOrDie(s.RESTConfig)
	sec, err := kc.CoreV1().Secrets(s.Namespace).Get(ctx, S3SecretName, metav1.GetOptions{})
	if err != nil {
		t.Fatalf("secret %s: %v", S3SecretName, err)
	}
	for k, want := range map[string]string{step.SecretKeyEndpoint: s.S3Endpoint, step.SecretKeyAccessKey: s.S3AccessKey, step.SecretKeySecretKey: s.S3SecretKey, step.SecretKeyInsecure: "true"} {
		if got := string(sec.Data[k]); got != want {
			t.Errorf("secret %s key %s = %q, want %q", S3SecretName, k, got, want)
		}
	}
}

func shContainer(script string) *corev1.Container {
	// The node agent ignores the image: commands run on the host.
	return &corev1.Container{Image: "alpine:3", Command: []string{"sh", "-c"}, Args: []string{script}}
}

func testParameterDAG(ctx context.Context, t *testing.T, s *Stack) {
	wf := &wfv1.Workflow{
		ObjectMeta: metav1.ObjectMeta{GenerateName: "pass-param-"},
		Spec: wfv1.WorkflowSpec{
			Entrypoint: "main",
			Templates: []wfv1.Template{
				{Name: "main", DAG: &wfv1.DAGTemplate{Tasks: []wfv1.DAGTask{
					{Name: "produce", Template: "produce"},
					{Name: "consume", Template: "consume", Dependencies: []string{"produce"},
						Arguments: wfv1.Arguments{Parameters: []wfv1.Parameter{
							{Name: "msg", Value: wfv1.AnyStringPtr("{{tasks.produce.outputs.parameters.msg}}")},
						}}},
				}}},
				{Name: "produce",
					// A value only known at run time, so it must travel.
					Container: shContainer(`printf 'hello-%s' "$(date +%s%N)" > /tmp/msg`),
					Outputs: wfv1.Outputs{Parameters: []wfv1.Parameter{
						{Name: "msg", ValueFrom: &wfv1.ValueFrom{Path: "/tmp/msg"}},
					}}},
				{Name: "consume",
					Inputs:    wfv1.Inputs{Parameters: []wfv1.Parameter{{Name: "msg"}}},
					Container: shContainer(`echo "received {{inputs.parameters.msg}}"`)},
			},
		},
	}
	done, took := runWorkflow(ctx, t, s, wf)
	t.Logf("workflow %s: %s in %s", done.Name, done.Status.Phase, took.Round(10*time.Millisecond))
	if done.Status.Phase != wfv1.WorkflowSucceeded {
		dumpWorkflow(ctx, t, s, done)
		t.Fatalf("phase %s (%s), want Succeeded", done.Status.Phase, done.Status.Message)
	}
	var produced, received string
	for _, n := range done.Status.Nodes {
		switch n.DisplayName {
		case "produce":
			if n.Outputs != nil {
				for _, p := range n.Outputs.Parameters {
					if p.Name == "msg" && p.Value != nil {
						produced = p.Value.String()
					}
				}
			}
		case "consume":
			if n.Inputs != nil {
				if p := n.Inputs.GetParameterByName("msg"); p != nil && p.Value != nil {
					received = p.Value.String()
				}
			}
		}
	}
	if !strings.HasPrefix(produced, "hello-") || received != produced {
		t.Errorf("produce output %q, consume input %q: want equal and starting with hello-", produced, received)
	}
	pods := workflowPods(ctx, t, s, done.Name)
	perTask := map[string]int{}
	for _, p := range pods {
		perTask[p.Annotations["workflows.argoproj.io/node-name"]]++
	}
	want := map[string]int{done.Name + ".produce": 1, done.Name + ".consume": 1}
	if fmt.Sprint(perTask) != fmt.Sprint(want) {
		t.Errorf("pods per task %v, want %v", perTask, want)
	}
}

func testFailingStep(ctx context.Context, t *testing.T, s *Stack) {
	wf := &wfv1.Workflow{
		ObjectMeta: metav1.ObjectMeta{GenerateName: "exit-three-"},
		Spec: wfv1.WorkflowSpec{
			Entrypoint: "fail",
			Templates:  []wfv1.Template{{Name: "fail", Container: shContainer("echo failing; exit 3")}},
		},
	}
	done, took := runWorkflow(ctx, t, s, wf)
	t.Logf("workflow %s: %s in %s: %s", done.Name, done.Status.Phase, took.Round(10*time.Millisecond), done.Status.Message)
	if done.Status.Phase != wfv1.WorkflowFailed {
		dumpWorkflow(ctx, t, s, done)
		t.Fatalf("phase %s, want Failed", done.Status.Phase)
	}
	var msg string
	for _, n := range done.Status.Nodes {
		if n.Type == wfv1.NodeTypePod {
			msg = n.Message
		}
	}
	if !strings.Contains(msg, "exit code 3") {
		t.Errorf("pod node message %q, want it to mention exit code 3", msg)
	}
}

// runWorkflow submits wf and waits (2 minutes at most) until it completes.
func runWorkflow(ctx context.Context, t *testing.T, s *Stack, wf *wfv1.Workflow) (*wfv1.Workflow, time.Duration) {
	t.Helper()
	wfc := wfclientset.NewForConfigOrDie(s.RESTConfig).ArgoprojV1alpha1().Workflows(s.Namespace)
	start := time.Now()
	created, err := wfc.Create(ctx, wf, metav1.CreateOptions{})
	if err != nil {
		t.Fatalf("create workflow: %v", err)
	}
	deadline := start.Add(2 * time.Minute)
	for {
		got, err := wfc.Get(ctx, created.Name, metav1.GetOptions{})
		if err != nil {
			t.Fatalf("get workflow %s: %v", created.Name, err)
		}
		if got.Status.Phase.Completed() {
			return got, time.Since(start)
		}
		if time.Now().After(deadline) {
			dumpWorkflow(ctx, t, s, got)
			t.Fatalf("workflow %s still %q after 2 minutes", got.Name, got.Status.Phase)
		}
		time.Sleep(200 * time.Millisecond)
	}
}

func workflowPods(ctx context.Context, t *testing.T, s *Stack, name string) []corev1.Pod {
	t.Helper()
	pods, err := kubernetes.NewForConfigOrDie(s.RESTConfig).CoreV1().Pods(s.Namespace).List(ctx,
		metav1.ListOptions{LabelSelector: "workflows.argoproj.io/workflow=" + name})
	if err != nil {
		t.Fatalf("list pods: %v", err)
	}
	return pods.Items
}

// dumpWorkflow logs what helps to see why a workflow went wrong.
func dumpWorkflow(ctx context.Context, t *testing.T, s *Stack, wf *wfv1.Workflow) {
	t.Helper()
	t.Logf("workflow %s phase %q message %q", wf.Name, wf.Status.Phase, wf.Status.Message)
	for _, n := range wf.Status.Nodes {
		t.Logf("  node %s (%s): %s %s", n.DisplayName, n.Type, n.Phase, n.Message)
	}
	for _, p := range workflowPods(ctx, t, s, wf.Name) {
		t.Logf("  pod %s: %s %s", p.Name, p.Status.Phase, p.Status.Message)
	}
	for _, name := range []string{"workflow-controller", "nodeagent"} {
		t.Logf("last lines of %s.log:\n%s", name, fileTail(filepath.Join(s.LogDir, name+".log"), 30))
	}
}

// leftoverProcesses lists live processes that mention the stack's state or
// image directory on their command line, or are (adopted) children of
// this test process.
func leftoverProcesses(t *testing.T, stateDir string) []string {
	t.Helper()
	// Reap adopted orphans that already exited.
	for {
		pid, err := syscall.Wait4(-1, nil, syscall.WNOHANG, nil)
		if pid <= 0 || err != nil {
			break
		}
	}
	self := strconv.Itoa(os.Getpid())
	entries, err := os.ReadDir("/proc")
	if err != nil {
		t.Fatal(err)
	}
	var left []string
	for _, e := range entries {
		pid, err := strconv.Atoi(e.Name())
		if err != nil || pid == os.Getpid() || !processAlive(pid) {
			continue
		}
		cmdline, _ := os.ReadFile(fmt.Sprintf("/proc/%d/cmdline", pid))
		cmd := strings.ReplaceAll(string(cmdline), "\x00", " ")
		stat, _ := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
		var ppid string
		if i := bytes.LastIndexByte(stat, ')'); i > 0 {
			if f := strings.Fields(string(stat[i+1:])); len(f) > 1 {
				ppid = f[1]
			}
		}
		if ppid == self || strings.Contains(cmd, stateDir) || strings.Contains(cmd, imagesDir(stateDir)) {
			left = append(left, fmt.Sprintf("pid %d (ppid %s): %s", pid, ppid, cmd))
		}
	}
	return left
}

// TestCleanupStopsRecordedProcess checks the crash-recovery path with a
// real process: a pid file left in the state directory is acted on only
// if the process still runs the recorded executable.
func TestCleanupStopsRecordedProcess(t *testing.T) {
	sleep, err := exec.LookPath("sleep")
	if err != nil {
		t.Skip("no sleep binary")
	}
	sleep, _ = filepath.EvalSymlinks(sleep)
	tests := []struct {
		name      string
		recorded  string // executable written to the pid file; "" means the real one
		wantAlive bool
	}{
		{name: "matching executable is stopped", wantAlive: false},
		{name: "other executable (reused pid) is left alone", recorded: "/not/the/same/binary", wantAlive: true},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			state := t.TempDir()
			cmd := exec.Command(sleep, "300")
			cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
			if err := cmd.Start(); err != nil {
				t.Fatal(err)
			}
			waited := make(chan struct{})
			go func() { _ = cmd.Wait(); close(waited) }()
			defer func() { _ = cmd.Process.Kill(); <-waited }()
			exe := tc.recorded
			if exe == "" {
				exe = sleep
			}
			if err := os.MkdirAll(filepath.Join(state, "pids"), 0o755); err != nil {
				t.Fatal(err)
			}
			pidFile := filepath.Join(state, "pids", "sleep.pid")
			if err := os.WriteFile(pidFile, []byte(fmt.Sprintf("%d\n%s\n", cmd.Process.Pid, exe)), 0o644); err != nil {
				t.Fatal(err)
			}
			repo, err := FindRepoRoot(".")
			if err != nil {
				t.Fatal(err)
			}
			if err := Cleanup(context.Background(), Config{RepoDir: repo, StateDir: state, StopGrace: time.Second}); err != nil {
				t.Fatalf("Cleanup: %v", err)
			}
			var alive bool
			select {
			case <-waited:
			case <-time.After(time.Second):
				alive = true
			}
			if alive != tc.wantAlive {
				t.Errorf("process alive after Cleanup = %v, want %v", alive, tc.wantAlive)
			}
			if _, err := os.Stat(pidFile); !os.IsNotExist(err) {
				t.Errorf("pid file still there after Cleanup (err %v)", err)
			}
		})
	}
}
