package step

import "path"

const (
	// VolumeName is the emptyDir shared by the launcher's init container and
	// the main container.
	VolumeName = "kfpargo"
	// MountPath is where that volume is mounted in both containers.
	MountPath = "/kfpargo"
	// LauncherPath is where `launcher copy` puts the binary.
	LauncherPath = MountPath + "/bin/launcher"
	// InitContainerName is the name of the init container that copies the
	// launcher.
	InitContainerName = "kfpargo-launcher"

	// ArtifactParamPrefix prefixes the Argo parameter carrying an artifact's
	// descriptor. KFP names are Python identifiers, so a hyphenated prefix
	// cannot collide with a parameter name.
	ArtifactParamPrefix = "artifact-"
	// TaskParam is the Argo input parameter carrying the IR task name.
	TaskParam = "kfpargo-task"
	// MetricsParam is the Argo output parameter of a step with Metrics or
	// ClassificationMetrics outputs: a JSON object of the logged values by
	// output name, so they show in Argo's UI and API without reading S3.
	MetricsParam = "kfpargo-metrics"
	// MetricsFile is where the launcher writes that parameter's value.
	MetricsFile = MountPath + "/outputs/metrics.json"
)

// The artifact types whose values are recorded as metrics.
const (
	SchemaMetrics               = "system.Metrics"
	SchemaClassificationMetrics = "system.ClassificationMetrics"
)

// IsMetrics reports whether an artifact type holds metrics.
func IsMetrics(schemaTitle string) bool {
	return schemaTitle == SchemaMetrics || schemaTitle == SchemaClassificationMetrics
}

// OutputParameterFile is the file the launcher writes an output parameter's
// value to, and that the Argo template reads with valueFrom.path.
func OutputParameterFile(name string) string {
	return path.Join(MountPath, "outputs", "parameters", name)
}

// OutputArtifactFile is the file holding an output artifact's descriptor.
func OutputArtifactFile(name string) string {
	return path.Join(MountPath, "outputs", "artifacts", name+".json")
}

// ArtifactParam is the Argo parameter name for an artifact's descriptor.
func ArtifactParam(name string) string { return ArtifactParamPrefix + name }
