package step

// Pod metadata that carries a step's caching options from the translator to
// the cache webhook and the launcher.
const (
	// LabelCache = CacheEnabled marks the pods the webhook looks at
	// (its objectSelector), from the task's cachingOptions.enableCache.
	LabelCache   = "kfpargo.io/cache"
	CacheEnabled = "enabled"
	// AnnotationCacheKey is the task's cachingOptions.cacheKey, a user salt.
	AnnotationCacheKey = "kfpargo.io/cache-key"
	// AnnotationMaxCacheStaleness bounds the age of an entry that may be
	// used (a Go duration, from kfpargo compile --max-cache-staleness).
	AnnotationMaxCacheStaleness = "kfpargo.io/max-cache-staleness"
	// AnnotationFingerprint is the component's static fingerprint
	// (package cachekey), computed at compile time.
	AnnotationFingerprint = "kfpargo.io/component-fingerprint"
)
