package remote

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"strconv"
	"sync"
)

// A Tunnel forwards a local TCP port to a port reachable from a host, like
// `ssh -N -L localPort:remoteHost:remotePort host`. It listens on
// 127.0.0.1 only. A Tunnel is safe for concurrent use by several
// goroutines.
type Tunnel struct {
	h          *Host
	ln         net.Listener
	port       int
	remoteHost string
	remotePort int
	ctx        context.Context // cancelled by Close
	cancel     context.CancelFunc
	wg         sync.WaitGroup

	mu     sync.Mutex
	closed bool
	conns  map[net.Conn]struct{}
}

// Tunnel listens on 127.0.0.1:localPort (0 picks a free port) and forwards
// every connection accepted there through the ssh connection to
// remoteHost:remotePort as the host sees it; remoteHost "" means
// "localhost" on the host. ctx bounds only the setup. The tunnel lasts until
// Close, or until the ssh connection ends.
func (h *Host) Tunnel(ctx context.Context, remotePort, localPort int, remoteHost string) (*Tunnel, error) {
	if remoteHost == "" {
		remoteHost = "localhost"
	}
	what := fmt.Sprintf("ssh: tunnel 127.0.0.1:%d to %s on %q", localPort, net.JoinHostPort(remoteHost, strconv.Itoa(remotePort)), h.name)
	if remotePort < 1 || remotePort > 65535 {
		return nil, fmt.Errorf("%s: invalid remote port %d (want 1 to 65535)", what, remotePort)
	}
	if localPort < 0 || localPort > 65535 {
		return nil, fmt.Errorf("%s: invalid local port %d (want 0 to 65535)", what, localPort)
	}
	if err := h.Err(); err != nil {
		return nil, fmt.Errorf("%s: %w", what, err)
	}
	var lc net.ListenConfig
	ln, err := lc.Listen(ctx, "tcp", net.JoinHostPort("127.0.0.1", strconv.Itoa(localPort)))
	if err != nil {
		return nil, fmt.Errorf("%s: %w", what, err)
	}
	t := &Tunnel{
		h:          h,
		ln:         ln,
		port:       ln.Addr().(*net.TCPAddr).Port,
		remoteHost: remoteHost,
		remotePort: remotePort,
		conns:      make(map[net.Conn]struct{}),
	}
	t.ctx, t.cancel = context.WithCancel(context.Background())
	h.mu.Lock()
	if h.closing || !h.alive() {
		h.mu.Unlock()
		ln.Close()
		t.cancel()
		return nil, fmt.Errorf("%s: connection closed", what)
	}
	h.tunnels[t] = struct{}{}
	h.mu.Unlock()
	t.wg.Add(1)
	go t.serve()
	return t, nil
}

// Port returns the local port the tunnel listens on.
func (t *Tunnel) Port() int { return t.port }

// Addr returns the local address the tunnel listens on, "127.0.0.1:port".
func (t *Tunnel) Addr() string { return t.ln.Addr().String() }

// RemotePort returns the port connections are forwarded to.
func (t *Tunnel) RemotePort() int { return t.remotePort }

// Dest returns the address connections are forwarded to, as the host
// resolves it: "remoteHost:remotePort".
func (t *Tunnel) Dest() string {
	return net.JoinHostPort(t.remoteHost, strconv.Itoa(t.remotePort))
}

// Host returns the host whose connection carries the tunnel.
func (t *Tunnel) Host() *Host { return t.h }

// Close stops listening at once, closes every forwarded connection and waits
// for the forwarding goroutines to end. It is safe to call more than once.
func (t *Tunnel) Close() error {
	t.mu.Lock()
	if t.closed {
		t.mu.Unlock()
		return nil
	}
	t.closed = true
	conns := make([]net.Conn, 0, len(t.conns))
	for c := range t.conns {
		conns = append(conns, c)
	}
	t.mu.Unlock()

	t.cancel()
	err := t.ln.Close()
	for _, c := range conns {
		c.Close()
	}
	t.wg.Wait()
	t.h.mu.Lock()
	delete(t.h.tunnels, t)
	t.h.mu.Unlock()
	if err != nil && !errors.Is(err, net.ErrClosed) {
		return fmt.Errorf("ssh: close tunnel on 127.0.0.1:%d: %v", t.port, err)
	}
	return nil
}

// track records c as live so Close can close it; it reports false if the
// tunnel is already closed.
func (t *Tunnel) track(c net.Conn) bool {
	t.mu.Lock()
	defer t.mu.Unlock()
	if t.closed {
		return false
	}
	t.conns[c] = struct{}{}
	return true
}

func (t *Tunnel) untrack(c net.Conn) {
	t.mu.Lock()
	delete(t.conns, c)
	t.mu.Unlock()
	c.Close()
}

func (t *Tunnel) serve() {
	defer t.wg.Done()
	for {
		conn, err := t.ln.Accept()
		if err != nil {
			// Closed, or a failure that would repeat: stop listening.
			t.ln.Close()
			return
		}
		if !t.track(conn) {
			conn.Close()
			return
		}
		t.wg.Add(1)
		go t.forward(conn)
	}
}

// forward copies between a local connection and a new forwarded channel,
// passing on half-closes, until both directions are done.
func (t *Tunnel) forward(local net.Conn) {
	defer t.wg.Done()
	defer t.untrack(local)
	remote, err := t.h.conn.DialContext(t.ctx, "tcp", t.Dest())
	if err != nil {
		return
	}
	if !t.track(remote) {
		remote.Close()
		return
	}
	defer t.untrack(remote)

	var wg sync.WaitGroup
	pipe := func(dst, src net.Conn) {
		defer wg.Done()
		_, err := io.Copy(dst, src)
		if cw, ok := dst.(interface{ CloseWrite() error }); ok && err == nil {
			cw.CloseWrite()
			return
		}
		dst.Close()
		src.Close()
	}
	wg.Add(2)
	go pipe(remote, local)
	go pipe(local, remote)
	wg.Wait()
}
