// Command cachewebhook is kfpargo's step-cache admission webhook
// (docs/caching.md): it serves AdmissionReviews for step pods over HTTPS,
// and /healthz, /readyz and /metrics over plain HTTP.
//
// Exit codes: 0 after a graceful shutdown (SIGTERM, SIGINT); 2 bad flags;
// 1 a runtime failure (a port that cannot be bound, an unreadable
// certificate or secret file).
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"net"
	"os"
	"os/signal"
	"syscall"
	"time"

	"go.uber.org/zap"
	"go.uber.org/zap/zapcore"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/rest"
	"k8s.io/client-go/tools/clientcmd"

	"github.com/kfpargo/kfpargo/cachewebhook"
	"github.com/kfpargo/kfpargo/version"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGTERM, syscall.SIGINT)
	defer stop()
	os.Exit(run(ctx, os.Args[1:], os.Stdout, os.Stderr))
}

func run(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	cfg, err := parseFlags(args, stderr)
	if errors.Is(err, flag.ErrHelp) {
		return 0
	}
	if err != nil {
		fmt.Fprintf(stderr, "cachewebhook: %v\n", err)
		return 2
	}
	if cfg.showVersion {
		fmt.Fprintln(stdout, version.Version)
		return 0
	}
	log, err := newLogger(stderr, cfg.logLevel)
	if err != nil {
		fmt.Fprintf(stderr, "cachewebhook: --log-level: %v\n", err)
		return 2
	}
	defer func() { _ = log.Sync() }()
	if err := serve(ctx, cfg, log); err != nil {
		log.Error("cachewebhook stopped", zap.Error(err))
		return 1
	}
	return 0
}

func serve(ctx context.Context, cfg *Config, log *zap.Logger) error {
	if cfg.selfSigned {
		if err := startSelfSigned(ctx, cfg, log); err != nil {
			return err
		}
	}
	certs, err := cachewebhook.NewCertWatcher(cfg.certFile, cfg.keyFile, log)
	if err != nil {
		return err
	}
	metrics := cachewebhook.NewMetrics()
	h, release, err := newHandler(*cfg, log, metrics)
	if err != nil {
		return err
	}
	// After the servers stopped: no admission uses the handler any more.
	defer release()
	log.Info("starting", zap.String("version", version.Version), zap.String("redis", cfg.redisAddr), zap.String("s3", cfg.s3Endpoint),
		zap.String("launcherImage", cfg.launcherImage), zap.Bool("clusterScope", cfg.clusterScope), zap.Duration("timeout", cfg.timeout))
	return cachewebhook.Run(ctx, cachewebhook.ServerConfig{
		Listen: cfg.listen, ProbeListen: cfg.probeListen, Certs: certs, CertReload: cfg.certReload,
		Handler: cachewebhook.Serve(h, cachewebhook.ServeOptions{Timeout: cfg.timeout, Log: log, Metrics: metrics}),
		Metrics: metrics, Log: log, Grace: cfg.grace,
	})
}

// startSelfSigned makes sure a certificate exists before serving, then
// keeps it and the caBundle current in the background.
func startSelfSigned(ctx context.Context, cfg *Config, log *zap.Logger) error {
	rules := clientcmd.NewDefaultClientConfigLoadingRules()
	rules.ExplicitPath = cfg.kubeconfig
	var rc *rest.Config
	var err error
	if cfg.kubeconfig == "" {
		rc, err = rest.InClusterConfig()
	} else {
		rc, err = clientcmd.NewNonInteractiveDeferredLoadingClientConfig(rules, nil).ClientConfig()
	}
	if err != nil {
		return fmt.Errorf("--self-signed-certs needs the Kubernetes API: %w", err)
	}
	kc, err := kubernetes.NewForConfig(rc)
	if err != nil {
		return err
	}
	if err := os.MkdirAll(cfg.certDir, 0o700); err != nil {
		return fmt.Errorf("--cert-dir: %w", err)
	}
	var ips []net.IP
	for _, ip := range splitList(cfg.selfIPs) {
		ips = append(ips, net.ParseIP(ip))
	}
	s := &cachewebhook.SelfSigned{
		Client: kc, Namespace: cfg.selfNamespace, SecretName: cfg.selfSecret, WebhookConfig: cfg.selfConfig,
		DNSNames: splitList(cfg.selfDNS), IPs: ips, CALifetime: cfg.caLifetime, CertLifetime: cfg.certLifetime,
		Dir: cfg.certDir, Log: log.Named("certs"),
	}
	// The first pass must succeed: without a certificate there is nothing
	// to serve. Retry briefly (the API may be starting too).
	deadline := time.Now().Add(time.Minute)
	for {
		rctx, cancel := context.WithTimeout(ctx, 10*time.Second)
		err := s.Reconcile(rctx)
		cancel()
		if err == nil {
			break
		}
		if time.Now().After(deadline) || ctx.Err() != nil {
			return fmt.Errorf("self-signed certificates: %w", err)
		}
		log.Warn("self-signed certificates; retrying", zap.Error(err))
		time.Sleep(2 * time.Second)
	}
	// Renewal needs a pass at least every tenth of the certificate's life.
	interval := min(cfg.certLifetime/10, time.Hour)
	go s.Run(ctx, interval)
	return nil
}

// readSecretFile reads a credential from a file (a mounted Secret), so it
// never shows in the process list; an empty name is an empty value.
func readSecretFile(path string) (string, error) {
	if path == "" {
		return "", nil
	}
	b, err := os.ReadFile(path)
	if err != nil {
		return "", err
	}
	return string(trimNewline(b)), nil
}

func trimNewline(b []byte) []byte {
	for len(b) > 0 && (b[len(b)-1] == '\n' || b[len(b)-1] == '\r') {
		b = b[:len(b)-1]
	}
	return b
}

func newLogger(w io.Writer, level string) (*zap.Logger, error) {
	lvl, err := zapcore.ParseLevel(level)
	if err != nil {
		return nil, err
	}
	enc := zap.NewProductionEncoderConfig()
	enc.EncodeTime = zapcore.ISO8601TimeEncoder
	enc.TimeKey = "ts"
	return zap.New(zapcore.NewCore(zapcore.NewJSONEncoder(enc), zapcore.AddSync(w), lvl)).Named("cachewebhook"), nil
}
