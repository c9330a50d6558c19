package main

import (
	"archive/tar"
	"bytes"
	"compress/gzip"
	"context"
	"encoding/pem"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path"
	"path/filepath"
	"slices"
	"strings"
	"time"

	"github.com/google/go-containerregistry/pkg/authn"
	"github.com/google/go-containerregistry/pkg/name"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/empty"
	"github.com/google/go-containerregistry/pkg/v1/layout"
	"github.com/google/go-containerregistry/pkg/v1/mutate"
	"github.com/google/go-containerregistry/pkg/v1/remote"
	"github.com/google/go-containerregistry/pkg/v1/tarball"
	"github.com/google/go-containerregistry/pkg/v1/types"
)

// options say what to build and where to put it; main fills them from
// flags, tests directly.
type options struct {
	repoDir   string // module root: go build runs here, repoFile.src is relative to it
	outDir    string
	goCmd     string
	version   string // stamped into the binaries, and the tag
	revision  string // commit, for the revision label
	source    string // repository URL, for the source label
	created   time.Time
	repo      string // repository prefix of the local tags, e.g. ghcr.io/kfpargo
	push      string // repository prefix to push to; empty: no push
	platforms []v1.Platform
	caCerts   string // host CA bundle copied into images that want one
	// remoteOpts are extra options for the push (tests: a transport).
	remoteOpts []remote.Option
}

// built is one image index as written.
type built struct {
	spec   imageSpec
	tag    name.Tag // local tag: REPO/NAME:VERSION
	index  v1.ImageIndex
	digest v1.Hash
	layout string            // OCI layout directory
	tars   map[string]string // platform ("linux/amd64") -> docker-load tarball
	pushed string            // REF@DIGEST when pushed
}

// build compiles, assembles, writes and (with o.push) pushes every image.
func build(ctx context.Context, o *options, stdout io.Writer) ([]built, error) {
	if err := checkCACerts(o.caCerts); err != nil {
		return nil, err
	}
	binDir, err := os.MkdirTemp("", "kfpargo-imagebuild-")
	if err != nil {
		return nil, fmt.Errorf("create a directory for the binaries: %w", err)
	}
	defer os.RemoveAll(binDir)
	if err := os.MkdirAll(o.outDir, 0o755); err != nil {
		return nil, fmt.Errorf("create -out %s: %w", o.outDir, err)
	}
	var out []built
	for _, s := range specs() {
		tag, err := name.NewTag(o.repo+"/"+s.name+":"+o.version, name.StrictValidation)
		if err != nil {
			return nil, fmt.Errorf("image tag from -repo %q and -version %q: %w", o.repo, o.version, err)
		}
		b := built{spec: s, tag: tag, tars: map[string]string{}}
		imgs := make([]v1.Image, len(o.platforms))
		for i, p := range o.platforms {
			bin := filepath.Join(binDir, s.name+"-"+p.OS+"-"+p.Architecture)
			if err := compile(ctx, o, s, p, bin); err != nil {
				return nil, err
			}
			if imgs[i], err = assemble(o, s, p, bin); err != nil {
				return nil, fmt.Errorf("image %s for %s: %w", s.name, p, err)
			}
		}
		if b.index, err = index(o, s, imgs); err != nil {
			return nil, fmt.Errorf("image %s: index: %w", s.name, err)
		}
		if b.digest, err = b.index.Digest(); err != nil {
			return nil, fmt.Errorf("image %s: index digest: %w", s.name, err)
		}
		if err := write(o, &b, imgs); err != nil {
			return nil, err
		}
		fmt.Fprintf(stdout, "%s@%s %s -> %s\n", tag, b.digest, platformList(o.platforms), b.layout)
		if o.push != "" {
			if b.pushed, err = push(ctx, o, s, b.index); err != nil {
				return nil, err
			}
			fmt.Fprintf(stdout, "pushed %s\n", b.pushed)
		}
		out = append(out, b)
	}
	return out, nil
}

// checkCACerts fails early, before minutes of compiling, when the bundle
// is missing or holds no certificate.
func checkCACerts(file string) error {
	b, err := os.ReadFile(file)
	if err != nil {
		return fmt.Errorf("-ca-certs: read the CA bundle: %w (on Debian: apt-get install ca-certificates)", err)
	}
	if blk, _ := pem.Decode(b); blk == nil || blk.Type != "CERTIFICATE" {
		return fmt.Errorf("-ca-certs: %s does not start with a PEM certificate", file)
	}
	return nil
}

// ldflags are the Makefile's for the static binaries: stripped, stamped.
func ldflags(version string) string {
	return "-s -w -X " + versionVar + "=" + version
}

