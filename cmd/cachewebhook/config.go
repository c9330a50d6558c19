package main

import (
	"errors"
	"flag"
	"fmt"
	"io"
	"net"
	"os"
	"path/filepath"
	"strings"
	"time"

	"go.uber.org/zap/zapcore"

	"github.com/kfpargo/kfpargo/step"
)

// Config is the command line, validated.
type Config struct {
	listen, probeListen              string
	certFile, keyFile                string
	certReload, timeout, grace       time.Duration
	redisAddr, redisUsername         string
	redisPasswordFile                string
	hmacKeyFile                      string
	redisUsernameFile                string
	redisTLS                         bool
	redisCAFile, redisServerName     string
	s3CAFile                         string
	redisDB                          int
	s3Endpoint                       string
	s3AccessKeyFile, s3SecretKeyFile string
	s3Insecure                       bool
	s3Region                         string
	launcherImage                    string
	clusterScope                     bool
	maxTTL                           time.Duration
	verifyCacheTTL                   time.Duration
	logLevel                         string
	selfSigned                       bool
	selfSecret, selfConfig           string
	selfNamespace, selfDNS, selfIPs  string
	caLifetime, certLifetime         time.Duration
	certDir, kubeconfig              string
	showVersion                      bool
}

const usageHead = `usage: cachewebhook [flags]

kfpargo's step-cache admission webhook. The apiserver sends it the step pods
labelled kfpargo.io/cache=enabled (MutatingWebhookConfiguration with
failurePolicy Ignore); it computes each step's cache key, looks it up in
Redis, verifies the entry's artifacts in the object store and, on a hit,
rewrites the pod into a sub-second replay of the cached outputs. Any error
of its own admits the pod unchanged.

Flags:
`

const usageTail = `
Example (in a Deployment, with the serving certificate and credentials
mounted from Secrets):

  cachewebhook --tls-cert-file /certs/tls.crt --tls-key-file /certs/tls.key \
    --redis-addr redis.kfpargo:6379 --redis-password-file /secrets/redis/password \
    --s3-endpoint minio.kfpargo:9000 --s3-insecure \
    --s3-access-key-file /secrets/s3/ACCESS_KEY --s3-secret-key-file /secrets/s3/SECRET_KEY \
    --launcher-image ghcr.io/kfpargo/launcher:v0.1.0

Exit codes: 0 after a graceful shutdown (SIGTERM/SIGINT), 2 bad flags,
1 a runtime failure.
`

func splitList(s string) []string {
	var out []string
	for _, p := range strings.Split(s, ",") {
		if p = strings.TrimSpace(p); p != "" {
			out = append(out, p)
		}
	}
	return out
}

