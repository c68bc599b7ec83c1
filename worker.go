package pathosstar

import (
	"context"
	"net"
	"os"
	"runtime"

	"github.com/pathos-star/pathos-star/internal/wire"
	"github.com/pathos-star/pathos-star/pools"
	"github.com/pathos-star/pathos-star/remote"
)

// roleEnv is the environment variable that marks a worker process.
const roleEnv = "PATHOS_STAR_ROLE"

func numCPU() int { return runtime.NumCPU() }

// ServeWorker runs a worker on stdin and stdout until the driver says
// goodbye or closes the stream. Options configure the worker's
// interpreter; its default pool is serial.
func ServeWorker(ctx context.Context, opts ...Option) error {
	in, err := New(append(opts, withTaskDefaults(), WithStdout(os.Stderr))...)
	if err != nil {
		return err
	}
	defer in.Close()
	conn := wire.NewConn(os.Stdin, os.Stdout, wire.Limits{MaxDepth: 20000})
	return pools.Serve(ctx, conn, in.env, nil)
}

// ServeWorkerIfChild serves as a worker and exits if this process was
// started as one by a process pool; otherwise it returns at once. A
// program embedding pathos-star calls it first thing in main (tests call
// it in TestMain).
func ServeWorkerIfChild() {
	if os.Getenv(roleEnv) != "worker" {
		return
	}
	if err := ServeWorker(context.Background()); err != nil {
		os.Stderr.WriteString("pathos-star worker: " + err.Error() + "\n")
		os.Exit(1)
	}
	os.Exit(0)
}

// Serve runs a worker server on ln (see remote.Serve): every client
// connection is served as one worker of a fresh worker interpreter.
func Serve(ctx context.Context, ln net.Listener, opts remote.ServerOptions) error {
	in, err := New(withTaskDefaults(), WithStdout(os.Stderr))
	if err != nil {
		return err
	}
	defer in.Close()
	return remote.Serve(ctx, ln, in.env, opts)
}
