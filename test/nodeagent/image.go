package nodeagent

import (
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strings"
)

// DefaultPath is the PATH of a container whose image is not mapped.
const DefaultPath = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"

// ImageMap maps image repositories to host directories of binaries that
// stand in for the image's contents.
type ImageMap struct {
	dirs map[string]string // normalised repository -> absolute directory
}

// ParseImageFlag parses REPOSITORY=BINDIR; a tag or digest on the
// repository is ignored and BINDIR is made absolute.
func ParseImageFlag(s string) (repository, dir string, err error) {
	repo, d, ok := strings.Cut(s, "=")
	if !ok || repo == "" || d == "" {
		return "", "", fmt.Errorf("image mapping %q: want REPOSITORY=BINDIR", s)
	}
	abs, err := filepath.Abs(d)
	if err != nil {
		return "", "", fmt.Errorf("image mapping %q: %w", s, err)
	}
	return normalizeRepository(repo), abs, nil
}

// NewImageMap parses --image flag values. A repository given twice is an
// error: which directory wins would otherwise depend on flag order.
func NewImageMap(flags []string) (ImageMap, error) {
	m := ImageMap{dirs: map[string]string{}}
	for _, f := range flags {
		repo, dir, err := ParseImageFlag(f)
		if err != nil {
			return ImageMap{}, err
		}
		if prev, dup := m.dirs[repo]; dup && prev != dir {
			return ImageMap{}, fmt.Errorf("image %s mapped twice (%s and %s)", repo, prev, dir)
		}
		m.dirs[repo] = dir
	}
	return m, nil
}

// BinDir returns the host directory mapped to image's repository.
func (m ImageMap) BinDir(image string) (string, bool) {
	d, ok := m.dirs[normalizeRepository(image)]
	return d, ok
}

// Path is the PATH a container of image starts with.
func (m ImageMap) Path(image string) string {
	if d, ok := m.BinDir(image); ok {
		return d + ":" + DefaultPath
	}
	return DefaultPath
}

// Entrypoint is what stands in for the image's ENTRYPOINT when a container
// has no command: the single executable of a mapped directory. Images
// are not pulled, so there is nothing else to go by.
func (m ImageMap) Entrypoint(image string) (string, bool) {
	d, ok := m.BinDir(image)
	if !ok {
		return "", false
	}
	entries, err := os.ReadDir(d)
	if err != nil {
		return "", false
	}
	var exes []string
	for _, e := range entries {
		fi, err := os.Stat(filepath.Join(d, e.Name()))
		if err == nil && fi.Mode().IsRegular() && fi.Mode()&0o111 != 0 {
			exes = append(exes, filepath.Join(d, e.Name()))
		}
	}
	if len(exes) != 1 {
		return "", false
	}
	return exes[0], true
}

// Dirs lists the mapped directories, sorted.
func (m ImageMap) Dirs() []string {
	var out []string
	for _, d := range m.dirs {
		out = append(out, d)
	}
	sort.Strings(out)
	return out
}

// normalizeRepository strips the tag and digest and spells Docker Hub
// names in full, so that "alpine", "docker.io/alpine:3" and
// "docker.io/library/alpine@sha256:..." are the same repository.
func normalizeRepository(image string) string {
	if i := strings.IndexByte(image, '@'); i >= 0 {
		image = image[:i]
	}
	// A colon after the last slash starts a tag; one before it belongs to
	// a registry host:port.
	if i := strings.LastIndexByte(image, ':'); i > strings.LastIndexByte(image, '/') {
		image = image[:i]
	}
	first, rest, hasSlash := strings.Cut(image, "/")
	isRegistry := hasSlash && (strings.ContainsAny(first, ".:") || first == "localhost")
	switch {
	case !hasSlash:
		return "docker.io/library/" + image
	case !isRegistry:
		return "docker.io/" + image
	case (first == "docker.io" || first == "index.docker.io") && !strings.Contains(rest, "/"):
		return "docker.io/library/" + rest
	case first == "index.docker.io":
		return "docker.io/" + rest
	}
	return image
}
