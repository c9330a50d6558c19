package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"strings"
	"time"

	"github.com/spf13/cobra"
	"github.com/spf13/pflag"
	"k8s.io/apimachinery/pkg/runtime"

	"github.com/kfpargo/kfpargo/imageconfig"
	"github.com/kfpargo/kfpargo/ir"
	"github.com/kfpargo/kfpargo/translator"
	"github.com/kfpargo/kfpargo/version"
)

type compileFlags struct {
	output        string
	params        []string
	pipelineRoot  string
	launcherImage string
	s3Secret      string
	redisSecret   string
	kind          string
	sa            string
	schedule      string
	timezone      string
	entrypoints   []string
	lookup        bool
	lookupTimeout time.Duration
	disableCache  bool
	refreshCache  bool
	staleness     string
}

func newCompileCommand() *cobra.Command {
	var f compileFlags
	cmd := &cobra.Command{
		Use:   "compile PIPELINE",
		Short: "Translate a KFP pipeline spec into an Argo Workflow, WorkflowTemplate or CronWorkflow (YAML on stdout)",
		Long: `Translate a KFP pipeline spec into an Argo Workflow.

PIPELINE is a spec compiled by the KFP SDK: .yaml/.yml or .json (the pipeline spec,
optionally followed by the Kubernetes platform spec), a .zip or .tar.gz holding one
spec, or - for standard input. The Workflow is printed as YAML on stdout.

A container without a command runs its image's entrypoint. The launcher wraps the
command, so kfpargo reads the ENTRYPOINT and CMD from the image's registry (with the
local Docker credentials) or takes them from --image-entrypoint; if neither works the
spec is refused with the registry's reason.

Invalid input prints one line per problem, "error: FILE: PATH: message", where PATH
is the field path in the spec (or the flag), and exits with code 2.`,
		Example: `  kfpargo compile pipeline.yaml > workflow.yaml
  kfpargo compile pipeline.yaml --param hidden_units=256 -o workflow.yaml
  cat pipeline.json | kfpargo compile -
  kfpargo compile pipeline.yaml --kind workflowtemplate > template.yaml
  kfpargo compile pipeline.yaml --kind cronworkflow --schedule '0 3 * * *' --timezone Europe/Berlin
  kfpargo compile pipeline.yaml --image-entrypoint 'gcr.io/team/trainer:1=["python", "-m", "train"]'`,
		Args: func(cmd *cobra.Command, args []string) error {
			if len(args) != 1 {
				return usageError{fmt.Errorf("compile takes exactly one PIPELINE argument (got %d); see kfpargo compile --help", len(args))}
			}
			return nil
		},
		RunE: func(cmd *cobra.Command, args []string) error {
			return runCompile(cmd, args[0], f)
		},
	}
	fl := cmd.Flags()
	fl.StringVarP(&f.output, "output", "o", "", "write the Workflow to this file instead of stdout")
	fl.StringVar(&f.kind, "kind", string(translator.KindWorkflow), "object to produce: workflow (one run), workflowtemplate (a registered pipeline) or cronworkflow (recurring runs, needs --schedule)")
	fl.StringVar(&f.schedule, "schedule", "", "cron schedule of a cronworkflow, e.g. '0 3 * * *'")
	fl.StringVar(&f.timezone, "timezone", "", "IANA time zone of the schedule (default: the controller's)")
	f.addTranslationFlags(fl)
	return cmd
}

// addTranslationFlags are the flags of every command that translates a
// spec: compile, submit, run and schedule.
func (f *compileFlags) addTranslationFlags(fl *pflag.FlagSet) {
	fl.StringArrayVarP(&f.params, "param", "p", nil, "run argument NAME=VALUE for a pipeline input, checked against its type (repeatable)")
	fl.StringVar(&f.pipelineRoot, "pipeline-root", "", "where output artifacts are stored (default: the spec's defaultPipelineRoot, else "+translator.DefaultPipelineRoot+")")
	// The launcher that matches this CLI: a released kfpargo compiles
	// workflows that use its own release's launcher.
	fl.StringVar(&f.launcherImage, "launcher-image", translator.LauncherRepository+":"+version.Version, "image holding the kfpargo launcher binary")
	fl.StringVar(&f.redisSecret, "redis-secret", translator.DefaultRedisSecret, "Secret with the cache store's settings for cached steps, imported as KFPARGO_REDIS_<KEY>: keys ADDR (host:port), optional USERNAME, PASSWORD, DB, SCOPE (namespace or cluster, as the webhook's --cache-scope), MAX_TTL (e.g. 720h) and WAIT (how long a step waits for an identical running step, default 30m)")
	fl.StringVar(&f.s3Secret, "s3-secret", translator.DefaultS3Secret, "Secret with the object store's settings, imported as KFPARGO_S3_<KEY>: keys ENDPOINT (host:port), ACCESS_KEY, SECRET_KEY, optional INSECURE (true for plain HTTP), REGION and CREATE_BUCKET")
	fl.StringVar(&f.sa, "service-account", "", "service account for the workflow's pods (default: the namespace's default)")
	fl.BoolVar(&f.disableCache, "no-cache", false, "turn step caching off for every task: no step reads or writes the cache (otherwise each task's cachingOptions.enableCache decides)")
	fl.BoolVar(&f.refreshCache, "refresh-cache", false, "run every cached step even when an entry exists, and replace the entry")
	fl.StringVar(&f.staleness, "max-cache-staleness", "", "oldest cache entry a cached step may reuse, e.g. 24h (default: the cache webhook's limit)")
	fl.StringArrayVar(&f.entrypoints, "image-entrypoint", nil, "IMAGE=CMD: the entrypoint of an image used by containers without a command, as a JSON array or space-separated words; skips the registry lookup for that image (repeatable)")
	fl.BoolVar(&f.lookup, "registry-lookup", true, "read the entrypoint of images used by containers without a command from their registry; false keeps the compile offline")
	fl.DurationVar(&f.lookupTimeout, "registry-timeout", 10*time.Second, "time allowed for each registry lookup")
}

