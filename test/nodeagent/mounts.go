package nodeagent

import (
	"fmt"
	"path/filepath"
	"sort"
	"strings"

	corev1 "k8s.io/api/core/v1"
)

// DefaultScratchPaths get a private, empty, writable directory in every
// container: a container's own writable root file system, as far as
// programs usually write to it (KFP's launcher keeps artifacts below
// /minio, /s3 and /gcs).
func DefaultScratchPaths() []string { return []string{"/tmp", "/minio", "/s3", "/gcs"} }

// mount is one bind mount into a container's mount namespace.
type mount struct {
	// Source is a host path; Target a path as the container sees it.
	Source   string `json:"source"`
	Target   string `json:"target"`
	ReadOnly bool   `json:"readOnly,omitempty"`
}

// mountInputs is what a container's mounts are planned from.
type mountInputs struct {
	container *corev1.Container
	// volumes maps a pod volume name to its host path.
	volumes map[string]string
	// scratch maps each scratch path to this container's host directory.
	scratch [][2]string
	// terminationLog is the host file behind terminationMessagePath.
	terminationLog string
	// binDir is the image's mapped directory ("" if none); it must stay
	// visible at its own path when a mount would hide it.
	binDir string
	// environ expands $(VAR) in subPathExpr.
	environ []string
	// hosts, if set, is the host file mounted read-only at /etc/hosts.
	hosts string
}

// planMounts orders a container's mounts so that a mount never hides a
// deeper one: shallower targets first; among equal targets the later one
// wins, so scratch directories come before volumes.
func planMounts(in mountInputs) ([]mount, error) {
	var ms []mount
	for _, s := range in.scratch {
		ms = append(ms, mount{Source: s[1], Target: s[0]})
	}
	for _, vm := range in.container.VolumeMounts {
		src, ok := in.volumes[vm.Name]
		if !ok {
			return nil, fmt.Errorf("volumeMount %s: pod has no volume %q", vm.MountPath, vm.Name)
		}
		sub := vm.SubPath
		if vm.SubPathExpr != "" {
			sub = expandArgs([]string{vm.SubPathExpr}, in.environ)[0]
		}
		if sub != "" {
			rel, err := safeRelPath(sub)
			if err != nil {
				return nil, fmt.Errorf("volumeMount %s: subPath: %w", vm.MountPath, err)
			}
			src = filepath.Join(src, rel)
		}
		ms = append(ms, mount{Source: src, Target: vm.MountPath, ReadOnly: vm.ReadOnly})
	}
	if in.terminationLog != "" {
		p := in.container.TerminationMessagePath
		if p == "" {
			p = corev1.TerminationMessagePathDefault
		}
		ms = append(ms, mount{Source: in.terminationLog, Target: p})
	}
	if in.hosts != "" {
		ms = append(ms, mount{Source: in.hosts, Target: "/etc/hosts", ReadOnly: true})
	}
	for i := range ms {
		if !filepath.IsAbs(ms[i].Target) {
			return nil, fmt.Errorf("mount path %q is not absolute", ms[i].Target)
		}
		ms[i].Target = filepath.Clean(ms[i].Target)
		if ms[i].Target == "/" {
			return nil, fmt.Errorf("mounting over / is not supported")
		}
	}
	if in.binDir != "" {
		for _, m := range ms {
			if isUnder(in.binDir, m.Target) {
				ms = append(ms, mount{Source: in.binDir, Target: in.binDir, ReadOnly: true})
				break
			}
		}
	}
	sort.SliceStable(ms, func(i, j int) bool { return pathDepth(ms[i].Target) < pathDepth(ms[j].Target) })
	return ms, nil
}

// pathDepth counts the components of a clean absolute path.
func pathDepth(p string) int {
	return strings.Count(strings.Trim(p, "/"), "/") + 1
}

// isUnder reports whether p is dir or below it (both clean).
func isUnder(p, dir string) bool {
	return p == dir || dir == "/" || strings.HasPrefix(p, dir+"/")
}

// scratchDirName names a scratch path's host directory.
func scratchDirName(p string) string {
	return strings.ReplaceAll(strings.Trim(filepath.Clean(p), "/"), "/", "_")
}
