package cachestore_test

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/kfpargo/kfpargo/artifact"
	"github.com/kfpargo/kfpargo/cachestore"
)

const (
	keyA = "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef"
	keyB = "fedcba9876543210fedcba9876543210fedcba9876543210fedcba9876543210"
)

func keyring(t *testing.T, text string) *cachestore.Keyring {
	t.Helper()
	k, err := cachestore.ParseKeyring(text)
	if err != nil {
		t.Fatal(err)
	}
	return k
}

func TestParseKeyring(t *testing.T) {
	for _, tc := range []struct {
		text, err string
	}{
		{keyA, ""},
		{keyA + " " + keyB + "\n", ""},
		{keyA + "," + keyB, ""},
		{"", "no HMAC key"},
		{" \n", "no HMAC key"},
		{"short-secret-value", "HMAC key 1 of 1: 18 bytes, want at least 32"},
		{keyA + " short-secret-value", "HMAC key 2 of 2: 18 bytes"},
	} {
		k, err := cachestore.ParseKeyring(tc.text)
		switch {
		case tc.err == "" && err != nil:
			t.Errorf("%q: %v", tc.text, err)
		case tc.err != "" && (err == nil || !strings.Contains(err.Error(), tc.err)):
			t.Errorf("%q: error %v, want %q", tc.text, err, tc.err)
		case err != nil && strings.Contains(err.Error(), "short-secret-value"):
			t.Errorf("the error shows the key: %v", err)
		case err == nil:
			for _, s := range []string{k.String(), fmt.Sprintf("%v %+v %#v %s", k, k, k, k)} {
				if strings.Contains(s, keyA[:16]) || strings.Contains(s, keyB[:16]) {
					t.Errorf("printing a keyring shows key bytes: %s", s)
				}
			}
		}
	}
}

// Every part of an entry is covered by its signature: a change anywhere
// makes it fail.
func TestSignatureCoversTheEntry(t *testing.T) {
	k := keyring(t, keyA)
	signed := func() *cachestore.Entry {
		e := entry(cachestore.NamespaceScope("team-a"), keyN(1))
		e.Metrics = `{"acc":1}`
		e.Source.Pipeline = "p"
		if err := k.Sign(e); err != nil {
			t.Fatal(err)
		}
		return e
	}
	if err := k.Verify(signed()); err != nil {
		t.Fatalf("a signed entry: %v", err)
	}
	for name, change := range map[string]func(e *cachestore.Entry){
		"key":         func(e *cachestore.Entry) { e.Key = keyN(2) },
		"scope":       func(e *cachestore.Entry) { e.Scope = cachestore.ClusterScope },
		"param value": func(e *cachestore.Entry) { e.Params["acc"] = "0.99" },
		"param added": func(e *cachestore.Entry) { e.Params["x"] = "" },
		"artifact uri": func(e *cachestore.Entry) {
			d := e.Artifacts["model"]
			d.URI = "minio://b/evil"
			e.Artifacts["model"] = d
		},
		"artifact digest": func(e *cachestore.Entry) {
			d := e.Artifacts["model"]
			d.SHA256 = strings.Repeat("b", 64)
			e.Artifacts["model"] = d
		},
		"artifact added": func(e *cachestore.Entry) {
			e.Artifacts["x"] = artifact.Descriptor{URI: "minio://b/x", SHA256: strings.Repeat("c", 64)}
		},
		"metrics":   func(e *cachestore.Entry) { e.Metrics = `{"acc":2}` },
		"source":    func(e *cachestore.Entry) { e.Source.Workflow = "other" },
		"created":   func(e *cachestore.Entry) { e.Created = e.Created.Add(time.Hour) },
		"material":  func(e *cachestore.Entry) { e.Material = []byte(`{"image":"other"}`) },
		"signature": func(e *cachestore.Entry) { e.Signature = strings.Repeat("0", 64) },
		"unsigned":  func(e *cachestore.Entry) { e.Signature = "" },
		"not hex":   func(e *cachestore.Entry) { e.Signature = "zz" },
	} {
		e := signed()
		change(e)
		if err := k.Verify(e); !errors.Is(err, cachestore.ErrSignature) {
			t.Errorf("%s changed: %v, want ErrSignature", name, err)
		}
	}
	// Another installation's key does not verify it.
	if err := keyring(t, keyB).Verify(signed()); !errors.Is(err, cachestore.ErrSignature) {
		t.Errorf("another key: %v", err)
	}
}

// During a rotation ("new old") entries of either key are served; new
// ones are signed with the first.
func TestKeyRotation(t *testing.T) {
	old, rotating, next := keyring(t, keyA), keyring(t, keyB+" "+keyA), keyring(t, keyB)
	e := entry(cachestore.NamespaceScope("team-a"), keyN(1))
	if err := old.Sign(e); err != nil {
		t.Fatal(err)
	}
	if err := rotating.Verify(e); err != nil {
		t.Errorf("an entry of the old key during the rotation: %v", err)
	}
	if err := rotating.Sign(e); err != nil {
		t.Fatal(err)
	}
	if err := next.Verify(e); err != nil {
		t.Errorf("an entry signed during the rotation, after it: %v", err)
	}
	if err := old.Verify(e); !errors.Is(err, cachestore.ErrSignature) {
		t.Errorf("the old key alone verified an entry of the new one: %v", err)
	}
}

