package cachestore_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/kfpargo/kfpargo/artifact"
	"github.com/kfpargo/kfpargo/cachestore"
	"github.com/kfpargo/kfpargo/test/servers"
)

func keyN(n int) string { return fmt.Sprintf("%064x", n) }

func entry(scope cachestore.Scope, key string) *cachestore.Entry {
	return &cachestore.Entry{
		Version: cachestore.EntryVersion, Key: key, Scope: scope,
		Params:    map[string]string{"acc": "0.98"},
		Artifacts: map[string]artifact.Descriptor{"model": {URI: "minio://b/m", SHA256: strings.Repeat("a", 64), Size: 3, SchemaTitle: "system.Model"}},
		Source:    cachestore.Source{Namespace: "team-a", Workflow: "wf-1", Pod: "wf-1-1", Task: "train"},
		Created:   time.Now().UTC().Truncate(time.Millisecond),
		Material:  json.RawMessage(`{"image":"python"}`),
	}
}

func newStore(t *testing.T) (*cachestore.Store, *servers.Redis) {
	r := servers.StartRedis(t)
	return cachestore.New(r.Client, cachestore.Options{}), r
}

func TestPutGetDelete(t *testing.T) {
	s, r := newStore(t)
	ctx := context.Background()
	a, b := cachestore.NamespaceScope("team-a"), cachestore.NamespaceScope("team-b")
	if e, err := s.Get(ctx, a, keyN(1)); e != nil || err != nil {
		t.Fatalf("miss: %v %v", e, err)
	}
	want := entry(a, keyN(1))
	if err := s.Put(ctx, want, time.Hour); err != nil {
		t.Fatal(err)
	}
	got, err := s.Get(ctx, a, keyN(1))
	if err != nil || got == nil || got.Params["acc"] != "0.98" || got.Artifacts["model"].SHA256 != want.Artifacts["model"].SHA256 || !got.Created.Equal(want.Created) {
		t.Fatalf("round trip: %+v, %v", got, err)
	}
	if ttl, err := s.TTL(ctx, a, keyN(1)); err != nil || ttl <= 59*time.Minute || ttl > time.Hour {
		t.Errorf("ttl %s, %v", ttl, err)
	}
	// Scopes are separate: the same key in another namespace is a miss.
	if e, err := s.Get(ctx, b, keyN(1)); e != nil || err != nil {
		t.Fatalf("another namespace saw the entry: %v %v", e, err)
	}
	if ok, err := s.Delete(ctx, a, keyN(1)); !ok || err != nil {
		t.Fatalf("delete: %v %v", ok, err)
	}
	if ok, err := s.Delete(ctx, a, keyN(1)); ok || err != nil {
		t.Fatalf("second delete: %v %v", ok, err)
	}

	// A value that is not an entry is reported as corrupt, not as a hit.
	if err := r.Client.Set(ctx, "kfpargo:v1:entry:ns/team-a:"+keyN(2), "{not json", 0).Err(); err != nil {
		t.Fatal(err)
	}
	if _, err := s.Get(ctx, a, keyN(2)); !errors.Is(err, cachestore.ErrCorrupt) {
		t.Errorf("corrupt value: %v", err)
	}
	// An entry stored under another key is corrupt too.
	moved, _ := entry(a, keyN(3)).Encode()
	_ = r.Client.Set(ctx, "kfpargo:v1:entry:ns/team-a:"+keyN(4), moved, 0).Err()
	if _, err := s.Get(ctx, a, keyN(4)); !errors.Is(err, cachestore.ErrCorrupt) {
		t.Errorf("entry under another key: %v", err)
	}

	for name, bad := range map[string]func() error{
		"zero ttl":      func() error { return s.Put(ctx, entry(a, keyN(5)), 0) },
		"bad key":       func() error { _, err := s.Get(ctx, a, "abc"); return err },
		"bad scope":     func() error { _, err := s.Get(ctx, "ns/Team_A", keyN(1)); return err },
		"forged scope":  func() error { _, err := s.Get(ctx, "ns/a:entry:ns/b", keyN(1)); return err },
		"invalid entry": func() error { e := entry(a, keyN(6)); e.Version = 9; return s.Put(ctx, e, time.Hour) },
	} {
		if bad() == nil {
			t.Errorf("%s: no error", name)
		}
	}
}

func TestExpiry(t *testing.T) {
	s, _ := newStore(t)
	ctx := context.Background()
	a := cachestore.NamespaceScope("team-a")
	if err := s.Put(ctx, entry(a, keyN(1)), 1100*time.Millisecond); err != nil {
		t.Fatal(err)
	}
	if e, _ := s.Get(ctx, a, keyN(1)); e == nil {
		t.Fatal("entry gone before its TTL")
	}
	time.Sleep(1500 * time.Millisecond)
	if e, err := s.Get(ctx, a, keyN(1)); e != nil || err != nil {
		t.Fatalf("entry past its TTL: %v %v", e, err)
	}
}

