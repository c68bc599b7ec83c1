package wire

import (
	"context"
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"errors"
	"fmt"
	"os"
	"runtime"
	"runtime/debug"
	"time"
)

// NonceSize is the length in bytes of the random challenges exchanged by an
// authenticated handshake.
const NonceSize = 32

// Labels that make the client's and the server's MACs differ, so that
// neither can be replayed as the other.
const (
	clientLabel = "pathos-star client"
	serverLabel = "pathos-star server"
)

// LocalInfo returns the Info of the calling process in the given role: its
// process id, host name, operating system, architecture, number of CPUs and
// the version of the main module from its build information.
func LocalInfo(role string) Info {
	host, _ := os.Hostname()
	version := "(unknown)"
	if bi, ok := debug.ReadBuildInfo(); ok && bi.Main.Version != "" {
		version = bi.Main.Version
	}
	return Info{
		Role:     role,
		PID:      os.Getpid(),
		Hostname: host,
		GOOS:     runtime.GOOS,
		GOARCH:   runtime.GOARCH,
		NumCPU:   runtime.NumCPU(),
		Version:  version,
	}
}

// ClientHandshake performs the handshake (see the package documentation)
// from the side that opened the connection, sending info, and returns the
// Info of the server. It must be the first use of c, and must not run
// concurrently with Recv.
//
// If secret is not empty, the server must prove that it knows the same
// secret and the client proves it in turn; a wrong secret makes both sides
// fail with an error that contains "authentication failed". If secret is
// empty, the server must not require one. The handshake also fails if the
// server speaks another protocol version.
//
// If ctx is done before the handshake completes, ClientHandshake returns an
// error that wraps ctx.Err(). To stop waiting, it sets a deadline in the
// past on the underlying stream if both of its ends support SetDeadline
// (a net.Conn, or an *os.File from os.Pipe), and closes c otherwise. Either
// way c is unusable after such an error. After any failed handshake the
// caller should Close c.
func ClientHandshake(ctx context.Context, c *Conn, secret []byte, info Info) (Info, error) {
	var peer Info
	err := c.withContext(ctx, func() (err error) {
		peer, err = clientHandshake(c, secret, info)
		return err
	})
	return peer, err
}

// ServerHandshake performs the handshake (see the package documentation)
// from the side that accepted the connection, sending info, and returns the
// Info of the client. It is the counterpart of ClientHandshake, and behaves
// the same way with respect to secret, protocol versions and ctx.
func ServerHandshake(ctx context.Context, c *Conn, secret []byte, info Info) (Info, error) {
	var peer Info
	err := c.withContext(ctx, func() (err error) {
		peer, err = serverHandshake(c, secret, info)
		return err
	})
	return peer, err
}

func clientHandshake(c *Conn, secret []byte, info Info) (Info, error) {
	hello, err := c.recvHello("server")
	if err != nil {
		return Info{}, err
	}
	reply := &Msg{Kind: KindHello, Version: Version, Info: &info}
	var clientNonce []byte
	switch {
	case len(secret) == 0 && hello.Nonce != nil:
		c.sendError("the client has no secret, but the server requires one")
		return Info{}, errors.New("the server requires a secret, but the client has none")
	case len(secret) > 0 && hello.Nonce == nil:
		c.sendError("the client requires a secret, but the server has none")
		return Info{}, errors.New("the client has a secret, but the server does not use one")
	case len(secret) > 0:
		if len(hello.Nonce) != NonceSize {
			c.sendError("authentication failed")
			return Info{}, fmt.Errorf("authentication failed: server nonce is %d bytes, want %d", len(hello.Nonce), NonceSize)
		}
		clientNonce = newNonce()
		reply.Nonce = clientNonce
		reply.MAC = mac(secret, clientLabel, hello.Nonce, clientNonce)
	}
	if err := c.send(reply); err != nil {
		return Info{}, fmt.Errorf("sending hello to server: %w", err)
	}

	final, err := c.recvHello("server")
	if err != nil {
		return Info{}, err
	}
	if len(secret) > 0 && !hmac.Equal(final.MAC, mac(secret, serverLabel, clientNonce, hello.Nonce)) {
		c.sendError("authentication failed")
		return Info{}, errors.New("authentication failed: the server does not know the secret")
	}
	return *hello.Info, nil
}

