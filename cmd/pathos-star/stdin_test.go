package main

import (
	"bytes"
	"context"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"
)

// TestStdinScript pipes each testdata/stdin_*.star into the binary (stdin
// is not a terminal, so there is no prompt) and compares stdout with the
// .golden file beside it. The first line, "# exit: N", gives the exit
// status.
func TestStdinScript(t *testing.T) {
	bin := filepath.Join(t.TempDir(), "pathos-star")
	if out, err := exec.Command("go", "build", "-o", bin, ".").CombinedOutput(); err != nil {
		t.Fatalf("go build: %v\n%s", err, out)
	}
	scripts, err := filepath.Glob("testdata/stdin_*.star")
	if err != nil || len(scripts) == 0 {
		t.Fatalf("no scripts: %v", err)
	}
	exitRE := regexp.MustCompile(`^# exit: (\d+)\n`)
	for _, script := range scripts {
		t.Run(filepath.Base(script), func(t *testing.T) {
			src, err := os.ReadFile(script)
			if err != nil {
				t.Fatal(err)
			}
			m := exitRE.FindSubmatch(src)
			if m == nil {
				t.Fatalf("%s: first line must be # exit: N", script)
			}
			wantCode, _ := strconv.Atoi(string(m[1]))
			want, err := os.ReadFile(strings.TrimSuffix(script, ".star") + ".golden")
			if err != nil {
				t.Fatal(err)
			}
			ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
			defer cancel()
			cmd := exec.CommandContext(ctx, bin)
			cmd.Env = append(os.Environ(), "XDG_STATE_HOME="+t.TempDir())
			cmd.Stdin = bytes.NewReader(src)
			var stdout, stderr bytes.Buffer
			cmd.Stdout, cmd.Stderr = &stdout, &stderr
			err = cmd.Run()
			code := 0
			var ee *exec.ExitError
			if errors.As(err, &ee) {
				code = ee.ExitCode()
			} else if err != nil {
				t.Fatal(err)
			}
			if code != wantCode {
				t.Errorf("exit status %d, want %d; stderr:\n%s", code, wantCode, stderr.String())
			}
			if stdout.String() != string(want) {
				t.Errorf("stdout:\n%s\nwant:\n%s", stdout.String(), want)
			}
			if wantCode != 0 && !strings.Contains(stderr.String(), "<stdin>:") {
				t.Errorf("stderr lacks a traceback naming <stdin>:\n%s", stderr.String())
			}
		})
	}
}