// A process that can write to Redis but has no key cannot plant an entry:
// a Store with keys refuses what it did not sign, and reads what it did.
func TestStoreRefusesForgedEntries(t *testing.T) {
	plain, r := newStore(t)
	signing := cachestore.New(r.Client, cachestore.Options{Keys: keyring(t, keyA)})
	ctx := context.Background()
	scope := cachestore.NamespaceScope("team-a")

	// Written without a key (as an attacker with Redis access would).
	if err := plain.Put(ctx, entry(scope, keyN(1)), time.Hour); err != nil {
		t.Fatal(err)
	}
	if e, err := signing.Get(ctx, scope, keyN(1)); e != nil || !errors.Is(err, cachestore.ErrSignature) || errors.Is(err, cachestore.ErrCorrupt) {
		t.Errorf("unsigned entry: %v, %v; want ErrSignature", e, err)
	}
	// Signed with another key.
	other := cachestore.New(r.Client, cachestore.Options{Keys: keyring(t, keyB)})
	if err := other.Put(ctx, entry(scope, keyN(2)), time.Hour); err != nil {
		t.Fatal(err)
	}
	if e, err := signing.Get(ctx, scope, keyN(2)); e != nil || !errors.Is(err, cachestore.ErrSignature) {
		t.Errorf("entry of another key: %v, %v; want ErrSignature", e, err)
	}
	// A signed entry whose value was edited in Redis.
	if err := signing.Put(ctx, entry(scope, keyN(3)), time.Hour); err != nil {
		t.Fatal(err)
	}
	rk := cachestore.DefaultPrefix + "entry:" + string(scope) + ":" + keyN(3)
	raw, err := r.Client.Get(ctx, rk).Result()
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(raw, `"acc":"0.98"`) || !strings.Contains(raw, `"signature":"`) {
		t.Fatalf("stored entry: %s", raw)
	}
	if err := r.Client.Set(ctx, rk, strings.Replace(raw, `"acc":"0.98"`, `"acc":"1.0"`, 1), time.Hour).Err(); err != nil {
		t.Fatal(err)
	}
	if e, err := signing.Get(ctx, scope, keyN(3)); e != nil || !errors.Is(err, cachestore.ErrSignature) {
		t.Errorf("edited entry: %v, %v; want ErrSignature", e, err)
	}
	// The genuine article.
	if err := signing.Put(ctx, entry(scope, keyN(4)), time.Hour); err != nil {
		t.Fatal(err)
	}
	if e, err := signing.Get(ctx, scope, keyN(4)); err != nil || e == nil || e.Params["acc"] != "0.98" {
		t.Errorf("signed entry: %v, %v", e, err)
	}
}

// Each namespace's launchers hold keys derived for their scope: they sign
// what the webhook (holding the installation's keys) accepts in that
// scope, and nothing it accepts in another.
func TestScopeKeys(t *testing.T) {
	_, r := newStore(t)
	ctx := context.Background()
	a, b := cachestore.NamespaceScope("team-a"), cachestore.NamespaceScope("team-b")
	webhook := cachestore.New(r.Client, cachestore.Options{Keys: keyring(t, keyA+" "+keyB), PerScope: true})
	launcherOf := func(scope cachestore.Scope, installed string) *cachestore.Store {
		text, err := cachestore.ScopeKeys(installed, scope)
		if err != nil {
			t.Fatal(err)
		}
		if strings.Contains(text, keyA) || strings.Contains(text, keyB) || len(text) != 64*len(strings.Fields(installed)) {
			t.Fatalf("scope keys %d bytes, or the installation's keys in them", len(text))
		}
		return cachestore.New(r.Client, cachestore.Options{Keys: keyring(t, text)})
	}
	if err := launcherOf(a, keyA).Put(ctx, entry(a, keyN(1)), time.Hour); err != nil {
		t.Fatal(err)
	}
	if e, err := webhook.Get(ctx, a, keyN(1)); err != nil || e == nil {
		t.Errorf("team-a's entry in team-a: %v %v", e, err)
	}
	// team-b's launchers, holding team-b's key, forge an entry for team-a.
	if err := launcherOf(b, keyA).Put(ctx, entry(a, keyN(2)), time.Hour); err != nil {
		t.Fatal(err)
	}
	if e, err := webhook.Get(ctx, a, keyN(2)); e != nil || !errors.Is(err, cachestore.ErrSignature) {
		t.Errorf("team-b's key signed an entry team-a is served: %v %v", e, err)
	}
	// The second installed key (rotation) derives keys too.
	if err := launcherOf(a, keyB).Put(ctx, entry(a, keyN(3)), time.Hour); err != nil {
		t.Fatal(err)
	}
	if e, err := webhook.Get(ctx, a, keyN(3)); err != nil || e == nil {
		t.Errorf("an entry of the second key: %v %v", e, err)
	}
	if _, err := cachestore.ScopeKeys(keyA, "team-a"); err == nil {
		t.Error("a scope that is not a scope")
	}
}
