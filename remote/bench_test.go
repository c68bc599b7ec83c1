package remote

import (
	"context"
	"io"
	"testing"

	"github.com/pathos-star/pathos-star/internal/sshtest"
)

// benchHost connects to a fresh sshd.
func benchHost(b *testing.B) (*Client, *Host) {
	b.Helper()
	d := sshtest.StartSSHD(b)
	c := NewClient(WithConfigFile(d.ConfigFile), WithAgent(""))
	b.Cleanup(func() { c.Close() })
	h, err := c.Connect(context.Background(), d.Alias)
	if err != nil {
		b.Fatal(err)
	}
	return c, h
}

// BenchmarkSSHDRun measures one Run of a trivial command on an open
// connection: a session, the pid wrapper and /bin/sh.
func BenchmarkSSHDRun(b *testing.B) {
	_, h := benchHost(b)
	ctx := context.Background()
	for b.Loop() {
		if _, err := h.Run(ctx, "true", nil); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkSSHDConnect measures a fresh connection and login.
func BenchmarkSSHDConnect(b *testing.B) {
	d := sshtest.StartSSHD(b)
	ctx := context.Background()
	for b.Loop() {
		c := NewClient(WithConfigFile(d.ConfigFile), WithAgent(""))
		if _, err := c.Connect(ctx, d.Alias); err != nil {
			b.Fatal(err)
		}
		c.Close()
	}
}

// BenchmarkSSHDStreamRoundTrip measures a 64-byte message to a remote cat
// and back over one Exec stream, the path of a remote worker's protocol.
func BenchmarkSSHDStreamRoundTrip(b *testing.B) {
	_, h := benchHost(b)
	s, err := h.Exec(context.Background(), "cat")
	if err != nil {
		b.Fatal(err)
	}
	defer s.Close()
	msg := make([]byte, 64)
	buf := make([]byte, 64)
	for b.Loop() {
		if _, err := s.Write(msg); err != nil {
			b.Fatal(err)
		}
		if _, err := io.ReadFull(s, buf); err != nil {
			b.Fatal(err)
		}
	}
}
