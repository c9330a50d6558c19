package translator

import "github.com/kfpargo/kfpargo/ir"

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
	DefaultLauncherImage = LauncherRepository + ":dev"
	// LauncherRepository is where released launcher images are published,
	// tagged with the release's version (docs/images.md).
	LauncherRepository = "ghcr.io/kfpargo/launcher"
	DefaultS3Secret    = "kfpargo-s3"
	DefaultRedisSecret = "kfpargo-redis"
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
	// RedisSecret names the Secret a cached step's launcher reads the cache
	// store's settings from (step.EnvRedis*), imported with the prefix
	// KFPARGO_REDIS_.
	RedisSecret string
	// Params are run arguments by pipeline input name, as text; they are
	// checked against the input's type.
	Params map[string]string
	// ServiceAccount runs the workflow's pods; the namespace default when empty.
	ServiceAccount string
	// Schedule is the cron schedule of a KindCronWorkflow; Timezone its
	// IANA time zone (the controller's when empty).
	Schedule string
	Timezone string

	// DisableCache turns step caching off for every task, whatever the
	// spec's cachingOptions say (KFP's enable_caching=False).
	DisableCache bool
	// MaxCacheStaleness is the oldest cache entry a cached step may use, a
	// Go duration; empty means the webhook's own limit.
	MaxCacheStaleness string
	// RefreshCache makes cached steps run even on a hit and replace the
	// entry (kfpargo compile --refresh-cache).
	RefreshCache bool

	// Images gives, by image reference as the spec writes it, what an
	// image runs by default, for containers that name no command.
	Images map[string]ImageDefaults
	// ImageLookupErrors says, by image, why its defaults are unknown; the
	// error for a container without a command quotes it.
	ImageLookupErrors map[string]string

	allowMissingInputs bool
}

// ImageDefaults is an image's ENTRYPOINT and CMD. As in Kubernetes, a
// container without a command runs Entrypoint followed by its args, or by
// Cmd when it has no args.
type ImageDefaults struct {
	Entrypoint []string
	Cmd        []string
}

// ImagesWithoutCommand lists the images of container executors that name
// no command (CreatePVC/DeletePVC stand-ins aside), sorted: the images
// whose defaults a caller must look up before translating.
func ImagesWithoutCommand(p *ir.Pipeline) []string {
	seen := map[string]bool{}
	for _, e := range p.Spec.DeploymentSpec.Executors {
		if c := e.Container; c != nil && len(c.Command) == 0 && !isPVCStub(c.Image) {
			seen[c.Image] = true
		}
	}
	return sortedKeys(seen)
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
	if o.RedisSecret == "" {
		o.RedisSecret = DefaultRedisSecret
	}
	if o.S3Secret == "" {
		o.S3Secret = DefaultS3Secret
	}
	return o
}
