package pathosstar_test

import (
	"bytes"
	"context"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	pathosstar "github.com/pathos-star/pathos-star"
	"github.com/pathos-star/pathos-star/internal/sshtest"
	"github.com/pathos-star/pathos-star/remote"
)

// runScript runs src on a fresh interpreter and returns what it printed.
func runScript(t *testing.T, src string, opts ...pathosstar.Option) (string, error) {
	t.Helper()
	var out bytes.Buffer
	in, err := pathosstar.New(append([]pathosstar.Option{pathosstar.WithStdout(&out)}, opts...)...)
	if err != nil {
		t.Fatal(err)
	}
	defer in.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	_, err = in.Run(ctx, "remote.star", src)
	return out.String(), err
}

func startSSHD(t *testing.T) *sshtest.SSHD {
	d := sshtest.StartSSHD(t)
	t.Setenv(remote.EnvConfig, d.ConfigFile)
	return d
}

// TestRemotePoolCopiesBinary maps on workers started over ssh; the host
// has no pathos-star, so the driver copies its own binary over.
func TestRemotePoolCopiesBinary(t *testing.T) {
	d := startSSHD(t)
	src := fmt.Sprintf(`
def square(x):
    print("task", x)
    return x * x
p = pool.remote(hosts=[%q], workers=2)
print(p.map(square, range(8)))
print(len(p.stats()) >= 1)
print([s.host for s in p.stats().values()][0])
`, d.Alias)
	out, err := runScript(t, src)
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(out, "[0, 1, 4, 9, 16, 25, 36, 49]\nTrue\ntesthost\n") {
		t.Fatalf("output:\n%s", out)
	}
	for i := range 8 {
		if !strings.Contains(out, fmt.Sprintf("task %d\n", i)) {
			t.Errorf("output of task %d was not forwarded:\n%s", i, out)
		}
	}
	cached, _ := filepath.Glob(filepath.Join(d.Home, ".cache", "pathos-star", "*", "pathos-star"))
	if len(cached) != 1 {
		t.Errorf("binary not copied to the host's cache: %v", cached)
	}
}

// TestRemotePoolBinaryOnPath uses the pathos-star found on the host's PATH.
func TestRemotePoolBinaryOnPath(t *testing.T) {
	d := startSSHD(t)
	exe, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	bin := filepath.Join(d.Home, "bin")
	os.MkdirAll(bin, 0o755)
	if err := os.Symlink(exe, filepath.Join(bin, "pathos-star")); err != nil {
		t.Fatal(err)
	}
	out, err := runScript(t, fmt.Sprintf("print(pool.remote(hosts=[%q]).map(lambda x: -x, [1, 2]))\n", d.Alias))
	if err != nil {
		t.Fatal(err)
	}
	if out != "[-1, -2]\n" {
		t.Fatalf("output %q", out)
	}
	if cached, _ := filepath.Glob(filepath.Join(d.Home, ".cache", "pathos-star", "*")); len(cached) != 0 {
		t.Errorf("binary copied although one is on PATH: %v", cached)
	}
}

// TestRemotePoolSpec runs a script unchanged on --pool hosts:...
func TestRemotePoolSpec(t *testing.T) {
	d := startSSHD(t)
	out, err := runScript(t, "print(pool.map(lambda x: x + 1, range(5)))\n", pathosstar.WithPool("hosts:"+d.Alias+":3"))
	if err != nil {
		t.Fatal(err)
	}
	if out != "[1, 2, 3, 4, 5]\n" {
		t.Fatalf("output %q", out)
	}
}

// TestRemoteTaskTraceback: a remote task's error carries the user's
// file:line.
func TestRemoteTaskTraceback(t *testing.T) {
	d := startSSHD(t)
	src := fmt.Sprintf(`
def f(x):
    if x == 2:
        fail("bad input", x)
    return x
pool.remote(hosts=[%q]).map(f, range(4))
`, d.Alias)
	_, err := runScript(t, src)
	if err == nil {
		t.Fatal("no error")
	}
	for _, want := range []string{"task 2 with arguments (2,) failed on worker", "remote.star:4:13: in f", "bad input 2"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error lacks %q:\n%v", want, err)
		}
	}
}

// TestRemotePoolUnreachable: an unreachable host fails the constructor
// with a clear error, promptly.
func TestRemotePoolUnreachable(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	port := ln.Addr().(*net.TCPAddr).Port
	ln.Close() // nothing listens there now
	_, err = runScript(t, fmt.Sprintf("pool.remote(hosts=['127.0.0.1:%d'])\n", port))
	if err == nil || !strings.Contains(err.Error(), "127.0.0.1") {
		t.Fatalf("got %v, want an error naming the host", err)
	}
}

// startServer runs a worker server on a free loopback port.
func startServer(t *testing.T, secret string) string {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- pathosstar.Serve(ctx, ln, remote.ServerOptions{Secret: []byte(secret)}) }()
	t.Cleanup(func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("serve: %v", err)
		}
	})
	return ln.Addr().String()
}

