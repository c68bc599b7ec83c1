package remote

import (
	"context"
	"crypto/ed25519"
	"crypto/rand"
	"encoding/pem"
	"errors"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	gossh "golang.org/x/crypto/ssh"
	"golang.org/x/crypto/ssh/agent"

	"github.com/pathos-star/pathos-star/internal/sshtest"
)

func TestConnectAndRun(t *testing.T) {
	e := startUnit(t, "")
	h := connect(t, e.client(t), "unit")
	tests := []struct {
		cmd, stdin     string
		stdout, stderr string
		code           int
	}{
		{cmd: "echo hello", stdout: "hello\n"},
		{cmd: "echo oops >&2; exit 3", stderr: "oops\n", code: 3},
		{cmd: "tr a-z A-Z", stdin: "abc", stdout: "ABC"},
		{cmd: "cat", stdout: ""}, // empty input: EOF at once
	}
	for _, tt := range tests {
		var stdin []byte
		if tt.stdin != "" {
			stdin = []byte(tt.stdin)
		}
		r, err := h.Run(testContext(t), tt.cmd, stdin)
		if err != nil {
			t.Fatalf("Run(%q): %v", tt.cmd, err)
		}
		if string(r.Stdout) != tt.stdout || string(r.Stderr) != tt.stderr || r.Code != tt.code {
			t.Errorf("Run(%q) = (%q, %q, %d), want (%q, %q, %d)", tt.cmd, r.Stdout, r.Stderr, r.Code, tt.stdout, tt.stderr, tt.code)
		}
	}
}

func TestConnectReusesConnection(t *testing.T) {
	e := startUnit(t, "")
	c := e.client(t)
	h1 := connect(t, c, "unit")
	h2 := connect(t, c, "unit")
	if h1 != h2 {
		t.Error("second Connect returned a new Host")
	}
	// Many goroutines at once share the one connection.
	var wg sync.WaitGroup
	hosts := make([]*Host, 16)
	errs := make([]error, 16)
	for i := range hosts {
		wg.Add(1)
		go func() {
			defer wg.Done()
			hosts[i], errs[i] = c.Connect(testContext(t), "unit")
			if errs[i] == nil {
				_, errs[i] = hosts[i].Run(testContext(t), "true", nil)
			}
		}()
	}
	wg.Wait()
	for i := range hosts {
		if errs[i] != nil {
			t.Fatalf("goroutine %d: %v", i, errs[i])
		}
		if hosts[i] != h1 {
			t.Errorf("goroutine %d got another Host", i)
		}
	}
	if n := e.srv.Accepted(); n != 1 {
		t.Errorf("server accepted %d connections, want 1", n)
	}
}

func TestConcurrentFirstConnect(t *testing.T) {
	e := startUnit(t, "")
	c := e.client(t)
	var wg sync.WaitGroup
	hosts := make([]*Host, 12)
	for i := range hosts {
		wg.Add(1)
		go func() {
			defer wg.Done()
			h, err := c.Connect(testContext(t), "unit")
			if err != nil {
				t.Error(err)
			}
			hosts[i] = h
		}()
	}
	wg.Wait()
	for i := range hosts {
		if hosts[i] != hosts[0] {
			t.Fatalf("concurrent Connect %d got another Host", i)
		}
	}
	if n := e.srv.Accepted(); n != 1 {
		t.Errorf("server accepted %d connections for concurrent first Connects, want 1", n)
	}
}

func TestRedialAfterConnectionLoss(t *testing.T) {
	e := startUnit(t, "")
	c := e.client(t)
	h1 := connect(t, c, "unit")
	e.srv.DropConnections()
	waitDone(t, h1.Done(), "connection end after the server dropped it")
	if h1.Err() == nil {
		t.Error("Err() is nil after the connection was lost")
	}
	if _, err := h1.Run(testContext(t), "true", nil); err == nil {
		t.Error("Run on a lost connection succeeded")
	}
	h2 := connect(t, c, "unit")
	if h2 == h1 {
		t.Fatal("Connect returned the dead Host")
	}
	if r := run(t, h2, "echo again"); string(r.Stdout) != "again\n" {
		t.Errorf("Run after redial: %q", r.Stdout)
	}
	if n := e.srv.Accepted(); n != 2 {
		t.Errorf("server accepted %d connections, want 2", n)
	}
}

