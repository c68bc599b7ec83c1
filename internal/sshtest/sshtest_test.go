package sshtest

import (
	"bytes"
	"errors"
	"io"
	"net"
	"os"
	"strings"
	"testing"
	"time"

	gossh "golang.org/x/crypto/ssh"
	"golang.org/x/crypto/ssh/knownhosts"
)

// dial logs in to addr with signer, checking the host key against the
// known_hosts file kh.
func dial(t *testing.T, addr, user string, signer gossh.Signer, kh string) (*gossh.Client, error) {
	t.Helper()
	cb, err := knownhosts.New(kh)
	if err != nil {
		t.Fatal(err)
	}
	return gossh.Dial("tcp", addr, &gossh.ClientConfig{
		User:            user,
		Auth:            []gossh.AuthMethod{gossh.PublicKeys(signer)},
		HostKeyCallback: cb,
		Timeout:         10 * time.Second,
	})
}

func writeKnownHosts(t *testing.T, line string) string {
	t.Helper()
	f := t.TempDir() + "/known_hosts"
	if err := os.WriteFile(f, []byte(line+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	return f
}

func TestServerExec(t *testing.T) {
	signer, _ := GenerateKey(t, t.TempDir(), "id", "")
	s := StartServer(t, ServerConfig{AuthorizedKeys: []gossh.PublicKey{signer.PublicKey()}})
	c, err := dial(t, s.Addr, "anyone", signer, writeKnownHosts(t, s.KnownHostsLine()))
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()

	tests := []struct {
		cmd, stdin     string
		stdout, stderr string
		code           int
	}{
		{cmd: "echo hello", stdout: "hello\n"},
		{cmd: "echo oops >&2; exit 3", stderr: "oops\n", code: 3},
		{cmd: "tr a-z A-Z", stdin: "abc", stdout: "ABC"},
	}
	for _, tt := range tests {
		sess, err := c.NewSession()
		if err != nil {
			t.Fatal(err)
		}
		var stdout, stderr bytes.Buffer
		sess.Stdout, sess.Stderr = &stdout, &stderr
		sess.Stdin = strings.NewReader(tt.stdin)
		err = sess.Run(tt.cmd)
		code := 0
		var ee *gossh.ExitError
		if errors.As(err, &ee) {
			code = ee.ExitStatus()
		} else if err != nil {
			t.Fatalf("%q: %v", tt.cmd, err)
		}
		if stdout.String() != tt.stdout || stderr.String() != tt.stderr || code != tt.code {
			t.Errorf("%q: got (%q, %q, %d), want (%q, %q, %d)", tt.cmd, stdout.String(), stderr.String(), code, tt.stdout, tt.stderr, tt.code)
		}
		sess.Close()
	}
}

func TestServerRejectsUnknownKey(t *testing.T) {
	dir := t.TempDir()
	good, _ := GenerateKey(t, dir, "good", "")
	bad, _ := GenerateKey(t, dir, "bad", "")
	s := StartServer(t, ServerConfig{AuthorizedKeys: []gossh.PublicKey{good.PublicKey()}})
	_, err := dial(t, s.Addr, "anyone", bad, writeKnownHosts(t, s.KnownHostsLine()))
	if err == nil || !strings.Contains(err.Error(), "unable to authenticate") {
		t.Fatalf("login with an unauthorized key: got %v, want an authentication error", err)
	}
}

func TestServerDirectTCPIP(t *testing.T) {
	signer, _ := GenerateKey(t, t.TempDir(), "id", "")
	s := StartServer(t, ServerConfig{AuthorizedKeys: []gossh.PublicKey{signer.PublicKey()}})
	echo := startEcho(t)
	c, err := dial(t, s.Addr, "anyone", signer, writeKnownHosts(t, s.KnownHostsLine()))
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	conn, err := c.Dial("tcp", echo)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	if _, err := conn.Write([]byte("ping")); err != nil {
		t.Fatal(err)
	}
	buf := make([]byte, 4)
	if _, err := io.ReadFull(conn, buf); err != nil || string(buf) != "ping" {
		t.Fatalf("echo through direct-tcpip: got %q, %v", buf, err)
	}
	if _, err := c.Dial("tcp", "192.0.2.1:80"); err == nil {
		t.Fatal("forwarding to a non-loopback address was allowed")
	}
}

// startEcho starts a TCP echo server on 127.0.0.1 and returns its address.
func startEcho(t *testing.T) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	done := make(chan struct{})
	go func() {
		defer close(done)
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			go func() {
				defer c.Close()
				io.Copy(c, c)
			}()
		}
	}()
	t.Cleanup(func() {
		ln.Close()
		<-done
	})
	return ln.Addr().String()
}

func TestStartSSHD(t *testing.T) {
	d := StartSSHD(t)
	data, err := os.ReadFile(d.KeyFile)
	if err != nil {
		t.Fatal(err)
	}
	signer, err := gossh.ParsePrivateKey(data)
	if err != nil {
		t.Fatal(err)
	}
	c, err := dial(t, d.Addr, d.User, signer, d.KnownHosts)
	if err != nil {
		t.Fatalf("login to sshd: %v", err)
	}
	defer c.Close()
	sess, err := c.NewSession()
	if err != nil {
		t.Fatal(err)
	}
	defer sess.Close()
	out, err := sess.Output(`printf '%s %s %s' "$HOME" "$(id -un)" "${PATH%%:*}"`)
	if err != nil {
		t.Fatal(err)
	}
	if want := d.Home + " " + d.User + " " + d.Home + "/bin"; string(out) != want {
		t.Errorf("remote $HOME, user and first PATH entry: got %q, want %q", out, want)
	}
	cfg, err := os.ReadFile(d.ConfigFile)
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"Host testhost", "IdentityFile", "UserKnownHostsFile", "StrictHostKeyChecking yes"} {
		if !strings.Contains(string(cfg), want) {
			t.Errorf("client config lacks %q:\n%s", want, cfg)
		}
	}
}

func TestRequireSkips(t *testing.T) {
	t.Setenv(EnvIntegration, "")
	var skipped bool
	t.Run("missing", func(t *testing.T) {
		defer func() { skipped = t.Skipped() }()
		Require(t, "/nonexistent/pathos-star-engine", "some-package")
		t.Error("Require returned for a missing program")
	})
	if !skipped {
		t.Error("Require did not skip the test of a missing program")
	}
}
