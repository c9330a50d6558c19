package cachestore

import (
	"context"
	"errors"
	"fmt"
	"iter"
	"strings"
	"time"

	"github.com/redis/go-redis/v9"
)

// ErrCorrupt is wrapped by Get for a stored value that is not a valid entry.
var ErrCorrupt = errors.New("corrupt cache entry")

// Options configure a Store.
type Options struct {
	// Prefix of every Redis key; default DefaultPrefix.
	Prefix string
	// Keys, when set, sign every entry Put writes, and Get returns only
	// entries signed with one of them (an error wrapping ErrSignature
	// otherwise). nil: entries are neither signed nor checked.
	Keys *Keyring
	// PerScope: Keys are the installation's, and each scope's entries are
	// signed and checked with that scope's keys (ScopeKeys), which are
	// what its launchers hold. The webhook's store; a launcher's is not.
	PerScope bool
}

// DefaultPrefix versions the key layout.
const DefaultPrefix = "kfpargo:v1:"

// Store reads and writes entries in Redis.
type Store struct {
	rdb    redis.UniversalClient
	prefix string
	keys   *Keyring
	// perScope derives each scope's keys from keys (Options.PerScope).
	perScope bool
}

// New wraps a Redis client; it makes no request.
func New(rdb redis.UniversalClient, opts Options) *Store {
	if opts.Prefix == "" {
		opts.Prefix = DefaultPrefix
	}
	return &Store{rdb: rdb, prefix: opts.Prefix, keys: opts.Keys, perScope: opts.PerScope}
}

func (s *Store) entryKey(scope Scope, key string) string {
	return s.prefix + "entry:" + string(scope) + ":" + key
}

func (s *Store) leaseKey(scope Scope, key string) string {
	return s.prefix + "lease:" + string(scope) + ":" + key
}

func (s *Store) statsKey(scope Scope) string { return s.prefix + "stats:" + string(scope) }

func checkKey(scope Scope, key string) error {
	if err := scope.Validate(); err != nil {
		return err
	}
	if !ValidKey(key) {
		return fmt.Errorf("cache key %q is not 64 lowercase hex digits", key)
	}
	return nil
}

// keysOf are the keys that sign and check a scope's entries; nil: none.
func (s *Store) keysOf(scope Scope) *Keyring {
	if s.keys == nil || !s.perScope {
		return s.keys
	}
	return s.keys.ForScope(scope)
}

// Get returns the entry, or nil without error when there is none.
func (s *Store) Get(ctx context.Context, scope Scope, key string) (*Entry, error) {
	if err := checkKey(scope, key); err != nil {
		return nil, err
	}
	b, err := s.rdb.Get(ctx, s.entryKey(scope, key)).Bytes()
	if errors.Is(err, redis.Nil) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("get cache entry %s: %w", key, err)
	}
	e, err := DecodeEntry(b)
	if err != nil {
		return nil, fmt.Errorf("%w %s: %v", ErrCorrupt, key, err)
	}
	if e.Key != key || e.Scope != scope {
		return nil, fmt.Errorf("%w %s: stored as %s in %s", ErrCorrupt, key, e.Key, e.Scope)
	}
	if keys := s.keysOf(scope); keys != nil {
		if err := keys.Verify(e); err != nil {
			return nil, fmt.Errorf("cache entry %s: %w", key, err)
		}
	}
	return e, nil
}

// Put stores an entry for ttl, replacing any entry of the same key. With
// Keys it signs the entry first (setting e.Signature).
func (s *Store) Put(ctx context.Context, e *Entry, ttl time.Duration) error {
	if ttl <= 0 {
		return fmt.Errorf("put cache entry %s: the TTL must be positive, got %s", e.Key, ttl)
	}
	if keys := s.keysOf(e.Scope); keys != nil {
		if err := keys.Sign(e); err != nil {
			return fmt.Errorf("put cache entry %s: %w", e.Key, err)
		}
	}
	b, err := e.Encode()
	if err != nil {
		return err
	}
	if err := s.rdb.Set(ctx, s.entryKey(e.Scope, e.Key), b, ttl).Err(); err != nil {
		return fmt.Errorf("put cache entry %s: %w", e.Key, err)
	}
	return nil
}

// Delete removes an entry and reports whether there was one.
func (s *Store) Delete(ctx context.Context, scope Scope, key string) (bool, error) {
	if err := checkKey(scope, key); err != nil {
		return false, err
	}
	n, err := s.rdb.Del(ctx, s.entryKey(scope, key)).Result()
	if err != nil {
		return false, fmt.Errorf("delete cache entry %s: %w", key, err)
	}
	return n > 0, nil
}