func TestClientClose(t *testing.T) {
	e := startUnit(t, "")
	c := e.client(t)
	h := connect(t, c, "unit")
	if err := c.Close(); err != nil {
		t.Fatal(err)
	}
	waitDone(t, h.Done(), "host end after Client.Close")
	if _, err := c.Connect(testContext(t), "unit"); !errors.Is(err, ErrClientClosed) {
		t.Errorf("Connect after Close: got %v, want ErrClientClosed", err)
	}
	if err := c.Close(); err != nil {
		t.Errorf("second Close: %v", err)
	}
}

func TestConnectTimeout(t *testing.T) {
	port := sshtest.SilentServer(t)
	e := startUnit(t, fmt.Sprintf(`
Host silent silent-config
  HostName 127.0.0.1
  Port %d
  IdentityFile %%[3]s
  UserKnownHostsFile %%[4]s
Host silent-config
  ConnectTimeout 1
`, port))
	tests := []struct {
		dest string
		opts []Option
		want string
	}{
		{"silent", []Option{WithConnectTimeout(200 * time.Millisecond)}, "timed out after 200ms"},
		{"silent-config", nil, "timed out after 1s"},
	}
	for _, tt := range tests {
		c := e.client(t, tt.opts...)
		// No deadline on ctx: only the connect timeout can end this.
		_, err := c.Connect(context.Background(), tt.dest)
		if err == nil || !strings.Contains(err.Error(), tt.want) || !strings.Contains(err.Error(), fmt.Sprintf("%q", tt.dest)) {
			t.Errorf("Connect(%q) to a silent listener: got %v, want an error naming the host and containing %q", tt.dest, err, tt.want)
		}
	}
}

func TestConnectCancelled(t *testing.T) {
	port := sshtest.SilentServer(t)
	e := startUnit(t, fmt.Sprintf("Host silent\n  HostName 127.0.0.1\n  Port %d\n  IdentityFile %%[3]s\n", port))
	c := e.client(t)
	ctx, cancel := context.WithCancel(context.Background())
	errc := make(chan error, 1)
	go func() {
		_, err := c.Connect(ctx, "silent")
		errc <- err
	}()
	cancel()
	select {
	case err := <-errc:
		if !errors.Is(err, context.Canceled) {
			t.Errorf("cancelled Connect: got %v, want context.Canceled", err)
		}
	case <-time.After(testTimeout):
		t.Fatal("cancelled Connect did not return")
	}
}

func TestConnectRefused(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	port := ln.Addr().(*net.TCPAddr).Port
	ln.Close()
	e := startUnit(t, fmt.Sprintf("Host closed\n  HostName 127.0.0.1\n  Port %d\n  IdentityFile %%[3]s\n", port))
	_, err = e.client(t).Connect(testContext(t), "closed")
	if err == nil || !strings.Contains(err.Error(), `connect to "closed"`) || !strings.Contains(err.Error(), "refused") {
		t.Errorf("Connect to a closed port: got %v, want a refusal naming the host", err)
	}
}

func TestUnknownHostKey(t *testing.T) {
	e := startUnit(t, `
Host unknown
  HostName 127.0.0.1
  Port %[2]d
  IdentityFile %[3]s
  UserKnownHostsFile %[1]s/empty_known_hosts
`)
	writeTestFile(t, filepath.Join(e.dir, "empty_known_hosts"), "")
	_, err := e.client(t).Connect(testContext(t), "unknown")
	var hk *HostKeyError
	if !errors.As(err, &hk) || hk.Changed {
		t.Fatalf("Connect to a host missing from known_hosts: got %v, want an unknown-host HostKeyError", err)
	}
	for _, want := range []string{`"unknown"`, "is unknown", fmt.Sprintf("ssh-keyscan -p %d 127.0.0.1", e.srv.Port), "accept-new", "empty_known_hosts"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("unknown host error %q lacks %q", err, want)
		}
	}
}

