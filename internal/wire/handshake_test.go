package wire

import (
	"bytes"
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"errors"
	"io"
	"net"
	"os"
	"strings"
	"testing"
	"time"
)

// handshake runs ClientHandshake on a and ServerHandshake on b at once and
// returns what each returned.
func handshake(ctx context.Context, a, b *Conn, clientSecret, serverSecret []byte, clientInfo, serverInfo Info) (clientPeer, serverPeer Info, clientErr, serverErr error) {
	done := make(chan struct{})
	go func() {
		defer close(done)
		serverPeer, serverErr = ServerHandshake(ctx, b, serverSecret, serverInfo)
	}()
	clientPeer, clientErr = ClientHandshake(ctx, a, clientSecret, clientInfo)
	<-done
	return
}

func TestHandshake(t *testing.T) {
	for _, tc := range []struct {
		name                    string
		clientSecret, serverSec string
		wantClient, wantServer  string // error substrings; "" means success
	}{
		{"no secret", "", "", "", ""},
		{"same secret", "s3cret", "s3cret", "", ""},
		{"wrong secret", "s3cret", "S3cret", "wire: handshake: server reported: authentication failed",
			"wire: handshake: authentication failed: the client does not know the secret"},
		{"client secret only", "s3cret", "", "wire: handshake: the client has a secret, but the server does not use one",
			"wire: handshake: client reported: the client requires a secret, but the server has none"},
		{"server secret only", "", "s3cret", "wire: handshake: the server requires a secret, but the client has none",
			"wire: handshake: client reported: the client has no secret, but the server requires one"},
	} {
		for _, tr := range transports {
			t.Run(tc.name+"/"+tr.name, func(t *testing.T) {
				a, b := tr.pair(t, Limits{})
				ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
				clientInfo := LocalInfo(RoleDriver)
				serverInfo := Info{Role: RoleWorker, PID: 17, Hostname: "worker-host", GOOS: "plan9", GOARCH: "arm64", NumCPU: 64, Version: "v9.9.9"}
				clientPeer, serverPeer, clientErr, serverErr := handshake(ctx, a, b, []byte(tc.clientSecret), []byte(tc.serverSec), clientInfo, serverInfo)
				// Ending ctx after a handshake must not disturb the Conn.
				cancel()

				checkErr(t, "ClientHandshake", clientErr, tc.wantClient)
				checkErr(t, "ServerHandshake", serverErr, tc.wantServer)
				if clientErr != nil || serverErr != nil {
					return
				}
				if clientPeer != serverInfo {
					t.Errorf("client got peer %+v, want %+v", clientPeer, serverInfo)
				}
				if serverPeer != clientInfo {
					t.Errorf("server got peer %+v, want %+v", serverPeer, clientInfo)
				}
				// The Conn works in both directions afterwards.
				for _, p := range [][2]*Conn{{a, b}, {b, a}} {
					if err := p[0].Send(&Msg{Kind: KindPing, Seq: 42}); err != nil {
						t.Fatal(err)
					}
					if m, err := p[1].Recv(); err != nil || m.Kind != KindPing || m.Seq != 42 {
						t.Fatalf("Recv after handshake = %+v, %v; want Ping 42", m, err)
					}
				}
			})
		}
	}
}

func checkErr(t *testing.T, what string, err error, want string) {
	t.Helper()
	switch {
	case want == "" && err != nil:
		t.Errorf("%s: %v", what, err)
	case want != "" && err == nil:
		t.Errorf("%s succeeded, want error %q", what, want)
	case want != "" && !strings.Contains(err.Error(), want):
		t.Errorf("%s error = %q, want %q", what, err, want)
	}
}

func TestHandshakeVersionMismatch(t *testing.T) {
	futureHello := &Msg{Kind: KindHello, Version: Version + 1, Info: &Info{Role: RoleWorker}}
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()

	t.Run("server is newer", func(t *testing.T) {
		a, b := pipeConns(t, Limits{})
		if err := b.Send(futureHello); err != nil {
			t.Fatal(err)
		}
		_, err := ClientHandshake(ctx, a, nil, LocalInfo(RoleDriver))
		checkErr(t, "ClientHandshake", err, "wire: handshake: protocol version mismatch: the server speaks version 2, the client speaks version 1")
		m, err := b.Recv()
		if err != nil || m.Kind != KindError || m.Message != "protocol version mismatch: the client speaks version 1, the server speaks version 2" {
			t.Errorf("server got %+v, %v; want Error naming both versions", m, err)
		}
	})

	t.Run("client is newer", func(t *testing.T) {
		a, b := pipeConns(t, Limits{})
		errc := make(chan error, 1)
		go func() {
			_, err := ServerHandshake(ctx, b, nil, LocalInfo(RoleWorker))
			errc <- err
		}()
		if m, err := a.Recv(); err != nil || m.Kind != KindHello {
			t.Fatalf("client got %+v, %v; want Hello", m, err)
		}
		if err := a.Send(futureHello); err != nil {
			t.Fatal(err)
		}
		checkErr(t, "ServerHandshake", <-errc, "wire: handshake: protocol version mismatch: the client speaks version 2, the server speaks version 1")
		m, err := a.Recv()
		if err != nil || m.Kind != KindError || m.Message != "protocol version mismatch: the server speaks version 1, the client speaks version 2" {
			t.Errorf("client got %+v, %v; want Error naming both versions", m, err)
		}
	})
}

