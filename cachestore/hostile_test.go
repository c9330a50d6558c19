package cachestore_test

import (
	"bytes"
	"strings"
	"testing"

	"github.com/kfpargo/kfpargo/cachestore"
)

// TestHostileEntries: anything that can write to Redis can write an entry,
// and the webhook and `launcher replay` decode it. Each case is refused
// with an error that says why and does not repeat the input.
func TestHostileEntries(t *testing.T) {
	good, err := entry(cachestore.NamespaceScope("team-a"), keyN(1)).Encode()
	if err != nil {
		t.Fatal(err)
	}
	const depth = 100_000
	deep := strings.Repeat("[", depth) + strings.Repeat("]", depth)
	with := func(old, new string) []byte { return bytes.Replace(good, []byte(old), []byte(new), 1) }
	for _, tc := range []struct {
		name string
		in   []byte
		want string
	}{
		{"material nested 100 000 deep", with(`{"image":"python"}`, deep), "decode cache entry: invalid character '[' exceeded max depth"},
		{"unknown field nested deep", with(`"version":1`, `"version":1,"x":`+deep), "exceeded max depth"},
		{"larger than 512 KiB", with(`"0.98"`, `"`+strings.Repeat("9", 600<<10)+`"`), "cache entry of 614"},
		{"trailing data", append(append([]byte{}, good...), `{}`...), "data after the entry"},
		{"scope with ..", with(`"ns/team-a"`, `"ns/../x"`), `scope: scope "ns/../x" is neither`},
		{"key not hex", with(keyN(1), strings.Repeat("G", 64)), "key: "},
		{"not UTF-8 in a value", with(`"0.98"`, "\"0.9\xff\""), ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			e, err := cachestore.DecodeEntry(tc.in)
			if tc.want == "" {
				// encoding/json reads the byte as U+FFFD: the entry is
				// valid UTF-8 from here on, and encodes the same again.
				if err != nil || e.Params["acc"] != "0.9\uFFFD" {
					t.Fatalf("got %+v, %v", e, err)
				}
				return
			}
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("got %.300v, want %q", err, tc.want)
			}
			if len(err.Error()) > 1000 {
				t.Errorf("error of %d bytes repeats the input", len(err.Error()))
			}
		})
	}
}
