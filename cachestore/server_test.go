package cachestore_test

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/kfpargo/kfpargo/cachestore"
	"github.com/kfpargo/kfpargo/test/servers"
)

// TestACLUserOverTLS: every operation of the store works for a user with
// only servers.CacheUserRules (the rules docs/install.md gives), over TLS,
// and the user cannot touch other keys or administer the server.
func TestACLUserOverTLS(t *testing.T) {
	r := servers.StartRedisWith(t, servers.RedisOptions{TLS: true, Users: []string{"cache " + servers.CacheUserRules + " >pw-4f1d"}})
	roots := x509.NewCertPool()
	roots.AppendCertsFromPEM(r.CA.CAPEM)
	rdb := redis.NewClient(&redis.Options{Addr: r.Addr, Username: "cache", Password: "pw-4f1d",
		TLSConfig: &tls.Config{RootCAs: roots, MinVersion: tls.VersionTLS12}})
	defer rdb.Close()
	cachestore.NameServer(rdb)
	s := cachestore.New(rdb, cachestore.Options{})
	ctx := context.Background()
	sc := cachestore.NamespaceScope("team-a")
	fast := cachestore.ClaimOptions{LeaseTTL: time.Second, Poll: 20 * time.Millisecond, Wait: 10 * time.Second}
	_, lease, err := s.Claim(ctx, sc, keyN(1), "pod-a", fast)
	if err != nil || lease == nil {
		t.Fatalf("claim: %v, %v", lease, err)
	}
	lease.Keep(ctx)
	if h, err := s.LeaseHolder(ctx, sc, keyN(1)); err != nil || h != "pod-a" {
		t.Errorf("lease holder %q, %v", h, err)
	}
	if err := s.Put(ctx, entry(sc, keyN(1)), time.Hour); err != nil {
		t.Fatalf("put: %v", err)
	}
	if err := lease.Release(ctx); err != nil {
		t.Errorf("release: %v", err)
	}
	if e, err := s.Get(ctx, sc, keyN(1)); err != nil || e == nil {
		t.Errorf("get: %v, %v", e, err)
	}
	if e, err := s.Get(ctx, sc, keyN(2)); err != nil || e != nil {
		t.Errorf("get of a missing key: %v, %v (want none, no error)", e, err)
	}
	if d, err := s.TTL(ctx, sc, keyN(1)); err != nil || d <= 0 {
		t.Errorf("ttl: %v, %v", d, err)
	}
	n := 0
	for _, err := range s.Entries(ctx, sc) {
		if err != nil {
			t.Fatalf("entries: %v", err)
		}
		n++
	}
	if n != 1 {
		t.Errorf("%d entries, want 1", n)
	}
	if err := s.Count(ctx, sc, "hits", 1); err != nil {
		t.Errorf("count: %v", err)
	}
	if st, err := s.Stats(ctx); err != nil || st[sc]["hits"] != 1 {
		t.Errorf("stats: %v, %v", st, err)
	}
	if ok, err := s.Delete(ctx, sc, keyN(1)); err != nil || !ok {
		t.Errorf("delete: %v, %v", ok, err)
	}
	for name, err := range map[string]error{
		"a key outside kfpargo:*": rdb.Set(ctx, "other", "x", 0).Err(),
		"FLUSHALL":                rdb.FlushAll(ctx).Err(),
		"CONFIG GET":              rdb.ConfigGet(ctx, "*").Err(),
		"KEYS":                    rdb.Keys(ctx, "kfpargo:*").Err(),
	} {
		var reply redis.Error
		if err == nil || !strings.Contains(err.Error(), "NOPERM") || !errors.As(err, &reply) {
			t.Errorf("%s: %v, want a NOPERM reply, unchanged", name, err)
		}
	}
}

// TestNameServer: connection errors say which server was tried and how;
// the server's replies pass unchanged.
func TestNameServer(t *testing.T) {
	r := servers.StartRedisWith(t, servers.RedisOptions{TLS: true, Users: []string{"cache " + servers.CacheUserRules + " >pw-4f1d"}})
	roots := x509.NewCertPool()
	roots.AppendCertsFromPEM(r.CA.CAPEM)
	trusted := &tls.Config{RootCAs: roots, MinVersion: tls.VersionTLS12}
	plain := servers.StartRedis(t)
	for _, c := range []struct {
		name string
		opts redis.Options
		want string
	}{
		{"plain TCP to TLS", redis.Options{}, "redis " + r.Addr + " over plain TCP: EOF (the server closed the connection: does it want TLS?)"},
		{"untrusted", redis.Options{TLSConfig: &tls.Config{MinVersion: tls.VersionTLS12}}, "redis " + r.Addr + " over TLS: tls: failed to verify certificate"},
		{"wrong password", redis.Options{TLSConfig: trusted, Username: "cache", Password: "wrong-9a0e"}, "WRONGPASS"},
		{"TLS to plain TCP", redis.Options{Addr: plain.Addr, TLSConfig: trusted}, "redis " + plain.Addr + " over TLS: context deadline exceeded (no answer to the TLS handshake: does the server speak TLS?)"},
		{"nothing listens", redis.Options{Addr: "127.0.0.1:1"}, "redis 127.0.0.1:1 over plain TCP: dial tcp 127.0.0.1:1: connect: connection refused"},
	} {
		o := c.opts
		if o.Addr == "" {
			o.Addr = r.Addr
		}
		o.MaxRetries, o.DialerRetries, o.DialTimeout = -1, 1, 500*time.Millisecond
		rdb := redis.NewClient(&o)
		cachestore.NameServer(rdb)
		s := cachestore.New(rdb, cachestore.Options{})
		_, err := s.Get(context.Background(), cachestore.ClusterScope, keyN(1))
		if err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%s: %v, want %q", c.name, err, c.want)
		}
		var reply redis.Error
		if isReply := errors.As(err, &reply); isReply != strings.HasPrefix(c.want, "WRONGPASS") || isReply && strings.Contains(err.Error(), "redis "+r.Addr) {
			t.Errorf("%s: %v: only the server's replies pass unchanged", c.name, err)
		}
		_ = rdb.Close()
	}
}
