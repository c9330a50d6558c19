package artifact_test

import (
	"bytes"
	"context"
	"crypto/rand"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/minio/minio-go/v7"

	"github.com/kfpargo/kfpargo/artifact"
	"github.com/kfpargo/kfpargo/test/servers"
)

func newStore(t *testing.T) (*artifact.Store, *servers.Minio) {
	m := servers.StartMinio(t, "bucket")
	s, err := artifact.NewStore(artifact.Config{Endpoint: m.Endpoint, AccessKey: m.AccessKey, SecretKey: m.SecretKey, Insecure: true})
	if err != nil {
		t.Fatal(err)
	}
	return s, m
}

func TestRoundTripFiles(t *testing.T) {
	s, _ := newStore(t)
	ctx := context.Background()
	dir := t.TempDir()
	big := make([]byte, 9<<20) // above minio-go's single-part threshold for small buffers
	_, _ = rand.Read(big)
	for name, content := range map[string][]byte{"empty": {}, "one": {'x'}, "big": big} {
		t.Run(name, func(t *testing.T) {
			src := filepath.Join(dir, name)
			if err := os.WriteFile(src, content, 0o644); err != nil {
				t.Fatal(err)
			}
			loc, _ := artifact.ParseURI("minio://bucket/runs/" + name)
			d, err := s.Upload(ctx, src, loc)
			if err != nil {
				t.Fatal(err)
			}
			if d.Size != int64(len(content)) || len(d.SHA256) != 64 || d.URI != "minio://bucket/runs/"+name {
				t.Fatalf("descriptor %+v", d)
			}
			dst := filepath.Join(dir, "out", name)
			got1, err := s.Download(ctx, d, dst)
			if err != nil {
				t.Fatal(err)
			}
			if got1.SHA256 != d.SHA256 || got1.Size != d.Size {
				t.Fatalf("download reported %+v, upload %+v", got1, d)
			}
			got, err := os.ReadFile(dst)
			if err != nil || !bytes.Equal(got, content) {
				t.Fatalf("downloaded %d bytes, want %d (%v)", len(got), len(content), err)
			}
		})
	}
}

