package pathosstar_test

import (
	"bytes"
	"context"
	"crypto/rand"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"net"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"go.starlark.net/starlark"

	pathosstar "github.com/pathos-star/pathos-star"
	"github.com/pathos-star/pathos-star/internal/sshtest"
	"github.com/pathos-star/pathos-star/remote"
)

// sshScriptEnv starts a real sshd and points the interpreters of the test
// at its ssh config, which gets three more aliases for error tests:
// "stranger" (the sshd, with an empty known_hosts), "refused" (a port
// nobody listens on) and "silent" (a server that accepts and never speaks,
// ConnectTimeout 2).
func sshScriptEnv(t *testing.T) *sshtest.SSHD {
	t.Helper()
	d := sshtest.StartSSHD(t)
	t.Setenv(remote.EnvConfig, d.ConfigFile)
	t.Setenv("SSH_AUTH_SOCK", "")

	empty := filepath.Join(d.Dir, "known_hosts.empty")
	if err := os.WriteFile(empty, nil, 0o600); err != nil {
		t.Fatal(err)
	}
	stranger := strings.Replace(d.HostBlock("stranger"), strconv.Quote(d.KnownHosts), strconv.Quote(empty), 1)

	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	refusedPort := ln.Addr().(*net.TCPAddr).Port
	ln.Close()

	silentPort := sshtest.SilentServer(t)
	block := func(alias string, port int) string {
		return strings.Replace(d.HostBlock(alias), fmt.Sprintf("Port %d\n", d.Port), fmt.Sprintf("Port %d\n  ConnectTimeout 2\n", port), 1)
	}
	f, err := os.OpenFile(d.ConfigFile, os.O_APPEND|os.O_WRONLY, 0)
	if err != nil {
		t.Fatal(err)
	}
	_, err = f.WriteString(stranger + block("refused", refusedPort) + block("silent", silentPort))
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		t.Fatal(err)
	}
	return d
}

// TestSSHScripts runs testdata/ssh/*.star against a real sshd, chunk by
// chunk as TestScripts does. map.star runs under every pool kind and must
// print the same under each; the others run on the serial pool.
func TestSSHScripts(t *testing.T) {
	sshScriptEnv(t)
	files, err := filepath.Glob("testdata/ssh/*.star")
	if err != nil || len(files) == 0 {
		t.Fatalf("no ssh test scripts: %v", err)
	}
	for _, file := range files {
		t.Run(filepath.Base(file), func(t *testing.T) {
			specs := []string{"serial"}
			if filepath.Base(file) == "map.star" {
				specs = poolSpecs
			}
			var outputs []string
			for _, spec := range specs {
				outputs = append(outputs, runChunks(t, file, spec))
			}
			for i := 1; i < len(outputs); i++ {
				if outputs[i] != outputs[0] {
					t.Errorf("output under %s differs from %s:\n--- %s\n%s--- %s\n%s",
						specs[i], specs[0], specs[0], outputs[0], specs[i], outputs[i])
				}
			}
			if len(specs) > 1 && outputs[0] == "" {
				t.Errorf("%s printed nothing", file)
			}
		})
	}
}

// newSSHInterp returns an interpreter whose scripts see assert and the
// given names.
func newSSHInterp(t *testing.T, names starlark.StringDict) *pathosstar.Interpreter {
	t.Helper()
	extra := starlark.StringDict{"assert": assertModule(t)}
	for k, v := range names {
		extra[k] = v
	}
	in, err := pathosstar.New(pathosstar.WithPredeclared(extra), pathosstar.WithStdout(io.Discard))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { in.Close() })
	return in
}

func sshContext(t *testing.T) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	t.Cleanup(cancel)
	return ctx
}

