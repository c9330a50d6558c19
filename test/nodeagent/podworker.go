package nodeagent

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"time"

	"go.uber.org/zap"
	authenticationv1 "k8s.io/api/authentication/v1"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/client-go/util/retry"
)

// errAPI marks a failed apiserver call while setting a pod up; like a
// missing object, it is retried.
var errAPI = errors.New("apiserver")

const (
	// setUpRetry is the pause between attempts to set a pod up while a
	// Secret, ConfigMap or ServiceAccount it needs is missing.
	setUpRetry = 2 * time.Second
	// maxTerminationMessage is a kubelet's limit for a termination message.
	maxTerminationMessage = 4096
	// Tail of the log used as message by FallbackToLogsOnError.
	fallbackLogLines = 80
	fallbackLogBytes = 2048
	apiTimeout       = 10 * time.Second
)

// podWorker runs one pod, from its first sight on this node until the
// pod object is gone (or the agent stops).
type podWorker struct {
	a   *Agent
	log *zap.Logger
	uid types.UID
	// dir holds volumes and containers' scratch directories; logDir
	// holds container output and outlives the pod.
	dir, logDir string

	mu    sync.Mutex
	pod   *corev1.Pod
	state *podState
	// conds are the conditions last reported (for transition times).
	conds []corev1.PodCondition
	// stop is closed when deleting, gone or shutdown is; grace is the
	// shortest grace period asked for.
	stop, deleting, gone, shutdown chan struct{}
	grace                          time.Duration
	// killed is set when a container was stopped before it ended.
	killed bool

	// pushMu keeps status reports in order.
	pushMu sync.Mutex

	// net is the pod's network namespace (nil on the host network); it
	// is set before containers are prepared and released after they end.
	net *podNetwork
}

// podIP is the pod's address: its own namespace's, or the node's.
func (w *podWorker) podIP() string {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.podIPLocked()
}

func (w *podWorker) podIPLocked() string {
	if w.net != nil {
		return w.net.ip.String()
	}
	return w.a.nodeIP
}

// preparedContainer is a container ready to start.
type preparedContainer struct {
	name string
	// startErr says why the container cannot start at all.
	startErr          string
	spec              *containerSpec
	specPath, logPath string
	termLog           string
	fallbackToLogs    bool
	id                string
	container         *corev1.Container
}

func newPodWorker(a *Agent, pod *corev1.Pod) *podWorker {
	base := fmt.Sprintf("%s_%s_%s", pod.Namespace, pod.Name, pod.UID)
	w := &podWorker{
		a:        a,
		log:      a.log.With(podField(pod)),
		uid:      pod.UID,
		dir:      filepath.Join(a.podsDir(), base),
		logDir:   filepath.Join(a.logsDir(), base),
		pod:      pod,
		conds:    pod.Status.Conditions,
		stop:     make(chan struct{}),
		deleting: make(chan struct{}),
		gone:     make(chan struct{}),
		shutdown: make(chan struct{}),
	}
	if pod.DeletionTimestamp != nil {
		w.signal(w.deleting, deletionGrace(pod))
	}
	return w
}

// deletionGrace is how long a deleted pod's containers get to stop.
func deletionGrace(pod *corev1.Pod) time.Duration {
	switch {
	case pod.DeletionGracePeriodSeconds != nil:
		return time.Duration(*pod.DeletionGracePeriodSeconds) * time.Second
	case pod.Spec.TerminationGracePeriodSeconds != nil:
		return time.Duration(*pod.Spec.TerminationGracePeriodSeconds) * time.Second
	}
	return corev1.DefaultTerminationGracePeriodSeconds * time.Second
}

// update records the newest version of the pod; a deletion timestamp
// asks the worker to stop it.
func (w *podWorker) update(pod *corev1.Pod) {
	w.mu.Lock()
	w.pod = pod
	w.mu.Unlock()
	if pod.DeletionTimestamp != nil {
		w.signal(w.deleting, deletionGrace(pod))
	}
}

func (w *podWorker) signalGone(grace time.Duration)     { w.signal(w.gone, grace) }
func (w *podWorker) signalShutdown(grace time.Duration) { w.signal(w.shutdown, grace) }

