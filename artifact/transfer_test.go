package artifact_test

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"io"
	"math/rand/v2"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/minio/minio-go/v7"

	"github.com/kfpargo/kfpargo/artifact"
)

// writeRandom writes size pseudo-random bytes to path without holding them
// in memory and returns their SHA-256.
func writeRandom(t *testing.T, path string, size int64, seed uint64) string {
	t.Helper()
	f, err := os.Create(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	h := sha256.New()
	rng := rand.New(rand.NewPCG(seed, seed^0x9e3779b97f4a7c15))
	buf := make([]byte, 1<<20)
	for left := size; left > 0; {
		n := int64(len(buf))
		if left < n {
			n = left
		}
		for i := 0; i+8 <= int(n); i += 8 {
			v := rng.Uint64()
			for j := 0; j < 8; j++ {
				buf[i+j] = byte(v >> (8 * j))
			}
		}
		if _, err := io.MultiWriter(f, h).Write(buf[:n]); err != nil {
			t.Fatal(err)
		}
		left -= n
	}
	return hex.EncodeToString(h.Sum(nil))
}

// TestLargeRoundTripAcrossRestart moves 1 GiB up and down while the server
// is killed and restarted in the middle of each transfer: both complete,
// with the right digest, and the digest is stored as object metadata.
func TestLargeRoundTripAcrossRestart(t *testing.T) {
	s, m := newStore(t)
	ctx := context.Background()
	dir := t.TempDir()
	src := filepath.Join(dir, "big.bin")
	want := writeRandom(t, src, 1<<30, 1)
	loc, _ := artifact.ParseURI("minio://bucket/large/big.bin")

	restart := func(what string, inFlight func() bool, done <-chan struct{}) {
		deadline := time.Now().Add(time.Minute)
		for !inFlight() {
			select {
			case <-done:
				t.Errorf("%s finished before the server could be restarted in its middle", what)
				return
			default:
			}
			if time.Now().After(deadline) {
				t.Errorf("%s never got going", what)
				return
			}
			time.Sleep(5 * time.Millisecond)
		}
		m.Stop()
		time.Sleep(500 * time.Millisecond)
		if err := m.Start(); err != nil {
			t.Fatal(err)
		}
		t.Logf("restarted the server during the %s", what)
	}

	var d *artifact.Descriptor
	var upErr error
	done := make(chan struct{})
	go func() {
		defer close(done)
		d, upErr = s.Upload(ctx, src, loc)
	}()
	restart("upload", func() bool {
		for u := range m.Client.ListIncompleteUploads(ctx, "bucket", "large/big.bin", false) {
			if u.Err == nil {
				return true
			}
		}
		return false
	}, done)
	<-done
	if upErr != nil {
		t.Fatalf("upload across a restart: %v", upErr)
	}
	if d.SHA256 != want || d.Size != 1<<30 {
		t.Fatalf("descriptor %+v, want sha256 %s", d, want)
	}
	st, err := m.Client.StatObject(ctx, "bucket", "large/big.bin", minio.StatObjectOptions{})
	if err != nil || st.UserMetadata[artifact.MetaSHA256] != want {
		t.Fatalf("object metadata %v (%v), want %s=%s", st.UserMetadata, err, artifact.MetaSHA256, want)
	}

	dstDir := filepath.Join(dir, "down")
	dst := filepath.Join(dstDir, "big.bin")
	done = make(chan struct{})
	var got *artifact.Descriptor
	var downErr error
	go func() {
		defer close(done)
		got, downErr = s.Download(ctx, d, dst)
	}()
	restart("download", func() bool {
		ents, _ := os.ReadDir(dstDir)
		for _, e := range ents {
			if fi, err := e.Info(); err == nil && strings.HasPrefix(e.Name(), ".download-") && fi.Size() > 64<<20 {
				return true
			}
		}
		return false
	}, done)
	<-done
	if downErr != nil {
		t.Fatalf("download across a restart: %v", downErr)
	}
	if got.SHA256 != want || got.Size != 1<<30 {
		t.Fatalf("downloaded %+v, want sha256 %s", got, want)
	}
}

// TestConcurrentTransfers runs many uploads and downloads at once through one
// store, as a step with many artifacts does.
func TestConcurrentTransfers(t *testing.T) {
	s, _ := newStore(t)
	ctx := context.Background()
	dir := t.TempDir()
	const n = 12
	wants := make([]string, n)
	for i := range n {
		wants[i] = writeRandom(t, filepath.Join(dir, fmt.Sprintf("f%d", i)), int64(i)<<20+int64(i), uint64(i))
	}
	var wg sync.WaitGroup
	errs := make(chan error, n)
	for i := range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			src, want := filepath.Join(dir, fmt.Sprintf("f%d", i)), wants[i]
			loc, _ := artifact.ParseURI(fmt.Sprintf("minio://bucket/concurrent/f%d", i))
			d, err := s.Upload(ctx, src, loc)
			if err != nil {
				errs <- err
				return
			}
			got, err := s.Download(ctx, d, filepath.Join(dir, "out", fmt.Sprintf("f%d", i)))
			if err != nil {
				errs <- err
				return
			}
			if d.SHA256 != want || got.SHA256 != want {
				errs <- fmt.Errorf("f%d: uploaded %s, downloaded %s, want %s", i, d.SHA256, got.SHA256, want)
			}
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
}

// TestTransferErrors: refused credentials, a missing source and an
// unwritable target are reported at once, naming what failed.
func TestTransferErrors(t *testing.T) {
	s, m := newStore(t)
	ctx := context.Background()
	dir := t.TempDir()
	src := filepath.Join(dir, "f")
	_ = os.WriteFile(src, []byte("data"), 0o644)
	loc, _ := artifact.ParseURI("minio://bucket/errors/f")
	d, err := s.Upload(ctx, src, loc)
	if err != nil {
		t.Fatal(err)
	}
	if st, err := m.Client.StatObject(ctx, "bucket", "errors/f", minio.StatObjectOptions{}); err != nil || st.UserMetadata[artifact.MetaSHA256] != d.SHA256 {
		t.Errorf("small object metadata %v (%v), want the digest %s", st.UserMetadata, err, d.SHA256)
	}

	bad, err := artifact.NewStore(artifact.Config{Endpoint: m.Endpoint, AccessKey: m.AccessKey, SecretKey: "wrong-secret", Insecure: true})
	if err != nil {
		t.Fatal(err)
	}
	start := time.Now()
	if _, err := bad.Upload(ctx, src, loc); err == nil || !strings.Contains(err.Error(), "s3://bucket/errors/f") || !strings.Contains(err.Error(), "signature") {
		t.Errorf("upload with a wrong secret: %v", err)
	}
	if _, err := bad.Download(ctx, d, filepath.Join(dir, "x")); err == nil || !strings.Contains(err.Error(), "s3://bucket/errors/f") {
		t.Errorf("download with a wrong secret: %v", err)
	}
	if time.Since(start) > 10*time.Second {
		t.Errorf("refused credentials were retried for %s; they are not transient", time.Since(start))
	}
	if strings.Contains(fmt.Sprint(err), "wrong-secret") {
		t.Errorf("an error shows the secret: %v", err)
	}

	if _, err := s.Upload(ctx, filepath.Join(dir, "absent"), loc); err == nil || !strings.Contains(err.Error(), filepath.Join(dir, "absent")) {
		t.Errorf("upload of a missing file: %v", err)
	}
	blocker := filepath.Join(dir, "file-not-dir")
	_ = os.WriteFile(blocker, nil, 0o644)
	if _, err := s.Download(ctx, d, filepath.Join(blocker, "f")); err == nil || !strings.Contains(err.Error(), "not a directory") {
		t.Errorf("download below a regular file: %v", err)
	}
	if _, err := os.Stat(filepath.Join(dir, "x")); !os.IsNotExist(err) {
		t.Errorf("a refused download left a file: %v", err)
	}
}
