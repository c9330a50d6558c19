package step

// Flags of `launcher run` that the translator writes into every step's
// template. Repeatable flags carry NAME:TYPE or NAME:TYPE=VALUE.
const (
	FlagPipelineName   = "--pipeline-name"
	FlagRunName        = "--run-name"
	FlagRunUID         = "--run-uid"
	FlagNamespace      = "--namespace"
	FlagTask           = "--task"
	FlagPodName        = "--pod-name"
	FlagPipelineRoot   = "--pipeline-root"
	FlagParam          = "--param"           // NAME:TYPE=VALUE
	FlagArtifact       = "--artifact"        // NAME:SCHEMA_TITLE=DESCRIPTOR_JSON, or NAME:SCHEMA_TITLE[]=JSON_LIST
	FlagOutputParam    = "--output-param"    // NAME:TYPE
	FlagOutputArtifact = "--output-artifact" // NAME:SCHEMA_TITLE
	// FlagPerPodOutputs puts output artifacts under the pod's name, for
	// tasks that run more than once in a run (loop bodies, a sub-pipeline
	// used twice), where the task name alone is not unique.
	FlagPerPodOutputs = "--per-pod-outputs"
)

// Flags of cached steps, written as single NAME=VALUE tokens at the start of
// the launcher's arguments (see translator/cache.go). The cache webhook reads
// them from the pod, the launcher from its arguments, and both compute the
// step's cache key from them.
const (
	FlagCache             = "--cache"               // the step may be cached
	FlagCacheSalt         = "--cache-salt"          // cachingOptions.cacheKey
	FlagMaxCacheStaleness = "--max-cache-staleness" // a Go duration: the oldest entry to reuse
	FlagRefreshCache      = "--refresh-cache"       // never reuse an entry, but write one
	FlagImage             = "--image"               // the main container's image, as the spec names it
	FlagEnv               = "--env"                 // NAME of a component env variable (repeatable)
)

// ListSuffix marks an input artifact that is a list (isArtifactList): its
// value is a JSON array of descriptors, as Argo aggregates a loop's outputs
// (nested loops give arrays of arrays, or of their JSON text).
const ListSuffix = "[]"
