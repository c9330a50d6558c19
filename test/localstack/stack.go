package localstack

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"time"

	"github.com/kfpargo/kfpargo/install"
	"go.uber.org/zap"
	"k8s.io/client-go/rest"
)

// Stack is a running local stack.
type Stack struct {
	// StateDir and LogDir (<StateDir>/logs, one <process>.log each).
	StateDir, LogDir string
	// Kubeconfig is an admin (system:masters) kubeconfig file; RESTConfig
	// is the same as a client config.
	Kubeconfig   string
	RESTConfig   *rest.Config
	APIServerURL string
	// CAFile is the cluster CA (PEM) that signed the apiserver certificate.
	CAFile string
	// AuditLog receives JSON audit events for writes to Argo objects and pods.
	AuditLog string
	// Namespace is where workflows run (Namespace); NodeName the only node.
	Namespace, NodeName string
	// S3 is MinIO; the same values are in Secret S3SecretName in Namespace.
	S3Endpoint, S3AccessKey, S3SecretKey, Bucket string
	// RedisAddr is host:port of a Redis without password.
	RedisAddr string
	// SigningKey signs cache entries: the webhook's --hmac-key-file and
	// HMAC_KEY in Secret RedisSecretName, as an installation has them.
	SigningKey string
	// WebhookAddr serves the cache webhook's admissions (HTTPS);
	// WebhookProbeAddr its /healthz, /readyz and /metrics (HTTP). Empty
	// without a cache webhook.
	WebhookAddr, WebhookProbeAddr string
	// NodeIP is the node's address on the pod network (a host bridge):
	// MinIO and Redis listen on it so that pods reach them.
	NodeIP string
	// EnvFile is a shell file exporting KUBECONFIG and the KFPARGO_* variables.
	EnvFile  string
	Binaries *Binaries

	cfg     Config
	network *podNetwork
	lock    *os.File
	pki     *pki
	etcdURL string
	// apiServer is replaced by RestartAPIServer.
	apiServer     *child
	apiServerSpec childSpec
	children      []*child
	webhook       *child
	webhookSpec   childSpec
	redis         *child
	redisSpec     childSpec
	minio         *child
	minioSpec     childSpec
	exited        chan error
	downOnce      sync.Once
	downErr       error
}

// Up builds what is missing, cleans up after a crashed previous stack in
// the same state directory, and starts etcd, kube-apiserver,
// kube-controller-manager, the Argo CRDs and workflow-controller, MinIO,
// Redis and the node agent, each waited for until ready. On error
// everything started so far is stopped again.
func Up(ctx context.Context, cfg Config) (*Stack, error) {
	cfg, err := cfg.withDefaults()
	if err != nil {
		return nil, err
	}
	if os.Geteuid() != 0 {
		return nil, errors.New("the local stack needs root: its node agent runs containers in mount and PID namespaces (run as root, e.g. with sudo)")
	}
	lock, err := lockState(cfg.StateDir)
	if err != nil {
		return nil, err
	}
	s := &Stack{
		StateDir:   cfg.StateDir,
		LogDir:     filepath.Join(cfg.StateDir, "logs"),
		Kubeconfig: filepath.Join(cfg.StateDir, "kubeconfig"),
		AuditLog:   filepath.Join(cfg.StateDir, "logs", "audit.log"),
		EnvFile:    filepath.Join(cfg.StateDir, "env"),
		Namespace:  Namespace,
		NodeName:   NodeName,
		Bucket:     Bucket,
		cfg:        cfg,
		lock:       lock,
		exited:     make(chan error, 16),
	}
	if err := s.up(ctx); err != nil {
		if derr := s.Down(context.WithoutCancel(ctx)); derr != nil {
			cfg.Logger.Warn("cleanup after failed start", zap.Error(derr))
		}
		return nil, err
	}
	return s, nil
}

