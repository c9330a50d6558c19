package localstack

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"time"

	"go.uber.org/zap"
)

// Binaries are the executables a stack runs.
type Binaries struct {
	Etcd              string
	APIServer         string
	ControllerManager string
	// Kubectl matches the apiserver; docs/install.md's commands use it
	// (a fresh machine has none).
	Kubectl            string
	WorkflowController string
	Argoexec           string
	Minio              string
	Redis              string
	NodeAgent          string
	// Launcher is empty when ./cmd/launcher does not exist and
	// Config.RequireLauncher is false.
	Launcher string
	// CacheWebhook is empty when ./cmd/cachewebhook does not exist.
	CacheWebhook string
}

// cachedTool is a third-party binary built once per version into the cache.
type cachedTool struct {
	name    string
	version string
	// slow is shown in the progress line of a first build.
	slow  string
	build func(ctx context.Context, b *builder, out string) error
}

// builder runs go commands with their output going to one log file.
type builder struct {
	cfg     Config
	logPath string
}

// Build makes sure every binary the stack needs exists: third-party ones
// in <CacheDir>/bin (built only when their version is missing), the
// project's own (node agent, launcher) in <StateDir>/bin (rebuilt every
// time; Go's build cache makes that quick). Go's output goes to
// <StateDir>/logs/build.log.
func Build(ctx context.Context, cfg Config) (*Binaries, error) {
	cfg, err := cfg.withDefaults()
	if err != nil {
		return nil, err
	}
	return build(ctx, cfg)
}

func build(ctx context.Context, cfg Config) (*Binaries, error) {
	logDir := filepath.Join(cfg.StateDir, "logs")
	for _, d := range []string{logDir, filepath.Join(cfg.CacheDir, "bin"), filepath.Join(cfg.StateDir, "bin")} {
		if err := os.MkdirAll(d, 0o755); err != nil {
			return nil, fmt.Errorf("build: %w", err)
		}
	}
	b := &builder{cfg: cfg, logPath: filepath.Join(logDir, "build.log")}
	redis, err := exec.LookPath("redis-server")
	if err != nil {
		return nil, errors.New("build: redis-server not found on PATH; install it with: apt-get install -y redis-server")
	}
	bins := &Binaries{Redis: redis}
	for _, t := range []struct {
		tool cachedTool
		dst  *string
	}{
		{cachedTool{"etcd", EtcdVersion, "under a minute", buildEtcd}, &bins.Etcd},
		{cachedTool{"kube-apiserver", KubernetesVersion, "a few minutes", buildKube("kube-apiserver")}, &bins.APIServer},
		{cachedTool{"kube-controller-manager", KubernetesVersion, "about a minute", buildKube("kube-controller-manager")}, &bins.ControllerManager},
		{cachedTool{"kubectl", KubernetesVersion, "about two minutes", buildKube("kubectl")}, &bins.Kubectl},
		{cachedTool{"workflow-controller", ArgoVersion, "a few minutes", buildWorkflowController}, &bins.WorkflowController},
		{cachedTool{"argoexec", ArgoVersion, "about two minutes", buildArgoexec}, &bins.Argoexec},
		{cachedTool{"minio", MinioVersion, "a few minutes", buildMinio}, &bins.Minio},
	} {
		p, err := b.cached(ctx, t.tool)
		if err != nil {
			return nil, err
		}
		*t.dst = p
	}

	binDir := filepath.Join(cfg.StateDir, "bin")
	// Under its own name, so that the env file can put it on PATH.
	kubectl := filepath.Join(binDir, "kubectl")
	if err := linkOrCopy(bins.Kubectl, kubectl); err != nil {
		return nil, fmt.Errorf("build: kubectl: %w", err)
	}
	bins.Kubectl = kubectl
	if !hasGoFiles(filepath.Join(cfg.RepoDir, "test", "cmd", "nodeagent")) {
		return nil, fmt.Errorf("build: node agent sources %s not found", filepath.Join(cfg.RepoDir, "test", "cmd", "nodeagent"))
	}
	bins.NodeAgent = filepath.Join(binDir, "nodeagent")
	if err := b.project(ctx, "./test/cmd/nodeagent", bins.NodeAgent); err != nil {
		return nil, err
	}
	switch {
	case hasGoFiles(filepath.Join(cfg.RepoDir, "cmd", "launcher")):
		bins.Launcher = filepath.Join(binDir, "launcher")
		if err := b.project(ctx, "./cmd/launcher", bins.Launcher); err != nil {
			return nil, err
		}
	case cfg.RequireLauncher:
		return nil, fmt.Errorf("build: launcher sources %s not found", filepath.Join(cfg.RepoDir, "cmd", "launcher"))
	default:
		cfg.progressf("note: %s not found; image %s will not be mapped to a launcher binary",
			filepath.Join(cfg.RepoDir, "cmd", "launcher"), cfg.LauncherImage)
	}
	if hasGoFiles(filepath.Join(cfg.RepoDir, "cmd", "cachewebhook")) {
		bins.CacheWebhook = filepath.Join(binDir, "cachewebhook")
		if err := b.project(ctx, "./cmd/cachewebhook", bins.CacheWebhook); err != nil {
			return nil, err
		}
	}
	return bins, nil
}

