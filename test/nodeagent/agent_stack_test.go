package nodeagent_test

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"go.uber.org/zap"
	"go.uber.org/zap/zaptest"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/intstr"
	"k8s.io/client-go/kubernetes"

	"github.com/kfpargo/kfpargo/test/localstack"
	"github.com/kfpargo/kfpargo/test/nodeagent"
	"github.com/kfpargo/kfpargo/test/stacktest"
)

// TestAgentOnStack runs plain pods (no Argo) through a real apiserver and
// the node agent the local stack starts: volumes, environment, status,
// init-container failure, waiting for a missing ConfigMap, deletion of a
// running pod, and several pods at once.
func TestAgentOnStack(t *testing.T) {
	stacktest.RequireStack(t, "the node agent's stack test", "mount and PID namespaces")
	// Not under /tmp: containers get a private /tmp.
	stateDir, err := os.MkdirTemp("/var/tmp", "kfpargo-nodeagent-test-")
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Minute)
	defer cancel()
	s, err := localstack.Up(ctx, localstack.Config{
		StateDir: stateDir,
		Logger:   zaptest.NewLogger(t, zaptest.Level(zap.WarnLevel)),
		Progress: stacktest.LogWriter{T: t},
	})
	if err != nil {
		t.Fatalf("local stack: %v", err)
	}
	defer func() {
		if err := s.Down(context.Background()); err != nil {
			t.Errorf("stack down: %v", err)
		}
		if !t.Failed() {
			_ = os.RemoveAll(stateDir)
		} else {
			t.Logf("state and logs kept in %s", stateDir)
		}
	}()
	e := &env{t: t, ctx: ctx, kc: kubernetes.NewForConfigOrDie(s.RESTConfig), ns: s.Namespace, stateDir: stateDir, stack: s}

	t.Run("volumes, environment and status", e.testVolumesAndEnv)
	t.Run("failing init container fails the pod", e.testInitFailure)
	t.Run("termination message and exit code", e.testTerminationMessage)
	t.Run("missing configmap: the pod waits, then runs", e.testWaitsForConfigMap)
	t.Run("container without command cannot start", e.testNoCommand)
	t.Run("deleting a running pod stops it and removes the object", e.testDeleteRunning)
	t.Run("pods run in parallel", e.testParallel)
	t.Run("a Service leads to its ready pod by name", e.testService)
	// The same agent code in this process (so that -race sees it), on a
	// second node.
	t.Run("in-process agent on a second node", func(t *testing.T) { e.testInProcess(t, s) })
	// Last: the agent is gone afterwards.
	t.Run("agent shutdown fails running pods and marks the node NotReady", e.testShutdown)
}

type env struct {
	t        *testing.T
	ctx      context.Context
	kc       kubernetes.Interface
	ns       string
	stateDir string
	stack    *localstack.Stack
}

func shPod(name, script string) *corev1.Pod {
	return &corev1.Pod{
		ObjectMeta: metav1.ObjectMeta{Name: name, Labels: map[string]string{"app": "agent-test"}},
		Spec: corev1.PodSpec{
			RestartPolicy: corev1.RestartPolicyNever,
			Containers:    []corev1.Container{{Name: "main", Image: "alpine:3", Command: []string{"sh", "-c", script}}},
		},
	}
}

func (e *env) create(t *testing.T, pod *corev1.Pod) *corev1.Pod {
	t.Helper()
	created, err := e.kc.CoreV1().Pods(e.ns).Create(e.ctx, pod, metav1.CreateOptions{})
	if err != nil {
		t.Fatalf("create pod %s: %v", pod.Name, err)
	}
	return created
}

