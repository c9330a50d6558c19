package main

import (
	"archive/tar"
	"bytes"
	"context"
	"debug/elf"
	"errors"
	"fmt"
	"io"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"reflect"
	"runtime"
	"strings"
	"testing"
	"time"

	"github.com/google/go-containerregistry/pkg/name"
	"github.com/google/go-containerregistry/pkg/registry"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/layout"
	"github.com/google/go-containerregistry/pkg/v1/remote"
	"github.com/google/go-containerregistry/pkg/v1/tarball"
	"github.com/google/go-containerregistry/pkg/v1/types"
	"github.com/google/go-containerregistry/pkg/v1/validate"
)

// layerFile is a layer entry as the test compares it.
type layerFile struct {
	name     string
	typ      byte
	mode     int64
	uid, gid int
	mtime    int64
}

// readLayer returns the entries of the image's only layer and the
// contents of its regular files.
func readLayer(t *testing.T, img v1.Image) ([]layerFile, map[string][]byte) {
	t.Helper()
	layers, err := img.Layers()
	if err != nil {
		t.Fatal(err)
	}
	if len(layers) != 1 {
		t.Fatalf("%d layers, want 1", len(layers))
	}
	if mt, err := layers[0].MediaType(); err != nil || mt != types.OCILayer {
		t.Errorf("layer media type %s (%v), want %s", mt, err, types.OCILayer)
	}
	rc, err := layers[0].Uncompressed()
	if err != nil {
		t.Fatal(err)
	}
	defer rc.Close()
	var files []layerFile
	contents := map[string][]byte{}
	tr := tar.NewReader(rc)
	for {
		h, err := tr.Next()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			t.Fatal(err)
		}
		files = append(files, layerFile{h.Name, h.Typeflag, h.Mode, h.Uid, h.Gid, h.ModTime.Unix()})
		if h.Typeflag == tar.TypeReg {
			if contents[h.Name], err = io.ReadAll(tr); err != nil {
				t.Fatal(err)
			}
		}
	}
	return files, contents
}

// testOptions are options for a build into out with fixed metadata.
func testOptions(t *testing.T, out string) *options {
	t.Helper()
	o, err := parseFlags([]string{"-C", "../..", "-out", out, "-version", "v9.8.7-test", "-revision", "0123abcd", "-created", "1700000000"}, func(string) string { return "" }, io.Discard)
	if err != nil {
		t.Fatal(err)
	}
	return o
}

