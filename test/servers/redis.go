package servers

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"
)

// Redis is a running redis-server without persistence.
type Redis struct {
	Addr   string
	Client *redis.Client
	// CA signed the server's certificate when it serves TLS; nil otherwise.
	CA     *TestCA
	tls    *tls.Config
	admin  string // the default user's password, if any
	cmd    *exec.Cmd
	args   []string
	dir    string
	exited chan error // receives the server's exit, once
}

// RedisBinary finds the server: $KFPARGO_REDIS_SERVER, else Debian's.
func RedisBinary() (string, error) {
	p := os.Getenv("KFPARGO_REDIS_SERVER")
	if p == "" {
		p = "/usr/bin/redis-server"
	}
	if _, err := os.Stat(p); err != nil {
		return "", fmt.Errorf("no redis-server at %s (apt-get install redis-server, or set KFPARGO_REDIS_SERVER): %w", p, err)
	}
	return p, nil
}

// RedisOptions changes how StartRedisWith starts the server.
type RedisOptions struct {
	// TLS serves TLS only (no plain port), with a certificate of a fresh
	// TestCA; clients need not present one.
	TLS bool
	// Users are ACL users, each the rest of a redis.conf "user" line:
	// "cache on >password ~kfpargo:* +@read". With users, the default
	// user gets a random password that only the test's own Client knows,
	// so a client without a user's credentials is refused, as on a server
	// set up as docs/install.md says.
	Users []string
}

// CacheUserRules are the ACL rules of a Redis user that can do all the
// step cache needs and no more: its own keys (kfpargo:*), no channels, no
// administrative or dangerous commands. docs/install.md gives operators the
// same rules; the tests that use them show they suffice.
const CacheUserRules = "on ~kfpargo:* resetchannels -@all +@read +@write +@keyspace +@scripting +@connection -@dangerous"

// StartRedis starts a Redis server on a free loopback port. It stops when
// the test ends.
func StartRedis(t testing.TB) *Redis {
	t.Helper()
	return StartRedisWith(t, RedisOptions{})
}

// StartRedisWith starts a Redis server as StartRedis does, with TLS or
// ACL users.
func StartRedisWith(t testing.TB, opts RedisOptions) *Redis {
	t.Helper()
	if _, err := RedisBinary(); err != nil {
		missing(t, err)
	}
	port, err := freePort()
	if err != nil {
		t.Fatal(err)
	}
	r := &Redis{Addr: "127.0.0.1:" + strconv.Itoa(port), dir: t.TempDir()}
	r.args = []string{"--bind", "127.0.0.1", "--port", strconv.Itoa(port), "--save", "", "--appendonly", "no", "--dir", r.dir}
	if opts.TLS {
		r.CA = NewTestCA(t)
		r.args = append(r.args, "--port", "0", "--tls-port", strconv.Itoa(port), "--tls-cert-file", r.CA.CertFile,
			"--tls-key-file", r.CA.KeyFile, "--tls-ca-cert-file", r.CA.CAFile, "--tls-auth-clients", "no")
		roots := x509.NewCertPool()
		roots.AppendCertsFromPEM(r.CA.CAPEM)
		r.tls = &tls.Config{RootCAs: roots, MinVersion: tls.VersionTLS12}
	}
	if len(opts.Users) > 0 {
		r.admin = randomHex(16)
		r.args = append(r.args, "--user", "default", "on", "resetpass", ">"+r.admin, "~*", "&*", "+@all")
	}
	for _, u := range opts.Users {
		r.args = append(r.args, "--user")
		r.args = append(r.args, strings.Fields(u)...)
	}
	if err := r.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(r.Stop)
	r.Client = redis.NewClient(&redis.Options{Addr: r.Addr, Password: r.admin, TLSConfig: r.tls})
	t.Cleanup(func() { _ = r.Client.Close() })
	return r
}

// Start (re)starts the server on the same address, empty.
func (r *Redis) Start() error {
	bin, err := RedisBinary()
	if err != nil {
		return err
	}
	logPath := filepath.Join(r.dir, "redis.log")
	log, err := os.OpenFile(logPath, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o644)
	if err != nil {
		return fmt.Errorf("start redis: %w", err)
	}
	defer log.Close()
	r.cmd = exec.Command(bin, r.args...)
	r.cmd.Dir = r.dir
	r.cmd.Stdout, r.cmd.Stderr = log, log
	r.cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true, Pdeathsig: syscall.SIGKILL}
	if err := r.cmd.Start(); err != nil {
		return fmt.Errorf("start redis: %w", err)
	}
	// A server that cannot start (port taken, bad flag) exits at once; say
	// why instead of polling until the deadline.
	exited := make(chan error, 1)
	cmd := r.cmd
	go func() { exited <- cmd.Wait() }()
	r.exited = exited
	c := redis.NewClient(&redis.Options{Addr: r.Addr, Password: r.admin, MaxRetries: -1, TLSConfig: r.tls})
	defer c.Close()
	deadline := time.Now().Add(20 * time.Second)
	for time.Now().Before(deadline) {
		ctx, cancel := context.WithTimeout(context.Background(), time.Second)
		info, err := c.Info(ctx, "server").Result()
		cancel()
		// Ours, not another server that holds the port.
		if err == nil && strings.Contains(info, "process_id:"+strconv.Itoa(cmd.Process.Pid)+"\r\n") {
			return nil
		}
		select {
		case err := <-exited:
			r.cmd, r.exited = nil, nil
			out, _ := os.ReadFile(logPath)
			return fmt.Errorf("redis at %s exited at start (%v):\n%s", r.Addr, err, tail(out, 2000))
		case <-time.After(50 * time.Millisecond):
		}
	}
	r.Stop()
	return fmt.Errorf("redis at %s not ready after 20s", r.Addr)
}

func tail(b []byte, n int) []byte {
	if len(b) > n {
		return b[len(b)-n:]
	}
	return b
}

// Stop kills the server.
func (r *Redis) Stop() {
	if r.cmd == nil || r.cmd.Process == nil {
		return
	}
	_ = syscall.Kill(-r.cmd.Process.Pid, syscall.SIGKILL)
	<-r.exited
	r.cmd, r.exited = nil, nil
}
