package pools

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"time"

	"go.starlark.net/starlark"
)

// A worker is one place where chunks run: a goroutine, a process, a
// remote process. The scheduler runs Slots() goroutines per worker, each
// taking chunks from the pool's queue and calling Run.
type worker interface {
	Name() string // e.g. "thread 2", "process 1 (pid 4711)"
	Host() string // where it runs, e.g. "localhost"
	Slots() int

	// Run executes the chunk and returns its results, or the failure of
	// one of its tasks, or an error if the worker itself failed (died,
	// lost its connection), in which case the chunk runs again elsewhere.
	Run(ctx context.Context, c *chunk) ([]starlark.Value, *taskFailure, error)

	// Close stops the worker after the work it has; Kill stops it now.
	Close() error
	Kill()
}

// Pool states.
const (
	open = iota
	closed
	terminated
)

// A Pool runs jobs on its workers. Its methods are safe for concurrent
// use.
type Pool struct {
	name  string // e.g. "threads(4)"
	kind  string // "serial", "threads", "processes", "remote"
	n     int    // workers
	env   *Env
	spawn func(ctx context.Context, i int) (worker, error) // nil for serial

	serialRunner *runner

	mu       sync.Mutex
	state    int
	q        *queue
	life     context.Context // cancelled by terminate
	stop     context.CancelFunc
	workers  map[worker]bool
	slotsWG  sync.WaitGroup
	spawnWG  sync.WaitGroup
	spawnErr error
	starting int // workers being started
	stats    map[string]*WorkerStats
}

// WorkerStats counts what one worker did.
type WorkerStats struct {
	Worker string
	Host   string
	Tasks  int
	Busy   time.Duration
}

// NewSerial returns a pool that runs every task in the caller's goroutine,
// one after another, with the same copying rules as every other pool.
func NewSerial(env *Env) *Pool {
	p := &Pool{name: "serial", kind: "serial", n: 1, env: env, stats: make(map[string]*WorkerStats)}
	p.serialRunner = newRunner(env, "serial")
	p.start()
	return p
}

// NewThreads returns a pool of n goroutines, each with its own Starlark
// thread.
func NewThreads(env *Env, n int) *Pool {
	p := &Pool{name: fmt.Sprintf("threads(%d)", n), kind: "threads", n: n, env: env}
	p.spawn = func(ctx context.Context, i int) (worker, error) {
		name := fmt.Sprintf("thread %d", i)
		return &threadWorker{name: name, r: newRunner(env, name)}, nil
	}
	p.start()
	return p
}

// Name returns the pool's description, e.g. "processes(2)".
func (p *Pool) Name() string { return p.name }

// Kind returns "serial", "threads", "processes" or "remote".
func (p *Pool) Kind() string { return p.kind }

// Nodes returns the number of workers.
func (p *Pool) Nodes() int { return p.n }

func (p *Pool) serial() bool { return p.spawn == nil }

// local reports whether tasks run in this process.
func (p *Pool) local() bool { return p.kind == "serial" || p.kind == "threads" }

// slots estimates the chunks in flight at once, for the window of lazy
// maps.
func (p *Pool) slots() int {
	switch p.kind {
	case "processes":
		return 2 * p.n
	case "remote":
		return 4 * p.n
	}
	return p.n
}

// start brings up the workers; the caller holds no lock.
func (p *Pool) start() {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.state = open
	p.q = newQueue()
	p.life, p.stop = context.WithCancel(context.Background())
	p.workers = make(map[worker]bool)
	p.stats = make(map[string]*WorkerStats)
	p.spawnErr = nil
	for i := range p.spawnCount() {
		p.launch(i)
	}
}

func (p *Pool) spawnCount() int {
	if p.spawn == nil {
		return 0
	}
	return p.n
}

// spawnAttempts bounds the tries to start one worker; the pool fails
// only when no worker is alive and none is starting.
const spawnAttempts = 3

// launch starts worker i in the background; p.mu is held.
func (p *Pool) launch(i int) {
	q, life := p.q, p.life
	p.spawnWG.Add(1)
	p.starting++
	go func() {
		defer p.spawnWG.Done()
		var w worker
		var err error
		for attempt := 1; ; attempt++ {
			if w, err = p.spawn(life, i); err == nil || attempt == spawnAttempts || life.Err() != nil {
				break
			}
			select { // a worker killed while it started, a host that blinked
			case <-life.Done():
			case <-time.After(time.Duration(attempt) * 100 * time.Millisecond):
			}
		}
		p.mu.Lock()
		defer p.mu.Unlock()
		p.starting--
		if err != nil {
			if p.spawnErr == nil {
				p.spawnErr = err
			}
			if len(p.workers) == 0 && p.starting == 0 {
				q.fail(fmt.Errorf("cannot start worker: %v", err))
			}
			return
		}
		if p.q != q || p.state == terminated {
			w.Kill()
			return
		}
		p.workers[w] = true
		first := make(chan struct{}) // closed once the primary slot has work
		for k := range w.Slots() {
			p.slotsWG.Add(1)
			go p.slot(w, i, q, k == 0, first)
		}
	}()
}

