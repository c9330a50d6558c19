package servers

import (
	"context"
	"strings"
	"testing"
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