func TestServeSecret(t *testing.T) {
	addr := startServer(t, "s3cret")
	out, err := runScript(t, fmt.Sprintf("print(pool.remote(servers=[%q], secret='s3cret', workers=3).map(lambda x: x * 2, range(6)))\n", addr))
	if err != nil {
		t.Fatal(err)
	}
	if out != "[0, 2, 4, 6, 8, 10]\n" {
		t.Fatalf("output %q", out)
	}
	began := time.Now()
	_, err = runScript(t, fmt.Sprintf("pool.remote(servers=[%q], secret='wrong')\n", addr))
	if err == nil || !strings.Contains(err.Error(), "authentication failed") {
		t.Fatalf("wrong secret: got %v, want authentication failed", err)
	}
	if d := time.Since(began); d > 30*time.Second {
		t.Errorf("wrong secret refused only after %s", d)
	}
	_, err = runScript(t, fmt.Sprintf("pool.remote(servers=[%q])\n", addr))
	if err == nil {
		t.Fatal("no secret: no error")
	}
}

// TestServeThroughTunnel reaches a server through an ssh tunnel.
func TestServeThroughTunnel(t *testing.T) {
	d := startSSHD(t)
	addr := startServer(t, "k")
	_, port, _ := net.SplitHostPort(addr)
	client := remote.NewClient()
	defer client.Close()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	h, err := client.Connect(ctx, d.Alias)
	if err != nil {
		t.Fatal(err)
	}
	p, _ := strconv.Atoi(port)
	tun, err := h.Tunnel(ctx, p, 0, "127.0.0.1")
	if err != nil {
		t.Fatal(err)
	}
	defer tun.Close()
	out, err := runScript(t, fmt.Sprintf("print(pool.remote(servers=['127.0.0.1:%d'], secret='k').map(str, [1, 2]))\n", tun.Port()))
	if err != nil {
		t.Fatal(err)
	}
	if out != "[\"1\", \"2\"]\n" {
		t.Fatalf("output %q", out)
	}
}

// TestServeManyClients: many clients at once share one server.
func TestServeManyClients(t *testing.T) {
	addr := startServer(t, "")
	errs := make(chan error, 4)
	for i := range 4 {
		go func() {
			out, err := runScript(t, fmt.Sprintf("print(pool.remote(servers=[%q], workers=2).map(lambda x: x + %d, range(50))[-1])\n", addr, i))
			if err == nil && out != fmt.Sprintf("%d\n", 49+i) {
				err = fmt.Errorf("client %d printed %q", i, out)
			}
			errs <- err
		}()
	}
	for range 4 {
		if err := <-errs; err != nil {
			t.Error(err)
		}
	}
}

// TestRemoteWorkerKilled kills a remote worker process mid-map: its tasks
// run on the other worker and the map completes.
func TestRemoteWorkerKilled(t *testing.T) {
	d := startSSHD(t)
	src := fmt.Sprintf(`
def slow(x):
    time.sleep(0.05)
    return x
p = pool.remote(hosts=[%q], workers=2)
print(p.map(slow, range(2)))
print(p.map(slow, range(80), chunksize=1) == list(range(80)))
print(p.map(slow, range(4)))
`, d.Alias)
	done := make(chan struct{})
	defer close(done)
	killed := make(chan int, 1)
	go func() {
		// Kill one remote worker once it has started work.
		deadline := time.After(time.Minute)
		for {
			select {
			case <-done:
				return
			case <-deadline:
				return
			case <-time.After(300 * time.Millisecond):
			}
			pids := remoteWorkers(d.Home)
			if len(pids) >= 2 {
				syscall.Kill(pids[0], syscall.SIGKILL)
				killed <- pids[0]
				return
			}
		}
	}()
	out, err := runScript(t, src)
	if err != nil {
		t.Fatal(err)
	}
	if out != "[0, 1]\nTrue\n[0, 1, 2, 3]\n" {
		t.Fatalf("output %q", out)
	}
	select {
	case <-killed:
	default:
		t.Fatal("no remote worker was killed")
	}
}

var workerCmdRE = regexp.MustCompile(`pathos-star\x00worker`)

// remoteWorkers lists the pids of worker processes run from the cache
// under home.
func remoteWorkers(home string) []int {
	var pids []int
	entries, _ := os.ReadDir("/proc")
	for _, e := range entries {
		pid, err := strconv.Atoi(e.Name())
		if err != nil {
			continue
		}
		cmdline, err := os.ReadFile(filepath.Join("/proc", e.Name(), "cmdline"))
		if err == nil && bytes.HasPrefix(cmdline, []byte(home)) && workerCmdRE.Match(cmdline) {
			pids = append(pids, pid)
		}
	}
	return pids
}

// TestHostPool maps on workers of one host object.
func TestHostPool(t *testing.T) {
	d := startSSHD(t)
	out, err := runScript(t, fmt.Sprintf("h = ssh.connect(%q)\np = h.pool(workers=2)\nprint(p.nodes, p.map(lambda x: x * 3, range(4)))\n", d.Alias))
	if err != nil {
		t.Fatal(err)
	}
	if out != "2 [0, 3, 6, 9]\n" {
		t.Fatalf("output %q", out)
	}
}