func (s *Stack) up(ctx context.Context) error {
	cfg := s.cfg
	if err := resetState(ctx, cfg, true); err != nil {
		return fmt.Errorf("clean up previous stack in %s: %w", cfg.StateDir, err)
	}
	for _, d := range []string{s.LogDir, filepath.Join(s.StateDir, "pids"), filepath.Join(s.StateDir, "home")} {
		if err := os.MkdirAll(d, 0o755); err != nil {
			return fmt.Errorf("state dir: %w", err)
		}
	}
	bins, err := build(ctx, cfg)
	if err != nil {
		return err
	}
	s.Binaries = bins
	if err := recordHostPaths(s.StateDir); err != nil {
		return err
	}
	start := time.Now()
	cfg.progressf("starting the local stack in %s ...", s.StateDir)
	if s.network, err = createNetwork(ctx, s.StateDir); err != nil {
		return err
	}
	s.NodeIP = s.network.Gateway().String()
	if s.pki, err = newPKI(filepath.Join(s.StateDir, "pki"), s.network.KubernetesIP().AsSlice()); err != nil {
		return err
	}
	s.CAFile = s.pki.CACert
	if s.SigningKey, err = install.NewSigningKey(); err != nil {
		return err
	}
	steps := []struct {
		name string
		run  func(context.Context) error
	}{
		{"etcd", s.startEtcd},
		{"kube-apiserver", s.startAPIServer},
		{"kube-controller-manager", s.startControllerManager},
		{"minio", s.startMinio},
		{"redis", s.startRedis},
		{"argo CRDs", s.installArgoCRDs},
		{"namespace " + Namespace, s.configureNamespace},
		{"workflow-controller", s.startWorkflowController},
		{"node agent", s.startNodeAgent},
		{"cache webhook", s.startCacheWebhook},
	}
	for _, st := range steps {
		t := time.Now()
		if err := st.run(ctx); err != nil {
			return fmt.Errorf("start %s: %w", st.name, err)
		}
		cfg.progressf("  %-24s ready in %s", st.name, time.Since(t).Round(10*time.Millisecond))
		cfg.Logger.Info("ready", zap.String("component", st.name), zap.Duration("took", time.Since(t)))
	}
	if err := os.WriteFile(s.EnvFile, []byte(s.envFile()), 0o600); err != nil {
		return fmt.Errorf("env file: %w", err)
	}
	cfg.progressf("local stack ready in %s (logs in %s)", time.Since(start).Round(100*time.Millisecond), s.LogDir)
	return nil
}

func (s *Stack) start(spec childSpec) (*child, error) {
	if spec.env == nil {
		spec.env = baseEnv(s.StateDir)
	}
	if spec.dir == "" {
		spec.dir = s.StateDir
	}
	if spec.grace == 0 {
		spec.grace = s.cfg.StopGrace
	}
	c, err := startChild(s.cfg.Logger, s.StateDir, spec, s.exited)
	if err != nil {
		return nil, err
	}
	s.children = append(s.children, c)
	return c, nil
}

// Env is what the env file exports.
func (s *Stack) Env() []string {
	return []string{
		"KUBECONFIG=" + s.Kubeconfig,
		"KFPARGO_NAMESPACE=" + s.Namespace,
		"KFPARGO_S3_ENDPOINT=" + s.S3Endpoint,
		"KFPARGO_S3_ACCESS_KEY=" + s.S3AccessKey,
		"KFPARGO_S3_SECRET_KEY=" + s.S3SecretKey,
		"KFPARGO_S3_BUCKET=" + s.Bucket,
		"KFPARGO_S3_INSECURE=true",
		"KFPARGO_REDIS_ADDR=" + s.RedisAddr,
		"KFPARGO_WEBHOOK_PROBE=" + s.WebhookProbeAddr,
	}
}

func (s *Stack) envFile() string {
	var b strings.Builder
	b.WriteString("# local stack environment; source this file\n")
	if s.Binaries != nil && s.Binaries.Kubectl != "" {
		// The stack's kubectl, matching its apiserver.
		fmt.Fprintf(&b, "export PATH='%s':\"$PATH\"\n", filepath.Dir(s.Binaries.Kubectl))
	}
	for _, kv := range s.Env() {
		k, v, _ := strings.Cut(kv, "=")
		fmt.Fprintf(&b, "export %s='%s'\n", k, strings.ReplaceAll(v, "'", `'\''`))
	}
	return b.String()
}

// Exited delivers an error for each child process that exits while the
// stack is supposed to be running.
func (s *Stack) Exited() <-chan error {
	return s.exited
}

// Down stops every process in reverse start order (SIGTERM, then SIGKILL
// after the grace period), removes leftover mounts, host mount points and
// staged image directories, and releases the state directory. Logs and
// data stay for inspection until the next Up. It is safe to call twice.
func (s *Stack) Down(ctx context.Context) error {
	s.downOnce.Do(func() {
		for i := len(s.children) - 1; i >= 0; i-- {
			s.children[i].stop(s.cfg.Logger)
		}
		err := resetState(ctx, s.cfg, false)
		_ = os.Remove(s.EnvFile)
		if cerr := s.lock.Close(); cerr != nil && err == nil {
			err = cerr
		}
		s.downErr = err
	})
	return s.downErr
}
