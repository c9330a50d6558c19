package nodeagent

import (
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"sort"
	"sync"

	"github.com/kfpargo/kfpargo/test/mountinfo"
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
	mounts, err := mountinfo.InUse()
	if err != nil {
		return err
	}
	var errs []error
	for _, p := range paths {
		if err := mountinfo.RemoveIfEmpty(p, mounts); err != nil {
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
