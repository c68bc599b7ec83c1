package pools

import (
	"context"
	"errors"
	"fmt"

	"go.starlark.net/starlark"

	"github.com/pathos-star/pathos-star/serialize"
)

// A runner executes tasks on one Starlark thread of this process. Serial
// pools run one in the caller's goroutine, thread pools one per worker
// goroutine, and worker processes one for the chunks they receive.
type runner struct {
	env    *Env
	name   string
	thread *starlark.Thread
	ctx    context.Context // the context thread was made for
	enc    *serialize.Encoder
	buf    []byte
}

func newRunner(env *Env, name string) *runner {
	return &runner{env: env, name: name, enc: env.Codec.NewEncoder()}
}

// threadFor returns the runner's thread, set up for ctx.
// A thread serves one context: when ctx is done, the thread is
// cancelled, and the next context gets a new thread. (Registering the
// cancellation once per context rather than per task keeps tasks of one
// job on several goroutines from contending on the context's lock.)
func (r *runner) threadFor(ctx context.Context) *starlark.Thread {
	if r.thread == nil || r.ctx != ctx {
		thread := r.env.NewThread(ctx, r.name, r.env.Print)
		context.AfterFunc(ctx, func() { thread.Cancel(context.Cause(ctx).Error()) })
		r.thread, r.ctx = thread, ctx
	}
	return r.thread
}

// call runs fn on args in thread, turning a Starlark error into a message
// and a traceback.
// thread must come from threadFor(ctx), which cancels it when ctx is
// done.
func call(ctx context.Context, thread *starlark.Thread, fn starlark.Value, args starlark.Tuple, kwargs []starlark.Tuple) (starlark.Value, *taskFailure) {
	v, err := starlark.Call(thread, fn, args, kwargs)
	if err != nil {
		if ctx.Err() == nil {
			// The task cancelled its own thread (a failing imap inside
			// it): the next task must find the thread usable.
			thread.Uncancel()
		}
		if ctx.Err() != nil {
			return nil, &taskFailure{kind: "cancelled", msg: context.Cause(ctx).Error()}
		}
		f := &taskFailure{kind: "error", msg: err.Error()}
		var ee *starlark.EvalError
		if errors.As(err, &ee) {
			f.msg = ee.Msg
			f.traceback = ee.Backtrace()
		}
		return nil, f
	}
	return v, nil
}

// taskFailure is a task's failure before the scheduler adds where and
// when it happened.
type taskFailure struct {
	kind, msg, traceback string
	offset               int    // index of the task within its chunk
	args                 string // a repr of its arguments, if the worker gave one
}

// copyValue returns a fresh copy of v: v itself when it is immutable,
// else v serialized and decoded again.
func (r *runner) copyValue(v starlark.Value) (starlark.Value, error) {
	if immutable(v, 0) {
		return v, nil
	}
	r.enc.Reset()
	var err error
	r.buf, err = r.enc.Append(r.buf[:0], v)
	if err != nil {
		return nil, err
	}
	return r.env.Codec.Decode(r.buf)
}

// immutable reports whether v is deeply immutable, so that sharing it is
// the same as copying it.
func immutable(v starlark.Value, depth int) bool {
	switch v := v.(type) {
	case starlark.NoneType, starlark.Bool, starlark.Int, starlark.Float, starlark.String, starlark.Bytes:
		return true
	case starlark.Tuple:
		if depth > 4 {
			return false
		}
		for _, x := range v {
			if !immutable(x, depth+1) {
				return false
			}
		}
		return true
	case *starlark.Builtin:
		return v.Receiver() == nil
	}
	return false
}

