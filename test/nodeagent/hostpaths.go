package nodeagent

import (
	"bufio"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"sync"
)

// hostPaths remembers the mount points containers had to create on the
// host (/run/argo, /dev/termination-log, /var/run/secrets/...): they
// outlive the containers as empty files and directories. The list is kept
// in a file so that a run after a crash can still remove them.
type hostPaths struct {
	file  string
	mu    sync.Mutex
	paths map[string]bool
}

// loadHostPaths reads the list a previous run may have left in file.
func loadHostPaths(file string) (*hostPaths, error) {
	h := &hostPaths{file: file, paths: map[string]bool{}}
	data, err := os.ReadFile(file)
	if errors.Is(err, os.ErrNotExist) {
		return h, nil
	}
	if err != nil {
		return nil, fmt.Errorf("read host paths: %w", err)
	}
	var list []string
	if err := json.Unmarshal(data, &list); err != nil {
		return nil, fmt.Errorf("read host paths %s: %w", file, err)
	}
	for _, p := range list {
		h.paths[p] = true
	}
	return h, nil
}

// add records p; it is written through at once, as a crash may follow.
func (h *hostPaths) add(p string) error {
	h.mu.Lock()
	defer h.mu.Unlock()
	if h.paths[p] {
		return nil
	}
	h.paths[p] = true
	return h.saveLocked()
}

func (h *hostPaths) list() []string {
	h.mu.Lock()
	defer h.mu.Unlock()
	return sortedKeys(h.paths)
}

func (h *hostPaths) saveLocked() error {
	data, err := json.Marshal(sortedKeys(h.paths))
	if err != nil {
		return err
	}
	if err := os.WriteFile(h.file+".new", data, 0o644); err != nil {
		return fmt.Errorf("save host paths: %w", err)
	}
	if err := os.Rename(h.file+".new", h.file); err != nil {
		return fmt.Errorf("save host paths: %w", err)
	}
	return nil
}

// removeAll removes the recorded paths, deepest first, as long as they
// are empty and not mount points; anything else is kept and reported.
// Call it only when no container runs.
func (h *hostPaths) removeAll() error {
	h.mu.Lock()
	defer h.mu.Unlock()
	paths := sortedKeys(h.paths)
	sort.SliceStable(paths, func(i, j int) bool { return pathDepth(paths[i]) > pathDepth(paths[j]) })
	mounts, err := mountPointsInUse()
	if err != nil {
		return err
	}
	var errs []error
	for _, p := range paths {
		if err := removeIfEmpty(p, mounts); err != nil {
			errs = append(errs, err)
			continue
		}
		delete(h.paths, p)
	}
	if len(h.paths) == 0 {
		if err := os.Remove(h.file); err != nil && !errors.Is(err, os.ErrNotExist) {
			errs = append(errs, err)
		}
	} else if err := h.saveLocked(); err != nil {
		errs = append(errs, err)
	}
	return errors.Join(errs...)
}

// removeIfEmpty removes an empty directory or an empty regular file.
func removeIfEmpty(p string, mounts map[string]bool) error {
	fi, err := os.Lstat(p)
	if errors.Is(err, os.ErrNotExist) {
		return nil
	}
	if err != nil {
		return err
	}
	if mounts[p] {
		return fmt.Errorf("keeping %s: it is a mount point (of a container still running?)", p)
	}
	switch {
	case fi.IsDir():
		entries, err := os.ReadDir(p)
		if err != nil {
			return err
		}
		if len(entries) > 0 {
			return fmt.Errorf("keeping %s: a container created it as a mount point, but it is not empty", p)
		}
	case fi.Mode().IsRegular():
		if fi.Size() > 0 {
			return fmt.Errorf("keeping %s: a container created it as a mount point, but it is not empty", p)
		}
	default:
		return fmt.Errorf("keeping %s: not a file or directory", p)
	}
	return os.Remove(p)
}

// mountPointsInUse lists the mount points of every mount namespace on
// the machine. A mount point that is an empty directory in the agent's
// namespace may carry a volume in a container's: removing it would
// detach that volume under the container (another agent's, or another
// stack's), so such paths are kept.
func mountPointsInUse() (map[string]bool, error) {
	out := map[string]bool{}
	if err := readMountPoints("/proc/self/mountinfo", out); err != nil {
		return nil, err
	}
	entries, err := os.ReadDir("/proc")
	if err != nil {
		return nil, fmt.Errorf("list processes: %w", err)
	}
	seen := map[string]bool{}
	if ns, err := os.Readlink("/proc/self/ns/mnt"); err == nil {
		seen[ns] = true
	}
	for _, e := range entries {
		if e.Name()[0] < '0' || e.Name()[0] > '9' {
			continue
		}
		ns, err := os.Readlink(filepath.Join("/proc", e.Name(), "ns", "mnt"))
		if err != nil || seen[ns] {
			continue
		}
		seen[ns] = true
		// The process may be gone by now; that namespace then is too.
		_ = readMountPoints(filepath.Join("/proc", e.Name(), "mountinfo"), out)
	}
	return out, nil
}

// readMountPoints adds the mount points listed in a mountinfo file.
func readMountPoints(path string, out map[string]bool) error {
	f, err := os.Open(path)
	if err != nil {
		return fmt.Errorf("mountinfo: %w", err)
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	sc.Buffer(make([]byte, 64<<10), 1<<20)
	for sc.Scan() {
		fields := strings.Fields(sc.Text())
		if len(fields) >= 5 {
			out[unescapeOctal(fields[4])] = true
		}
	}
	if err := sc.Err(); err != nil {
		return fmt.Errorf("mountinfo %s: %w", path, err)
	}
	return nil
}

// unescapeOctal undoes mountinfo's \ooo escapes (\040 is a space).
func unescapeOctal(s string) string {
	if !strings.Contains(s, `\`) {
		return s
	}
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		if s[i] == '\\' && i+3 < len(s) && isOctal(s[i+1]) && isOctal(s[i+2]) && isOctal(s[i+3]) {
			b.WriteByte((s[i+1]-'0')<<6 | (s[i+2]-'0')<<3 | (s[i+3] - '0'))
			i += 3
			continue
		}
		b.WriteByte(s[i])
	}
	return b.String()
}

func isOctal(c byte) bool { return c >= '0' && c <= '7' }