func TestChangedHostKey(t *testing.T) {
	e := startUnit(t, "")
	other, _ := sshtest.GenerateKey(t, t.TempDir(), "other", "")
	line := fmt.Sprintf("[127.0.0.1]:%d %s", e.srv.Port, gossh.MarshalAuthorizedKey(other.PublicKey()))
	writeTestFile(t, e.knownHosts, line)
	for _, strict := range []string{"yes", "accept-new", "no"} {
		cfg := fmt.Sprintf("Host unit\n  StrictHostKeyChecking %s\n", strict)
		orig, _ := os.ReadFile(e.config)
		writeTestFile(t, e.config, cfg+string(orig))
		_, err := e.client(t).Connect(testContext(t), "unit")
		var hk *HostKeyError
		if !errors.As(err, &hk) || !hk.Changed {
			t.Fatalf("StrictHostKeyChecking %s, changed key: got %v, want a changed-key HostKeyError", strict, err)
		}
		for _, want := range []string{"CHANGED", e.knownHosts, "ssh-keygen"} {
			if !strings.Contains(err.Error(), want) {
				t.Errorf("changed key error %q lacks %q", err, want)
			}
		}
		writeTestFile(t, e.config, string(orig))
	}
	data, _ := os.ReadFile(e.knownHosts)
	if string(data) != line {
		t.Errorf("known_hosts was modified after a changed key:\n%s", data)
	}
}

func TestAcceptNewRecordsKey(t *testing.T) {
	e := startUnit(t, `
Host fresh
  HostName 127.0.0.1
  Port %[2]d
  IdentityFile %[3]s
  UserKnownHostsFile %[1]s/sub/known_hosts
  StrictHostKeyChecking accept-new
Host fresh-strict
  HostName 127.0.0.1
  Port %[2]d
  IdentityFile %[3]s
  UserKnownHostsFile %[1]s/sub/known_hosts
`)
	kh := filepath.Join(e.dir, "sub", "known_hosts")
	h := connect(t, e.client(t), "fresh")
	run(t, h, "true")
	data, err := os.ReadFile(kh)
	if err != nil {
		t.Fatalf("accept-new did not write known_hosts: %v", err)
	}
	if string(data) != e.srv.KnownHostsLine()+"\n" {
		t.Errorf("known_hosts = %q, want %q", data, e.srv.KnownHostsLine()+"\n")
	}
	// The recorded key now satisfies strict checking, and a second
	// accept-new connection does not add it twice.
	connect(t, e.client(t), "fresh-strict")
	connect(t, e.client(t), "fresh")
	if data2, _ := os.ReadFile(kh); string(data2) != string(data) {
		t.Errorf("known_hosts changed on reconnect: %q", data2)
	}
}

func TestHostKeyAlgorithms(t *testing.T) {
	e := startUnit(t, "")
	// Add an RSA line for the same host: both types are asked for.
	rsaLine := fmt.Sprintf("[127.0.0.1]:%d ssh-rsa AAAAB3NzaC1yc2EAAAADAQABAAAAgQC7vbqajDhA+17WlLSoYNVHNDzbOaNdtsCbl5BnRZrUSVhkIS1lWg9xE0HtAUh8Sr0UTbG2i9xgn3NUqvYZdqxTiKmIxdJWKhbS3Zft6WkF9aWFyRLAKhD4DLTJbqGVlXS3QAxZZoIP3nBvO3xb8zLw39aTVBq8Bkp6ds8xSjbyPw==\n", e.srv.Port)
	orig, _ := os.ReadFile(e.knownHosts)
	writeTestFile(t, e.knownHosts, string(orig)+rsaLine)
	c := e.client(t)
	hc, err := c.Resolve("unit")
	if err != nil {
		t.Fatal(err)
	}
	_, algos, err := c.hostKeyCheck(hc)
	if err != nil {
		t.Fatal(err)
	}
	want := []string{gossh.KeyAlgoED25519, gossh.KeyAlgoRSASHA512, gossh.KeyAlgoRSASHA256, gossh.KeyAlgoRSA}
	if strings.Join(algos, ",") != strings.Join(want, ",") {
		t.Errorf("host key algorithms = %v, want %v", algos, want)
	}
	connect(t, c, "unit") // the ed25519 key still verifies
}

