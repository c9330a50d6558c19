// Package manifests holds kfpargo's Kubernetes manifests: kustomize bases
// and overlays, applied with `kubectl apply -k` from a checkout or by
// `kfpargo install`, which carries them embedded (FS) so that no checkout
// and no kustomize binary is needed.
package manifests
