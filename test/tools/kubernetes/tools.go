//go:build tools

// Package tools pins the Kubernetes control-plane version that the local
// stack builds; it holds no code of its own.
package tools

import (
	_ "k8s.io/kubernetes/cmd/kube-apiserver"
	_ "k8s.io/kubernetes/cmd/kube-controller-manager"
	_ "k8s.io/kubernetes/cmd/kubectl"
)
