package starlib

import (
	"fmt"
	"math"
	"runtime"
	"sort"
	"time"

	"go.starlark.net/starlark"
	"go.starlark.net/starlarkstruct"

	"github.com/pathos-star/pathos-star/pools"
	"github.com/pathos-star/pathos-star/remote"
)

// PoolModule returns the pool module: constructors and the map verbs on
// the default pool.
func PoolModule() *starlarkstruct.Module {
	m := starlark.StringDict{
		"serial":    starlark.NewBuiltin("pool.serial", newSerial),
		"threads":   starlark.NewBuiltin("pool.threads", newThreads),
		"processes": starlark.NewBuiltin("pool.processes", newProcesses),
		"remote":    starlark.NewBuiltin("pool.remote", newRemote),
	}
	for _, verb := range []string{"map", "imap", "uimap", "amap", "pipe", "apipe"} {
		m[verb] = starlark.NewBuiltin("pool."+verb, defaultVerb(verb))
	}
	return &starlarkstruct.Module{Name: "pool", Members: m}
}

func newSerial(thread *starlark.Thread, b *starlark.Builtin, args starlark.Tuple, kwargs []starlark.Tuple) (starlark.Value, error) {
	if err := starlark.UnpackArgs(b.Name(), args, kwargs); err != nil {
		return nil, err
	}
	h, err := hostOf(thread, b.Name())
	if err != nil {
		return nil, err
	}
	p := pools.NewSerial(h.PoolEnv())
	h.Track(p)
	return &Pool{p: p}, nil
}

// workerCount unpacks n=None as the CPU count.
func workerCount(name string, args starlark.Tuple, kwargs []starlark.Tuple) (int, error) {
	var nv starlark.Value = starlark.None
	if err := starlark.UnpackArgs(name, args, kwargs, "n?", &nv); err != nil {
		return 0, err
	}
	if nv == starlark.None {
		return runtime.NumCPU(), nil
	}
	n, err := starlark.AsInt32(nv)
	if err != nil || n < 1 {
		return 0, fmt.Errorf("%s: n must be a positive int or None, got %s", name, nv)
	}
	if n > 4096 {
		return 0, fmt.Errorf("%s: n=%d is more workers than this tool allows (4096)", name, n)
	}
	return n, nil
}

func newThreads(thread *starlark.Thread, b *starlark.Builtin, args starlark.Tuple, kwargs []starlark.Tuple) (starlark.Value, error) {
	n, err := workerCount(b.Name(), args, kwargs)
	if err != nil {
		return nil, err
	}
	h, err := hostOf(thread, b.Name())
	if err != nil {
		return nil, err
	}
	p := pools.NewThreads(h.PoolEnv(), n)
	h.Track(p)
	return &Pool{p: p}, nil
}

func newProcesses(thread *starlark.Thread, b *starlark.Builtin, args starlark.Tuple, kwargs []starlark.Tuple) (starlark.Value, error) {
	n, err := workerCount(b.Name(), args, kwargs)
	if err != nil {
		return nil, err
	}
	h, err := hostOf(thread, b.Name())
	if err != nil {
		return nil, err
	}
	p, err := pools.NewProcesses(h.PoolEnv(), n)
	if err != nil {
		return nil, fmt.Errorf("%s: %v", b.Name(), err)
	}
	h.Track(p)
	return &Pool{p: p}, nil
}

// newRemote is pool.remote(hosts=[...], servers=[...], secret=None,
// workers=None, local=0).
func newRemote(thread *starlark.Thread, b *starlark.Builtin, args starlark.Tuple, kwargs []starlark.Tuple) (starlark.Value, error) {
	var hosts, servers *starlark.List
	var secret, workers starlark.Value = starlark.None, starlark.None
	local := 0
	if err := starlark.UnpackArgs(b.Name(), args, kwargs, "hosts?", &hosts, "servers?", &servers,
		"secret?", &secret, "workers?", &workers, "local?", &local); err != nil {
		return nil, err
	}
	opts := remote.PoolOptions{Local: local}
	var err error
	if opts.Hosts, err = stringList(b.Name(), "hosts", hosts); err != nil {
		return nil, err
	}
	if opts.Servers, err = stringList(b.Name(), "servers", servers); err != nil {
		return nil, err
	}
	switch s := secret.(type) {
	case starlark.NoneType:
	case starlark.String:
		opts.Secret = []byte(s)
	case starlark.Bytes:
		opts.Secret = []byte(s)
	default:
		return nil, fmt.Errorf("%s: secret must be a string, bytes or None, got %s", b.Name(), secret.Type())
	}
	if workers != starlark.None {
		n, err := starlark.AsInt32(workers)
		if err != nil || n < 1 || n > 1024 {
			return nil, fmt.Errorf("%s: workers must be a positive int or None, got %s", b.Name(), workers)
		}
		opts.Workers = n
	}
	if local < 0 || local > 4096 {
		return nil, fmt.Errorf("%s: local must be between 0 and 4096, got %d", b.Name(), local)
	}
	h, err := hostOf(thread, b.Name())
	if err != nil {
		return nil, err
	}
	p, err := remote.NewPool(pools.ContextOf(thread), h.PoolEnv(), h.SSH(), opts)
	if err != nil {
		return nil, fmt.Errorf("%s: %v", b.Name(), err)
	}
	h.Track(p)
	return &Pool{p: p}, nil
}