func runCompile(cmd *cobra.Command, file string, f compileFlags) error {
	obj, err := compileFile(cmd, file, f)
	if err != nil {
		return err
	}
	out, err := translator.MarshalYAML(obj)
	if err != nil {
		return fmt.Errorf("marshal %s: %w", f.kind, err)
	}
	if f.output == "" {
		_, err = cmd.OutOrStdout().Write(out)
		return err
	}
	if err := os.WriteFile(f.output, out, 0o644); err != nil {
		return fmt.Errorf("write %s: %w", f.output, err)
	}
	return nil
}

// compileFile reads and translates a pipeline spec as compile does
// (submit, run and schedule too); problems with the input are reported
// line by line and come back as a reportedError or usageError.
func compileFile(cmd *cobra.Command, file string, f compileFlags) (runtime.Object, error) {
	data, err := readInput(cmd.InOrStdin(), file)
	if err != nil {
		return nil, usageError{err}
	}
	name := file
	if file == "-" {
		name = "<stdin>"
	}
	params := map[string]string{}
	for _, kv := range f.params {
		k, v, err := splitParam(kv)
		if err != nil {
			return nil, err
		}
		params[k] = v
	}
	p, err := ir.Parse(file, data)
	if err != nil {
		return nil, report(cmd.ErrOrStderr(), name, err)
	}
	images, lookupErrs, err := imageDefaults(cmd.Context(), p, f)
	if err != nil {
		return nil, usageError{err}
	}
	obj, err := translator.TranslateObject(p, translator.Options{
		Images:            images,
		ImageLookupErrors: lookupErrs,
		DisableCache:      f.disableCache,
		MaxCacheStaleness: f.staleness,
		RefreshCache:      f.refreshCache,
		Kind:              translator.Kind(f.kind),
		PipelineRoot:      f.pipelineRoot,
		LauncherImage:     f.launcherImage,
		S3Secret:          f.s3Secret,
		RedisSecret:       f.redisSecret,
		Params:            params,
		ServiceAccount:    f.sa,
		Schedule:          f.schedule,
		Timezone:          f.timezone,
	})
	if err != nil {
		return nil, report(cmd.ErrOrStderr(), name, err)
	}
	return obj, nil
}

// splitParam reads a --param NAME=VALUE.
func splitParam(kv string) (string, string, error) {
	k, v, ok := strings.Cut(kv, "=")
	if !ok || k == "" {
		return "", "", usageError{fmt.Errorf("--param %q: expected NAME=VALUE", kv)}
	}
	return k, v, nil
}

// imageDefaults finds the ENTRYPOINT and CMD of every image that a
// container without a command uses: from --image-entrypoint, else from the
// registry; why a lookup failed goes to the translator's error.
func imageDefaults(ctx context.Context, p *ir.Pipeline, f compileFlags) (map[string]translator.ImageDefaults, map[string]string, error) {
	images := map[string]translator.ImageDefaults{}
	for _, flag := range f.entrypoints {
		image, ep, err := imageconfig.ParseEntrypoint(flag)
		if err != nil {
			return nil, nil, err
		}
		images[image] = translator.ImageDefaults{Entrypoint: ep}
	}
	errs := map[string]string{}
	if ctx == nil {
		ctx = context.Background()
	}
	for _, image := range translator.ImagesWithoutCommand(p) {
		if _, ok := images[image]; ok {
			continue
		}
		if !f.lookup {
			errs[image] = "--registry-lookup=false"
			continue
		}
		cfg, err := imageconfig.Lookup(ctx, image, f.lookupTimeout)
		if err != nil {
			errs[image] = err.Error()
			continue
		}
		images[image] = translator.ImageDefaults{Entrypoint: cfg.Entrypoint, Cmd: cfg.Cmd}
	}
	return images, errs, nil
}

func readInput(stdin io.Reader, file string) ([]byte, error) {
	if file == "-" {
		return io.ReadAll(stdin)
	}
	data, err := os.ReadFile(file)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", file, errors.Unwrap(err))
	}
	return data, nil
}

// report prints one "error: FILE: PATH: message" line per problem.
func report(w io.Writer, file string, err error) error {
	var list ir.Errors
	if !errors.As(err, &list) {
		list = ir.Errors{{Msg: err.Error()}}
	}
	for _, e := range list {
		fmt.Fprintf(w, "error: %s: %s\n", file, e.Error())
	}
	return reportedError{n: len(list)}
}
