package launcher

import (
	"path/filepath"

	"github.com/kfpargo/kfpargo/artifact"
	"github.com/kfpargo/kfpargo/step"
)

// Layout is where a step's files live. Production uses DefaultLayout; tests
// move everything under a temporary directory.
type Layout struct {
	// LocalRoot prefixes KFP's artifact paths (/minio/..., /s3/..., /gcs/...).
	LocalRoot string
	// StepDir is the emptyDir shared with Argo (step.MountPath).
	StepDir string
	// TaskRoot is the local path of the task's URI prefix, when the step
	// has one; the executor output file goes there.
	TaskRoot string
}

// DefaultLayout is the layout inside a real step pod.
func DefaultLayout() Layout {
	return Layout{LocalRoot: "/", StepDir: step.MountPath}
}

// ArtifactPath is the local path of an artifact's URI.
func (l Layout) ArtifactPath(loc artifact.Location) string {
	return filepath.Join(l.LocalRoot, loc.LocalPath())
}

// InputPath is where an input artifact is read: its usual local path, or,
// for an artifact marked to live in the pipeline workspace (KFP's
// _kfp_workspace metadata), that path under the workspace's .artifacts.
func (l Layout) InputPath(loc artifact.Location, md map[string]any, workspace string) string {
	if inWorkspace(md) && workspace != "" {
		return filepath.Join(workspace, ".artifacts", loc.LocalPath())
	}
	return l.ArtifactPath(loc)
}

func inWorkspace(md map[string]any) bool {
	v, _ := md[step.MetadataInWorkspace].(bool)
	return v
}

// UserParamFile is where the user's command writes an output parameter
// ({{$.outputs.parameters['x'].output_file}}). It sits in the shared emptyDir,
// which is writable whatever user the image runs as.
func (l Layout) UserParamFile(name string) string {
	return filepath.Join(l.StepDir, "user", "outputs", "parameters", name)
}

// ExecutorOutputFile is {{$.outputs.output_file}}: lightweight Python
// components write their ExecutorOutput JSON there, and take its directory
// as the task root for dsl.get_uri().
func (l Layout) ExecutorOutputFile() string {
	if l.TaskRoot != "" {
		return filepath.Join(l.TaskRoot, "executor_output.json")
	}
	return filepath.Join(l.StepDir, "user", "executor_output.json")
}

// ArgoParamFile is the file Argo reads an output parameter from.
func (l Layout) ArgoParamFile(name string) string {
	return filepath.Join(l.StepDir, rel(step.OutputParameterFile(name)))
}

// ArgoArtifactFile is the file Argo reads an output artifact's descriptor from.
func (l Layout) ArgoArtifactFile(name string) string {
	return filepath.Join(l.StepDir, rel(step.OutputArtifactFile(name)))
}

// MetricsFile is the file Argo reads the metrics output parameter from.
func (l Layout) MetricsFile() string {
	return filepath.Join(l.StepDir, rel(step.MetricsFile))
}

func rel(p string) string {
	r, err := filepath.Rel(step.MountPath, p)
	if err != nil {
		return p
	}
	return r
}
