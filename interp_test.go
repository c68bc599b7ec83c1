package pathosstar_test

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"go.starlark.net/starlark"
	"go.starlark.net/starlarkstruct"

	pathosstar "github.com/pathos-star/pathos-star"
)

func TestMain(m *testing.M) {
	pathosstar.ServeWorkerIfChild()
	os.Exit(m.Run())
}

// poolSpecs are the default pools every testdata script runs under.
var poolSpecs = []string{"serial", "threads:4", "processes:2"}

// TestScripts runs each testdata/*.star under every pool kind: chunks
// (separated by "---" lines) must pass their assertions and fail exactly
// where a `### "regexp"` comment says, and the printed output must be the
// same under every pool.
func TestScripts(t *testing.T) {
	files, err := filepath.Glob("testdata/*.star")
	if err != nil || len(files) == 0 {
		t.Fatalf("no test scripts: %v", err)
	}
	for _, file := range files {
		t.Run(filepath.Base(file), func(t *testing.T) {
			t.Parallel()
			var outputs []string
			for _, spec := range poolSpecs {
				out := runChunks(t, file, spec)
				outputs = append(outputs, out)
			}
			for i := 1; i < len(outputs); i++ {
				if outputs[i] != outputs[0] {
					t.Errorf("output under %s differs from %s:\n--- %s\n%s--- %s\n%s",
						poolSpecs[i], poolSpecs[0], poolSpecs[0], outputs[0], poolSpecs[i], outputs[i])
				}
			}
		})
	}
}

var wantErrRE = regexp.MustCompile(`### "(.*)"`)

// runChunks runs each chunk of file on a fresh interpreter whose default
// pool is spec, and returns what the chunks printed.
func runChunks(t *testing.T, file, spec string) string {
	data, err := os.ReadFile(file)
	if err != nil {
		t.Fatal(err)
	}
	var out bytes.Buffer
	lines := strings.SplitAfter(string(data), "\n")
	start := 0
	for i := 0; i <= len(lines); i++ {
		if i < len(lines) && strings.TrimRight(lines[i], "\n") != "---" {
			continue
		}
		// The chunk keeps its line numbers: earlier lines become blank.
		src := strings.Repeat("\n", start) + strings.Join(lines[start:i], "")
		want := map[int]string{}
		for k := start; k < i; k++ {
			if m := wantErrRE.FindStringSubmatch(lines[k]); m != nil {
				want[k+1] = strings.ReplaceAll(m[1], `\"`, `"`)
			}
		}
		runChunk(t, file, spec, src, want, &out)
		start = i + 1
	}
	return out.String()
}

func runChunk(t *testing.T, file, spec, src string, want map[int]string, out *bytes.Buffer) {
	in, err := pathosstar.New(pathosstar.WithPool(spec), pathosstar.WithStdout(out),
		pathosstar.WithPredeclared(starlark.StringDict{"assert": assertModule(t)}))
	if err != nil {
		t.Fatal(err)
	}
	defer in.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	_, err = in.Run(ctx, file, src)
	if err == nil {
		for line, pattern := range want {
			t.Errorf("%s:%d [%s]: no error, want one matching %q", file, line, spec, pattern)
		}
		return
	}
	var ee *starlark.EvalError
	if !errors.As(err, &ee) {
		t.Errorf("%s [%s]: %v", file, spec, err)
		return
	}
	line := 0
	for i := len(ee.CallStack) - 1; i >= 0; i-- {
		if pos := ee.CallStack[i].Pos; pos.Filename() == file {
			line = int(pos.Line)
			break
		}
	}
	pattern, ok := want[line]
	if !ok {
		t.Errorf("%s:%d [%s]: unexpected error: %s", file, line, spec, ee.Backtrace())
		return
	}
	if !regexp.MustCompile(pattern).MatchString(ee.Msg) {
		t.Errorf("%s:%d [%s]: error %q does not match %q", file, line, spec, ee.Msg, pattern)
	}
	for l, p := range want {
		if l != line {
			t.Errorf("%s:%d [%s]: no error, want one matching %q", file, l, spec, p)
		}
	}
}

// assertModule is a small assert module whose failures are errors, so
// that they fail the chunk with a traceback.
func assertModule(t *testing.T) starlark.Value {
	eq := func(thread *starlark.Thread, b *starlark.Builtin, args starlark.Tuple, kwargs []starlark.Tuple) (starlark.Value, error) {
		var x, y starlark.Value
		if err := starlark.UnpackPositionalArgs(b.Name(), args, kwargs, 2, &x, &y); err != nil {
			return nil, err
		}
		if ok, err := starlark.Equal(x, y); err != nil || !ok {
			return nil, fmt.Errorf("assert.eq: %s != %s", x, y)
		}
		return starlark.None, nil
	}
	isTrue := func(thread *starlark.Thread, b *starlark.Builtin, args starlark.Tuple, kwargs []starlark.Tuple) (starlark.Value, error) {
		var x starlark.Value
		if err := starlark.UnpackPositionalArgs(b.Name(), args, kwargs, 1, &x); err != nil {
			return nil, err
		}
		if !x.Truth() {
			return nil, fmt.Errorf("assert.true: %s is not true", x)
		}
		return starlark.None, nil
	}
	fails := func(thread *starlark.Thread, b *starlark.Builtin, args starlark.Tuple, kwargs []starlark.Tuple) (starlark.Value, error) {
		var f starlark.Callable
		var pattern string
		if err := starlark.UnpackPositionalArgs(b.Name(), args, kwargs, 2, &f, &pattern); err != nil {
			return nil, err
		}
		_, err := starlark.Call(thread, f, nil, nil)
		if err == nil {
			return nil, fmt.Errorf("assert.fails: call succeeded, want error matching %q", pattern)
		}
		if !regexp.MustCompile(pattern).MatchString(err.Error()) {
			return nil, fmt.Errorf("assert.fails: error %q does not match %q", err, pattern)
		}
		return starlark.None, nil
	}
	return &starlarkstruct.Module{Name: "assert", Members: starlark.StringDict{
		"eq":    starlark.NewBuiltin("assert.eq", eq),
		"true":  starlark.NewBuiltin("assert.true", isTrue),
		"fails": starlark.NewBuiltin("assert.fails", fails),
	}}
}