func stringList(who, what string, l *starlark.List) ([]string, error) {
	if l == nil {
		return nil, nil
	}
	out := make([]string, l.Len())
	for i := range out {
		s, ok := starlark.AsString(l.Index(i))
		if !ok {
			return nil, fmt.Errorf("%s: %s[%d] is a %s, want a string", who, what, i, l.Index(i).Type())
		}
		out[i] = s
	}
	return out, nil
}

// defaultVerb returns the module-level verb that runs on the default pool.
func defaultVerb(verb string) func(*starlark.Thread, *starlark.Builtin, starlark.Tuple, []starlark.Tuple) (starlark.Value, error) {
	return func(thread *starlark.Thread, b *starlark.Builtin, args starlark.Tuple, kwargs []starlark.Tuple) (starlark.Value, error) {
		h, err := hostOf(thread, b.Name())
		if err != nil {
			return nil, err
		}
		p, err := h.DefaultPool()
		if err != nil {
			return nil, fmt.Errorf("%s: %v", b.Name(), err)
		}
		return runVerb(thread, p, b.Name(), verb, args, kwargs)
	}
}

// pipeBuiltin is the top-level pipe(f, *args, **kwargs).
func pipeBuiltin(thread *starlark.Thread, b *starlark.Builtin, args starlark.Tuple, kwargs []starlark.Tuple) (starlark.Value, error) {
	return defaultVerb("pipe")(thread, b, args, kwargs)
}

// A Pool is the Starlark value of a pool.
type Pool struct{ p *pools.Pool }

var (
	_ starlark.HasAttrs = (*Pool)(nil)
)

func (p *Pool) String() string        { return fmt.Sprintf("<pool %s>", p.p.Name()) }
func (p *Pool) Type() string          { return "pool" }
func (p *Pool) Freeze()               {}
func (p *Pool) Truth() starlark.Bool  { return true }
func (p *Pool) Hash() (uint32, error) { return 0, fmt.Errorf("unhashable type: pool") }

// Underlying returns the Go pool.
func (p *Pool) Underlying() *pools.Pool { return p.p }

var poolMethods = []string{"amap", "apipe", "clear", "close", "imap", "join", "map", "pipe", "restart", "stats", "terminate", "uimap"}

func (p *Pool) AttrNames() []string {
	return append(append([]string(nil), poolMethods...), "nodes")
}

func (p *Pool) Attr(name string) (starlark.Value, error) {
	switch name {
	case "nodes":
		return starlark.MakeInt(p.p.Nodes()), nil
	case "map", "imap", "uimap", "amap", "pipe", "apipe":
		verb := name
		return starlark.NewBuiltin(name, func(thread *starlark.Thread, b *starlark.Builtin, args starlark.Tuple, kwargs []starlark.Tuple) (starlark.Value, error) {
			return runVerb(thread, p.p, "pool."+verb, verb, args, kwargs)
		}).BindReceiver(p), nil
	case "close", "join", "clear", "restart", "terminate", "stats":
		op := name
		return starlark.NewBuiltin(name, func(thread *starlark.Thread, b *starlark.Builtin, args starlark.Tuple, kwargs []starlark.Tuple) (starlark.Value, error) {
			if err := starlark.UnpackArgs(op, args, kwargs); err != nil {
				return nil, err
			}
			switch op {
			case "close":
				return starlark.None, p.p.Close()
			case "join":
				if err := p.p.Join(); err != nil {
					return nil, fmt.Errorf("join: %v", err)
				}
			case "clear":
				p.p.Clear()
			case "restart":
				p.p.Restart()
			case "terminate":
				p.p.Terminate()
			case "stats":
				return statsValue(p.p), nil
			}
			return starlark.None, nil
		}).BindReceiver(p), nil
	}
	return nil, nil
}

// statsValue is p.stats(): a dict from worker name to a struct of host,
// tasks and busy seconds.
func statsValue(p *pools.Pool) starlark.Value {
	stats := p.Stats()
	sort.Slice(stats, func(i, j int) bool { return stats[i].Worker < stats[j].Worker })
	d := starlark.NewDict(len(stats))
	for _, s := range stats {
		d.SetKey(starlark.String(s.Worker), starlarkstruct.FromStringDict(starlarkstruct.Default, starlark.StringDict{
			"host":  starlark.String(s.Host),
			"tasks": starlark.MakeInt(s.Tasks),
			"busy":  starlark.Float(s.Busy.Seconds()),
		}))
	}
	return d
}

