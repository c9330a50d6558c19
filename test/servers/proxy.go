package servers

import (
	"errors"
	"io"
	"net"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// Proxy forwards TCP connections to a server and slows the client's
// uploads down to a rate, so a fault test can act while a transfer is
// surely in flight (a local MinIO takes a large object in a fraction of a
// second). It counts the bytes it passed upstream.
type Proxy struct {
	Addr string
	// sent counts bytes forwarded from clients to the server.
	sent     atomic.Int64
	target   string
	rate     int64 // bytes per second upstream; 0: unlimited
	ln       net.Listener
	mu       sync.Mutex
	conns    map[net.Conn]struct{}
	wg       sync.WaitGroup
	shutdown atomic.Bool
}

// StartProxy listens on a free loopback port and forwards to target,
// passing at most rate bytes per second from each client to the server.
// It stops when the test ends.
func StartProxy(t testing.TB, target string, rate int64) *Proxy {
	t.Helper()
	return StartProxyAt(t, "127.0.0.1:0", target, rate)
}

// StartProxyAt is StartProxy listening on listen (host:port; port 0 picks
// a free one), e.g. on an address the local stack's pods reach.
func StartProxyAt(t testing.TB, listen, target string, rate int64) *Proxy {
	t.Helper()
	ln, err := net.Listen("tcp", listen)
	if err != nil {
		t.Fatal(err)
	}
	p := &Proxy{Addr: ln.Addr().String(), target: target, rate: rate, ln: ln, conns: map[net.Conn]struct{}{}}
	p.wg.Add(1)
	go p.accept()
	t.Cleanup(p.Close)
	return p
}

// Sent is how many bytes clients have sent the server so far.
func (p *Proxy) Sent() int64 { return p.sent.Load() }

// Close stops accepting and cuts every connection.
func (p *Proxy) Close() {
	if p.shutdown.Swap(true) {
		return
	}
	_ = p.ln.Close()
	p.mu.Lock()
	for c := range p.conns {
		_ = c.Close()
	}
	p.mu.Unlock()
	p.wg.Wait()
}

func (p *Proxy) track(c net.Conn) bool {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.shutdown.Load() {
		return false
	}
	p.conns[c] = struct{}{}
	return true
}

func (p *Proxy) untrack(c net.Conn) {
	p.mu.Lock()
	delete(p.conns, c)
	p.mu.Unlock()
	_ = c.Close()
}

func (p *Proxy) accept() {
	defer p.wg.Done()
	for {
		client, err := p.ln.Accept()
		if err != nil {
			return
		}
		p.wg.Add(1)
		go func() {
			defer p.wg.Done()
			p.serve(client)
		}()
	}
}

// serve forwards one connection; a server that cannot be reached or goes
// away closes the client's connection too, as a dead server would.
func (p *Proxy) serve(client net.Conn) {
	if !p.track(client) {
		_ = client.Close()
		return
	}
	defer p.untrack(client)
	server, err := net.DialTimeout("tcp", p.target, 2*time.Second)
	if err != nil {
		return
	}
	if !p.track(server) {
		_ = server.Close()
		return
	}
	defer p.untrack(server)
	done := make(chan struct{}, 2)
	go func() {
		_, _ = io.Copy(client, server)
		done <- struct{}{}
	}()
	go func() {
		_ = p.upstream(server, client)
		done <- struct{}{}
	}()
	<-done
}

// upstream copies client bytes to the server at no more than p.rate.
func (p *Proxy) upstream(dst io.Writer, src io.Reader) error {
	buf := make([]byte, 32<<10)
	start := time.Now()
	var n int64
	for {
		k, err := src.Read(buf)
		if k > 0 {
			if _, werr := dst.Write(buf[:k]); werr != nil {
				return werr
			}
			n += int64(k)
			p.sent.Add(int64(k))
			if p.rate > 0 {
				// Sleep until the bytes so far fit the rate.
				if ahead := time.Duration(float64(n)/float64(p.rate)*float64(time.Second)) - time.Since(start); ahead > 0 {
					time.Sleep(ahead)
				}
			}
		}
		if errors.Is(err, io.EOF) {
			return nil
		}
		if err != nil {
			return err
		}
	}
}
