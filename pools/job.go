package pools

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"sync/atomic"
	"time"

	"go.starlark.net/starlark"

	"github.com/pathos-star/pathos-star/serialize"
)

// A Spec describes a job: one function over many argument tuples.
type Spec struct {
	Verb string         // for messages, e.g. "pool.map"
	Fn   starlark.Value // a callable

	// Exactly one of Inputs and Iter gives the argument tuples. Inputs are
	// all submitted at once; Iter is read lazily by Next, in the caller's
	// goroutine, keeping a bounded number of chunks in flight.
	Inputs []starlark.Tuple
	Iter   func() (starlark.Tuple, bool, error)
	Len    int // number of inputs if known (for chunking), else -1

	Kwargs    []starlark.Tuple // keyword arguments for every task (pipe)
	Chunksize int              // 0 picks one from Len and the worker count
	Ordered   bool             // Next yields in input order (else completion order)
	Timeout   time.Duration    // 0 means none
}

// A chunk is a run of consecutive tasks of one job, the unit of work a
// worker takes.
type chunk struct {
	job      *Job
	id       uint64
	start    int64            // index of the first task
	args     []starlark.Tuple // the caller's values: copied, never changed
	kwargs   starlark.Tuple   // (name, value) pairs, or nil
	fresh    bool             // args (and kwargs) are already private copies
	body     []byte           // the encoded tasks, for workers in other processes
	offsets  []int            // where each task's encoding starts in body, plus the end
	attempts int              // workers lost while running it
	splitTo  int              // a marker, not a chunk: one chunk became this many

	results []starlark.Value
	err     error
}

// A Job is a running map. Its methods must be called from one goroutine
// (the caller's), except Cancel, which is safe from any goroutine.
type Job struct {
	pool   *Pool
	spec   Spec
	ctx    context.Context
	cancel context.CancelCauseFunc

	fn     starlark.Value // the frozen snapshot, for workers in this process
	fnBody []byte         // the encoded snapshot, for other processes
	fnHash [32]byte

	chunksize int
	window    int
	nextStart int64 // index of the next task to submit
	inflight  int
	exhausted bool
	inputErr  error

	mu      sync.Mutex
	arrived []*chunk      // finished chunks, for the caller
	notify  chan struct{} // signalled when arrived grows
	copier  *runner       // copies arguments in the caller's goroutine
	pending map[int64]*chunk
	want    int64 // next index to yield, when ordered
	buf     []starlark.Value
	err     error
	giveUp  <-chan time.Time // set during WaitFor
	results []starlark.Value // collected by Wait so far
	failed  atomic.Int64     // lowest failed task index + 1, or 0; chunks after it are skipped
}

var chunkIDs atomic.Uint64

// Start begins a job on the pool. For a serial pool with Inputs, the whole
// job runs before Start returns.
func (p *Pool) Start(ctx context.Context, spec Spec) (*Job, error) {
	if err := p.ready(); err != nil {
		return nil, fmt.Errorf("%s: %v", spec.Verb, err)
	}
	j := &Job{pool: p, spec: spec, pending: make(map[int64]*chunk), notify: make(chan struct{}, 1)}
	if spec.Timeout > 0 {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeoutCause(ctx, spec.Timeout, &TimeoutError{Verb: spec.Verb, Pool: p.name, Timeout: spec.Timeout.String()})
		j.ctx, j.cancel = context.WithCancelCause(ctx)
		inner := j.cancel
		j.cancel = func(err error) { inner(err); cancel() }
	} else {
		j.ctx, j.cancel = context.WithCancelCause(ctx)
	}
	// Terminating the pool ends its jobs, including tasks running on
	// goroutines of this process, which no kill would reach.
	p.mu.Lock()
	life := p.life
	p.mu.Unlock()
	stopLife := context.AfterFunc(life, func() { j.cancel(fmt.Errorf("%s on %s: %v", spec.Verb, p.name, ErrClosed)) })
	context.AfterFunc(j.ctx, func() { stopLife() })

	// Snapshot the function: serialize it now, and decode it once, frozen.
	enc := p.env.Codec.NewEncoder()
	body, err := enc.Append(nil, spec.Fn)
	if err != nil {
		j.cancel(nil)
		return nil, fmt.Errorf("%s: function: %v", spec.Verb, err)
	}
	j.fnBody, j.fnHash = body, serialize.Hash(body)
	if p.local() {
		fn, err := p.env.Codec.Decode(body)
		if err != nil {
			j.cancel(nil)
			return nil, fmt.Errorf("%s: function: %v", spec.Verb, err)
		}
		freeze(fn, map[*starlark.Function]bool{})
		j.fn = fn
	}

	j.chunksize = spec.Chunksize
	if j.chunksize <= 0 {
		j.chunksize = autoChunksize(spec.Len, p.n, spec.Iter != nil)
	}
	j.window = 4 * p.slots()
	if spec.Inputs != nil {
		j.exhausted = true
		n := (len(spec.Inputs) + j.chunksize - 1) / j.chunksize
		chunks := make([]*chunk, 0, n)
		for start := 0; start < len(spec.Inputs); {
			end := min(start+j.chunksize, len(spec.Inputs))
			if spec.Chunksize <= 0 && !p.local() {
				// Large arguments: smaller chunks, so that sending one
				// overlaps running another.
				size := 0
				for k := start; k < end; k++ {
					if size += sizeHint(spec.Inputs[k], 0); size >= maxChunkBytes {
						end = k + 1
						break
					}
				}
			}
			chunks = append(chunks, j.newChunk(int64(start), spec.Inputs[start:end]))
			start = end
		}
		j.nextStart = int64(len(spec.Inputs))
		j.inflight = len(chunks)
		if p.serial() {
			for _, c := range chunks {
				p.runSerial(c)
			}
			return j, nil
		}
		// The caller may run again before the chunks do (amap): copy the
		// arguments now, while they are as the caller passed them. Each
		// chunk goes to the workers as soon as it is copied, so that they
		// start while the rest are copied.
		for _, c := range chunks {
			err := j.snapshot(c)
			if err == nil {
				err = p.submit(c)
			}
			if err != nil {
				j.cancel(nil) // what was submitted is skipped
				return nil, fmt.Errorf("%s: %v", spec.Verb, err)
			}
		}
	}
	return j, nil
}