func TestLoginRefused(t *testing.T) {
	e := startUnit(t, `
Host wrongkey
  HostName 127.0.0.1
  Port %[2]d
  User alice
  IdentityFile %[1]s/wrong
  UserKnownHostsFile %[4]s
`)
	sshtest.GenerateKey(t, e.dir, "wrong", "")
	_, err := e.client(t).Connect(testContext(t), "wrongkey")
	wrong := filepath.Join(e.dir, "wrong")
	for _, want := range []string{`connect to "wrongkey" (alice@127.0.0.1:`, `login as "alice" refused`, "tried " + wrong} {
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("login with an unauthorized key: got %v, want an error containing %q", err, want)
		}
	}
}

func TestEncryptedKeyWithoutAgent(t *testing.T) {
	e := startUnit(t, `
Host locked
  HostName 127.0.0.1
  Port %[2]d
  IdentityFile %[1]s/locked
  UserKnownHostsFile %[4]s
`)
	sshtest.GenerateKey(t, e.dir, "locked", "secret")
	_, err := e.client(t).Connect(testContext(t), "locked")
	locked := filepath.Join(e.dir, "locked")
	for _, want := range []string{`"locked"`, locked + " needs a passphrase", "ssh-add", "agent"} {
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("encrypted key, no agent: got %v, want an error containing %q", err, want)
		}
	}
}

// startAgent serves an in-memory ssh agent holding keys on a unix socket
// and returns the socket's path.
func startAgent(t *testing.T, keys ...ed25519.PrivateKey) string {
	t.Helper()
	keyring := agent.NewKeyring()
	for _, k := range keys {
		if err := keyring.Add(agent.AddedKey{PrivateKey: k}); err != nil {
			t.Fatal(err)
		}
	}
	sock := filepath.Join(t.TempDir(), "agent.sock")
	ln, err := net.Listen("unix", sock)
	if err != nil {
		t.Fatal(err)
	}
	sshtest.Serve(t, ln, func(c net.Conn) { agent.ServeAgent(keyring, c) })
	return sock
}

// writeEncryptedKey writes an encrypted private key file for priv, with its
// .pub beside it.
func writeEncryptedKey(t *testing.T, path string, priv ed25519.PrivateKey) {
	t.Helper()
	block, err := gossh.MarshalPrivateKeyWithPassphrase(priv, "", []byte("secret"))
	if err != nil {
		t.Fatal(err)
	}
	writeTestFile(t, path, string(pem.EncodeToMemory(block)))
	pub, err := gossh.NewPublicKey(priv.Public())
	if err != nil {
		t.Fatal(err)
	}
	writeTestFile(t, path+".pub", string(gossh.MarshalAuthorizedKey(pub)))
}

