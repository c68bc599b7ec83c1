package starlib

import (
	"context"
	"fmt"
	"net"
	"strconv"
	"sync"

	"go.starlark.net/starlark"

	"github.com/pathos-star/pathos-star/pools"
	"github.com/pathos-star/pathos-star/remote"
)

// tunnelBuiltin is the top-level
// tunnel(dest, remote_port, local_port=0, remote_host="localhost").
func tunnelBuiltin(thread *starlark.Thread, b *starlark.Builtin, args starlark.Tuple, kwargs []starlark.Tuple) (starlark.Value, error) {
	var spec tunnelSpec
	if err := spec.unpack(b.Name(), args, kwargs, true); err != nil {
		return nil, err
	}
	client, err := sshClient(thread, b.Name())
	if err != nil {
		return nil, err
	}
	ctx := pools.ContextOf(thread)
	conn, err := connect(ctx, client, b.Name(), spec.dest)
	if err != nil {
		return nil, err
	}
	return spec.open(ctx, b.Name(), spec.dest, conn)
}

// tunnelSpec holds the arguments of tunnel and ssh_host.tunnel.
type tunnelSpec struct {
	dest       string
	remotePort int
	localPort  int
	remoteHost string
}

// unpack unpacks [dest,] remote_port, local_port=0, remote_host="localhost".
func (s *tunnelSpec) unpack(who string, args starlark.Tuple, kwargs []starlark.Tuple, withDest bool) error {
	s.remoteHost = "localhost"
	var pairs []any
	if withDest {
		pairs = append(pairs, "dest", &s.dest)
	}
	pairs = append(pairs, "remote_port", &s.remotePort, "local_port?", &s.localPort, "remote_host?", &s.remoteHost)
	if err := starlark.UnpackArgs(who, args, kwargs, pairs...); err != nil {
		return err
	}
	if s.remotePort < 1 || s.remotePort > 65535 {
		return fmt.Errorf("%s: remote_port must be a port number from 1 to 65535, got %d", who, s.remotePort)
	}
	if s.localPort < 0 || s.localPort > 65535 {
		return fmt.Errorf("%s: local_port must be a port number from 1 to 65535, or 0 for a free one, got %d", who, s.localPort)
	}
	if s.remoteHost == "" {
		return fmt.Errorf("%s: remote_host must not be empty", who)
	}
	return nil
}

// open opens the tunnel on conn, the connection to dest.
func (s *tunnelSpec) open(ctx context.Context, who, dest string, conn *remote.Host) (starlark.Value, error) {
	t, err := conn.Tunnel(ctx, s.remotePort, s.localPort, s.remoteHost)
	if err != nil {
		return nil, wrapErr(who, conn.Name(), err)
	}
	return &Tunnel{dest: dest, remoteHost: s.remoteHost, t: t}, nil
}

// A Tunnel is the Starlark value of tunnel(...) and ssh_host.tunnel(...),
// of type "tunnel": a local TCP port on 127.0.0.1 whose connections are
// forwarded through an ssh connection to remote_host:remote_port as the
// host sees it, like `ssh -N -L port:remote_host:remote_port dest`.
//
// Its attributes are port (the local port), remote_port, remote_host, dest
// (the ssh destination carrying it) and the method close(). After close()
// the local port refuses connections at once and the forwarded connections
// are closed. A tunnel is also closed when its ssh connection closes or is
// lost, and when the interpreter closes.
//
// A Tunnel is safe for concurrent use. It is not hashable and cannot be
// serialized.
type Tunnel struct {
	dest       string // the ssh destination, as given
	remoteHost string
	t          *remote.Tunnel

	mu     sync.Mutex
	closed bool
}

var _ starlark.HasAttrs = (*Tunnel)(nil)

// Underlying returns the Go tunnel.
func (t *Tunnel) Underlying() *remote.Tunnel { return t.t }

// isClosed reports whether close() was called or the connection ended.
func (t *Tunnel) isClosed() bool {
	t.mu.Lock()
	closed := t.closed
	t.mu.Unlock()
	if closed {
		return true
	}
	select {
	case <-t.t.Host().Done():
		return true
	default:
		return false
	}
}

// String returns "<tunnel 127.0.0.1:PORT to HOST:PORT via DEST>", with
// " (closed)" at the end once it is closed.
func (t *Tunnel) String() string {
	state := ""
	if t.isClosed() {
		state = " (closed)"
	}
	to := net.JoinHostPort(t.remoteHost, strconv.Itoa(t.t.RemotePort()))
	return fmt.Sprintf("<tunnel %s to %s via %s%s>", t.t.Addr(), to, t.dest, state)
}

// Type returns "tunnel".
func (t *Tunnel) Type() string { return "tunnel" }

// Freeze does nothing: a tunnel has no Starlark state.
func (t *Tunnel) Freeze() {}

// Truth returns True.
func (t *Tunnel) Truth() starlark.Bool { return true }

// Hash fails: a tunnel is not hashable.
func (t *Tunnel) Hash() (uint32, error) { return 0, fmt.Errorf("unhashable type: tunnel") }

// AttrNames returns the attributes of a tunnel.
func (t *Tunnel) AttrNames() []string {
	return []string{"close", "dest", "port", "remote_host", "remote_port"}
}

// Attr returns the attribute name.
func (t *Tunnel) Attr(name string) (starlark.Value, error) {
	switch name {
	case "port":
		return starlark.MakeInt(t.t.Port()), nil
	case "remote_port":
		return starlark.MakeInt(t.t.RemotePort()), nil
	case "remote_host":
		return starlark.String(t.remoteHost), nil
	case "dest":
		return starlark.String(t.dest), nil
	case "close":
		return starlark.NewBuiltin(name, t.close).BindReceiver(t), nil
	}
	return nil, nil
}

// t.close()
func (t *Tunnel) close(thread *starlark.Thread, b *starlark.Builtin, args starlark.Tuple, kwargs []starlark.Tuple) (starlark.Value, error) {
	const who = "tunnel.close"
	if err := starlark.UnpackArgs(who, args, kwargs); err != nil {
		return nil, err
	}
	t.mu.Lock()
	t.closed = true
	t.mu.Unlock()
	if err := t.t.Close(); err != nil {
		return nil, wrapErr(who, t.dest, err)
	}
	return starlark.None, nil
}
