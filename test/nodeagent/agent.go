package nodeagent

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/url"
	"os"
	"path/filepath"
	"sync"
	"time"

	"go.uber.org/zap"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/fields"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/client-go/informers"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/tools/cache"
	"k8s.io/client-go/tools/clientcmd"
	"k8s.io/client-go/util/retry"
)

// hostNetworkIP is the node's and every pod's IP without a Network:
// containers then share the host's network.
const hostNetworkIP = "127.0.0.1"

// Config configures an Agent.
type Config struct {
	// Kubeconfig is the file the agent talks to the apiserver with.
	Kubeconfig string
	// NodeName is the Node the agent registers and runs pods for.
	NodeName string
	// StateDir holds pods/ (per-pod volumes and container scratch
	// directories, removed when a pod ends), logs/ (container output,
	// kept) and the list of host mount points containers created.
	StateDir string
	// Images maps image repositories to host binary directories.
	Images ImageMap
	// ScratchPaths get a private empty directory in every container.
	// Default DefaultScratchPaths().
	ScratchPaths []string
	// StopGrace is how long a container gets between SIGTERM and SIGKILL
	// when the agent shuts down. Default 5s.
	StopGrace time.Duration
	// CleanupDelay is how long a finished pod's directory stays before it
	// is removed. Default 5s.
	CleanupDelay time.Duration
	// Heartbeat is how often the Node status and Lease are renewed.
	// Default 10s.
	Heartbeat time.Duration
	// Network, when set, gives pods their own network namespaces and
	// proxies Services; without it every pod uses the host network.
	Network *Network
	// Exe is the binary that runs ContainerInit for InitCommand.
	// Default /proc/self/exe.
	Exe    string
	Logger *zap.Logger
}

func (c Config) withDefaults() (Config, error) {
	if c.Kubeconfig == "" || c.NodeName == "" || c.StateDir == "" {
		return c, errors.New("node agent: kubeconfig, node name and state dir are required")
	}
	if c.ScratchPaths == nil {
		c.ScratchPaths = DefaultScratchPaths()
	}
	for i, p := range c.ScratchPaths {
		if !filepath.IsAbs(p) || filepath.Clean(p) == "/" {
			return c, fmt.Errorf("scratch path %q: want an absolute path other than /", p)
		}
		c.ScratchPaths[i] = filepath.Clean(p)
	}
	if c.StopGrace <= 0 {
		c.StopGrace = 5 * time.Second
	}
	if c.CleanupDelay <= 0 {
		c.CleanupDelay = 5 * time.Second
	}
	if c.Heartbeat <= 0 {
		c.Heartbeat = 10 * time.Second
	}
	if c.Exe == "" {
		c.Exe = "/proc/self/exe"
	}
	if c.Logger == nil {
		c.Logger = zap.NewNop()
	}
	dir, err := filepath.Abs(c.StateDir)
	if err != nil {
		return c, fmt.Errorf("state dir: %w", err)
	}
	c.StateDir = dir
	return c, nil
}

// Agent is a running node agent.
type Agent struct {
	cfg       Config
	log       *zap.Logger
	kc        kubernetes.Interface
	apiHost   string
	apiPort   string
	clusterCA []byte
	runner    *runner
	node      *nodeClient
	// nodeIP is the node's address (the bridge's with a Network).
	nodeIP string
	// nets and proxy are nil without a Network.
	nets      *podNetworks
	proxy     *serviceProxy
	hostPaths *hostPaths

	// apiCtx outlives Run's context, so that pods can still be reported
	// and deleted during shutdown; every call bounds it with a timeout.
	apiCtx context.Context

	mu       sync.Mutex
	stopping bool
	pods     map[types.UID]*podWorker
	binding  map[types.UID]bool
	workers  sync.WaitGroup
}