// compile cross-compiles one binary the way `make build` builds the static
// ones.
func compile(ctx context.Context, o *options, s imageSpec, p v1.Platform, out string) error {
	cmd := exec.CommandContext(ctx, o.goCmd, "build", "-trimpath", "-ldflags", ldflags(o.version), "-o", out, s.pkg)
	cmd.Dir = o.repoDir
	cmd.Env = append(os.Environ(), "CGO_ENABLED=0", "GOOS="+p.OS, "GOARCH="+p.Architecture)
	var stderr bytes.Buffer
	cmd.Stdout = &stderr
	cmd.Stderr = &stderr
	if err := cmd.Run(); err != nil {
		return fmt.Errorf("go build %s for %s: %w\n%s", s.pkg, p, err, strings.TrimSpace(stderr.String()))
	}
	return nil
}

// entry is one file or directory of a layer.
type entry struct {
	path     string // absolute path in the image
	dir      bool
	mode     int64
	uid, gid int
	src      string // host file with the content
}

// entries lists the layer of spec s, parents first, in a fixed order.
func (s imageSpec) entries(o *options, binary string) []entry {
	files := []entry{{path: s.binary, mode: 0o755, src: binary}}
	if s.caCerts {
		files = append(files, entry{path: caCertsPath, mode: 0o644, src: o.caCerts})
	}
	for _, f := range s.files {
		files = append(files, entry{path: f.dest, mode: 0o644, src: filepath.Join(o.repoDir, filepath.FromSlash(f.src))})
	}
	dirs := map[string]bool{}
	for _, f := range files {
		for d := path.Dir(f.path); d != "/"; d = path.Dir(d) {
			dirs[d] = true
		}
	}
	all := files
	for d := range dirs {
		all = append(all, entry{path: d, dir: true, mode: 0o755})
	}
	slices.SortFunc(all, func(a, b entry) int { return strings.Compare(a.path, b.path) })
	return all
}

// layerTar writes the entries as a tar with fixed mtimes and owners, so
// the same inputs give the same bytes whenever and wherever it runs.
func layerTar(entries []entry, mtime time.Time) ([]byte, error) {
	var buf bytes.Buffer
	tw := tar.NewWriter(&buf)
	for _, e := range entries {
		h := &tar.Header{
			Name:    strings.TrimPrefix(e.path, "/"),
			Mode:    e.mode,
			Uid:     e.uid,
			Gid:     e.gid,
			ModTime: mtime,
			Format:  tar.FormatPAX,
		}
		var content []byte
		if e.dir {
			h.Typeflag = tar.TypeDir
			h.Name += "/"
		} else {
			var err error
			if content, err = os.ReadFile(e.src); err != nil {
				return nil, fmt.Errorf("layer file %s: %w", e.path, err)
			}
			h.Typeflag = tar.TypeReg
			h.Size = int64(len(content))
		}
		if err := tw.WriteHeader(h); err != nil {
			return nil, fmt.Errorf("layer file %s: %w", e.path, err)
		}
		if _, err := tw.Write(content); err != nil {
			return nil, fmt.Errorf("layer file %s: %w", e.path, err)
		}
	}
	if err := tw.Close(); err != nil {
		return nil, err
	}
	return buf.Bytes(), nil
}

// gzipped compresses here rather than in go-containerregistry, so the
// compression level is ours; the gzip header carries no name or time.
func gzipped(b []byte) ([]byte, error) {
	var buf bytes.Buffer
	zw, err := gzip.NewWriterLevel(&buf, gzip.BestCompression)
	if err != nil {
		return nil, err
	}
	if _, err := zw.Write(b); err != nil {
		return nil, err
	}
	if err := zw.Close(); err != nil {
		return nil, err
	}
	return buf.Bytes(), nil
}

// labels are the OCI annotations of the image config and the index.
func labels(o *options, s imageSpec) map[string]string {
	return map[string]string{
		"org.opencontainers.image.title":    s.name,
		"org.opencontainers.image.version":  o.version,
		"org.opencontainers.image.revision": o.revision,
		"org.opencontainers.image.source":   o.source,
		"org.opencontainers.image.created":  o.created.UTC().Format(time.RFC3339),
		"org.opencontainers.image.licenses": "Apache-2.0",
	}
}

