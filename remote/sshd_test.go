package remote

// Integration tests against a real OpenSSH sshd on 127.0.0.1 (Debian
// package openssh-server). The remote host is this machine, so the tests
// also look at the files and processes the remote side made.

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
	"runtime"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/pathos-star/pathos-star/internal/sshtest"
)

// startSSHD starts sshd and returns it with a client for its config.
func startSSHD(t *testing.T, extraConfig string) (*sshtest.SSHD, *Client) {
	t.Helper()
	d := sshtest.StartSSHD(t)
	cfg := d.ConfigFile
	if extraConfig != "" {
		cfg = filepath.Join(d.Dir, "ssh_config_extra")
		base, err := os.ReadFile(d.ConfigFile)
		if err != nil {
			t.Fatal(err)
		}
		writeTestFile(t, cfg, extraConfig+"\n"+string(base))
	}
	c := NewClient(WithConfigFile(cfg), WithAgent(""))
	t.Cleanup(func() { c.Close() })
	return d, c
}

func TestSSHDRun(t *testing.T) {
	_, c := startSSHD(t, "")
	h := connect(t, c, "testhost")
	tests := []struct {
		cmd, stdin     string
		stdout, stderr string
		code           int
	}{
		{cmd: "echo hello", stdout: "hello\n"},
		{cmd: "exit 7", code: 7},
		{cmd: "echo to-stderr >&2; false", stderr: "to-stderr\n", code: 1},
		{cmd: "tr a-z A-Z", stdin: "shout", stdout: "SHOUT"},
		{cmd: "cat; echo end", stdout: "end\n"}, // no stdin: EOF at once
		{cmd: `echo "it's" 'a "quoted" word' $((6*7))`, stdout: "it's a \"quoted\" word 42\n"},
		{cmd: "for i in 1 2 3; do printf $i; done | wc -c", stdout: "3\n"},
		{cmd: "echo $HOME | grep -c home", stdout: "1\n"},
	}
	for _, tt := range tests {
		var stdin []byte
		if tt.stdin != "" {
			stdin = []byte(tt.stdin)
		}
		r, err := h.Run(testContext(t), tt.cmd, stdin)
		if err != nil {
			t.Errorf("Run(%q): %v", tt.cmd, err)
			continue
		}
		if string(r.Stdout) != tt.stdout || string(r.Stderr) != tt.stderr || r.Code != tt.code {
			t.Errorf("Run(%q) = (%q, %q, %d), want (%q, %q, %d)", tt.cmd, r.Stdout, r.Stderr, r.Code, tt.stdout, tt.stderr, tt.code)
		}
	}
	for _, s := range awkward {
		r := run(t, h, "printf '%s' "+shellQuote(s))
		if string(r.Stdout) != s {
			t.Errorf("round trip of %q through the remote shell: got %q", s, r.Stdout)
		}
	}
	_, err := h.Run(testContext(t), "kill -9 $$", nil)
	if err == nil || !strings.Contains(err.Error(), "killed by signal KILL") {
		t.Errorf("command killed by a signal: got %v, want an error", err)
	}
}

func TestSSHDRunLargeOutput(t *testing.T) {
	_, c := startSSHD(t, "")
	h := connect(t, c, "testhost")
	r := run(t, h, "seq 1 100000; seq 1 100000 >&2")
	for name, out := range map[string][]byte{"stdout": r.Stdout, "stderr": r.Stderr} {
		lines := strings.Split(strings.TrimSuffix(string(out), "\n"), "\n")
		if len(lines) != 100000 || lines[0] != "1" || lines[99999] != "100000" {
			t.Errorf("%s: %d lines, first %q, want 100000 lines 1..100000", name, len(lines), lines[0])
		}
	}
	// A large input, too.
	in := bytes.Repeat([]byte("0123456789abcdef"), 1<<16)
	r, err := h.Run(testContext(t), "wc -c", in)
	if err != nil || strings.TrimSpace(string(r.Stdout)) != strconv.Itoa(len(in)) {
		t.Errorf("wc -c of %d bytes of stdin: %q, %v", len(in), r.Stdout, err)
	}
}