// TestHandshakeMAC plays the client by hand, computing the MACs exactly as
// the package documentation specifies, against the real ServerHandshake.
func TestHandshakeMAC(t *testing.T) {
	secret := []byte("correct horse battery staple")
	hmacOf := func(parts ...[]byte) []byte {
		h := hmac.New(sha256.New, secret)
		for _, p := range parts {
			h.Write(p)
		}
		return h.Sum(nil)
	}
	a, b := pipeConns(t, Limits{})
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	errc := make(chan error, 1)
	go func() {
		_, err := ServerHandshake(ctx, b, secret, LocalInfo(RoleServer))
		errc <- err
	}()

	hello, err := a.Recv()
	if err != nil {
		t.Fatal(err)
	}
	if hello.Kind != KindHello || len(hello.Nonce) != NonceSize || hello.MAC != nil {
		t.Fatalf("server hello = %+v, want a Hello with a %d-byte nonce and no MAC", hello, NonceSize)
	}
	clientNonce := bytes.Repeat([]byte{7}, NonceSize)
	if err := a.Send(&Msg{Kind: KindHello, Version: Version, Info: &Info{Role: RoleDriver}, Nonce: clientNonce,
		MAC: hmacOf([]byte("pathos-star client"), hello.Nonce, clientNonce)}); err != nil {
		t.Fatal(err)
	}
	final, err := a.Recv()
	if err != nil {
		t.Fatal(err)
	}
	if want := hmacOf([]byte("pathos-star server"), clientNonce, hello.Nonce); final.Kind != KindHello || !bytes.Equal(final.MAC, want) {
		t.Errorf("server's final hello = %+v, want MAC %x", final, want)
	}
	if err := <-errc; err != nil {
		t.Errorf("ServerHandshake: %v", err)
	}
}

// recorder is a writer that keeps a copy of what it passes on.
type recorder struct {
	w   io.Writer
	buf bytes.Buffer
}

func (r *recorder) Write(p []byte) (int, error) {
	r.buf.Write(p)
	return r.w.Write(p)
}

func TestHandshakeSecretNotSent(t *testing.T) {
	secret := []byte("the-secret-never-crosses-the-wire")
	r1, w1, err := os.Pipe()
	if err != nil {
		t.Fatal(err)
	}
	r2, w2, err := os.Pipe()
	if err != nil {
		t.Fatal(err)
	}
	wa, wb := &recorder{w: w1}, &recorder{w: w2}
	a, b := NewConn(r2, wa, Limits{}), NewConn(r1, wb, Limits{})
	defer func() { a.Close(); b.Close(); w1.Close(); w2.Close() }()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	if _, _, errA, errB := handshake(ctx, a, b, secret, secret, LocalInfo(RoleDriver), LocalInfo(RoleServer)); errA != nil || errB != nil {
		t.Fatalf("handshake: %v, %v", errA, errB)
	}
	for _, rec := range []*recorder{wa, wb} {
		if rec.buf.Len() == 0 {
			t.Fatal("nothing was recorded")
		}
		if bytes.Contains(rec.buf.Bytes(), secret) {
			t.Errorf("the secret was sent: %q", rec.buf.Bytes())
		}
	}
}

// silentPeers are streams whose other end never says anything, for
// ClientHandshake and ServerHandshake to wait on in vain.
var silentPeers = []struct {
	name string
	conn func(t *testing.T) *Conn
}{
	{"net.Pipe", func(t *testing.T) *Conn {
		x, y := net.Pipe() // synchronous: even the server's first write blocks
		t.Cleanup(func() { x.Close(); y.Close() })
		return NewConn(x, x, Limits{})
	}},
	{"tcp", func(t *testing.T) *Conn {
		x, _ := tcpPair(t)
		return NewConn(x, x, Limits{})
	}},
	{"os.Pipe", func(t *testing.T) *Conn {
		r, w, err := os.Pipe()
		if err != nil {
			t.Fatal(err)
		}
		r2, w2, err := os.Pipe()
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { r.Close(); w.Close(); r2.Close(); w2.Close() })
		return NewConn(r, w2, Limits{})
	}},
	{"io.Pipe without deadlines", func(t *testing.T) *Conn {
		r, w := io.Pipe()
		r2, w2 := io.Pipe()
		t.Cleanup(func() { r.Close(); w.Close(); r2.Close(); w2.Close() })
		return NewConn(r, w2, Limits{})
	}},
}

