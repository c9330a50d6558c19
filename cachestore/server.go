package cachestore

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"syscall"

	"github.com/redis/go-redis/v9"
)

// NameServer makes the connection errors of rdb's commands say which
// server was tried and how: go-redis reports a certificate it does not
// trust, or a TLS server hanging up on plain text, without the address
// ("EOF"), and the launcher and the webhook log these errors where an
// operator must tell a wrong address from a wrong TLS setting. Replies of
// the server (WRONGPASS, NOPERM, redis.Nil) pass unchanged; no option
// holding a credential is ever part of the text.
func NameServer(rdb *redis.Client) {
	o := rdb.Options()
	how := "plain TCP"
	if o.TLSConfig != nil {
		how = "TLS"
	}
	rdb.AddHook(serverHook{where: fmt.Sprintf("redis %s over %s", o.Addr, how), plain: o.TLSConfig == nil})
}

type serverHook struct {
	where string
	plain bool
}

// name wraps a connection error; replies and nil pass unchanged.
func (h serverHook) name(err error) error {
	if !connectionError(err) {
		return err
	}
	if h.plain && (errors.Is(err, io.EOF) || errors.Is(err, syscall.ECONNRESET)) {
		return fmt.Errorf("%s: %w (the server closed the connection: does it want TLS?)", h.where, err)
	}
	return fmt.Errorf("%s: %w", h.where, err)
}

func connectionError(err error) bool {
	var reply redis.Error
	return err != nil && !errors.As(err, &reply)
}

// DialHook explains a TLS handshake that timed out: a server that speaks
// plain TCP waits for a command and never answers it.
func (h serverHook) DialHook(next redis.DialHook) redis.DialHook {
	return func(ctx context.Context, network, addr string) (net.Conn, error) {
		conn, err := next(ctx, network, addr)
		var ne net.Error
		if err != nil && !h.plain && (errors.Is(err, context.DeadlineExceeded) || errors.As(err, &ne) && ne.Timeout()) {
			err = fmt.Errorf("%w (no answer to the TLS handshake: does the server speak TLS?)", err)
		}
		return conn, err
	}
}

func (h serverHook) ProcessHook(next redis.ProcessHook) redis.ProcessHook {
	return func(ctx context.Context, cmd redis.Cmder) error {
		err := next(ctx, cmd)
		if connectionError(err) {
			err = h.name(err)
			cmd.SetErr(err)
		}
		return err
	}
}

func (h serverHook) ProcessPipelineHook(next redis.ProcessPipelineHook) redis.ProcessPipelineHook {
	return func(ctx context.Context, cmds []redis.Cmder) error {
		err := next(ctx, cmds)
		for _, c := range cmds {
			if connectionError(c.Err()) {
				c.SetErr(h.name(c.Err()))
			}
		}
		return h.name(err)
	}
}