func TestEntriesAndStats(t *testing.T) {
	s, r := newStore(t)
	ctx := context.Background()
	scopes := []cachestore.Scope{cachestore.NamespaceScope("a"), cachestore.NamespaceScope("b"), cachestore.ClusterScope}
	const per = 700 // more than one SCAN page
	for i, sc := range scopes {
		for n := range per {
			if err := s.Put(ctx, entry(sc, keyN(i*per+n)), time.Hour); err != nil {
				t.Fatal(err)
			}
		}
	}
	_ = r.Client.Set(ctx, "kfpargo:v1:entry:ns/a:"+keyN(99999), "garbage", 0).Err()
	_ = r.Client.HSet(ctx, "kfpargo:v1:entry:ns/a:"+keyN(99998), "version", "1").Err()
	count := func(scope cachestore.Scope) (n, corrupt int) {
		for e, err := range s.Entries(ctx, scope) {
			switch {
			case errors.Is(err, cachestore.ErrCorrupt):
				corrupt++
			case err != nil:
				t.Fatal(err)
			case scope != "" && e.Scope != scope:
				t.Fatalf("entry of %s listed under %s", e.Scope, scope)
			default:
				n++
			}
		}
		return n, corrupt
	}
	if n, c := count(scopes[0]); n != per || c != 2 {
		t.Errorf("scope a: %d entries, %d corrupt", n, c)
	}
	if n, c := count(""); n != 3*per || c != 2 {
		t.Errorf("all scopes: %d entries, %d corrupt", n, c)
	}

	_ = s.Count(ctx, scopes[0], "hits", 2)
	_ = s.Count(ctx, scopes[0], "hits", 1)
	_ = s.Count(ctx, scopes[2], "misses", 5)
	st, err := s.Stats(ctx)
	if err != nil || st[scopes[0]]["hits"] != 3 || st[scopes[2]]["misses"] != 5 || len(st) != 2 {
		t.Errorf("stats %v, %v", st, err)
	}
}

func TestDecodeEntry(t *testing.T) {
	good, err := entry(cachestore.NamespaceScope("team-a"), keyN(1)).Encode()
	if err != nil {
		t.Fatal(err)
	}
	if _, err := cachestore.DecodeEntry(good); err != nil {
		t.Fatal(err)
	}
	edit := func(f func(m map[string]any)) []byte {
		var m map[string]any
		_ = json.Unmarshal(good, &m)
		f(m)
		b, _ := json.Marshal(m)
		return b
	}
	for name, c := range map[string]struct {
		in   []byte
		want string
	}{
		"unknown field": {edit(func(m map[string]any) { m["extra"] = 1 }), "extra"},
		"bad key":       {edit(func(m map[string]any) { m["key"] = "XYZ" }), "key:"},
		"bad scope":     {edit(func(m map[string]any) { m["scope"] = "ns/../x" }), "scope:"},
		"bad digest": {edit(func(m map[string]any) {
			m["artifacts"] = map[string]any{"model": map[string]any{"uri": "minio://b/m", "sha256": "nope"}}
		}), "artifacts.model.sha256"},
		"no uri": {edit(func(m map[string]any) {
			m["artifacts"] = map[string]any{"m": map[string]any{"sha256": strings.Repeat("a", 64)}}
		}), "artifacts.m.uri"},
		"version":    {edit(func(m map[string]any) { m["version"] = 2 }), "version"},
		"no created": {edit(func(m map[string]any) { delete(m, "created") }), "created"},
		"trailing":   {append(append([]byte{}, good...), []byte(`{}`)...), "after the entry"},
		"too large":  {[]byte(`{"metrics":"` + strings.Repeat("x", cachestore.MaxEntryBytes) + `"}`), "larger than"},
	} {
		_, err := cachestore.DecodeEntry(c.in)
		if err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%s: got %v, want an error with %q", name, err, c.want)
		}
	}
}

