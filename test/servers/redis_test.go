package servers

import (
	"context"
	"strings"
	"testing"

	"github.com/redis/go-redis/v9"
)

func TestRedisRestart(t *testing.T) {
	r := StartRedis(t)
	ctx := context.Background()
	if err := r.Client.Set(ctx, "k", "v", 0).Err(); err != nil {
		t.Fatal(err)
	}
	r.Stop()
	if err := r.Client.Get(ctx, "k").Err(); err == nil {
		t.Fatal("a stopped server answered")
	}
	if err := r.Start(); err != nil {
		t.Fatal(err)
	}
	// Same address, no persistence: the key is gone.
	if n, err := r.Client.Exists(ctx, "k").Result(); err != nil || n != 0 {
		t.Fatalf("after restart: exists=%d, %v", n, err)
	}
}

func TestRedisPortTaken(t *testing.T) {
	r := StartRedis(t)
	twin := &Redis{Addr: r.Addr, args: r.args, dir: t.TempDir()}
	err := twin.Start()
	if err == nil {
		twin.Stop()
		t.Fatal("a second server started on a taken port")
	}
	if !strings.Contains(err.Error(), "exited at start") {
		t.Errorf("got %v, want the server's exit reported", err)
	}
}

// The TLS and ACL variants serve what the integration tests rely on: TLS
// only, with the CA's certificate, and a user confined to its keys.
func TestRedisTLSAndACL(t *testing.T) {
	r := StartRedisWith(t, RedisOptions{TLS: true, Users: []string{"cache on >s3cret ~kfpargo:* +@all"}})
	ctx := context.Background()
	if err := r.Client.Ping(ctx).Err(); err != nil {
		t.Fatalf("TLS client with the CA: %v", err)
	}
	plain := redis.NewClient(&redis.Options{Addr: r.Addr, MaxRetries: -1})
	defer plain.Close()
	if err := plain.Ping(ctx).Err(); err == nil {
		t.Error("a plain-text client was served")
	}
	user := redis.NewClient(&redis.Options{Addr: r.Addr, Username: "cache", Password: "s3cret", TLSConfig: r.tls})
	defer user.Close()
	if err := user.Set(ctx, "kfpargo:x", "1", 0).Err(); err != nil {
		t.Errorf("the user's own key: %v", err)
	}
	if err := user.Set(ctx, "other", "1", 0).Err(); err == nil || !strings.Contains(err.Error(), "NOPERM") {
		t.Errorf("a key outside kfpargo:*: %v, want NOPERM", err)
	}
	// The default user is closed to everyone but the test's Client.
	anon := redis.NewClient(&redis.Options{Addr: r.Addr, TLSConfig: r.tls, Password: "s3cret"})
	defer anon.Close()
	if err := anon.Ping(ctx).Err(); err == nil || !strings.Contains(err.Error(), "WRONGPASS") {
		t.Errorf("the default user with the cache user's password: %v, want WRONGPASS", err)
	}
}