// runLocal runs the tasks of c in this process: each task gets fresh
// copies of its arguments, and its result is copied back out.
func (r *runner) runLocal(ctx context.Context, fn starlark.Value, c *chunk) ([]starlark.Value, *taskFailure) {
	thread := r.threadFor(ctx)
	results := make([]starlark.Value, len(c.args))
	var fresh starlark.Tuple
	for i, args := range c.args {
		if c.fresh {
			v, f := call(ctx, thread, fn, args, kwargsOf(c.kwargs))
			if f != nil {
				f.offset = i
				return nil, f
			}
			if results[i], f = r.copyResult(v); f != nil {
				f.offset = i
				return nil, f
			}
			continue
		}
		if immutable(args, 0) {
			fresh = args
		} else {
			v, err := r.copyValue(args)
			if err != nil {
				return nil, &taskFailure{kind: "serialize", msg: argsError(err).Error(), offset: i}
			}
			fresh = v.(starlark.Tuple)
		}
		var kwargs []starlark.Tuple
		if c.kwargs != nil {
			v, err := r.copyValue(c.kwargs)
			if err != nil {
				return nil, &taskFailure{kind: "serialize", msg: argsError(err).Error(), offset: i}
			}
			kwargs = kwargsOf(v.(starlark.Tuple))
		}
		v, f := call(ctx, thread, fn, fresh, kwargs)
		if f != nil {
			f.offset = i
			return nil, f
		}
		if results[i], f = r.copyResult(v); f != nil {
			f.offset = i
			return nil, f
		}
	}
	return results, nil
}

func (r *runner) copyResult(v starlark.Value) (starlark.Value, *taskFailure) {
	v, err := r.copyValue(v)
	if err != nil {
		return nil, &taskFailure{kind: "serialize", msg: "result: " + err.Error()}
	}
	return v, nil
}

// argsError rewrites the path of a serialization error in an argument
// tuple to name the argument.
func argsError(err error) error {
	var ee *serialize.EncodeError
	if errors.As(err, &ee) {
		var i int
		var rest string
		if n, _ := fmt.Sscanf(ee.Path, "[%d]", &i); n == 1 {
			rest = ee.Path[len(fmt.Sprintf("[%d]", i)):]
			msg := fmt.Sprintf("argument %d", i)
			if rest != "" {
				msg += " " + rest
			}
			return fmt.Errorf("%s: %s", msg, ee.Msg)
		}
	}
	return err
}

// kwargsOf turns a tuple of (name, value) pairs into call keyword
// arguments.
func kwargsOf(t starlark.Tuple) []starlark.Tuple {
	if t == nil {
		return nil
	}
	kw := make([]starlark.Tuple, len(t))
	for i, p := range t {
		kw[i] = p.(starlark.Tuple)
	}
	return kw
}

// freeze freezes v and, for a function, the environment it was decoded
// with (its globals and helpers), transitively: a task sees the globals
// it uses frozen.
func freeze(v starlark.Value, seen map[*starlark.Function]bool) {
	v.Freeze()
	fn, ok := v.(*starlark.Function)
	if !ok || seen[fn] {
		return
	}
	seen[fn] = true
	for _, x := range fn.Module().Predeclared() {
		x.Freeze()
		walkDepth(x, seen, 1)
	}
	for _, x := range fn.Globals() {
		if g, ok := x.(*starlark.Function); ok {
			freeze(g, seen)
		}
	}
}

// walkDepth freezes the environments of functions held in containers
// (dispatch tables), to a bounded depth: containers may be cyclic.
func walkDepth(v starlark.Value, seen map[*starlark.Function]bool, depth int) {
	if depth > 4 {
		return
	}
	var elems []starlark.Value
	switch v := v.(type) {
	case *starlark.Function:
		if depth > 0 {
			freeze(v, seen)
		}
		return
	case *starlark.List:
		for i := range v.Len() {
			elems = append(elems, v.Index(i))
		}
	case starlark.Tuple:
		elems = v
	case *starlark.Dict:
		for _, kv := range v.Items() {
			elems = append(elems, kv[1])
		}
	}
	for _, x := range elems {
		walkDepth(x, seen, depth+1)
	}
}