func TestClaim(t *testing.T) {
	s, r := newStore(t)
	ctx := context.Background()
	sc := cachestore.NamespaceScope("team-a")
	fast := cachestore.ClaimOptions{LeaseTTL: 600 * time.Millisecond, Poll: 20 * time.Millisecond, Wait: 10 * time.Second}

	t.Run("entry present", func(t *testing.T) {
		_ = s.Put(ctx, entry(sc, keyN(1)), time.Hour)
		e, l, err := s.Claim(ctx, sc, keyN(1), "pod-a", fast)
		if err != nil || e == nil || l != nil {
			t.Fatalf("%v %v %v", e, l, err)
		}
	})

	t.Run("two claimers compute once", func(t *testing.T) {
		key := keyN(2)
		var wg sync.WaitGroup
		var mu sync.Mutex
		leases, entries := 0, 0
		for i := range 2 {
			wg.Add(1)
			go func() {
				defer wg.Done()
				e, l, err := s.Claim(ctx, sc, key, fmt.Sprintf("pod-%d", i), fast)
				if err != nil {
					t.Error(err)
					return
				}
				mu.Lock()
				defer mu.Unlock()
				if l != nil {
					leases++
					l.Keep(ctx)
					// The step runs longer than the lease TTL: renewal keeps it.
					time.Sleep(1500 * time.Millisecond)
					if err := s.Put(ctx, entry(sc, key), time.Hour); err != nil {
						t.Error(err)
					}
					if err := l.Release(ctx); err != nil {
						t.Error(err)
					}
				}
				if e != nil {
					entries++
				}
			}()
			time.Sleep(50 * time.Millisecond) // the first one claims first
		}
		// The holder sleeps with the mutex held, so the waiter can only
		// record after the entry exists.
		wg.Wait()
		if leases != 1 || entries != 1 {
			t.Errorf("%d leases, %d entries; want one of each", leases, entries)
		}
	})

	t.Run("holder dies", func(t *testing.T) {
		key := keyN(3)
		_, l, err := s.Claim(ctx, sc, key, "dead", fast)
		if err != nil || l == nil {
			t.Fatal(err)
		}
		// No Keep, no Release: the lease expires after its TTL.
		e, l2, err := s.Claim(ctx, sc, key, "heir", fast)
		if err != nil || e != nil || l2 == nil {
			t.Fatalf("take over: %v %v %v", e, l2, err)
		}
		if h, _ := s.LeaseHolder(ctx, sc, key); h != "heir" {
			t.Errorf("holder %q", h)
		}
		// The dead holder's late release must not free the heir's lease.
		if err := l.Release(ctx); err != nil {
			t.Fatal(err)
		}
		if h, _ := s.LeaseHolder(ctx, sc, key); h != "heir" {
			t.Errorf("after the old holder's release, holder %q", h)
		}
		_ = l2.Release(ctx)
	})

	t.Run("holder fails and releases", func(t *testing.T) {
		key := keyN(4)
		slow := fast
		slow.LeaseTTL = time.Minute
		_, l, _ := s.Claim(ctx, sc, key, "failing", slow)
		go func() {
			time.Sleep(200 * time.Millisecond)
			_ = l.Release(ctx)
		}()
		start := time.Now()
		_, l2, err := s.Claim(ctx, sc, key, "next", slow)
		if err != nil || l2 == nil {
			t.Fatalf("%v %v", l2, err)
		}
		if time.Since(start) > 30*time.Second {
			t.Errorf("waited for the TTL instead of the release")
		}
		_ = l2.Release(ctx)
	})

	t.Run("wait timeout", func(t *testing.T) {
		key := keyN(5)
		long := fast
		long.LeaseTTL = time.Minute
		_, l, _ := s.Claim(ctx, sc, key, "busy", long)
		defer l.Release(ctx)
		short := fast
		short.Wait = 200 * time.Millisecond
		if _, _, err := s.Claim(ctx, sc, key, "impatient", short); !errors.Is(err, cachestore.ErrWaitTimeout) {
			t.Errorf("got %v", err)
		}
	})

	t.Run("lost lease", func(t *testing.T) {
		key := keyN(6)
		_, l, _ := s.Claim(ctx, sc, key, "holder", fast)
		l.Keep(ctx)
		_ = r.Client.Del(ctx, "kfpargo:v1:lease:ns/team-a:"+key).Err()
		select {
		case <-l.Lost():
		case <-time.After(5 * time.Second):
			t.Fatal("lost lease not noticed")
		}
		_ = l.Release(ctx)
	})

	t.Run("lease TTL below Redis' millisecond", func(t *testing.T) {
		key := keyN(8)
		tiny := fast
		tiny.LeaseTTL = time.Nanosecond
		_, l, err := s.Claim(ctx, sc, key, "tiny", tiny)
		if err != nil || l == nil {
			t.Fatalf("%v %v", l, err)
		}
		l.Keep(ctx)
		l.Keep(ctx) // a second Keep starts no second renewal
		time.Sleep(20 * time.Millisecond)
		if err := l.Release(ctx); err != nil {
			t.Fatal(err)
		}
		l.Keep(ctx) // after Release: nothing to renew
		if h, err := s.LeaseHolder(ctx, sc, key); h != "" || err != nil {
			t.Errorf("after release, holder %q, %v", h, err)
		}
	})

	t.Run("redis restarted while waiting", func(t *testing.T) {
		key := keyN(7)
		long := fast
		long.LeaseTTL = time.Minute
		_, l, _ := s.Claim(ctx, sc, key, "busy", long)
		_ = l
		errc := make(chan error, 1)
		go func() {
			_, _, err := s.Claim(ctx, sc, key, "waiter", long)
			errc <- err
		}()
		time.Sleep(100 * time.Millisecond)
		r.Stop()
		select {
		case err := <-errc:
			// The waiter gives up on an unreachable store instead of
			// waiting: its step then runs.
			if err == nil || errors.Is(err, cachestore.ErrWaitTimeout) {
				t.Errorf("got %v, want a Redis error", err)
			}
		case <-time.After(20 * time.Second):
			t.Fatal("waiter still waiting on a stopped Redis")
		}
		if err := r.Start(); err != nil {
			t.Fatal(err)
		}
	})
}
