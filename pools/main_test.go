package pools_test

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	pathosstar "github.com/pathos-star/pathos-star"
)

// TestMain lets the test binary serve as a process pool's worker.
func TestMain(m *testing.M) {
	pathosstar.ServeWorkerIfChild()
	os.Exit(m.Run())
}

// testTimeout bounds every script a test runs.
const testTimeout = 90 * time.Second

// output collects what scripts print; onLine, if set, sees each line as
// it is printed. It is safe for concurrent use.
type output struct {
	mu     sync.Mutex
	buf    bytes.Buffer
	onLine func(string)
}

func (o *output) Write(p []byte) (int, error) {
	o.mu.Lock()
	o.buf.Write(p)
	hook := o.onLine
	o.mu.Unlock()
	if hook != nil {
		for line := range strings.SplitSeq(strings.TrimRight(string(p), "\n"), "\n") {
			hook(line)
		}
	}
	return len(p), nil
}

func (o *output) String() string {
	o.mu.Lock()
	defer o.mu.Unlock()
	return o.buf.String()
}

// newInterp returns an interpreter with the given default pool, closed at
// the end of the test.
func newInterp(t testing.TB, spec string) (*pathosstar.Interpreter, *output) {
	t.Helper()
	out := &output{}
	in, err := pathosstar.New(pathosstar.WithPool(spec), pathosstar.WithStdout(out))
	if err != nil {
		t.Fatalf("New(WithPool(%q)): %v", spec, err)
	}
	t.Cleanup(func() { in.Close() })
	return in, out
}

// prelude defines helpers the test scripts share.
const prelude = `
def sum(xs):
    s = 0
    for x in xs:
        s += x
    return s
`

// run runs src with a bounded duration and returns the value of the
// global "result" as a string.
func run(t testing.TB, in *pathosstar.Interpreter, src string) (string, error) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), testTimeout)
	defer cancel()
	g, err := in.Run(ctx, "test.star", prelude+src)
	if err != nil {
		return "", err
	}
	if v, ok := g["result"]; ok {
		return v.String(), nil
	}
	return "", nil
}

// mustRun is run that fails the test on error.
func mustRun(t testing.TB, in *pathosstar.Interpreter, src string) string {
	t.Helper()
	got, err := run(t, in, src)
	if err != nil {
		t.Fatalf("script failed: %v\nscript:\n%s", err, src)
	}
	return got
}

// children returns the pids of the live (not zombie) child processes of
// the test process.
func children(t testing.TB) []int {
	t.Helper()
	stats, err := filepath.Glob("/proc/[0-9]*/stat")
	if err != nil {
		t.Fatal(err)
	}
	me := os.Getpid()
	var pids []int
	for _, f := range stats {
		b, err := os.ReadFile(f)
		if err != nil {
			continue // the process ended
		}
		// pid (comm) state ppid ...; comm may contain spaces.
		s := string(b)
		i := strings.LastIndexByte(s, ')')
		if i < 0 {
			continue
		}
		fields := strings.Fields(s[i+1:])
		if len(fields) < 2 || fields[0] == "Z" {
			continue
		}
		ppid, _ := strconv.Atoi(fields[1])
		if ppid != me {
			continue
		}
		pid, _ := strconv.Atoi(strings.Fields(s)[0])
		pids = append(pids, pid)
	}
	return pids
}

// waitFor polls cond until it holds or d passes, and reports whether it
// held.
func waitFor(d time.Duration, cond func() bool) bool {
	deadline := time.Now().Add(d)
	for {
		if cond() {
			return true
		}
		if time.Now().After(deadline) {
			return false
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// killChildren sends SIGKILL to every live child process and returns how
// many it signalled.
func killChildren(t testing.TB) int {
	n := 0
	for _, pid := range children(t) {
		if syscall.Kill(pid, syscall.SIGKILL) == nil {
			n++
		}
	}
	return n
}

// noChildrenLeft fails the test if child processes remain after a
// bounded wait.
func noChildrenLeft(t testing.TB) {
	t.Helper()
	if !waitFor(10*time.Second, func() bool { return len(children(t)) == 0 }) {
		t.Errorf("child processes left over: %v", children(t))
	}
}
