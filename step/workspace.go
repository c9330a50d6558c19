package step

import (
	"path"
	"strings"
)

// The pipeline workspace (pipelineConfig.workspace): one PersistentVolumeClaim
// per run, from the workflow's volumeClaimTemplates, mounted in every step at
// the path KFP uses, so components that hard-code it keep working.
const (
	// WorkspaceVolumeName names the claim template; Argo names the PVC
	// <workflow name>-kfp-workspace, as KFP does.
	WorkspaceVolumeName = "kfp-workspace"
	// WorkspaceMountPath is what {{$.workspace_path}} resolves to.
	WorkspaceMountPath = "/kfp-workspace"
	// WorkspacePlaceholder is the IR placeholder for WorkspaceMountPath.
	WorkspacePlaceholder = "{{$.workspace_path}}"

	// FlagWorkspace tells `launcher run` that the workspace is mounted and
	// where (its value is WorkspaceMountPath). It is written only into the
	// steps of pipelines that have a workspace.
	FlagWorkspace = "--workspace"

	// MetadataInWorkspace is the artifact metadata key (KFP's) that marks an
	// artifact whose bytes belong in the workspace rather than in the step's
	// local download directory. The KFP SDK reads it to give the artifact's
	// .path; the translator sets it on the descriptors of importers with
	// downloadToWorkspace.
	MetadataInWorkspace = "_kfp_workspace"
)

// WorkspaceArtifactPath is where an artifact marked MetadataInWorkspace
// lives: its usual local path (/minio/bucket/key, see artifact.LocalPath)
// rebased under the workspace's .artifacts directory, as KFP does.
func WorkspaceArtifactPath(localPath string) string {
	return path.Join(WorkspaceMountPath, ".artifacts", strings.TrimPrefix(localPath, "/"))
}
