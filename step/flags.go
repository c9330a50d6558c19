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
	FlagArtifact       = "--artifact"        // NAME:SCHEMA_TITLE=DESCRIPTOR_JSON
	FlagOutputParam    = "--output-param"    // NAME:TYPE
	FlagOutputArtifact = "--output-artifact" // NAME:SCHEMA_TITLE
)