func TestAgentAuth(t *testing.T) {
	dir := t.TempDir()
	_, priv, _ := ed25519.GenerateKey(rand.Reader)
	_, otherPriv, _ := ed25519.GenerateKey(rand.Reader)
	signer, _ := gossh.NewSignerFromKey(priv)
	srv := sshtest.StartServer(t, sshtest.ServerConfig{AuthorizedKeys: []gossh.PublicKey{signer.PublicKey()}})
	kh := filepath.Join(dir, "known_hosts")
	writeTestFile(t, kh, srv.KnownHostsLine()+"\n")
	writeEncryptedKey(t, filepath.Join(dir, "locked"), priv)
	writeEncryptedKey(t, filepath.Join(dir, "otherlocked"), otherPriv)
	cfg := filepath.Join(dir, "config")
	writeTestFile(t, cfg, fmt.Sprintf(`
Host only-matching
  IdentityFile %[1]s/otherlocked
  IdentitiesOnly yes
Host agent only-matching any-agent-key
  HostName 127.0.0.1
  Port %[2]d
  IdentityFile %[1]s/locked
  IdentitiesOnly yes
  UserKnownHostsFile %[3]s
Host any-agent-key
  IdentitiesOnly no
`, dir, srv.Port, kh))

	sock := startAgent(t, priv)
	c := NewClient(WithConfigFile(cfg), WithAgent(sock))
	defer c.Close()
	h := connect(t, c, "agent")
	run(t, h, "true")

	// With IdentitiesOnly, an agent key that matches no IdentityFile is
	// not offered.
	c2 := NewClient(WithConfigFile(cfg), WithAgent(startAgent(t, otherPriv, priv)))
	defer c2.Close()
	hc, _ := c2.Resolve("only-matching")
	if len(hc.IdentityFiles) != 2 {
		t.Fatalf("IdentityFiles = %v", hc.IdentityFiles)
	}
	k := c2.loadKeys(hc, time.Second)
	k.close()
	if len(k.signers) != 2 {
		t.Errorf("IdentitiesOnly with both identities: %d agent keys offered, want 2 (%v)", len(k.signers), k.tried)
	}
	hc.IdentityFiles = hc.IdentityFiles[:1] // otherlocked only
	k = c2.loadKeys(hc, time.Second)
	k.close()
	if len(k.signers) != 1 || !strings.Contains(k.tried[0], "agent key") {
		t.Errorf("IdentitiesOnly: offered %v, want only the agent key for otherlocked", k.tried)
	}
	hc2, _ := c2.Resolve("any-agent-key")
	hc2.IdentityFiles = nil
	hc2.IdentitiesOnly = false
	k = c2.loadKeys(hc2, time.Second)
	k.close()
	if len(k.signers) != 2 {
		t.Errorf("without IdentitiesOnly: offered %v, want both agent keys", k.tried)
	}
}

func TestKeepaliveDropsSilentConnection(t *testing.T) {
	e := startUnit(t, "  ServerAliveInterval 1\n  ServerAliveCountMax 2\n")
	proxy := sshtest.StartFreezingProxy(t, e.srv.Addr)
	c := e.client(t, WithDialer(func(ctx context.Context, network, _ string) (net.Conn, error) {
		var d net.Dialer
		return d.DialContext(ctx, network, proxy.Addr)
	}))
	h := connect(t, c, "unit")
	run(t, h, "true")
	proxy.Freeze()
	waitDone(t, h.Done(), "keepalive noticing a silent peer")
	if err := h.Err(); err == nil || !strings.Contains(err.Error(), "keepalive") {
		t.Errorf("Err() after a silent partition = %v, want a keepalive error", err)
	}
	proxy.Thaw()
	h2 := connect(t, c, "unit")
	if h2 == h {
		t.Error("Connect after the keepalive failure returned the dead Host")
	}
}

func TestKeepaliveKeepsLiveConnection(t *testing.T) {
	// The in-process server answers keepalives with "failure", like sshd;
	// that is an answer, so the connection stays up.
	e := startUnit(t, "  ServerAliveInterval 1\n  ServerAliveCountMax 1\n")
	h := connect(t, e.client(t), "unit")
	r := run(t, h, "sleep 3; echo alive")
	if string(r.Stdout) != "alive\n" || h.Err() != nil {
		t.Errorf("after 3 keepalive intervals: %q, %v", r.Stdout, h.Err())
	}
}

