package cachewebhook

import (
	"context"
	"sync"
	"time"

	"github.com/kfpargo/kfpargo/cachestore"
)

// Counter adds decisions to the store's counters (`kfpargo cache stats`)
// in batches: one Redis round trip per interval instead of one per
// admission.
type Counter struct {
	Store *cachestore.Store

	mu      sync.Mutex
	pending map[cachestore.Scope]map[string]int64
}

// Add counts one event of a scope.
func (c *Counter) Add(scope cachestore.Scope, event string) {
	if c == nil {
		return
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.pending == nil {
		c.pending = map[cachestore.Scope]map[string]int64{}
	}
	if c.pending[scope] == nil {
		c.pending[scope] = map[string]int64{}
	}
	c.pending[scope][event]++
}

// Flush writes what was counted; counts that fail to reach Redis are
// kept for the next flush.
func (c *Counter) Flush(ctx context.Context) error {
	c.mu.Lock()
	batch := c.pending
	c.pending = nil
	c.mu.Unlock()
	var first error
	for scope, events := range batch {
		for event, n := range events {
			if err := c.Store.Count(ctx, scope, event, n); err != nil {
				if first == nil {
					first = err
				}
				c.mu.Lock()
				if c.pending == nil {
					c.pending = map[cachestore.Scope]map[string]int64{}
				}
				if c.pending[scope] == nil {
					c.pending[scope] = map[string]int64{}
				}
				c.pending[scope][event] += n
				c.mu.Unlock()
			}
		}
	}
	return first
}

// Run flushes every interval until ctx ends, then once more.
func (c *Counter) Run(ctx context.Context, interval time.Duration) {
	t := time.NewTicker(interval)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			fctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
			_ = c.Flush(fctx)
			cancel()
			return
		case <-t.C:
			fctx, cancel := context.WithTimeout(ctx, 2*time.Second)
			_ = c.Flush(fctx)
			cancel()
		}
	}
}
