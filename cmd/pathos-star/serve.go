package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"net"
	"os"
	"strconv"
	"strings"
	"time"

	pathosstar "github.com/pathos-star/pathos-star"
	"github.com/pathos-star/pathos-star/remote"
)

// serve runs `pathos-star serve`: a long-running worker server that
// drivers reach with pool.remote(servers=[...]), directly or through a
// tunnel.
func serve(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("serve", flag.ContinueOnError)
	fs.SetOutput(stderr)
	port := fs.Int("port", 0, "TCP port to listen on (0 picks a free one)")
	bind := fs.String("bind", "127.0.0.1", "address to listen on; a non-loopback address needs a secret")
	secret := fs.String("secret", "", "shared secret that clients must prove they know")
	secretFile := fs.String("secret-file", "", "file holding the shared secret (trailing newline ignored)")
	timeout := fs.Duration("timeout", 0, "exit after this long with no client (e.g. 30s; 0: never)")
	workers := fs.Int("workers", 64, "clients served at once; more are refused as busy")
	quiet := fs.Bool("quiet", false, "do not log connections on stderr")
	if err := fs.Parse(args); err != nil {
		return 2
	}
	if fs.NArg() > 0 {
		fmt.Fprintf(stderr, "pathos-star serve: unexpected argument %q\n", fs.Arg(0))
		return 2
	}
	key := *secret
	if *secretFile != "" {
		if key != "" {
			fmt.Fprintln(stderr, "pathos-star serve: give --secret or --secret-file, not both")
			return 2
		}
		b, err := os.ReadFile(*secretFile)
		if err != nil {
			fmt.Fprintf(stderr, "pathos-star serve: %v\n", err)
			return 2
		}
		key = strings.TrimRight(string(b), "\r\n")
		if key == "" {
			fmt.Fprintf(stderr, "pathos-star serve: secret file %s is empty\n", *secretFile)
			return 2
		}
	}
	if key == "" && !remote.IsLoopback(*bind) {
		fmt.Fprintf(stderr, "pathos-star serve: refusing to listen on non-loopback address %s without a secret (give --secret or --secret-file)\n", *bind)
		return 2
	}
	if *port < 0 || *port > 65535 || *workers < 1 {
		fmt.Fprintln(stderr, "pathos-star serve: --port must be 0..65535 and --workers at least 1")
		return 2
	}
	ln, err := net.Listen("tcp", net.JoinHostPort(*bind, strconv.Itoa(*port)))
	if err != nil {
		fmt.Fprintf(stderr, "pathos-star serve: %v\n", err)
		return 1
	}
	fmt.Fprintf(stdout, "pathos-star serve: listening on %s\n", ln.Addr())
	if f, ok := stdout.(*os.File); ok {
		f.Sync()
	}
	opts := remote.ServerOptions{Secret: []byte(key), Workers: *workers, IdleTimeout: *timeout}
	if !*quiet {
		opts.Logf = func(format string, a ...any) {
			fmt.Fprintf(stderr, "%s pathos-star serve: %s\n", time.Now().Format(time.TimeOnly), fmt.Sprintf(format, a...))
		}
	}
	if err := pathosstar.Serve(ctx, ln, opts); err != nil {
		fmt.Fprintf(stderr, "pathos-star serve: %v\n", err)
		return 1
	}
	return 0
}

// portpicker prints one free TCP port on the loopback interface.
func portpicker(stdout, stderr io.Writer) int {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		fmt.Fprintf(stderr, "pathos-star portpicker: %v\n", err)
		return 1
	}
	defer ln.Close()
	fmt.Fprintln(stdout, ln.Addr().(*net.TCPAddr).Port)
	return 0
}
