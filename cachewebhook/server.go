package cachewebhook

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"net"
	"net/http"
	"strings"
	"time"

	"github.com/prometheus/client_golang/prometheus/promhttp"
	"go.uber.org/zap"
)

// ServerConfig is what Run serves.
type ServerConfig struct {
	// Listen serves admissions over HTTPS at /mutate.
	Listen string
	// ProbeListen serves /healthz, /readyz and /metrics over plain HTTP, for
	// the kubelet and Prometheus.
	ProbeListen string
	Certs       *CertWatcher
	// CertReload is how often the certificate files are re-read.
	CertReload time.Duration
	Handler    http.Handler
	Metrics    *Metrics
	// Checks are extra readiness checks by name.
	Checks map[string]func(context.Context) error
	// Grace is how long in-flight requests get at shutdown.
	Grace time.Duration
	Log   *zap.Logger
	// Ready, when set, hears the bound addresses once both listen.
	Ready func(admission, probe net.Addr)
}

// Run serves until ctx ends, then shuts down gracefully.
func Run(ctx context.Context, cfg ServerConfig) error {
	if cfg.Grace <= 0 {
		cfg.Grace = 10 * time.Second
	}
	if cfg.CertReload <= 0 {
		cfg.CertReload = 10 * time.Second
	}
	mux := http.NewServeMux()
	mux.Handle("/mutate", cfg.Handler)
	admission := &http.Server{
		Handler:           mux,
		TLSConfig:         &tls.Config{MinVersion: tls.VersionTLS12, GetCertificate: cfg.Certs.GetCertificate},
		ReadHeaderTimeout: 5 * time.Second,
		ReadTimeout:       10 * time.Second,
		WriteTimeout:      10 * time.Second,
		IdleTimeout:       90 * time.Second,
		ErrorLog:          zap.NewStdLog(cfg.Log.Named("http")),
	}
	probes := http.NewServeMux()
	probes.HandleFunc("/healthz", func(w http.ResponseWriter, _ *http.Request) { _, _ = w.Write([]byte("ok\n")) })
	probes.HandleFunc("/readyz", func(w http.ResponseWriter, r *http.Request) {
		var failed []string
		if !cfg.Certs.Ready() {
			failed = append(failed, "certificate: not loaded")
		}
		for name, check := range cfg.Checks {
			cctx, cancel := context.WithTimeout(r.Context(), 2*time.Second)
			if err := check(cctx); err != nil {
				failed = append(failed, name+": "+err.Error())
			}
			cancel()
		}
		if len(failed) > 0 {
			http.Error(w, strings.Join(failed, "\n"), http.StatusServiceUnavailable)
			return
		}
		_, _ = w.Write([]byte("ok\n"))
	})
	probes.Handle("/metrics", promhttp.HandlerFor(cfg.Metrics.Registry, promhttp.HandlerOpts{}))
	probe := &http.Server{Handler: probes, ReadHeaderTimeout: 5 * time.Second}

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
	select {
	case <-ctx.Done():
	case err := <-errc:
		return fmt.Errorf("server stopped: %w", err)
	}
	cfg.Log.Info("shutting down", zap.Duration("grace", cfg.Grace))
	sctx, cancel := context.WithTimeout(context.Background(), cfg.Grace)
	defer cancel()
	err = errors.Join(admission.Shutdown(sctx), probe.Shutdown(sctx))
	if err != nil {
		return fmt.Errorf("shutdown: %w", err)
	}
	return nil
}
