package cachewebhook

import (
	"bytes"
	"context"
	"crypto/tls"
	"encoding/pem"
	"fmt"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/kfpargo/kfpargo/test/servers"
)

// newPair makes a self-signed pair for 127.0.0.1 named cn, PEM-encoded,
// for tests that place or mix the files themselves.
func newPair(t *testing.T, cn string) (certPEM, keyPEM []byte) {
	t.Helper()
	certPath, keyPath := servers.WriteSelfSigned(t, t.TempDir(), cn)
	certPEM, err := os.ReadFile(certPath)
	if err != nil {
		t.Fatal(err)
	}
	keyPEM, err = os.ReadFile(keyPath)
	if err != nil {
		t.Fatal(err)
	}
	return certPEM, keyPEM
}

// writeFile replaces p by a rename, as a tool updating a file would.
func writeFile(t *testing.T, p string, b []byte) {
	t.Helper()
	if err := os.WriteFile(p+".new", b, 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.Rename(p+".new", p); err != nil {
		t.Fatal(err)
	}
}

// secretVolume lays files out as the kubelet does for a Secret volume:
// tls.crt -> ..data/tls.crt, ..data -> ..<version>/, and an update swaps
// the ..data symlink in one rename. The files' own names never change.
type secretVolume struct {
	t   *testing.T
	dir string
	n   int
}

func (v *secretVolume) write(files map[string][]byte) {
	v.t.Helper()
	v.n++
	version := filepath.Join(v.dir, fmt.Sprintf("..v%d", v.n))
	if err := os.Mkdir(version, 0o700); err != nil {
		v.t.Fatal(err)
	}
	for name, b := range files {
		if err := os.WriteFile(filepath.Join(version, name), b, 0o600); err != nil {
			v.t.Fatal(err)
		}
		link := filepath.Join(v.dir, name)
		if _, err := os.Lstat(link); os.IsNotExist(err) {
			if err := os.Symlink(filepath.Join("..data", name), link); err != nil {
				v.t.Fatal(err)
			}
		}
	}
	tmp := filepath.Join(v.dir, "..data_tmp")
	if err := os.Symlink(filepath.Base(version), tmp); err != nil {
		v.t.Fatal(err)
	}
	if err := os.Rename(tmp, filepath.Join(v.dir, "..data")); err != nil {
		v.t.Fatal(err)
	}
}

// serveTLS serves handshakes with w's certificate and returns a function
// that dials and returns the certificate a client sees.
func serveTLS(t *testing.T, w *CertWatcher) func() []byte {
	t.Helper()
	l, err := tls.Listen("tcp", "127.0.0.1:0", &tls.Config{GetCertificate: w.GetCertificate})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { l.Close() })
	go func() {
		for {
			c, err := l.Accept()
			if err != nil {
				return
			}
			go func() { _ = c.(*tls.Conn).Handshake(); c.Close() }()
		}
	}()
	return func() []byte {
		conn, err := tls.Dial("tcp", l.Addr().String(), &tls.Config{InsecureSkipVerify: true})
		if err != nil {
			t.Fatal(err)
		}
		defer conn.Close()
		return conn.ConnectionState().PeerCertificates[0].Raw
	}
}

func der(t *testing.T, certPEM []byte) []byte {
	t.Helper()
	b, _ := pem.Decode(certPEM)
	if b == nil {
		t.Fatal("no PEM block")
	}
	return b.Bytes
}

