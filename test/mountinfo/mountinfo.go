package mountinfo

import (
	"bufio"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strings"
)

// Read returns the mount points listed in one mountinfo file.
func Read(path string) ([]string, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("mountinfo: %w", err)
	}
	defer f.Close()
	var out []string
	sc := bufio.NewScanner(f)
	sc.Buffer(make([]byte, 64<<10), 1<<20)
	for sc.Scan() {
		if fields := strings.Fields(sc.Text()); len(fields) >= 5 {
			out = append(out, Unescape(fields[4]))
		}
	}
	if err := sc.Err(); err != nil {
		return nil, fmt.Errorf("mountinfo %s: %w", path, err)
	}
	return out, nil
}

// Under lists the mount points at or below root in this process's mount
// namespace, deepest first (the order to unmount them in).
func Under(root string) ([]string, error) {
	all, err := Read("/proc/self/mountinfo")
	if err != nil {
		return nil, err
	}
	var out []string
	for _, mp := range all {
		if mp == root || strings.HasPrefix(mp, root+"/") {
			out = append(out, mp)
		}
	}
	sort.Slice(out, func(i, j int) bool { return len(out[i]) > len(out[j]) })
	return out, nil
}

// InUse lists the mount points of every mount namespace on the machine.
func InUse() (map[string]bool, error) {
	own, err := Read("/proc/self/mountinfo")
	if err != nil {
		return nil, err
	}
	out := map[string]bool{}
	for _, mp := range own {
		out[mp] = true
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
		// The process may be gone by now, and its namespace with it.
		mps, _ := Read(filepath.Join("/proc", e.Name(), "mountinfo"))
		for _, mp := range mps {
			out[mp] = true
		}
	}
	return out, nil
}

// RemoveIfEmpty removes an empty directory or empty regular file that is
// not a mount point in inUse; anything else is left, with an error saying why.
func RemoveIfEmpty(p string, inUse map[string]bool) error {
	fi, err := os.Lstat(p)
	if errors.Is(err, os.ErrNotExist) {
		return nil
	}
	if err != nil {
		return err
	}
	if inUse[p] {
		return fmt.Errorf("keeping %s: it is a mount point (of a container still running?)", p)
	}
	switch {
	case fi.IsDir():
		entries, err := os.ReadDir(p)
		if err != nil {
			return err
		}
		if len(entries) > 0 {
			return fmt.Errorf("keeping %s: it was created as a mount point but is not empty", p)
		}
	case fi.Mode().IsRegular():
		if fi.Size() > 0 {
			return fmt.Errorf("keeping %s: it was created as a mount point but is not empty", p)
		}
	default:
		return fmt.Errorf("keeping %s: not a file or directory", p)
	}
	return os.Remove(p)
}

// Unescape undoes mountinfo's \ooo escapes (\040 is a space).
func Unescape(s string) string {
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
