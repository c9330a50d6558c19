package artifact

import (
	"crypto/sha256"
	"encoding/hex"
	"testing"
)

func TestAsyncHashMatchesSHA256(t *testing.T) {
	data := make([]byte, 3*hashBatchSize+12345)
	for i := range data {
		data[i] = byte(i * 7)
	}
	for _, tc := range []struct {
		name  string
		size  int
		chunk int
	}{
		{"empty", 0, 1},
		{"one byte", 1, 1},
		{"exactly one batch", hashBatchSize, 32 << 10},
		{"batches and a rest, small writes", len(data), 32 << 10},
		{"one write spanning batches", len(data), len(data)},
		{"odd writes", len(data), 99991},
	} {
		t.Run(tc.name, func(t *testing.T) {
			a := newAsyncHash()
			defer a.close()
			for off := 0; off < tc.size; off += tc.chunk {
				if _, err := a.Write(data[off:min(off+tc.chunk, tc.size)]); err != nil {
					t.Fatal(err)
				}
			}
			want := sha256.Sum256(data[:tc.size])
			if got := a.Sum(); got != hex.EncodeToString(want[:]) {
				t.Fatalf("digest %s, want %x", got, want)
			}
		})
	}
}
