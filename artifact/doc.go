// Package artifact moves KFP artifacts between a step's local filesystem and
// an S3-compatible object store, and describes them with a Descriptor: the
// small JSON value that travels between tasks in an Argo parameter while the
// bytes stay in the store.
package artifact
