// Package version is the build's version, stamped at link time:
//
//	go build -ldflags "-X github.com/kfpargo/kfpargo/version.Version=v0.1.0" ./cmd/...
//
// `make build` stamps `git describe`; an unstamped build says "dev".
package version

// Version is set by the linker; it is never assigned at run time.
var Version = "dev"