// TestSSHCopy copies a binary file and a directory tree in both directions
// with ssh_host.copy and ssh.copy, and compares the bytes from Go. The
// remote side is the same machine, so remote paths are absolute paths in
// a temporary directory.
func TestSSHCopy(t *testing.T) {
	sshScriptEnv(t)
	dir := t.TempDir()
	paths := map[string]string{
		"blob":   filepath.Join(dir, "local", "blob.bin"),
		"tree":   filepath.Join(dir, "local", "tree"),
		"remote": filepath.Join(dir, "remote"),
		"into":   filepath.Join(dir, "remote", "into"),
		"back":   filepath.Join(dir, "back"),
	}
	blob := make([]byte, 3<<20+17)
	if _, err := rand.Read(blob); err != nil {
		t.Fatal(err)
	}
	for i := 0; i < 256; i++ {
		blob[i] = byte(i)
	}
	files := map[string][]byte{
		"a.txt":            []byte("hello\n"),
		"sub/b.bin":        blob[:100000],
		"sub/deeper/c.bin": {0, 0, 0, 255, '\n', '\r'},
		"sub/empty.txt":    nil,
		"with space/d":     []byte("d"),
	}
	for name, data := range files {
		p := filepath.Join(paths["tree"], filepath.FromSlash(name))
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, data, 0o640); err != nil {
			t.Fatal(err)
		}
	}
	if err := os.Mkdir(filepath.Join(paths["tree"], "emptydir"), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(paths["blob"], blob, 0o600); err != nil {
		t.Fatal(err)
	}
	for _, d := range []string{paths["into"], paths["back"]} {
		if err := os.MkdirAll(d, 0o755); err != nil {
			t.Fatal(err)
		}
	}
	pd := starlark.NewDict(len(paths))
	for k, v := range paths {
		pd.SetKey(starlark.String(k), starlark.String(v))
	}
	in := newSSHInterp(t, starlark.StringDict{"paths": pd})
	src := `
h = ssh.connect("testhost")
# A file up and down, with ":path" and "dest:path" for the remote side.
h.copy(paths["blob"], ":" + paths["remote"] + "/blob.bin")
h.copy("testhost:" + paths["remote"] + "/blob.bin", paths["back"] + "/blob.bin")
# A directory up under a new name, then down into an existing directory.
ssh.copy(paths["tree"], "testhost:" + paths["remote"] + "/tree")
ssh.copy("testhost:" + paths["remote"] + "/tree", paths["back"])
# A directory into an existing remote directory, and a file down by ssh.copy.
h.copy(paths["tree"], ":" + paths["into"])
ssh.copy("testhost:" + paths["blob"], paths["back"] + "/blob2.bin")
assert.eq(h.run("cmp %s/blob.bin %s" % (paths["remote"], paths["blob"])).code, 0)
`
	if _, err := in.Run(sshContext(t), "copy.star", src); err != nil {
		t.Fatal(scriptErr(err))
	}
	for _, p := range []string{filepath.Join(paths["remote"], "blob.bin"), filepath.Join(paths["back"], "blob.bin"), filepath.Join(paths["back"], "blob2.bin")} {
		got, err := os.ReadFile(p)
		if err != nil {
			t.Fatal(err)
		}
		if !bytes.Equal(got, blob) {
			t.Errorf("%s: %d bytes differ from the %d bytes sent", p, len(got), len(blob))
		}
	}
	for _, d := range []string{filepath.Join(paths["remote"], "tree"), filepath.Join(paths["back"], "tree"), filepath.Join(paths["into"], "tree")} {
		compareTrees(t, paths["tree"], d)
	}
}

// compareTrees checks that got holds the same directories and files (bytes
// and permission bits) as want.
func compareTrees(t *testing.T, want, got string) {
	t.Helper()
	seen := 0
	err := filepath.WalkDir(want, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(want, p)
		q := filepath.Join(got, rel)
		wi, err := os.Lstat(p)
		if err != nil {
			return err
		}
		gi, err := os.Lstat(q)
		if err != nil {
			return err
		}
		if wi.Mode() != gi.Mode() {
			t.Errorf("%s: mode %v, want %v", q, gi.Mode(), wi.Mode())
		}
		if wi.Mode().IsRegular() {
			a, _ := os.ReadFile(p)
			b, err := os.ReadFile(q)
			if err != nil || !bytes.Equal(a, b) {
				t.Errorf("%s: content differs from %s (%v)", q, p, err)
			}
		}
		seen++
		return nil
	})
	if err != nil {
		t.Errorf("compare %s with %s: %v", got, want, err)
	}
	count := 0
	filepath.WalkDir(got, func(string, fs.DirEntry, error) error { count++; return nil })
	if count != seen {
		t.Errorf("%s has %d entries, want %d as in %s", got, count, seen, want)
	}
}

