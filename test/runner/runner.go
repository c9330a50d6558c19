package runner

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"sort"
	"strconv"
	"strings"
	"time"

	wfv1 "github.com/argoproj/argo-workflows/v3/pkg/apis/workflow/v1alpha1"
	wfclient "github.com/argoproj/argo-workflows/v3/pkg/client/clientset/versioned"
	"github.com/minio/minio-go/v7"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/rest"
	"k8s.io/client-go/tools/clientcmd"

	"github.com/kfpargo/kfpargo/artifact"
	"github.com/kfpargo/kfpargo/ir"
	"github.com/kfpargo/kfpargo/runstatus"
	"github.com/kfpargo/kfpargo/step"
	"github.com/kfpargo/kfpargo/translator"
)

// Target is where pipelines run.
type Target struct {
	Clients       runstatus.Clients
	Namespace     string
	Store         *artifact.Store
	LauncherImage string
	PipelineRoot  string
	// NoCache and RefreshCache are kfpargo compile's --no-cache and
	// --refresh-cache for every pipeline compiled for this target.
	NoCache, RefreshCache bool
	// MaxCacheStaleness is kfpargo compile's --max-cache-staleness.
	MaxCacheStaleness string
	// S3Secret is kfpargo compile's --s3-secret; empty: the default.
	S3Secret string
}

// NewTarget connects to a cluster and an object store.
func NewTarget(cfg *rest.Config, namespace string, s3 artifact.Config, launcherImage, pipelineRoot string) (*Target, error) {
	argo, err := wfclient.NewForConfig(cfg)
	if err != nil {
		return nil, fmt.Errorf("argo client: %w", err)
	}
	kube, err := kubernetes.NewForConfig(cfg)
	if err != nil {
		return nil, fmt.Errorf("kubernetes client: %w", err)
	}
	store, err := artifact.NewStore(s3)
	if err != nil {
		return nil, err
	}
	if pipelineRoot == "" {
		pipelineRoot = translator.DefaultPipelineRoot
	}
	return &Target{Clients: runstatus.Clients{Argo: argo, Kube: kube}, Namespace: namespace, Store: store,
		LauncherImage: launcherImage, PipelineRoot: pipelineRoot}, nil
}

// TargetFromEnv reaches an existing cluster: KUBECONFIG (or ~/.kube/config),
// KFPARGO_NAMESPACE (default argo), KFPARGO_S3_ENDPOINT, KFPARGO_S3_ACCESS_KEY,
// KFPARGO_S3_SECRET_KEY, KFPARGO_S3_INSECURE, KFPARGO_LAUNCHER_IMAGE and
// KFPARGO_PIPELINE_ROOT.
func TargetFromEnv() (*Target, error) {
	rules := clientcmd.NewDefaultClientConfigLoadingRules()
	cfg, err := clientcmd.NewNonInteractiveDeferredLoadingClientConfig(rules, nil).ClientConfig()
	if err != nil {
		return nil, fmt.Errorf("kubeconfig: %w", err)
	}
	ns := os.Getenv("KFPARGO_NAMESPACE")
	if ns == "" {
		ns = "argo"
	}
	insecure, _ := strconv.ParseBool(os.Getenv(step.EnvS3Insecure))
	s3 := artifact.Config{
		Endpoint:  os.Getenv(step.EnvS3Endpoint),
		AccessKey: os.Getenv(step.EnvS3AccessKey),
		SecretKey: os.Getenv(step.EnvS3SecretKey),
		Insecure:  insecure,
	}
	if s3.Endpoint == "" {
		return nil, errors.New("KFPARGO_S3_ENDPOINT is not set: the tests read artifacts from the cluster's object store")
	}
	image := os.Getenv("KFPARGO_LAUNCHER_IMAGE")
	if image == "" {
		image = translator.DefaultLauncherImage
	}
	return NewTarget(cfg, ns, s3, image, os.Getenv("KFPARGO_PIPELINE_ROOT"))
}

// Object is one artifact object a run left behind.
type Object struct {
	URI  string
	Size int64
}