// waitFile waits for a file that ends with a newline and returns its
// content.
func waitFile(t *testing.T, ctx context.Context, name string) string {
	t.Helper()
	for {
		if data, err := os.ReadFile(name); err == nil && strings.HasSuffix(string(data), "\n") {
			return string(data)
		}
		select {
		case <-ctx.Done():
			t.Fatalf("waiting for %s: %v", name, ctx.Err())
		case <-time.After(10 * time.Millisecond):
		}
	}
}

// remoteAlive reports whether pid exists on the host, asked through h.
func remoteAlive(t *testing.T, h *Host, pid int) bool {
	t.Helper()
	return run(t, h, fmt.Sprintf("kill -0 %d", pid)).Code == 0
}

func TestSSHDRunCancelKills(t *testing.T) {
	d, c := startSSHD(t, "")
	h := connect(t, c, "testhost")
	pidFile := filepath.Join(d.Dir, "run.pid")
	ctx, cancel := context.WithCancel(testContext(t))
	defer cancel()
	go cancelOnFile(ctx, cancel, pidFile)
	_, err := h.Run(ctx, "echo $$ > "+shellQuote(pidFile)+"; exec sleep 600", nil)
	if !errors.Is(err, context.Canceled) {
		t.Fatalf("cancelled Run: got %v, want context.Canceled", err)
	}
	pid, _ := strconv.Atoi(strings.TrimSpace(waitFile(t, testContext(t), pidFile)))
	if pid == 0 || remoteAlive(t, h, pid) {
		t.Errorf("remote process %d survived the cancelled Run", pid)
	}
}

func TestSSHDStartKill(t *testing.T) {
	_, c := startSSHD(t, "")
	h := connect(t, c, "testhost")
	p, err := h.Start(testContext(t), "sleep 600 | cat")
	if err != nil {
		t.Fatal(err)
	}
	if !p.Running() || !remoteAlive(t, h, p.Pid()) {
		t.Fatalf("started process %d is not running", p.Pid())
	}
	// The pipeline's children are in the process group too.
	kids := strings.Fields(string(run(t, h, fmt.Sprintf("pgrep -g %d", p.Pid())).Stdout))
	if len(kids) < 2 {
		t.Fatalf("pgrep -g %d = %v, want the pipeline's processes", p.Pid(), kids)
	}
	if err := p.Kill(); err != nil {
		t.Fatal(err)
	}
	if p.Running() {
		t.Error("Running after Kill")
	}
	if remoteAlive(t, h, p.Pid()) {
		t.Errorf("process %d alive after Kill", p.Pid())
	}
	// Zombies waiting for init to reap them do not count.
	live := fmt.Sprintf("for p in $(pgrep -g %d); do ps -o pid=,stat= -p $p; done | grep -v Z", p.Pid())
	if r := run(t, h, live); len(r.Stdout) > 0 {
		t.Errorf("processes of group %d survive Kill: %s", p.Pid(), r.Stdout)
	}
	if _, err := p.Wait(testContext(t)); err == nil {
		t.Error("Wait after Kill reported success")
	}

	p, err = h.Start(testContext(t), "printf done; exit 5")
	if err != nil {
		t.Fatal(err)
	}
	r, err := p.Wait(testContext(t))
	if err != nil || string(r.Stdout) != "done" || r.Code != 5 {
		t.Errorf("Wait = %+v, %v", r, err)
	}
}

