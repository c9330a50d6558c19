package localstack

// Versions of the components the stack builds. The tools modules under
// test/tools pin the same versions in their go.mod files (a unit test
// checks that they agree); the values here name the cached binaries.
const (
	EtcdVersion       = "v3.5.21"
	KubernetesVersion = "v1.33.13"
	ArgoVersion       = "v3.7.9"
	// MinioVersion is a pseudo-version: MinIO publishes no semver tags
	// that the module proxy serves as a Go module.
	MinioVersion = "v0.0.0-20260212201848-7aac2a2c5b7c"
)

// Names the stack creates in the cluster and hands to tests.
const (
	// Namespace is where the workflow-controller runs workflows.
	Namespace = "argo"
	// NodeName is the node the node agent registers.
	NodeName = "kfpargo-local"
	// Bucket is created in MinIO at start.
	Bucket = "mlpipeline"
	// S3SecretName is a Secret in Namespace with keys ENDPOINT, ACCESS_KEY,
	// SECRET_KEY and INSECURE (package step names the keys).
	S3SecretName = "kfpargo-s3"
	// CertManagerVersion is the cert-manager module whose CRDs the install
	// tests apply (manifests/overlays/cert-manager uses its kinds).
	CertManagerVersion = "v1.21.2"
	// RedisSecretName is a Secret in Namespace with the key ADDR: the cache
	// store cached steps write their entries to.
	RedisSecretName = "kfpargo-redis"
	// ExecutorImage is the executor image configured in Argo; the node
	// agent maps it to the locally built argoexec.
	ExecutorImage = "quay.io/argoproj/argoexec:" + ArgoVersion
	// DefaultLauncherImage is mapped to the locally built launcher unless
	// Config.LauncherImage says otherwise.
	DefaultLauncherImage = "ghcr.io/kfpargo/launcher:dev"
	// CacheWebhookImage, RedisImage and MinioImage are what
	// manifests/overlays/dev runs; the node agent maps them to the
	// locally built cache webhook, Debian's redis-server and the stack's
	// MinIO (tags ignored).
	CacheWebhookImage = "ghcr.io/kfpargo/cachewebhook"
	RedisImage        = "redis"
	MinioImage        = "quay.io/minio/minio"
)
