package localstack

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"time"

	admissionregistrationv1 "k8s.io/api/admissionregistration/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"

	"github.com/kfpargo/kfpargo/cachestore"
	"github.com/kfpargo/kfpargo/step"
)

// WebhookConfigName is the MutatingWebhookConfiguration the stack creates
// for the cache webhook; not the installation's own name (manifests/), so
// that the install tests can dry-run that one beside it.
const WebhookConfigName = "kfpargo-cache-localstack"

// startCacheWebhook runs the cache webhook as a host process and registers
// it with the apiserver through a MutatingWebhookConfiguration, as an
// installation does (fail-open, selected by the step pods' label). It
// serves the apiserver's own certificate (valid for 127.0.0.1, signed by
// the stack CA), so the configuration's caBundle is the stack CA.
func (s *Stack) startCacheWebhook(ctx context.Context) error {
	if s.cfg.NoCacheWebhook {
		return nil
	}
	if s.Binaries.CacheWebhook == "" {
		s.cfg.progressf("note: no cache webhook built; step pods run uncached")
		return nil
	}
	ports, err := freePorts(2)
	if err != nil {
		return fmt.Errorf("cache webhook: %w", err)
	}
	dir := filepath.Join(s.StateDir, "home", "cachewebhook")
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return fmt.Errorf("cache webhook: %w", err)
	}
	access, secret, hmacKey := filepath.Join(dir, "s3-access-key"), filepath.Join(dir, "s3-secret-key"), filepath.Join(dir, "hmac-key")
	for p, v := range map[string]string{access: s.S3AccessKey, secret: s.S3SecretKey, hmacKey: s.SigningKey} {
		if err := os.WriteFile(p, []byte(v), 0o600); err != nil {
			return fmt.Errorf("cache webhook: %w", err)
		}
	}
	s.WebhookAddr, s.WebhookProbeAddr = loopback(ports[0]), loopback(ports[1])
	s.webhookSpec = childSpec{
		name: "cachewebhook",
		path: s.Binaries.CacheWebhook,
		args: []string{
			"--listen", s.WebhookAddr,
			"--probe-listen", s.WebhookProbeAddr,
			"--tls-cert-file", s.pki.ServingCert,
			"--tls-key-file", s.pki.ServingKey,
			"--redis-addr", s.RedisAddr,
			"--s3-endpoint", s.S3Endpoint,
			"--s3-access-key-file", access,
			"--s3-secret-key-file", secret,
			"--s3-insecure",
			"--hmac-key-file", hmacKey,
			"--launcher-image", s.cfg.LauncherImage,
			// The decision budget in production is tens of milliseconds;
			// a loaded CI machine must not turn hits into fail-open misses.
			"--timeout", "1s",
		},
	}
	if err := s.StartCacheWebhook(ctx); err != nil {
		return err
	}
	kc, err := kubernetes.NewForConfig(s.RESTConfig)
	if err != nil {
		return fmt.Errorf("cache webhook: %w", err)
	}
	ca, err := os.ReadFile(s.pki.CACert)
	if err != nil {
		return fmt.Errorf("cache webhook: %w", err)
	}
	url := "https://" + s.WebhookAddr + "/mutate"
	ignore := admissionregistrationv1.Ignore
	none := admissionregistrationv1.SideEffectClassNone
	never := admissionregistrationv1.NeverReinvocationPolicy
	timeout := int32(2)
	cfg := &admissionregistrationv1.MutatingWebhookConfiguration{
		ObjectMeta: metav1.ObjectMeta{Name: WebhookConfigName},
		Webhooks: []admissionregistrationv1.MutatingWebhook{{
			Name:                    "cache.kfpargo.io",
			ClientConfig:            admissionregistrationv1.WebhookClientConfig{URL: &url, CABundle: ca},
			Rules:                   []admissionregistrationv1.RuleWithOperations{{Operations: []admissionregistrationv1.OperationType{admissionregistrationv1.Create}, Rule: admissionregistrationv1.Rule{APIGroups: []string{""}, APIVersions: []string{"v1"}, Resources: []string{"pods"}}}},
			FailurePolicy:           &ignore,
			SideEffects:             &none,
			TimeoutSeconds:          &timeout,
			ReinvocationPolicy:      &never,
			AdmissionReviewVersions: []string{"v1"},
			ObjectSelector:          &metav1.LabelSelector{MatchLabels: map[string]string{step.LabelCache: step.CacheEnabled}},
		}},
	}
	if _, err := kc.AdmissionregistrationV1().MutatingWebhookConfigurations().Create(ctx, cfg, metav1.CreateOptions{}); err != nil {
		return fmt.Errorf("cache webhook configuration: %w", err)
	}
	return nil
}

// StartCacheWebhook (re)starts the cache webhook process and waits until it
// is ready; StopCacheWebhook stops it. Tests use them to check that pods
// are admitted while the webhook is down.
func (s *Stack) StartCacheWebhook(ctx context.Context) error {
	if s.webhookSpec.name == "" {
		return errors.New("the stack has no cache webhook")
	}
	c, err := s.start(s.webhookSpec)
	if err != nil {
		return err
	}
	s.webhook = c
	hc := &http.Client{Timeout: 2 * time.Second}
	return waitReady(ctx, c, time.Minute, func(ctx context.Context) error {
		return getOK(ctx, hc, "http://"+s.WebhookProbeAddr+"/readyz")
	})
}

// StopCacheWebhook stops the cache webhook process.
func (s *Stack) StopCacheWebhook() {
	if s.webhook != nil {
		s.webhook.stop(s.cfg.Logger)
		s.webhook = nil
	}
}

// redisSecret is the Secret cached steps read the cache store's settings
// from, with their namespace's signing keys as an installation has them.
func (s *Stack) redisSecret() (*corev1.Secret, error) {
	keys, err := cachestore.ScopeKeys(s.SigningKey, cachestore.NamespaceScope(Namespace))
	if err != nil {
		return nil, fmt.Errorf("secret %s: %w", RedisSecretName, err)
	}
	return &corev1.Secret{
		ObjectMeta: metav1.ObjectMeta{Name: RedisSecretName},
		StringData: map[string]string{
			strings.TrimPrefix(step.EnvRedisAddr, step.EnvRedisPrefix):    s.RedisAddr,
			strings.TrimPrefix(step.EnvCacheHMACKey, step.EnvRedisPrefix): keys,
		},
	}, nil
}
