package cachestore

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"time"

	"github.com/redis/go-redis/v9"
)

// ErrWaitTimeout: another holder kept the lease longer than the caller was
// willing to wait; the caller runs the step uncoordinated.
var ErrWaitTimeout = errors.New("gave up waiting for an identical step")

// ClaimOptions bound a claim; zero values take the defaults.
type ClaimOptions struct {
	// LeaseTTL is how long a lease lives without renewal (default 30s): a
	// holder that dies frees the key after at most this long.
	LeaseTTL time.Duration
	// Wait is the longest a claimer waits for another holder (default 30m).
	Wait time.Duration
	// Poll is how often a waiter looks again (default 500ms).
	Poll time.Duration
}

func (o ClaimOptions) withDefaults() ClaimOptions {
	if o.LeaseTTL <= 0 {
		o.LeaseTTL = 30 * time.Second
	}
	// Redis expires in whole milliseconds, and a renewal with PEXPIRE 0
	// would delete the lease instead of keeping it.
	o.LeaseTTL = max(o.LeaseTTL, time.Millisecond)
	if o.Wait <= 0 {
		o.Wait = 30 * time.Minute
	}
	if o.Poll <= 0 {
		o.Poll = 500 * time.Millisecond
	}
	return o
}

// Claim is how a launcher starts a cached step. With an entry stored, it
// returns the entry. Otherwise it tries to take the key's lease and, when it
// gets it, returns the lease: the caller runs the step, Puts the entry and
// Releases. When another holder has the lease, it waits until an entry
// appears (returned), or the lease goes away without one (the holder failed
// or died: the lease is taken over and returned), or opts.Wait has passed
// (ErrWaitTimeout). A Redis error ends the claim with that error: the
// caller runs the step rather than wait on a store it cannot reach. A
// corrupt stored entry, or one whose signature does not verify, counts as
// none, so the step runs and its Put replaces it.
func (s *Store) Claim(ctx context.Context, scope Scope, key, holder string, opts ClaimOptions) (*Entry, *Lease, error) {
	if err := checkKey(scope, key); err != nil {
		return nil, nil, err
	}
	if holder == "" {
		return nil, nil, errors.New("claim: empty holder")
	}
	opts = opts.withDefaults()
	deadline := time.Now().Add(opts.Wait)
	for {
		e, err := s.Get(ctx, scope, key)
		if err != nil && !errors.Is(err, ErrCorrupt) && !errors.Is(err, ErrSignature) {
			return nil, nil, err
		}
		if e != nil {
			return e, nil, nil
		}
		ok, err := s.rdb.SetNX(ctx, s.leaseKey(scope, key), holder, opts.LeaseTTL).Result()
		if err != nil {
			return nil, nil, fmt.Errorf("take lease %s: %w", key, err)
		}
		if ok {
			return nil, &Lease{s: s, scope: scope, key: key, holder: holder, ttl: opts.LeaseTTL,
				lost: make(chan struct{}), stop: make(chan struct{}), done: make(chan struct{})}, nil
		}
		if !time.Now().Before(deadline) {
			return nil, nil, ErrWaitTimeout
		}
		t := time.NewTimer(min(opts.Poll, time.Until(deadline)))
		select {
		case <-ctx.Done():
			t.Stop()
			return nil, nil, ctx.Err()
		case <-t.C:
		}
	}
}

// LeaseHolder names who holds a key's lease; "" when nobody does.
func (s *Store) LeaseHolder(ctx context.Context, scope Scope, key string) (string, error) {
	if err := checkKey(scope, key); err != nil {
		return "", err
	}
	h, err := s.rdb.Get(ctx, s.leaseKey(scope, key)).Result()
	if errors.Is(err, redis.Nil) {
		return "", nil
	}
	if err != nil {
		return "", fmt.Errorf("lease of %s: %w", key, err)
	}
	return h, nil
}

// Renewal and release act only while the lease is still the holder's: a
// holder whose lease expired and was taken over must not extend or delete
// the new holder's.
var (
	renewScript   = redis.NewScript(`if redis.call("GET", KEYS[1]) == ARGV[1] then return redis.call("PEXPIRE", KEYS[1], ARGV[2]) else return 0 end`)
	releaseScript = redis.NewScript(`if redis.call("GET", KEYS[1]) == ARGV[1] then return redis.call("DEL", KEYS[1]) else return 0 end`)
)

// Lease is a holder's exclusive claim on computing one key.
type Lease struct {
	s      *Store
	scope  Scope
	key    string
	holder string
	ttl    time.Duration

	lost     chan struct{}
	lostOnce sync.Once
	stop     chan struct{}
	stopOnce sync.Once
	// keepOnce starts renewal, or, spent by Release first, prevents it;
	// either way done is closed once nothing renews any more.
	keepOnce sync.Once
	done     chan struct{}
}

// Keep renews the lease every third of its TTL until Release or ctx ends.
// A renewal that finds the lease gone or someone else's closes Lost; a
// renewal that fails on Redis errors is retried at the next tick. Calls
// after the first, or after Release, do nothing.
func (l *Lease) Keep(ctx context.Context) {
	l.keepOnce.Do(func() { go l.renew(ctx) })
}

func (l *Lease) renew(ctx context.Context) {
	defer close(l.done)
	t := time.NewTicker(l.ttl / 3)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-l.stop:
			return
		case <-t.C:
			rctx, cancel := context.WithTimeout(ctx, l.ttl/3)
			n, err := renewScript.Run(rctx, l.s.rdb, []string{l.s.leaseKey(l.scope, l.key)}, l.holder, l.ttl.Milliseconds()).Int()
			cancel()
			if err == nil && n == 0 {
				l.lostOnce.Do(func() { close(l.lost) })
				return
			}
		}
	}
}

// Lost is closed when the lease turned out to be gone or taken over.
func (l *Lease) Lost() <-chan struct{} { return l.lost }

// Release stops renewal and deletes the lease if it is still ours.
func (l *Lease) Release(ctx context.Context) error {
	l.stopOnce.Do(func() { close(l.stop) })
	l.keepOnce.Do(func() { close(l.done) })
	<-l.done
	if err := releaseScript.Run(ctx, l.s.rdb, []string{l.s.leaseKey(l.scope, l.key)}, l.holder).Err(); err != nil {
		return fmt.Errorf("release lease %s: %w", l.key, err)
	}
	return nil
}
