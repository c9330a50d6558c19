//go:build tools

// Package tools pins the Argo Workflows version whose workflow-controller,
// executor and CRD manifests the local stack uses; it holds no code of its own.
package tools

import (
	_ "github.com/argoproj/argo-workflows/v3/cmd/argoexec"
	_ "github.com/argoproj/argo-workflows/v3/cmd/workflow-controller"
)
