package servers

import (
	"context"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"encoding/hex"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"syscall"
	"testing"
	"time"

	"github.com/minio/minio-go/v7"
	"github.com/minio/minio-go/v7/pkg/credentials"
)

// MinioVersion is the pinned MinIO server version; the local stack builds
// it into the binary cache under this name.
const MinioVersion = "v0.0.0-20260212201848-7aac2a2c5b7c"

// Minio is a running MinIO server.
type Minio struct {
	Endpoint  string
	AccessKey string
	SecretKey string
	Client    *minio.Client
	// CA signed the server's certificate when it serves HTTPS; nil
	// otherwise.
	CA      *TestCA
	tls     *tls.Config
	cmd     *exec.Cmd
	dataDir string
	args    []string
	env     []string
}

// MinioBinary finds the server: $KFPARGO_MINIO, else the stack's cache.
func MinioBinary() (string, error) {
	if p := os.Getenv("KFPARGO_MINIO"); p != "" {
		return p, nil
	}
	cache := os.Getenv("KFPARGO_CACHE_DIR")
	if cache == "" {
		home, err := os.UserHomeDir()
		if err != nil {
			return "", err
		}
		cache = filepath.Join(home, ".cache", "kfpargo")
	}
	p := filepath.Join(cache, "bin", "minio-"+MinioVersion)
	if _, err := os.Stat(p); err != nil {
		return "", fmt.Errorf("no MinIO server at %s (build it with `make stack-build`, or set KFPARGO_MINIO): %w", p, err)
	}
	return p, nil
}

func missing(t testing.TB, err error) {
	t.Helper()
	if os.Getenv("KFPARGO_REQUIRE_SERVERS") == "1" {
		t.Fatal(err)
	}
	t.Skip(err)
}

// MinioOptions changes how StartMinioWith starts the server.
type MinioOptions struct {
	// TLS serves HTTPS only, with a certificate of a fresh TestCA.
	TLS bool
}

// StartMinio starts a MinIO server with a fresh data directory and creates
// the given buckets. It stops when the test ends.
func StartMinio(t testing.TB, buckets ...string) *Minio {
	t.Helper()
	return StartMinioWith(t, MinioOptions{}, buckets...)
}

// StartMinioWith starts a MinIO server as StartMinio does, optionally
// serving HTTPS.
func StartMinioWith(t testing.TB, opts MinioOptions, buckets ...string) *Minio {
	t.Helper()
	if _, err := MinioBinary(); err != nil {
		missing(t, err)
	}
	port, err := freePort()
	if err != nil {
		t.Fatal(err)
	}
	console, err := freePort()
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	m := &Minio{
		Endpoint:  "127.0.0.1:" + strconv.Itoa(port),
		AccessKey: "test-" + randomHex(4),
		SecretKey: randomHex(16),
		dataDir:   filepath.Join(dir, "data"),
	}
	m.args = []string{"server", m.dataDir, "--address", m.Endpoint, "--console-address", "127.0.0.1:" + strconv.Itoa(console), "--quiet"}
	if opts.TLS {
		// MinIO serves HTTPS when its certs directory holds public.crt and
		// private.key, as the TestCA's directory does.
		m.CA = NewTestCA(t)
		m.args = append(m.args, "--certs-dir", m.CA.Dir)
		roots := x509.NewCertPool()
		roots.AppendCertsFromPEM(m.CA.CAPEM)
		m.tls = &tls.Config{RootCAs: roots, MinVersion: tls.VersionTLS12}
	}
	m.env = []string{"HOME=" + dir, "PATH=/usr/bin:/bin", "MINIO_ROOT_USER=" + m.AccessKey, "MINIO_ROOT_PASSWORD=" + m.SecretKey, "MINIO_BROWSER=off", "MINIO_UPDATE=off"}
	if err := m.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(m.Stop)
	mopts := &minio.Options{Creds: credentials.NewStaticV4(m.AccessKey, m.SecretKey, "")}
	if m.tls != nil {
		mopts.Secure = true
		mopts.Transport = &http.Transport{TLSClientConfig: m.tls}
	}
	m.Client, err = minio.New(m.Endpoint, mopts)
	if err != nil {
		t.Fatal(err)
	}
	for _, b := range buckets {
		if err := m.Client.MakeBucket(context.Background(), b, minio.MakeBucketOptions{}); err != nil {
			t.Fatalf("create bucket %s: %v", b, err)
		}
	}
	return m
}

// Start (re)starts the server on the same address and data; StartMinio
// calls it, and fault tests call it after Stop.
func (m *Minio) Start() error {
	bin, err := MinioBinary()
	if err != nil {
		return err
	}
	m.cmd = exec.Command(bin, m.args...)
	m.cmd.Env = m.env
	m.cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true, Pdeathsig: syscall.SIGKILL}
	if err := m.cmd.Start(); err != nil {
		return fmt.Errorf("start minio: %w", err)
	}
	hc := &http.Client{Timeout: time.Second}
	scheme := "http://"
	if m.tls != nil {
		hc.Transport = &http.Transport{TLSClientConfig: m.tls}
		scheme = "https://"
	}
	deadline := time.Now().Add(60 * time.Second)
	for time.Now().Before(deadline) {
		resp, err := hc.Get(scheme + m.Endpoint + "/minio/health/ready")
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return nil
			}
		}
		time.Sleep(100 * time.Millisecond)
	}
	m.Stop()
	return fmt.Errorf("minio at %s not ready after 60s", m.Endpoint)
}

// Stop kills the server.
func (m *Minio) Stop() {
	if m.cmd == nil || m.cmd.Process == nil {
		return
	}
	_ = syscall.Kill(-m.cmd.Process.Pid, syscall.SIGKILL)
	_ = m.cmd.Wait()
	m.cmd = nil
}

func freePort() (int, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, err
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port, nil
}

func randomHex(n int) string {
	b := make([]byte, n)
	_, _ = rand.Read(b)
	return hex.EncodeToString(b)
}
