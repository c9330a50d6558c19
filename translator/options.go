package translator

// Kind is the Argo object a pipeline is translated to.
type Kind string

// The kinds Translate can produce.
const (
	KindWorkflow         Kind = "workflow"
	KindWorkflowTemplate Kind = "workflowtemplate"
	KindCronWorkflow     Kind = "cronworkflow"
)

// Defaults used when Options leaves a field empty.
const (
	DefaultPipelineRoot  = "minio://mlpipeline/v2/artifacts"
	DefaultLauncherImage = "ghcr.io/kfpargo/launcher:dev"
	DefaultS3Secret      = "kfpargo-s3"
)

// Options steer a translation.
type Options struct {
	// Kind of the result; KindWorkflow when empty.
	Kind Kind
	// PipelineRoot is where output artifacts go; the spec's
	// defaultPipelineRoot, then DefaultPipelineRoot, when empty.
	PipelineRoot string
	// LauncherImage holds the static launcher binary.
	LauncherImage string
	// S3Secret names the Secret the launcher reads its object-store endpoint
	// and credentials from (keys ENDPOINT, ACCESS_KEY, SECRET_KEY, INSECURE, REGION; see package step).
	S3Secret string
	// Params are run arguments by pipeline input name, as text; they are
	// checked against the input's type.
	Params map[string]string
	// ServiceAccount runs the workflow's pods; the namespace default when empty.
	ServiceAccount string
	// Schedule is the cron schedule of a KindCronWorkflow; Timezone its
	// IANA time zone (the controller's when empty).
	Schedule string
	Timezone string

	allowMissingInputs bool
}

func (o Options) withDefaults(specRoot string) Options {
	if o.Kind == "" {
		o.Kind = KindWorkflow
	}
	if o.PipelineRoot == "" {
		o.PipelineRoot = specRoot
	}
	if o.PipelineRoot == "" {
		o.PipelineRoot = DefaultPipelineRoot
	}
	if o.LauncherImage == "" {
		o.LauncherImage = DefaultLauncherImage
	}
	if o.S3Secret == "" {
		o.S3Secret = DefaultS3Secret
	}
	return o
}
