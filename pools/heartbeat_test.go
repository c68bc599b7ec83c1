package pools_test

import (
	"context"
	"net"
	"testing"
	"time"

	"go.starlark.net/starlark"

	pathosstar "github.com/pathos-star/pathos-star"
	"github.com/pathos-star/pathos-star/internal/sshtest"
	"github.com/pathos-star/pathos-star/pools"
	"github.com/pathos-star/pathos-star/remote"
)

func startTestServer(t *testing.T) string {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- pathosstar.Serve(ctx, ln, remote.ServerOptions{Secret: []byte("k")}) }()
	t.Cleanup(func() { cancel(); <-done })
	return ln.Addr().String()
}

// TestHeartbeatNoticesSilentPartition: a worker behind a connection that
// goes silent mid-map is given up after a few heartbeats, and its tasks
// run on the other worker.
func TestHeartbeatNoticesSilentPartition(t *testing.T) {
	good := startTestServer(t)
	proxy := sshtest.StartFreezingProxy(t, startTestServer(t))

	in, _ := newInterp(t, "serial")
	globals, err := run2(t, in, "def slow(x):\n    time.sleep(0.02)\n    return x * x\n")
	if err != nil {
		t.Fatal(err)
	}
	env := *in.PoolEnv()
	env.Heartbeat = 50 * time.Millisecond
	client := remote.NewClient()
	defer client.Close()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	p, err := remote.NewPool(ctx, &env, client, remote.PoolOptions{
		Servers: []string{proxy.Addr, good}, Secret: []byte("k"), Workers: 1})
	if err != nil {
		t.Fatal(err)
	}
	defer p.Terminate()

	inputs := make([]starlark.Tuple, 60)
	for i := range inputs {
		inputs[i] = starlark.Tuple{starlark.MakeInt(i)}
	}
	time.AfterFunc(200*time.Millisecond, proxy.Freeze)
	j, err := p.Start(ctx, pools.Spec{Verb: "test", Fn: globals["slow"], Inputs: inputs, Len: len(inputs), Ordered: true, Chunksize: 1})
	if err != nil {
		t.Fatal(err)
	}
	res, err := j.Wait()
	if err != nil {
		t.Fatalf("map failed: %v", err)
	}
	for i, v := range res {
		if v.(starlark.Int).BigInt().Int64() != int64(i*i) {
			t.Fatalf("result %d = %v", i, v)
		}
	}
	if !proxy.Frozen() {
		t.Fatal("the map ended before the partition")
	}
}

// run2 runs src on in and returns its globals.
func run2(t *testing.T, in *pathosstar.Interpreter, src string) (starlark.StringDict, error) {
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	return in.Run(ctx, "heartbeat.star", src)
}