func TestSSHDExecStream(t *testing.T) {
	d, c := startSSHD(t, "")
	h := connect(t, c, "testhost")
	s, err := h.Exec(testContext(t), "cat")
	if err != nil {
		t.Fatal(err)
	}
	data := make([]byte, 1<<20)
	rand.Read(data)
	werr := make(chan error, 1)
	go func() {
		_, err := s.Write(data)
		if err == nil {
			err = s.CloseWrite()
		}
		werr <- err
	}()
	got, err := io.ReadAll(s)
	if err != nil {
		t.Fatal(err)
	}
	if err := <-werr; err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(got, data) {
		t.Fatalf("cat echoed %d bytes, want the %d bytes sent", len(got), len(data))
	}
	if r, err := s.Wait(testContext(t)); err != nil || r.Code != 0 {
		t.Fatalf("Wait = %+v, %v", r, err)
	}
	s.Close()

	// Close gives the remote process end-of-file on its input.
	mark := filepath.Join(d.Dir, "eof")
	s, err = h.Exec(testContext(t), "cat >/dev/null; echo got-eof > "+shellQuote(mark))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := s.Write([]byte("some input\n")); err != nil {
		t.Fatal(err)
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	if got := waitFile(t, testContext(t), mark); got != "got-eof\n" {
		t.Errorf("after Close the remote wrote %q", got)
	}

	// Stderr tail and Kill.
	s, err = h.Exec(testContext(t), "echo starting >&2; exec sleep 600")
	if err != nil {
		t.Fatal(err)
	}
	if err := s.Kill(); err != nil {
		t.Fatal(err)
	}
	if remoteAlive(t, h, s.Pid()) {
		t.Errorf("stream process %d alive after Kill", s.Pid())
	}
	s.Close()
}

// makeTree creates a directory tree with awkward names, modes, an empty
// directory and a symbolic link, and a binary file holding every byte.
func makeTree(t *testing.T, root string) {
	t.Helper()
	files := map[string]string{
		"top.txt":                          "top\n",
		"dir with spaces/file 1.txt":       "one\n",
		"dir with spaces/sub dir/it's.txt": "quote\n",
		"dir with spaces/sub dir/$HOME":    "dollar\n",
		"-dash":                            "dash\n",
	}
	for name, content := range files {
		p := filepath.Join(root, name)
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		writeTestFile(t, p, content)
	}
	writeTestFile(t, filepath.Join(root, "all bytes.bin"), string(allBytes()))
	if err := os.Chmod(filepath.Join(root, "all bytes.bin"), 0o751); err != nil {
		t.Fatal(err)
	}
	if err := os.Chmod(filepath.Join(root, "top.txt"), 0o640); err != nil {
		t.Fatal(err)
	}
	if err := os.MkdirAll(filepath.Join(root, "empty dir"), 0o700); err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink("top.txt", filepath.Join(root, "link to top")); err != nil {
		t.Fatal(err)
	}
}

// allBytes returns every byte value, several times over.
func allBytes() []byte {
	var b []byte
	for range 3 {
		for i := range 256 {
			b = append(b, byte(i))
		}
	}
	return b
}

// treeListing describes a tree: every entry's path, type, mode, and
// content or link target.
func treeListing(t *testing.T, root string) string {
	t.Helper()
	var lines []string
	err := filepath.WalkDir(root, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(root, p)
		fi, err := os.Lstat(p)
		if err != nil {
			return err
		}
		line := fmt.Sprintf("%s %v", rel, fi.Mode())
		switch {
		case fi.Mode()&fs.ModeSymlink != 0:
			target, _ := os.Readlink(p)
			line += " -> " + target
		case fi.Mode().IsRegular():
			data, _ := os.ReadFile(p)
			line += fmt.Sprintf(" %q", data)
		}
		lines = append(lines, line)
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return strings.Join(lines, "\n")
}

func TestSSHDCopyFiles(t *testing.T) {
	d, c := startSSHD(t, "")
	ctx := testContext(t)
	local := t.TempDir()
	remoteDir := filepath.Join(d.Dir, "remote files")
	if err := os.Mkdir(remoteDir, 0o755); err != nil {
		t.Fatal(err)
	}
	bin := filepath.Join(local, "all bytes.bin")
	writeTestFile(t, bin, string(allBytes()))
	if err := os.Chmod(bin, 0o751); err != nil {
		t.Fatal(err)
	}

	// Upload to a new name, then into an existing directory.
	if err := c.Copy(ctx, bin, "testhost:"+remoteDir+"/renamed.bin"); err != nil {
		t.Fatal(err)
	}
	if err := c.Copy(ctx, bin, "testhost:"+remoteDir); err != nil {
		t.Fatal(err)
	}
	for _, name := range []string{"renamed.bin", "all bytes.bin"} {
		p := filepath.Join(remoteDir, name)
		got, err := os.ReadFile(p)
		if err != nil || !bytes.Equal(got, allBytes()) {
			t.Errorf("uploaded %s: %d bytes, %v; want the %d bytes sent", name, len(got), err, len(allBytes()))
		}
		if st, err := os.Stat(p); err != nil || st.Mode().Perm() != 0o751 {
			t.Errorf("uploaded %s: mode %v, want -rwxr-x--x", name, st.Mode())
		}
	}

	// Download back, to a new name and into an existing directory.
	back := filepath.Join(local, "back")
	if err := os.Mkdir(back, 0o755); err != nil {
		t.Fatal(err)
	}
	if err := c.Copy(ctx, "testhost:"+remoteDir+"/renamed.bin", filepath.Join(back, "again.bin")); err != nil {
		t.Fatal(err)
	}
	if err := c.Copy(ctx, "testhost:"+remoteDir+"/renamed.bin", back); err != nil {
		t.Fatal(err)
	}
	for _, name := range []string{"again.bin", "renamed.bin"} {
		p := filepath.Join(back, name)
		got, err := os.ReadFile(p)
		if err != nil || !bytes.Equal(got, allBytes()) {
			t.Errorf("downloaded %s: %d bytes, %v", name, len(got), err)
		}
		if st, err := os.Stat(p); err != nil || st.Mode().Perm() != 0o751 {
			t.Errorf("downloaded %s: mode %v, want -rwxr-x--x", name, st.Mode())
		}
	}

	// Remote paths relative to the home directory, and "~/".
	if err := c.Copy(ctx, bin, "testhost:~/in home.bin"); err != nil {
		t.Fatal(err)
	}
	if got, err := os.ReadFile(filepath.Join(d.Home, "in home.bin")); err != nil || !bytes.Equal(got, allBytes()) {
		t.Errorf("upload to ~/: %v", err)
	}
	if err := c.Copy(ctx, "testhost:~/in home.bin", filepath.Join(local, "from home.bin")); err != nil {
		t.Fatal(err)
	}

	// Errors.
	errTests := []struct{ src, dst, want string }{
		{"testhost:" + remoteDir + "/missing", local, "no such file or directory"},
		{filepath.Join(local, "missing"), "testhost:" + remoteDir, "no such file or directory"},
		{bin, "testhost:" + remoteDir + "/no/such/dir/x", "exit"},
		{bin, local + "/x", "neither side is remote"},
		{"testhost:a", "testhost:b", "both sides are remote"},
	}
	for _, tt := range errTests {
		err := c.Copy(ctx, tt.src, tt.dst)
		if err == nil || !strings.Contains(strings.ToLower(err.Error()), tt.want) {
			t.Errorf("Copy(%q, %q): got %v, want an error containing %q", tt.src, tt.dst, err, tt.want)
		}
	}
}

func TestSSHDCopyTree(t *testing.T) {
	d, c := startSSHD(t, "")
	ctx := testContext(t)
	src := filepath.Join(t.TempDir(), "my tree")
	makeTree(t, src)
	want := treeListing(t, src)

	remoteBase := filepath.Join(d.Dir, "remote base")
	if err := os.Mkdir(remoteBase, 0o755); err != nil {
		t.Fatal(err)
	}
	// Into an existing directory: remoteBase/"my tree".
	if err := c.Copy(ctx, src, "testhost:"+remoteBase); err != nil {
		t.Fatal(err)
	}
	if got := treeListing(t, filepath.Join(remoteBase, "my tree")); got != want {
		t.Errorf("uploaded tree:\n%s\nwant:\n%s", got, want)
	}
	// To a new name.
	if err := c.Copy(ctx, src, "testhost:"+remoteBase+"/copy two"); err != nil {
		t.Fatal(err)
	}
	if got := treeListing(t, filepath.Join(remoteBase, "copy two")); got != want {
		t.Errorf("uploaded tree under a new name:\n%s\nwant:\n%s", got, want)
	}

	// And back.
	localBase := t.TempDir()
	if err := c.Copy(ctx, "testhost:"+remoteBase+"/copy two", localBase); err != nil {
		t.Fatal(err)
	}
	if got := treeListing(t, filepath.Join(localBase, "copy two")); got != want {
		t.Errorf("downloaded tree:\n%s\nwant:\n%s", got, want)
	}
	h := connect(t, c, "testhost")
	if err := h.Download(ctx, remoteBase+"/my tree", filepath.Join(localBase, "renamed tree")); err != nil {
		t.Fatal(err)
	}
	if got := treeListing(t, filepath.Join(localBase, "renamed tree")); got != want {
		t.Errorf("downloaded tree to a new name:\n%s\nwant:\n%s", got, want)
	}
}

func TestSSHDTunnel(t *testing.T) {
	_, c := startSSHD(t, "")
	h := connect(t, c, "testhost")
	echo := startEcho(t)
	tun, err := h.Tunnel(testContext(t), echo, 0, "127.0.0.1")
	if err != nil {
		t.Fatal(err)
	}
	if tun.Dest() != fmt.Sprintf("127.0.0.1:%d", echo) || tun.Host() != h {
		t.Errorf("Dest = %q", tun.Dest())
	}
	checkTunnel(t, tun, echo)

	// A chosen local port, and the default remote host "localhost".
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	port := ln.Addr().(*net.TCPAddr).Port
	ln.Close()
	tun, err = h.Tunnel(testContext(t), echo, port, "")
	if err != nil {
		t.Fatal(err)
	}
	if tun.Port() != port || tun.Dest() != fmt.Sprintf("localhost:%d", echo) {
		t.Errorf("Port = %d, Dest = %q; want %d and localhost:%d", tun.Port(), tun.Dest(), port, echo)
	}
	checkTunnel(t, tun, echo)

	// Client.Close closes live tunnels.
	tun, err = h.Tunnel(testContext(t), echo, 0, "127.0.0.1")
	if err != nil {
		t.Fatal(err)
	}
	c.Close()
	if conn, err := net.Dial("tcp", tun.Addr()); err == nil {
		conn.Close()
		t.Error("tunnel still accepts connections after Client.Close")
	}
}

func TestSSHDEnsureBinary(t *testing.T) {
	d, c := startSSHD(t, "")
	ctx := testContext(t)
	h := connect(t, c, "testhost")
	exe := filepath.Join(t.TempDir(), "tiny")
	writeTestFile(t, exe, "#!/bin/sh\necho tiny-ok\n")

	path, err := h.EnsureBinaryOptions(ctx, exe, BinaryOptions{SkipPath: true})
	if err != nil {
		t.Fatal(err)
	}
	sum, _, _ := fileDigest(exe)
	if want := filepath.Join(d.Home, ".cache", "pathos-star", sum, "pathos-star"); path != want {
		t.Errorf("EnsureBinary = %q, want %q", path, want)
	}
	if r := run(t, h, shellQuote(path)); string(r.Stdout) != "tiny-ok\n" {
		t.Errorf("running the installed binary: %q %q", r.Stdout, r.Stderr)
	}

	// Present with the right size: not copied again.
	old := time.Date(2001, 1, 1, 0, 0, 0, 0, time.UTC)
	if err := os.Chtimes(path, old, old); err != nil {
		t.Fatal(err)
	}
	if p2, err := h.EnsureBinaryOptions(ctx, exe, BinaryOptions{SkipPath: true}); err != nil || p2 != path {
		t.Fatalf("second EnsureBinary = %q, %v", p2, err)
	}
	if st, _ := os.Stat(path); !st.ModTime().Equal(old) {
		t.Error("the binary was copied again although it was present")
	}
	// Wrong size: copied again.
	writeTestFile(t, path, "#!/bin/sh\n")
	if _, err := h.EnsureBinaryOptions(ctx, exe, BinaryOptions{SkipPath: true}); err != nil {
		t.Fatal(err)
	}
	if r := run(t, h, shellQuote(path)); string(r.Stdout) != "tiny-ok\n" {
		t.Errorf("after a re-copy: %q", r.Stdout)
	}

	// Another cache directory.
	p3, err := h.EnsureBinaryOptions(ctx, exe, BinaryOptions{SkipPath: true, CacheDir: "~/other cache"})
	if err != nil || p3 != filepath.Join(d.Home, "other cache", sum, "pathos-star") {
		t.Errorf("with CacheDir: %q, %v", p3, err)
	}

	// A binary for another architecture is refused, naming both.
	other := "arm64"
	if runtime.GOARCH == "arm64" {
		other = "amd64"
	}
	_, err = h.EnsureBinaryOptions(ctx, exe, BinaryOptions{SkipPath: true, GOARCH: other})
	if err == nil || !strings.Contains(err.Error(), runtime.GOOS+"/"+other) || !strings.Contains(err.Error(), runtime.GOOS+"/"+runtime.GOARCH) {
		t.Errorf("EnsureBinary with GOARCH %s: got %v, want an error naming both platforms", other, err)
	}

	// pathos-star on the remote PATH wins.
	onPath := filepath.Join(d.Home, "bin", "pathos-star")
	writeTestFile(t, onPath, "#!/bin/sh\n")
	if err := os.Chmod(onPath, 0o755); err != nil {
		t.Fatal(err)
	}
	if p, err := h.EnsureBinary(ctx, exe); err != nil || p != onPath {
		t.Errorf("with pathos-star on PATH: EnsureBinary = %q, %v; want %q", p, err, onPath)
	}
}

func TestSSHDProxyJump(t *testing.T) {
	d, c := startSSHD(t, "")
	cfg := filepath.Join(d.Dir, "jump_config")
	base, _ := os.ReadFile(d.ConfigFile)
	writeTestFile(t, cfg, "Host jumped\n  ProxyJump testhost\nHost jumped2\n  ProxyJump testhost,testhost\n"+
		d.HostBlock("jumped")+d.HostBlock("jumped2")+string(base))
	c = NewClient(WithConfigFile(cfg), WithAgent(""))
	defer c.Close()
	for _, dest := range []string{"jumped", "jumped2"} {
		h := connect(t, c, dest)
		if h.via == nil {
			t.Errorf("%s: not connected through a jump host", dest)
		}
		if r := run(t, h, "echo $SSH_CONNECTION"); !strings.HasPrefix(string(r.Stdout), "127.0.0.1 ") {
			t.Errorf("%s: SSH_CONNECTION = %q", dest, r.Stdout)
		}
	}
	direct := connect(t, c, "testhost")
	if direct.via != nil {
		t.Error("the jump host itself was connected through a jump host")
	}
}

func TestSSHDHostKeys(t *testing.T) {
	d := sshtest.StartSSHD(t)
	newKH := filepath.Join(d.Dir, "new", "known_hosts")
	emptyKH := filepath.Join(d.Dir, "empty_known_hosts")
	writeTestFile(t, emptyKH, "")
	cfg := filepath.Join(d.Dir, "hostkeys_config")
	writeTestFile(t, cfg, fmt.Sprintf(`Host acceptnew
  StrictHostKeyChecking accept-new
  UserKnownHostsFile %q
Host strict
  UserKnownHostsFile %q
`, newKH, emptyKH)+d.HostBlock("acceptnew")+d.HostBlock("strict"))
	c := NewClient(WithConfigFile(cfg), WithAgent(""))
	defer c.Close()

	_, err := c.Connect(testContext(t), "strict")
	var hk *HostKeyError
	if !errors.As(err, &hk) || hk.Changed || !strings.Contains(err.Error(), "ssh-keyscan") {
		t.Errorf("unknown host with strict checking: got %v", err)
	}

	h := connect(t, c, "acceptnew")
	run(t, h, "true")
	data, err := os.ReadFile(newKH)
	want := fmt.Sprintf("[127.0.0.1]:%d %s\n", d.Port, d.HostKeyPub)
	if err != nil || string(data) != want {
		t.Errorf("accept-new wrote %q, %v; want %q", data, err, want)
	}
}

func TestSSHDLoginRefused(t *testing.T) {
	d := sshtest.StartSSHD(t)
	sshtest.GenerateKey(t, d.Dir, "stranger", "")
	cfg := filepath.Join(d.Dir, "stranger_config")
	writeTestFile(t, cfg, strings.Replace(d.HostBlock("stranger"), d.KeyFile, filepath.Join(d.Dir, "stranger"), 1))
	c := NewClient(WithConfigFile(cfg), WithAgent(""))
	defer c.Close()
	_, err := c.Connect(testContext(t), "stranger")
	if err == nil || !strings.Contains(err.Error(), `connect to "stranger"`) || !strings.Contains(err.Error(), "refused") {
		t.Errorf("login with an unauthorized key: got %v", err)
	}
}

func TestSSHDClientCloseKillsProcesses(t *testing.T) {
	_, c := startSSHD(t, "")
	h := connect(t, c, "testhost")
	p, err := h.Start(testContext(t), "sleep 600")
	if err != nil {
		t.Fatal(err)
	}
	s, err := h.Exec(testContext(t), "cat")
	if err != nil {
		t.Fatal(err)
	}
	if err := c.Close(); err != nil {
		t.Fatal(err)
	}
	// The remote host is this machine.
	for _, pid := range []int{p.Pid(), s.Pid()} {
		if !processGone(pid) {
			t.Errorf("remote process %d survived Client.Close", pid)
		}
	}
}
