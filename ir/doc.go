// Package ir is kfpargo's typed model of the Kubeflow Pipelines pipeline IR
// (PipelineSpec, schemaVersion 2.1.0, plus the optional Kubernetes platform
// spec) and its strict loader.
//
// Decoding is strict on purpose: an unknown field is an error that names its
// path, never silently dropped, because the upstream Go module lags behind the
// SDK and a dropped field would change what a pipeline does.
package ir
