package cachewebhook

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"maps"
	"net"
	"net/http"
	"slices"
	"strings"
	"time"

	"github.com/prometheus/client_golang/prometheus/promhttp"
	"go.uber.org/zap"
)

// Check is a readiness check: nil when the dependency it probes is usable.
type Check func(ctx context.Context) error

// ServerConfig is what Run serves.
type ServerConfig struct {
	// Listen serves admissions over HTTPS at /mutate.
	Listen string
	// ProbeListen serves /healthz, /readyz and /metrics over plain HTTP, for
	// the kubelet and Prometheus.
	ProbeListen string
	Certs       *CertWatcher
	// CertReload is how often the certificate files are re-read (default 10s).
	CertReload time.Duration
	Handler    http.Handler
	// Metrics, when set, are served at /metrics.
	Metrics *Metrics
	// Checks are extra readiness checks by name, run concurrently on each
	// /readyz; the serving certificate is always checked.
	Checks map[string]Check
	// CheckTimeout bounds all checks of one /readyz (default 800ms, under
	// the kubelet's default probe timeout of 1s).
	CheckTimeout time.Duration
	// Grace is how long in-flight requests get at shutdown (default 10s).
	Grace time.Duration
	Log   *zap.Logger
	// Ready, when set, hears the bound addresses once both listen.
	Ready func(admission, probe net.Addr)
}

// Run serves until ctx ends, then stops accepting and gives in-flight
// requests cfg.Grace to finish. It returns nil after a clean shutdown.
func Run(ctx context.Context, cfg ServerConfig) error {
	if cfg.Certs == nil || cfg.Handler == nil {
		return errors.New("cachewebhook.Run needs Certs and Handler")
	}
	if cfg.Grace <= 0 {
		cfg.Grace = 10 * time.Second
	}
	if cfg.CertReload <= 0 {
		cfg.CertReload = 10 * time.Second
	}
	if cfg.CheckTimeout <= 0 {
		cfg.CheckTimeout = 800 * time.Millisecond
	}
	if cfg.Log == nil {
		cfg.Log = zap.NewNop()
	}
	mux := http.NewServeMux()
	mux.Handle("/mutate", cfg.Handler)
	// An admission is answered in milliseconds and the apiserver waits at
	// most timeoutSeconds (≤30s, ours is short): a request still being read
	// or written after 10s is no admission any more. Idle keep-alive
	// connections stay, so the apiserver does not handshake per pod.
	admission := &http.Server{
		Handler:           mux,
		TLSConfig:         &tls.Config{MinVersion: tls.VersionTLS12, GetCertificate: cfg.Certs.GetCertificate},
		ReadHeaderTimeout: 5 * time.Second,
		ReadTimeout:       10 * time.Second,
		WriteTimeout:      10 * time.Second,
		IdleTimeout:       90 * time.Second,
		ErrorLog:          zap.NewStdLog(cfg.Log.Named("http")),
	}
	probe := &http.Server{
		Handler:           probeMux(cfg),
		ReadHeaderTimeout: 5 * time.Second,
		ReadTimeout:       10 * time.Second,
		WriteTimeout:      30 * time.Second,
		IdleTimeout:       90 * time.Second,
		ErrorLog:          zap.NewStdLog(cfg.Log.Named("probes")),
	}

	al, err := net.Listen("tcp", cfg.Listen)
	if err != nil {
		return fmt.Errorf("listen %s: %w", cfg.Listen, err)
	}
	pl, err := net.Listen("tcp", cfg.ProbeListen)
	if err != nil {
		al.Close()
		return fmt.Errorf("listen %s: %w", cfg.ProbeListen, err)
	}
	wctx, stopWatch := context.WithCancel(ctx)
	defer stopWatch()
	go cfg.Certs.Watch(wctx, cfg.CertReload)
	errc := make(chan error, 2)
	go func() { errc <- admission.ServeTLS(al, "", "") }()
	go func() { errc <- probe.Serve(pl) }()
	cfg.Log.Info("serving", zap.String("admission", al.Addr().String()), zap.String("probes", pl.Addr().String()))
	if cfg.Ready != nil {
		cfg.Ready(al.Addr(), pl.Addr())
	}
	var failed error
	select {
	case <-ctx.Done():
	case err := <-errc:
		// One server died: stop the other too rather than half serve.
		failed = fmt.Errorf("server stopped: %w", err)
	}
	cfg.Log.Info("shutting down", zap.Duration("grace", cfg.Grace))
	sctx, cancel := context.WithTimeout(context.Background(), cfg.Grace)
	defer cancel()
	if err := errors.Join(admission.Shutdown(sctx), probe.Shutdown(sctx)); err != nil {
		return errors.Join(failed, fmt.Errorf("shutdown: %w", err))
	}
	return failed
}

// probeMux serves /healthz (the process answers), /readyz (it can serve
// admissions) and /metrics.
func probeMux(cfg ServerConfig) *http.ServeMux {
	mux := http.NewServeMux()
	mux.HandleFunc("/healthz", func(w http.ResponseWriter, _ *http.Request) { _, _ = w.Write([]byte("ok\n")) })
	mux.HandleFunc("/readyz", func(w http.ResponseWriter, r *http.Request) {
		ctx, cancel := context.WithTimeout(r.Context(), cfg.CheckTimeout)
		defer cancel()
		lines, ok := runChecks(ctx, cfg)
		body := strings.Join(lines, "\n") + "\n"
		if !ok {
			http.Error(w, body, http.StatusServiceUnavailable)
			return
		}
		_, _ = w.Write([]byte(body))
	})
	if cfg.Metrics != nil {
		mux.Handle("/metrics", promhttp.HandlerFor(cfg.Metrics.Registry, promhttp.HandlerOpts{}))
	}
	return mux
}

// runChecks runs every check at once and reports one line per check, in
// name order, so a failing one is named in the probe's body.
func runChecks(ctx context.Context, cfg ServerConfig) ([]string, bool) {
	checks := map[string]Check{"certificate": func(context.Context) error {
		if !cfg.Certs.Ready() {
			return errors.New("not loaded")
		}
		return nil
	}}
	maps.Copy(checks, cfg.Checks)
	names := slices.Sorted(maps.Keys(checks))
	results := make([]chan error, len(names))
	for i, n := range names {
		results[i] = make(chan error, 1)
		go func() { results[i] <- checks[n](ctx) }()
	}
	lines, ok := make([]string, len(names)), true
	for i, n := range names {
		var err error
		select {
		case err = <-results[i]:
		case <-ctx.Done():
			err = fmt.Errorf("no answer: %w", ctx.Err())
		}
		if err != nil {
			lines[i], ok = n+": "+err.Error(), false
			continue
		}
		lines[i] = n + ": ok"
	}
	return lines, ok
}
