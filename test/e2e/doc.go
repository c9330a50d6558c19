// Package e2e holds the end-to-end suite: real pipelines compiled by
// kfpargo, run by the real Argo workflow-controller and executor, with
// artifacts in a real MinIO.
//
// By default it brings up the local stack (root needed). With
// KFPARGO_E2E_CLUSTER=existing it runs against the cluster KUBECONFIG points
// at instead; see the README for what that cluster needs.
package e2e
