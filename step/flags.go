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

// ListSuffix marks an input artifact that is a list (isArtifactList): its
// value is a JSON array of descriptors, as Argo aggregates a loop's outputs
// (nested loops give arrays of arrays, or of their JSON text).
const ListSuffix = "[]"