// New checks cfg and connects to the apiserver (nothing is contacted yet).
func New(cfg Config) (*Agent, error) {
	cfg, err := cfg.withDefaults()
	if err != nil {
		return nil, err
	}
	rc, err := clientcmd.BuildConfigFromFlags("", cfg.Kubeconfig)
	if err != nil {
		return nil, fmt.Errorf("kubeconfig %s: %w", cfg.Kubeconfig, err)
	}
	rc.UserAgent = "kfpargo-nodeagent/" + cfg.NodeName
	// Several pods start at once, each with a few calls.
	rc.QPS, rc.Burst = 50, 100
	kc, err := kubernetes.NewForConfig(rc)
	if err != nil {
		return nil, fmt.Errorf("kubernetes client: %w", err)
	}
	host, port, err := apiserverHostPort(rc.Host)
	if err != nil {
		return nil, err
	}
	ca := rc.CAData
	if len(ca) == 0 && rc.CAFile != "" {
		if ca, err = os.ReadFile(rc.CAFile); err != nil {
			return nil, fmt.Errorf("kubeconfig CA: %w", err)
		}
	}
	log := cfg.Logger.With(zap.String("node", cfg.NodeName))
	a := &Agent{
		cfg:       cfg,
		log:       log,
		kc:        kc,
		apiHost:   host,
		apiPort:   port,
		clusterCA: ca,
		runner:    newRunner(cfg.Exe),
		nodeIP:    hostNetworkIP,
		pods:      map[types.UID]*podWorker{},
		binding:   map[types.UID]bool{},
	}
	if cfg.Network != nil {
		n := *cfg.Network
		if n.APIServer == "" {
			n.APIServer = net.JoinHostPort(host, port)
		}
		a.cfg.Network = &n
		if a.nets, err = newPodNetworks(&n); err != nil {
			return nil, err
		}
		a.nodeIP = n.Gateway().String()
		// Pods reach the apiserver as in a cluster: through the
		// kubernetes Service, which the service proxy answers.
		a.apiHost, a.apiPort = n.KubernetesIP().String(), "443"
	}
	a.node = &nodeClient{kc: kc, name: cfg.NodeName, ip: a.nodeIP, log: log}
	return a, nil
}

// apiserverHostPort is what the kubernetes Service variables point at.
// Containers share the host network, so a loopback apiserver is reachable
// as it is.
func apiserverHostPort(server string) (string, string, error) {
	u, err := url.Parse(server)
	if err != nil || u.Host == "" {
		return "", "", fmt.Errorf("apiserver URL %q: want https://HOST[:PORT]", server)
	}
	port := u.Port()
	if port == "" {
		port = "443"
		if u.Scheme == "http" {
			port = "80"
		}
	}
	// In-cluster clients build https://HOST:PORT from the variables and
	// check the serving certificate against HOST, so the kubeconfig's
	// host is passed on as it is.
	return u.Hostname(), port, nil
}

// Run registers the Node, runs pods until ctx ends, then stops every
// container, reports their pods Failed, marks the Node NotReady and
// removes the mount points containers created on the host. Call it once.
func (a *Agent) Run(ctx context.Context) error {
	a.apiCtx = context.WithoutCancel(ctx)
	if err := a.prepareStateDir(); err != nil {
		return err
	}
	if err := a.registerNode(ctx); err != nil {
		return err
	}
	a.log.Info("node registered", zap.String("event", "node ready"))

	stopRunner := make(chan struct{})
	go a.runner.serve(stopRunner)
	defer close(stopRunner)

	hbCtx, stopHeartbeat := context.WithCancel(ctx)
	var hb sync.WaitGroup
	hb.Add(1)
	go func() {
		defer hb.Done()
		a.node.heartbeat(hbCtx, a.cfg.Heartbeat)
	}()

	informerStop := make(chan struct{})
	if a.nets != nil {
		a.nets.removeStale(ctx)
		if err := a.startServiceProxy(ctx, informerStop); err != nil {
			close(informerStop)
			stopHeartbeat()
			return err
		}
	}
	factories := []informers.SharedInformerFactory{
		a.podInformerFactory(""),
		a.podInformerFactory(a.cfg.NodeName),
	}
	for _, f := range factories {
		inf := f.Core().V1().Pods().Informer()
		if _, err := inf.AddEventHandler(cache.ResourceEventHandlerFuncs{
			AddFunc:    func(obj any) { a.podChanged(obj) },
			UpdateFunc: func(_, obj any) { a.podChanged(obj) },
			DeleteFunc: a.podDeleted,
		}); err != nil {
			close(informerStop)
			stopHeartbeat()
			return fmt.Errorf("pod informer: %w", err)
		}
		f.Start(informerStop)
	}
	for _, f := range factories {
		for typ, ok := range f.WaitForCacheSync(ctx.Done()) {
			if !ok && ctx.Err() == nil {
				a.log.Error("informer cache did not sync", zap.String("type", typ.String()))
			}
		}
	}
	a.log.Info("watching pods", zap.String("event", "watching"))

	<-ctx.Done()
	a.log.Info("shutting down", zap.String("event", "shutdown"))
	a.mu.Lock()
	a.stopping = true
	workers := make([]*podWorker, 0, len(a.pods))
	for _, w := range a.pods {
		workers = append(workers, w)
	}
	a.mu.Unlock()
	close(informerStop)
	for _, f := range factories {
		f.Shutdown()
	}
	for _, w := range workers {
		w.signalShutdown(a.cfg.StopGrace)
	}
	a.workers.Wait()
	stopHeartbeat()
	hb.Wait()

	var errs []error
	if a.proxy != nil {
		if err := a.proxy.close(); err != nil {
			errs = append(errs, err)
		}
	}
	if a.nets != nil {
		a.nets.releaseAll(a.apiCtx)
	}
	nctx, cancel := context.WithTimeout(a.apiCtx, 10*time.Second)
	if err := a.node.setStatus(nctx, false, "NodeAgentStopped", "the node agent has shut down"); err != nil {
		errs = append(errs, err)
	}
	cancel()
	if err := a.hostPaths.removeAll(); err != nil {
		errs = append(errs, fmt.Errorf("remove host mount points: %w", err))
	}
	if err := os.RemoveAll(a.podsDir()); err != nil {
		errs = append(errs, fmt.Errorf("remove pod directories: %w", err))
	}
	a.log.Info("stopped", zap.String("event", "stopped"), zap.Errors("errors", errs))
	return errors.Join(errs...)
}

