package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/exec"
	"os/signal"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/google/go-containerregistry/pkg/name"
	v1 "github.com/google/go-containerregistry/pkg/v1"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGTERM, syscall.SIGINT)
	defer stop()
	os.Exit(run(ctx, os.Args[1:], os.Getenv, os.Stdout, os.Stderr))
}

func run(ctx context.Context, args []string, getenv func(string) string, stdout, stderr io.Writer) int {
	o, err := parseFlags(args, getenv, stderr)
	if errors.Is(err, flag.ErrHelp) {
		return 0
	}
	if err != nil {
		fmt.Fprintf(stderr, "imagebuild: %v\n", err)
		return 2
	}
	if _, err := build(ctx, o, stdout); err != nil {
		fmt.Fprintf(stderr, "imagebuild: %v\n", err)
		return 1
	}
	return 0
}

func parseFlags(args []string, getenv func(string) string, stderr io.Writer) (*options, error) {
	o := &options{}
	fs := flag.NewFlagSet("imagebuild", flag.ContinueOnError)
	fs.SetOutput(stderr)
	var platforms, created string
	fs.StringVar(&o.repoDir, "C", ".", "repository root (the module's directory)")
	fs.StringVar(&o.outDir, "out", "bin/images", "output directory")
	fs.StringVar(&o.goCmd, "go", "go", "go command")
	fs.StringVar(&o.version, "version", "dev", "version stamped into the binaries (--version prints it) and used as the image tag")
	fs.StringVar(&o.revision, "revision", "", "commit for the org.opencontainers.image.revision label (default: git rev-parse HEAD)")
	fs.StringVar(&o.source, "source", "https://github.com/kfpargo/kfpargo", "URL for the org.opencontainers.image.source label")
	fs.StringVar(&created, "created", "", "image creation time and every file's mtime, as Unix seconds (default: $SOURCE_DATE_EPOCH, else the commit's time)")
	fs.StringVar(&o.repo, "repo", "ghcr.io/kfpargo", "repository prefix of the local tags: PREFIX/NAME:VERSION, as the manifests name the images")
	fs.StringVar(&o.push, "push", "", "also push each image index to PREFIX/NAME:VERSION (credentials from the default keychain)")
	fs.StringVar(&platforms, "platforms", "linux/amd64,linux/arm64", "comma-separated OS/ARCH list")
	fs.StringVar(&o.caCerts, "ca-certs", "/etc/ssl/certs/ca-certificates.crt", "CA bundle copied into the cache webhook image (Debian's ca-certificates)")
	if err := fs.Parse(args); err != nil {
		return nil, err
	}
	if fs.NArg() > 0 {
		return nil, fmt.Errorf("unexpected argument %q", fs.Arg(0))
	}
	// Checked here, not after minutes of compiling.
	if _, err := name.NewTag(o.repo+"/launcher:"+o.version, name.StrictValidation); err != nil {
		return nil, fmt.Errorf("-version %q with -repo %q does not make an image reference: %w", o.version, o.repo, err)
	}
	if o.push != "" {
		if _, err := name.NewTag(strings.TrimSuffix(o.push, "/")+"/launcher:"+o.version, name.StrictValidation); err != nil {
			return nil, fmt.Errorf("-push %q does not make an image reference: %w", o.push, err)
		}
	}
	var err error
	if o.platforms, err = parsePlatforms(platforms); err != nil {
		return nil, fmt.Errorf("-platforms: %w", err)
	}
	if created == "" {
		created = getenv("SOURCE_DATE_EPOCH")
		if created == "" {
			if created, err = git(o.repoDir, "log", "-1", "--format=%ct"); err != nil {
				return nil, fmt.Errorf("-created not given, SOURCE_DATE_EPOCH not set, and the commit's time is unknown: %w", err)
			}
		}
	}
	if o.created, err = parseEpoch(created); err != nil {
		return nil, fmt.Errorf("-created (or SOURCE_DATE_EPOCH): %w", err)
	}
	if o.revision == "" {
		if o.revision, err = git(o.repoDir, "rev-parse", "HEAD"); err != nil {
			return nil, fmt.Errorf("-revision not given and the commit is unknown: %w", err)
		}
	}
	return o, nil
}

// parsePlatforms reads "linux/amd64,linux/arm64". Variants (linux/arm/v7)
// are refused: compile does not map them to GOARM and friends.
func parsePlatforms(s string) ([]v1.Platform, error) {
	var ps []v1.Platform
	seen := map[string]bool{}
	for _, f := range strings.Split(s, ",") {
		f = strings.TrimSpace(f)
		goos, arch, ok := strings.Cut(f, "/")
		if !ok || goos == "" || arch == "" || strings.Contains(arch, "/") {
			return nil, fmt.Errorf("%q: want OS/ARCH, e.g. linux/arm64 (variants are not supported)", f)
		}
		if goos != "linux" {
			return nil, fmt.Errorf("%q: the images run on Linux only", f)
		}
		if seen[f] {
			return nil, fmt.Errorf("%q given twice", f)
		}
		seen[f] = true
		ps = append(ps, v1.Platform{OS: goos, Architecture: arch})
	}
	return ps, nil
}

// parseEpoch reads Unix seconds, the SOURCE_DATE_EPOCH convention.
func parseEpoch(s string) (time.Time, error) {
	n, err := strconv.ParseInt(strings.TrimSpace(s), 10, 64)
	if err != nil || n < 0 {
		return time.Time{}, fmt.Errorf("%q is not a count of seconds since 1970", s)
	}
	return time.Unix(n, 0).UTC(), nil
}

func git(dir string, args ...string) (string, error) {
	cmd := exec.Command("git", append([]string{"-C", dir}, args...)...)
	out, err := cmd.Output()
	if err != nil {
		var ee *exec.ExitError
		if errors.As(err, &ee) {
			err = fmt.Errorf("%w: %s", err, strings.TrimSpace(string(ee.Stderr)))
		}
		return "", fmt.Errorf("git %s in %s: %w", strings.Join(args, " "), dir, err)
	}
	return strings.TrimSpace(string(out)), nil
}
