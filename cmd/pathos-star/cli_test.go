package main

import (
	"bytes"
	"context"
	"errors"
	"flag"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"
)

var update = flag.Bool("update", false, "rewrite the golden CLI transcripts")

// buildBinary builds the real pathos-star command into a temp dir.
func buildBinary(t *testing.T) string {
	t.Helper()
	exe := filepath.Join(t.TempDir(), "pathos-star")
	cmd := exec.Command("go", "build", "-o", exe, ".")
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("go build: %v\n%s", err, out)
	}
	return exe
}

// workerRE hides which worker ran a task, which changes from run to run.
var workerRE = regexp.MustCompile(`(process|thread) [0-9]+( \(pid [0-9]+\))?`)

// TestCLITranscripts runs the command and compares what it prints and its
// exit status with golden transcripts in testdata/cli.
func TestCLITranscripts(t *testing.T) {
	exe := buildBinary(t)
	for _, tc := range []struct {
		name  string
		args  []string
		env   []string
		stdin string
	}{
		{"script_serial", []string{"../../scripts/primes.star", "50000"}, nil, ""},
		{"script_threads", []string{"--pool", "threads:2", "../../scripts/primes.star", "50000"}, nil, ""},
		{"script_processes", []string{"--pool=processes:2", "../../scripts/primes.star", "50000"}, nil, ""},
		{"script_env_pool", []string{"../../scripts/primes.star", "50000"}, []string{"PATHOS_STAR_POOL=processes:2"}, ""},
		{"command", []string{"-c", "print(pool.map(lambda x: x * x, range(5)), argv)", "a"}, nil, ""},
		{"stdin_script", nil, nil, "print(pipe(len, 'abc'))\n"},
		{"task_error", []string{"--pool", "processes:2", "-c", "def f(x):\n    if x == 2:\n        fail('bad', x)\n    return x\npool.map(f, range(4))"}, nil, ""},
		{"syntax_error", []string{"-c", "def f(:"}, nil, ""},
		{"bad_pool", []string{"--pool", "nope", "-c", "1"}, nil, ""},
		{"bad_env_pool", []string{"-c", "1"}, []string{"PATHOS_STAR_POOL=threads:0"}, ""},
		{"missing_file", []string{"no-such-file.star"}, nil, ""},
		{"unknown_flag", []string{"--frob"}, nil, ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
			defer cancel()
			cmd := exec.CommandContext(ctx, exe, tc.args...)
			cmd.Env = append(os.Environ(), "PATHOS_STAR_POOL=")
			cmd.Env = append(cmd.Env, tc.env...)
			cmd.Stdin = strings.NewReader(tc.stdin)
			var stdout, stderr bytes.Buffer
			cmd.Stdout, cmd.Stderr = &stdout, &stderr
			err := cmd.Run()
			code := 0
			var ee *exec.ExitError
			if errors.As(err, &ee) {
				code = ee.ExitCode()
			} else if err != nil {
				t.Fatal(err)
			}
			got := "$ pathos-star " + strings.Join(tc.args, " ") + "\n" +
				"--- stdout\n" + stdout.String() +
				"--- stderr\n" + workerRE.ReplaceAllString(stderr.String(), "$1 N") +
				"--- exit " + string(rune('0'+code)) + "\n"
			golden := filepath.Join("testdata", "cli", tc.name+".golden")
			if *update {
				if err := os.WriteFile(golden, []byte(got), 0o644); err != nil {
					t.Fatal(err)
				}
				return
			}
			want, err := os.ReadFile(golden)
			if err != nil {
				t.Fatalf("%v (run go test -update to create it)", err)
			}
			if got != string(want) {
				t.Errorf("transcript differs from %s:\n--- got\n%s--- want\n%s", golden, got, want)
			}
		})
	}
}

func TestVersion(t *testing.T) {
	exe := buildBinary(t)
	out, err := exec.Command(exe, "version").Output()
	if err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(string(out), "pathos-star ") || len(strings.TrimSpace(string(out))) <= len("pathos-star ") {
		t.Fatalf("version printed %q", out)
	}
}