// startServiceProxy watches Services and EndpointSlices and proxies
// ClusterIPs until stop is closed; it returns once the caches are synced.
func (a *Agent) startServiceProxy(ctx context.Context, stop <-chan struct{}) error {
	f := informers.NewSharedInformerFactory(a.kc, 0)
	svcInf := f.Core().V1().Services()
	sliceInf := f.Discovery().V1().EndpointSlices()
	a.proxy = newServiceProxy(a.log, a.cfg.Network, svcInf.Lister(), sliceInf.Lister())
	sync := func(any) { a.proxy.sync() }
	if _, err := svcInf.Informer().AddEventHandler(cache.ResourceEventHandlerFuncs{
		AddFunc:    sync,
		UpdateFunc: func(_, obj any) { sync(obj) },
		DeleteFunc: sync,
	}); err != nil {
		return fmt.Errorf("service informer: %w", err)
	}
	_ = sliceInf.Informer()
	f.Start(stop)
	for typ, ok := range f.WaitForCacheSync(ctx.Done()) {
		if !ok {
			return fmt.Errorf("service proxy: %s cache did not sync", typ)
		}
	}
	a.proxy.sync()
	return nil
}

// registerNode registers the Node, retrying for a minute: the apiserver
// may still be coming up.
func (a *Agent) registerNode(ctx context.Context) error {
	ctx, cancel := context.WithTimeout(ctx, time.Minute)
	defer cancel()
	for {
		err := a.node.register(ctx)
		if err == nil {
			return nil
		}
		a.log.Warn("node registration failed; retrying", zap.String("event", "register"), zap.Error(err))
		select {
		case <-ctx.Done():
			return err
		case <-time.After(time.Second):
		}
	}
}

func (a *Agent) isStopping() bool {
	a.mu.Lock()
	defer a.mu.Unlock()
	return a.stopping
}

func (a *Agent) podsDir() string { return filepath.Join(a.cfg.StateDir, "pods") }
func (a *Agent) logsDir() string { return filepath.Join(a.cfg.StateDir, "logs") }

// prepareStateDir removes what a crashed previous run left: pod
// directories (no container can still use them: containers die with
// their agent) and the host mount points it recorded.
func (a *Agent) prepareStateDir() error {
	if err := os.RemoveAll(a.podsDir()); err != nil {
		return fmt.Errorf("state dir: remove old pod directories: %w", err)
	}
	for _, d := range []string{a.podsDir(), a.logsDir()} {
		if err := os.MkdirAll(d, 0o755); err != nil {
			return fmt.Errorf("state dir: %w", err)
		}
	}
	hp, err := loadHostPaths(filepath.Join(a.cfg.StateDir, "host-paths.json"))
	if err != nil {
		return err
	}
	if err := hp.removeAll(); err != nil {
		a.log.Warn("host mount points of a previous run", zap.Error(err))
	}
	a.hostPaths = hp
	return nil
}

