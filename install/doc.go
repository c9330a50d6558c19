// Package install renders kfpargo's embedded manifests for a cluster and
// applies, waits for and removes them: what `kfpargo install` and
// `kfpargo uninstall` do, without kubectl or kustomize binaries.
//
// Render is a pure function of its Options: kustomize (as a library) over
// an in-memory copy of package manifests, then the values an installation
// chooses (images, storage settings, workflow namespaces) stamped into the
// result. Client applies the objects with server-side apply in dependency
// order, waits for the Deployments to roll out and deletes them again,
// webhook configuration first.
//
// Secrets are never rendered with placeholder values: a Secret is part of
// the result only when its values are known (given in Options, or the dev
// overlay's development credentials), so re-running an install never
// overwrites Secrets an operator created.
package install
