package cachestore_test

import (
	"testing"

	"github.com/kfpargo/kfpargo/cachestore"
)

// BenchmarkEntryRead compares what a hit costs the webhook per entry with
// and without the signature check: decoding alone is the baseline.
func BenchmarkEntryRead(b *testing.B) {
	installed := keyA + " " + keyB
	text, err := cachestore.ScopeKeys(installed, cachestore.NamespaceScope("team-a"))
	if err != nil {
		b.Fatal(err)
	}
	launcher, _ := cachestore.ParseKeyring(text)
	webhook, _ := cachestore.ParseKeyring(installed)
	e := entry(cachestore.NamespaceScope("team-a"), keyN(1))
	if err := launcher.Sign(e); err != nil {
		b.Fatal(err)
	}
	raw, err := e.Encode()
	if err != nil {
		b.Fatal(err)
	}
	b.Run("decode", func(b *testing.B) {
		for b.Loop() {
			if _, err := cachestore.DecodeEntry(raw); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("decode+verify", func(b *testing.B) {
		for b.Loop() {
			got, err := cachestore.DecodeEntry(raw)
			if err != nil {
				b.Fatal(err)
			}
			// What the webhook's store does: derive, then check.
			if err := webhook.ForScope(got.Scope).Verify(got); err != nil {
				b.Fatal(err)
			}
		}
	})
}