// runVerb implements map, imap, uimap, amap, pipe and apipe on p.
func runVerb(thread *starlark.Thread, p *pools.Pool, who, verb string, args starlark.Tuple, kwargs []starlark.Tuple) (starlark.Value, error) {
	if len(args) < 1 {
		return nil, fmt.Errorf("%s: missing function argument", who)
	}
	fn := args[0]
	if _, ok := fn.(starlark.Callable); !ok {
		return nil, fmt.Errorf("%s: got %s, want callable", who, fn.Type())
	}
	ctx := pools.ContextOf(thread)
	spec := pools.Spec{Verb: who, Fn: fn, Ordered: verb != "uimap", Len: -1}

	if verb == "pipe" || verb == "apipe" {
		spec.Inputs = []starlark.Tuple{args[1:]}
		spec.Len = 1
		spec.Kwargs = kwargs
		j, err := p.Start(ctx, spec)
		if err != nil {
			return nil, err
		}
		if verb == "apipe" {
			return &AsyncResult{who: who, job: j, single: true}, nil
		}
		res, err := j.Wait()
		if err != nil {
			return nil, err
		}
		return res[0], nil
	}

	if err := mapOptions(who, kwargs, &spec); err != nil {
		return nil, err
	}
	iterables := args[1:]
	if len(iterables) == 0 {
		return nil, fmt.Errorf("%s: need at least one iterable", who)
	}
	iters := make([]starlark.Iterator, len(iterables))
	n := math.MaxInt
	for i, x := range iterables {
		it := starlark.Iterate(x)
		if it == nil {
			for _, it := range iters[:i] {
				it.Done()
			}
			return nil, fmt.Errorf("%s: argument %d: got %s, want iterable", who, i+2, x.Type())
		}
		iters[i] = it
		if s, ok := x.(starlark.Sequence); ok {
			n = min(n, s.Len())
		} else {
			n = -1
		}
	}
	if n == math.MaxInt || n < 0 {
		n = -1
	}
	spec.Len = n
	next := zipper(iters)

	switch verb {
	case "map", "amap":
		var inputs []starlark.Tuple
		if n >= 0 {
			inputs = make([]starlark.Tuple, 0, n)
		}
		for {
			t, ok, _ := next()
			if !ok {
				break
			}
			inputs = append(inputs, t)
		}
		doneAll(iters)
		if inputs == nil {
			inputs = []starlark.Tuple{}
		}
		spec.Inputs = inputs
		spec.Len = len(inputs)
		j, err := p.Start(ctx, spec)
		if err != nil {
			return nil, err
		}
		if verb == "amap" {
			return &AsyncResult{who: who, job: j}, nil
		}
		res, err := j.Wait()
		if err != nil {
			return nil, err
		}
		return starlark.NewList(res), nil
	default: // imap, uimap
		spec.Iter = next
		j, err := p.Start(ctx, spec)
		if err != nil {
			doneAll(iters)
			return nil, err
		}
		return &ResultIterator{who: who, job: j, thread: thread, inputs: iters}, nil
	}
}

func doneAll(iters []starlark.Iterator) {
	for _, it := range iters {
		it.Done()
	}
}

// zipper returns a function yielding tuples of the iterators' elements,
// until the shortest ends.
func zipper(iters []starlark.Iterator) func() (starlark.Tuple, bool, error) {
	ended := false
	return func() (starlark.Tuple, bool, error) {
		if ended {
			return nil, false, nil
		}
		t := make(starlark.Tuple, len(iters))
		for i, it := range iters {
			if !it.Next(&t[i]) {
				ended = true
				return nil, false, nil
			}
		}
		return t, true, nil
	}
}

// mapOptions unpacks chunksize= and timeout=, and rejects other keywords.
func mapOptions(who string, kwargs []starlark.Tuple, spec *pools.Spec) error {
	for _, kv := range kwargs {
		name, v := string(kv[0].(starlark.String)), kv[1]
		switch name {
		case "chunksize":
			if v == starlark.None {
				continue
			}
			i, ok := v.(starlark.Int)
			n, ok2 := i.Int64()
			if !ok || !ok2 || n < 1 || n > math.MaxInt32 {
				return fmt.Errorf("%s: chunksize must be a positive int or None, got %s", who, v.String())
			}
			spec.Chunksize = int(n)
		case "timeout":
			d, err := seconds(who, "timeout", v)
			if err != nil {
				return err
			}
			spec.Timeout = d
		default:
			return fmt.Errorf("%s: unexpected keyword argument %q (want chunksize or timeout)", who, name)
		}
	}
	return nil
}

// seconds unpacks a timeout in seconds: None (0), an int or a float > 0.
func seconds(who, what string, v starlark.Value) (time.Duration, error) {
	if v == starlark.None {
		return 0, nil
	}
	f, ok := starlark.AsFloat(v)
	if !ok || !(f > 0) || f > 1e9 {
		return 0, fmt.Errorf("%s: %s must be a positive number of seconds or None, got %s", who, what, v.String())
	}
	return time.Duration(f * float64(time.Second)), nil
}
