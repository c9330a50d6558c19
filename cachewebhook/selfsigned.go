package cachewebhook

import (
	"bytes"
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/json"
	"encoding/pem"
	"fmt"
	"math/big"
	"net"
	"os"
	"path/filepath"
	"time"

	"go.uber.org/zap"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/client-go/kubernetes"
)

// SelfSigned manages the webhook's certificates without cert-manager or the
// cluster's signer: a CA and a serving certificate live in one Secret,
// shared by the replicas (whoever creates or renews first wins, the others
// read it), and the CA goes into the MutatingWebhookConfiguration's
// caBundle. Renewal happens when a third of a certificate's lifetime is
// left. A new CA is first added to the caBundle beside the old one, and
// only a later pass issues serving certificates from it, so the apiserver
// trusts every certificate it may be shown.
type SelfSigned struct {
	Client        kubernetes.Interface
	Namespace     string
	SecretName    string
	WebhookConfig string
	DNSNames      []string
	IPs           []net.IP
	CALifetime    time.Duration
	CertLifetime  time.Duration
	// Dir receives tls.crt and tls.key for the CertWatcher.
	Dir string
	Log *zap.Logger
	Now func() time.Time
}

// Secret keys.
const (
	keyCACert  = "ca.crt"
	keyCAKey   = "ca.key"
	keyBundle  = "ca-bundle.crt" // every CA the apiserver should trust now
	keyTLSCert = "tls.crt"
	keyTLSKey  = "tls.key"
)

func (s *SelfSigned) now() time.Time {
	if s.Now != nil {
		return s.Now()
	}
	return time.Now()
}

// Run reconciles every interval until ctx ends.
func (s *SelfSigned) Run(ctx context.Context, interval time.Duration) {
	t := time.NewTicker(interval)
	defer t.Stop()
	for {
		if err := s.Reconcile(ctx); err != nil && ctx.Err() == nil {
			s.Log.Warn("certificate management", zap.Error(err))
		}
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
	}
}

// Reconcile brings the Secret, the caBundle and the files up to date.
func (s *SelfSigned) Reconcile(ctx context.Context) error {
	secrets := s.Client.CoreV1().Secrets(s.Namespace)
	sec, err := secrets.Get(ctx, s.SecretName, metav1.GetOptions{})
	if apierrors.IsNotFound(err) {
		data, err := s.fresh()
		if err != nil {
			return err
		}
		sec = &corev1.Secret{ObjectMeta: metav1.ObjectMeta{Name: s.SecretName, Namespace: s.Namespace}, Type: corev1.SecretTypeOpaque, Data: data}
		if sec, err = secrets.Create(ctx, sec, metav1.CreateOptions{}); apierrors.IsAlreadyExists(err) {
			// Another replica was first; use its.
			return s.Reconcile(ctx)
		} else if err != nil {
			return fmt.Errorf("create secret %s/%s: %w", s.Namespace, s.SecretName, err)
		}
		s.Log.Info("created CA and serving certificate", zap.String("secret", s.SecretName))
	} else if err != nil {
		return fmt.Errorf("get secret %s/%s: %w", s.Namespace, s.SecretName, err)
	}
	cfg, err := s.Client.AdmissionregistrationV1().MutatingWebhookConfigurations().Get(ctx, s.WebhookConfig, metav1.GetOptions{})
	if err != nil {
		return fmt.Errorf("get webhook configuration %s: %w", s.WebhookConfig, err)
	}
	var trusted []*x509.Certificate
	for i, w := range cfg.Webhooks {
		certs := liveCerts(w.ClientConfig.CABundle, s.now())
		if i == 0 {
			trusted = certs
			continue
		}
		// A CA counts as trusted only if every webhook has it.
		var both []*x509.Certificate
		for _, c := range trusted {
			if containsCert(certs, c) {
				both = append(both, c)
			}
		}
		trusted = both
	}
	data, changed, err := s.renew(sec.Data, trusted)
	if err != nil {
		return err
	}
	if changed {
		up := sec.DeepCopy()
		up.Data = data
		if _, err := secrets.Update(ctx, up, metav1.UpdateOptions{}); err != nil {
			if apierrors.IsConflict(err) {
				return nil // another replica renewed; the next pass reads it
			}
			return fmt.Errorf("update secret %s/%s: %w", s.Namespace, s.SecretName, err)
		}
	}
	if err := s.patchBundle(ctx, data[keyBundle]); err != nil {
		return err
	}
	return s.writeFiles(data[keyTLSCert], data[keyTLSKey])
}

