package cachewebhook

import (
	"context"
	"crypto/tls"
	"os"
	"testing"
	"time"

	"github.com/kfpargo/kfpargo/test/servers"
)

func TestCertWatcherRotates(t *testing.T) {
	dir := t.TempDir()
	cert, key := servers.WriteSelfSigned(t, dir, "first")
	w, err := NewCertWatcher(cert, key, nil)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	go w.Watch(ctx, 20*time.Millisecond)
	l, err := tls.Listen("tcp", "127.0.0.1:0", &tls.Config{GetCertificate: w.GetCertificate})
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	go func() {
		for {
			c, err := l.Accept()
			if err != nil {
				return
			}
			go func() { _ = c.(*tls.Conn).Handshake(); c.Close() }()
		}
	}()
	served := func() string {
		conn, err := tls.Dial("tcp", l.Addr().String(), &tls.Config{InsecureSkipVerify: true})
		if err != nil {
			t.Fatal(err)
		}
		defer conn.Close()
		return conn.ConnectionState().PeerCertificates[0].Subject.CommonName
	}
	if got := served(); got != "first" {
		t.Fatalf("serving %q", got)
	}
	servers.WriteSelfSigned(t, dir, "second")
	waitFor(t, func() bool { return served() == "second" })

	// A broken pair is not taken; the current one stays.
	if err := os.WriteFile(key, []byte("not a key"), 0o600); err != nil {
		t.Fatal(err)
	}
	time.Sleep(100 * time.Millisecond)
	if got := served(); got != "second" {
		t.Fatalf("after a broken update, serving %q", got)
	}
	servers.WriteSelfSigned(t, dir, "third")
	waitFor(t, func() bool { return served() == "third" })
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
