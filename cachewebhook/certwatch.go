package cachewebhook

import (
	"bytes"
	"context"
	"crypto/sha256"
	"crypto/tls"
	"errors"
	"fmt"
	"os"
	"sync"
	"time"

	"go.uber.org/zap"
)

// CertWatcher serves a certificate and key from files and picks up new
// ones without a restart: it re-reads the files every interval and swaps
// in a pair that loads. Comparing content (a few KiB, read every 10s)
// rather than watching inotify events or mtimes also works with the
// symlink swaps of Kubernetes Secret volumes, where the files' own names
// never change. A pair that does not load (half written, mismatched) is
// logged and the current one kept.
type CertWatcher struct {
	certFile, keyFile string
	log               *zap.Logger

	mu     sync.RWMutex
	cert   *tls.Certificate
	digest [32]byte
}

// NewCertWatcher loads the pair once; it fails when that first load fails.
func NewCertWatcher(certFile, keyFile string, log *zap.Logger) (*CertWatcher, error) {
	if log == nil {
		log = zap.NewNop()
	}
	w := &CertWatcher{certFile: certFile, keyFile: keyFile, log: log}
	if _, err := w.Reload(); err != nil {
		return nil, err
	}
	return w, nil
}

// Reload reads the files and swaps the pair in when it changed and loads;
// it reports whether it swapped. Watch calls it every interval.
func (w *CertWatcher) Reload() (bool, error) {
	certPEM, err := os.ReadFile(w.certFile)
	if err != nil {
		return false, fmt.Errorf("read certificate: %w", err)
	}
	keyPEM, err := os.ReadFile(w.keyFile)
	if err != nil {
		return false, fmt.Errorf("read key: %w", err)
	}
	digest := sha256.Sum256(bytes.Join([][]byte{certPEM, keyPEM}, []byte{0}))
	w.mu.RLock()
	same := w.cert != nil && digest == w.digest
	w.mu.RUnlock()
	if same {
		return false, nil
	}
	cert, err := tls.X509KeyPair(certPEM, keyPEM)
	if err != nil {
		return false, fmt.Errorf("load %s and %s: %w", w.certFile, w.keyFile, err)
	}
	w.mu.Lock()
	w.cert, w.digest = &cert, digest
	w.mu.Unlock()
	return true, nil
}

// Watch re-reads the files every interval until ctx ends. A failure is
// logged when it first appears or changes, not on every poll.
func (w *CertWatcher) Watch(ctx context.Context, interval time.Duration) {
	t := time.NewTicker(interval)
	defer t.Stop()
	var lastErr string
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
			changed, err := w.Reload()
			switch {
			case err != nil && err.Error() != lastErr:
				w.log.Warn("serving certificate not reloaded; keeping the current one", zap.Error(err))
			case err == nil && changed:
				w.log.Info("serving certificate reloaded", zap.String("cert", w.certFile))
			}
			lastErr = ""
			if err != nil {
				lastErr = err.Error()
			}
		}
	}
}

// GetCertificate is for tls.Config.
func (w *CertWatcher) GetCertificate(*tls.ClientHelloInfo) (*tls.Certificate, error) {
	w.mu.RLock()
	defer w.mu.RUnlock()
	if w.cert == nil {
		return nil, errors.New("no serving certificate loaded")
	}
	return w.cert, nil
}

// Ready reports whether a certificate is loaded.
func (w *CertWatcher) Ready() bool {
	w.mu.RLock()
	defer w.mu.RUnlock()
	return w.cert != nil
}
