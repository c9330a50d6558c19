package step

// Pod metadata of the step cache. The translator labels the pods of cached
// steps; the cache webhook annotates what it decided.
const (
	// LabelCache = CacheEnabled marks the pods the webhook looks at
	// (its objectSelector), from the task's cachingOptions.enableCache.
	LabelCache   = "kfpargo.io/cache"
	CacheEnabled = "enabled"
	// LabelCached = "true" marks a pod the webhook turned into a replay.
	LabelCached = "kfpargo.io/cached"
	// AnnotationCacheKey is the step's cache key as the webhook computed it,
	// on hits and misses.
	AnnotationCacheKey = "kfpargo.io/cache-key"
	// AnnotationCacheSource names the run and pod whose outputs a replay
	// serves: NAMESPACE/WORKFLOW/POD.
	AnnotationCacheSource = "kfpargo.io/cache-source"
	// AnnotationCacheDecision says why: hit, miss, or why the step was not
	// looked up.
	AnnotationCacheDecision = "kfpargo.io/cache-decision"
)