func parseFlags(args []string, out io.Writer) (*Config, error) {
	c := &Config{}
	fs := flag.NewFlagSet("cachewebhook", flag.ContinueOnError)
	fs.SetOutput(out)
	fs.Usage = func() {
		fmt.Fprint(out, usageHead)
		fs.PrintDefaults()
		fmt.Fprint(out, usageTail)
	}
	var scope string
	fs.StringVar(&c.listen, "listen", ":9443", "address for admission requests (HTTPS, path /mutate)")
	fs.StringVar(&c.probeListen, "probe-listen", ":8080", "address for /healthz, /readyz and /metrics (plain HTTP)")
	fs.StringVar(&c.certFile, "tls-cert-file", "", "serving certificate (PEM); re-read when it changes, no restart needed (required)")
	fs.StringVar(&c.keyFile, "tls-key-file", "", "serving certificate's private key (PEM) (required)")
	fs.DurationVar(&c.certReload, "cert-reload-interval", 10*time.Second, "how often the certificate files are checked for a new pair")
	fs.DurationVar(&c.timeout, "timeout", 40*time.Millisecond, "budget for one admission decision, Redis and object-store calls included; past it the pod is admitted unchanged. The whole admission should stay under 50ms of pod-creation latency; 40ms leaves the rest for TLS, decoding and encoding. Must stay below the MutatingWebhookConfiguration's timeoutSeconds, or the apiserver gives up first")
	fs.DurationVar(&c.grace, "shutdown-grace", 10*time.Second, "how long in-flight requests may take after SIGTERM")
	fs.StringVar(&c.redisAddr, "redis-addr", "127.0.0.1:6379", "Redis host:port holding the cache entries")
	fs.StringVar(&c.redisUsername, "redis-username", "", "Redis ACL user (Redis 6+), if any")
	fs.StringVar(&c.redisPasswordFile, "redis-password-file", "", "file holding the Redis password (a file, so the password is not in the process list); a file that does not exist means no password, as when the optional kfpargo-redis Secret is absent")
	fs.StringVar(&c.redisUsernameFile, "redis-username-file", "", "file holding the Redis ACL user, instead of --redis-username (the kfpargo-redis Secret's USERNAME key, mounted); a file that does not exist means no user")
	fs.IntVar(&c.redisDB, "redis-db", 0, "Redis database number")
	fs.StringVar(&c.hmacKeyFile, "hmac-key-file", "", "file holding the installation's HMAC key(s) (the Secret kfpargo-cache-hmac, key HMAC_KEY; \"new old\" during a rotation): only entries signed with one of them are served, so whoever can write to Redis without the key cannot make a pod skip its work. The launchers get the same value as "+step.EnvCacheHMACKey+". Empty: entries are neither required nor checked to be signed")
	fs.BoolVar(&c.redisTLS, "redis-tls", false, "connect to Redis over TLS (1.2 or newer), trusting the system's roots and --redis-ca-file")
	fs.StringVar(&c.redisCAFile, "redis-ca-file", "", "with --redis-tls: CA certificates (PEM) trusted for Redis besides the system's; a file that does not exist means none")
	fs.StringVar(&c.redisServerName, "redis-server-name", "", "with --redis-tls: the name Redis's certificate must carry, if not the host of --redis-addr")
	fs.StringVar(&c.s3Endpoint, "s3-endpoint", "", "object store host:port, to verify cached artifacts and identify imported inputs; without it, entries with artifacts are not used")
	fs.StringVar(&c.s3AccessKeyFile, "s3-access-key-file", "", "file holding the object store's access key")
	fs.StringVar(&c.s3SecretKeyFile, "s3-secret-key-file", "", "file holding the object store's secret key")
	fs.BoolVar(&c.s3Insecure, "s3-insecure", false, "plain HTTP to the object store")
	fs.StringVar(&c.s3CAFile, "s3-ca-file", "", "CA certificates (PEM) trusted for the object store's HTTPS besides the system's; a file that does not exist means none")
	fs.StringVar(&c.s3Region, "s3-region", "", "object store region, if it needs one")
	fs.StringVar(&c.launcherImage, "launcher-image", "", "image a replaying pod's main container runs instead of the step's own (default: keep the step's image)")
	fs.StringVar(&scope, "cache-scope", "namespace", "namespace: a pod is served only entries written in its namespace; cluster: entries are shared by all namespaces (the launchers' "+step.EnvCacheScope+" must match)")
	maxTTL := fs.String("max-cache-ttl", step.DefaultMaxCacheTTL, "oldest entry ever used, whatever a task's staleness allows (the launchers' "+step.EnvCacheMaxTTL+" should match)")
	fs.DurationVar(&c.verifyCacheTTL, "verify-cache-ttl", 5*time.Second, "how long an artifact found intact counts as verified for further hits; an artifact deleted within this window can still be served. 0 sends every hit's artifacts to the object store")
	fs.BoolVar(&c.selfSigned, "self-signed-certs", false, "manage the serving certificate here: keep a CA and a certificate in a Secret shared by the replicas, write them to --cert-dir, put the CA into the webhook configuration's caBundle, and renew both when a third of their life is left (no cert-manager, no cluster signer). --tls-cert-file and --tls-key-file default to the files in --cert-dir")
	fs.StringVar(&c.selfSecret, "self-signed-secret", "kfpargo-cachewebhook-tls", "with --self-signed-certs: the Secret holding the CA and the certificate")
	fs.StringVar(&c.selfNamespace, "self-signed-namespace", "", "with --self-signed-certs: the Secret's namespace (default $POD_NAMESPACE)")
	fs.StringVar(&c.selfConfig, "webhook-config", "kfpargo-cache", "with --self-signed-certs: the MutatingWebhookConfiguration whose caBundle is kept current")
	fs.StringVar(&c.selfDNS, "self-signed-dns-names", "kfpargo-cachewebhook.kfpargo-system.svc,kfpargo-cachewebhook.kfpargo-system.svc.cluster.local", "with --self-signed-certs: comma-separated names the certificate is for")
	fs.StringVar(&c.selfIPs, "self-signed-ips", "", "with --self-signed-certs: comma-separated IP addresses the certificate is for")
	fs.DurationVar(&c.caLifetime, "ca-lifetime", 10*365*24*time.Hour, "with --self-signed-certs: lifetime of a new CA")
	fs.DurationVar(&c.certLifetime, "cert-lifetime", 365*24*time.Hour, "with --self-signed-certs: lifetime of a new serving certificate")
	fs.StringVar(&c.certDir, "cert-dir", "/tmp/kfpargo-certs", "with --self-signed-certs: where the certificate and key are written (a writable emptyDir)")
	fs.StringVar(&c.kubeconfig, "kubeconfig", "", "with --self-signed-certs: kubeconfig to reach the API (default: in-cluster)")
	fs.StringVar(&c.logLevel, "log-level", "info", "debug, info, warn or error")
	fs.BoolVar(&c.showVersion, "version", false, "print the version and exit")
	if err := fs.Parse(args); err != nil {
		return nil, err
	}
	if fs.NArg() > 0 {
		return nil, fmt.Errorf("unexpected argument %q", fs.Arg(0))
	}
	if c.showVersion {
		return c, nil
	}
	var errs []error
	if c.selfSigned {
		if c.certFile == "" {
			c.certFile = filepath.Join(c.certDir, "tls.crt")
		}
		if c.keyFile == "" {
			c.keyFile = filepath.Join(c.certDir, "tls.key")
		}
		if c.selfNamespace == "" {
			c.selfNamespace = os.Getenv("POD_NAMESPACE")
		}
		if c.selfNamespace == "" {
			errs = append(errs, errors.New("--self-signed-certs needs --self-signed-namespace or $POD_NAMESPACE"))
		}
		if c.certLifetime <= 0 || c.caLifetime <= 0 || c.certLifetime > c.caLifetime {
			errs = append(errs, errors.New("--cert-lifetime and --ca-lifetime must be positive, the certificate's no longer than the CA's"))
		}
		for _, ip := range splitList(c.selfIPs) {
			if net.ParseIP(ip) == nil {
				errs = append(errs, fmt.Errorf("--self-signed-ips: %q is not an IP address", ip))
			}
		}
	}
	if c.certFile == "" || c.keyFile == "" {
		errs = append(errs, errors.New("--tls-cert-file and --tls-key-file are required (or --self-signed-certs)"))
	}
	switch scope {
	case "namespace":
	case "cluster":
		c.clusterScope = true
	default:
		errs = append(errs, fmt.Errorf("--cache-scope %q: want namespace or cluster", scope))
	}
	d, err := time.ParseDuration(*maxTTL)
	if err != nil || d <= 0 {
		errs = append(errs, fmt.Errorf("--max-cache-ttl %q: not a positive duration", *maxTTL))
	}
	c.maxTTL = d
	if c.verifyCacheTTL < 0 {
		errs = append(errs, errors.New("--verify-cache-ttl must not be negative"))
	}
	if c.timeout <= 0 || c.timeout >= 30*time.Second {
		errs = append(errs, fmt.Errorf("--timeout %s: want more than 0 and less than 30s (the apiserver's longest webhook timeout)", c.timeout))
	}
	if c.certReload <= 0 {
		errs = append(errs, fmt.Errorf("--cert-reload-interval %s: want a positive duration", c.certReload))
	}
	if c.grace <= 0 {
		errs = append(errs, fmt.Errorf("--shutdown-grace %s: want a positive duration", c.grace))
	}
	for _, a := range []struct{ flag, addr string }{{"--listen", c.listen}, {"--probe-listen", c.probeListen}, {"--redis-addr", c.redisAddr}} {
		if _, _, err := net.SplitHostPort(a.addr); err != nil {
			errs = append(errs, fmt.Errorf("%s %q: want host:port: %w", a.flag, a.addr, err))
		}
	}
	if c.listen == c.probeListen {
		errs = append(errs, fmt.Errorf("--listen and --probe-listen are both %q: admissions (HTTPS) and probes (HTTP) need ports of their own", c.listen))
	}
	if _, err := zapcore.ParseLevel(c.logLevel); err != nil {
		errs = append(errs, fmt.Errorf("--log-level %q: want debug, info, warn or error", c.logLevel))
	}
	if (c.s3AccessKeyFile != "" || c.s3SecretKeyFile != "") && c.s3Endpoint == "" {
		errs = append(errs, errors.New("--s3-access-key-file and --s3-secret-key-file need --s3-endpoint"))
	}
	if c.redisServerName != "" && !c.redisTLS {
		errs = append(errs, errors.New("--redis-server-name needs --redis-tls"))
	}
	if c.redisUsername != "" && c.redisUsernameFile != "" {
		errs = append(errs, errors.New("--redis-username and --redis-username-file: give one"))
	}
	if c.redisDB < 0 {
		errs = append(errs, errors.New("--redis-db must not be negative"))
	}
	return c, errors.Join(errs...)
}
