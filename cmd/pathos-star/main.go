// Command pathos-star runs Starlark scripts whose maps run in parallel:
// on goroutines, on local worker processes, or on remote hosts.
//
// Usage:
//
//	pathos-star [--pool SPEC] FILE.star [args...]   run a script
//	pathos-star [--pool SPEC] -c 'code'             run a string
//	pathos-star [--pool SPEC] [--no-history]        interactive prompt (stdin is a terminal)
//	pathos-star [--pool SPEC] < FILE.star           read a script from stdin
//	pathos-star worker                              serve as a worker on stdin/stdout
//	pathos-star serve [--port P] [--bind ADDR] ...  serve workers over TCP (see serve.go)
//	pathos-star portpicker                          print a free TCP port
//	pathos-star version                             print the version
//
// The default pool comes from --pool, else from the environment variable
// PATHOS_STAR_POOL, else it is serial. Exit status: 0 on success, 1 when
// the script fails (traceback on stderr), 2 on bad usage.
//
// With neither a file nor -c, and stdin a terminal, pathos-star starts the
// interactive prompt of package repl; its history is kept in
// $XDG_STATE_HOME/pathos-star/history (or ~/.local/state/pathos-star/history)
// unless --no-history is given. When stdin is not a terminal it is run as
// a script named <stdin>, with no prompt.
//
// A worker started by a process pool ignores SIGINT: Control-C at the
// terminal reaches the whole process group, and it is the driver's job to
// cancel the running map (the prompt does so) or to terminate its workers.
//
// Unless GOGC is set, the garbage collector runs at GOGC=800 (and so do
// process workers): Starlark allocates on every call, and with the default
// the collector, which a serial run gets for free on an idle core, eats
// the parallel speedup of a small machine. The heap may grow to nine times
// the live data. Set GOGC to override.
package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/signal"
	"runtime/debug"
	"strings"
	"syscall"

	"github.com/chzyer/readline"
	"go.starlark.net/starlark"

	pathosstar "github.com/pathos-star/pathos-star"
	"github.com/pathos-star/pathos-star/repl"
)

const usage = `usage: pathos-star [--pool SPEC] FILE.star [args...]
       pathos-star [--pool SPEC] -c CODE [args...]
       pathos-star [--pool SPEC] [--no-history]   (prompt; a script if stdin is not a terminal)
       pathos-star serve [--port P] [--bind ADDR] [--secret S | --secret-file F] [--timeout T] [--workers N]
       pathos-star worker | portpicker | version

SPEC: serial, threads[:N], processes[:N] (default: $PATHOS_STAR_POOL, else serial)
`

func main() {
	os.Exit(run(os.Args[1:], os.Stdin, os.Stdout, os.Stderr))
}

func run(args []string, stdin io.Reader, stdout, stderr io.Writer) int {
	if os.Getenv("GOGC") == "" {
		debug.SetGCPercent(800)
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()

	if len(args) > 0 {
		switch args[0] {
		case "worker":
			if os.Getenv("PATHOS_STAR_ROLE") == "worker" {
				signal.Ignore(os.Interrupt)
			}
			if err := pathosstar.ServeWorker(ctx); err != nil {
				fmt.Fprintf(stderr, "pathos-star worker: %v\n", err)
				return 1
			}
			return 0
		case "version":
			fmt.Fprintf(stdout, "pathos-star %s\n", pathosstar.Version())
			return 0
		case "serve":
			return serve(ctx, args[1:], stdout, stderr)
		case "portpicker":
			return portpicker(stdout, stderr)
		case "help", "-h", "-help", "--help":
			fmt.Fprint(stdout, usage)
			return 0
		}
	}

	poolSpec := os.Getenv("PATHOS_STAR_POOL")
	var code string
	haveCode := false
	noHistory := false
	for len(args) > 0 && strings.HasPrefix(args[0], "-") && args[0] != "-" {
		flag, value, hasValue := strings.Cut(args[0], "=")
		switch flag {
		case "--pool", "-pool", "-c":
			if !hasValue {
				if len(args) < 2 {
					fmt.Fprintf(stderr, "pathos-star: %s needs a value\n%s", flag, usage)
					return 2
				}
				value = args[1]
				args = args[1:]
			}
			if flag == "-c" {
				code, haveCode = value, true
			} else {
				poolSpec = value
			}
			args = args[1:]
		case "--no-history", "-no-history":
			if hasValue {
				fmt.Fprintf(stderr, "pathos-star: %s takes no value\n%s", flag, usage)
				return 2
			}
			noHistory = true
			args = args[1:]
		case "--":
			args = args[1:]
			goto done
		default:
			fmt.Fprintf(stderr, "pathos-star: unknown flag %s\n%s", args[0], usage)
			return 2
		}
		if haveCode {
			break
		}
	}
done:
	if poolSpec == "" {
		poolSpec = "serial"
	}
	if err := pathosstar.CheckPoolSpec(poolSpec); err != nil {
		fmt.Fprintf(stderr, "pathos-star: %v\n", err)
		return 2
	}

	var filename string
	var src any
	var argv []string
	switch {
	case haveCode:
		filename, src = "<string>", code
		argv = append([]string{"-c"}, args...)
	case len(args) > 0 && args[0] != "-":
		filename = args[0]
		argv = args
		b, err := os.ReadFile(filename)
		if err != nil {
			fmt.Fprintf(stderr, "pathos-star: %v\n", err)
			return 2
		}
		src = b
	case len(args) == 0 && isTerminal(stdin):
		return runREPL(poolSpec, noHistory, stdin.(*os.File), stdout, stderr)
	default:
		filename, src = "<stdin>", stdin
		argv = append([]string{"-"}, args...)
		if len(args) > 0 {
			argv = args
		}
	}

	in, err := pathosstar.New(pathosstar.WithPool(poolSpec), pathosstar.WithArgs(argv), pathosstar.WithStdout(stdout))
	if err != nil {
		fmt.Fprintf(stderr, "pathos-star: %v\n", err)
		return 2
	}
	defer in.Close()
	if _, err := in.Run(ctx, filename, src); err != nil {
		var ee *starlark.EvalError
		if errors.As(err, &ee) {
			fmt.Fprintln(stderr, ee.Backtrace())
		} else {
			fmt.Fprintln(stderr, err)
		}
		return 1
	}
	return 0
}

// isTerminal reports whether r is a terminal.
func isTerminal(r io.Reader) bool {
	f, ok := r.(*os.File)
	return ok && readline.IsTerminal(int(f.Fd()))
}

// runREPL runs the interactive prompt. SIGINT is left to the prompt (it
// cancels the running statement); SIGTERM ends the session.
func runREPL(poolSpec string, noHistory bool, stdin *os.File, stdout, stderr io.Writer) int {
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGTERM)
	defer stop()
	in, err := pathosstar.New(pathosstar.WithPool(poolSpec), pathosstar.WithArgs([]string{""}), pathosstar.WithStdout(stdout))
	if err != nil {
		fmt.Fprintf(stderr, "pathos-star: %v\n", err)
		return 2
	}
	defer in.Close()
	opts := repl.Options{Stdin: stdin, Stdout: stdout, Stderr: stderr}
	if !noHistory {
		if opts.HistoryFile, err = repl.DefaultHistoryFile(); err != nil {
			fmt.Fprintf(stderr, "pathos-star: %v (history is off)\n", err)
		}
	}
	if err := repl.Run(ctx, in, opts); err != nil {
		fmt.Fprintf(stderr, "pathos-star: %v\n", err)
		return 1
	}
	return 0
}
