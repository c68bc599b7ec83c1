package serialize_test

import (
	"errors"
	"fmt"
	"strings"
	"testing"

	"github.com/pathos-star/pathos-star/serialize"
	"go.starlark.net/lib/math"
	"go.starlark.net/starlark"
	"go.starlark.net/starlarkjson"
	"go.starlark.net/starlarkstruct"
	"go.starlark.net/syntax"
)

// fileOpts are the permissive options under which the test scripts run.
var fileOpts = &syntax.FileOptions{Set: true, While: true, TopLevelControl: true, GlobalReassign: true, Recursion: true}

// senderEnv returns the predeclared environment of the sending
// interpreter: modules, the struct constructor, and a factory of values
// that cannot travel.
func senderEnv() starlark.StringDict {
	return starlark.StringDict{
		"math":      math.Module,
		"json":      starlarkjson.Module,
		"struct":    starlark.NewBuiltin("struct", starlarkstruct.Make),
		"make_lock": starlark.NewBuiltin("make_lock", makeLock),
	}
}

// receiverEnv returns a predeclared environment with the same names as
// senderEnv but distinct values, as another process would have, so that
// tests see names resolved on the receiving side.
func receiverEnv() starlark.StringDict {
	env := senderEnv()
	for _, name := range []string{"math", "json"} {
		m := env[name].(*starlarkstruct.Module)
		copied := &starlarkstruct.Module{Name: m.Name, Members: make(starlark.StringDict)}
		for k, v := range m.Members {
			if b, ok := v.(*starlark.Builtin); ok {
				v = starlark.NewBuiltin(b.Name(), func(thread *starlark.Thread, _ *starlark.Builtin, args starlark.Tuple, kwargs []starlark.Tuple) (starlark.Value, error) {
					return starlark.Call(thread, b, args, kwargs)
				})
			}
			copied.Members[k] = v
		}
		env[name] = copied
	}
	return env
}

// A lockValue is a Starlark value that cannot travel, like a file or lock.
type lockValue struct{ id int }

func (l *lockValue) String() string        { return fmt.Sprintf("<lock %d>", l.id) }
func (l *lockValue) Type() string          { return "lock" }
func (l *lockValue) Freeze()               {}
func (l *lockValue) Truth() starlark.Bool  { return starlark.True }
func (l *lockValue) Hash() (uint32, error) { return uint32(l.id), nil }

func makeLock(_ *starlark.Thread, _ *starlark.Builtin, args starlark.Tuple, kwargs []starlark.Tuple) (starlark.Value, error) {
	return &lockValue{id: len(args)}, nil
}

// A world is one interpreter: its sources, predeclared names and codec.
type world struct {
	env     starlark.StringDict
	sources *serialize.Sources
	codec   *serialize.Codec
	files   map[string]string // loadable modules by name
	loaded  map[string]starlark.StringDict
}

func newWorld(env starlark.StringDict, limits serialize.Limits) *world {
	sources := serialize.NewSources()
	return &world{
		env:     env,
		sources: sources,
		codec:   serialize.NewCodec(sources, serialize.NewNames(env), limits),
		files:   make(map[string]string),
		loaded:  make(map[string]starlark.StringDict),
	}
}

// sender returns the world that runs scripts and encodes.
func sender() *world { return newWorld(senderEnv(), serialize.Limits{}) }

// receiver returns a world that decodes, like a worker process.
func receiver() *world { return newWorld(receiverEnv(), serialize.Limits{}) }

// thread returns a thread whose load executes w.files.
func (w *world) thread() *starlark.Thread {
	return &starlark.Thread{Name: "test", Load: w.load}
}

func (w *world) load(thread *starlark.Thread, module string) (starlark.StringDict, error) {
	if g, ok := w.loaded[module]; ok {
		return g, nil
	}
	src, ok := w.files[module]
	if !ok {
		return nil, fmt.Errorf("no module %q", module)
	}
	w.sources.Add(module, src)
	g, err := starlark.ExecFileOptions(fileOpts, thread, module, src, w.env)
	if err != nil {
		return nil, err
	}
	w.loaded[module] = g
	return g, nil
}

