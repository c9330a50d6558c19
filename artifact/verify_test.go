package artifact_test

import (
	"context"
	"fmt"
	"hash/crc32"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/minio/minio-go/v7"

	"github.com/kfpargo/kfpargo/artifact"
	"github.com/kfpargo/kfpargo/test/servers"
)

// TestVerifyModes replaces an uploaded object in the ways a fault or a
// writer to the bucket could, and checks what each mode lets through.
func TestVerifyModes(t *testing.T) {
	m := servers.StartMinio(t, "bucket")
	ctx := context.Background()
	stores := map[artifact.Verify]*artifact.Store{}
	for _, v := range []artifact.Verify{artifact.VerifyChecksum, artifact.VerifySHA256} {
		s, err := artifact.NewStore(artifact.Config{Endpoint: m.Endpoint, AccessKey: m.AccessKey, SecretKey: m.SecretKey, Insecure: true, Verify: v})
		if err != nil {
			t.Fatal(err)
		}
		stores[v] = s
	}
	crcOf := func(s string) string {
		return fmt.Sprintf("%08x", crc32.Checksum([]byte(s), crc32.MakeTable(crc32.Castagnoli)))
	}
	const original, tampered = "original content", "tampered content"
	cases := []struct {
		name string
		// meta returns the metadata the replacement carries, given the
		// original's; nil means the object is not replaced.
		meta map[string]func(orig map[string]string) string
		// wantErr per mode: "" means the download is accepted.
		wantErr map[artifact.Verify]string
	}{
		{name: "untouched", wantErr: map[artifact.Verify]string{}},
		{name: "replaced without metadata", meta: map[string]func(map[string]string) string{},
			wantErr: map[artifact.Verify]string{artifact.VerifyChecksum: "does not match descriptor", artifact.VerifySHA256: "does not match descriptor"}},
		{name: "stored digest copied, checksum kept", meta: map[string]func(map[string]string) string{
			artifact.MetaSHA256: func(o map[string]string) string { return o[artifact.MetaSHA256] },
			artifact.MetaCRC32C: func(o map[string]string) string { return o[artifact.MetaCRC32C] },
		}, wantErr: map[artifact.Verify]string{artifact.VerifyChecksum: "CRC-32C", artifact.VerifySHA256: "does not match descriptor"}},
		{name: "stored digest wrong", meta: map[string]func(map[string]string) string{
			artifact.MetaSHA256: func(map[string]string) string { return strings.Repeat("0", 64) },
			artifact.MetaCRC32C: func(map[string]string) string { return crcOf(tampered) },
		}, wantErr: map[artifact.Verify]string{artifact.VerifyChecksum: "does not match descriptor", artifact.VerifySHA256: "does not match descriptor"}},
		// The documented limit of VerifyChecksum: whoever can write to the
		// bucket and forges both values is believed. VerifySHA256 is not fooled.
		{name: "both values forged", meta: map[string]func(map[string]string) string{
			artifact.MetaSHA256: func(o map[string]string) string { return o[artifact.MetaSHA256] },
			artifact.MetaCRC32C: func(map[string]string) string { return crcOf(tampered) },
		}, wantErr: map[artifact.Verify]string{artifact.VerifySHA256: "does not match descriptor"}},
	}
	for i, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			src := filepath.Join(t.TempDir(), "f")
			if err := os.WriteFile(src, []byte(original), 0o644); err != nil {
				t.Fatal(err)
			}
			key := "verify/" + string(rune('a'+i))
			loc, _ := artifact.ParseURI("minio://bucket/" + key)
			d, err := stores[artifact.VerifyChecksum].Upload(ctx, src, loc)
			if err != nil {
				t.Fatal(err)
			}
			st, err := m.Client.StatObject(ctx, "bucket", key, minio.StatObjectOptions{})
			if err != nil || st.UserMetadata[artifact.MetaCRC32C] != crcOf(original) {
				t.Fatalf("stored checksum %q (%v), want %s", st.UserMetadata[artifact.MetaCRC32C], err, crcOf(original))
			}
			if c.meta != nil {
				meta := map[string]string{}
				for k, f := range c.meta {
					meta[k] = f(st.UserMetadata)
				}
				if _, err := m.Client.PutObject(ctx, "bucket", key, strings.NewReader(tampered), int64(len(tampered)), minio.PutObjectOptions{UserMetadata: meta}); err != nil {
					t.Fatal(err)
				}
			}
			for mode, s := range stores {
				dst := filepath.Join(t.TempDir(), "f")
				got, err := s.Download(ctx, d, dst)
				want := c.wantErr[mode]
				if want == "" {
					if err != nil {
						t.Fatalf("%s: %v", mode, err)
					}
					if got.SHA256 != d.SHA256 {
						t.Fatalf("%s: digest %s, want %s", mode, got.SHA256, d.SHA256)
					}
					continue
				}
				if err == nil || !strings.Contains(err.Error(), want) {
					t.Fatalf("%s: got %v, want an error containing %q", mode, err, want)
				}
				if _, err := os.Stat(dst); !os.IsNotExist(err) {
					t.Fatalf("%s: a file was left at the target after a refused download", mode)
				}
			}
		})
	}
}

func TestParseVerify(t *testing.T) {
	for in, want := range map[string]artifact.Verify{"": artifact.VerifyChecksum, "checksum": artifact.VerifyChecksum, "sha256": artifact.VerifySHA256} {
		if got, err := artifact.ParseVerify(in); err != nil || got != want {
			t.Errorf("ParseVerify(%q) = %q, %v", in, got, err)
		}
	}
	if _, err := artifact.ParseVerify("md5"); err == nil || !strings.Contains(err.Error(), `"md5"`) {
		t.Errorf("ParseVerify(md5) = %v, want an error naming it", err)
	}
}
