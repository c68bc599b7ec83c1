package starlib

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	osuser "os/user"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"go.starlark.net/starlark"
	"go.starlark.net/syntax"
	gossh "golang.org/x/crypto/ssh"

	"github.com/pathos-star/pathos-star/internal/sshtest"
	"github.com/pathos-star/pathos-star/pools"
	"github.com/pathos-star/pathos-star/remote"
)

// sshHost is a Host with an ssh client and no pools.
type sshHost struct{ client *remote.Client }

func (h sshHost) PoolEnv() *pools.Env { return nil }
func (h sshHost) DefaultPool() (*pools.Pool, error) {
	return nil, errors.New("no pools in this test")
}
func (h sshHost) Track(*pools.Pool)   {}
func (h sshHost) SSH() *remote.Client { return h.client }

// unitServer starts the in-process ssh server and returns a client whose
// config names it "unit".
func unitServer(t *testing.T) *remote.Client {
	t.Helper()
	dir := t.TempDir()
	signer, keyFile := sshtest.GenerateKey(t, dir, "id_ed25519", "")
	srv := sshtest.StartServer(t, sshtest.ServerConfig{AuthorizedKeys: []gossh.PublicKey{signer.PublicKey()}})
	u, err := osuser.Current()
	if err != nil {
		t.Fatal(err)
	}
	kh := filepath.Join(dir, "known_hosts")
	if err := os.WriteFile(kh, []byte(srv.KnownHostsLine()+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	cfg := filepath.Join(dir, "ssh_config")
	conf := fmt.Sprintf("Host unit\n  HostName 127.0.0.1\n  Port %d\n  User %s\n  IdentityFile %q\n  IdentitiesOnly yes\n  UserKnownHostsFile %q\n  StrictHostKeyChecking yes\n  ConnectTimeout 20\n",
		srv.Port, u.Username, keyFile, kh)
	if err := os.WriteFile(cfg, []byte(conf), 0o600); err != nil {
		t.Fatal(err)
	}
	client := remote.NewClient(remote.WithConfigFile(cfg), remote.WithAgent(""))
	t.Cleanup(func() { client.Close() })
	return client
}

// execScript runs src on a thread whose Host has client (nil: no Host).
func execScript(ctx context.Context, client *remote.Client, src string) (starlark.StringDict, error) {
	thread := &starlark.Thread{Name: "test", Print: func(*starlark.Thread, string) {}}
	thread.SetLocal(pools.ContextKey, ctx)
	if client != nil {
		thread.SetLocal(HostKey, sshHost{client})
	}
	stop := context.AfterFunc(ctx, func() { thread.Cancel(context.Cause(ctx).Error()) })
	defer stop()
	opts := &syntax.FileOptions{TopLevelControl: true, Set: true, While: true}
	return starlark.ExecFileOptions(opts, thread, "test.star", src, Predeclared())
}

func testContext(t *testing.T) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	t.Cleanup(cancel)
	return ctx
}

// TestSSHScripts runs small scripts against the in-process server; each
// either passes its own assertions (by failing with "assert" otherwise) or
// fails with an error containing want.
func TestSSHScripts(t *testing.T) {
	client := unitServer(t)
	tests := []struct {
		name, src, want string
	}{
		{"run", `
r = ssh.run("unit", "echo out; echo err >&2; exit 3")
if (r.stdout, r.stderr, r.code) != ("out\n", "err\n", 3): fail("assert", r)
if type(r) != "ssh_result": fail("assert", type(r))
if str(r) != 'ssh_result(code=3, stdout="out\\n", stderr="err\\n")': fail("assert", str(r))
if dir(r) != ["code", "stderr", "stdout"]: fail("assert", dir(r))
`, ""},
		{"result values", `
a = ssh.run("unit", "printf x")
b = ssh.run("unit", "printf x")
if a != b: fail("assert", a, b)
if a == ssh.run("unit", "printf y"): fail("assert")
d = {a: 1}
d[b] = 2
if len(d) != 1 or d[a] != 2: fail("assert", d)
`, ""},
		{"long repr", `
r = ssh.run("unit", "seq 1 1000")
if not str(r).startswith('ssh_result(code=0, stdout=<3893 bytes: "1\\n2\\n'): fail("assert", str(r))
`, ""},
		{"stdin", `
h = ssh.connect("unit")
if h.run("cat", stdin="abc").stdout != "abc": fail("assert 1")
if list(h.run("cat", stdin=b"\x00\xff").stdout.elem_ords()) != [0, 255]: fail("assert 2")
if h.run("cat").stdout != "": fail("assert 3")
if h.dest != "unit" or type(h) != "ssh_host": fail("assert 4")
if not str(h).startswith("<ssh_host ") or "@127.0.0.1:" not in str(h): fail("assert", str(h))
`, ""},
		{"timeout", `ssh.run("unit", "sleep 30", timeout=0.5)`,
			`ssh.run: command "sleep 30" on "unit" timed out after 500ms; the remote process was killed`},
		{"bad stdin", `ssh.run("unit", "cat", stdin=1)`, "ssh.run: stdin must be a string, bytes or None, got int"},
		{"bad timeout", `ssh.run("unit", "true", timeout=-1)`, "ssh.run: timeout must be a positive number of seconds or None, got -1"},
		{"missing cmd", `ssh.run("unit")`, "ssh.run: missing argument for cmd"},
		{"empty dest", `ssh.connect("")`, "ssh.connect: empty destination"},
		{"bad dest", `ssh.connect("a b:x")`, `ssh.connect: destination "a b:x" contains a space`},
		{"launch", `
h = ssh.connect("unit")
p = h.launch("echo started; exec sleep 60")
if type(p) != "ssh_process" or p.pid <= 0 or not p.running(): fail("assert", p)
if p.wait(timeout=0.05): fail("assert: finished early")
if "running" not in str(p): fail("assert", str(p))
if dir(p) != ["cmd", "kill", "pid", "response", "running", "wait"]: fail("assert", dir(p))
p.kill()
if p.running() or not p.wait(): fail("assert")
if h.run("kill -0 %d" % p.pid).code == 0: fail("assert: still alive")
p.kill()  # a second kill does nothing
p.response()
`, `ssh_process.response: command "echo started; exec sleep 60" on "unit" (pid `},
		{"response", `
p = ssh.connect("unit").launch("read x; echo got $x; exit 4")
r = p.response()
if (r.stdout, r.code) != ("got\n", 4): fail("assert", r)
if not p.wait(timeout=1) or p.running() or "finished" not in str(p): fail("assert")
`, ""},
		{"close", `
h = ssh.connect("unit")
h.close()
h.close()
if "(closed)" not in str(h): fail("assert", str(h))
h.run("true")
`, `ssh_host.run: "unit": the host was closed (by close())`},
		{"copy both local", `ssh.connect("unit").copy("a", "b")`, `ssh_host.copy: copy "a" to "b": neither side is remote`},
		{"copy both remote", `ssh.connect("unit").copy(":a", "unit:b")`, `ssh_host.copy: copy ":a" to "unit:b": both sides are remote`},
		{"copy other host", `ssh.connect("unit").copy("a", "other@unit:b")`, `ssh_host.copy: "other@unit:b" names the host other@127.0.0.1:`},
		{"ssh.copy both local", `ssh.copy("a", "b")`, `ssh.copy: copy "a" to "b": neither side is remote`},
		{"tunnel remote_port", `tunnel("unit", 0)`, "tunnel: remote_port must be a port number from 1 to 65535, got 0"},
		{"tunnel local_port", `tunnel("unit", 80, local_port=70000)`, "tunnel: local_port must be a port number from 1 to 65535, or 0 for a free one, got 70000"},
		{"tunnel remote_host", `ssh.connect("unit").tunnel(80, remote_host="")`, "ssh_host.tunnel: remote_host must not be empty"},
		{"unhashable", `{ssh.connect("unit"): 1}`, "unhashable type: ssh_host"},
		{"attrs", `
h = ssh.connect("unit")
if dir(h) != ["close", "copy", "dest", "launch", "pool", "run", "tunnel"]: fail("assert", dir(h))
t = h.tunnel(22)
if dir(t) != ["close", "dest", "port", "remote_host", "remote_port"]: fail("assert", dir(t))
if (t.dest, t.remote_port, t.remote_host, type(t)) != ("unit", 22, "localhost", "tunnel"): fail("assert", t)
if str(t) != "<tunnel 127.0.0.1:%d to localhost:22 via unit>" % t.port: fail("assert", str(t))
t.close()
t.close()
if not str(t).endswith(" (closed)>"): fail("assert", str(t))
`, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := execScript(testContext(t), client, tt.src)
			switch {
			case tt.want == "" && err != nil:
				t.Fatalf("error: %v", errText(err))
			case tt.want != "" && err == nil:
				t.Fatalf("no error, want one containing %q", tt.want)
			case tt.want != "" && !strings.Contains(errText(err), tt.want):
				t.Fatalf("error %q does not contain %q", errText(err), tt.want)
			}
		})
	}
}

