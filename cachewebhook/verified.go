package cachewebhook

import (
	"sync"
	"time"
)

// VerifiedCache remembers which artifacts were found intact, for TTL. It
// trades a window of TTL — an artifact deleted within it can still be
// served as a hit — for not sending every hit of a burst to the object
// store: on two cores shared with MinIO, one HEAD costs about a
// millisecond, and that caps verified hits below 1 000 per second
// (docs/benchmarks.md, "Cache webhook"). Only successes are remembered.
type VerifiedCache struct {
	TTL time.Duration
	// Max bounds the entries; when full, the oldest half is dropped.
	Max int

	mu   sync.Mutex
	seen map[string]time.Time
}

// NewVerifiedCache returns a cache, or nil (no caching) for ttl <= 0.
func NewVerifiedCache(ttl time.Duration) *VerifiedCache {
	if ttl <= 0 {
		return nil
	}
	return &VerifiedCache{TTL: ttl, Max: 100_000, seen: map[string]time.Time{}}
}

func verifiedKey(uri, sha string) string { return sha + " " + uri }

// Recent reports whether the artifact was verified within TTL of now.
func (c *VerifiedCache) Recent(uri, sha string, now time.Time) bool {
	if c == nil {
		return false
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	at, ok := c.seen[verifiedKey(uri, sha)]
	return ok && now.Sub(at) < c.TTL
}

// Add records a successful verification at now.
func (c *VerifiedCache) Add(uri, sha string, now time.Time) {
	if c == nil {
		return
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if len(c.seen) >= c.Max {
		for k, at := range c.seen {
			if now.Sub(at) >= c.TTL || len(c.seen) > c.Max/2 {
				delete(c.seen, k)
			}
		}
	}
	c.seen[verifiedKey(uri, sha)] = now
}