func (w *podWorker) signal(ch chan struct{}, grace time.Duration) {
	w.mu.Lock()
	defer w.mu.Unlock()
	if closed(ch) {
		return
	}
	close(ch)
	if !closed(w.stop) || grace < w.grace {
		w.grace = grace
	}
	if !closed(w.stop) {
		close(w.stop)
	}
}

func closed(ch chan struct{}) bool {
	select {
	case <-ch:
		return true
	default:
		return false
	}
}

func (w *podWorker) currentPod() *corev1.Pod {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.pod
}

func (w *podWorker) stopGrace() time.Duration {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.grace
}

// run is the worker's goroutine.
func (w *podWorker) run() {
	pod := w.currentPod()
	switch {
	case pod.Status.Phase == corev1.PodSucceeded || pod.Status.Phase == corev1.PodFailed:
		// Finished before this agent saw it; it is only to be deleted.
	case startedBefore(pod):
		w.mu.Lock()
		w.state = stateFromStatus(pod, time.Now())
		w.mu.Unlock()
		w.fail("NodeAgentRestarted", "the node agent restarted while the pod ran; its containers are gone")
	default:
		w.log.Info("pod assigned", zap.String("event", "assigned"))
		w.execute()
	}
	w.mu.Lock()
	pn := w.net
	w.mu.Unlock()
	if pn != nil {
		// Every container has ended: nothing holds the namespace.
		w.a.nets.release(w.a.apiCtx, pn)
	}
	w.afterEnd()
}

// execute sets the pod up and runs its containers to the end, or until
// it is stopped, and reports the final status.
func (w *podWorker) execute() {
	pod := w.currentPod()
	w.mu.Lock()
	w.state = newPodState(pod, time.Now())
	w.mu.Unlock()
	w.push()

	if w.a.nets != nil && !pod.Spec.HostNetwork {
		ctx, cancel := context.WithTimeout(w.a.apiCtx, apiTimeout)
		pn, err := w.a.nets.setUp(ctx, pod.UID)
		cancel()
		if err != nil {
			w.log.Error("pod network", zap.String("event", "setup failed"), zap.Error(err))
			w.fail("NodeAgentNetworkError", err.Error())
			return
		}
		w.mu.Lock()
		w.net = pn
		w.mu.Unlock()
	}
	inits, mains, err := w.setUp()
	if err != nil {
		if !closed(w.stop) {
			w.log.Error("pod set-up failed", zap.String("event", "setup failed"), zap.Error(err))
			w.fail("NodeAgentSetUpError", err.Error())
			return
		}
		w.stopped()
		return
	}
	w.mu.Lock()
	w.state.volumesReady = true
	w.mu.Unlock()

	for i, pc := range inits {
		if closed(w.stop) {
			w.stopped()
			return
		}
		if st := w.runContainer(true, i, pc); st.exitCode != 0 {
			w.log.Info("init container failed", zap.String("event", "pod failed"), zap.String("container", pc.name), zap.Int32("exitCode", st.exitCode))
			w.finish()
			return
		}
	}
	if closed(w.stop) {
		w.stopped()
		return
	}
	var wg sync.WaitGroup
	for i, pc := range mains {
		wg.Add(1)
		go func() {
			defer wg.Done()
			w.runContainer(false, i, pc)
		}()
	}
	wg.Wait()
	if closed(w.stop) {
		w.stopped()
		return
	}
	w.finish()
}

// stopped reports a pod whose run was cut short (deleted, or the agent
// shutting down) as Failed, unless it finished by itself.
func (w *podWorker) stopped() {
	w.mu.Lock()
	if w.state != nil && (w.killed || !isFinal(podPhase(w.state))) {
		if closed(w.shutdown) {
			w.state.failReason, w.state.failMessage = "NodeAgentShutdown", "the node agent shut down while the pod ran"
		} else {
			w.state.failReason, w.state.failMessage = "Terminated", "the pod was deleted while it ran"
		}
	}
	w.mu.Unlock()
	w.finish()
}