// waitPod polls until cond holds, failing (with the pod's logs) after timeout.
func (e *env) waitPod(t *testing.T, name string, timeout time.Duration, what string, cond func(*corev1.Pod) bool) *corev1.Pod {
	t.Helper()
	deadline := time.Now().Add(timeout)
	for {
		pod, err := e.kc.CoreV1().Pods(e.ns).Get(e.ctx, name, metav1.GetOptions{})
		if err != nil {
			t.Fatalf("get pod %s: %v", name, err)
		}
		if cond(pod) {
			return pod
		}
		if time.Now().After(deadline) {
			e.dump(t, pod)
			t.Fatalf("pod %s: not %s after %s (phase %s)", name, what, timeout, pod.Status.Phase)
		}
		time.Sleep(200 * time.Millisecond)
	}
}

func phaseIs(p corev1.PodPhase) func(*corev1.Pod) bool {
	return func(pod *corev1.Pod) bool { return pod.Status.Phase == p }
}

func (e *env) dump(t *testing.T, pod *corev1.Pod) {
	t.Helper()
	t.Logf("pod %s status: %+v", pod.Name, pod.Status)
	dirs, _ := filepath.Glob(filepath.Join(e.stateDir, "node", "logs", fmt.Sprintf("%s_%s_%s", pod.Namespace, pod.Name, pod.UID), "*.log"))
	for _, d := range dirs {
		data, _ := os.ReadFile(d)
		t.Logf("%s:\n%s", d, data)
	}
	data, _ := os.ReadFile(filepath.Join(e.stateDir, "logs", "nodeagent.log"))
	lines := strings.Split(strings.TrimSpace(string(data)), "\n")
	if len(lines) > 20 {
		lines = lines[len(lines)-20:]
	}
	t.Logf("nodeagent.log (end):\n%s", strings.Join(lines, "\n"))
}