func TestPoolSpecs(t *testing.T) {
	for _, tc := range []struct {
		spec string
		ok   bool
	}{
		{"serial", true}, {"threads", true}, {"threads:3", true}, {"processes", true}, {"processes:2", true},
		{"", false}, {"bogus", false}, {"threads:0", false}, {"threads:x", false}, {"serial:2", false},
	} {
		err := pathosstar.CheckPoolSpec(tc.spec)
		if (err == nil) != tc.ok {
			t.Errorf("CheckPoolSpec(%q) = %v, want ok=%v", tc.spec, err, tc.ok)
		}
		if err != nil && !strings.Contains(err.Error(), "serial, threads[:N], processes[:N]") {
			t.Errorf("CheckPoolSpec(%q) error %q does not list the valid specs", tc.spec, err)
		}
	}
}

func TestLoadCycle(t *testing.T) {
	dir := t.TempDir()
	os.WriteFile(filepath.Join(dir, "a.star"), []byte("load('b.star', 'b')\na = 1\n"), 0o644)
	os.WriteFile(filepath.Join(dir, "b.star"), []byte("load('a.star', 'a')\nb = 1\n"), 0o644)
	in, err := pathosstar.New()
	if err != nil {
		t.Fatal(err)
	}
	defer in.Close()
	main := filepath.Join(dir, "main.star")
	_, err = in.Run(context.Background(), main, "load('a.star', 'a')\n")
	if err == nil || !strings.Contains(err.Error(), "cycle") {
		t.Fatalf("got %v, want an import cycle error", err)
	}
}

func TestLoadCachesModules(t *testing.T) {
	dir := t.TempDir()
	os.WriteFile(filepath.Join(dir, "m.star"), []byte("print('loading m')\nx = [1]\n"), 0o644)
	var out bytes.Buffer
	in, err := pathosstar.New(pathosstar.WithStdout(&out))
	if err != nil {
		t.Fatal(err)
	}
	defer in.Close()
	os.WriteFile(filepath.Join(dir, "n.star"), []byte("load('m.star', 'x')\ny = x\n"), 0o644)
	src := "load('m.star', 'x')\nload('n.star', 'y')\nprint(x == y)\n"
	if _, err := in.Run(context.Background(), filepath.Join(dir, "main.star"), src); err != nil {
		t.Fatal(err)
	}
	if got := out.String(); got != "loading m\nTrue\n" {
		t.Fatalf("output %q, want the module loaded once", got)
	}
}

func TestSleepIsCancellable(t *testing.T) {
	in, err := pathosstar.New()
	if err != nil {
		t.Fatal(err)
	}
	defer in.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 100*time.Millisecond)
	defer cancel()
	done := make(chan error, 1)
	go func() {
		_, err := in.Run(ctx, "sleep.star", "time.sleep(600)\n")
		done <- err
	}()
	select {
	case err := <-done:
		if err == nil {
			t.Fatal("sleep was not cancelled")
		}
	case <-time.After(time.Minute):
		t.Fatal("sleep ignored cancellation")
	}
}

func TestArgv(t *testing.T) {
	var out bytes.Buffer
	in, err := pathosstar.New(pathosstar.WithArgs([]string{"s.star", "a", "b"}), pathosstar.WithStdout(&out))
	if err != nil {
		t.Fatal(err)
	}
	defer in.Close()
	if _, err := in.Run(context.Background(), "s.star", "print(argv)\n"); err != nil {
		t.Fatal(err)
	}
	if got, want := out.String(), fmt.Sprintln(`["s.star", "a", "b"]`); got != want {
		t.Fatalf("got %q, want %q", got, want)
	}
}

// A process started as a worker that runs a script instead (its program
// forgot ServeWorkerIfChild) must not start workers itself: that would
// re-execute the program without end.
func TestNoWorkersFromUnservedWorker(t *testing.T) {
	t.Setenv("PATHOS_STAR_ROLE", "worker")
	in, err := pathosstar.New()
	if err != nil {
		t.Fatal(err)
	}
	defer in.Close()
	_, err = in.Run(context.Background(), "w.star", "pool.processes(2)\n")
	if err == nil || !strings.Contains(err.Error(), "ServeWorkerIfChild") {
		t.Fatalf("got %v, want an error naming ServeWorkerIfChild", err)
	}
}
