package localstack

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"syscall"

	"go.uber.org/zap"

	"github.com/kfpargo/kfpargo/test/mountinfo"
)

// Layout of the state directory. bin/ (the project's binaries) and
// logs/supervisor.log (owned by the localstack command) survive a reset.
const (
	lockFile      = "lock"
	hostPathsFile = "host-paths.json"
)

// resettable are the state entries Up removes before starting afresh.
func resettable() []string {
	return []string{"pids", "pki", "data", "node", "kcm", "home", "kubeconfig", "env", "audit-policy.yaml", "ready", hostPathsFile}
}

// hostMountPoints are host paths the node agent creates as bind-mount
// targets for Argo and Kubernetes volumes (deepest first). They stay
// behind as empty files or directories; only those that did not exist
// before the stack started are removed.
func hostMountPoints() []string {
	return []string{
		"/var/run/secrets/kubernetes.io/serviceaccount",
		"/var/run/secrets/kubernetes.io",
		"/var/run/secrets",
		"/run/secrets/kubernetes.io/serviceaccount",
		"/run/secrets/kubernetes.io",
		"/run/secrets",
		"/var/run/argo",
		"/run/argo",
		"/dev/termination-log",
		"/mainctrfs",
		"/argo/secret",
		"/argo/staging",
		"/argo",
		"/minio",
		"/s3",
		"/gcs",
		"/kfpargo",
	}
}

// imagesRoot holds the directories the node agent puts first on a
// container's PATH. It is outside /tmp on purpose: a container's private
// /tmp would hide it, and argoexec init copies itself from there.
const imagesRoot = "/run/kfpargo"

// imagesDir is this state directory's own subdirectory of imagesRoot.
func imagesDir(stateDir string) string {
	sum := sha256.Sum256([]byte(stateDir))
	return filepath.Join(imagesRoot, hex.EncodeToString(sum[:6]))
}

// lockState takes the state directory's lock: one stack per directory.
func lockState(stateDir string) (*os.File, error) {
	if err := os.MkdirAll(stateDir, 0o755); err != nil {
		return nil, fmt.Errorf("state dir: %w", err)
	}
	f, err := os.OpenFile(filepath.Join(stateDir, lockFile), os.O_CREATE|os.O_RDWR, 0o644)
	if err != nil {
		return nil, fmt.Errorf("state dir lock: %w", err)
	}
	if err := syscall.Flock(int(f.Fd()), syscall.LOCK_EX|syscall.LOCK_NB); err != nil {
		f.Close()
		if errors.Is(err, syscall.EWOULDBLOCK) {
			return nil, fmt.Errorf("state dir %s is in use by a running stack (stop it with `localstack down` or use another --state-dir)", stateDir)
		}
		return nil, fmt.Errorf("state dir lock: %w", err)
	}
	return f, nil
}

// Cleanup stops whatever a crashed stack left in cfg.StateDir (processes,
// mounts, host mount points, image directories). It fails if a live stack
// holds the state directory.
func Cleanup(ctx context.Context, cfg Config) error {
	cfg, err := cfg.withDefaults()
	if err != nil {
		return err
	}
	if _, err := os.Stat(cfg.StateDir); errors.Is(err, os.ErrNotExist) {
		return nil
	}
	lock, err := lockState(cfg.StateDir)
	if err != nil {
		return err
	}
	defer lock.Close()
	return resetState(ctx, cfg, false)
}

// resetState stops recorded processes and removes leftovers. With wipe,
// it also removes the resettable state so that Up starts from nothing.
func resetState(ctx context.Context, cfg Config, wipe bool) error {
	log := cfg.Logger
	var errs []error
	pids, _ := filepath.Glob(filepath.Join(cfg.StateDir, "pids", "*.pid"))
	// The node agent first: it cleans up after its containers.
	sort.Slice(pids, func(i, j int) bool {
		return strings.HasSuffix(pids[i], "/nodeagent.pid") && !strings.HasSuffix(pids[j], "/nodeagent.pid")
	})
	for _, p := range pids {
		if err := ctx.Err(); err != nil {
			return err
		}
		if err := killRecorded(log, p, 3*cfg.StopGrace); err != nil {
			errs = append(errs, err)
		}
	}
	if err := removeNetwork(ctx, log, cfg.StateDir); err != nil {
		errs = append(errs, err)
	}
	if err := removeLeftovers(log, cfg.StateDir, !wipe); err != nil {
		errs = append(errs, err)
	}
	if wipe {
		for _, name := range resettable() {
			if err := os.RemoveAll(filepath.Join(cfg.StateDir, name)); err != nil {
				errs = append(errs, fmt.Errorf("reset state: %w", err))
			}
		}
		logs, _ := filepath.Glob(filepath.Join(cfg.StateDir, "logs", "*"))
		for _, l := range logs {
			if filepath.Base(l) != "supervisor.log" && filepath.Base(l) != "build.log" {
				_ = os.Remove(l)
			}
		}
	}
	return errors.Join(errs...)
}