// maxChunkBytes ends an automatically sized chunk for another process
// early once its arguments reach this size: two such chunks (the one
// running and the one waiting) fit in a worker's 1 MB pipe, so sending
// never waits for the worker.
const maxChunkBytes = 512 << 10

// autoChunksize picks about four chunks per worker, as pathos does: few
// enough that the per-chunk cost is small, enough that the load balances.
func autoChunksize(n, workers int, lazy bool) int {
	if n < 0 {
		return 1
	}
	size := (n + 4*workers - 1) / (4 * workers)
	if lazy {
		size = min(size, 1024) // stream: first results come at once
	}
	return max(size, 1)
}

func (j *Job) newChunk(start int64, args []starlark.Tuple) *chunk {
	c := &chunk{job: j, id: chunkIDs.Add(1), start: start, args: args}
	if j.spec.Kwargs != nil {
		c.kwargs = make(starlark.Tuple, len(j.spec.Kwargs))
		for i, kv := range j.spec.Kwargs {
			c.kwargs[i] = kv
		}
	}
	return c
}

// fill submits chunks read from the lazy input until the window is full.
func (j *Job) fill() {
	for !j.exhausted && j.inflight < j.window && j.err == nil {
		var args []starlark.Tuple
		for len(args) < j.chunksize {
			t, ok, err := j.spec.Iter()
			if err != nil {
				j.inputErr = err
				j.exhausted = true
				break
			}
			if !ok {
				j.exhausted = true
				break
			}
			args = append(args, t)
		}
		if len(args) == 0 {
			break
		}
		c := j.newChunk(j.nextStart, args)
		j.nextStart += int64(len(args))
		j.inflight++
		if j.pool.serial() {
			j.pool.runSerial(c)
			continue
		}
		// The caller runs again before this chunk does: copy the arguments
		// now, while they are as the caller passed them.
		if err := j.snapshot(c); err != nil {
			j.inflight--
			j.fail(fmt.Errorf("%s: %v", j.spec.Verb, err))
			return
		}
		if err := j.pool.submit(c); err != nil {
			j.err = fmt.Errorf("%s: %v", j.spec.Verb, err)
		}
	}
}

// deliver hands a finished chunk to the caller. Workers call it.
func (j *Job) deliver(c *chunk) {
	if c.err != nil {
		if te, ok := c.err.(*TaskError); ok {
			for {
				old := j.failed.Load()
				if old != 0 && old <= te.Index+1 {
					break
				}
				if j.failed.CompareAndSwap(old, te.Index+1) {
					break
				}
			}
		}
	}
	j.mu.Lock()
	j.arrived = append(j.arrived, c)
	j.mu.Unlock()
	select {
	case j.notify <- struct{}{}:
	default:
	}
}

// split tells the caller that c will arrive as parts instead.
func (j *Job) split(c *chunk, parts []*chunk) {
	j.deliver(&chunk{job: j, splitTo: len(parts)})
}

