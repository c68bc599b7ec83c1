package serialize_test

import (
	"strings"
	"testing"

	"github.com/pathos-star/pathos-star/serialize"
	"go.starlark.net/starlark"
)

// encodeArgs encodes one task's arguments the way a pool does: a plain
// array, or the kwargs tag and [positional, flat keyword array].
func encodeArgs(t testing.TB, w *world, args starlark.Tuple, kwargs []starlark.Tuple) []byte {
	t.Helper()
	e := w.codec.NewEncoder()
	var dst []byte
	var err error
	if len(kwargs) > 0 {
		dst = serialize.AppendKwargsTag(dst)
		dst = serialize.AppendArrayHeader(dst, 2)
	}
	if dst, err = e.Append(dst, args); err != nil {
		t.Fatal(err)
	}
	if len(kwargs) > 0 {
		dst = serialize.AppendArrayHeader(dst, 2*len(kwargs))
		for _, kv := range kwargs {
			for _, x := range kv {
				if dst, err = e.Append(dst, x); err != nil {
					t.Fatal(err)
				}
			}
		}
	}
	return dst
}

func TestArgs(t *testing.T) {
	s := sender()
	shared := starlark.NewList([]starlark.Value{starlark.MakeInt(1)})
	for _, c := range []struct {
		name   string
		args   starlark.Tuple
		kwargs []starlark.Tuple
		want   string
	}{
		{"positional", starlark.Tuple{starlark.MakeInt(1), starlark.String("a")}, nil, `(1, "a") []`},
		{"none", starlark.Tuple{}, nil, `() []`},
		{"keywords", starlark.Tuple{starlark.True}, []starlark.Tuple{{starlark.String("k"), starlark.None}, {starlark.String("j"), starlark.Float(1.5)}}, `(True,) [("k", None), ("j", 1.5)]`},
		{"shared across positional and keyword", starlark.Tuple{shared}, []starlark.Tuple{{starlark.String("k"), shared}}, `([1],) [("k", [1])]`},
	} {
		t.Run(c.name, func(t *testing.T) {
			data := encodeArgs(t, s, c.args, c.kwargs)
			// Two tasks in one buffer: More and End see the boundary.
			data = append(data, encodeArgs(t, s, starlark.Tuple{starlark.MakeInt(9)}, nil)...)
			d := receiver().codec.NewDecoder(data)
			args, kwargs, err := d.Args()
			if err != nil {
				t.Fatal(err)
			}
			var kw []string
			for _, p := range kwargs {
				kw = append(kw, p.String())
			}
			if got := args.String() + " [" + strings.Join(kw, ", ") + "]"; got != c.want {
				t.Errorf("got %s, want %s", got, c.want)
			}
			if c.name == "shared across positional and keyword" {
				args[0].(*starlark.List).Append(starlark.MakeInt(2))
				if kwargs[0][1].String() != "[1, 2]" {
					t.Errorf("a list passed twice in one call arrived as two lists")
				}
			}
			if !d.More() || d.End() == nil {
				t.Errorf("More/End do not see the second task")
			}
			next, nextKw, err := d.Args()
			if err != nil || next.String() != "(9,)" || nextKw != nil {
				t.Errorf("second task: %v %v %v", next, nextKw, err)
			}
			if d.More() || d.End() != nil {
				t.Errorf("More/End after the last task: %v %v", d.More(), d.End())
			}
		})
	}
}

// TestReset checks that a list passed to two tasks of one message arrives
// as one list within a task and as separate copies across a Reset.
func TestReset(t *testing.T) {
	s := sender()
	shared := starlark.NewList([]starlark.Value{starlark.MakeInt(1)})
	e := s.codec.NewEncoder()
	var data []byte
	var err error
	for range 2 {
		e.Reset()
		if data, err = e.Append(data, starlark.Tuple{shared, shared}); err != nil {
			t.Fatal(err)
		}
	}
	d := receiver().codec.NewDecoder(data)
	var tasks []starlark.Tuple
	for d.More() {
		d.Reset()
		args, _, err := d.Args()
		if err != nil {
			t.Fatal(err)
		}
		tasks = append(tasks, args)
	}
	if len(tasks) != 2 {
		t.Fatalf("decoded %d tasks, want 2", len(tasks))
	}
	if tasks[0][0] != tasks[0][1] || tasks[1][0] != tasks[1][1] {
		t.Errorf("a list passed twice in one task arrived as two lists")
	}
	if tasks[0][0] == tasks[1][0] {
		t.Errorf("two tasks share one list across a Reset")
	}
	// The numbering of shared values restarts, so both tasks encode to
	// the same bytes.
	if half := len(data) / 2; string(data[:half]) != string(data[half:]) {
		t.Errorf("the two tasks encode differently after Reset")
	}
}
