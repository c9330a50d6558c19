package step

// Environment variables through which a step's pod hands the launcher its
// object-store settings. The launcher removes every KFPARGO_ variable before
// starting the user's command, so credentials do not leak into user code.
const (
	EnvPrefix = "KFPARGO_"
	// EnvS3Prefix is prepended to each key of the object-store Secret, which
	// the pod imports whole (envFrom): its keys are the variables' names
	// without the prefix, the SecretKey constants.
	EnvS3Prefix       = EnvPrefix + "S3_"
	EnvS3Endpoint     = EnvS3Prefix + SecretKeyEndpoint
	EnvS3AccessKey    = EnvS3Prefix + SecretKeyAccessKey
	EnvS3SecretKey    = EnvS3Prefix + SecretKeySecretKey
	EnvS3Insecure     = EnvS3Prefix + SecretKeyInsecure
	EnvS3Region       = EnvS3Prefix + SecretKeyRegion
	EnvS3Verify       = EnvS3Prefix + SecretKeyVerify
	EnvS3CreateBucket = EnvS3Prefix + SecretKeyCreateBucket
	EnvS3CAPEM        = EnvS3Prefix + SecretKeyCAPEM
)

// Keys of the object-store Secret: ENDPOINT (host:port) is required,
// ACCESS_KEY and SECRET_KEY are the credentials, INSECURE=true means plain
// HTTP, REGION is optional, VERIFY (checksum or sha256) says how downloads
// are checked, CREATE_BUCKET=true creates a missing bucket on first upload,
// CA_PEM holds CA certificates (PEM) trusted for HTTPS besides the system's.
const (
	SecretKeyEndpoint     = "ENDPOINT"
	SecretKeyAccessKey    = "ACCESS_KEY"
	SecretKeySecretKey    = "SECRET_KEY"
	SecretKeyInsecure     = "INSECURE"
	SecretKeyRegion       = "REGION"
	SecretKeyVerify       = "VERIFY"
	SecretKeyCreateBucket = "CREATE_BUCKET"
	// SecretKeyCAPEM is the CA's PEM text itself, not a path: step pods
	// import the Secret as environment variables and mount nothing.
	SecretKeyCAPEM = "CA_PEM"
)

// AbsentValue stands for an optional input that the task did not bind and
// that has no default: Argo parameters always carry a string, so absence
// needs a value no pipeline would use.
const AbsentValue = "__kfpargo_absent__"

// The cache store's settings, imported like the object store's from a
// Secret (keys without the prefix) into cached steps. The webhook takes the
// same settings as flags.
const (
	EnvRedisPrefix   = EnvPrefix + "REDIS_"
	EnvRedisAddr     = EnvRedisPrefix + "ADDR"     // host:port; no address, no cache writes
	EnvRedisUsername = EnvRedisPrefix + "USERNAME" // Redis 6 ACL user, optional
	EnvRedisPassword = EnvRedisPrefix + "PASSWORD"
	EnvRedisDB       = EnvRedisPrefix + "DB"
	// TLS=true connects over TLS, trusting the system's roots and CA_PEM
	// (PEM text); SERVER_NAME overrides the name the certificate must carry.
	EnvRedisTLS        = EnvRedisPrefix + "TLS"
	EnvRedisCAPEM      = EnvRedisPrefix + SecretKeyCAPEM
	EnvRedisServerName = EnvRedisPrefix + "SERVER_NAME"
	// EnvCacheScope is "namespace" (default: entries are seen only in the
	// namespace that wrote them) or "cluster"; it must match the webhook's
	// --cache-scope.
	EnvCacheScope = EnvRedisPrefix + "SCOPE"
	// EnvCacheMaxTTL caps every entry's lifetime (a Go duration; default
	// DefaultMaxCacheTTL), like the webhook's --max-cache-ttl.
	EnvCacheMaxTTL = EnvRedisPrefix + "MAX_TTL"
	// EnvCacheWait bounds how long a step waits for an identical step that
	// holds the key's lease (a Go duration; default 30m), after which it
	// runs too.
	EnvCacheWait = EnvRedisPrefix + "WAIT"
	// EnvCacheHMACKey holds the installation's key(s) that sign entries
	// (cachestore.ParseKeyring: "new old" during a rotation); a webhook
	// given a key serves only entries signed with it.
	EnvCacheHMACKey = EnvRedisPrefix + "HMAC_KEY"
)

// DefaultMaxCacheTTL is the operator's default cap on an entry's lifetime.
const DefaultMaxCacheTTL = "720h"