// take moves the arrived chunks into the caller's bookkeeping and
// reports whether there were any.
func (j *Job) take() bool {
	j.mu.Lock()
	got := j.arrived
	j.arrived = nil
	j.mu.Unlock()
	for _, c := range got {
		if c.splitTo > 0 {
			j.inflight += c.splitTo - 1
			continue
		}
		j.inflight--
		j.record(c)
	}
	return len(got) > 0
}

// skip reports whether a queued chunk need not run: the job is over, or
// an earlier task already failed.
func (j *Job) skip(c *chunk) bool {
	if j.ctx.Err() != nil {
		return true
	}
	f := j.failed.Load()
	return f != 0 && c.start >= f
}

// Next returns the next result: in input order if the spec is ordered,
// else in completion order. It returns ok=false when all results have been
// returned, and the job's error, if any, after all results before it.
func (j *Job) Next() (v starlark.Value, ok bool, err error) {
	for {
		if len(j.buf) > 0 {
			v, j.buf = j.buf[0], j.buf[1:]
			return v, true, nil
		}
		if j.err != nil {
			return nil, false, j.err
		}
		if j.spec.Ordered {
			if c, found := j.pending[j.want]; found {
				delete(j.pending, j.want)
				j.want += int64(len(c.args))
				if c.err != nil {
					j.fail(c.err)
					continue
				}
				j.buf = c.results
				continue
			}
		}
		if j.spec.Iter != nil {
			j.fill()
		}
		if j.inflight == 0 {
			if j.inputErr != nil {
				j.fail(fmt.Errorf("%s: reading input: %v", j.spec.Verb, j.inputErr))
				continue
			}
			if j.spec.Ordered && len(j.pending) > 0 {
				// The earliest pending chunk failed to arrive: cannot happen
				// unless a chunk was lost.
				j.fail(fmt.Errorf("%s: internal error: results missing", j.spec.Verb))
				continue
			}
			j.cancel(nil)
			return nil, false, nil
		}
		if err := j.wait(); err == ErrWaitTimeout {
			return nil, false, err
		} else if err != nil {
			j.fail(err)
		}
	}
}

// ErrWaitTimeout is returned by WaitFor when its time runs out; the job
// goes on.
var ErrWaitTimeout = errors.New("wait timed out")

// WaitFor is Wait with a limit: after timeout (0: none) it returns
// ErrWaitTimeout and the job goes on.
func (j *Job) WaitFor(timeout time.Duration) ([]starlark.Value, error) {
	if timeout > 0 {
		t := time.NewTimer(timeout)
		defer t.Stop()
		j.giveUp = t.C
		defer func() { j.giveUp = nil }()
	}
	return j.Wait()
}

// wait receives finished chunks, blocking until there is one.
func (j *Job) wait() error {
	for !j.take() {
		select {
		case <-j.giveUp:
			return ErrWaitTimeout
		case <-j.notify:
		case <-j.ctx.Done():
			if j.take() {
				return nil
			}
			return j.ctxError()
		}
	}
	return nil
}

func (j *Job) ctxError() error {
	cause := context.Cause(j.ctx)
	if te, ok := cause.(*TimeoutError); ok {
		return te
	}
	if cause == context.Canceled { // Control-C, or the caller's context
		return fmt.Errorf("%s on %s: cancelled", j.spec.Verb, j.pool.name)
	}
	return fmt.Errorf("%s on %s: %v", j.spec.Verb, j.pool.name, cause)
}

func (j *Job) record(c *chunk) {
	if j.spec.Ordered {
		j.pending[c.start] = c
		return
	}
	if c.err == errSkipped {
		return // the failure that caused the skip arrives too
	}
	if c.err != nil {
		j.fail(c.err)
		return
	}
	j.buf = append(j.buf, c.results...)
}

// fail ends the job with err, cancelling what still runs.
func (j *Job) fail(err error) {
	if j.err == nil {
		j.err = err
	}
	j.cancel(err)
}

// Cancel stops the job: queued chunks are dropped and running tasks are
// cancelled. It is safe to call from any goroutine, more than once.
func (j *Job) Cancel() { j.cancel(fmt.Errorf("%s: cancelled", j.spec.Verb)) }

// Wait returns all results in input order (for an ordered job), or the
// first error. It is map's collection.
func (j *Job) Wait() ([]starlark.Value, error) {
	if j.results == nil && j.spec.Inputs != nil {
		j.results = make([]starlark.Value, 0, len(j.spec.Inputs))
	}
	for {
		v, ok, err := j.Next()
		if err != nil {
			return nil, err
		}
		if !ok {
			out := j.results
			if out == nil {
				out = []starlark.Value{}
			}
			return out, nil
		}
		j.results = append(j.results, v)
	}
}

