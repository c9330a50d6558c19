package artifact_test

import (
	"context"
	"strings"
	"testing"

	"github.com/minio/minio-go/v7"

	"github.com/kfpargo/kfpargo/artifact"
)

func TestIdentity(t *testing.T) {
	s, m := newStore(t)
	ctx := context.Background()
	put := func(key, content string) {
		t.Helper()
		if _, err := m.Client.PutObject(ctx, "bucket", key, strings.NewReader(content), int64(len(content)), minio.PutObjectOptions{}); err != nil {
			t.Fatal(err)
		}
	}
	id := func(d *artifact.Descriptor) string {
		t.Helper()
		v, err := s.Identity(ctx, d)
		if err != nil {
			t.Fatal(err)
		}
		return v
	}
	digest := strings.Repeat("a", 64)
	if got := id(&artifact.Descriptor{URI: "minio://bucket/nowhere", SHA256: digest}); got != "sha256:"+digest {
		t.Errorf("content with a digest: %s", got)
	}

	put("imports/file", "v1")
	file := &artifact.Descriptor{URI: "minio://bucket/imports/file"}
	first := id(file)
	if id(file) != first {
		t.Error("the same object named twice differently")
	}
	put("imports/file", "v2")
	if id(file) == first {
		t.Error("a replaced object kept its name")
	}

	put("imports/dir/a", "1")
	put("imports/dir/sub/b", "2")
	dir := &artifact.Descriptor{URI: "minio://bucket/imports/dir"}
	d1 := id(dir)
	if !strings.HasPrefix(d1, "etags:minio://bucket/imports/dir@") {
		t.Errorf("prefix named %s", d1)
	}
	put("imports/dir/sub/c", "3")
	d2 := id(dir)
	if d2 == d1 {
		t.Error("a file added under a prefix kept its name")
	}
	put("imports/dir/sub/c", "4")
	if id(dir) == d2 {
		t.Error("a file replaced under a prefix kept its name")
	}

	if _, err := s.Identity(ctx, &artifact.Descriptor{URI: "minio://bucket/missing"}); err == nil || !strings.Contains(err.Error(), "minio://bucket/missing") {
		t.Errorf("missing content: %v", err)
	}
}