func (w *podWorker) fail(reason, message string) {
	w.mu.Lock()
	if w.state == nil {
		w.state = newPodState(w.pod, time.Now())
	}
	w.state.failReason, w.state.failMessage = reason, message
	w.mu.Unlock()
	w.finish()
}

// finish reports the final status, retrying for a while: the Argo
// controller waits for it.
func (w *podWorker) finish() {
	w.mu.Lock()
	phase := podPhase(w.state)
	w.mu.Unlock()
	w.log.Info("pod finished", zap.String("event", "finished"), zap.String("phase", string(phase)), zap.String("logs", w.logDir))
	deadline := time.Now().Add(time.Minute)
	for {
		err := w.push()
		if err == nil || closed(w.gone) || time.Now().After(deadline) {
			return
		}
		select {
		case <-w.gone:
			return
		case <-time.After(time.Second):
		}
	}
}

// afterEnd removes the pod directory after CleanupDelay (sooner when
// the pod is deleted) and, once the pod is deleted, removes the pod
// object as a kubelet does when it has stopped everything.
func (w *podWorker) afterEnd() {
	t := time.NewTimer(w.a.cfg.CleanupDelay)
	select {
	case <-t.C:
	case <-w.stop:
	}
	t.Stop()
	if err := os.RemoveAll(w.dir); err != nil {
		w.log.Warn("remove pod directory", zap.String("event", "cleanup"), zap.Error(err))
	} else {
		w.log.Debug("pod directory removed", zap.String("event", "cleanup"), zap.String("dir", w.dir))
	}
	<-w.stop
	if closed(w.deleting) && !closed(w.gone) {
		w.deleteObject()
	}
}

func (w *podWorker) deleteObject() {
	pod := w.currentPod()
	zero := int64(0)
	uid := w.uid
	err := retry.OnError(retry.DefaultBackoff, isTransient, func() error {
		ctx, cancel := context.WithTimeout(w.a.apiCtx, apiTimeout)
		defer cancel()
		return w.a.kc.CoreV1().Pods(pod.Namespace).Delete(ctx, pod.Name, metav1.DeleteOptions{
			GracePeriodSeconds: &zero,
			Preconditions:      &metav1.Preconditions{UID: &uid},
		})
	})
	if err != nil && !apierrors.IsNotFound(err) && !apierrors.IsConflict(err) {
		w.log.Error("delete pod", zap.String("event", "delete"), zap.Error(err))
		return
	}
	w.log.Info("pod deleted", zap.String("event", "deleted"))
}

// setUp builds the volumes and every container's spec. While something
// the pod needs is missing it keeps trying (as a kubelet does), showing
// why in the waiting containers' status; it gives up only on errors that
// cannot go away, or when the pod is stopped.
func (w *podWorker) setUp() (inits, mains []*preparedContainer, err error) {
	for attempt := 1; ; attempt++ {
		inits, mains, err = w.prepare()
		if err == nil {
			return inits, mains, nil
		}
		if !errors.Is(err, errMissingObject) && !errors.Is(err, errAPI) {
			return nil, nil, err
		}
		if attempt == 1 || attempt%15 == 0 {
			w.log.Warn("pod waits", zap.String("event", "waiting"), zap.Error(err))
		}
		w.mu.Lock()
		for _, list := range [][]containerState{w.state.init, w.state.main} {
			for i := range list {
				list[i].reason, list[i].message = "CreateContainerConfigError", err.Error()
			}
		}
		w.mu.Unlock()
		w.push()
		select {
		case <-w.stop:
			return nil, nil, fmt.Errorf("stopped while waiting: %w", err)
		case <-time.After(setUpRetry):
		}
	}
}

