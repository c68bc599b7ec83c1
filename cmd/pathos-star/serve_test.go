package main

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"net"
	"os/exec"
	"regexp"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"
)

var listeningRE = regexp.MustCompile(`listening on (127\.0\.0\.1:[0-9]+)`)

// startServe starts `pathos-star serve` and returns its address once it
// says it is listening.
func startServe(t *testing.T, exe string, args ...string) (*exec.Cmd, string, <-chan error) {
	t.Helper()
	cmd := exec.Command(exe, append([]string{"serve"}, args...)...)
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	lines := make(chan string, 1)
	go func() {
		r := bufio.NewReader(stdout)
		line, _ := r.ReadString('\n')
		lines <- line
		io.Copy(io.Discard, r)
		done <- cmd.Wait()
	}()
	t.Cleanup(func() { cmd.Process.Kill() })
	select {
	case line := <-lines:
		m := listeningRE.FindStringSubmatch(line)
		if m == nil {
			t.Fatalf("serve printed %q, want a listening line", line)
		}
		return cmd, m[1], done
	case <-time.After(30 * time.Second):
		t.Fatal("serve did not say it was listening")
	}
	return nil, "", nil
}

// runClient runs a script on the real binary that maps on the server.
func runClient(t *testing.T, exe, addr, secret string) (string, error) {
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	code := fmt.Sprintf("print(pool.remote(servers=[%q], secret=%q, workers=2).map(lambda x: x * 10, range(5)))", addr, secret)
	out, err := exec.CommandContext(ctx, exe, "-c", code).CombinedOutput()
	return string(out), err
}

func TestServe(t *testing.T) {
	exe := buildBinary(t)
	cmd, addr, done := startServe(t, exe, "--port", "0", "--secret", "open sesame")

	out, err := runClient(t, exe, addr, "open sesame")
	if err != nil || out != "[0, 10, 20, 30, 40]\n" {
		t.Fatalf("right secret: %v\n%s", err, out)
	}
	began := time.Now()
	out, err = runClient(t, exe, addr, "wrong")
	if err == nil || !strings.Contains(out, "authentication failed") {
		t.Fatalf("wrong secret: %v\n%s", err, out)
	}
	if d := time.Since(began); d > 20*time.Second {
		t.Errorf("wrong secret refused only after %s", d)
	}

	// Many clients at once.
	errs := make(chan error, 3)
	for range 3 {
		go func() {
			out, err := runClient(t, exe, addr, "open sesame")
			if err == nil && out != "[0, 10, 20, 30, 40]\n" {
				err = fmt.Errorf("printed %q", out)
			}
			errs <- err
		}()
	}
	for range 3 {
		if err := <-errs; err != nil {
			t.Error(err)
		}
	}

	// SIGTERM: a graceful exit, status 0.
	cmd.Process.Signal(syscall.SIGTERM)
	select {
	case err := <-done:
		if err != nil {
			t.Errorf("after SIGTERM: %v", err)
		}
	case <-time.After(30 * time.Second):
		t.Fatal("serve ignored SIGTERM")
	}
	if c, err := net.DialTimeout("tcp", addr, time.Second); err == nil {
		c.Close()
		t.Error("port still accepts after serve exited")
	}
}

func TestServeIdleTimeout(t *testing.T) {
	exe := buildBinary(t)
	_, _, done := startServe(t, exe, "--timeout", "500ms", "--quiet")
	select {
	case err := <-done:
		if err != nil {
			t.Errorf("idle exit: %v", err)
		}
	case <-time.After(30 * time.Second):
		t.Fatal("serve did not exit after its idle timeout")
	}
}

func TestServeUsage(t *testing.T) {
	exe := buildBinary(t)
	for _, tc := range []struct {
		args []string
		want string
	}{
		{[]string{"serve", "--bind", "0.0.0.0"}, "without a secret"},
		{[]string{"serve", "--secret", "a", "--secret-file", "f"}, "not both"},
		{[]string{"serve", "--secret-file", "/no/such/file"}, "no such file"},
		{[]string{"serve", "--port", "70000"}, "--port"},
		{[]string{"serve", "extra"}, "unexpected argument"},
	} {
		out, err := exec.Command(exe, tc.args...).CombinedOutput()
		ee, ok := err.(*exec.ExitError)
		if !ok || ee.ExitCode() != 2 || !strings.Contains(string(out), tc.want) {
			t.Errorf("%v: %v\n%s\nwant exit 2 and %q", tc.args, err, out, tc.want)
		}
	}
}

func TestPortpicker(t *testing.T) {
	exe := buildBinary(t)
	out, err := exec.Command(exe, "portpicker").Output()
	if err != nil {
		t.Fatal(err)
	}
	port, err := strconv.Atoi(strings.TrimSpace(string(out)))
	if err != nil || port < 1 || port > 65535 {
		t.Fatalf("portpicker printed %q", out)
	}
	ln, err := net.Listen("tcp", net.JoinHostPort("127.0.0.1", strconv.Itoa(port)))
	if err != nil {
		t.Fatalf("port %d is not free: %v", port, err)
	}
	ln.Close()
}