// TestAssemble checks the layer and config of both images from stand-in
// binaries, without compiling: exact files, modes, owners, mtimes and the
// config, and that the host file's own mtime and owner do not leak in.
func TestAssemble(t *testing.T) {
	dir := t.TempDir()
	o := testOptions(t, filepath.Join(dir, "out"))
	o.caCerts = filepath.Join(dir, "ca.crt")
	if err := os.WriteFile(o.caCerts, []byte("-----BEGIN CERTIFICATE-----\n-----END CERTIFICATE-----\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	bin := filepath.Join(dir, "bin")
	if err := os.WriteFile(bin, []byte("not really a binary"), 0o700); err != nil {
		t.Fatal(err)
	}
	const mtime = 1700000000
	dirEntry := func(n string) layerFile { return layerFile{n, tar.TypeDir, 0o755, 0, 0, mtime} }
	file := func(n string, mode int64) layerFile { return layerFile{n, tar.TypeReg, mode, 0, 0, mtime} }
	for _, tc := range []struct {
		spec  imageSpec
		files []layerFile
	}{
		{specs()[0], []layerFile{
			dirEntry("usr/"), dirEntry("usr/local/"), dirEntry("usr/local/bin/"), file("usr/local/bin/launcher", 0o755),
		}},
		{specs()[1], []layerFile{
			dirEntry("etc/"), file("etc/group", 0o644), file("etc/passwd", 0o644), dirEntry("etc/ssl/"), dirEntry("etc/ssl/certs/"),
			file("etc/ssl/certs/ca-certificates.crt", 0o644),
			dirEntry("usr/"), dirEntry("usr/local/"), dirEntry("usr/local/bin/"), file("usr/local/bin/cachewebhook", 0o755),
		}},
	} {
		t.Run(tc.spec.name, func(t *testing.T) {
			p := v1.Platform{OS: "linux", Architecture: "arm64"}
			img, err := assemble(o, tc.spec, p, bin)
			if err != nil {
				t.Fatal(err)
			}
			files, contents := readLayer(t, img)
			if !reflect.DeepEqual(files, tc.files) {
				t.Errorf("layer:\n got %v\nwant %v", files, tc.files)
			}
			if got := string(contents[strings.TrimPrefix(tc.spec.binary, "/")]); got != "not really a binary" {
				t.Errorf("binary content %q", got)
			}
			for _, f := range tc.spec.files {
				want, err := os.ReadFile(filepath.Join("..", "..", f.src))
				if err != nil {
					t.Fatal(err)
				}
				if got := contents[strings.TrimPrefix(f.dest, "/")]; !bytes.Equal(got, want) {
					t.Errorf("%s: got %q, want %s's %q", f.dest, got, f.src, want)
				}
			}
			cfg, err := img.ConfigFile()
			if err != nil {
				t.Fatal(err)
			}
			wantCfg := v1.Config{
				Entrypoint: []string{tc.spec.binary},
				Env:        []string{pathEnv},
				User:       "65532:65532",
				Labels: map[string]string{
					"org.opencontainers.image.title":    tc.spec.name,
					"org.opencontainers.image.version":  "v9.8.7-test",
					"org.opencontainers.image.revision": "0123abcd",
					"org.opencontainers.image.source":   "https://github.com/kfpargo/kfpargo",
					"org.opencontainers.image.created":  "2023-11-14T22:13:20Z",
					"org.opencontainers.image.licenses": "Apache-2.0",
				},
			}
			if !reflect.DeepEqual(cfg.Config, wantCfg) {
				t.Errorf("config:\n got %+v\nwant %+v", cfg.Config, wantCfg)
			}
			if cfg.OS != "linux" || cfg.Architecture != "arm64" || cfg.Created.Unix() != mtime {
				t.Errorf("config os %s, architecture %s, created %v", cfg.OS, cfg.Architecture, cfg.Created)
			}
			if mt, _ := img.MediaType(); mt != types.OCIManifestSchema1 {
				t.Errorf("manifest media type %s", mt)
			}

			// Same inputs, a host file with another mtime and mode: same
			// image.
			d1, _ := img.Digest()
			if err := os.Chtimes(bin, time.Unix(1, 0), time.Unix(1, 0)); err != nil {
				t.Fatal(err)
			}
			if err := os.Chmod(bin, 0o555); err != nil {
				t.Fatal(err)
			}
			img2, err := assemble(o, tc.spec, p, bin)
			if err != nil {
				t.Fatal(err)
			}
			if d2, _ := img2.Digest(); d1 != d2 {
				t.Errorf("digest changed with the host file's mtime and mode: %s, then %s", d1, d2)
			}
			if err := os.Chmod(bin, 0o700); err != nil {
				t.Fatal(err)
			}
		})
	}
}

func TestParseFlags(t *testing.T) {
	env := func(m map[string]string) func(string) string { return func(k string) string { return m[k] } }
	for _, tc := range []struct {
		name    string
		args    []string
		env     map[string]string
		created int64
		err     string
	}{
		{name: "created flag wins", args: []string{"-created", "5"}, env: map[string]string{"SOURCE_DATE_EPOCH": "7"}, created: 5},
		{name: "SOURCE_DATE_EPOCH", env: map[string]string{"SOURCE_DATE_EPOCH": "7"}, created: 7},
		{name: "bad SOURCE_DATE_EPOCH", env: map[string]string{"SOURCE_DATE_EPOCH": "yesterday"}, err: `-created (or SOURCE_DATE_EPOCH): "yesterday" is not a count of seconds`},
		{name: "negative created", args: []string{"-created", "-1"}, err: `"-1" is not a count of seconds`},
		{name: "version not a tag", args: []string{"-created", "1", "-version", "v1+dirty"}, err: `-version "v1+dirty" with -repo "ghcr.io/kfpargo" does not make an image reference`},
		{name: "bad push prefix", args: []string{"-created", "1", "-push", "Bad Registry/x"}, err: `-push "Bad Registry/x" does not make an image reference`},
		{name: "platform without arch", args: []string{"-created", "1", "-platforms", "linux"}, err: `-platforms: "linux": want OS/ARCH`},
		{name: "platform variant", args: []string{"-created", "1", "-platforms", "linux/arm/v7"}, err: "variants are not supported"},
		{name: "not linux", args: []string{"-created", "1", "-platforms", "linux/amd64,windows/amd64"}, err: `"windows/amd64": the images run on Linux only`},
		{name: "duplicate platform", args: []string{"-created", "1", "-platforms", "linux/amd64,linux/amd64"}, err: `"linux/amd64" given twice`},
		{name: "argument", args: []string{"-created", "1", "extra"}, err: `unexpected argument "extra"`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			o, err := parseFlags(append([]string{"-C", "../..", "-revision", "r"}, tc.args...), env(tc.env), io.Discard)
			if tc.err != "" {
				if err == nil || !strings.Contains(err.Error(), tc.err) {
					t.Fatalf("got %v, want an error with %q", err, tc.err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if o.created.Unix() != tc.created {
				t.Errorf("created %v, want Unix %d", o.created, tc.created)
			}
		})
	}
}

// TestParseFlagsFromGit: without flags, the commit and its time label the
// images, so a rebuild of the same commit is the same image.
func TestParseFlagsFromGit(t *testing.T) {
	rev, err := exec.Command("git", "-C", "../..", "log", "-1", "--format=%H %ct").Output()
	if err != nil {
		t.Skipf("no git history: %v", err)
	}
	o, err := parseFlags([]string{"-C", "../.."}, func(string) string { return "" }, io.Discard)
	if err != nil {
		t.Fatal(err)
	}
	if got := fmt.Sprintf("%s %d", o.revision, o.created.Unix()); got != strings.TrimSpace(string(rev)) {
		t.Errorf("revision and time %q, want git's %q", got, rev)
	}
	if want := []v1.Platform{{OS: "linux", Architecture: "amd64"}, {OS: "linux", Architecture: "arm64"}}; !reflect.DeepEqual(o.platforms, want) {
		t.Errorf("default platforms %v", o.platforms)
	}
}

// TestMissingCACerts: a host without Debian's CA bundle is told so before
// anything is compiled.
func TestMissingCACerts(t *testing.T) {
	dir := t.TempDir()
	notPEM := filepath.Join(dir, "not.pem")
	if err := os.WriteFile(notPEM, []byte("hello"), 0o644); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct{ file, err string }{
		{filepath.Join(dir, "missing.crt"), "-ca-certs: read the CA bundle: open " + filepath.Join(dir, "missing.crt") + ": no such file or directory (on Debian: apt-get install ca-certificates)"},
		{notPEM, "-ca-certs: " + notPEM + " does not start with a PEM certificate"},
	} {
		var stderr bytes.Buffer
		code := run(context.Background(), []string{"-C", "../..", "-out", filepath.Join(dir, "out"), "-created", "1", "-revision", "r", "-ca-certs", tc.file}, func(string) string { return "" }, io.Discard, &stderr)
		if code != 1 || !strings.Contains(stderr.String(), tc.err) {
			t.Errorf("%s: exit %d, stderr %q; want 1 and %q", tc.file, code, stderr.String(), tc.err)
		}
		if _, err := os.Stat(filepath.Join(dir, "out")); !errors.Is(err, os.ErrNotExist) {
			t.Errorf("output directory made before the check: %v", err)
		}
	}
}

// TestBuild builds both images for amd64 and arm64 as `make images` does,
// pushes them to an in-process registry, and reads everything back: the
// layout, the docker-load tarballs, the registry. A second build of the
// same inputs must give the same digests.
func TestBuild(t *testing.T) {
	if testing.Short() {
		t.Skip("compiles four binaries")
	}
	srv := httptest.NewServer(registry.New())
	defer srv.Close()
	host := strings.TrimPrefix(srv.URL, "http://")

	o := testOptions(t, filepath.Join(t.TempDir(), "images"))
	o.push = host + "/mirror"
	var stdout bytes.Buffer
	first, err := build(context.Background(), o, &stdout)
	if err != nil {
		t.Fatal(err)
	}
	if len(first) != 2 {
		t.Fatalf("%d images built", len(first))
	}
	for _, b := range first {
		t.Run(b.spec.name, func(t *testing.T) {
			if want := fmt.Sprintf("ghcr.io/kfpargo/%s:v9.8.7-test@%s linux/amd64,linux/arm64 -> %s\n", b.spec.name, b.digest, b.layout); !strings.Contains(stdout.String(), want) {
				t.Errorf("stdout %q lacks %q", stdout.String(), want)
			}
			idx := readLayout(t, b)
			im, err := idx.IndexManifest()
			if err != nil {
				t.Fatal(err)
			}
			if len(im.Manifests) != 2 {
				t.Fatalf("%d manifests in the index", len(im.Manifests))
			}
			for _, d := range im.Manifests {
				p := *d.Platform
				t.Run(p.Architecture, func(t *testing.T) {
					img, err := idx.Image(d.Digest)
					if err != nil {
						t.Fatal(err)
					}
					checkImage(t, b, p, img)
				})
			}

			// The registry holds the same index, whole.
			ref, err := name.NewTag(host + "/mirror/" + b.spec.name + ":v9.8.7-test")
			if err != nil {
				t.Fatal(err)
			}
			if want := ref.String() + "@" + b.digest.String(); b.pushed != want || !strings.Contains(stdout.String(), "pushed "+want+"\n") {
				t.Errorf("pushed %q (stdout %q), want %q", b.pushed, stdout.String(), want)
			}
			pulled, err := remote.Index(ref)
			if err != nil {
				t.Fatal(err)
			}
			if d, _ := pulled.Digest(); d != b.digest {
				t.Errorf("pulled index %s, built %s", d, b.digest)
			}
			if err := validate.Index(pulled); err != nil {
				t.Errorf("pulled index: %v", err)
			}
		})
	}

	// Reproducible: same commit, flags and CA bundle, another directory.
	o2 := testOptions(t, filepath.Join(t.TempDir(), "images"))
	second, err := build(context.Background(), o2, io.Discard)
	if err != nil {
		t.Fatal(err)
	}
	for i := range first {
		if first[i].digest != second[i].digest {
			t.Errorf("%s: first build %s, second %s", first[i].spec.name, first[i].digest, second[i].digest)
		}
	}
}

// readLayout opens the OCI layout and returns the tagged image index.
func readLayout(t *testing.T, b built) v1.ImageIndex {
	t.Helper()
	outer, err := layout.ImageIndexFromPath(b.layout)
	if err != nil {
		t.Fatal(err)
	}
	om, err := outer.IndexManifest()
	if err != nil {
		t.Fatal(err)
	}
	if len(om.Manifests) != 1 {
		t.Fatalf("index.json has %d entries, want 1", len(om.Manifests))
	}
	d := om.Manifests[0]
	wantAnn := map[string]string{
		"org.opencontainers.image.ref.name": "v9.8.7-test",
		"io.containerd.image.name":          "ghcr.io/kfpargo/" + b.spec.name + ":v9.8.7-test",
	}
	if d.Digest != b.digest || d.MediaType != types.OCIImageIndex || !reflect.DeepEqual(d.Annotations, wantAnn) {
		t.Errorf("index.json entry %+v, want the index %s annotated %v", d, b.digest, wantAnn)
	}
	idx, err := outer.ImageIndex(d.Digest)
	if err != nil {
		t.Fatal(err)
	}
	if err := validate.Index(idx); err != nil {
		t.Errorf("layout index: %v", err)
	}
	return idx
}

// checkImage checks one platform's image from the layout and its
// docker-load tarball.
func checkImage(t *testing.T, b built, p v1.Platform, img v1.Image) {
	cfg, err := img.ConfigFile()
	if err != nil {
		t.Fatal(err)
	}
	if cfg.OS != p.OS || cfg.Architecture != p.Architecture {
		t.Errorf("config for %s/%s, index says %s", cfg.OS, cfg.Architecture, p)
	}
	if c := cfg.Config; !reflect.DeepEqual(c.Entrypoint, []string{b.spec.binary}) || c.User != "65532:65532" ||
		c.Labels["org.opencontainers.image.version"] != "v9.8.7-test" || c.Labels["org.opencontainers.image.revision"] != "0123abcd" {
		t.Errorf("config %+v", c)
	}
	files, contents := readLayer(t, img)
	var names []string
	for _, f := range files {
		names = append(names, f.name)
	}
	want := "usr/ usr/local/ usr/local/bin/ usr/local/bin/launcher"
	if b.spec.name == "cachewebhook" {
		want = "etc/ etc/group etc/passwd etc/ssl/ etc/ssl/certs/ etc/ssl/certs/ca-certificates.crt usr/ usr/local/ usr/local/bin/ usr/local/bin/cachewebhook"
	}
	if got := strings.Join(names, " "); got != want {
		t.Errorf("layer files %q, want %q", got, want)
	}
	if b.spec.caCerts {
		host, err := os.ReadFile(caCertsPath)
		if err != nil {
			t.Fatal(err)
		}
		if !bytes.Equal(contents["etc/ssl/certs/ca-certificates.crt"], host) {
			t.Errorf("CA bundle differs from the host's %s", caCertsPath)
		}
	}

	bin := contents[strings.TrimPrefix(b.spec.binary, "/")]
	checkStatic(t, bin, p.Architecture)
	if p.Architecture == runtime.GOARCH {
		f := filepath.Join(t.TempDir(), b.spec.name)
		if err := os.WriteFile(f, bin, 0o755); err != nil {
			t.Fatal(err)
		}
		out, err := exec.Command(f, "--version").CombinedOutput()
		if err != nil || string(out) != "v9.8.7-test\n" {
			t.Errorf("%s --version: %q, %v; want the stamped version", b.spec.name, out, err)
		}
	}

	// The docker-load tarball holds the same config and layer, tagged.
	tag, err := name.NewTag("ghcr.io/kfpargo/" + b.spec.name + ":v9.8.7-test")
	if err != nil {
		t.Fatal(err)
	}
	tb, err := tarball.ImageFromPath(b.tars[p.String()], &tag)
	if err != nil {
		t.Fatalf("tarball for %s: %v", p, err)
	}
	c1, _ := img.ConfigName()
	c2, err := tb.ConfigName()
	if err != nil || c1 != c2 {
		t.Errorf("tarball config %s (%v), layout %s", c2, err, c1)
	}
	l1, _ := img.Layers()
	l2, err := tb.Layers()
	if err != nil || len(l2) != 1 {
		t.Fatalf("tarball layers %v, %v", l2, err)
	}
	d1, _ := l1[0].Digest()
	if d2, _ := l2[0].Digest(); d1 != d2 {
		t.Errorf("tarball layer %s, layout %s", d2, d1)
	}
}

// checkStatic: no interpreter, no shared libraries, stripped, built for
// arch.
func checkStatic(t *testing.T, bin []byte, arch string) {
	t.Helper()
	f, err := elf.NewFile(bytes.NewReader(bin))
	if err != nil {
		t.Fatalf("not an ELF binary: %v", err)
	}
	defer f.Close()
	machine := map[string]elf.Machine{"amd64": elf.EM_X86_64, "arm64": elf.EM_AARCH64}[arch]
	if f.Machine != machine {
		t.Errorf("machine %s, want %s for %s", f.Machine, machine, arch)
	}
	for _, p := range f.Progs {
		if p.Type == elf.PT_INTERP || p.Type == elf.PT_DYNAMIC {
			t.Errorf("program header %s: dynamically linked", p.Type)
		}
	}
	if libs, err := f.ImportedLibraries(); err != nil || len(libs) > 0 {
		t.Errorf("needs shared libraries %v (%v)", libs, err)
	}
	if f.Section(".symtab") != nil {
		t.Error("has a symbol table: not linked with -s")
	}
}
