package pools

import (
	"context"
	"errors"
	"fmt"
	"io"
	"sync"
	"sync/atomic"

	"go.starlark.net/starlark"

	"github.com/pathos-star/pathos-star/internal/wire"
	"github.com/pathos-star/pathos-star/serialize"
)

// maxCachedFuncs bounds a worker's function cache.
const maxCachedFuncs = 1024

// Serve is the worker side of the protocol: it shakes hands on conn (as
// the accepting side, with secret if not empty), then runs the chunks the
// driver sends, one at a time, until the driver says goodbye, the
// connection ends, or ctx is done. Printed lines of tasks go back to the
// driver as Output messages.
func Serve(ctx context.Context, conn *wire.Conn, env *Env, secret []byte) error {
	defer conn.Close()
	if _, err := wire.ServerHandshake(ctx, conn, secret, wire.LocalInfo(wire.RoleWorker)); err != nil {
		return err
	}
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	stop := context.AfterFunc(ctx, func() { conn.Close() })
	defer stop()

	s := &server{env: env, conn: conn, funcs: make(map[[32]byte]starlark.Value),
		cancelled: make(map[uint64]bool), calls: make(chan *wire.Msg, 64)}
	workerEnv := *env
	workerEnv.Print = func(text string) {
		conn.Send(&wire.Msg{Kind: wire.KindOutput, ID: s.current.Load(), Text: text})
	}
	s.runner = newRunner(&workerEnv, "worker")

	done := make(chan struct{})
	go func() {
		defer close(done)
		s.execute(ctx)
	}()
	err := s.read()
	close(s.calls)
	s.cancelAll()
	<-done
	return err
}

type server struct {
	env     *Env
	conn    *wire.Conn
	runner  *runner
	calls   chan *wire.Msg
	current atomic.Uint64 // id of the chunk running now

	mu        sync.Mutex
	funcs     map[[32]byte]starlark.Value
	cancelled map[uint64]bool
	stopRun   context.CancelFunc // cancels the running chunk
	runningID uint64
}

// read handles incoming messages until Bye or the end of the stream.
func (s *server) read() error {
	for {
		m, err := s.conn.Recv()
		if err != nil {
			if err == io.EOF {
				return nil
			}
			return err
		}
		switch m.Kind {
		case wire.KindDefine:
			fn, err := s.env.Codec.Decode(m.Body)
			var hash [32]byte
			copy(hash[:], m.Hash)
			if err != nil {
				// Remember the failure: calls of this hash report it.
				fn = &badFunc{err: err}
			} else if serialize.Hash(m.Body) != hash {
				fn = &badFunc{err: errors.New("function hash does not match its body")}
			} else {
				freeze(fn, map[*starlark.Function]bool{})
			}
			s.mu.Lock()
			if len(s.funcs) >= maxCachedFuncs {
				clear(s.funcs)
			}
			s.funcs[hash] = fn
			s.mu.Unlock()
		case wire.KindCall:
			s.calls <- m
		case wire.KindCancel:
			s.mu.Lock()
			if m.ID == 0 || m.ID == s.runningID {
				if s.stopRun != nil {
					s.stopRun()
				}
			}
			if m.ID != 0 {
				s.cancelled[m.ID] = true
			}
			s.mu.Unlock()
		case wire.KindPing:
			s.conn.Send(&wire.Msg{Kind: wire.KindPong, Seq: m.Seq})
		case wire.KindBye:
			return nil
		}
	}
}

func (s *server) cancelAll() {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.stopRun != nil {
		s.stopRun()
	}
}

// badFunc stands for a function that could not be decoded.
type badFunc struct {
	starlark.Value
	err error
}

// execute runs calls one at a time.
func (s *server) execute(ctx context.Context) {
	for m := range s.calls {
		s.mu.Lock()
		var hash [32]byte
		copy(hash[:], m.Hash)
		fn := s.funcs[hash]
		skip := s.cancelled[m.ID]
		delete(s.cancelled, m.ID)
		cctx, cancel := context.WithCancel(ctx)
		s.stopRun, s.runningID = cancel, m.ID
		s.mu.Unlock()

		s.current.Store(m.ID)
		res := s.run(cctx, m, fn, skip)
		s.mu.Lock()
		s.stopRun, s.runningID = nil, 0
		s.mu.Unlock()
		cancel()
		if err := s.conn.Send(res); err != nil {
			// The result may be too large for a frame: say so instead.
			s.conn.Send(&wire.Msg{Kind: wire.KindResult, ID: m.ID, Err: &wire.TaskError{
				Index: m.Index, Kind: wire.FailSerialize, Message: fmt.Sprintf("cannot send result: %v", err)}})
		}
	}
}

// run executes one chunk and builds its Result.
func (s *server) run(ctx context.Context, m *wire.Msg, fn starlark.Value, skip bool) *wire.Msg {
	fail := func(i int, kind, msg, tb, args string) *wire.Msg {
		return &wire.Msg{Kind: wire.KindResult, ID: m.ID, Err: &wire.TaskError{
			Index: m.Index + int64(i), Kind: kind, Message: msg, Traceback: tb, Args: args}}
	}
	if skip {
		return fail(0, wire.FailCancelled, "cancelled", "", "")
	}
	switch f := fn.(type) {
	case nil:
		return fail(0, wire.FailSerialize, "call of an undefined function", "", "")
	case *badFunc:
		return fail(0, wire.FailSerialize, "cannot decode function: "+f.err.Error(), "", "")
	}
	r := s.runner
	thread := r.threadFor(ctx)
	d := s.env.Codec.NewDecoder(m.Body)
	n, err := d.ArrayHeader()
	if err != nil {
		return fail(0, wire.FailSerialize, "bad call: "+err.Error(), "", "")
	}
	// Results are often the size of the arguments: start there, and spare
	// the copies of a growing buffer.
	out := serialize.AppendArrayHeader(make([]byte, 0, len(m.Body)+64), n)
	r.enc.Reset()
	for i := range n {
		d.Reset()
		args, kwargs, err := d.Args()
		if err != nil {
			return fail(i, wire.FailSerialize, "cannot decode arguments: "+err.Error(), "", "")
		}
		v, f := call(ctx, thread, fn, args, kwargs)
		if f != nil {
			return fail(i, f.kind, f.msg, f.traceback, argsRepr(args))
		}
		r.enc.Reset()
		if out, err = r.enc.Append(out, v); err != nil {
			return fail(i, wire.FailSerialize, "result: "+err.Error(), "", argsRepr(args))
		}
	}
	return &wire.Msg{Kind: wire.KindResult, ID: m.ID, Body: out}
}