// cached returns the cached binary of t, building it first if missing.
func (b *builder) cached(ctx context.Context, t cachedTool) (string, error) {
	dst := filepath.Join(b.cfg.CacheDir, "bin", t.name+"-"+t.version)
	if fi, err := os.Stat(dst); err == nil && fi.Mode().IsRegular() && fi.Mode()&0o111 != 0 {
		return dst, nil
	}
	b.cfg.progressf("building %s %s (first time only, %s)...", t.name, t.version, t.slow)
	start := time.Now()
	// Build to a temporary name so an interrupted build never looks cached.
	tmp := filepath.Join(b.cfg.CacheDir, "bin", "."+t.name+"-"+t.version+".tmp")
	if err := t.build(ctx, b, tmp); err != nil {
		_ = os.Remove(tmp)
		return "", fmt.Errorf("build %s %s: %w", t.name, t.version, err)
	}
	if err := os.Rename(tmp, dst); err != nil {
		return "", fmt.Errorf("build %s %s: %w", t.name, t.version, err)
	}
	b.cfg.progressf("built %s %s in %s", t.name, t.version, time.Since(start).Round(time.Second))
	return dst, nil
}

// project builds a package of the kfpargo module into dst.
func (b *builder) project(ctx context.Context, pkg, dst string) error {
	start := time.Now()
	b.cfg.progressf("building %s ...", pkg)
	if err := b.goCmd(ctx, b.cfg.RepoDir, nil, "build", "-trimpath", "-buildvcs=false", "-o", dst, pkg); err != nil {
		return fmt.Errorf("build %s: %w", pkg, err)
	}
	b.cfg.progressf("built %s in %s", pkg, time.Since(start).Round(100*time.Millisecond))
	b.cfg.Logger.Debug("built project binary", zap.String("package", pkg), zap.Duration("took", time.Since(start)))
	return nil
}

func (b *builder) toolsDir(name string) string {
	return filepath.Join(b.cfg.RepoDir, "test", "tools", name)
}

func buildEtcd(ctx context.Context, b *builder, out string) error {
	return b.goCmd(ctx, b.toolsDir("etcd"), nil,
		"build", "-trimpath", "-ldflags", "-s -w", "-o", out, "go.etcd.io/etcd/server/v3")
}

func buildKube(name string) func(context.Context, *builder, string) error {
	return func(ctx context.Context, b *builder, out string) error {
		minor := strings.Split(strings.TrimPrefix(KubernetesVersion, "v"), ".")
		ldflags := []string{"-s", "-w"}
		// Without these the binaries report v0.0.0, which clients reject
		// as older than they support.
		for _, pkg := range []string{"k8s.io/component-base/version", "k8s.io/client-go/pkg/version"} {
			ldflags = append(ldflags,
				"-X", pkg+".gitVersion="+KubernetesVersion,
				"-X", pkg+".gitMajor="+minor[0],
				"-X", pkg+".gitMinor="+minor[1],
				"-X", pkg+".gitTreeState=clean")
		}
		return b.goCmd(ctx, b.toolsDir("kubernetes"), nil,
			"build", "-trimpath", "-ldflags", strings.Join(ldflags, " "), "-o", out, "k8s.io/kubernetes/cmd/"+name)
	}
}

// argoLDFlags sets Argo's version; without it the controller's default
// executor image is argoexec:v0.0.0.
const argoLDFlags = "-s -w -X github.com/argoproj/argo-workflows/v3.version=" + ArgoVersion

func buildWorkflowController(ctx context.Context, b *builder, out string) error {
	return b.goCmd(ctx, b.toolsDir("argo"), nil,
		"build", "-trimpath", "-ldflags", argoLDFlags, "-o", out,
		"github.com/argoproj/argo-workflows/v3/cmd/workflow-controller")
}

