package artifact

import (
	"crypto/sha256"
	"encoding/hex"
	"hash"
)

// asyncHash computes a SHA-256 in its own goroutine: Write copies the bytes
// into a batch and returns, so a download writes the next chunks to disk
// while the previous batch is hashed, instead of doing both in turn on one
// core.
type asyncHash struct {
	h    hash.Hash
	cur  []byte // the batch being filled
	full chan []byte
	free chan []byte
	done chan struct{}
}

// asyncHashBuffers bounds the memory (asyncHashBuffers × hashBatchSize)
// and how far the hash may lag behind the writes.
const asyncHashBuffers = 4

// hashBatchSize: batches rather than every 32 KiB write are handed to the
// hashing goroutine, so that waking it costs next to nothing.
const hashBatchSize = 1 << 20

func newAsyncHash() *asyncHash {
	a := &asyncHash{h: sha256.New(), full: make(chan []byte, asyncHashBuffers),
		free: make(chan []byte, asyncHashBuffers), done: make(chan struct{})}
	for range asyncHashBuffers - 1 {
		a.free <- make([]byte, 0, hashBatchSize)
	}
	a.cur = make([]byte, 0, hashBatchSize)
	go func() {
		defer close(a.done)
		for b := range a.full {
			a.h.Write(b)
			a.free <- b[:0]
		}
	}()
	return a
}

func (a *asyncHash) Write(p []byte) (int, error) {
	for rest := p; len(rest) > 0; {
		n := min(cap(a.cur)-len(a.cur), len(rest))
		a.cur = append(a.cur, rest[:n]...)
		rest = rest[n:]
		if len(a.cur) == cap(a.cur) {
			a.full <- a.cur
			a.cur = <-a.free
		}
	}
	return len(p), nil
}

// Sum waits for the bytes written so far and returns their digest in hex;
// the hash takes no more writes after it.
func (a *asyncHash) Sum() string {
	if len(a.cur) > 0 {
		a.full <- a.cur
		a.cur = nil
	}
	a.close()
	return hex.EncodeToString(a.h.Sum(nil))
}

// close stops the goroutine; it may be called more than once.
func (a *asyncHash) close() {
	select {
	case <-a.done:
		return
	default:
	}
	close(a.full)
	<-a.done
}
