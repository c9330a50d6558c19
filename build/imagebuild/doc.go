// Command imagebuild builds kfpargo's two cluster images, the launcher and
// the cache webhook, without a Docker engine (`make images`): it
// cross-compiles each binary with the Go toolchain and assembles the OCI
// images directly with go-containerregistry.
//
// What goes into each image is defined once, in images.go; the Dockerfiles
// under images/ build the same images for people who have Docker, and
// TestDockerfilesMatch keeps the two in step.
//
// The output is reproducible: every file in a layer has the commit's time
// as its mtime and root (or the spec's) as its owner, the config's
// timestamps are the same time, and the Go builds are -trimpath, so the
// same commit, Go toolchain and CA bundle give the same digests.
//
// Usage (from the repository root):
//
//	go run ./build/imagebuild -version v0.1.0 [-platforms linux/amd64,linux/arm64] [-out bin/images] [-push REGISTRY/PREFIX]
//
// It writes, per image, an OCI image layout (OUT/NAME, an image index over
// the platforms, tagged VERSION) and a `docker load` tarball per platform
// (OUT/NAME-OS-ARCH.tar, tagged REPO/NAME:VERSION). With -push it also
// pushes the index to PREFIX/NAME:VERSION using the default keychain
// (~/.docker/config.json and credential helpers).
//
// Exit codes: 0 success; 1 a build, write or push failed; 2 bad flags.
package main
