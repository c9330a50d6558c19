// Package localstack runs a real, single-machine Kubernetes + Argo Workflows
// stack on 127.0.0.1 for kfpargo's integration tests: etcd, kube-apiserver,
// kube-controller-manager, the Argo workflow-controller, MinIO, Redis and the
// process node agent (test/nodeagent), which runs pods' containers as local
// processes with the real argoexec and launcher binaries.
//
// Control-plane binaries are built from the Go module proxy through the
// tools modules under test/tools (which pin their versions) and cached by
// version, so only the first run is slow. Everything a stack writes lives
// in one state directory; Up cleans what a crashed previous run left there.
//
// The stack needs root: the node agent uses mount and PID namespaces.
package localstack