// renew returns the Secret's data with whatever is due renewed. trusted
// holds the CAs the webhook configuration's caBundle has now.
func (s *SelfSigned) renew(data map[string][]byte, trusted []*x509.Certificate) (map[string][]byte, bool, error) {
	now := s.now()
	ca, caKey, err := parsePair(data[keyCACert], data[keyCAKey])
	if err != nil {
		s.Log.Warn("the certificate Secret is unusable; starting over", zap.Error(err))
		d, err := s.fresh()
		return d, true, err
	}
	out := copyData(data)
	bundle := liveCerts(data[keyBundle], now)
	if due(ca, now) {
		// A CA rotation starts by trusting the new CA beside the old one;
		// the old CA's serving certificate stays until the apiserver has
		// the new bundle.
		newCA, _, caPEM, keyPEM, err := s.newCA(now)
		if err != nil {
			return nil, false, err
		}
		out[keyCACert], out[keyCAKey] = caPEM, keyPEM
		out[keyBundle] = joinPEM(append([]*x509.Certificate{newCA}, bundle...))
		s.Log.Info("new CA added to the trust bundle", zap.Time("oldCAExpires", ca.NotAfter), zap.Time("newCAExpires", newCA.NotAfter))
		return out, true, nil
	}
	if !containsCert(bundle, ca) {
		bundle = append([]*x509.Certificate{ca}, bundle...)
	}
	out[keyBundle] = joinPEM(bundle)
	leaf, _, err := parsePair(data[keyTLSCert], data[keyTLSKey])
	current := err == nil && leaf.CheckSignatureFrom(ca) == nil && !due(leaf, now)
	// A certificate from a new CA is served only once the apiserver trusts
	// that CA; until then the old one serves, if it still can.
	waiting := !containsCert(trusted, ca) && err == nil && now.Before(leaf.NotAfter)
	if !current && !waiting {
		certPEM, keyPEM, err := s.issue(ca, caKey, now)
		if err != nil {
			return nil, false, err
		}
		out[keyTLSCert], out[keyTLSKey] = certPEM, keyPEM
		s.Log.Info("serving certificate issued", zap.String("ca", ca.Subject.CommonName))
	}
	changed := false
	for k, v := range out {
		if !bytes.Equal(v, data[k]) {
			changed = true
		}
	}
	return out, changed, nil
}

// fresh makes a CA and a serving certificate from nothing.
func (s *SelfSigned) fresh() (map[string][]byte, error) {
	now := s.now()
	ca, key, caPEM, keyPEM, err := s.newCA(now)
	if err != nil {
		return nil, err
	}
	certPEM, leafKey, err := s.issue(ca, key, now)
	if err != nil {
		return nil, err
	}
	return map[string][]byte{keyCACert: caPEM, keyCAKey: keyPEM, keyBundle: caPEM, keyTLSCert: certPEM, keyTLSKey: leafKey}, nil
}

// backdate is how far NotBefore lies in the past, for clocks that are
// behind ours.
const backdate = time.Minute

// due reports whether less than a third of a certificate's life is left.
func due(c *x509.Certificate, now time.Time) bool {
	life := c.NotAfter.Sub(c.NotBefore) - backdate
	return c.NotAfter.Sub(now) < life/3
}

func (s *SelfSigned) newCA(now time.Time) (*x509.Certificate, *ecdsa.PrivateKey, []byte, []byte, error) {
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return nil, nil, nil, nil, err
	}
	serial, _ := rand.Int(rand.Reader, new(big.Int).Lsh(big.NewInt(1), 120))
	tmpl := &x509.Certificate{
		SerialNumber: serial, Subject: pkix.Name{CommonName: "kfpargo-cachewebhook-ca " + now.UTC().Format(time.RFC3339)},
		NotBefore: now.Add(-backdate), NotAfter: now.Add(s.CALifetime),
		KeyUsage: x509.KeyUsageCertSign | x509.KeyUsageDigitalSignature, BasicConstraintsValid: true, IsCA: true,
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, key.Public(), key)
	if err != nil {
		return nil, nil, nil, nil, fmt.Errorf("create CA: %w", err)
	}
	ca, _ := x509.ParseCertificate(der)
	kb, err := x509.MarshalECPrivateKey(key)
	if err != nil {
		return nil, nil, nil, nil, err
	}
	return ca, key, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}), pem.EncodeToMemory(&pem.Block{Type: "EC PRIVATE KEY", Bytes: kb}), nil
}

