package cachewebhook

import (
	"context"
	"testing"

	"github.com/kfpargo/kfpargo/cachestore"
	"github.com/kfpargo/kfpargo/test/servers"
)

func TestCounterBatches(t *testing.T) {
	r := servers.StartRedis(t)
	s := cachestore.New(r.Client, cachestore.Options{})
	c := &Counter{Store: s}
	a := cachestore.NamespaceScope("a")
	for range 3 {
		c.Add(a, "webhook_hits")
	}
	c.Add(cachestore.ClusterScope, "webhook_misses")
	ctx := context.Background()
	if st, _ := s.Stats(ctx); len(st) != 0 {
		t.Fatalf("counted before a flush: %v", st)
	}
	r.Stop()
	if err := c.Flush(ctx); err == nil {
		t.Fatal("flush with Redis down reported no error")
	}
	if err := r.Start(); err != nil {
		t.Fatal(err)
	}
	// Kept across the failed flush.
	if err := c.Flush(ctx); err != nil {
		t.Fatal(err)
	}
	st, err := s.Stats(ctx)
	if err != nil || st[a]["webhook_hits"] != 3 || st[cachestore.ClusterScope]["webhook_misses"] != 1 {
		t.Fatalf("stats %v, %v", st, err)
	}
}