func TestProxyJumpInProcess(t *testing.T) {
	e := startUnit(t, `
Host jumped
  HostName 127.0.0.1
  Port %[2]d
  IdentityFile %[3]s
  UserKnownHostsFile %[4]s
  ProxyJump unit
Host twice
  HostName 127.0.0.1
  Port %[2]d
  IdentityFile %[3]s
  UserKnownHostsFile %[4]s
  ProxyJump unit,unit
Host loop-a
  ProxyJump loop-b
Host loop-b
  ProxyJump loop-a
`)
	c := e.client(t)
	h := connect(t, c, "jumped")
	if r := run(t, h, "echo through"); string(r.Stdout) != "through\n" {
		t.Errorf("Run through a jump host: %q", r.Stdout)
	}
	if h.via == nil || h.via.Name() != "unit" {
		t.Errorf("jumped host's via = %v, want the unit host", h.via)
	}
	if n := e.srv.Accepted(); n != 2 {
		t.Errorf("server accepted %d connections, want 2 (jump host and target)", n)
	}
	h2 := connect(t, c, "twice")
	run(t, h2, "true")
	// "unit,unit" reuses the connection to unit; its second hop is
	// "unit via unit", which is not the same connection as "jumped" since
	// the two are configured apart (connections are shared only between
	// destinations that check host keys and authenticate the same way).
	if n := e.srv.Accepted(); n != 4 {
		t.Errorf("after a two-hop connection the server accepted %d connections, want 4", n)
	}
	if h2.via == nil || h2.via.via == nil || h2.via.via != h.via {
		t.Errorf("two-hop host not reached through the shared first hop")
	}
	_, err := c.Connect(testContext(t), "loop-a")
	if err == nil || !strings.Contains(err.Error(), "ProxyJump loop") {
		t.Errorf("ProxyJump loop: got %v, want an error about the loop", err)
	}
}

func TestRunCancelKillsProcess(t *testing.T) {
	e := startUnit(t, "")
	h := connect(t, e.client(t), "unit")
	pidFile := filepath.Join(t.TempDir(), "pid")
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	go cancelOnFile(ctx, cancel, pidFile)
	_, err := h.Run(ctx, "echo $$ > "+shellQuote(pidFile)+"; exec sleep 600", nil)
	if !errors.Is(err, context.Canceled) {
		t.Fatalf("cancelled Run: got %v, want context.Canceled", err)
	}
	data, _ := os.ReadFile(pidFile)
	var pid int
	fmt.Sscan(string(data), &pid)
	if pid == 0 || !processGone(pid) {
		t.Errorf("process %d still exists after the cancelled Run returned", pid)
	}
}

func TestStartWaitKill(t *testing.T) {
	e := startUnit(t, "")
	h := connect(t, e.client(t), "unit")
	p, err := h.Start(testContext(t), "echo out; echo err >&2; exit 4")
	if err != nil {
		t.Fatal(err)
	}
	r, err := p.Wait(testContext(t))
	if err != nil || string(r.Stdout) != "out\n" || string(r.Stderr) != "err\n" || r.Code != 4 {
		t.Errorf("Wait = %+v, %v", r, err)
	}
	if p.Running() {
		t.Error("Running after Wait")
	}

	mark := filepath.Join(t.TempDir(), "mark")
	p, err = h.Start(testContext(t), "echo started; touch "+shellQuote(mark)+"; sleep 600")
	if err != nil {
		t.Fatal(err)
	}
	waitExists(t, mark) // "started" is written
	if !p.Running() || p.Pid() <= 0 {
		t.Fatalf("Running = %v, Pid = %d", p.Running(), p.Pid())
	}
	if err := p.Kill(); err != nil {
		t.Fatal(err)
	}
	if p.Running() {
		t.Error("Running after Kill")
	}
	if !processGone(p.Pid()) {
		t.Errorf("process %d exists after Kill", p.Pid())
	}
	r, err = p.Wait(testContext(t))
	if err == nil || !strings.Contains(err.Error(), "killed") {
		t.Errorf("Wait after Kill: %v, want a killed error", err)
	}
	if r == nil || string(r.Stdout) != "started\n" {
		t.Errorf("Wait after Kill returned %+v, want the output so far", r)
	}
}