func (e *env) testVolumesAndEnv(t *testing.T) {
	if _, err := e.kc.CoreV1().ConfigMaps(e.ns).Create(e.ctx, &corev1.ConfigMap{
		ObjectMeta: metav1.ObjectMeta{Name: "agent-test-cfg"},
		Data:       map[string]string{"MODE": "fast", "file.txt": "v1"},
	}, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	if _, err := e.kc.CoreV1().Secrets(e.ns).Create(e.ctx, &corev1.Secret{
		ObjectMeta: metav1.ObjectMeta{Name: "agent-test-secret"},
		StringData: map[string]string{"password": "hunter2"},
	}, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	mode0600, mode0400 := int32(0o600), int32(0o400)
	optional := true
	checks := []string{
		`test "$(cat /cfg/renamed)" = v1`,
		`test "$(stat -c %a /cfg/renamed)" = 600`,
		`test "$(cat /sec/password)" = hunter2`,
		`test "$(stat -c %a /sec/password)" = 400`,
		`grep -q 'app="agent-test"' /podinfo/labels`,
		`test "$(cat /podinfo/name)" = "$HOSTNAME"`,
		`test -s /var/run/secrets/kubernetes.io/serviceaccount/token`,
		`grep -q "BEGIN CERTIFICATE" /var/run/secrets/kubernetes.io/serviceaccount/ca.crt`,
		`test "$(cat /var/run/secrets/kubernetes.io/serviceaccount/namespace)" = "$MY_NS"`,
		`test "$(cat /projected/mode)" = fast`,
		`test -s /projected/tok`,
		`test "$(cat /shared/from-init)" = hello`,
		`test "$(cat /sub/in-subdir)" = deep`,
		`test "$(hostname)" = "$MY_POD"`,
		`test "$GREETING" = "hello-agent-test"`,
		// The command itself goes through $(VAR) expansion too: "$$"
		// stands for "$".
		`test "$LITERAL" = '$$(MY_POD)'`,
		`test "$CM_MODE" = fast`,
		`test "$PASSWORD" = hunter2`,
		`test "${OPT-unset}" = unset`,
		`test "$P_MODE" = fast`,
		// The pod has a network namespace of its own, its address on eth0.
		`test "$MY_IP" != 127.0.0.1 && ip -4 -o addr show eth0 | grep -q "inet $MY_IP/"`,
		`grep -q "^$MY_IP[[:space:]]$MY_POD\$" /etc/hosts`,
		// The apiserver is reached as in a cluster: the kubernetes
		// Service's ClusterIP, named in /etc/hosts, answered by the proxy.
		`test "$KUBERNETES_SERVICE_PORT" = 443 && grep -q "^$KUBERNETES_SERVICE_HOST[[:space:]]kubernetes.default.svc.cluster.local " /etc/hosts`,
		`timeout 5 bash -c 'exec 3<>/dev/tcp/kubernetes.default.svc/443'`,
		`test -z "${KUBECONFIG-}"`,
		`! touch /sec/new 2>/dev/null`,
		`touch /tmp/own && touch /minio/own`,
		// Its own PID namespace: PID 1 is the container's init process
		// (the shell's own PID depends on how many threads init started).
		`grep -q container-init /proc/1/cmdline`,
		`test "$(pwd)" = /work`,
	}
	var script strings.Builder
	script.WriteString("fail=0\n")
	for _, c := range checks {
		fmt.Fprintf(&script, "if %s; then :; else echo 'FAILED: %s'; fail=1; fi\n", c, strings.ReplaceAll(c, "'", `'\''`))
	}
	script.WriteString("exit $fail\n")

	pod := shPod("agent-test-volumes", script.String())
	// The subPath directory main mounts exists before init runs.
	pod.Spec.InitContainers = []corev1.Container{{
		Name: "init", Image: "alpine:3",
		Command:      []string{"sh", "-c", "echo hello > /shared/from-init && echo deep > /shared/sub/in-subdir"},
		VolumeMounts: []corev1.VolumeMount{{Name: "shared", MountPath: "/shared"}},
	}}
	c := &pod.Spec.Containers[0]
	c.WorkingDir = "/work"
	c.VolumeMounts = []corev1.VolumeMount{
		{Name: "cfg", MountPath: "/cfg"},
		{Name: "sec", MountPath: "/sec", ReadOnly: true},
		{Name: "podinfo", MountPath: "/podinfo"},
		{Name: "projected", MountPath: "/projected"},
		{Name: "shared", MountPath: "/shared"},
		{Name: "shared", MountPath: "/sub", SubPath: "sub"},
	}
	c.EnvFrom = []corev1.EnvFromSource{{Prefix: "P_", ConfigMapRef: &corev1.ConfigMapEnvSource{
		LocalObjectReference: corev1.LocalObjectReference{Name: "agent-test-cfg"}}}}
	c.Env = []corev1.EnvVar{
		{Name: "MY_POD", ValueFrom: &corev1.EnvVarSource{FieldRef: &corev1.ObjectFieldSelector{FieldPath: "metadata.name"}}},
		{Name: "MY_NS", ValueFrom: &corev1.EnvVarSource{FieldRef: &corev1.ObjectFieldSelector{FieldPath: "metadata.namespace"}}},
		{Name: "MY_IP", ValueFrom: &corev1.EnvVarSource{FieldRef: &corev1.ObjectFieldSelector{FieldPath: "status.podIP"}}},
		{Name: "GREETING", Value: "hello-$(MY_POD_LABEL)"},
		{Name: "LITERAL", Value: "$$(MY_POD)"},
		{Name: "CM_MODE", ValueFrom: &corev1.EnvVarSource{ConfigMapKeyRef: &corev1.ConfigMapKeySelector{
			LocalObjectReference: corev1.LocalObjectReference{Name: "agent-test-cfg"}, Key: "MODE"}}},
		{Name: "PASSWORD", ValueFrom: &corev1.EnvVarSource{SecretKeyRef: &corev1.SecretKeySelector{
			LocalObjectReference: corev1.LocalObjectReference{Name: "agent-test-secret"}, Key: "password"}}},
		{Name: "OPT", ValueFrom: &corev1.EnvVarSource{ConfigMapKeyRef: &corev1.ConfigMapKeySelector{
			LocalObjectReference: corev1.LocalObjectReference{Name: "no-such-cfg"}, Key: "x", Optional: &optional}}},
	}
	// Defined before GREETING refers to it.
	c.Env = append([]corev1.EnvVar{{Name: "MY_POD_LABEL", ValueFrom: &corev1.EnvVarSource{
		FieldRef: &corev1.ObjectFieldSelector{FieldPath: "metadata.labels['app']"}}}}, c.Env...)
	pod.Spec.Volumes = []corev1.Volume{
		{Name: "cfg", VolumeSource: corev1.VolumeSource{ConfigMap: &corev1.ConfigMapVolumeSource{
			LocalObjectReference: corev1.LocalObjectReference{Name: "agent-test-cfg"},
			Items:                []corev1.KeyToPath{{Key: "file.txt", Path: "renamed", Mode: &mode0600}}}}},
		{Name: "sec", VolumeSource: corev1.VolumeSource{Secret: &corev1.SecretVolumeSource{
			SecretName: "agent-test-secret", DefaultMode: &mode0400}}},
		{Name: "podinfo", VolumeSource: corev1.VolumeSource{DownwardAPI: &corev1.DownwardAPIVolumeSource{Items: []corev1.DownwardAPIVolumeFile{
			{Path: "labels", FieldRef: &corev1.ObjectFieldSelector{FieldPath: "metadata.labels"}},
			{Path: "name", FieldRef: &corev1.ObjectFieldSelector{FieldPath: "metadata.name"}},
		}}}},
		{Name: "projected", VolumeSource: corev1.VolumeSource{Projected: &corev1.ProjectedVolumeSource{Sources: []corev1.VolumeProjection{
			{ServiceAccountToken: &corev1.ServiceAccountTokenProjection{Path: "tok", Audience: "agent-test"}},
			{ConfigMap: &corev1.ConfigMapProjection{LocalObjectReference: corev1.LocalObjectReference{Name: "agent-test-cfg"},
				Items: []corev1.KeyToPath{{Key: "MODE", Path: "mode"}}}},
		}}}},
		{Name: "shared", VolumeSource: corev1.VolumeSource{EmptyDir: &corev1.EmptyDirVolumeSource{}}},
	}
	created := e.create(t, pod)
	done := e.waitPod(t, created.Name, time.Minute, "finished", func(p *corev1.Pod) bool {
		return p.Status.Phase == corev1.PodSucceeded || p.Status.Phase == corev1.PodFailed
	})
	if done.Status.Phase != corev1.PodSucceeded {
		e.dump(t, done)
		t.Fatalf("phase %s, want Succeeded", done.Status.Phase)
	}
	if done.Spec.NodeName == "" || !strings.HasPrefix(done.Status.PodIP, "10.244.") || done.Status.HostIP != e.stack.NodeIP || done.Status.StartTime == nil {
		t.Errorf("node %q podIP %q hostIP %q startTime %v", done.Spec.NodeName, done.Status.PodIP, done.Status.HostIP, done.Status.StartTime)
	}
	for _, cs := range append(done.Status.InitContainerStatuses, done.Status.ContainerStatuses...) {
		term := cs.State.Terminated
		if term == nil || term.ExitCode != 0 || term.Reason != "Completed" || term.StartedAt.IsZero() || term.FinishedAt.IsZero() {
			t.Errorf("container %s state %+v, want terminated Completed with times", cs.Name, cs.State)
		}
	}
	conds := map[corev1.PodConditionType]corev1.ConditionStatus{}
	for _, c := range done.Status.Conditions {
		conds[c.Type] = c.Status
	}
	if conds[corev1.PodScheduled] != corev1.ConditionTrue || conds[corev1.PodInitialized] != corev1.ConditionTrue || conds[corev1.PodReady] != corev1.ConditionFalse {
		t.Errorf("conditions %v", conds)
	}
}

func (e *env) testInitFailure(t *testing.T) {
	pod := shPod("agent-test-init-fails", "echo must not run; exit 0")
	pod.Spec.InitContainers = []corev1.Container{{Name: "init", Image: "alpine:3", Command: []string{"sh", "-c", "exit 7"}}}
	created := e.create(t, pod)
	done := e.waitPod(t, created.Name, time.Minute, "Failed", phaseIs(corev1.PodFailed))
	if term := done.Status.InitContainerStatuses[0].State.Terminated; term == nil || term.ExitCode != 7 || term.Reason != "Error" {
		t.Errorf("init state %+v, want terminated exit 7 Error", done.Status.InitContainerStatuses[0].State)
	}
	if w := done.Status.ContainerStatuses[0].State.Waiting; w == nil {
		t.Errorf("main state %+v, want waiting (never started)", done.Status.ContainerStatuses[0].State)
	}
}

func (e *env) testTerminationMessage(t *testing.T) {
	pod := shPod("agent-test-message", "printf 'it broke' > /dev/termination-log; exit 2")
	pod.Spec.Containers = append(pod.Spec.Containers, corev1.Container{
		Name: "fallback", Image: "alpine:3", Command: []string{"sh", "-c", "echo last words; exit 5"},
		TerminationMessagePolicy: corev1.TerminationMessageFallbackToLogsOnError,
	})
	created := e.create(t, pod)
	done := e.waitPod(t, created.Name, time.Minute, "Failed", phaseIs(corev1.PodFailed))
	want := map[string]struct {
		code int32
		msg  string
	}{"main": {2, "it broke"}, "fallback": {5, "last words"}}
	for _, cs := range done.Status.ContainerStatuses {
		term := cs.State.Terminated
		if term == nil || term.ExitCode != want[cs.Name].code || term.Message != want[cs.Name].msg {
			t.Errorf("container %s state %+v, want exit %d message %q", cs.Name, cs.State, want[cs.Name].code, want[cs.Name].msg)
		}
	}
}

func (e *env) testWaitsForConfigMap(t *testing.T) {
	pod := shPod("agent-test-late-cfg", `test "$LATE" = here`)
	pod.Spec.Containers[0].Env = []corev1.EnvVar{{Name: "LATE", ValueFrom: &corev1.EnvVarSource{ConfigMapKeyRef: &corev1.ConfigMapKeySelector{
		LocalObjectReference: corev1.LocalObjectReference{Name: "agent-test-late"}, Key: "v"}}}}
	created := e.create(t, pod)
	e.waitPod(t, created.Name, 30*time.Second, "waiting for its ConfigMap", func(p *corev1.Pod) bool {
		if p.Status.Phase != corev1.PodPending || len(p.Status.ContainerStatuses) == 0 {
			return false
		}
		w := p.Status.ContainerStatuses[0].State.Waiting
		return w != nil && w.Reason == "CreateContainerConfigError" && strings.Contains(w.Message, "agent-test-late")
	})
	if _, err := e.kc.CoreV1().ConfigMaps(e.ns).Create(e.ctx, &corev1.ConfigMap{
		ObjectMeta: metav1.ObjectMeta{Name: "agent-test-late"}, Data: map[string]string{"v": "here"},
	}, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	e.waitPod(t, created.Name, time.Minute, "Succeeded", phaseIs(corev1.PodSucceeded))
}

func (e *env) testNoCommand(t *testing.T) {
	pod := shPod("agent-test-no-command", "")
	pod.Spec.Containers[0].Command = nil
	created := e.create(t, pod)
	done := e.waitPod(t, created.Name, time.Minute, "Failed", phaseIs(corev1.PodFailed))
	term := done.Status.ContainerStatuses[0].State.Terminated
	if term == nil || term.Reason != "StartError" || term.ExitCode != 128 || !strings.Contains(term.Message, "neither command nor args") {
		t.Errorf("container state %+v, want terminated StartError (128) saying it has neither command nor args", done.Status.ContainerStatuses[0].State)
	}
}

func (e *env) testDeleteRunning(t *testing.T) {
	grace := int64(2)
	pod := shPod("agent-test-delete", "sleep 300 & sleep 301")
	pod.Spec.TerminationGracePeriodSeconds = &grace
	created := e.create(t, pod)
	e.waitPod(t, created.Name, time.Minute, "Running", phaseIs(corev1.PodRunning))
	start := time.Now()
	if err := e.kc.CoreV1().Pods(e.ns).Delete(e.ctx, created.Name, metav1.DeleteOptions{}); err != nil {
		t.Fatal(err)
	}
	for {
		_, err := e.kc.CoreV1().Pods(e.ns).Get(e.ctx, created.Name, metav1.GetOptions{})
		if apierrors.IsNotFound(err) {
			break
		}
		if time.Since(start) > 20*time.Second {
			t.Fatalf("pod still there 20s after deletion (err %v)", err)
		}
		time.Sleep(200 * time.Millisecond)
	}
	t.Logf("pod gone %s after deletion", time.Since(start).Round(10*time.Millisecond))
	if left := processesWithArgs("sleep", "300"); len(left) > 0 {
		t.Errorf("background sleep of the deleted pod still runs: pids %v", left)
	}
}

func (e *env) testParallel(t *testing.T) {
	const n = 4
	start := time.Now()
	var names []string
	for i := range n {
		names = append(names, e.create(t, shPod(fmt.Sprintf("agent-test-parallel-%d", i), "sleep 2")).Name)
	}
	for _, name := range names {
		e.waitPod(t, name, time.Minute, "Succeeded", phaseIs(corev1.PodSucceeded))
	}
	// One after the other would take at least n*2s.
	if took := time.Since(start); took > time.Duration(n)*2*time.Second {
		t.Errorf("%d pods of 2s took %s: not run in parallel", n, took)
	}
}

// processesWithArgs lists live processes whose command line is exactly args.
func processesWithArgs(args ...string) []string {
	want := strings.Join(args, "\x00") + "\x00"
	entries, _ := os.ReadDir("/proc")
	var pids []string
	for _, e := range entries {
		cmdline, err := os.ReadFile(filepath.Join("/proc", e.Name(), "cmdline"))
		if err == nil && string(cmdline) == want {
			pids = append(pids, e.Name())
		}
	}
	return pids
}

func (e *env) testShutdown(t *testing.T) {
	pod := shPod("agent-test-shutdown", "sleep 302 & sleep 303")
	created := e.create(t, pod)
	running := e.waitPod(t, created.Name, time.Minute, "Running", phaseIs(corev1.PodRunning))
	pid := agentPID(t, e.stateDir)
	start := time.Now()
	if err := syscall.Kill(pid, syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	for processExists(pid) {
		if time.Since(start) > 30*time.Second {
			t.Fatalf("node agent (pid %d) still running 30s after SIGTERM", pid)
		}
		time.Sleep(100 * time.Millisecond)
	}
	t.Logf("node agent stopped %s after SIGTERM", time.Since(start).Round(10*time.Millisecond))
	done, err := e.kc.CoreV1().Pods(e.ns).Get(e.ctx, created.Name, metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if done.Status.Phase != corev1.PodFailed || done.Status.Reason != "NodeAgentShutdown" {
		t.Errorf("pod phase %s reason %q, want Failed NodeAgentShutdown", done.Status.Phase, done.Status.Reason)
	}
	if term := done.Status.ContainerStatuses[0].State.Terminated; term == nil || term.ExitCode == 0 {
		t.Errorf("container state %+v, want terminated with a signal's exit code", done.Status.ContainerStatuses[0].State)
	}
	node, err := e.kc.CoreV1().Nodes().Get(e.ctx, running.Spec.NodeName, metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range node.Status.Conditions {
		if c.Type == corev1.NodeReady && c.Status != corev1.ConditionFalse {
			t.Errorf("node Ready=%s after agent shutdown, want False", c.Status)
		}
	}
	for _, args := range [][]string{{"sleep", "302"}, {"sleep", "303"}} {
		if left := processesWithArgs(args...); len(left) > 0 {
			t.Errorf("%v still runs after agent shutdown: pids %v", args, left)
		}
	}
	if entries, err := os.ReadDir(filepath.Join(e.stateDir, "node", "pods")); err == nil {
		t.Errorf("pod directories left after shutdown: %v", entries)
	}
}

// agentPID finds the node agent serving stateDir.
func agentPID(t *testing.T, stateDir string) int {
	t.Helper()
	entries, _ := os.ReadDir("/proc")
	for _, e := range entries {
		pid, err := strconv.Atoi(e.Name())
		if err != nil {
			continue
		}
		cmdline, err := os.ReadFile(filepath.Join("/proc", e.Name(), "cmdline"))
		if err != nil {
			continue
		}
		args := strings.Split(strings.TrimRight(string(cmdline), "\x00"), "\x00")
		if filepath.Base(args[0]) == "nodeagent" && len(args) > 1 && args[1] != nodeagent.InitCommand &&
			strings.Contains(string(cmdline), stateDir+"/") {
			return pid
		}
	}
	t.Fatalf("no node agent process for %s", stateDir)
	return 0
}

func processExists(pid int) bool {
	data, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return false
	}
	// A zombie has exited; its parent (the harness) reaps it later.
	i := strings.LastIndexByte(string(data), ')')
	return i < 0 || i+2 >= len(data) || data[i+2] != 'Z'
}

func (e *env) testInProcess(t *testing.T, s *localstack.Stack) {
	exe, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	const node = "kfpargo-inprocess"
	agent, err := nodeagent.New(nodeagent.Config{
		Kubeconfig:   s.Kubeconfig,
		NodeName:     node,
		StateDir:     filepath.Join(e.stateDir, "inprocess-agent"),
		CleanupDelay: 200 * time.Millisecond,
		Heartbeat:    time.Second,
		Exe:          exe, // TestMain dispatches container-init
		Logger:       zaptest.NewLogger(t, zaptest.Level(zap.InfoLevel)),
	})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(e.ctx)
	defer cancel()
	runErr := make(chan error, 1)
	go func() { runErr <- agent.Run(ctx) }()

	var names []string
	for i, script := range []string{"sleep 1", "echo out; exit 4", `test "$MY_NODE" = ` + node} {
		pod := shPod(fmt.Sprintf("agent-test-inprocess-%d", i), script)
		pod.Spec.NodeName = node
		pod.Spec.Containers[0].Env = []corev1.EnvVar{{Name: "MY_NODE", ValueFrom: &corev1.EnvVarSource{
			FieldRef: &corev1.ObjectFieldSelector{FieldPath: "spec.nodeName"}}}}
		names = append(names, e.create(t, pod).Name)
	}
	want := []corev1.PodPhase{corev1.PodSucceeded, corev1.PodFailed, corev1.PodSucceeded}
	for i, name := range names {
		e.waitPod(t, name, time.Minute, string(want[i]), phaseIs(want[i]))
	}
	// Deleted finished pods leave no trace; a running one is stopped.
	long := shPod("agent-test-inprocess-long", "sleep 304")
	long.Spec.NodeName = node
	e.create(t, long)
	e.waitPod(t, long.Name, time.Minute, "Running", phaseIs(corev1.PodRunning))
	for _, name := range append(names, long.Name) {
		if err := e.kc.CoreV1().Pods(e.ns).Delete(e.ctx, name, metav1.DeleteOptions{}); err != nil {
			t.Fatal(err)
		}
	}
	deadline := time.Now().Add(20 * time.Second)
	for _, name := range append(names, long.Name) {
		for {
			_, err := e.kc.CoreV1().Pods(e.ns).Get(e.ctx, name, metav1.GetOptions{})
			if apierrors.IsNotFound(err) {
				break
			}
			if time.Now().After(deadline) {
				t.Fatalf("pod %s not gone 20s after deletion (err %v)", name, err)
			}
			time.Sleep(100 * time.Millisecond)
		}
	}
	cancel()
	select {
	case err := <-runErr:
		if err != nil {
			t.Errorf("Run: %v", err)
		}
	case <-time.After(30 * time.Second):
		t.Fatal("Run did not return 30s after its context ended")
	}
	if entries, err := os.ReadDir(filepath.Join(e.stateDir, "inprocess-agent", "pods")); err == nil {
		t.Errorf("pod directories left after Run: %v", entries)
	}
	logs, _ := filepath.Glob(filepath.Join(e.stateDir, "inprocess-agent", "logs", "*", "main.log"))
	if len(logs) != 4 {
		t.Errorf("container logs kept: %v, want 4", logs)
	}
}

// testService runs a server pod behind a Service and a client pod that
// reaches it by the Service's DNS name: /etc/hosts names the ClusterIP,
// the agent's proxy forwards to the pod's own address and port.
func (e *env) testService(t *testing.T) {
	server := shPod("agent-test-server", `exec python3 -c '
import socket
s = socket.socket()
s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
s.bind(("", 7000))
s.listen()
while True:
    c, _ = s.accept()
    c.sendall(b"pong\n")
    c.close()
'`)
	server.Labels = map[string]string{"app": "agent-test-server"}
	// Ready (and so an endpoint) only once it listens.
	server.Spec.Containers[0].Ports = []corev1.ContainerPort{{Name: "echo", ContainerPort: 7000}}
	server.Spec.Containers[0].ReadinessProbe = &corev1.Probe{
		ProbeHandler:  corev1.ProbeHandler{TCPSocket: &corev1.TCPSocketAction{Port: intstr.FromString("echo")}},
		PeriodSeconds: 1,
	}
	e.create(t, server)
	svc := &corev1.Service{
		ObjectMeta: metav1.ObjectMeta{Name: "agent-test-svc"},
		Spec: corev1.ServiceSpec{
			Selector: map[string]string{"app": "agent-test-server"},
			Ports:    []corev1.ServicePort{{Name: "echo", Port: 80, TargetPort: intstr.FromInt32(7000)}},
		},
	}
	if _, err := e.kc.CoreV1().Services(e.ns).Create(e.ctx, svc, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	defer func() {
		_ = e.kc.CoreV1().Services(e.ns).Delete(context.WithoutCancel(e.ctx), svc.Name, metav1.DeleteOptions{})
		_ = e.kc.CoreV1().Pods(e.ns).Delete(context.WithoutCancel(e.ctx), server.Name, metav1.DeleteOptions{})
	}()
	// The endpoint appears once the server pod is Ready; until then the
	// proxy closes connections, so the client retries.
	client := shPod("agent-test-client", `for i in $(seq 1 40); do
  if out=$(timeout 2 bash -c 'exec 3<>/dev/tcp/agent-test-svc.`+e.ns+`.svc/80; head -n1 <&3' 2>/dev/null) && test "$out" = pong; then echo reached; exit 0; fi
  sleep 0.5
done
exit 1`)
	created := e.create(t, client)
	done := e.waitPod(t, created.Name, time.Minute, "finished", func(p *corev1.Pod) bool {
		return p.Status.Phase == corev1.PodSucceeded || p.Status.Phase == corev1.PodFailed
	})
	if done.Status.Phase != corev1.PodSucceeded {
		e.dump(t, done)
		t.Fatalf("client phase %s: the Service did not lead to the server", done.Status.Phase)
	}
	e.waitPod(t, server.Name, 10*time.Second, "Ready by its readiness probe", func(p *corev1.Pod) bool {
		for _, c := range p.Status.Conditions {
			if c.Type == corev1.PodReady {
				return c.Status == corev1.ConditionTrue
			}
		}
		return false
	})
}