func (s *SelfSigned) issue(ca *x509.Certificate, caKey any, now time.Time) ([]byte, []byte, error) {
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return nil, nil, err
	}
	serial, _ := rand.Int(rand.Reader, new(big.Int).Lsh(big.NewInt(1), 120))
	notAfter := now.Add(s.CertLifetime)
	if notAfter.After(ca.NotAfter) {
		notAfter = ca.NotAfter
	}
	tmpl := &x509.Certificate{
		SerialNumber: serial, Subject: pkix.Name{CommonName: firstOr(s.DNSNames, "kfpargo-cachewebhook")},
		NotBefore: now.Add(-backdate), NotAfter: notAfter,
		KeyUsage: x509.KeyUsageDigitalSignature, ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
		DNSNames: s.DNSNames, IPAddresses: s.IPs,
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, ca, key.Public(), caKey)
	if err != nil {
		return nil, nil, fmt.Errorf("issue serving certificate: %w", err)
	}
	kb, err := x509.MarshalECPrivateKey(key)
	if err != nil {
		return nil, nil, err
	}
	return pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}), pem.EncodeToMemory(&pem.Block{Type: "EC PRIVATE KEY", Bytes: kb}), nil
}

// patchBundle puts the bundle into every webhook of the configuration.
func (s *SelfSigned) patchBundle(ctx context.Context, bundle []byte) error {
	mwcs := s.Client.AdmissionregistrationV1().MutatingWebhookConfigurations()
	cfg, err := mwcs.Get(ctx, s.WebhookConfig, metav1.GetOptions{})
	if err != nil {
		return fmt.Errorf("get webhook configuration %s: %w", s.WebhookConfig, err)
	}
	var ops []PatchOp
	for i, w := range cfg.Webhooks {
		if !bytes.Equal(w.ClientConfig.CABundle, bundle) {
			ops = append(ops, PatchOp{Op: "add", Path: fmt.Sprintf("/webhooks/%d/clientConfig/caBundle", i), Value: bundle})
		}
	}
	if len(ops) == 0 {
		return nil
	}
	// Guard against the list changing between Get and Patch.
	ops = append([]PatchOp{{Op: "test", Path: "/metadata/resourceVersion", Value: cfg.ResourceVersion}}, ops...)
	b, _ := json.Marshal(ops)
	if _, err := mwcs.Patch(ctx, s.WebhookConfig, types.JSONPatchType, b, metav1.PatchOptions{}); err != nil {
		return fmt.Errorf("patch caBundle of %s: %w", s.WebhookConfig, err)
	}
	s.Log.Info("caBundle updated", zap.String("configuration", s.WebhookConfig))
	return nil
}

// writeFiles updates tls.crt and tls.key in Dir when they changed.
func (s *SelfSigned) writeFiles(cert, key []byte) error {
	certPath, keyPath := filepath.Join(s.Dir, keyTLSCert), filepath.Join(s.Dir, keyTLSKey)
	if old, err := os.ReadFile(certPath); err == nil && bytes.Equal(old, cert) {
		return nil
	}
	// Key first: the watcher only swaps in a pair that loads.
	for p, b := range map[string][]byte{keyPath: key, certPath: cert} {
		tmp := p + ".tmp"
		if err := os.WriteFile(tmp, b, 0o600); err != nil {
			return err
		}
		if err := os.Rename(tmp, p); err != nil {
			return err
		}
	}
	return nil
}

func parsePair(certPEM, keyPEM []byte) (*x509.Certificate, any, error) {
	pair, err := tls.X509KeyPair(certPEM, keyPEM)
	if err != nil {
		return nil, nil, err
	}
	c, err := x509.ParseCertificate(pair.Certificate[0])
	if err != nil {
		return nil, nil, err
	}
	return c, pair.PrivateKey, nil
}

// liveCerts parses a PEM bundle, keeping unexpired certificates.
func liveCerts(b []byte, now time.Time) []*x509.Certificate {
	var out []*x509.Certificate
	for {
		var block *pem.Block
		block, b = pem.Decode(b)
		if block == nil {
			return out
		}
		if c, err := x509.ParseCertificate(block.Bytes); err == nil && now.Before(c.NotAfter) {
			out = append(out, c)
		}
	}
}

func joinPEM(cs []*x509.Certificate) []byte {
	var b bytes.Buffer
	for _, c := range cs {
		_ = pem.Encode(&b, &pem.Block{Type: "CERTIFICATE", Bytes: c.Raw})
	}
	return b.Bytes()
}

func containsCert(cs []*x509.Certificate, c *x509.Certificate) bool {
	for _, x := range cs {
		if x.Equal(c) {
			return true
		}
	}
	return false
}

func copyData(d map[string][]byte) map[string][]byte {
	out := make(map[string][]byte, len(d))
	for k, v := range d {
		out[k] = v
	}
	return out
}

func firstOr(s []string, def string) string {
	if len(s) > 0 {
		return s[0]
	}
	return def
}