func (w *podWorker) prepare() (inits, mains []*preparedContainer, err error) {
	pod := w.currentPod()
	ctx, cancel := context.WithTimeout(w.a.apiCtx, 3*apiTimeout)
	defer cancel()
	objs, err := fetchObjects(ctx, w.a.kc, pod, w.a.clusterCA)
	if err != nil {
		return nil, nil, fmt.Errorf("%w: %w", errAPI, err)
	}
	vb := &volumeBuilder{
		pod:         pod,
		dir:         filepath.Join(w.dir, "volumes"),
		objects:     objs,
		token:       w.token,
		podIP:       w.podIP(),
		hostIP:      w.a.nodeIP,
		allocatable: nodeResources(),
	}
	volumes, err := vb.build(ctx)
	if err != nil {
		return nil, nil, err
	}
	for i := range pod.Spec.InitContainers {
		pc, err := w.prepareContainer(pod, &pod.Spec.InitContainers[i], volumes, objs)
		if err != nil {
			return nil, nil, err
		}
		inits = append(inits, pc)
	}
	for i := range pod.Spec.Containers {
		pc, err := w.prepareContainer(pod, &pod.Spec.Containers[i], volumes, objs)
		if err != nil {
			return nil, nil, err
		}
		mains = append(mains, pc)
	}
	return inits, mains, nil
}

func (w *podWorker) prepareContainer(pod *corev1.Pod, c *corev1.Container, volumes map[string]string, objs *podObjects) (*preparedContainer, error) {
	images := w.a.cfg.Images
	env, err := buildEnv(envContext{
		pod:         pod,
		container:   c,
		objects:     objs,
		path:        images.Path(c.Image),
		apiHost:     w.a.apiHost,
		apiPort:     w.a.apiPort,
		podIP:       w.podIP(),
		hostIP:      w.a.nodeIP,
		allocatable: nodeResources(),
	})
	if err != nil {
		return nil, err
	}
	// A container that cannot start fails by itself (StartError), as on
	// a kubelet; the pod's other containers still run.
	argv, argvErr := containerArgv(c, images, env)
	var startErr string
	if argvErr != nil {
		startErr = argvErr.Error()
	}
	cdir := filepath.Join(w.dir, "containers", c.Name)
	var scratch [][2]string
	for _, p := range w.a.cfg.ScratchPaths {
		d := filepath.Join(cdir, "scratch", scratchDirName(p))
		if err := os.MkdirAll(d, 0o755); err != nil {
			return nil, fmt.Errorf("container %s: scratch dir: %w", c.Name, err)
		}
		// Like /tmp: anyone may write, only owners delete.
		if err := os.Chmod(d, os.ModeSticky|0o777); err != nil {
			return nil, fmt.Errorf("container %s: scratch dir: %w", c.Name, err)
		}
		scratch = append(scratch, [2]string{p, d})
	}
	termLog := filepath.Join(cdir, "termination-log")
	if err := os.WriteFile(termLog, nil, 0o666); err != nil {
		return nil, fmt.Errorf("container %s: termination log: %w", c.Name, err)
	}
	if err := os.Chmod(termLog, 0o666); err != nil {
		return nil, fmt.Errorf("container %s: termination log: %w", c.Name, err)
	}
	var hosts string
	if w.a.proxy != nil {
		hosts = filepath.Join(cdir, "hosts")
		if err := writeHostsFile(hosts, hostsFile(w.podIP(), podHostname(pod), pod.Namespace, w.a.proxy.names())); err != nil {
			return nil, fmt.Errorf("container %s: %w", c.Name, err)
		}
	}
	binDir, _ := images.BinDir(c.Image)
	mounts, err := planMounts(mountInputs{
		hosts:          hosts,
		container:      c,
		volumes:        volumes,
		scratch:        scratch,
		terminationLog: termLog,
		binDir:         binDir,
		environ:        env,
	})
	if err != nil {
		return nil, fmt.Errorf("container %s: %w", c.Name, err)
	}
	// A subPath that does not exist yet becomes a directory, as on a
	// kubelet (Argo mounts subPaths of an emptyDir).
	for _, m := range mounts {
		if _, err := os.Stat(m.Source); errors.Is(err, os.ErrNotExist) {
			if err := os.MkdirAll(m.Source, 0o755); err != nil {
				return nil, fmt.Errorf("container %s: mount source: %w", c.Name, err)
			}
		}
	}
	return &preparedContainer{
		name:     c.Name,
		startErr: startErr,
		spec: &containerSpec{
			Pod:        pod.Namespace + "/" + pod.Name,
			Container:  c.Name,
			Hostname:   podHostname(pod),
			Argv:       argv,
			Env:        env,
			WorkingDir: c.WorkingDir,
			Mounts:     mounts,
			NetNS:      netNSPath(w.net),
		},
		specPath:       filepath.Join(cdir, "spec.json"),
		logPath:        filepath.Join(w.logDir, c.Name+".log"),
		termLog:        termLog,
		fallbackToLogs: c.TerminationMessagePolicy == corev1.TerminationMessageFallbackToLogsOnError,
		id:             fmt.Sprintf("nodeagent://%s-%s", pod.UID, c.Name),
		container:      c,
	}, nil
}

