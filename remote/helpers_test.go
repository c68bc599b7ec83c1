package remote

import (
	"context"
	"fmt"
	"io"
	"net"
	"os"
	"path/filepath"
	"syscall"
	"testing"
	"time"

	gossh "golang.org/x/crypto/ssh"

	"github.com/pathos-star/pathos-star/internal/sshtest"
)

// testTimeout bounds every blocking step of a test, so that a bug shows as
// a failure rather than a hang. It is a safety net, not a measurement.
const testTimeout = 60 * time.Second

func testContext(t *testing.T) context.Context {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), testTimeout)
	t.Cleanup(cancel)
	return ctx
}

// unitEnv is an in-process ssh server with a key, a known_hosts file and an
// ssh config whose alias "unit" reaches it.
type unitEnv struct {
	srv        *sshtest.Server
	dir        string
	key        string // authorized private key file
	knownHosts string
	config     string
}

// startUnit starts the in-process server and writes the config: the "unit"
// block followed by extra, in which %[1]s is the directory, %[2]d the
// port, %[3]s the key file and %[4]s the known_hosts file.
func startUnit(t *testing.T, extra string) *unitEnv {
	t.Helper()
	dir := t.TempDir()
	signer, key := sshtest.GenerateKey(t, dir, "id_ed25519", "")
	srv := sshtest.StartServer(t, sshtest.ServerConfig{AuthorizedKeys: []gossh.PublicKey{signer.PublicKey()}})
	e := &unitEnv{srv: srv, dir: dir, key: key, knownHosts: filepath.Join(dir, "known_hosts"), config: filepath.Join(dir, "ssh_config")}
	writeTestFile(t, e.knownHosts, srv.KnownHostsLine()+"\n")
	cfg := fmt.Sprintf(`Host unit
  HostName 127.0.0.1
  Port %[2]d
  IdentityFile %[3]s
  UserKnownHostsFile %[4]s
  IdentitiesOnly yes
`+extra, dir, srv.Port, key, e.knownHosts)
	writeTestFile(t, e.config, cfg)
	return e
}

// client returns a client for the env's config, without the agent, closed
// at the end of the test.
func (e *unitEnv) client(t *testing.T, opts ...Option) *Client {
	t.Helper()
	c := NewClient(append([]Option{WithConfigFile(e.config), WithAgent("")}, opts...)...)
	t.Cleanup(func() { c.Close() })
	return c
}

// connect connects to dest or fails the test.
func connect(t *testing.T, c *Client, dest string) *Host {
	t.Helper()
	h, err := c.Connect(testContext(t), dest)
	if err != nil {
		t.Fatalf("Connect(%q): %v", dest, err)
	}
	return h
}

// run runs cmd or fails the test.
func run(t *testing.T, h *Host, cmd string) *Result {
	t.Helper()
	r, err := h.Run(testContext(t), cmd, nil)
	if err != nil {
		t.Fatalf("Run(%q): %v", cmd, err)
	}
	return r
}

// startEcho starts a TCP echo server on 127.0.0.1 and returns its port.
func startEcho(t *testing.T) int { return sshtest.EchoServer(t) }

// waitDone waits for ch to close, failing the test after testTimeout.
func waitDone(t *testing.T, ch <-chan struct{}, what string) {
	t.Helper()
	select {
	case <-ch:
	case <-time.After(testTimeout):
		t.Fatalf("%s: still waiting after %v", what, testTimeout)
	}
}

// processGone reports whether no process has the given pid on this
// machine (the in-process server runs commands locally).
func processGone(pid int) bool {
	return syscall.Kill(pid, 0) == syscall.ESRCH
}

func readFull(r io.Reader, buf []byte) (int, error) { return io.ReadFull(r, buf) }

// checkTunnel sends bytes through tun to the echo server on echoPort, then
// closes the tunnel and checks that the port refuses connections and the
// live forwarded connection is closed.
func checkTunnel(t *testing.T, tun *Tunnel, echoPort int) {
	t.Helper()
	if tun.Port() <= 0 || tun.RemotePort() != echoPort || tun.Addr() != fmt.Sprintf("127.0.0.1:%d", tun.Port()) {
		t.Errorf("tunnel Port %d RemotePort %d Addr %s", tun.Port(), tun.RemotePort(), tun.Addr())
	}
	var conns []net.Conn
	for i := range 3 {
		c, err := net.Dial("tcp", tun.Addr())
		if err != nil {
			t.Fatalf("dial the tunnel: %v", err)
		}
		defer c.Close()
		conns = append(conns, c)
		msg := fmt.Sprintf("hello %d through the tunnel", i)
		if _, err := c.Write([]byte(msg)); err != nil {
			t.Fatal(err)
		}
		buf := make([]byte, len(msg))
		c.SetReadDeadline(time.Now().Add(testTimeout))
		if _, err := io.ReadFull(c, buf); err != nil || string(buf) != msg {
			t.Fatalf("through the tunnel: got %q, %v; want %q", buf, err, msg)
		}
	}
	if err := tun.Close(); err != nil {
		t.Fatal(err)
	}
	if c, err := net.Dial("tcp", tun.Addr()); err == nil {
		c.Close()
		t.Errorf("tunnel port %d still accepts connections after Close", tun.Port())
	}
	for _, c := range conns {
		c.SetReadDeadline(time.Now().Add(testTimeout))
		if n, err := c.Read(make([]byte, 1)); err == nil {
			t.Errorf("forwarded connection still open after Close (read %d bytes)", n)
		} else if ne, ok := err.(net.Error); ok && ne.Timeout() {
			t.Errorf("forwarded connection not closed by Close")
		}
	}
	if err := tun.Close(); err != nil {
		t.Errorf("second Close: %v", err)
	}
}

// waitExists waits until the file name exists.
func waitExists(t *testing.T, name string) {
	t.Helper()
	ctx := testContext(t)
	for {
		if _, err := os.Stat(name); err == nil {
			return
		}
		select {
		case <-ctx.Done():
			t.Fatalf("waiting for %s: %v", name, ctx.Err())
		case <-time.After(10 * time.Millisecond):
		}
	}
}

// cancelOnFile calls cancel once the file name holds a complete line (the
// remote command has started), or gives up when ctx is done. It runs in
// its own goroutine, so it must not use t.
func cancelOnFile(ctx context.Context, cancel context.CancelFunc, name string) {
	for {
		if data, err := os.ReadFile(name); err == nil && len(data) > 0 && data[len(data)-1] == '\n' {
			cancel()
			return
		}
		select {
		case <-ctx.Done():
			return
		case <-time.After(10 * time.Millisecond):
		}
	}
}
