package artifact_test

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/kfpargo/kfpargo/artifact"
	"github.com/kfpargo/kfpargo/test/servers"
)

// TestTLS: a MinIO serving HTTPS with a certificate from a private CA.
// With the CA the store uploads and downloads (a file and a directory);
// without it, or with another CA, or over plain HTTP, every transfer is
// refused at once with an error that names the endpoint and holds no
// secret key.
func TestTLS(t *testing.T) {
	m := servers.StartMinioWith(t, servers.MinioOptions{TLS: true}, "bucket")
	ctx := context.Background()
	dir := t.TempDir()
	src := filepath.Join(dir, "model.bin")
	if err := os.WriteFile(src, []byte("weights over TLS"), 0o644); err != nil {
		t.Fatal(err)
	}
	tree := filepath.Join(dir, "tree")
	if err := os.MkdirAll(filepath.Join(tree, "sub"), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(tree, "sub", "a"), []byte("a"), 0o644); err != nil {
		t.Fatal(err)
	}
	cfg := artifact.Config{Endpoint: m.Endpoint, AccessKey: m.AccessKey, SecretKey: m.SecretKey, CAPEM: m.CA.CAPEM}
	s, err := artifact.NewStore(cfg)
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct{ local, uri string }{{src, "minio://bucket/run/model"}, {tree, "minio://bucket/run/tree"}} {
		loc, _ := artifact.ParseURI(c.uri)
		d, err := s.Upload(ctx, c.local, loc)
		if err != nil {
			t.Fatalf("upload %s over TLS: %v", c.uri, err)
		}
		got, err := s.Download(ctx, d, filepath.Join(t.TempDir(), "out"))
		if err != nil {
			t.Fatalf("download %s over TLS: %v", c.uri, err)
		}
		if got.SHA256 != d.SHA256 || got.Size != d.Size {
			t.Errorf("%s: downloaded %+v, uploaded %+v", c.uri, got, d)
		}
	}
	loc, _ := artifact.ParseURI("minio://bucket/run/model")
	uploaded := &artifact.Descriptor{URI: loc.String()}
	other := servers.NewTestCA(t)
	for _, c := range []struct {
		name string
		cfg  func(*artifact.Config)
		want string
	}{
		{"no CA", func(c *artifact.Config) { c.CAPEM = nil }, "certificate signed by unknown authority"},
		{"another CA", func(c *artifact.Config) { c.CAPEM = other.CAPEM }, "certificate signed by unknown authority"},
		{"plain HTTP", func(c *artifact.Config) { c.CAPEM, c.Insecure = nil, true }, ""},
	} {
		bad := cfg
		c.cfg(&bad)
		s, err := artifact.NewStore(bad)
		if err != nil {
			t.Fatal(err)
		}
		start := time.Now()
		_, upErr := s.Upload(ctx, src, loc)
		_, downErr := s.Download(ctx, uploaded, filepath.Join(t.TempDir(), "out"))
		for op, err := range map[string]error{"upload": upErr, "download": downErr} {
			switch {
			case err == nil:
				t.Errorf("%s: %s succeeded", c.name, op)
			case !strings.Contains(err.Error(), m.Endpoint) || !strings.Contains(err.Error(), "bucket/run/model"):
				t.Errorf("%s: %s error names not both the endpoint and the object: %v", c.name, op, err)
			case !strings.Contains(err.Error(), c.want):
				t.Errorf("%s: %s error %v, want %q", c.name, op, err, c.want)
			case strings.Contains(err.Error(), m.SecretKey):
				t.Errorf("%s: %s error holds the secret key: %v", c.name, op, err)
			}
			t.Logf("%s: %s: %v", c.name, op, err)
		}
		// Not a bound on speed: a refused certificate must not go through
		// the download's ten resumptions with back-off (tens of seconds).
		if took := time.Since(start); took > 20*time.Second {
			t.Errorf("%s: refused after %s: retried as if transient", c.name, took)
		}
	}
}

func TestTLSConfigErrors(t *testing.T) {
	for _, c := range []struct {
		name string
		cfg  artifact.Config
		want string
	}{
		{"CA and plain HTTP", artifact.Config{Endpoint: "s3:9000", Insecure: true, CAPEM: []byte("x")}, "plain HTTP"},
		{"not a certificate", artifact.Config{Endpoint: "s3:9000", CAPEM: []byte("secret-looking text")}, "no PEM certificate"},
	} {
		_, err := artifact.NewStore(c.cfg)
		if err == nil || !strings.Contains(err.Error(), c.want) || !strings.Contains(err.Error(), "s3:9000") {
			t.Errorf("%s: %v, want %q and the endpoint", c.name, err, c.want)
		}
	}
}