// TestTunnel forwards local ports to a TCP echo server through the sshd:
// the script opens the tunnels, the test talks through them, closes one
// with its close method, and checks that its port then refuses
// connections and its live connection ends, while the other still works
// until the interpreter closes.
func TestTunnel(t *testing.T) {
	sshScriptEnv(t)
	echo := sshtest.EchoServer(t)
	in := newSSHInterp(t, starlark.StringDict{"echo_port": starlark.MakeInt(echo)})
	g, err := in.Run(sshContext(t), "tunnel.star", `
t = tunnel("testhost", echo_port)
assert.eq(type(t), "tunnel")
assert.eq((t.dest, t.remote_port, t.remote_host), ("testhost", echo_port, "localhost"))
assert.true(t.port > 0 and t.port != echo_port)
assert.eq(str(t), "<tunnel 127.0.0.1:%d to localhost:%d via testhost>" % (t.port, echo_port))
assert.eq(dir(t), ["close", "dest", "port", "remote_host", "remote_port"])
h = ssh.connect("testhost")
t2 = h.tunnel(echo_port, remote_host = "127.0.0.1")
assert.eq(t2.remote_host, "127.0.0.1")
`)
	if err != nil {
		t.Fatal(scriptErr(err))
	}
	port := intAttr(t, g["t"], "port")
	port2 := intAttr(t, g["t2"], "port")

	c := dialEcho(t, port, "through tunnel")
	defer c.Close()
	c2 := dialEcho(t, port2, "through h.tunnel")
	defer c2.Close()

	closeFn, err := g["t"].(starlark.HasAttrs).Attr("close")
	if err != nil || closeFn == nil {
		t.Fatalf("t.close: %v", err)
	}
	thread := &starlark.Thread{Name: "close"}
	if _, err := starlark.Call(thread, closeFn, nil, nil); err != nil {
		t.Fatal(err)
	}
	if !strings.HasSuffix(g["t"].String(), "(closed)>") {
		t.Errorf("closed tunnel: %s", g["t"])
	}
	refused(t, port)
	c.SetReadDeadline(time.Now().Add(30 * time.Second))
	if n, err := c.Read(make([]byte, 1)); err == nil || isTimeout(err) {
		t.Errorf("live connection after close: read %d bytes, %v; want it closed", n, err)
	}
	// The other tunnel is not affected ...
	dialEcho(t, port2, "through h.tunnel after t.close()").Close()
	// ... until the interpreter closes.
	in.Close()
	refused(t, port2)
}

func intAttr(t *testing.T, v starlark.Value, name string) int {
	t.Helper()
	x, err := v.(starlark.HasAttrs).Attr(name)
	if err != nil || x == nil {
		t.Fatalf("%s.%s: %v", v.Type(), name, err)
	}
	n, err := starlark.AsInt32(x)
	if err != nil {
		t.Fatalf("%s.%s: %v", v.Type(), name, err)
	}
	return n
}

// dialEcho connects to 127.0.0.1:port and checks that what it writes comes
// back; it returns the open connection.
func dialEcho(t *testing.T, port int, what string) net.Conn {
	t.Helper()
	c, err := net.DialTimeout("tcp", net.JoinHostPort("127.0.0.1", strconv.Itoa(port)), 10*time.Second)
	if err != nil {
		t.Fatalf("%s: %v", what, err)
	}
	c.SetDeadline(time.Now().Add(30 * time.Second))
	msg := []byte("ping " + what + "\n")
	if _, err := c.Write(msg); err != nil {
		t.Fatalf("%s: write: %v", what, err)
	}
	got := make([]byte, len(msg))
	if _, err := io.ReadFull(c, got); err != nil || !bytes.Equal(got, msg) {
		t.Fatalf("%s: echo %q, %v; want %q", what, got, err, msg)
	}
	c.SetDeadline(time.Time{})
	return c
}