// buildArgoexec builds argoexec from a writable copy of the Argo module:
// the module zip lacks workflow/executor/osspecific/signal_linux.go, which
// in Argo's repository is a symlink to signal_darwin.go (module zips drop
// symlinks), so the package does not compile for linux as downloaded.
func buildArgoexec(ctx context.Context, b *builder, out string) error {
	dir, err := b.argoModuleDir(ctx)
	if err != nil {
		return err
	}
	work, err := os.MkdirTemp(b.cfg.CacheDir, "argo-src-")
	if err != nil {
		return fmt.Errorf("argo source copy: %w", err)
	}
	defer os.RemoveAll(work)
	src := filepath.Join(work, "argo-workflows")
	if err := os.CopyFS(src, os.DirFS(dir)); err != nil {
		return fmt.Errorf("copy argo module: %w", err)
	}
	osspecific := filepath.Join(src, "workflow", "executor", "osspecific")
	darwin, err := os.ReadFile(filepath.Join(osspecific, "signal_darwin.go"))
	if err != nil {
		return fmt.Errorf("argo source copy: %w", err)
	}
	// The darwin file carries no build constraint besides its name, and
	// uses only syscalls that exist on linux too.
	if err := os.WriteFile(filepath.Join(osspecific, "signal_linux.go"), darwin, 0o644); err != nil {
		return fmt.Errorf("argo source copy: %w", err)
	}
	return b.goCmd(ctx, src, nil, "build", "-trimpath", "-ldflags", argoLDFlags, "-o", out, "./cmd/argoexec")
}

func buildMinio(ctx context.Context, b *builder, out string) error {
	gobin, err := os.MkdirTemp(b.cfg.CacheDir, "minio-bin-")
	if err != nil {
		return fmt.Errorf("minio: %w", err)
	}
	defer os.RemoveAll(gobin)
	// go install with a version ignores any go.mod, so run it outside one.
	if err := b.goCmd(ctx, gobin, []string{"GOBIN=" + gobin},
		"install", "-trimpath", "-ldflags", "-s -w", "github.com/minio/minio@"+MinioVersion); err != nil {
		return err
	}
	if err := os.Rename(filepath.Join(gobin, "minio"), out); err != nil {
		return fmt.Errorf("minio: %w", err)
	}
	return nil
}

// argoModuleDir returns the module-cache directory of the Argo module
// version pinned in test/tools/argo, downloading it if needed.
func (b *builder) argoModuleDir(ctx context.Context) (string, error) {
	dir, version, err := moduleDir(ctx, b.toolsDir("argo"), "github.com/argoproj/argo-workflows/v3")
	if err != nil {
		return "", err
	}
	if version != ArgoVersion {
		return "", fmt.Errorf("test/tools/argo pins argo-workflows %s, expected %s", version, ArgoVersion)
	}
	return dir, nil
}

// ModuleDir downloads a module at an exact version from the module proxy
// (into the module cache) and returns its directory: where the stack and
// the tests read manifests that ship in Go modules, such as CRDs.
func ModuleDir(ctx context.Context, module, version string) (string, error) {
	dir, _, err := moduleDir(ctx, "", module+"@"+version)
	return dir, err
}

func moduleDir(ctx context.Context, workDir, module string) (dir, version string, err error) {
	var buf bytes.Buffer
	cmd := exec.CommandContext(ctx, "go", "mod", "download", "-json", module)
	if workDir != "" {
		cmd.Dir = workDir
	} else {
		// Outside any module, so that no go.mod decides the version.
		cmd.Dir = os.TempDir()
	}
	cmd.Env = goEnv(nil)
	cmd.Stdout = &buf
	cmd.Stderr = &buf
	if err := cmd.Run(); err != nil {
		return "", "", fmt.Errorf("go mod download %s: %w: %s", module, err, tailLines(buf.String(), 20))
	}
	var info struct{ Dir, Version, Error string }
	if err := json.Unmarshal(buf.Bytes(), &info); err != nil {
		return "", "", fmt.Errorf("go mod download %s: %w", module, err)
	}
	if info.Error != "" || info.Dir == "" {
		return "", "", fmt.Errorf("go mod download %s: %s", module, info.Error)
	}
	return info.Dir, info.Version, nil
}

// goCmd runs one go command, appending its output to the build log and
// returning the tail of that output on failure.
func (b *builder) goCmd(ctx context.Context, dir string, extraEnv []string, args ...string) error {
	logf, err := os.OpenFile(b.logPath, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o644)
	if err != nil {
		return fmt.Errorf("build log: %w", err)
	}
	defer logf.Close()
	fmt.Fprintf(logf, "\n### %s: (cd %s && go %s)\n", time.Now().Format(time.RFC3339), dir, strings.Join(args, " "))
	var out bytes.Buffer
	cmd := exec.CommandContext(ctx, "go", args...)
	cmd.Dir = dir
	cmd.Env = goEnv(extraEnv)
	cmd.Stdout = io.MultiWriter(logf, &out)
	cmd.Stderr = cmd.Stdout
	if err := cmd.Run(); err != nil {
		return fmt.Errorf("go %s: %w (full log: %s)\n%s", args[0], err, b.logPath, tailLines(out.String(), 30))
	}
	return nil
}

// goEnv is the caller's environment with static, workspace-free builds.
func goEnv(extra []string) []string {
	env := append(os.Environ(), "CGO_ENABLED=0", "GOWORK=off")
	return append(env, extra...)
}

func hasGoFiles(dir string) bool {
	m, _ := filepath.Glob(filepath.Join(dir, "*.go"))
	return len(m) > 0
}