// TestHandshakeSilentPeer checks that a handshake with a peer that never
// answers ends with ctx's error once ctx is done.
func TestHandshakeSilentPeer(t *testing.T) {
	sides := []struct {
		name string
		f    func(context.Context, *Conn, []byte, Info) (Info, error)
	}{
		{"client", ClientHandshake},
		{"server", ServerHandshake},
	}
	for _, peer := range silentPeers {
		for _, side := range sides {
			for _, secret := range []string{"", "s3cret"} {
				t.Run(peer.name+"/"+side.name+"/secret="+secret, func(t *testing.T) {
					c := peer.conn(t)
					ctx, cancel := context.WithTimeout(context.Background(), 50*time.Millisecond)
					defer cancel()
					errc := make(chan error, 1)
					go func() {
						_, err := side.f(ctx, c, []byte(secret), LocalInfo(RoleDriver))
						errc <- err
					}()
					select {
					case err := <-errc:
						if !errors.Is(err, context.DeadlineExceeded) || !strings.HasPrefix(err.Error(), "wire: handshake: ") {
							t.Errorf("handshake error = %v, want one wrapping context.DeadlineExceeded", err)
						}
					case <-time.After(time.Minute):
						t.Fatal("handshake still waiting a minute after its context expired")
					}
				})
			}
		}
	}
}

func TestHandshakeCancel(t *testing.T) {
	a, _ := tcpConns(t, Limits{})
	ctx, cancel := context.WithCancel(context.Background())
	errc := make(chan error, 1)
	go func() {
		_, err := ClientHandshake(ctx, a, nil, LocalInfo(RoleDriver))
		errc <- err
	}()
	cancel()
	if err := <-errc; !errors.Is(err, context.Canceled) {
		t.Errorf("handshake error = %v, want one wrapping context.Canceled", err)
	}

	// A context that is done already stops the handshake before it starts.
	_, b := tcpConns(t, Limits{})
	if _, err := ServerHandshake(ctx, b, nil, LocalInfo(RoleWorker)); !errors.Is(err, context.Canceled) {
		t.Errorf("handshake error = %v, want one wrapping context.Canceled", err)
	}
}

// TestHandshakeBadPeer checks the handshake against peers that send the
// wrong things.
func TestHandshakeBadPeer(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	for _, tc := range []struct {
		name string
		send []*Msg // sent by the fake server before the client starts
		want string
	}{
		{"hangs up", nil, "wire: handshake: waiting for hello from server: EOF"},
		{"not a hello", []*Msg{{Kind: KindPing, Seq: 1}}, "wire: handshake: got Ping message from server, want Hello"},
		{"no info", []*Msg{{Kind: KindHello, Version: Version}}, "wire: handshake: hello from server lacks info"},
		{"short nonce", []*Msg{{Kind: KindHello, Version: Version, Info: &Info{}, Nonce: []byte{1, 2, 3}}},
			"wire: handshake: authentication failed: server nonce is 3 bytes, want 32"},
		{"error", []*Msg{{Kind: KindError, Message: "too many clients"}}, "wire: handshake: server reported: too many clients"},
		{"no MAC", []*Msg{{Kind: KindHello, Version: Version, Info: &Info{}, Nonce: hash(1)}, {Kind: KindHello, Version: Version, Info: &Info{}}},
			"wire: handshake: authentication failed: the server does not know the secret"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			a, b := pipeConns(t, Limits{})
			for _, m := range tc.send {
				if err := b.Send(m); err != nil {
					t.Fatal(err)
				}
			}
			if tc.send == nil {
				b.Close()
			}
			_, err := ClientHandshake(ctx, a, []byte("s3cret"), LocalInfo(RoleDriver))
			checkErr(t, "ClientHandshake", err, tc.want)
		})
	}
}

func TestLocalInfo(t *testing.T) {
	info := LocalInfo(RoleWorker)
	if info.Role != RoleWorker || info.PID != os.Getpid() || info.NumCPU < 1 || info.GOOS == "" || info.GOARCH == "" || info.Version == "" {
		t.Errorf("LocalInfo = %+v", info)
	}
}
