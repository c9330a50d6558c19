// Package runner compiles a pipeline spec, runs it on a cluster (the local
// stack or any cluster with Argo and kfpargo's Secret) and gathers what the
// demo and the end-to-end tests look at: the step table and the artifacts
// the run left in the object store.
package runner
