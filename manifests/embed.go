package manifests

import (
	"embed"
	"io/fs"
)

// Only the kustomizations: the tests and this file are not manifests.
//
//go:embed base overlays argo
var files embed.FS

// FS is the manifests tree as it is in the repository (base/,
// overlays/<name>/, argo/), read-only.
func FS() fs.FS { return files }
