package pools

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"sync"
	"sync/atomic"
	"time"

	"go.starlark.net/starlark"

	"github.com/pathos-star/pathos-star/internal/wire"
)

// wireLimits are the frame limits of pool connections: values may nest as
// deeply as the serializer allows.
var wireLimits = wire.Limits{MaxDepth: 20000}

// handshakeTimeout bounds the start of a worker.
const handshakeTimeout = 20 * time.Second

// NewProcesses returns a pool of n worker processes, each the command
// env.WorkerCommand gives, speaking the protocol on its stdin and stdout.
// The workers start in the background; the first job waits for them.
func NewProcesses(env *Env, n int) (*Pool, error) {
	if env.WorkerCommand == nil {
		return nil, errors.New("process pools are not available here: no worker command (a program that embeds pathos-star must call pathosstar.ServeWorkerIfChild first in main, or give WithWorkerCommand)")
	}
	p := &Pool{name: fmt.Sprintf("processes(%d)", n), kind: "processes", n: n, env: env}
	p.spawn = func(ctx context.Context, i int) (worker, error) {
		return startProcess(ctx, env, i)
	}
	p.start()
	return p, nil
}

// A ConnWorker is a worker at the other end of a protocol connection: a
// child process, or (in package remote) a process on another host or a
// serve server. It is used by one pool; its methods are safe for
// concurrent use by the pool's slots.
type ConnWorker struct {
	name, host string
	env        *Env
	conn       *wire.Conn
	onKill     func() // stops the process behind the connection
	onClose    func() error

	lastRecv atomic.Int64 // when the worker last sent anything, in Unix ns
	slots    int

	mu      sync.Mutex
	waiting map[uint64]chan *wire.Msg
	defined map[[32]byte]bool
	dead    chan struct{}
	deadErr error
}

// DefaultHeartbeat is how often a driver pings a worker that has work;
// four intervals without a word from it and the worker counts as lost.
// A silent network partition is noticed only this way, not by TCP.
const DefaultHeartbeat = 5 * time.Second

// heartbeat pings the worker while it has work, and gives it up when it
// stops answering.
func (w *ConnWorker) heartbeat(interval time.Duration) {
	t := time.NewTicker(interval)
	defer t.Stop()
	var seq uint64
	for {
		select {
		case <-w.dead:
			return
		case <-t.C:
		}
		w.mu.Lock()
		busy := len(w.waiting) > 0
		w.mu.Unlock()
		if !busy {
			w.lastRecv.Store(time.Now().UnixNano())
			continue
		}
		if silent := time.Since(time.Unix(0, w.lastRecv.Load())); silent > 4*interval {
			w.die(fmt.Errorf("no answer from the worker for %s", silent.Round(time.Millisecond)))
			if w.onKill != nil {
				w.onKill()
			}
			w.conn.Close()
			return
		}
		seq++
		go w.conn.Send(&wire.Msg{Kind: wire.KindPing, Seq: seq}) // may block on a dead peer until Close
	}
}

// startProcess starts worker process i and shakes hands with it.
func startProcess(ctx context.Context, env *Env, i int) (*ConnWorker, error) {
	cmd := env.WorkerCommand(ctx)
	setParentDeathSignal(cmd)
	// Pipes made here rather than by cmd, so that they can be widened:
	// the default 64 KB makes a large payload cross in many small steps.
	inR, stdin, err := os.Pipe()
	if err != nil {
		return nil, err
	}
	stdout, outW, err := os.Pipe()
	if err != nil {
		inR.Close()
		stdin.Close()
		return nil, err
	}
	widenPipe(stdin)
	widenPipe(stdout)
	cmd.Stdin, cmd.Stdout = inR, outW
	if cmd.Stderr == nil {
		cmd.Stderr = os.Stderr
	}
	err = cmd.Start()
	inR.Close()
	outW.Close()
	if err != nil {
		stdin.Close()
		stdout.Close()
		return nil, fmt.Errorf("start worker %s: %v", cmd.Path, err)
	}
	exited := make(chan struct{})
	go func() { cmd.Wait(); close(exited) }()
	kill := func() { cmd.Process.Kill() }
	w, err := NewConnWorker(ctx, env, fmt.Sprintf("process %d (pid %d)", i, cmd.Process.Pid), "localhost",
		wire.NewConn(stdout, stdin, wireLimits), nil, kill,
		func() error {
			select {
			case <-exited:
			case <-time.After(5 * time.Second):
				kill()
				<-exited
			}
			return nil
		})
	if err != nil {
		kill()
		<-exited
		return nil, err
	}
	return w, nil
}

// NewConnWorker shakes hands over conn (with secret, if any) and returns
// a worker that runs chunks through it. kill stops whatever serves the
// connection; wait, if not nil, waits for it to end after a Bye.
func NewConnWorker(ctx context.Context, env *Env, name, host string, conn *wire.Conn, secret []byte, kill func(), wait func() error) (*ConnWorker, error) {
	hctx, cancel := context.WithTimeout(ctx, handshakeTimeout)
	defer cancel()
	if _, err := wire.ClientHandshake(hctx, conn, secret, wire.LocalInfo(wire.RoleDriver)); err != nil {
		conn.Close()
		return nil, fmt.Errorf("%s: %v", name, err)
	}
	w := &ConnWorker{
		name: name, host: host, env: env, conn: conn, onKill: kill, onClose: wait, slots: 2,
		waiting: make(map[uint64]chan *wire.Msg),
		defined: make(map[[32]byte]bool),
		dead:    make(chan struct{}),
	}
	w.lastRecv.Store(time.Now().UnixNano())
	interval := env.Heartbeat
	if interval <= 0 {
		interval = DefaultHeartbeat
	}
	go w.read()
	go w.heartbeat(interval)
	return w, nil
}