// slot takes chunks from the queue and runs them on w until the queue
// closes or w fails. A worker's first slot is its primary one; the others
// only prefetch, keeping the worker's pipe full, and take a chunk only
// when no primary slot of another worker is waiting for it.
//
// Prefetching slots start only once the primary one has taken its first
// chunk, so that a worker runs its chunks in the order of the queue.
func (p *Pool) slot(w worker, i int, q *queue, primary bool, first chan struct{}) {
	defer p.slotsWG.Done()
	if primary {
		defer func() {
			select {
			case <-first:
			default:
				close(first)
			}
		}()
	} else {
		<-first
	}
	for {
		c := q.pop(primary)
		if primary {
			select {
			case <-first:
			default:
				close(first)
			}
		}
		if c == nil {
			return
		}
		j := c.job
		if j.skip(c) {
			c.err = errSkipped
			j.deliver(c)
			continue
		}
		began := time.Now()
		res, fail, err := w.Run(j.ctx, c)
		p.account(w, len(c.args), time.Since(began))
		if err != nil && j.ctx.Err() == nil {
			p.lost(w, i, q, c, err)
			return
		}
		switch {
		case err != nil:
			c.err = j.ctxError()
		case fail != nil:
			c.err = j.taskError(c, fail, w.Name())
		default:
			c.results = res
		}
		j.deliver(c)
	}
}

var errSkipped = errors.New("skipped after an earlier task failed")

