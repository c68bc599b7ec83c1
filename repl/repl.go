// Package repl is the interactive loop of pathos-star: a read, eval,
// print loop on github.com/chzyer/readline, with history, Tab
// completion and Control-C that stops the running statement.
//
// Each input is one compound statement (a def, for, while or if block
// ends at a blank line), read with syntax.FileOptions.ParseCompoundStmt
// under the interpreter's dialect. A sole expression is evaluated, its
// repr echoed (None is not) and the value kept in the global _; anything
// else is executed with starlark.ExecREPLChunk. Globals persist across
// inputs; an error prints its traceback and the session goes on.
//
// Functions defined at the prompt can be sent to process and remote
// workers. That needs their source text: the session keeps a transcript
// of every input that parsed, registers it in the interpreter's source
// registry under the file name "<stdin>", and parses each input padded
// with as many newlines as the transcript has lines, so positions and
// tracebacks carry session-wide line numbers (<stdin>:7 is the seventh
// line typed). Inputs with a syntax error are not part of the transcript.
//
// The predeclared names of the interpreter (pool, pipe, json, ...) and
// the REPL's help are entered into the session's globals, because
// ExecREPLChunk knows no other environment. A function that refers to a
// global defined in an earlier input finds it in its own module: the
// resolver binds every global a chunk mentions into that chunk's module,
// with the value it has when the chunk runs. As in go.starlark.net's
// REPL, a function keeps seeing the value a global had when the function's
// chunk ran; rebinding the global in a later input does not change it.
package repl

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/signal"
	"path/filepath"
	"strings"

	"github.com/chzyer/readline"
	"go.starlark.net/syntax"

	pathosstar "github.com/pathos-star/pathos-star"
)

// Filename is the file name of the inputs typed at the prompt, in
// positions, tracebacks and the source registry.
const Filename = "<stdin>"

// Options configure Run. The zero value uses the process's standard
// streams and keeps no history.
type Options struct {
	// Stdin, Stdout and Stderr default to the process's own. Stdin
	// should be a terminal; echoed values go to Stdout, tracebacks to
	// Stderr. Starlark's print writes where the interpreter was told to
	// (pathosstar.WithStdout).
	Stdin  io.ReadCloser
	Stdout io.Writer
	Stderr io.Writer

	// HistoryFile is where input lines are saved between sessions; empty
	// means no history. Its directory is created if missing.
	HistoryFile string

	// NoBanner suppresses the one-line banner.
	NoBanner bool
}

// DefaultHistoryFile returns the history file of the pathos-star command:
// $XDG_STATE_HOME/pathos-star/history, or
// ~/.local/state/pathos-star/history when XDG_STATE_HOME is unset or not
// absolute.
func DefaultHistoryFile() (string, error) {
	dir := os.Getenv("XDG_STATE_HOME")
	if dir == "" || !filepath.IsAbs(dir) {
		home, err := os.UserHomeDir()
		if err != nil {
			return "", fmt.Errorf("repl: history file: %v", err)
		}
		dir = filepath.Join(home, ".local", "state")
	}
	return filepath.Join(dir, "pathos-star", "history"), nil
}

// Run reads, evaluates and prints until end of input (Control-D) or until
// ctx is done, then returns nil; it returns an error only if the terminal
// cannot be set up. Control-C at the prompt clears the line; Control-C
// while a statement runs cancels that statement (Run catches SIGINT for
// its duration). Run does not close the interpreter: the caller does, so
// that its pools terminate.
//
// Run must not be called concurrently with itself on one terminal.
func Run(ctx context.Context, in *pathosstar.Interpreter, opts Options) error {
	if opts.Stdout == nil {
		opts.Stdout = os.Stdout
	}
	if opts.Stderr == nil {
		opts.Stderr = os.Stderr
	}
	s := newSession(in, opts.Stdout, opts.Stderr)
	if opts.HistoryFile != "" {
		if err := os.MkdirAll(filepath.Dir(opts.HistoryFile), 0o700); err != nil {
			return fmt.Errorf("repl: history directory: %v", err)
		}
	}
	rl, err := readline.NewEx(&readline.Config{
		Prompt:            ">>> ",
		HistoryFile:       opts.HistoryFile,
		HistoryLimit:      10000,
		HistorySearchFold: true,
		AutoComplete:      &completer{s: s},
		Stdin:             opts.Stdin,
		Stdout:            opts.Stdout,
		Stderr:            opts.Stderr,
	})
	if err != nil {
		return fmt.Errorf("repl: %v", err)
	}
	defer rl.Close()
	stopClose := context.AfterFunc(ctx, func() { rl.Close() })
	defer stopClose()

	// SIGINT is caught for the whole session: at the prompt the terminal
	// is raw and Control-C arrives as a key, while a statement runs it
	// arrives as a signal and cancels that statement only.
	sigs := make(chan os.Signal, 1)
	signal.Notify(sigs, os.Interrupt)
	defer signal.Stop(sigs)

	if !opts.NoBanner {
		fmt.Fprintf(opts.Stdout, "pathos-star %s (default pool: %s). Type help() for help, Control-D to exit.\n",
			pathosstar.Version(), in.DefaultPoolSpec())
	}
	for ctx.Err() == nil {
		text, err := readChunk(rl, s.opts)
		switch {
		case errors.Is(err, io.EOF):
			fmt.Fprintln(opts.Stdout)
			return nil
		case errors.Is(err, readline.ErrInterrupt):
			continue
		case err != nil:
			fmt.Fprintln(opts.Stderr, err)
			continue
		case strings.TrimSpace(text) == "":
			continue
		}
		s.interruptible(ctx, sigs, text)
	}
	return nil
}

// interruptible runs text in a context of its own that a signal on sigs
// (Control-C) or the end of ctx cancels. The context is not cancelled when
// the statement returns: async results (pool.amap) it started keep
// running and can be collected by a later input.
func (s *session) interruptible(ctx context.Context, sigs chan os.Signal, text string) {
	drain(sigs)
	sctx, cancel := context.WithCancel(context.WithoutCancel(ctx))
	done := make(chan struct{})
	go func() {
		select {
		case <-sigs:
			cancel()
		case <-ctx.Done():
			cancel()
		case <-done:
		}
	}()
	s.exec(sctx, text)
	close(done)
}

func drain(c chan os.Signal) {
	for {
		select {
		case <-c:
		default:
			return
		}
	}
}

// readChunk reads the lines of one compound statement. It returns the
// lines as typed, or io.EOF, readline.ErrInterrupt, or a syntax error.
func readChunk(rl *readline.Instance, opts *syntax.FileOptions) (string, error) {
	var b strings.Builder
	var rlErr error
	rl.SetPrompt(">>> ")
	_, err := opts.ParseCompoundStmt(Filename, func() ([]byte, error) {
		line, err := rl.Readline()
		rl.SetPrompt("... ")
		if err != nil {
			rlErr = err
			return nil, err
		}
		b.WriteString(line)
		b.WriteString("\n")
		return []byte(line + "\n"), nil
	})
	if rlErr != nil {
		return "", rlErr
	}
	if err != nil {
		// A syntax error keeps the input's own line numbers (line 1 is
		// its first line): the input is not entered into the transcript.
		return "", err
	}
	return b.String(), nil
}
