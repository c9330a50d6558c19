package nodeagent

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strings"

	corev1 "k8s.io/api/core/v1"
)

// errUnsupported marks a pod this agent cannot run; it fails the pod
// instead of retrying.
var errUnsupported = errors.New("not supported by the node agent")

// Defaults the API server would also apply; repeated because a pod read
// from the API has them, but one built in a test may not.
const (
	defaultFileMode      = 0o644
	defaultTokenLifetime = int64(3600)
)

// tokenFunc gets a service-account token for the pod (a TokenRequest bound
// to it).
type tokenFunc func(ctx context.Context, audience string, expirationSeconds int64) ([]byte, error)

// volumeBuilder materialises a pod's volumes as host directories.
type volumeBuilder struct {
	pod *corev1.Pod
	// dir is <pod dir>/volumes; each volume gets dir/<name>.
	dir         string
	objects     *podObjects
	token       tokenFunc
	podIP       string
	hostIP      string
	allocatable corev1.ResourceList
}

// build creates every volume and returns volume name -> host path.
// Content volumes (secret, configMap, downwardAPI, projected) are written
// once, when the pod starts; they are not kept in sync.
func (b *volumeBuilder) build(ctx context.Context) (map[string]string, error) {
	paths := make(map[string]string, len(b.pod.Spec.Volumes))
	for _, v := range b.pod.Spec.Volumes {
		p, err := b.volume(ctx, v)
		if err != nil {
			return nil, fmt.Errorf("volume %s: %w", v.Name, err)
		}
		paths[v.Name] = p
	}
	return paths, nil
}

func (b *volumeBuilder) volume(ctx context.Context, v corev1.Volume) (string, error) {
	if v.HostPath != nil {
		return hostPathVolume(v.HostPath)
	}
	dir := filepath.Join(b.dir, v.Name)
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return "", err
	}
	switch {
	case v.EmptyDir != nil:
		// World-writable like a kubelet's, for images that drop root.
		return dir, os.Chmod(dir, 0o777)
	case v.Secret != nil:
		files, err := secretFiles(b.objects, v.Secret.SecretName, v.Secret.Items, v.Secret.Optional, modeOr(v.Secret.DefaultMode))
		if err != nil {
			return "", err
		}
		return dir, writeFiles(dir, files)
	case v.ConfigMap != nil:
		files, err := configMapFiles(b.objects, v.ConfigMap.Name, v.ConfigMap.Items, v.ConfigMap.Optional, modeOr(v.ConfigMap.DefaultMode))
		if err != nil {
			return "", err
		}
		return dir, writeFiles(dir, files)
	case v.DownwardAPI != nil:
		files, err := b.downwardFiles(v.DownwardAPI.Items, modeOr(v.DownwardAPI.DefaultMode))
		if err != nil {
			return "", err
		}
		return dir, writeFiles(dir, files)
	case v.Projected != nil:
		files, err := b.projectedFiles(ctx, v.Projected)
		if err != nil {
			return "", err
		}
		return dir, writeFiles(dir, files)
	}
	return "", fmt.Errorf("this volume type is %w", errUnsupported)
}

// hostPathVolume checks (or creates) a hostPath volume; the path itself is
// what gets mounted.
func hostPathVolume(h *corev1.HostPathVolumeSource) (string, error) {
	var typ corev1.HostPathType
	if h.Type != nil {
		typ = *h.Type
	}
	switch typ {
	case corev1.HostPathDirectoryOrCreate:
		return h.Path, os.MkdirAll(h.Path, 0o755)
	case corev1.HostPathFileOrCreate:
		if err := os.MkdirAll(filepath.Dir(h.Path), 0o755); err != nil {
			return "", err
		}
		f, err := os.OpenFile(h.Path, os.O_CREATE|os.O_RDONLY, 0o644)
		if err != nil {
			return "", err
		}
		return h.Path, f.Close()
	case corev1.HostPathUnset:
		return h.Path, nil
	}
	fi, err := os.Stat(h.Path)
	if err != nil {
		return "", fmt.Errorf("hostPath %s: %w", h.Path, err)
	}
	if typ == corev1.HostPathDirectory && !fi.IsDir() || typ == corev1.HostPathFile && !fi.Mode().IsRegular() {
		return "", fmt.Errorf("hostPath %s is not a %s", h.Path, typ)
	}
	return h.Path, nil
}

// volumeFile is one file of a content volume.
type volumeFile struct {
	path string // relative to the volume
	data []byte
	mode os.FileMode
}

func modeOr(m *int32) os.FileMode {
	if m == nil {
		return defaultFileMode
	}
	return os.FileMode(*m) & os.ModePerm
}

func itemMode(m *int32, def os.FileMode) os.FileMode {
	if m == nil {
		return def
	}
	return os.FileMode(*m) & os.ModePerm
}

