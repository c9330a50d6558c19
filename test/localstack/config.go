package localstack

import (
	"bufio"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"time"

	"go.uber.org/zap"
)

// ModulePath is the kfpargo main module; FindRepoRoot looks for its go.mod.
const ModulePath = "github.com/kfpargo/kfpargo"

// Config says where a stack lives and how it reports.
type Config struct {
	// RepoDir is the kfpargo repository root (the tools modules and the
	// node agent / launcher sources are found there). Default: found by
	// walking up from the working directory.
	RepoDir string
	// StateDir holds all state, logs and the project's built binaries.
	// Default: <RepoDir>/.stack.
	StateDir string
	// CacheDir holds version-named control-plane binaries in bin/.
	// Default: $KFPARGO_CACHE_DIR, else ~/.cache/kfpargo.
	CacheDir string
	// Logger receives structured events; default: no logging.
	Logger *zap.Logger
	// Progress receives one human-readable line per slow step; default: discarded.
	Progress io.Writer
	// LauncherImage is the image repository (tag ignored) that the node
	// agent maps to the locally built launcher. Default DefaultLauncherImage.
	LauncherImage string
	// RequireLauncher makes a missing ./cmd/launcher an error; otherwise
	// the launcher image is simply not mapped (and a note is printed).
	RequireLauncher bool
	// ImageDirs maps more image repositories (tag ignored) to host
	// directories whose programs stand in for the image's: the node agent
	// puts the directory first on such a container's PATH.
	ImageDirs map[string]string
	// NoCacheWebhook leaves the cache webhook to an installation
	// (manifests/, applied by the caller): the stack neither runs nor
	// registers one of its own.
	NoCacheWebhook bool
	// StopGrace is how long a child gets between SIGTERM and SIGKILL.
	// Default 10s (the node agent gets three times as much).
	StopGrace time.Duration
}

func (c Config) withDefaults() (Config, error) {
	if c.RepoDir == "" {
		wd, err := os.Getwd()
		if err != nil {
			return c, fmt.Errorf("working directory: %w", err)
		}
		root, err := FindRepoRoot(wd)
		if err != nil {
			return c, err
		}
		c.RepoDir = root
	}
	repo, err := filepath.Abs(c.RepoDir)
	if err != nil {
		return c, fmt.Errorf("repo dir: %w", err)
	}
	c.RepoDir = repo
	if c.StateDir == "" {
		c.StateDir = filepath.Join(c.RepoDir, ".stack")
	}
	if c.StateDir, err = filepath.Abs(c.StateDir); err != nil {
		return c, fmt.Errorf("state dir: %w", err)
	}
	if c.CacheDir == "" {
		c.CacheDir = os.Getenv("KFPARGO_CACHE_DIR")
	}
	if c.CacheDir == "" {
		home, err := os.UserHomeDir()
		if err != nil {
			return c, fmt.Errorf("cache dir: set KFPARGO_CACHE_DIR: %w", err)
		}
		c.CacheDir = filepath.Join(home, ".cache", "kfpargo")
	}
	if c.CacheDir, err = filepath.Abs(c.CacheDir); err != nil {
		return c, fmt.Errorf("cache dir: %w", err)
	}
	if c.Logger == nil {
		c.Logger = zap.NewNop()
	}
	if c.Progress == nil {
		c.Progress = io.Discard
	}
	if c.LauncherImage == "" {
		c.LauncherImage = DefaultLauncherImage
	}
	if c.StopGrace <= 0 {
		c.StopGrace = 10 * time.Second
	}
	return c, nil
}

func (c Config) progressf(format string, args ...any) {
	fmt.Fprintf(c.Progress, format+"\n", args...)
}

// FindRepoRoot walks up from dir to the directory whose go.mod declares
// module ModulePath.
func FindRepoRoot(dir string) (string, error) {
	dir, err := filepath.Abs(dir)
	if err != nil {
		return "", fmt.Errorf("find repo root: %w", err)
	}
	for d := dir; ; d = filepath.Dir(d) {
		mod, err := goModModule(filepath.Join(d, "go.mod"))
		if err != nil && !errors.Is(err, os.ErrNotExist) {
			return "", fmt.Errorf("find repo root: %w", err)
		}
		if mod == ModulePath {
			return d, nil
		}
		if filepath.Dir(d) == d {
			return "", fmt.Errorf("find repo root: no go.mod of module %s in %s or above", ModulePath, dir)
		}
	}
}

// goModModule returns the module path declared in a go.mod file.
func goModModule(path string) (string, error) {
	f, err := os.Open(path)
	if err != nil {
		return "", err
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		line := strings.TrimSpace(sc.Text())
		if rest, ok := strings.CutPrefix(line, "module"); ok && (rest == "" || rest[0] == ' ' || rest[0] == '\t') {
			return strings.Trim(strings.TrimSpace(rest), `"`), nil
		}
	}
	return "", sc.Err()
}
