package artifact

import (
	"crypto/sha256"
	"encoding/hex"
	"hash"
)

// asyncHash computes a SHA-256 in its own goroutine: Write copies the bytes
// into one of a few buffers and returns, so a download writes the next
// chunk to disk while the previous one is hashed, instead of doing both in
// turn on one core.
type asyncHash struct {
	h    hash.Hash
	full chan []byte
	free chan []byte
	done chan struct{}
}

// asyncHashBuffers bounds the memory (asyncHashBuffers × copyBufferSize)
// and how far the hash may lag behind the writes.
const asyncHashBuffers = 4

func newAsyncHash() *asyncHash {
	a := &asyncHash{h: sha256.New(), full: make(chan []byte, asyncHashBuffers),
		free: make(chan []byte, asyncHashBuffers), done: make(chan struct{})}
	for range asyncHashBuffers {
		a.free <- make([]byte, 0, copyBufferSize)
	}
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
		b := <-a.free
		n := min(cap(b), len(rest))
		a.full <- append(b, rest[:n]...)
		rest = rest[n:]
	}
	return len(p), nil
}

// Sum waits for the bytes written so far and returns their digest in hex;
// the hash takes no more writes after it.
func (a *asyncHash) Sum() string {
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