func serverHandshake(c *Conn, secret []byte, info Info) (Info, error) {
	hello := &Msg{Kind: KindHello, Version: Version, Info: &info}
	var serverNonce []byte
	if len(secret) > 0 {
		serverNonce = newNonce()
		hello.Nonce = serverNonce
	}
	if err := c.send(hello); err != nil {
		return Info{}, fmt.Errorf("sending hello to client: %w", err)
	}

	reply, err := c.recvHello("client")
	if err != nil {
		return Info{}, err
	}
	final := &Msg{Kind: KindHello, Version: Version, Info: &info}
	if len(secret) > 0 {
		switch {
		case reply.MAC == nil:
			c.sendError("authentication failed")
			return Info{}, errors.New("authentication failed: the client sent no MAC")
		case len(reply.Nonce) != NonceSize:
			c.sendError("authentication failed")
			return Info{}, fmt.Errorf("authentication failed: client nonce is %d bytes, want %d", len(reply.Nonce), NonceSize)
		case !hmac.Equal(reply.MAC, mac(secret, clientLabel, serverNonce, reply.Nonce)):
			c.sendError("authentication failed")
			return Info{}, errors.New("authentication failed: the client does not know the secret")
		}
		final.MAC = mac(secret, serverLabel, reply.Nonce, serverNonce)
	} else if reply.MAC != nil {
		// A client with a secret notices first that the server has none
		// and sends an Error; this is a client that did not.
		c.sendError("the client requires a secret, but the server has none")
		return Info{}, errors.New("the client sent a MAC, but the server has no secret")
	}
	if err := c.send(final); err != nil {
		return Info{}, fmt.Errorf("sending hello to client: %w", err)
	}
	return *reply.Info, nil
}

// recvHello receives a Hello message from the peer (named by from) and checks
// its version and info. An Error message from the peer becomes an error.
func (c *Conn) recvHello(from string) (*Msg, error) {
	m, err := c.recv()
	if err != nil {
		return nil, fmt.Errorf("waiting for hello from %s: %w", from, err)
	}
	switch m.Kind {
	case KindHello:
	case KindError:
		return nil, fmt.Errorf("%s reported: %s", from, m.Message)
	default:
		c.sendError(fmt.Sprintf("got %v message, want Hello", m.Kind))
		return nil, fmt.Errorf("got %v message from %s, want Hello", m.Kind, from)
	}
	if m.Version != Version {
		self := "client"
		if from == "client" {
			self = "server"
		}
		c.sendError(fmt.Sprintf("protocol version mismatch: the %s speaks version %d, the %s speaks version %d", self, Version, from, m.Version))
		return nil, fmt.Errorf("protocol version mismatch: the %s speaks version %d, the %s speaks version %d", from, m.Version, self, Version)
	}
	if m.Info == nil {
		c.sendError("hello lacks info")
		return nil, fmt.Errorf("hello from %s lacks info", from)
	}
	return m, nil
}

// sendError tells the peer why the handshake failed. It is best effort: the
// handshake fails anyway.
func (c *Conn) sendError(msg string) {
	_ = c.send(&Msg{Kind: KindError, Message: msg})
}

// withContext runs the handshake f, making it stop when ctx is done (see
// ClientHandshake), and adds the "wire: handshake: " prefix to its error.
func (c *Conn) withContext(ctx context.Context, f func() error) error {
	if err := ctx.Err(); err != nil {
		return fmt.Errorf("wire: handshake: %w", err)
	}
	fired := make(chan struct{})
	stop := context.AfterFunc(ctx, func() {
		defer close(fired)
		if !c.setDeadline(time.Unix(1, 0)) {
			c.Close()
		}
	})
	err := f()
	if !stop() {
		// ctx was done before f returned, or just after: either way the
		// stream has been interrupted.
		<-fired
		return fmt.Errorf("wire: handshake: %w", ctx.Err())
	}
	if err != nil {
		return fmt.Errorf("wire: handshake: %w", err)
	}
	return nil
}

// setDeadline sets the deadline of both ends of the stream and reports
// whether they both support it.
func (c *Conn) setDeadline(t time.Time) bool {
	type deadliner interface{ SetDeadline(time.Time) error }
	ok := true
	for _, x := range c.ends() {
		d, is := x.(deadliner)
		if !is || d.SetDeadline(t) != nil {
			ok = false
		}
	}
	return ok
}

func newNonce() []byte {
	b := make([]byte, NonceSize)
	rand.Read(b) // never fails; see its documentation
	return b
}

// mac returns HMAC-SHA256(secret, label ‖ a ‖ b).
func mac(secret []byte, label string, a, b []byte) []byte {
	h := hmac.New(sha256.New, secret)
	h.Write([]byte(label))
	h.Write(a)
	h.Write(b)
	return h.Sum(nil)
}
