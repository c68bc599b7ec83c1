package pathosstar_test

import (
	"context"
	"net"
	"strings"
	"testing"
	"time"

	"go.starlark.net/starlark"

	pathosstar "github.com/pathos-star/pathos-star"
	"github.com/pathos-star/pathos-star/internal/sshtest"
	"github.com/pathos-star/pathos-star/pools"
	"github.com/pathos-star/pathos-star/remote"
)

// Remote benchmarks: two workers on loopback, reached through ssh exec
// channels of a real sshd, or through a `serve` server. Run with
//
//	go test -run X -bench Remote -benchtime 3x .
//
// They report µs per task for x -> x+1 over 10,000 tasks (default
// chunking and chunksize=1) and one-way MB/s for 100 KB strings.
func BenchmarkRemoteSSH(b *testing.B) {
	d := sshtest.StartSSHD(b)
	b.Setenv(remote.EnvConfig, d.ConfigFile)
	benchRemote(b, remote.PoolOptions{Hosts: []string{d.Alias}, Workers: 2})
}

func BenchmarkRemoteServe(b *testing.B) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		b.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- pathosstar.Serve(ctx, ln, remote.ServerOptions{Secret: []byte("k")}) }()
	defer func() { cancel(); <-done }()
	benchRemote(b, remote.PoolOptions{Servers: []string{ln.Addr().String()}, Secret: []byte("k"), Workers: 2})
}

func benchRemote(b *testing.B, opts remote.PoolOptions) {
	in, err := pathosstar.New(pathosstar.WithStdout(&strings.Builder{}))
	if err != nil {
		b.Fatal(err)
	}
	defer in.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Minute)
	defer cancel()
	globals, err := in.Run(ctx, "bench.star", "def inc(x):\n    return x + 1\ndef size(s):\n    return len(s)\n")
	if err != nil {
		b.Fatal(err)
	}
	client := remote.NewClient()
	defer client.Close()
	p, err := remote.NewPool(ctx, in.PoolEnv(), client, opts)
	if err != nil {
		b.Fatal(err)
	}
	defer p.Terminate()

	ints := make([]starlark.Tuple, 10000)
	for i := range ints {
		ints[i] = starlark.Tuple{starlark.MakeInt(i)}
	}
	big := make([]starlark.Tuple, 200)
	for i := range big {
		big[i] = starlark.Tuple{starlark.String(strings.Repeat("x", 100000))}
	}
	run := func(b *testing.B, fn string, inputs []starlark.Tuple, chunksize int) {
		j, err := p.Start(ctx, pools.Spec{Verb: "bench", Fn: globals[fn], Inputs: inputs, Len: len(inputs), Ordered: true, Chunksize: chunksize})
		if err != nil {
			b.Fatal(err)
		}
		if _, err := j.Wait(); err != nil {
			b.Fatal(err)
		}
	}
	run(b, "inc", ints[:10], 1) // start the workers
	for _, c := range []struct {
		name      string
		fn        string
		inputs    []starlark.Tuple
		chunksize int
		bytes     int64
	}{
		{"tasks", "inc", ints, 0, 0},
		{"tasks_chunksize1", "inc", ints, 1, 0},
		{"payload100KB", "size", big, 1, 200 * 100000},
	} {
		b.Run(c.name, func(b *testing.B) {
			b.SetBytes(c.bytes)
			for b.Loop() {
				run(b, c.fn, c.inputs, c.chunksize)
			}
			b.ReportMetric(float64(b.Elapsed().Microseconds())/float64(b.N*len(c.inputs)), "µs/task")
		})
	}
}
