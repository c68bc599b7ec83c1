package repl

import (
	"context"
	"os"
	"strings"
	"testing"
	"time"

	pathosstar "github.com/pathos-star/pathos-star"
)

func TestMain(m *testing.M) {
	pathosstar.ServeWorkerIfChild()
	os.Exit(m.Run())
}

// newTestSession returns a session whose print, echo and errors go to
// the returned builders.
func newTestSession(t *testing.T) (*session, *strings.Builder, *strings.Builder) {
	t.Helper()
	var out, errs strings.Builder
	in, err := pathosstar.New(pathosstar.WithStdout(&out))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { in.Close() })
	return newSession(in, &out, &errs), &out, &errs
}

func TestSession(t *testing.T) {
	for _, tc := range []struct {
		name     string
		chunks   []string
		out      string
		errs     []string // substrings of stderr, in order
		noErrors bool
	}{
		{
			name:     "echo and underscore",
			chunks:   []string{"1 + 2", "_ * 10", "None", "print('hi')"},
			out:      "3\n30\nhi\n",
			noErrors: true,
		},
		{
			name:   "error keeps globals and line numbers are session-wide",
			chunks: []string{"x = 1", "def f():\n    return 1 // 0\n\n", "f()", "x + 1"},
			out:    "2\n",
			errs:   []string{"<stdin>:5:2: in <expr>", "<stdin>:3:14: in f", "division by zero"},
		},
		{
			name:     "global from an earlier input, mapped on a process pool",
			chunks:   []string{"K = 10", "def f(x):\n    return x * K\n\n", "p = pool.processes(2)", "p.map(f, range(4))", "p.map(lambda x: x + K, [1])", "p.terminate()"},
			out:      "[0, 10, 20, 30]\n[11]\n",
			noErrors: true,
		},
		{
			name:     "function calling a function of an earlier input",
			chunks:   []string{"B = 3", "def g(x):\n    return x + B\n\n", "def h(x):\n    return g(x) * 2\n\n", "pool.threads(2).map(h, [1, 2])"},
			out:      "[8, 10]\n",
			noErrors: true,
		},
		{
			name:   "syntax error is not in the transcript",
			chunks: []string{"x = (", "y = 2", "y"},
			out:    "2\n",
			errs:   []string{"<stdin>:2:1: got end of file"},
		},
	} {
		t.Run(tc.name, func(t *testing.T) {
			s, out, errs := newTestSession(t)
			ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
			defer cancel()
			for _, c := range tc.chunks {
				s.exec(ctx, c)
			}
			if out.String() != tc.out {
				t.Errorf("stdout = %q, want %q (stderr %q)", out.String(), tc.out, errs.String())
			}
			if tc.noErrors && errs.Len() > 0 {
				t.Errorf("unexpected stderr: %s", errs.String())
			}
			rest := errs.String()
			for _, e := range tc.errs {
				i := strings.Index(rest, e)
				if i < 0 {
					t.Fatalf("stderr lacks %q after the earlier expectations; stderr:\n%s", e, errs.String())
				}
				rest = rest[i+len(e):]
			}
			text, ok := s.in.Sources().Text(Filename)
			if !ok || strings.Count(text, "\n") != s.lines {
				t.Errorf("registered transcript has %d lines (ok=%v), session counted %d", strings.Count(text, "\n"), ok, s.lines)
			}
		})
	}
}

func TestSessionCancel(t *testing.T) {
	s, _, errs := newTestSession(t)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() {
		s.exec(ctx, "n = 0\nwhile True:\n    n += 1\n")
		close(done)
	}()
	// The statement never ends by itself; cancelling ctx must stop it
	// whether or not it has started yet.
	time.AfterFunc(50*time.Millisecond, cancel)
	select {
	case <-done:
	case <-time.After(time.Minute):
		t.Fatal("cancelled statement did not stop")
	}
	if !strings.Contains(errs.String(), "cancelled") {
		t.Errorf("stderr = %q, want a cancellation", errs.String())
	}
	errs.Reset()
	s.exec(context.Background(), "n > 0")
	if errs.Len() > 0 {
		t.Errorf("session did not go on after cancel: %s", errs.String())
	}
}

// TestInterruptible runs inputs the way Run does: an async result
// outlives the input that started it, and a signal stops a running loop.
func TestInterruptible(t *testing.T) {
	s, out, errs := newTestSession(t)
	ctx := context.Background()
	sigs := make(chan os.Signal, 1)
	for _, c := range []string{
		"def work(x):\n    return x * 3\n\n",
		"r = pool.processes(2).amap(work, [1, 2])",
		"r.get()",
	} {
		s.interruptible(ctx, sigs, c)
	}
	if out.String() != "[3, 6]\n" || errs.Len() > 0 {
		t.Fatalf("stdout %q, stderr %q; want [3, 6]", out.String(), errs.String())
	}

	done := make(chan struct{})
	go func() {
		s.interruptible(ctx, sigs, "while True:\n    pass\n")
		close(done)
	}()
	// interruptible drains stale signals before it starts, so keep
	// signalling until the loop stops.
	for stopped := false; !stopped; {
		select {
		case sigs <- os.Interrupt:
		case <-done:
			stopped = true
		case <-time.After(time.Minute):
			t.Fatal("interrupted statement did not stop")
		}
	}
	if !strings.Contains(errs.String(), "cancelled: interrupted") {
		t.Errorf("stderr = %q, want a cancellation", errs.String())
	}
}