func TestRoundTripDirectory(t *testing.T) {
	s, _ := newStore(t)
	ctx := context.Background()
	src := t.TempDir()
	files := map[string]string{"a.txt": "alpha", "sub/b.txt": "beta", "sub/deeper/c": ""}
	for rel, c := range files {
		p := filepath.Join(src, rel)
		_ = os.MkdirAll(filepath.Dir(p), 0o755)
		if err := os.WriteFile(p, []byte(c), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	loc, _ := artifact.ParseURI("s3://bucket/model")
	d, err := s.Upload(ctx, src, loc)
	if err != nil {
		t.Fatal(err)
	}
	if !d.Dir || d.Size != int64(len("alpha")+len("beta")) {
		t.Fatalf("descriptor %+v", d)
	}
	dst := filepath.Join(t.TempDir(), "model")
	if _, err := s.Download(ctx, d, dst); err != nil {
		t.Fatal(err)
	}
	for rel, c := range files {
		got, err := os.ReadFile(filepath.Join(dst, rel))
		if err != nil || string(got) != c {
			t.Errorf("%s: %q %v", rel, got, err)
		}
	}
	// Same bytes uploaded elsewhere have the same digest: the cache key
	// depends on content, not location.
	loc2, _ := artifact.ParseURI("s3://bucket/elsewhere")
	d2, err := s.Upload(ctx, dst, loc2)
	if err != nil || d2.SHA256 != d.SHA256 {
		t.Fatalf("digest of identical directory differs: %s vs %s (%v)", d2.SHA256, d.SHA256, err)
	}
}

func TestDownloadDetectsChangedContent(t *testing.T) {
	s, m := newStore(t)
	ctx := context.Background()
	src := filepath.Join(t.TempDir(), "f")
	_ = os.WriteFile(src, []byte("original"), 0o644)
	loc, _ := artifact.ParseURI("minio://bucket/f")
	d, err := s.Upload(ctx, src, loc)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := m.Client.PutObject(ctx, "bucket", "f", strings.NewReader("tampered"), 8, minio.PutObjectOptions{}); err != nil {
		t.Fatal(err)
	}
	dst := filepath.Join(t.TempDir(), "f")
	_, err = s.Download(ctx, d, dst)
	if err == nil || !strings.Contains(err.Error(), "does not match descriptor") {
		t.Fatalf("got %v", err)
	}
	if _, err := os.Stat(dst); !os.IsNotExist(err) {
		t.Fatalf("a file was left at the target after a failed download: %v", err)
	}
}

func TestMissingObjectAndSymlink(t *testing.T) {
	s, _ := newStore(t)
	ctx := context.Background()
	_, err := s.Download(ctx, &artifact.Descriptor{URI: "minio://bucket/nothing"}, filepath.Join(t.TempDir(), "x"))
	if err == nil || !strings.Contains(err.Error(), "minio://bucket/nothing") && !strings.Contains(err.Error(), "s3://bucket/nothing") {
		t.Fatalf("missing object: %v", err)
	}
	dir := t.TempDir()
	_ = os.Symlink("/etc/passwd", filepath.Join(dir, "link"))
	loc, _ := artifact.ParseURI("minio://bucket/d")
	if _, err := s.Upload(ctx, dir, loc); err == nil || !strings.Contains(err.Error(), "symbolic link") {
		t.Fatalf("symlink in an output directory: %v", err)
	}
}

// Imported artifacts arrive as a bare URI: the store finds out whether it is
// one object or a prefix and reports the digest of what it fetched, the same
// digest an upload of those bytes gives.
func TestDownloadWithoutDigest(t *testing.T) {
	s, m := newStore(t)
	ctx := context.Background()
	put := func(key, content string) {
		if _, err := m.Client.PutObject(ctx, "bucket", key, strings.NewReader(content), int64(len(content)), minio.PutObjectOptions{}); err != nil {
			t.Fatal(err)
		}
	}
	put("imported/file.csv", "a,b\n1,2\n")
	put("imported/tree/x", "x")
	put("imported/tree/y/z", "zz")
	for _, tc := range []struct {
		uri     string
		dir     bool
		size    int64
		content map[string]string
	}{
		{"s3://bucket/imported/file.csv", false, 8, map[string]string{"": "a,b\n1,2\n"}},
		{"minio://bucket/imported/tree", true, 3, map[string]string{"x": "x", "y/z": "zz"}},
	} {
		t.Run(tc.uri, func(t *testing.T) {
			dst := filepath.Join(t.TempDir(), "in")
			got, err := s.Download(ctx, &artifact.Descriptor{URI: tc.uri}, dst)
			if err != nil {
				t.Fatal(err)
			}
			if got.Dir != tc.dir || got.Size != tc.size || len(got.SHA256) != 64 {
				t.Fatalf("descriptor %+v", got)
			}
			for rel, want := range tc.content {
				b, err := os.ReadFile(filepath.Join(dst, rel))
				if err != nil || string(b) != want {
					t.Errorf("%s: %q %v", rel, b, err)
				}
			}
			loc, _ := artifact.ParseURI("minio://bucket/again")
			up, err := s.Upload(ctx, dst, loc)
			if err != nil || up.SHA256 != got.SHA256 {
				t.Fatalf("digest on download %s, on upload of the same bytes %s (%v)", got.SHA256, up.SHA256, err)
			}
		})
	}
	_, err := s.Download(ctx, &artifact.Descriptor{URI: "minio://bucket/imported/fil"}, filepath.Join(t.TempDir(), "x"))
	if err == nil || !strings.Contains(err.Error(), "no object and no prefix") {
		t.Fatalf("missing import: %v", err)
	}
}

// A missing bucket is an error naming it, unless the store may create it.
func TestCreateBucket(t *testing.T) {
	m := servers.StartMinio(t, "bucket")
	ctx := context.Background()
	src := filepath.Join(t.TempDir(), "f")
	if err := os.WriteFile(src, []byte("data"), 0o644); err != nil {
		t.Fatal(err)
	}
	for _, create := range []bool{false, true} {
		s, err := artifact.NewStore(artifact.Config{Endpoint: m.Endpoint, AccessKey: m.AccessKey, SecretKey: m.SecretKey, Insecure: true, CreateBucket: create})
		if err != nil {
			t.Fatal(err)
		}
		loc, _ := artifact.ParseURI("minio://fresh/runs/f")
		_, err = s.Upload(ctx, src, loc)
		if !create {
			var resp minio.ErrorResponse
			if err == nil || !strings.Contains(err.Error(), "s3://fresh/runs/f") || !errors.As(err, &resp) || resp.Code != "NoSuchBucket" {
				t.Fatalf("upload to a missing bucket without CreateBucket: %v", err)
			}
			continue
		}
		if err != nil {
			t.Fatalf("upload with CreateBucket: %v", err)
		}
		if _, err := m.Client.StatObject(ctx, "fresh", "runs/f", minio.StatObjectOptions{}); err != nil {
			t.Fatalf("object after the bucket was created: %v", err)
		}
	}
}