// Name returns the worker's name, e.g. "process 1 (pid 4711)".
func (w *ConnWorker) Name() string { return w.name }

// Host returns where the worker runs.
func (w *ConnWorker) Host() string { return w.host }

// Slots returns how many chunks the scheduler keeps in flight on it.
func (w *ConnWorker) Slots() int { return w.slots }

// SetSlots sets how many chunks the scheduler keeps in flight on the
// worker (default 2): more hide the latency of a slow link. It must be
// called before the worker joins a pool.
func (w *ConnWorker) SetSlots(n int) {
	if n > 0 {
		w.slots = n
	}
}

// read dispatches the worker's messages until the connection ends.
func (w *ConnWorker) read() {
	for {
		m, err := w.conn.Recv()
		if err != nil {
			if err == io.EOF {
				err = errors.New("worker closed its connection")
			}
			w.die(err)
			return
		}
		w.lastRecv.Store(time.Now().UnixNano())
		switch m.Kind {
		case wire.KindResult:
			w.mu.Lock()
			ch := w.waiting[m.ID]
			delete(w.waiting, m.ID)
			w.mu.Unlock()
			if ch != nil {
				ch <- m
			}
		case wire.KindOutput:
			w.env.Print(m.Text)
		case wire.KindPing:
			w.conn.Send(&wire.Msg{Kind: wire.KindPong, Seq: m.Seq})
		case wire.KindError:
			w.die(fmt.Errorf("worker reported: %s", m.Message))
			return
		}
	}
}

func (w *ConnWorker) die(err error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	select {
	case <-w.dead:
	default:
		w.deadErr = err
		close(w.dead)
	}
}

// Run sends the chunk to the worker and waits for its result.
func (w *ConnWorker) Run(ctx context.Context, c *chunk) ([]starlark.Value, *taskFailure, error) {
	j := c.job
	ch := make(chan *wire.Msg, 1)
	w.mu.Lock()
	select {
	case <-w.dead:
		err := w.deadErr
		w.mu.Unlock()
		return nil, nil, &workerDied{err: err, unsent: true}
	default:
	}
	needDefine := !w.defined[j.fnHash]
	w.defined[j.fnHash] = true
	w.waiting[c.id] = ch
	if needDefine {
		// Under the lock, so that no other slot's Call can overtake it.
		if err := w.conn.Send(&wire.Msg{Kind: wire.KindDefine, Hash: j.fnHash[:], Body: j.fnBody}); err != nil {
			w.mu.Unlock()
			w.die(err)
			return nil, nil, &workerDied{err: err, unsent: true}
		}
	}
	w.mu.Unlock()
	if err := w.conn.Send(&wire.Msg{Kind: wire.KindCall, ID: c.id, Hash: j.fnHash[:], Index: c.start, Body: c.body}); err != nil {
		w.die(err)
		return nil, nil, &workerDied{err: err, unsent: true}
	}
	var m *wire.Msg
	select {
	case m = <-ch:
	case <-w.dead:
		return nil, nil, &workerDied{err: w.deadErr}
	case <-ctx.Done():
		w.conn.Send(&wire.Msg{Kind: wire.KindCancel, ID: c.id})
		select {
		case m = <-ch:
		case <-w.dead:
		case <-time.After(5 * time.Second):
			// A task that ignores cancellation: the worker goes.
			w.Kill()
		}
		return nil, nil, ctx.Err()
	}
	if m.Err != nil {
		return nil, &taskFailure{kind: m.Err.Kind, msg: m.Err.Message, traceback: m.Err.Traceback,
			offset: int(m.Err.Index - c.start), args: m.Err.Args}, nil
	}
	d := w.env.Codec.NewDecoder(m.Body)
	n, err := d.ArrayHeader()
	if err != nil || n != len(c.args) {
		return nil, &taskFailure{kind: "serialize", msg: fmt.Sprintf("bad result from worker: %d results for %d tasks (%v)", n, len(c.args), err)}, nil
	}
	results := make([]starlark.Value, n)
	for i := range results {
		d.Reset()
		if results[i], err = d.Value(); err != nil {
			return nil, &taskFailure{kind: "serialize", msg: "result: " + err.Error(), offset: i}, nil
		}
	}
	return results, nil, nil
}

// Close says goodbye and waits for the worker to exit.
func (w *ConnWorker) Close() error {
	w.conn.Send(&wire.Msg{Kind: wire.KindBye})
	w.conn.Close()
	if w.onClose != nil {
		return w.onClose()
	}
	return nil
}

// Kill stops the worker now.
func (w *ConnWorker) Kill() {
	w.die(errors.New("worker killed"))
	if w.onKill != nil {
		w.onKill()
	}
	w.conn.Close()
}
