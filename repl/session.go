package repl

import (
	"context"
	"fmt"
	"io"
	"strings"

	"go.starlark.net/starlark"
	"go.starlark.net/syntax"

	pathosstar "github.com/pathos-star/pathos-star"
)

// A session is the state of one REPL: its globals and the transcript of
// the inputs executed so far. It is not safe for concurrent use.
type session struct {
	in         *pathosstar.Interpreter
	opts       *syntax.FileOptions
	globals    starlark.StringDict
	transcript strings.Builder
	lines      int // lines in the transcript
	stdout     io.Writer
	stderr     io.Writer
}

func newSession(in *pathosstar.Interpreter, stdout, stderr io.Writer) *session {
	opts := *pathosstar.FileOptions()
	// As in go.starlark.net/repl: load binds globally at the prompt.
	opts.LoadBindsGlobally = true
	s := &session{
		in:      in,
		opts:    &opts,
		globals: make(starlark.StringDict),
		stdout:  stdout,
		stderr:  stderr,
	}
	for k, v := range in.Predeclared() {
		s.globals[k] = v
	}
	s.globals["help"] = starlark.NewBuiltin("help", s.help)
	return s
}

// exec parses text (one or more complete statements, as typed) with the
// session's line numbers, records it in the transcript, and runs it with
// ctx cancelling it. Errors are printed, not returned.
func (s *session) exec(ctx context.Context, text string) {
	if !strings.HasSuffix(text, "\n") {
		text += "\n"
	}
	f, err := s.opts.Parse(Filename, strings.Repeat("\n", s.lines)+text, 0)
	if err != nil {
		fmt.Fprintln(s.stderr, err)
		return
	}
	s.transcript.WriteString(text)
	s.lines += strings.Count(text, "\n")
	s.in.Sources().Add(Filename, s.transcript.String())

	// A fresh thread per input: a cancelled thread stays cancelled.
	thread := s.in.NewThread(ctx, Filename)
	stop := context.AfterFunc(ctx, func() { thread.Cancel("interrupted") })
	defer stop()

	if expr := soleExpr(f); expr != nil {
		v, err := starlark.EvalExprOptions(f.Options, thread, expr, s.globals)
		if err != nil {
			s.printError(ctx, err)
			return
		}
		s.globals["_"] = v
		if v != starlark.None {
			fmt.Fprintln(s.stdout, v)
		}
		return
	}
	if err := starlark.ExecREPLChunk(f, thread, s.globals); err != nil {
		s.printError(ctx, err)
	}
}

func soleExpr(f *syntax.File) syntax.Expr {
	if len(f.Stmts) == 1 {
		if stmt, ok := f.Stmts[0].(*syntax.ExprStmt); ok {
			return stmt.X
		}
	}
	return nil
}

// printError prints err, a traceback if it has one. After Control-C
// (ctx done) it starts on a new line, past the terminal's "^C".
func (s *session) printError(ctx context.Context, err error) {
	if ctx.Err() != nil {
		fmt.Fprintln(s.stderr)
	}
	if ee, ok := err.(*starlark.EvalError); ok {
		fmt.Fprintln(s.stderr, ee.Backtrace())
		return
	}
	fmt.Fprintln(s.stderr, err)
}