// exec registers and runs a file and returns its globals.
func (w *world) exec(t testing.TB, filename, src string) starlark.StringDict {
	t.Helper()
	w.sources.Add(filename, src)
	g, err := starlark.ExecFileOptions(fileOpts, w.thread(), filename, src, w.env)
	if err != nil {
		var ee *starlark.EvalError
		if errors.As(err, &ee) {
			t.Fatalf("exec %s: %s", filename, ee.Backtrace())
		}
		t.Fatalf("exec %s: %v", filename, err)
	}
	return g
}

// eval evaluates a Starlark expression in the world's environment plus
// extra names.
func (w *world) eval(t testing.TB, expr string, extra starlark.StringDict) starlark.Value {
	t.Helper()
	env := make(starlark.StringDict)
	for k, v := range w.env {
		env[k] = v
	}
	for k, v := range extra {
		env[k] = v
	}
	v, err := starlark.EvalOptions(fileOpts, w.thread(), "<expr>", expr, env)
	if err != nil {
		t.Fatalf("eval %s: %v", expr, err)
	}
	return v
}

func (w *world) encode(t testing.TB, v starlark.Value) []byte {
	t.Helper()
	data, err := w.codec.Encode(v)
	if err != nil {
		t.Fatalf("encode %.60s: %v", v, err)
	}
	return data
}

func (w *world) decode(t testing.TB, data []byte) starlark.Value {
	t.Helper()
	v, err := w.codec.Decode(data)
	if err != nil {
		t.Fatalf("decode: %v", err)
	}
	return v
}

// deepEqual compares values of any depth (starlark.Equal stops at
// starlark.CompareLimit levels).
func deepEqual(t testing.TB, x, y starlark.Value) bool {
	t.Helper()
	eq, err := starlark.EqualDepth(x, y, 100000)
	if err != nil {
		t.Fatalf("compare %.60s with %.60s: %v", x, y, err)
	}
	return eq
}

// call calls fn with the arguments written in args, a Starlark argument
// list such as `1, 2, c=3`.
func call(t testing.TB, w *world, fn starlark.Value, args string) (starlark.Value, error) {
	t.Helper()
	pack := starlark.NewBuiltin("pack", func(_ *starlark.Thread, _ *starlark.Builtin, args starlark.Tuple, kwargs []starlark.Tuple) (starlark.Value, error) {
		kw := make(starlark.Tuple, len(kwargs))
		for i, p := range kwargs {
			kw[i] = p
		}
		return starlark.Tuple{args, kw}, nil
	})
	packed := w.eval(t, "pack("+args+")", starlark.StringDict{"pack": pack}).(starlark.Tuple)
	var kwargs []starlark.Tuple
	for _, p := range packed[1].(starlark.Tuple) {
		kwargs = append(kwargs, p.(starlark.Tuple))
	}
	return starlark.Call(w.thread(), fn, packed[0].(starlark.Tuple), kwargs)
}

// containsFunction reports whether v holds a Starlark function anywhere.
func containsFunction(v starlark.Value) bool {
	seen := make(map[starlark.Value]bool)
	var walk func(v starlark.Value) bool
	walk = func(v starlark.Value) bool {
		switch v := v.(type) {
		case *starlark.Function:
			return true
		case *starlark.List, *starlark.Dict, *starlark.Set:
			if seen[v] {
				return false
			}
			seen[v] = true
		}
		switch v := v.(type) {
		case starlark.Tuple:
			for _, x := range v {
				if walk(x) {
					return true
				}
			}
		case *starlark.List:
			for i := range v.Len() {
				if walk(v.Index(i)) {
					return true
				}
			}
		case *starlark.Dict:
			for k, x := range v.Entries() {
				if walk(k) || walk(x) {
					return true
				}
			}
		case *starlark.Set:
			for x := range v.Elements() {
				if walk(x) {
					return true
				}
			}
		case *starlarkstruct.Struct:
			if walk(v.Constructor()) {
				return true
			}
			for _, name := range v.AttrNames() {
				x, _ := v.Attr(name)
				if walk(x) {
					return true
				}
			}
		case *starlark.Builtin:
			if r := v.Receiver(); r != nil {
				return walk(r)
			}
		}
		return false
	}
	return walk(v)
}

// short abbreviates s for test messages.
func short(s string) string {
	if len(s) > 80 {
		return s[:80] + "..."
	}
	return strings.ToValidUTF8(s, "?")
}