// token is a TokenRequest for the pod's service account, bound to the pod.
func (w *podWorker) token(ctx context.Context, audience string, expirationSeconds int64) ([]byte, error) {
	pod := w.currentPod()
	sa := pod.Spec.ServiceAccountName
	if sa == "" {
		sa = "default"
	}
	tr := &authenticationv1.TokenRequest{Spec: authenticationv1.TokenRequestSpec{
		ExpirationSeconds: &expirationSeconds,
		BoundObjectRef:    &authenticationv1.BoundObjectReference{Kind: "Pod", APIVersion: "v1", Name: pod.Name, UID: pod.UID},
	}}
	if audience != "" {
		tr.Spec.Audiences = []string{audience}
	}
	res, err := w.a.kc.CoreV1().ServiceAccounts(pod.Namespace).CreateToken(ctx, sa, tr, metav1.CreateOptions{})
	switch {
	case apierrors.IsNotFound(err):
		return nil, fmt.Errorf("service account %q: %w", sa, errMissingObject)
	case err != nil:
		return nil, fmt.Errorf("token for service account %q: %w: %w", sa, errAPI, err)
	}
	return []byte(res.Status.Token), nil
}

// runContainer runs one container to its end (or until the pod is
// stopped) and records its states.
func (w *podWorker) runContainer(init bool, i int, pc *preparedContainer) containerState {
	log := w.log.With(zap.String("container", pc.name))
	var p *containerProcess
	err := errors.New(pc.startErr)
	if pc.startErr == "" {
		p, err = w.a.runner.start(pc.spec, pc.specPath, pc.logPath, func(path string) {
			if err := w.a.hostPaths.add(path); err != nil {
				log.Warn("record host mount point", zap.String("path", path), zap.Error(err))
			}
		})
	}
	if err != nil {
		now := time.Now()
		st := terminatedState(containerResult{ExitCode: 128, StartError: err.Error(), StartedAt: now, FinishedAt: now}, "", pc.id)
		log.Error("container did not start", zap.String("event", "start failed"), zap.Error(err))
		w.setContainer(init, i, st)
		w.push()
		return st
	}
	select {
	case <-p.started:
	case <-w.stop:
		w.markKilled()
		p.stop(w.stopGrace())
	}
	if !p.startedAt.IsZero() {
		log.Info("container started", zap.String("event", "started"), zap.String("log", pc.logPath))
		probe := pc.container.ReadinessProbe
		if init {
			probe = nil
		}
		w.setContainer(init, i, containerState{phase: containerRunning, startedAt: p.startedAt, containerID: pc.id, unready: probe != nil})
		w.push()
		if probe != nil {
			ctx, cancel := context.WithCancel(context.Background())
			defer cancel()
			go probeLoop(ctx, probe, pc.container, w.podIP(), func(ready bool, err error) {
				log.Info("readiness changed", zap.String("event", "readiness"), zap.Bool("ready", ready), zap.Error(err))
				w.mu.Lock()
				if st := &w.state.main[i]; st.phase == containerRunning {
					st.unready = !ready
				}
				w.mu.Unlock()
				w.push()
			})
		}
	}
	select {
	case <-p.done:
	case <-w.stop:
		log.Info("stopping container", zap.String("event", "stopping"), zap.Duration("grace", w.stopGrace()))
		w.markKilled()
		p.stop(w.stopGrace())
	}
	res := p.result
	st := terminatedState(res, terminationMessage(pc, res), pc.id)
	fields := []zap.Field{zap.String("event", "terminated"), zap.Int32("exitCode", res.ExitCode), zap.String("reason", st.reason)}
	if res.StartError != "" {
		fields = append(fields, zap.String("error", res.StartError))
	}
	log.Info("container ended", fields...)
	w.setContainer(init, i, st)
	w.push()
	return st
}