// removeLeftovers unmounts anything still mounted under the state or
// images directory, removes the images directory and the node agent's pod
// directories (each holds a copy of argoexec), and the host mount points
// that this stack or its node agent recorded as created. The node agent's
// container logs stay.
//
// Failing to remove a host mount point (it is not empty) is an error only
// when strict; Up merely warns, since another stack may have put it there.
func removeLeftovers(log *zap.Logger, stateDir string, strict bool) error {
	var errs []error
	images := imagesDir(stateDir)
	for _, root := range []string{stateDir, images} {
		if err := unmountUnder(log, root); err != nil {
			errs = append(errs, err)
		}
	}
	if len(errs) == 0 {
		// Only remove trees without mounts: RemoveAll would descend into a
		// bind mount and delete the files behind it.
		for _, d := range []string{images, filepath.Join(stateDir, "node", "pods")} {
			if err := os.RemoveAll(d); err != nil {
				errs = append(errs, fmt.Errorf("remove %s: %w", d, err))
			}
		}
		if entries, err := os.ReadDir(imagesRoot); err == nil && len(entries) == 0 {
			_ = os.Remove(imagesRoot)
		}
	}
	created, err := createdHostPaths(stateDir)
	if err != nil {
		errs = append(errs, err)
	}
	// Host mount points are shared by every stack on the machine: another
	// running stack's containers may be using them right now.
	if others := otherStacks(stateDir); len(others) > 0 {
		log.Info("another local stack is running; leaving the shared host mount points", zap.Strings("images", others))
		return errors.Join(errs...)
	}
	inUse, err := mountinfo.InUse()
	if err != nil {
		return errors.Join(append(errs, err)...)
	}
	for _, p := range created {
		if err := mountinfo.RemoveIfEmpty(p, inUse); err != nil {
			if strict {
				errs = append(errs, err)
			} else {
				log.Warn("host mount point left in place", zap.Error(err))
			}
		}
	}
	return errors.Join(errs...)
}

// ownerFile in a stack's images directory holds the pid of the process
// running that stack.
const ownerFile = "owner"

// otherStacks lists the images directories of other local stacks whose
// owning process is alive.
func otherStacks(stateDir string) []string {
	entries, err := os.ReadDir(imagesRoot)
	if err != nil {
		return nil
	}
	var out []string
	for _, e := range entries {
		dir := filepath.Join(imagesRoot, e.Name())
		if dir == imagesDir(stateDir) {
			continue
		}
		data, err := os.ReadFile(filepath.Join(dir, ownerFile))
		if err != nil {
			continue
		}
		if pid, err := strconv.Atoi(strings.TrimSpace(string(data))); err == nil && pid > 0 && processAlive(pid) {
			out = append(out, dir)
		}
	}
	return out
}

// createdHostPaths lists, deepest first, the host paths recorded as
// created: by Up (those of hostMountPoints that did not exist) and by the
// node agent (<state>/node/host-paths.json, the same JSON list format).
func createdHostPaths(stateDir string) ([]string, error) {
	var all []string
	for _, f := range []string{filepath.Join(stateDir, hostPathsFile), filepath.Join(stateDir, "node", hostPathsFile)} {
		paths, err := readHostPaths(f)
		if err != nil {
			return nil, err
		}
		all = append(all, paths...)
	}
	sort.Slice(all, func(i, j int) bool { return len(all[i]) > len(all[j]) })
	return all, nil
}

// recordHostPaths remembers which hostMountPoints do not exist yet, so
// that only those are removed later.
func recordHostPaths(stateDir string) error {
	var absent []string
	for _, p := range hostMountPoints() {
		if _, err := os.Lstat(p); errors.Is(err, os.ErrNotExist) {
			absent = append(absent, p)
		}
	}
	data, err := json.Marshal(absent)
	if err != nil {
		return fmt.Errorf("record host paths: %w", err)
	}
	if err := os.WriteFile(filepath.Join(stateDir, hostPathsFile), data, 0o644); err != nil {
		return fmt.Errorf("record host paths: %w", err)
	}
	return nil
}

func readHostPaths(file string) ([]string, error) {
	data, err := os.ReadFile(file)
	if errors.Is(err, os.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("read host paths: %w", err)
	}
	var paths []string
	if err := json.Unmarshal(data, &paths); err != nil {
		return nil, fmt.Errorf("read host paths: %w", err)
	}
	return paths, nil
}

// HostLeftovers lists the host mount points a stack in stateDir created
// that still exist, and any mounts under its state or images directory.
// After Down it should be empty.
func HostLeftovers(stateDir string) ([]string, error) {
	stateDir, err := filepath.Abs(stateDir)
	if err != nil {
		return nil, err
	}
	var left []string
	created, err := createdHostPaths(stateDir)
	if err != nil {
		return nil, err
	}
	for _, p := range created {
		if _, err := os.Lstat(p); err == nil {
			left = append(left, p)
		}
	}
	for _, root := range []string{stateDir, imagesDir(stateDir)} {
		mounts, err := mountinfo.Under(root)
		if err != nil {
			return nil, err
		}
		for _, m := range mounts {
			left = append(left, "mount "+m)
		}
	}
	if _, err := os.Lstat(imagesDir(stateDir)); err == nil {
		left = append(left, imagesDir(stateDir))
	}
	return left, nil
}

// unmountUnder lazily unmounts every mount at or below root, deepest first.
func unmountUnder(log *zap.Logger, root string) error {
	mounts, err := mountinfo.Under(root)
	if err != nil {
		return err
	}
	var errs []error
	for _, m := range mounts {
		log.Info("unmounting leftover", zap.String("path", m))
		if err := syscall.Unmount(m, syscall.MNT_DETACH); err != nil && !errors.Is(err, syscall.EINVAL) && !errors.Is(err, syscall.ENOENT) {
			errs = append(errs, fmt.Errorf("unmount %s: %w", m, err))
		}
	}
	return errors.Join(errs...)
}
