package main

// imageSpec is what one image holds and how it starts. The Dockerfile at
// images/NAME/Dockerfile must build the same (TestDockerfilesMatch).
type imageSpec struct {
	// name is the image's name under the repository prefix and its
	// directory under images/.
	name string
	// pkg is the main package of the binary, relative to the module root.
	pkg string
	// binary is the binary's path in the image; the entrypoint runs it.
	binary string
	// user is the config's User: numeric, so Kubernetes' runAsNonRoot can
	// check it without an /etc/passwd lookup.
	user string
	// caCerts adds the CA bundle at caCertsPath.
	caCerts bool
	// files are copied from the repository (mode 0644, owned by root).
	files []repoFile
}

// repoFile is a file taken verbatim from the repository.
type repoFile struct {
	src  string // relative to the repository root
	dest string // absolute path in the image
}

const (
	// versionVar is the variable the linker stamps, as the Makefile does.
	versionVar = "github.com/kfpargo/kfpargo/version.Version"
	// pathEnv is the PATH every image sets; it is also what BuildKit would
	// give a scratch image, so the Dockerfiles' images have the same.
	pathEnv = "PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"
	// caCertsPath is where Go's crypto/x509 looks first on Linux.
	caCertsPath = "/etc/ssl/certs/ca-certificates.crt"
	// nonroot is distroless's non-root user; the cache webhook's
	// Deployment runs as it (runAsUser: 65532).
	nonroot = "65532:65532"
)

// specs are the images `make images` builds.
//
// The launcher binary is deliberately NOT under /kfpargo: the step's init
// container mounts the shared emptyDir at /kfpargo and runs `launcher copy
// /kfpargo/bin/launcher` (translator/container.go), so a binary there would
// be hidden by the mount. It is found through PATH instead. A cache hit's
// replay container runs /kfpargo/bin/launcher, the copy that init container
// made into the emptyDir (cachewebhook/patch.go), so it needs nothing more
// from this image.
func specs() []imageSpec {
	return []imageSpec{
		{
			name:   "launcher",
			pkg:    "./cmd/launcher",
			binary: "/usr/local/bin/launcher",
			// Non-root by default so steps run in namespaces that enforce
			// runAsNonRoot; the emptyDir it copies into is world-writable.
			user: nonroot,
		},
		{
			name:    "cachewebhook",
			pkg:     "./cmd/cachewebhook",
			binary:  "/usr/local/bin/cachewebhook",
			user:    nonroot,
			caCerts: true,
			files: []repoFile{
				{src: "images/cachewebhook/passwd", dest: "/etc/passwd"},
				{src: "images/cachewebhook/group", dest: "/etc/group"},
			},
		},
	}
}

// entrypoint is the config's Entrypoint: the binary alone, so a
// Deployment's args (manifests/base/deployment.yaml gives only args) are
// its flags.
func (s imageSpec) entrypoint() []string { return []string{s.binary} }