// Result is a finished run.
type Result struct {
	Workflow  *wfv1.Workflow
	Steps     []runstatus.Step
	Artifacts []Object
	Elapsed   time.Duration
}

// Succeeded reports whether the run and every step succeeded.
func (r *Result) Succeeded() bool {
	if r.Workflow.Status.Phase != wfv1.WorkflowSucceeded {
		return false
	}
	for _, s := range r.Steps {
		if s.Phase != wfv1.NodeSucceeded {
			return false
		}
	}
	return true
}

// Compile reads and translates a pipeline spec for this target.
func (t *Target) Compile(specPath string, params map[string]string) (*wfv1.Workflow, error) {
	data, err := os.ReadFile(specPath)
	if err != nil {
		return nil, fmt.Errorf("read pipeline: %w", err)
	}
	p, err := ir.Parse(specPath, data)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", specPath, err)
	}
	wf, err := translator.Translate(p, translator.Options{
		LauncherImage: t.LauncherImage, PipelineRoot: t.PipelineRoot, Params: params,
		DisableCache: t.NoCache, RefreshCache: t.RefreshCache, MaxCacheStaleness: t.MaxCacheStaleness,
		S3Secret: t.S3Secret,
	})
	if err != nil {
		return nil, fmt.Errorf("%s: %w", specPath, err)
	}
	return wf, nil
}

// Run submits a compiled workflow, reports step phase changes to progress,
// waits for the end, and gathers steps and artifacts.
func (t *Target) Run(ctx context.Context, wf *wfv1.Workflow, progress io.Writer) (*Result, error) {
	start := time.Now()
	created, err := runstatus.Submit(ctx, t.Clients, t.Namespace, wf)
	if err != nil {
		return nil, err
	}
	fmt.Fprintf(progress, "submitted workflow %s/%s\n", t.Namespace, created.Name)
	done, err := runstatus.Wait(ctx, t.Clients, t.Namespace, created.Name, 500*time.Millisecond, func(s runstatus.Step) {
		fmt.Fprintf(progress, "  %-6s %-16s %s\n", time.Since(start).Round(100*time.Millisecond), s.Name, s.Phase)
	})
	if err != nil {
		return nil, err
	}
	res := &Result{Workflow: done, Elapsed: time.Since(start)}
	pods, err := runstatus.Pods(ctx, t.Clients, t.Namespace, done.Name)
	if err != nil {
		return nil, err
	}
	res.Steps = runstatus.Steps(done, pods)
	res.Artifacts, err = t.Artifacts(ctx, done.Name)
	return res, err
}

// Artifacts lists the objects under the run's prefix of the pipeline root.
func (t *Target) Artifacts(ctx context.Context, run string) ([]Object, error) {
	root, err := artifact.ParseURI(t.PipelineRoot)
	if err != nil {
		return nil, err
	}
	prefix := root.Join(t.Namespace, run).Key + "/"
	var out []Object
	for obj := range t.Store.Client().ListObjects(ctx, root.Bucket, minio.ListObjectsOptions{Prefix: prefix, Recursive: true}) {
		if obj.Err != nil {
			return nil, fmt.Errorf("list artifacts of %s: %w", run, obj.Err)
		}
		out = append(out, Object{URI: root.Scheme + "://" + root.Bucket + "/" + obj.Key, Size: obj.Size})
	}
	sort.Slice(out, func(i, j int) bool { return out[i].URI < out[j].URI })
	return out, nil
}

// Report prints the step table and the artifacts.
func (r *Result) Report(w io.Writer) {
	fmt.Fprintf(w, "\nworkflow %s: %s in %s\n\n", r.Workflow.Name, r.Workflow.Status.Phase, r.Elapsed.Round(100*time.Millisecond))
	_ = runstatus.WriteTable(w, r.Steps)
	fmt.Fprintf(w, "\nartifacts (%d):\n", len(r.Artifacts))
	for _, a := range r.Artifacts {
		fmt.Fprintf(w, "  %-90s %8d bytes\n", a.URI, a.Size)
	}
	if msg := strings.TrimSpace(r.Workflow.Status.Message); msg != "" {
		fmt.Fprintf(w, "\nmessage: %s\n", msg)
	}
}