// assemble makes the single-layer image of spec s for platform p.
func assemble(o *options, s imageSpec, p v1.Platform, binary string) (v1.Image, error) {
	raw, err := layerTar(s.entries(o, binary), o.created)
	if err != nil {
		return nil, err
	}
	gz, err := gzipped(raw)
	if err != nil {
		return nil, fmt.Errorf("compress the layer: %w", err)
	}
	layer, err := tarball.LayerFromOpener(func() (io.ReadCloser, error) {
		return io.NopCloser(bytes.NewReader(gz)), nil
	}, tarball.WithMediaType(types.OCILayer))
	if err != nil {
		return nil, fmt.Errorf("layer: %w", err)
	}
	created := v1.Time{Time: o.created}
	cfg := &v1.ConfigFile{
		Architecture: p.Architecture,
		OS:           p.OS,
		Created:      created,
		Config: v1.Config{
			Entrypoint: s.entrypoint(),
			Env:        []string{pathEnv},
			User:       s.user,
			Labels:     labels(o, s),
		},
		RootFS: v1.RootFS{Type: "layers"},
	}
	img, err := mutate.ConfigFile(empty.Image, cfg)
	if err != nil {
		return nil, err
	}
	img = mutate.MediaType(img, types.OCIManifestSchema1)
	img = mutate.ConfigMediaType(img, types.OCIConfigJSON)
	return mutate.Append(img, mutate.Addendum{
		Layer: layer,
		History: v1.History{
			Created:   created,
			CreatedBy: "kfpargo imagebuild: " + s.pkg + " -> " + s.binary,
		},
	})
}

// index puts the platform images of s into one image index.
func index(o *options, s imageSpec, imgs []v1.Image) (v1.ImageIndex, error) {
	var adds []mutate.IndexAddendum
	for i, img := range imgs {
		p := o.platforms[i]
		adds = append(adds, mutate.IndexAddendum{Add: img, Descriptor: v1.Descriptor{Platform: &p}})
	}
	idx := mutate.AppendManifests(mutate.IndexMediaType(empty.Index, types.OCIImageIndex), adds...)
	ann, ok := mutate.Annotations(idx, labels(o, s)).(v1.ImageIndex)
	if !ok {
		return nil, fmt.Errorf("annotated index is a %T", ann)
	}
	return ann, nil
}

// write puts the index into an OCI layout and each platform's image into a
// tarball that `docker load`, `kind load image-archive` and `k3d image
// import` read.
func write(o *options, b *built, imgs []v1.Image) error {
	b.layout = filepath.Join(o.outDir, b.spec.name)
	// Old blobs would linger in the layout and stale platforms next to it.
	if err := os.RemoveAll(b.layout); err != nil {
		return fmt.Errorf("remove the old layout %s: %w", b.layout, err)
	}
	stale, _ := filepath.Glob(filepath.Join(o.outDir, b.spec.name+"-*.tar"))
	for _, f := range stale {
		if err := os.Remove(f); err != nil {
			return fmt.Errorf("remove the old tarball: %w", err)
		}
	}
	lp, err := layout.Write(b.layout, empty.Index)
	if err != nil {
		return fmt.Errorf("write the OCI layout %s: %w", b.layout, err)
	}
	err = lp.AppendIndex(b.index, layout.WithAnnotations(map[string]string{
		// The OCI convention (the tag) and containerd's (the full name),
		// so `ctr import` and skopeo both find it.
		"org.opencontainers.image.ref.name": b.tag.TagStr(),
		"io.containerd.image.name":          b.tag.String(),
	}))
	if err != nil {
		return fmt.Errorf("write the OCI layout %s: %w", b.layout, err)
	}
	for i, img := range imgs {
		p := o.platforms[i]
		f := filepath.Join(o.outDir, b.spec.name+"-"+p.OS+"-"+p.Architecture+".tar")
		if err := tarball.WriteToFile(f, b.tag, img); err != nil {
			return fmt.Errorf("write %s: %w", f, err)
		}
		b.tars[p.String()] = f
	}
	return nil
}

// push sends the index to PUSH/NAME:VERSION with the default keychain.
func push(ctx context.Context, o *options, s imageSpec, idx v1.ImageIndex) (string, error) {
	ref := strings.TrimSuffix(o.push, "/") + "/" + s.name + ":" + o.version
	tag, err := name.NewTag(ref, name.StrictValidation)
	if err != nil {
		return "", fmt.Errorf("-push %q: %w", o.push, err)
	}
	opts := append([]remote.Option{remote.WithContext(ctx), remote.WithAuthFromKeychain(authn.DefaultKeychain)}, o.remoteOpts...)
	if err := remote.WriteIndex(tag, idx, opts...); err != nil {
		return "", fmt.Errorf("push %s: %w", tag, err)
	}
	d, err := idx.Digest()
	if err != nil {
		return "", err
	}
	return tag.String() + "@" + d.String(), nil
}

func platformList(ps []v1.Platform) string {
	s := make([]string, len(ps))
	for i, p := range ps {
		s[i] = p.String()
	}
	return strings.Join(s, ",")
}