func errText(err error) string {
	var ee *starlark.EvalError
	if errors.As(err, &ee) {
		return ee.Msg
	}
	return err.Error()
}

// TestSSHNoHost checks the builtins on a thread without an interpreter.
func TestSSHNoHost(t *testing.T) {
	for _, src := range []string{`ssh.connect("x")`, `ssh.run("x", "true")`, `ssh.copy("x:a", "b")`, `tunnel("x", 80)`} {
		_, err := execScript(testContext(t), nil, src)
		if err == nil || !strings.Contains(errText(err), "no pathos-star interpreter on this thread") {
			t.Errorf("%s: got %v, want the no-interpreter error", src, err)
		}
	}
}

// TestSSHCancel checks that cancelling the thread's context interrupts a
// remote command and kills it.
func TestSSHCancel(t *testing.T) {
	client := unitServer(t)
	dir := t.TempDir()
	started := filepath.Join(dir, "started")
	ctx, cancel := context.WithCancelCause(testContext(t))
	defer cancel(nil)
	errc := make(chan error, 1)
	go func() {
		_, err := execScript(ctx, client, fmt.Sprintf(`ssh.run("unit", "echo $$ > %s; exec sleep 60")`, started))
		errc <- err
	}()
	var pid int
	deadline := time.After(30 * time.Second)
	for pid == 0 {
		select {
		case err := <-errc:
			t.Fatalf("script ended early: %v", err)
		case <-deadline:
			t.Fatal("the remote command did not start within 30s")
		case <-time.After(10 * time.Millisecond):
		}
		if b, err := os.ReadFile(started); err == nil && strings.HasSuffix(string(b), "\n") {
			fmt.Sscan(string(b), &pid)
		}
	}
	cancel(errors.New("interrupted by the test"))
	select {
	case err := <-errc:
		if err == nil || !strings.Contains(errText(err), "ssh.run: ") {
			t.Fatalf("got %v, want an ssh.run error", err)
		}
	case <-time.After(30 * time.Second):
		t.Fatal("ssh.run was not interrupted within 30s")
	}
	// The remote side was killed: the process is gone (or a zombie being
	// reaped by the server).
	_, err := execScript(testContext(t), client, fmt.Sprintf(`
r = ssh.run("unit", "ps -o stat= -p %d")
if r.code == 0 and not r.stdout.startswith("Z"): fail("still running: " + r.stdout)
`, pid))
	if err != nil {
		t.Fatal(errText(err))
	}
}

