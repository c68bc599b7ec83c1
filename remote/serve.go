package remote

import (
	"context"
	"errors"
	"fmt"
	"net"
	"sync"
	"time"

	"github.com/pathos-star/pathos-star/internal/wire"
	"github.com/pathos-star/pathos-star/pools"
)

// ServerOptions configure Serve.
type ServerOptions struct {
	// Secret, if not empty, is the shared secret every client must prove
	// it knows (HMAC challenge-response; it never crosses the wire).
	Secret []byte
	// Workers is how many clients are served at once; a client beyond it
	// is refused at once with "server busy". Zero means 64.
	Workers int
	// IdleTimeout, if positive, ends Serve after that long with no client.
	IdleTimeout time.Duration
	// Logf, if not nil, reports connections and refusals.
	Logf func(format string, args ...any)
}

// WireLimits are the frame limits of worker connections: values may nest
// as deeply as the serializer allows.
var WireLimits = wire.Limits{MaxDepth: 20000}

// Serve accepts driver connections on ln and serves each as one worker
// (see pools.Serve) running tasks in env, until ctx is done or the idle
// timeout passes. It closes ln and every connection before it returns,
// and returns nil after an orderly end.
func Serve(ctx context.Context, ln net.Listener, env *pools.Env, opts ServerOptions) error {
	if opts.Workers <= 0 {
		opts.Workers = 64
	}
	logf := opts.Logf
	if logf == nil {
		logf = func(string, ...any) {}
	}
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	stop := context.AfterFunc(ctx, func() { ln.Close() })
	defer stop()

	var (
		mu     sync.Mutex
		active int
		idle   *time.Timer
		wg     sync.WaitGroup
	)
	if opts.IdleTimeout > 0 {
		idle = time.AfterFunc(opts.IdleTimeout, func() {
			mu.Lock()
			defer mu.Unlock()
			if active == 0 {
				logf("no client for %s: exiting", opts.IdleTimeout)
				cancel()
			}
		})
	}
	defer wg.Wait()
	for {
		conn, err := ln.Accept()
		if err != nil {
			if ctx.Err() != nil {
				return nil
			}
			var ne net.Error
			if errors.As(err, &ne) && ne.Timeout() {
				continue
			}
			return fmt.Errorf("serve: accept on %s: %v", ln.Addr(), err)
		}
		mu.Lock()
		if active >= opts.Workers {
			mu.Unlock()
			logf("refused %s: server busy (%d workers in use)", conn.RemoteAddr(), opts.Workers)
			c := wire.NewConn(conn, conn, WireLimits)
			c.Send(&wire.Msg{Kind: wire.KindError, Message: fmt.Sprintf("server busy: all %d workers in use", opts.Workers)})
			c.Close()
			continue
		}
		active++
		if idle != nil {
			idle.Stop()
		}
		mu.Unlock()
		wg.Add(1)
		go func() {
			defer wg.Done()
			peer := conn.RemoteAddr()
			logf("client %s connected", peer)
			err := pools.Serve(ctx, wire.NewConn(conn, conn, WireLimits), env, opts.Secret)
			if err != nil && ctx.Err() == nil {
				logf("client %s: %v", peer, err)
			} else {
				logf("client %s disconnected", peer)
			}
			mu.Lock()
			defer mu.Unlock()
			active--
			if active == 0 && idle != nil {
				idle.Reset(opts.IdleTimeout)
			}
		}()
	}
}

// IsLoopback reports whether a bind address (host, or host:port) is a
// loopback address, where serving without a secret is allowed.
func IsLoopback(addr string) bool {
	host := addr
	if h, _, err := net.SplitHostPort(addr); err == nil {
		host = h
	}
	if host == "localhost" {
		return true
	}
	ip := net.ParseIP(host)
	return ip != nil && ip.IsLoopback()
}