// keyFiles selects files from a Secret's or ConfigMap's data: the listed
// items, or every key.
func keyFiles(kind, name string, data map[string][]byte, items []corev1.KeyToPath, optional bool, mode os.FileMode) ([]volumeFile, error) {
	if len(items) == 0 {
		keys := make([]string, 0, len(data))
		for k := range data {
			keys = append(keys, k)
		}
		sort.Strings(keys)
		files := make([]volumeFile, 0, len(keys))
		for _, k := range keys {
			files = append(files, volumeFile{path: k, data: data[k], mode: mode})
		}
		return files, nil
	}
	var files []volumeFile
	for _, it := range items {
		d, ok := data[it.Key]
		if !ok {
			if optional {
				continue
			}
			return nil, fmt.Errorf("%s %q has no key %q: %w", kind, name, it.Key, errMissingObject)
		}
		files = append(files, volumeFile{path: it.Path, data: d, mode: itemMode(it.Mode, mode)})
	}
	return files, nil
}

func secretFiles(objs *podObjects, name string, items []corev1.KeyToPath, optional *bool, mode os.FileMode) ([]volumeFile, error) {
	opt := optional != nil && *optional
	s, ok := objs.secrets[name]
	if !ok {
		if opt {
			return nil, nil
		}
		return nil, fmt.Errorf("secret %q: %w", name, errMissingObject)
	}
	data := make(map[string][]byte, len(s.Data)+len(s.StringData))
	for k, v := range s.StringData {
		data[k] = []byte(v)
	}
	for k, v := range s.Data {
		data[k] = v
	}
	return keyFiles("secret", name, data, items, opt, mode)
}

func configMapFiles(objs *podObjects, name string, items []corev1.KeyToPath, optional *bool, mode os.FileMode) ([]volumeFile, error) {
	opt := optional != nil && *optional
	cm, ok := objs.configMaps[name]
	if !ok {
		if opt {
			return nil, nil
		}
		return nil, fmt.Errorf("configmap %q: %w", name, errMissingObject)
	}
	data := make(map[string][]byte, len(cm.Data)+len(cm.BinaryData))
	for k, v := range cm.BinaryData {
		data[k] = v
	}
	for k, v := range cm.Data {
		data[k] = []byte(v)
	}
	return keyFiles("configmap", name, data, items, opt, mode)
}

func (b *volumeBuilder) downwardFiles(items []corev1.DownwardAPIVolumeFile, mode os.FileMode) ([]volumeFile, error) {
	files := make([]volumeFile, 0, len(items))
	for _, it := range items {
		var v string
		var err error
		switch {
		case it.FieldRef != nil:
			v, err = podFieldValue(b.pod, it.FieldRef.FieldPath, b.podIP, b.hostIP)
		case it.ResourceFieldRef != nil:
			c := &corev1.Container{}
			if len(b.pod.Spec.Containers) > 0 {
				c = &b.pod.Spec.Containers[0]
			}
			v, err = containerResourceValue(b.pod, c, it.ResourceFieldRef, b.allocatable)
		default:
			err = fmt.Errorf("downwardAPI item %s has no source", it.Path)
		}
		if err != nil {
			return nil, err
		}
		files = append(files, volumeFile{path: it.Path, data: []byte(v), mode: itemMode(it.Mode, mode)})
	}
	return files, nil
}

func (b *volumeBuilder) projectedFiles(ctx context.Context, p *corev1.ProjectedVolumeSource) ([]volumeFile, error) {
	mode := modeOr(p.DefaultMode)
	var files []volumeFile
	for i, src := range p.Sources {
		var fs []volumeFile
		var err error
		switch {
		case src.ServiceAccountToken != nil:
			t := src.ServiceAccountToken
			exp := defaultTokenLifetime
			if t.ExpirationSeconds != nil {
				exp = *t.ExpirationSeconds
			}
			var tok []byte
			tok, err = b.token(ctx, t.Audience, exp)
			fs = []volumeFile{{path: t.Path, data: tok, mode: mode}}
		case src.ConfigMap != nil:
			fs, err = configMapFiles(b.objects, src.ConfigMap.Name, src.ConfigMap.Items, src.ConfigMap.Optional, mode)
		case src.Secret != nil:
			fs, err = secretFiles(b.objects, src.Secret.Name, src.Secret.Items, src.Secret.Optional, mode)
		case src.DownwardAPI != nil:
			fs, err = b.downwardFiles(src.DownwardAPI.Items, mode)
		default:
			err = fmt.Errorf("projected source %d: this source type is %w", i, errUnsupported)
		}
		if err != nil {
			return nil, err
		}
		files = append(files, fs...)
	}
	return files, nil
}

// writeFiles writes a content volume's files below dir.
func writeFiles(dir string, files []volumeFile) error {
	for _, f := range files {
		rel, err := safeRelPath(f.path)
		if err != nil {
			return err
		}
		p := filepath.Join(dir, rel)
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			return err
		}
		if err := os.WriteFile(p, f.data, f.mode); err != nil {
			return err
		}
		// WriteFile's mode is subject to the umask.
		if err := os.Chmod(p, f.mode); err != nil {
			return err
		}
	}
	return nil
}

// safeRelPath accepts a relative path that stays inside its directory.
func safeRelPath(p string) (string, error) {
	clean := filepath.Clean(p)
	if p == "" || filepath.IsAbs(p) || clean == "." || clean == ".." || strings.HasPrefix(clean, "../") {
		return "", fmt.Errorf("path %q must be relative and stay inside its volume", p)
	}
	return clean, nil
}