// podInformerFactory watches the pods on node ("" means not scheduled).
func (a *Agent) podInformerFactory(node string) informers.SharedInformerFactory {
	sel := fields.OneTermEqualSelector("spec.nodeName", node).String()
	return informers.NewSharedInformerFactoryWithOptions(a.kc, 0,
		informers.WithTweakListOptions(func(o *metav1.ListOptions) { o.FieldSelector = sel }))
}

func (a *Agent) podChanged(obj any) {
	pod, ok := obj.(*corev1.Pod)
	if !ok {
		return
	}
	switch pod.Spec.NodeName {
	case "":
		a.maybeBind(pod)
	case a.cfg.NodeName:
		a.podOnNode(pod)
	}
}

func (a *Agent) podDeleted(obj any) {
	if d, ok := obj.(cache.DeletedFinalStateUnknown); ok {
		obj = d.Obj
	}
	pod, ok := obj.(*corev1.Pod)
	if !ok || pod.Spec.NodeName != a.cfg.NodeName {
		return
	}
	a.mu.Lock()
	w := a.pods[pod.UID]
	delete(a.pods, pod.UID)
	a.mu.Unlock()
	if w != nil {
		w.signalGone(a.cfg.StopGrace)
	}
}

// maybeBind binds a pending pod meant for the default scheduler, which
// this agent stands in for.
func (a *Agent) maybeBind(pod *corev1.Pod) {
	if pod.Spec.SchedulerName != "" && pod.Spec.SchedulerName != corev1.DefaultSchedulerName {
		return
	}
	if pod.DeletionTimestamp != nil || pod.Status.Phase == corev1.PodSucceeded || pod.Status.Phase == corev1.PodFailed {
		return
	}
	a.mu.Lock()
	if a.stopping || a.binding[pod.UID] {
		a.mu.Unlock()
		return
	}
	a.binding[pod.UID] = true
	a.mu.Unlock()
	go func() {
		defer func() {
			a.mu.Lock()
			delete(a.binding, pod.UID)
			a.mu.Unlock()
		}()
		log := a.log.With(podField(pod))
		b := &corev1.Binding{
			ObjectMeta: metav1.ObjectMeta{Name: pod.Name, Namespace: pod.Namespace, UID: pod.UID},
			Target:     corev1.ObjectReference{APIVersion: "v1", Kind: "Node", Name: a.cfg.NodeName},
		}
		err := retry.OnError(retry.DefaultBackoff, isTransient, func() error {
			// A pod bound now would never run.
			if a.isStopping() {
				return errors.New("node agent is shutting down")
			}
			ctx, cancel := context.WithTimeout(a.apiCtx, 10*time.Second)
			defer cancel()
			return a.kc.CoreV1().Pods(pod.Namespace).Bind(ctx, b, metav1.CreateOptions{})
		})
		switch {
		case err == nil:
			log.Info("bound", zap.String("event", "bound"))
		case apierrors.IsConflict(err) || apierrors.IsNotFound(err):
			// Bound already, or gone.
		default:
			log.Error("bind failed", zap.String("event", "bind"), zap.Error(err))
		}
	}()
}

// podOnNode hands a pod bound to this node to its worker, starting one
// for a pod the agent has not seen.
func (a *Agent) podOnNode(pod *corev1.Pod) {
	a.mu.Lock()
	defer a.mu.Unlock()
	if w := a.pods[pod.UID]; w != nil {
		w.update(pod)
		return
	}
	if a.stopping {
		return
	}
	final := pod.Status.Phase == corev1.PodSucceeded || pod.Status.Phase == corev1.PodFailed
	if final && pod.DeletionTimestamp == nil {
		// Finished before this agent started; nothing to do until it is
		// deleted.
		return
	}
	w := newPodWorker(a, pod)
	a.pods[pod.UID] = w
	a.workers.Add(1)
	go func() {
		defer a.workers.Done()
		w.run()
	}()
}

// isTransient says whether an API error is worth retrying.
func isTransient(err error) bool {
	return apierrors.IsServerTimeout(err) || apierrors.IsTimeout(err) || apierrors.IsTooManyRequests(err) ||
		apierrors.IsInternalError(err) || apierrors.IsServiceUnavailable(err) || errors.Is(err, context.DeadlineExceeded) ||
		isConnectionError(err)
}

func isConnectionError(err error) bool {
	var ne net.Error
	return errors.As(err, &ne)
}

func podField(pod *corev1.Pod) zap.Field {
	return zap.String("pod", pod.Namespace+"/"+pod.Name)
}