// lost handles a worker that failed while running c: c runs again,
// split into single tasks so that a task that kills workers is found; a
// task that kills two workers fails its job. A new worker replaces w.
//
// A worker runs several slots: each of them ends up here once the worker
// is gone, but only the first replaces it, and a chunk that never reached
// the dead worker goes back to the queue unchanged.
func (p *Pool) lost(w worker, i int, q *queue, c *chunk, err error) {
	w.Kill()
	j := c.job
	var wd *workerDied
	if errors.As(err, &wd) && wd.unsent {
		q.pushFront(c)
	} else if c.attempts++; c.attempts >= 2 {
		c.err = &TaskError{
			Pool: p.name, Verb: j.spec.Verb, Index: c.start, Args: argsRepr(c.args[0]),
			Worker: w.Name(), Kind: "worker-died",
			Message: fmt.Sprintf("worker died while running task %d: %v", c.start, err),
		}
		j.deliver(c)
	} else if len(c.args) == 1 {
		q.pushFront(c)
	} else {
		// Split: the job waits for each part in place of the whole.
		parts := make([]*chunk, len(c.args))
		for k := range c.args {
			parts[k] = &chunk{job: j, id: chunkIDs.Add(1), start: c.start + int64(k),
				args: c.args[k : k+1], kwargs: c.kwargs, attempts: c.attempts}
			if c.body != nil {
				parts[k].body = c.part(k)
				parts[k].offsets = []int{1, len(parts[k].body)}
			}
		}
		j.split(c, parts)
		q.pushFront(parts...)
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	if !p.workers[w] {
		return // another slot of w replaced it, or the pool stopped
	}
	delete(p.workers, w)
	if p.q == q && p.state == open {
		p.launch(i)
	}
}

func (p *Pool) account(w worker, tasks int, busy time.Duration) {
	p.mu.Lock()
	defer p.mu.Unlock()
	s := p.stats[w.Name()]
	if s == nil {
		s = &WorkerStats{Worker: w.Name(), Host: w.Host()}
		p.stats[w.Name()] = s
	}
	s.Tasks += tasks
	s.Busy += busy
}

// Stats returns what each worker has done since the pool started.
func (p *Pool) Stats() []WorkerStats {
	p.mu.Lock()
	defer p.mu.Unlock()
	out := make([]WorkerStats, 0, len(p.stats))
	for _, s := range p.stats {
		out = append(out, *s)
	}
	return out
}

// ready reports whether the pool accepts jobs.
func (p *Pool) ready() error {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.state != open {
		return ErrClosed
	}
	return nil
}

// submit queues chunks for the workers.
func (p *Pool) submit(cs ...*chunk) error {
	p.mu.Lock()
	q, state := p.q, p.state
	p.mu.Unlock()
	if state != open {
		return ErrClosed
	}
	return q.push(cs...)
}

// runSerial runs c in the caller's goroutine.
func (p *Pool) runSerial(c *chunk) {
	j := c.job
	began := time.Now()
	res, fail := p.serialRunner.runLocal(j.ctx, j.fn, c)
	p.account(serialWorker{}, len(c.args), time.Since(began))
	if fail != nil {
		c.err = j.taskError(c, fail, "")
	} else {
		c.results = res
	}
	j.deliver(c)
}

type serialWorker struct{ worker }

func (serialWorker) Name() string { return "serial" }
func (serialWorker) Host() string { return "localhost" }

// Close stops the pool from taking new jobs; the workers finish the
// queued work and exit. Call Join to wait for them.
func (p *Pool) Close() error {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.state == open {
		p.state = closed
		p.q.close()
	}
	return nil
}

// Join waits for the workers of a closed pool to exit.
func (p *Pool) Join() error {
	p.mu.Lock()
	if p.state == open {
		p.mu.Unlock()
		return fmt.Errorf("join: pool %s is still open (call close() first)", p.name)
	}
	p.mu.Unlock()
	p.spawnWG.Wait()
	p.slotsWG.Wait()
	p.mu.Lock()
	ws := p.workers
	p.workers = make(map[worker]bool)
	p.mu.Unlock()
	var errs []error
	for w := range ws {
		if err := w.Close(); err != nil {
			errs = append(errs, err)
		}
	}
	return errors.Join(errs...)
}

// Terminate stops the pool at once: running jobs fail, workers are
// killed.
func (p *Pool) Terminate() {
	p.mu.Lock()
	p.state = terminated
	p.q.fail(ErrClosed)
	p.stop()
	ws := p.workers
	p.workers = make(map[worker]bool)
	p.mu.Unlock()
	for w := range ws {
		w.Kill()
	}
	p.spawnWG.Wait()
	p.slotsWG.Wait()
}

// Restart makes a closed or terminated pool usable again with new
// workers. Restarting an open pool does nothing.
func (p *Pool) Restart() {
	p.mu.Lock()
	state := p.state
	p.mu.Unlock()
	if state == open {
		return
	}
	if state == closed {
		p.Join()
	}
	p.Terminate()
	p.start()
}

// Clear terminates the workers and starts fresh ones, forgetting cached
// functions and statistics; the pool stays open.
func (p *Pool) Clear() {
	p.Terminate()
	p.start()
}

// threadWorker runs chunks on a goroutine of this process.
type threadWorker struct {
	name string
	r    *runner
}

func (w *threadWorker) Name() string { return w.name }
func (w *threadWorker) Host() string { return "localhost" }
func (w *threadWorker) Slots() int   { return 1 }
func (w *threadWorker) Close() error { return nil }
func (w *threadWorker) Kill()        {}

func (w *threadWorker) Run(ctx context.Context, c *chunk) ([]starlark.Value, *taskFailure, error) {
	res, fail := w.r.runLocal(ctx, c.job.fn, c)
	return res, fail, nil
}

// queue is the pool's FIFO of chunks waiting for a worker slot.
type queue struct {
	mu     sync.Mutex
	cond   *sync.Cond
	items  []*chunk
	idle   int // primary slots waiting in pop
	closed bool
	err    error // set by fail: queued and later chunks fail with it
}

func newQueue() *queue {
	q := &queue{}
	q.cond = sync.NewCond(&q.mu)
	return q
}

func (q *queue) push(cs ...*chunk) error {
	q.mu.Lock()
	defer q.mu.Unlock()
	if q.err != nil {
		return q.err
	}
	if q.closed {
		return ErrClosed
	}
	q.items = append(q.items, cs...)
	q.cond.Broadcast()
	return nil
}

func (q *queue) pushFront(cs ...*chunk) {
	q.mu.Lock()
	defer q.mu.Unlock()
	if q.err != nil {
		for _, c := range cs {
			c.err = q.err
			c.job.deliver(c)
		}
		return
	}
	q.items = append(append([]*chunk(nil), cs...), q.items...)
	q.cond.Broadcast()
}

// pop returns the next chunk, waiting for one; nil when the queue is
// closed and empty.
func (q *queue) pop(primary bool) *chunk {
	q.mu.Lock()
	defer q.mu.Unlock()
	if primary {
		q.idle++
		defer func() {
			q.idle--
			q.cond.Broadcast() // a prefetching slot may now take one
		}()
	}
	for {
		n := len(q.items)
		if q.err != nil || (n == 0 && q.closed) {
			return nil
		}
		if n > 0 && (primary || n > q.idle) {
			break
		}
		q.cond.Wait()
	}
	c := q.items[0]
	q.items[0] = nil
	q.items = q.items[1:]
	return c
}

func (q *queue) close() {
	q.mu.Lock()
	defer q.mu.Unlock()
	q.closed = true
	q.cond.Broadcast()
}

// fail ends the queue: waiting chunks fail with err.
func (q *queue) fail(err error) {
	q.mu.Lock()
	items := q.items
	q.items = nil
	if q.err == nil {
		q.err = err
	}
	q.cond.Broadcast()
	q.mu.Unlock()
	for _, c := range items {
		c.err = err
		c.job.deliver(c)
	}
}

// Terminated reports whether the pool was terminated.
func (p *Pool) Terminated() bool {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.state == terminated
}
