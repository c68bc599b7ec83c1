package wire

import (
	"bytes"
	"net"
	"os"
	"testing"
	"time"
)

// A transport makes a connected pair of byte streams for tests and returns
// a Conn on each end.
type transport struct {
	name string
	pair func(tb testing.TB, lim Limits) (a, b *Conn)
}

var transports = []transport{
	{"os.Pipe", pipeConns},
	{"tcp", tcpConns},
}

// pipeConns returns two Conns joined by two os.Pipes, as a driver and a
// child process's stdio are.
func pipeConns(tb testing.TB, lim Limits) (a, b *Conn) {
	tb.Helper()
	r1, w1, err := os.Pipe()
	if err != nil {
		tb.Fatal(err)
	}
	r2, w2, err := os.Pipe()
	if err != nil {
		tb.Fatal(err)
	}
	if _, ok := tb.(*testing.T); ok {
		// A test that would hang fails instead.
		for _, f := range []*os.File{r1, w1, r2, w2} {
			f.SetDeadline(time.Now().Add(time.Minute))
		}
	}
	a = NewConn(r2, w1, lim)
	b = NewConn(r1, w2, lim)
	tb.Cleanup(func() { a.Close(); b.Close() })
	return a, b
}

// tcpConns returns two Conns joined by a TCP connection on 127.0.0.1;
// a is the dialling end.
func tcpConns(tb testing.TB, lim Limits) (a, b *Conn) {
	tb.Helper()
	ca, cb := tcpPair(tb)
	if _, ok := tb.(*testing.T); ok {
		// A test that would hang fails instead.
		ca.SetDeadline(time.Now().Add(time.Minute))
		cb.SetDeadline(time.Now().Add(time.Minute))
	}
	a = NewConn(ca, ca, lim)
	b = NewConn(cb, cb, lim)
	tb.Cleanup(func() { a.Close(); b.Close() })
	return a, b
}

// tcpPair returns the two ends of a TCP connection on 127.0.0.1.
func tcpPair(tb testing.TB) (dialed, accepted net.Conn) {
	tb.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		tb.Fatal(err)
	}
	defer ln.Close()
	type result struct {
		c   net.Conn
		err error
	}
	ch := make(chan result, 1)
	go func() {
		c, err := ln.Accept()
		ch <- result{c, err}
	}()
	dialed, err = net.Dial("tcp", ln.Addr().String())
	if err != nil {
		tb.Fatal(err)
	}
	res := <-ch
	if res.err != nil {
		dialed.Close()
		tb.Fatal(res.err)
	}
	tb.Cleanup(func() { dialed.Close(); res.c.Close() })
	return dialed, res.c
}

// hash returns a HashSize-byte hash filled with b.
func hash(b byte) []byte { return bytes.Repeat([]byte{b}, HashSize) }

// frame returns payload with its 4-byte length prefix.
func frame(payload []byte) []byte {
	n := len(payload)
	return append([]byte{byte(n >> 24), byte(n >> 16), byte(n >> 8), byte(n)}, payload...)
}

// bstrArray returns the CBOR encoding of a one-element array holding a
// byte string of n bytes.
func bstrArray(n int) []byte {
	b := []byte{0x81, 0x5a, byte(n >> 24), byte(n >> 16), byte(n >> 8), byte(n)}
	return append(b, make([]byte, n)...)
}
