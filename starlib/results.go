package starlib

import (
	"errors"
	"fmt"
	"time"

	"go.starlark.net/starlark"

	"github.com/pathos-star/pathos-star/pools"
)

// A ResultIterator is the value of imap and uimap: an iterable that runs
// the map as it is consumed, with a bounded number of tasks in flight.
// It can be iterated once. Leaving the loop early (break) cancels the
// tasks that remain.
//
// A Starlark iterator cannot return an error, so when a task fails the
// iterator cancels the consuming thread with the task's error, which
// stops the loop at once with that message.
type ResultIterator struct {
	who    string
	job    *pools.Job
	thread *starlark.Thread
	inputs []starlark.Iterator
	used   bool
	done   bool
}

var _ starlark.Iterable = (*ResultIterator)(nil)

func (r *ResultIterator) String() string       { return fmt.Sprintf("<%s iterator>", r.who) }
func (r *ResultIterator) Type() string         { return "result_iterator" }
func (r *ResultIterator) Freeze()              {}
func (r *ResultIterator) Truth() starlark.Bool { return true }
func (r *ResultIterator) Hash() (uint32, error) {
	return 0, fmt.Errorf("unhashable type: result_iterator")
}

func (r *ResultIterator) Iterate() starlark.Iterator {
	if r.used {
		return &resultIter{r: r, spent: true}
	}
	r.used = true
	return &resultIter{r: r}
}

type resultIter struct {
	r     *ResultIterator
	spent bool
}

func (it *resultIter) Next(p *starlark.Value) bool {
	r := it.r
	if it.spent || r.done {
		return false
	}
	v, ok, err := r.job.Next()
	if err != nil {
		r.finish()
		r.thread.Cancel(err.Error())
		return false
	}
	if !ok {
		r.finish()
		return false
	}
	*p = v
	return true
}

func (it *resultIter) Done() {
	if !it.spent {
		it.r.finish()
	}
}

// finish cancels what is left and releases the inputs.
func (r *ResultIterator) finish() {
	if r.done {
		return
	}
	r.done = true
	r.job.Cancel()
	doneAll(r.inputs)
}

// An AsyncResult is the value of amap and apipe.
type AsyncResult struct {
	who    string
	job    *pools.Job
	single bool // apipe: the value is the only result, not a list

	finished bool
	value    starlark.Value
	err      error
}

var _ starlark.HasAttrs = (*AsyncResult)(nil)

func (a *AsyncResult) String() string        { return fmt.Sprintf("<async_result of %s>", a.who) }
func (a *AsyncResult) Type() string          { return "async_result" }
func (a *AsyncResult) Freeze()               {}
func (a *AsyncResult) Truth() starlark.Bool  { return true }
func (a *AsyncResult) Hash() (uint32, error) { return 0, fmt.Errorf("unhashable type: async_result") }
func (a *AsyncResult) AttrNames() []string   { return []string{"get", "ready", "successful", "wait"} }

func (a *AsyncResult) Attr(name string) (starlark.Value, error) {
	var fn func(thread *starlark.Thread, b *starlark.Builtin, args starlark.Tuple, kwargs []starlark.Tuple) (starlark.Value, error)
	switch name {
	case "get":
		fn = a.get
	case "wait":
		fn = a.wait
	case "ready":
		fn = func(thread *starlark.Thread, b *starlark.Builtin, args starlark.Tuple, kwargs []starlark.Tuple) (starlark.Value, error) {
			if err := starlark.UnpackArgs(b.Name(), args, kwargs); err != nil {
				return nil, err
			}
			return starlark.Bool(a.ready()), nil
		}
	case "successful":
		fn = func(thread *starlark.Thread, b *starlark.Builtin, args starlark.Tuple, kwargs []starlark.Tuple) (starlark.Value, error) {
			if err := starlark.UnpackArgs(b.Name(), args, kwargs); err != nil {
				return nil, err
			}
			if !a.ready() {
				return nil, fmt.Errorf("successful: %s is not ready (call wait() or get() first)", a.who)
			}
			a.collect(0)
			return starlark.Bool(a.err == nil), nil
		}
	default:
		return nil, nil
	}
	return starlark.NewBuiltin(name, fn).BindReceiver(a), nil
}

func (a *AsyncResult) ready() bool { return a.finished || a.job.Ready() }

// collect waits up to timeout (0: no limit) for the results.
func (a *AsyncResult) collect(timeout time.Duration) error {
	if a.finished {
		return nil
	}
	res, err := a.job.WaitFor(timeout)
	if errors.Is(err, pools.ErrWaitTimeout) {
		return err
	}
	a.finished = true
	if err != nil {
		a.err = err
		return nil
	}
	if a.single {
		a.value = res[0]
	} else {
		a.value = starlark.NewList(res)
	}
	return nil
}

func (a *AsyncResult) get(thread *starlark.Thread, b *starlark.Builtin, args starlark.Tuple, kwargs []starlark.Tuple) (starlark.Value, error) {
	var tv starlark.Value = starlark.None
	if err := starlark.UnpackArgs(b.Name(), args, kwargs, "timeout?", &tv); err != nil {
		return nil, err
	}
	d, err := seconds("get", "timeout", tv)
	if err != nil {
		return nil, err
	}
	if err := a.collect(d); err != nil {
		return nil, fmt.Errorf("get: %s timed out after %s waiting for results", a.who, d)
	}
	if a.err != nil {
		return nil, a.err
	}
	if l, ok := a.value.(*starlark.List); ok {
		// Each get returns its own list, as by value.
		return starlark.NewList(append([]starlark.Value(nil), listElems(l)...)), nil
	}
	return a.value, nil
}

func listElems(l *starlark.List) []starlark.Value {
	out := make([]starlark.Value, l.Len())
	for i := range out {
		out[i] = l.Index(i)
	}
	return out
}

func (a *AsyncResult) wait(thread *starlark.Thread, b *starlark.Builtin, args starlark.Tuple, kwargs []starlark.Tuple) (starlark.Value, error) {
	var tv starlark.Value = starlark.None
	if err := starlark.UnpackArgs(b.Name(), args, kwargs, "timeout?", &tv); err != nil {
		return nil, err
	}
	d, err := seconds("wait", "timeout", tv)
	if err != nil {
		return nil, err
	}
	a.collect(d) // a timeout here is not an error: wait just returns
	return starlark.None, nil
}