func (w *podWorker) markKilled() {
	w.mu.Lock()
	defer w.mu.Unlock()
	w.killed = true
}

func (w *podWorker) setContainer(init bool, i int, st containerState) {
	w.mu.Lock()
	defer w.mu.Unlock()
	if init {
		w.state.init[i] = st
	} else {
		w.state.main[i] = st
	}
}

// terminationMessage is what the container wrote to its termination
// message file or, with FallbackToLogsOnError after a failure and
// nothing written, the end of its log.
func terminationMessage(pc *preparedContainer, res containerResult) string {
	msg := strings.TrimSpace(readAtMost(pc.termLog, maxTerminationMessage, false))
	if msg == "" && pc.fallbackToLogs && res.ExitCode != 0 {
		tail := readAtMost(pc.logPath, fallbackLogBytes, true)
		lines := strings.Split(strings.TrimRight(tail, "\n"), "\n")
		if len(lines) > fallbackLogLines {
			lines = lines[len(lines)-fallbackLogLines:]
		}
		msg = strings.Join(lines, "\n")
	}
	return msg
}

// readAtMost reads up to n bytes from the start (or the end) of a file.
func readAtMost(path string, n int64, fromEnd bool) string {
	f, err := os.Open(path)
	if err != nil {
		return ""
	}
	defer f.Close()
	if fromEnd {
		if fi, err := f.Stat(); err == nil && fi.Size() > n {
			if _, err := f.Seek(-n, io.SeekEnd); err != nil {
				return ""
			}
		}
	}
	data, _ := io.ReadAll(io.LimitReader(f, n))
	return string(data)
}

// statusPatch carries the pod's UID, which makes the patch fail on a
// different pod of the same name.
type statusPatch struct {
	Metadata struct {
		UID types.UID `json:"uid"`
	} `json:"metadata"`
	Status corev1.PodStatus `json:"status"`
}

// push reports the pod's current status (pods/status, JSON merge patch:
// the container status lists are replaced as a whole).
func (w *podWorker) push() error {
	w.pushMu.Lock()
	defer w.pushMu.Unlock()
	w.mu.Lock()
	if closed(w.gone) || w.state == nil {
		w.mu.Unlock()
		return nil
	}
	pod := w.pod
	st := buildStatus(pod, w.state, w.conds, w.podIPLocked(), w.a.nodeIP, time.Now())
	w.mu.Unlock()

	var patch statusPatch
	patch.Metadata.UID = w.uid
	patch.Status = st
	body, err := json.Marshal(patch)
	if err != nil {
		return fmt.Errorf("status patch: %w", err)
	}
	err = retry.OnError(retry.DefaultBackoff, isTransient, func() error {
		ctx, cancel := context.WithTimeout(w.a.apiCtx, apiTimeout)
		defer cancel()
		_, err := w.a.kc.CoreV1().Pods(pod.Namespace).Patch(ctx, pod.Name, types.MergePatchType, body, metav1.PatchOptions{}, "status")
		return err
	})
	switch {
	case err == nil:
		w.mu.Lock()
		w.conds = st.Conditions
		w.mu.Unlock()
		w.log.Debug("status reported", zap.String("event", "status"), zap.String("phase", string(st.Phase)))
		return nil
	case apierrors.IsNotFound(err):
		return nil
	}
	w.log.Warn("status report failed", zap.String("event", "status"), zap.Error(err))
	return fmt.Errorf("report status of %s/%s: %w", pod.Namespace, pod.Name, err)
}

func isFinal(p corev1.PodPhase) bool {
	return p == corev1.PodSucceeded || p == corev1.PodFailed
}

func netNSPath(pn *podNetwork) string {
	if pn == nil {
		return ""
	}
	return pn.nsPath()
}