// TestTunnelUnit forwards through the in-process server to an echo server
// and checks that close() stops the local port and the live connection.
func TestTunnelUnit(t *testing.T) {
	client := unitServer(t)
	echo := startEcho(t)
	g, err := execScript(testContext(t), client, fmt.Sprintf(`t = tunnel("unit", %d, remote_host="127.0.0.1")`, echo))
	if err != nil {
		t.Fatal(errText(err))
	}
	tv := g["t"].(*Tunnel)
	addr := tv.Underlying().Addr()
	c, err := net.DialTimeout("tcp", addr, 10*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	c.SetDeadline(time.Now().Add(30 * time.Second))
	if _, err := c.Write([]byte("ping\n")); err != nil {
		t.Fatal(err)
	}
	buf := make([]byte, 5)
	if _, err := io.ReadFull(c, buf); err != nil || string(buf) != "ping\n" {
		t.Fatalf("echo through tunnel: %q, %v", buf, err)
	}
	closeFn, _ := tv.Attr("close")
	thread := &starlark.Thread{Name: "close"}
	if _, err := starlark.Call(thread, closeFn, nil, nil); err != nil {
		t.Fatal(err)
	}
	if n, err := c.Read(buf); err == nil {
		t.Fatalf("live connection still open after close: read %q", buf[:n])
	}
	if c2, err := net.DialTimeout("tcp", addr, 10*time.Second); err == nil {
		c2.Close()
		t.Fatalf("%s still accepts connections after close", addr)
	}
}

// startEcho starts a TCP echo server on 127.0.0.1 and returns its port.
func startEcho(t *testing.T) int {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	done := make(chan struct{})
	conns := make(chan net.Conn, 64)
	go func() {
		defer close(done)
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			select {
			case conns <- c:
			default:
			}
			go func() {
				io.Copy(c, c)
				c.Close()
			}()
		}
	}()
	t.Cleanup(func() {
		ln.Close()
		<-done
		close(conns)
		for c := range conns {
			c.Close()
		}
	})
	return ln.Addr().(*net.TCPAddr).Port
}