// TestCertWatcherRotates: new handshakes see a rotated pair without a
// restart, both for files replaced in place and for a Secret volume's
// symlink swap.
func TestCertWatcherRotates(t *testing.T) {
	cases := []struct {
		name string
		// writer returns how pairs are written into dir.
		writer func(t *testing.T, dir string) func(cert, key []byte)
	}{
		{"files renamed in place", func(t *testing.T, dir string) func(cert, key []byte) {
			return func(cert, key []byte) {
				writeFile(t, filepath.Join(dir, "tls.crt"), cert)
				writeFile(t, filepath.Join(dir, "tls.key"), key)
			}
		}},
		{"secret volume", func(t *testing.T, dir string) func(cert, key []byte) {
			v := &secretVolume{t: t, dir: dir}
			return func(cert, key []byte) { v.write(map[string][]byte{"tls.crt": cert, "tls.key": key}) }
		}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			dir := t.TempDir()
			write := c.writer(t, dir)
			cert1, key1 := newPair(t, "first")
			write(cert1, key1)
			w, err := NewCertWatcher(filepath.Join(dir, "tls.crt"), filepath.Join(dir, "tls.key"), nil)
			if err != nil {
				t.Fatal(err)
			}
			if !w.Ready() {
				t.Fatal("not ready after loading")
			}
			ctx, cancel := context.WithCancel(context.Background())
			defer cancel()
			go w.Watch(ctx, 20*time.Millisecond)
			served := serveTLS(t, w)
			if !bytes.Equal(served(), der(t, cert1)) {
				t.Fatal("not serving the first certificate")
			}
			cert2, key2 := newPair(t, "second")
			write(cert2, key2)
			waitFor(t, func() bool { return bytes.Equal(served(), der(t, cert2)) })
		})
	}
}

// TestCertWatcherKeepsPairOnBadUpdate: an update that does not load
// leaves the current pair served, and a good one after it is taken.
func TestCertWatcherKeepsPairOnBadUpdate(t *testing.T) {
	otherCert, otherKey := newPair(t, "other")
	cases := []struct {
		name  string
		spoil func(t *testing.T, cert, key string)
	}{
		{"key garbage", func(t *testing.T, _, key string) { writeFile(t, key, []byte("not a key")) }},
		{"cert empty", func(t *testing.T, cert, _ string) { writeFile(t, cert, nil) }},
		{"new cert, old key (half written)", func(t *testing.T, cert, _ string) { writeFile(t, cert, otherCert) }},
		{"old cert, new key", func(t *testing.T, _, key string) { writeFile(t, key, otherKey) }},
		{"key removed", func(t *testing.T, _, key string) {
			if err := os.Remove(key); err != nil {
				t.Fatal(err)
			}
		}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			dir := t.TempDir()
			certPath, keyPath := filepath.Join(dir, "tls.crt"), filepath.Join(dir, "tls.key")
			certPEM, keyPEM := newPair(t, "current")
			writeFile(t, certPath, certPEM)
			writeFile(t, keyPath, keyPEM)
			w, err := NewCertWatcher(certPath, keyPath, nil)
			if err != nil {
				t.Fatal(err)
			}
			served := serveTLS(t, w)
			c.spoil(t, certPath, keyPath)
			if changed, err := w.Reload(); changed || err == nil {
				t.Fatalf("Reload = %v, %v; want an error and no swap", changed, err)
			}
			if !w.Ready() || !bytes.Equal(served(), der(t, certPEM)) {
				t.Fatal("the current pair is no longer served")
			}
			next, nextKey := newPair(t, "next")
			writeFile(t, certPath, next)
			writeFile(t, keyPath, nextKey)
			if changed, err := w.Reload(); !changed || err != nil {
				t.Fatalf("Reload of a good pair = %v, %v", changed, err)
			}
			if !bytes.Equal(served(), der(t, next)) {
				t.Fatal("the good pair after the bad update is not served")
			}
			if changed, err := w.Reload(); changed || err != nil {
				t.Fatalf("Reload of unchanged files = %v, %v; want no swap", changed, err)
			}
		})
	}
}

func TestNewCertWatcherFails(t *testing.T) {
	dir := t.TempDir()
	certPEM, keyPEM := newPair(t, "x")
	writeFile(t, filepath.Join(dir, "tls.crt"), certPEM)
	writeFile(t, filepath.Join(dir, "tls.key"), keyPEM)
	writeFile(t, filepath.Join(dir, "bad.key"), []byte("nope"))
	cases := []struct{ name, cert, key string }{
		{"no cert file", "missing.crt", "tls.key"},
		{"no key file", "tls.crt", "missing.key"},
		{"bad key", "tls.crt", "bad.key"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			if _, err := NewCertWatcher(filepath.Join(dir, c.cert), filepath.Join(dir, c.key), nil); err == nil {
				t.Error("no error")
			}
		})
	}
}

func waitFor(t *testing.T, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatal("condition not met within 5s")
		}
		time.Sleep(20 * time.Millisecond)
	}
}