// refused checks that nothing accepts connections on 127.0.0.1:port.
func refused(t *testing.T, port int) {
	t.Helper()
	c, err := net.DialTimeout("tcp", net.JoinHostPort("127.0.0.1", strconv.Itoa(port)), 10*time.Second)
	if err == nil {
		c.Close()
		t.Fatalf("127.0.0.1:%d still accepts connections", port)
	}
	if !errors.Is(err, syscall.ECONNREFUSED) {
		t.Fatalf("127.0.0.1:%d: %v, want connection refused", port, err)
	}
}

func isTimeout(err error) bool {
	var ne net.Error
	return errors.As(err, &ne) && ne.Timeout()
}

// TestSSHInterrupt cancels a script blocked in ssh.run, as Ctrl-C does,
// and checks that the call returns and the remote process is killed.
func TestSSHInterrupt(t *testing.T) {
	d := sshScriptEnv(t)
	pidFile := filepath.Join(d.Home, "interrupt.pid")
	in := newSSHInterp(t, nil)
	ctx, cancel := context.WithCancelCause(sshContext(t))
	defer cancel(nil)
	errc := make(chan error, 1)
	go func() {
		_, err := in.Run(ctx, "interrupt.star", `ssh.run("testhost", 'echo $$ > "$HOME/interrupt.pid"; exec sleep 60')`)
		errc <- err
	}()
	pid := waitPidFile(t, pidFile, errc)
	cancel(errors.New("interrupted"))
	select {
	case err := <-errc:
		if err == nil || !strings.Contains(err.Error(), "ssh.run: ") {
			t.Fatalf("got %v, want an ssh.run error", err)
		}
	case <-time.After(time.Minute):
		t.Fatal("ssh.run was not interrupted within a minute")
	}
	if err := syscall.Kill(pid, 0); !errors.Is(err, syscall.ESRCH) {
		t.Errorf("remote process %d still exists after the interrupt (kill -0: %v)", pid, err)
	}
}

// TestSSHCloseKillsLaunched checks that closing the interpreter kills the
// processes its scripts launched.
func TestSSHCloseKillsLaunched(t *testing.T) {
	sshScriptEnv(t)
	in := newSSHInterp(t, nil)
	g, err := in.Run(sshContext(t), "launch.star", `p = ssh.connect("testhost").launch("exec sleep 60")`)
	if err != nil {
		t.Fatal(scriptErr(err))
	}
	pid := intAttr(t, g["p"], "pid")
	if err := syscall.Kill(pid, 0); err != nil {
		t.Fatalf("launched process %d is not running: %v", pid, err)
	}
	if err := in.Close(); err != nil {
		t.Fatal(err)
	}
	if err := syscall.Kill(pid, 0); !errors.Is(err, syscall.ESRCH) {
		t.Errorf("launched process %d still exists after Close (kill -0: %v)", pid, err)
	}
}

// waitPidFile waits for a remote command to write its pid to path.
func waitPidFile(t *testing.T, path string, errc <-chan error) int {
	t.Helper()
	deadline := time.After(time.Minute)
	for {
		if b, err := os.ReadFile(path); err == nil && bytes.HasSuffix(b, []byte("\n")) {
			pid, err := strconv.Atoi(strings.TrimSpace(string(b)))
			if err != nil {
				t.Fatalf("%s: %v", path, err)
			}
			return pid
		}
		select {
		case err := <-errc:
			t.Fatalf("script ended before the remote command started: %v", err)
		case <-deadline:
			t.Fatalf("the remote command did not write %s within a minute", path)
		case <-time.After(10 * time.Millisecond):
		}
	}
}

// scriptErr returns a script error with its Starlark traceback.
func scriptErr(err error) string {
	var ee *starlark.EvalError
	if errors.As(err, &ee) {
		return ee.Backtrace()
	}
	return err.Error()
}
