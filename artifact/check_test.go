package artifact_test

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/minio/minio-go/v7"

	"github.com/kfpargo/kfpargo/artifact"
)

func TestCheck(t *testing.T) {
	s, m := newStore(t)
	ctx := context.Background()
	dir := t.TempDir()
	must := func(err error) {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
	}
	must(os.WriteFile(filepath.Join(dir, "f"), []byte("file"), 0o644))
	must(os.MkdirAll(filepath.Join(dir, "d", "sub"), 0o755))
	must(os.WriteFile(filepath.Join(dir, "d", "a"), []byte("a"), 0o644))
	must(os.WriteFile(filepath.Join(dir, "d", "sub", "b"), []byte("bb"), 0o644))
	upload := func(local, key string) *artifact.Descriptor {
		loc, _ := artifact.ParseURI("minio://bucket/" + key)
		d, err := s.Upload(ctx, filepath.Join(dir, local), loc)
		must(err)
		return d
	}
	cases := []struct {
		name   string
		local  string
		change func(key string)
	}{
		{"file untouched", "f", nil},
		{"file deleted", "f", func(key string) { must(m.Client.RemoveObject(ctx, "bucket", key, minio.RemoveObjectOptions{})) }},
		{"file replaced", "f", func(key string) {
			_, err := m.Client.PutObject(ctx, "bucket", key, strings.NewReader("FILE"), 4, minio.PutObjectOptions{})
			must(err)
		}},
		{"dir untouched", "d", nil},
		{"dir file deleted", "d", func(key string) {
			must(m.Client.RemoveObject(ctx, "bucket", key+"/sub/b", minio.RemoveObjectOptions{}))
		}},
		{"dir file replaced, same size", "d", func(key string) {
			_, err := m.Client.PutObject(ctx, "bucket", key+"/a", strings.NewReader("z"), 1, minio.PutObjectOptions{})
			must(err)
		}},
		{"dir emptied", "d", func(key string) {
			for _, k := range []string{"/a", "/sub/b"} {
				must(m.Client.RemoveObject(ctx, "bucket", key+k, minio.RemoveObjectOptions{}))
			}
		}},
	}
	for i, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			key := "check/" + string(rune('a'+i))
			d := upload(c.local, key)
			if c.change != nil {
				c.change(key)
			}
			err := s.Check(ctx, d)
			if c.change == nil && err != nil {
				t.Fatalf("untouched content: %v", err)
			}
			if c.change != nil && !errors.Is(err, artifact.ErrChanged) {
				t.Fatalf("got %v, want ErrChanged", err)
			}
		})
	}
}
