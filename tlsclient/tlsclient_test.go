package tlsclient

import (
	"crypto/tls"
	"errors"
	"io"
	"log"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/kfpargo/kfpargo/test/servers"
)

func TestConfigRejectsWhatIsNoCA(t *testing.T) {
	ca := servers.NewTestCA(t)
	key, err := os.ReadFile(ca.KeyFile)
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct {
		name, pem, want string
	}{
		{"not PEM", "hello", "no PEM certificate"},
		{"a key", string(key), `"PRIVATE KEY", want CERTIFICATE`},
		{"CA then key", string(ca.CAPEM) + string(key), "PEM block 2"},
		{"broken certificate", "-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----\n", "certificate 1"},
	} {
		_, err := Config([]byte(c.pem), "")
		if err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%s: %v, want %q", c.name, err, c.want)
		}
	}
}

// A server whose certificate the given CA signed is trusted, by address or
// by an overriding name; without the CA it is not, and the failure is one
// that IsVerification recognises.
func TestConfigTrustsTheCA(t *testing.T) {
	ca := servers.NewTestCA(t)
	cert, err := tls.LoadX509KeyPair(ca.CertFile, ca.KeyFile)
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewUnstartedServer(http.HandlerFunc(func(http.ResponseWriter, *http.Request) {}))
	srv.TLS = &tls.Config{Certificates: []tls.Certificate{cert}}
	srv.Config.ErrorLog = log.New(io.Discard, "", 0) // the refused handshakes are expected
	srv.StartTLS()
	defer srv.Close()
	addr := srv.Listener.Addr().String()
	_, port, _ := net.SplitHostPort(addr)
	plain := httptest.NewServer(http.HandlerFunc(func(http.ResponseWriter, *http.Request) {}))
	defer plain.Close()
	for _, c := range []struct {
		name, addr, serverName string
		ca                     []byte
		ok                     bool
	}{
		{"CA, by IP", addr, "", ca.CAPEM, true},
		{"CA, by name", "localhost:" + port, "", ca.CAPEM, true},
		{"CA, name override", addr, "localhost", ca.CAPEM, true},
		{"CA, wrong name", addr, "redis.example.com", ca.CAPEM, false},
		{"system roots only", addr, "", nil, false},
		{"plain server", plain.Listener.Addr().String(), "", ca.CAPEM, false},
	} {
		cfg, err := Config(c.ca, c.serverName)
		if err != nil {
			t.Fatal(err)
		}
		if cfg.MinVersion != tls.VersionTLS12 || cfg.InsecureSkipVerify {
			t.Fatalf("MinVersion %x, InsecureSkipVerify %v", cfg.MinVersion, cfg.InsecureSkipVerify)
		}
		// As go-redis dials: the address's host is the name unless the
		// configuration has one.
		conn, err := tls.Dial("tcp", c.addr, cfg)
		if err == nil {
			conn.Close()
		}
		if (err == nil) != c.ok {
			t.Errorf("%s: %v, want ok=%v", c.name, err, c.ok)
		}
		if err != nil && !IsVerification(err) {
			t.Errorf("%s: IsVerification(%v) = false", c.name, err)
		}
	}
	if IsVerification(errors.New("connection refused")) {
		t.Error("IsVerification of an unrelated error")
	}
}

func TestReadCAFile(t *testing.T) {
	dir := t.TempDir()
	f := filepath.Join(dir, "ca.crt")
	if err := os.WriteFile(f, []byte("pem"), 0o600); err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct {
		path, want string
		ok         bool
	}{
		{"", "", true},
		{filepath.Join(dir, "absent"), "", true},
		{f, "pem", true},
		{dir, "", false},
	} {
		b, err := ReadCAFile(c.path)
		if string(b) != c.want || (err == nil) != c.ok {
			t.Errorf("%q: %q, %v; want %q, ok=%v", c.path, b, err, c.want, c.ok)
		}
	}
}