func TestHostCloseKillsProcesses(t *testing.T) {
	e := startUnit(t, "")
	h := connect(t, e.client(t), "unit")
	p, err := h.Start(testContext(t), "sleep 600")
	if err != nil {
		t.Fatal(err)
	}
	s, err := h.Exec(testContext(t), "sleep 600")
	if err != nil {
		t.Fatal(err)
	}
	if err := h.Close(); err != nil {
		t.Fatal(err)
	}
	for _, pid := range []int{p.Pid(), s.Pid()} {
		if !processGone(pid) {
			t.Errorf("process %d survived Host.Close", pid)
		}
	}
}

func TestExecStream(t *testing.T) {
	e := startUnit(t, "")
	h := connect(t, e.client(t), "unit")
	s, err := h.Exec(testContext(t), "cat; echo done >&2")
	if err != nil {
		t.Fatal(err)
	}
	msg := []byte("binary \x00\x01\xff and text\n")
	if _, err := s.Write(msg); err != nil {
		t.Fatal(err)
	}
	buf := make([]byte, len(msg))
	if _, err := readFull(s, buf); err != nil || string(buf) != string(msg) {
		t.Fatalf("echoed %q, %v", buf, err)
	}
	if err := s.CloseWrite(); err != nil {
		t.Fatal(err)
	}
	if n, err := s.Read(buf); n != 0 || err == nil {
		t.Errorf("after CloseWrite, Read = %d, %v; want EOF", n, err)
	}
	r, err := s.Wait(testContext(t))
	if err != nil || r.Code != 0 {
		t.Fatalf("Wait = %+v, %v", r, err)
	}
	if string(s.Stderr()) != "done\n" {
		t.Errorf("Stderr = %q", s.Stderr())
	}
	s.Close()
}

func TestTunnelInProcess(t *testing.T) {
	e := startUnit(t, "")
	h := connect(t, e.client(t), "unit")
	echo := startEcho(t)
	tun, err := h.Tunnel(testContext(t), echo, 0, "127.0.0.1")
	if err != nil {
		t.Fatal(err)
	}
	checkTunnel(t, tun, echo)
}

func TestManyConcurrentRuns(t *testing.T) {
	e := startUnit(t, "")
	h := connect(t, e.client(t), "unit")
	var wg sync.WaitGroup
	for i := range 24 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			r, err := h.Run(testContext(t), fmt.Sprintf("echo %d", i), nil)
			if err != nil {
				t.Error(err)
				return
			}
			if string(r.Stdout) != fmt.Sprintf("%d\n", i) {
				t.Errorf("run %d: %q", i, r.Stdout)
			}
		}()
	}
	wg.Wait()
}

func TestRunConnectionLost(t *testing.T) {
	e := startUnit(t, "")
	h := connect(t, e.client(t), "unit")
	mark := filepath.Join(t.TempDir(), "started")
	errc := make(chan error, 1)
	go func() {
		_, err := h.Run(testContext(t), "touch "+shellQuote(mark)+"; sleep 600", nil)
		errc <- err
	}()
	waitExists(t, mark)
	e.srv.DropConnections()
	select {
	case err := <-errc:
		if err == nil || !strings.Contains(err.Error(), "lost") {
			t.Errorf("Run when the connection is lost: got %v, want an error saying so", err)
		}
	case <-time.After(testTimeout):
		t.Fatal("Run did not return after the connection was lost")
	}
}

// TestSharedConnectionKeepsHostKeyCheck: a second alias of the same
// address whose known_hosts does not hold the key must not get the
// connection the first alias verified.
func TestSharedConnectionKeepsHostKeyCheck(t *testing.T) {
	e := startUnit(t, `
Host stranger
  HostName 127.0.0.1
  Port %[2]d
  IdentityFile %[3]s
  IdentitiesOnly yes
  UserKnownHostsFile %[1]s/empty_known_hosts
  StrictHostKeyChecking yes
`)
	writeTestFile(t, filepath.Join(e.dir, "empty_known_hosts"), "")
	c := e.client(t)
	connect(t, c, "unit")
	_, err := c.Connect(testContext(t), "stranger")
	var hk *HostKeyError
	if !errors.As(err, &hk) {
		t.Fatalf("stranger after unit: got %v, want a host key error", err)
	}
}