// TTL is how long an entry has left; 0 when there is none.
func (s *Store) TTL(ctx context.Context, scope Scope, key string) (time.Duration, error) {
	if err := checkKey(scope, key); err != nil {
		return 0, err
	}
	d, err := s.rdb.PTTL(ctx, s.entryKey(scope, key)).Result()
	if err != nil {
		return 0, fmt.Errorf("ttl of cache entry %s: %w", key, err)
	}
	if d < 0 {
		return 0, nil
	}
	return d, nil
}

// Entries walks the entries of one scope, or of all scopes when scope is
// empty, with SCAN (never KEYS, which blocks Redis), reading each page of
// keys with one MGET so a remote Redis costs a round trip per page, not per
// entry. Values that do not decode are yielded as errors wrapping
// ErrCorrupt and the walk goes on; a Redis error ends it. As SCAN does, the
// walk may yield an entry twice when Redis rehashes meanwhile.
func (s *Store) Entries(ctx context.Context, scope Scope) iter.Seq2[*Entry, error] {
	return func(yield func(*Entry, error) bool) {
		match := s.prefix + "entry:*"
		if scope != "" {
			if err := scope.Validate(); err != nil {
				yield(nil, err)
				return
			}
			match = s.prefix + "entry:" + string(scope) + ":*"
		}
		var cursor uint64
		for {
			keys, next, err := s.rdb.Scan(ctx, cursor, match, scanPage).Result()
			if err != nil {
				yield(nil, fmt.Errorf("scan cache entries: %w", err))
				return
			}
			if len(keys) > 0 {
				vals, err := s.rdb.MGet(ctx, keys...).Result()
				if err != nil {
					yield(nil, fmt.Errorf("read cache entries: %w", err))
					return
				}
				for i, v := range vals {
					var e *Entry
					if b, ok := v.(string); ok {
						e, err = DecodeEntry([]byte(b))
					} else {
						// MGET reads a missing key and one of another type
						// alike; only the latter is worth reporting.
						err = s.notString(ctx, keys[i])
						if err == nil {
							continue // expired between SCAN and MGET
						}
					}
					if err != nil {
						err = fmt.Errorf("%w %s: %v", ErrCorrupt, strings.TrimPrefix(keys[i], s.prefix), err)
					}
					if !yield(e, err) {
						return
					}
				}
			}
			if cursor = next; cursor == 0 {
				return
			}
		}
	}
}

// notString says what a key holds when it exists but is not a string; nil
// when it is gone, or when Redis cannot tell (the walk goes on either way).
func (s *Store) notString(ctx context.Context, key string) error {
	t, err := s.rdb.Type(ctx, key).Result()
	if err != nil || t == "none" || t == "string" {
		return nil
	}
	return fmt.Errorf("a Redis %s, not an entry", t)
}

// scanPage is the COUNT hint of a SCAN: keys per round trip, bounded so one
// MGET of entries (each at most MaxEntryBytes, usually a few KiB) stays small.
const scanPage = 200

// Count adds n to a counter of a scope (hits, misses, writes, ...).
func (s *Store) Count(ctx context.Context, scope Scope, event string, n int64) error {
	if err := scope.Validate(); err != nil {
		return err
	}
	if err := s.rdb.HIncrBy(ctx, s.statsKey(scope), event, n).Err(); err != nil {
		return fmt.Errorf("count %s: %w", event, err)
	}
	return nil
}

// Stats returns every scope's counters.
func (s *Store) Stats(ctx context.Context) (map[Scope]map[string]int64, error) {
	out := map[Scope]map[string]int64{}
	it := s.rdb.Scan(ctx, 0, s.prefix+"stats:*", 100).Iterator()
	for it.Next(ctx) {
		k := it.Val()
		vals, err := s.rdb.HGetAll(ctx, k).Result()
		if err != nil {
			return nil, fmt.Errorf("read %s: %w", k, err)
		}
		counters := map[string]int64{}
		for name, v := range vals {
			var n int64
			if _, err := fmt.Sscan(v, &n); err == nil {
				counters[name] = n
			}
		}
		out[Scope(strings.TrimPrefix(k, s.prefix+"stats:"))] = counters
	}
	if err := it.Err(); err != nil {
		return nil, fmt.Errorf("scan cache counters: %w", err)
	}
	return out, nil
}