// Ready reports whether every result has arrived (or the job failed)
// without blocking.
func (j *Job) Ready() bool {
	j.take()
	return j.err != nil || (j.exhausted && j.inflight == 0)
}

// taskError completes a failure report with where it happened.
func (j *Job) taskError(c *chunk, f *taskFailure, worker string) *TaskError {
	i := f.offset
	args := "()"
	if i >= 0 && i < len(c.args) {
		args = argsRepr(c.args[i])
	}
	if f.args != "" {
		args = f.args
	}
	return &TaskError{
		Pool: j.pool.name, Verb: j.spec.Verb, Index: c.start + int64(i), Args: args,
		Worker: worker, Kind: f.kind, Message: f.msg, Traceback: f.traceback,
	}
}

// snapshot copies c's arguments in the caller's goroutine into the form
// its worker takes: private values for workers in this process, bytes for
// the others.
func (j *Job) snapshot(c *chunk) error {
	if j.copier == nil {
		j.copier = newRunner(j.pool.env, "caller")
	}
	if j.pool.local() {
		args := make([]starlark.Tuple, len(c.args))
		for i, a := range c.args {
			if immutable(a, 0) {
				args[i] = a
				continue
			}
			v, err := j.copier.copyValue(a)
			if err != nil {
				return fmt.Errorf("task %d: %v", c.start+int64(i), argsError(err))
			}
			args[i] = v.(starlark.Tuple)
		}
		c.args = args
		if c.kwargs != nil {
			v, err := j.copier.copyValue(c.kwargs)
			if err != nil {
				return fmt.Errorf("keyword arguments: %v", err)
			}
			c.kwargs = v.(starlark.Tuple)
		}
		c.fresh = true
		return nil
	}
	enc := j.copier.enc
	hint := 16
	for _, a := range c.args {
		hint += sizeHint(a, 0)
	}
	body := AppendTasksHeader(make([]byte, 0, hint), len(c.args))
	c.offsets = make([]int, 0, len(c.args)+1)
	for i, a := range c.args {
		c.offsets = append(c.offsets, len(body))
		enc.Reset()
		var err error
		if body, err = appendTask(enc, body, a, c.kwargs); err != nil {
			return fmt.Errorf("task %d: %v", c.start+int64(i), err)
		}
	}
	c.offsets = append(c.offsets, len(body))
	c.body = body
	return nil
}

// AppendTasksHeader starts the body of a call: an array of n tasks.
func AppendTasksHeader(dst []byte, n int) []byte { return serialize.AppendArrayHeader(dst, n) }

// appendTask appends one task's arguments: the positional tuple, or the
// kwargs tag with [positional tuple, flat name, value array].
func appendTask(enc *serialize.Encoder, dst []byte, args starlark.Tuple, kwargs starlark.Tuple) ([]byte, error) {
	if kwargs != nil {
		dst = serialize.AppendKwargsTag(dst)
		dst = serialize.AppendArrayHeader(dst, 2)
	}
	dst, err := enc.Append(dst, args)
	if err != nil {
		return nil, argsError(err)
	}
	if kwargs != nil {
		dst = serialize.AppendArrayHeader(dst, 2*len(kwargs))
		for _, kv := range kwargs {
			kv := kv.(starlark.Tuple)
			if dst, err = enc.Append(dst, kv[0]); err != nil {
				return nil, err
			}
			if dst, err = enc.Append(dst, kv[1]); err != nil {
				return nil, fmt.Errorf("keyword argument %s: %v", kv[0], err)
			}
		}
	}
	return dst, nil
}

// part returns the body of a one-task chunk cut from c's body.
func (c *chunk) part(k int) []byte {
	body := AppendTasksHeader(nil, 1)
	return append(body, c.body[c.offsets[k]:c.offsets[k+1]]...)
}

// sizeHint guesses the encoded size of v, so that a buffer is allocated
// once: strings and bytes count in full, other values a little.
func sizeHint(v starlark.Value, depth int) int {
	switch v := v.(type) {
	case starlark.String:
		return len(v) + 9
	case starlark.Bytes:
		return len(v) + 9
	case starlark.Tuple:
		n := 1
		if depth < 3 {
			for _, x := range v {
				n += sizeHint(x, depth+1)
			}
		}
		return n
	case *starlark.List:
		n := 3
		if depth < 3 {
			for i := range min(v.Len(), 1024) {
				n += sizeHint(v.Index(i), depth+1)
			}
		}
		return n
	}
	return 9
}
