package cachestore_test

import (
	"bytes"
	"testing"

	"github.com/kfpargo/kfpargo/cachestore"
)

// FuzzDecodeEntry: any input either is refused or decodes to an entry that
// encodes and decodes again to the same bytes.
func FuzzDecodeEntry(f *testing.F) {
	good, _ := entry(cachestore.NamespaceScope("team-a"), keyN(1)).Encode()
	f.Add(good)
	f.Add([]byte(`{}`))
	f.Add([]byte(`{"version":1,"key":"` + keyN(2) + `","scope":"cluster","created":"2026-01-01T00:00:00Z"}`))
	f.Fuzz(func(t *testing.T, b []byte) {
		e, err := cachestore.DecodeEntry(b)
		if err != nil {
			return
		}
		enc, err := e.Encode()
		if err != nil {
			t.Fatalf("a decoded entry does not encode: %v", err)
		}
		e2, err := cachestore.DecodeEntry(enc)
		if err != nil {
			t.Fatalf("an encoded entry does not decode: %v", err)
		}
		enc2, _ := e2.Encode()
		if !bytes.Equal(enc, enc2) {
			t.Fatalf("unstable encoding:\n%s\n%s", enc, enc2)
		}
	})
}
