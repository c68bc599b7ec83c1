package sshtest

import (
	"io"
	"net"
	"sync"
	"sync/atomic"
	"testing"
)

// Serve accepts connections on ln and runs handle on each in its own
// goroutine, until the test ends; then it closes ln and every connection
// and waits for the handlers.
func Serve(t testing.TB, ln net.Listener, handle func(net.Conn)) {
	var (
		wg    sync.WaitGroup
		mu    sync.Mutex
		conns []net.Conn
	)
	wg.Add(1)
	go func() {
		defer wg.Done()
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			mu.Lock()
			conns = append(conns, c)
			mu.Unlock()
			wg.Add(1)
			go func() {
				defer wg.Done()
				handle(c)
				c.Close()
			}()
		}
	}()
	t.Cleanup(func() {
		ln.Close()
		mu.Lock()
		for _, c := range conns {
			c.Close()
		}
		mu.Unlock()
		wg.Wait()
	})
}

// EchoServer starts a TCP echo server on 127.0.0.1 for the test and
// returns its port.
func EchoServer(t testing.TB) int {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	Serve(t, ln, func(c net.Conn) { io.Copy(c, c) })
	return ln.Addr().(*net.TCPAddr).Port
}

// A FreezingProxy forwards TCP connections on 127.0.0.1 to a target, and
// while frozen silently drops all bytes, like a network partition: no FIN,
// no RST, so only a heartbeat notices. It is safe for concurrent use.
type FreezingProxy struct {
	Addr   string // where it listens, "127.0.0.1:port"
	frozen atomic.Bool
}

// StartFreezingProxy starts a proxy to target, stopped when the test ends.
func StartFreezingProxy(t testing.TB, target string) *FreezingProxy {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	p := &FreezingProxy{Addr: ln.Addr().String()}
	Serve(t, ln, func(c net.Conn) {
		u, err := net.Dial("tcp", target)
		if err != nil {
			return
		}
		defer u.Close()
		done := make(chan struct{})
		go func() {
			p.pipe(u, c)
			close(done)
		}()
		p.pipe(c, u)
		u.Close()
		<-done
	})
	return p
}

// Freeze makes the proxy drop everything from now on.
func (p *FreezingProxy) Freeze() { p.frozen.Store(true) }

// Thaw makes the proxy forward again.
func (p *FreezingProxy) Thaw() { p.frozen.Store(false) }

// Frozen reports whether the proxy drops bytes now.
func (p *FreezingProxy) Frozen() bool { return p.frozen.Load() }

func (p *FreezingProxy) pipe(dst, src net.Conn) {
	buf := make([]byte, 32<<10)
	for {
		n, err := src.Read(buf)
		if n > 0 && !p.frozen.Load() {
			if _, err := dst.Write(buf[:n]); err != nil {
				return
			}
		}
		if err != nil {
			dst.Close()
			return
		}
	}
}

// SilentServer starts a TCP server on 127.0.0.1 that accepts connections
// and never writes to them, like a host whose ssh server hangs; it returns
// the port.
func SilentServer(t testing.TB) int {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	Serve(t, ln, func(c net.Conn) { io.Copy(io.Discard, c) })
	return ln.Addr().(*net.TCPAddr).Port
}
