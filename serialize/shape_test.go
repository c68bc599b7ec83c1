package serialize_test

import (
	"strings"
	"testing"

	"github.com/pathos-star/pathos-star/serialize"
	"go.starlark.net/starlark"
)

// A fnMsg is a hand-made function message, for testing what the decoder
// accepts.
type fnMsg struct {
	name, file string
	line, col  int
	lambda     bool
	text       string
	defaults   []any // name (string), value (starlark.Value) pairs
	names      []string
	values     []starlark.Value
	fields     int // if > 0, the declared number of fields
}

func (m fnMsg) encode(t testing.TB, w *world) []byte {
	t.Helper()
	e := w.codec.NewEncoder()
	app := func(dst []byte, v starlark.Value) []byte {
		dst, err := e.Append(dst, v)
		if err != nil {
			t.Fatal(err)
		}
		return dst
	}
	fields := m.fields
	if fields == 0 {
		fields = 9
	}
	dst := cat(shareable, tagFunc)
	dst = serialize.AppendArrayHeader(dst, fields)
	dst = app(dst, starlark.String(m.name))
	dst = app(dst, starlark.String(m.file))
	dst = app(dst, starlark.MakeInt(m.line))
	dst = app(dst, starlark.MakeInt(m.col))
	dst = app(dst, starlark.Bool(m.lambda))
	dst = app(dst, starlark.String(m.text))
	dst = serialize.AppendArrayHeader(dst, len(m.defaults))
	for _, x := range m.defaults {
		if s, ok := x.(string); ok {
			x = starlark.String(s)
		}
		dst = app(dst, x.(starlark.Value))
	}
	if fields == 9 {
		dst = serialize.AppendArrayHeader(dst, len(m.names))
		for _, n := range m.names {
			dst = app(dst, starlark.String(n))
		}
	}
	dst = serialize.AppendArrayHeader(dst, len(m.values))
	for _, v := range m.values {
		dst = app(dst, v)
	}
	return dst
}

// valid is a message the decoder accepts; the cases below change one
// thing in it.
func valid() fnMsg {
	return fnMsg{
		name: "f", file: "x.star", line: 3, col: 1,
		text:     "def f(x, y=_pathos_default_y):\n    return x + y + K",
		defaults: []any{"y", starlark.MakeInt(1)},
		names:    []string{"K"}, values: []starlark.Value{starlark.MakeInt(10)},
	}
}

func TestDecodeFunctionShape(t *testing.T) {
	w := receiver()
	fn := w.decode(t, valid().encode(t, w))
	if got, err := call(t, w, fn, "1"); err != nil || got != starlark.MakeInt(12) {
		t.Fatalf("f(1) = %v, %v; want 12", got, err)
	}
	if pos := fn.(*starlark.Function).Position().String(); pos != "x.star:3:1" {
		t.Errorf("decoded function at %s, want x.star:3:1", pos)
	}

	for _, c := range []struct {
		name   string
		change func(m *fnMsg)
		want   string
	}{
		{"two statements", func(m *fnMsg) { m.text += "\nK2 = 1" }, "2 statements"},
		{"not a def", func(m *fnMsg) { m.text = "K2 = 1" }, "not a def or lambda"},
		{"other name", func(m *fnMsg) { m.name = "g" }, "source defines f"},
		{"lambda text as def", func(m *fnMsg) { m.text = "lambda x: x"; m.defaults = nil; m.names = nil; m.values = nil }, "not a def or lambda"},
		{"def text as lambda", func(m *fnMsg) { m.lambda = true; m.name = "lambda" }, ""},
		{"named lambda", func(m *fnMsg) {
			m.lambda, m.text, m.defaults, m.names, m.values = true, "lambda x: x", nil, nil, nil
		}, "not a single lambda"},
		{"wrong column", func(m *fnMsg) { m.col = 5 }, "want indent"},
		{"wrong column of nested def", func(m *fnMsg) { m.col = 3; m.text = "    " + strings.ReplaceAll(m.text, "\n", "\n    ") }, "function is at 3:5, not 3:3"},
		{"wrong line", func(m *fnMsg) { m.text = "\n" + m.text }, "function is at 4:1, not 3:1"},
		{"line 0", func(m *fnMsg) { m.line = 0 }, "bad position"},
		{"line too large", func(m *fnMsg) { m.line = 1 << 25 }, "bad position"},
		{"indented def on line 1", func(m *fnMsg) { m.line, m.col, m.text = 1, 5, "    "+m.text }, "indented def on line 1"},
		{"syntax error", func(m *fnMsg) { m.text = "def f(:" }, "x.star:3:8"},
		{"literal default", func(m *fnMsg) { m.text = "def f(x, y=1):\n    return K"; m.defaults = nil }, "not a travelling value"},
		{"default call", func(m *fnMsg) { m.text = "def f(x, y=_pathos_default_y()):\n    return K" }, "not a travelling value"},
		{"default of another parameter", func(m *fnMsg) {
			m.text = "def f(x=_pathos_default_y, y=_pathos_default_x):\n    return K"
			m.defaults = []any{"x", starlark.None, "y", starlark.None}
		}, "not a travelling value"},
		{"missing default", func(m *fnMsg) { m.defaults = nil }, "not a travelling value"},
		{"extra default", func(m *fnMsg) { m.defaults = append(m.defaults, "z", starlark.None) }, "1 defaults, message has 2"},
		{"default twice", func(m *fnMsg) { m.defaults = append(m.defaults, "y", starlark.None) }, "two defaults for parameter y"},
		{"odd defaults", func(m *fnMsg) { m.defaults = m.defaults[:1] }, "odd defaults array"},
		{"unsorted bindings", func(m *fnMsg) {
			m.text = "def f(x, y=_pathos_default_y):\n    return x + y + K + A"
			m.names, m.values = []string{"K", "A"}, []starlark.Value{starlark.None, starlark.None}
		}, "not sorted"},
		{"binding twice", func(m *fnMsg) {
			m.names, m.values = []string{"K", "K"}, []starlark.Value{starlark.None, starlark.None}
		}, "not sorted"},
		{"unused binding", func(m *fnMsg) {
			m.names, m.values = []string{"K", "Z"}, []starlark.Value{starlark.None, starlark.None}
		}, "bindings [K Z], but the text uses [K]"},
		{"binding of the function's own name", func(m *fnMsg) {
			m.text = "def f(x, y=_pathos_default_y):\n    return f"
			m.names = []string{"f"}
		}, "bindings [f], but the text uses []"},
		{"missing binding", func(m *fnMsg) { m.names, m.values = nil, nil }, "undefined: K"},
		{"reserved binding name", func(m *fnMsg) {
			m.names, m.values = []string{"_pathos_default_q"}, []starlark.Value{starlark.None}
		}, "reserved binding name"},
		{"fewer values than names", func(m *fnMsg) { m.values = nil }, "1 binding names but 0 values"},
		{"eight fields", func(m *fnMsg) { m.fields = 8 }, "8 fields, want 9"},
		{"default refers to the function", func(m *fnMsg) { m.defaults = []any{"y", starlark.Bytes("@@")} }, "while it is being decoded"},
	} {
		t.Run(c.name, func(t *testing.T) {
			m := valid()
			c.change(&m)
			data := m.encode(t, w)
			// Make the default a reference to the function itself
			// (shared value 0), replacing the bytes b"@@".
			if i := strings.Index(string(data), "\x42@@"); i >= 0 {
				data = cat(data[:i], []byte{0xd8, 0x1d, 0x00}, data[i+3:])
			}
			v, err := w.codec.Decode(data)
			if err == nil {
				t.Fatalf("decoded %v, want an error", v)
			}
			if !strings.Contains(err.Error(), c.want) {
				t.Errorf("got %v, want %q", err, c.want)
			}
		})
	}
}

// A spy records whether hostile code ran while a message was decoded. It
// travels by name.
type spy struct{ touched int }

func (s *spy) String() string        { return "spy" }
func (s *spy) Type() string          { return "spy" }
func (s *spy) Freeze()               {}
func (s *spy) Truth() starlark.Bool  { return starlark.True }
func (s *spy) Hash() (uint32, error) { return 0, nil }
func (s *spy) TravelsByName()        {}
func (s *spy) AttrNames() []string   { return []string{"touch"} }
func (s *spy) Attr(name string) (starlark.Value, error) {
	if name != "touch" {
		return nil, nil
	}
	return starlark.NewBuiltin("touch", func(*starlark.Thread, *starlark.Builtin, starlark.Tuple, []starlark.Tuple) (starlark.Value, error) {
		s.touched++
		return starlark.None, nil
	}).BindReceiver(s), nil
}

// TestDecodeRunsOnlyDef sends messages whose text tries to run code when
// the def or lambda is executed, with a spy as a default value (defaults
// are in scope when the def runs). None may touch the spy.
func TestDecodeRunsOnlyDef(t *testing.T) {
	sp := &spy{}
	env := receiverEnv()
	env["spy"] = sp
	w := newWorld(env, serialize.Limits{})
	dflt := []any{"x", sp}
	for _, m := range []fnMsg{
		{name: "lambda", lambda: true, text: "lambda x=_pathos_default_x: x)\n_pathos_default_x.touch()\n_z = (0"},
		{name: "lambda", lambda: true, text: "lambda x=_pathos_default_x.touch(): x"},
		{name: "lambda", lambda: true, text: "lambda x=_pathos_default_x: x, _pathos_default_x.touch()"},
		{name: "lambda", lambda: true, text: "lambda x=_pathos_default_x: x\n) if _pathos_default_x.touch() else (0"},
		{name: "f", text: "def f(x=_pathos_default_x):\n    pass\n_pathos_default_x.touch()"},
		{name: "f", text: "def f(x=_pathos_default_x.touch()):\n    pass"},
		{name: "f", text: "def f(x=(lambda: _pathos_default_x.touch())()):\n    pass"},
		{name: "f", text: "def f(x=_pathos_default_x, y=_pathos_default_x.touch()):\n    pass"},
		{name: "f", text: "_pathos_default_x.touch()"},
		{name: "f", text: "def f(x=[_pathos_default_x.touch() for _ in [1]][0]): pass"},
		{name: "f", col: 5, text: "    def f(x=_pathos_default_x):\n        pass\n_pathos_default_x.touch()"},
		{name: "f", col: 5, text: "    def f(x=_pathos_default_x):\n        pass\n    _pathos_default_x.touch()"},
		{name: "f", col: 5, text: "    _pathos_default_x.touch()"},
	} {
		m.file, m.line, m.defaults = "evil.star", 2, dflt
		if m.col == 0 {
			m.col = 1
		}
		if m.lambda {
			m.col = 1
		}
		if v, err := w.codec.Decode(m.encode(t, w)); err == nil {
			t.Errorf("decoded %q as %v, want an error", m.text, v)
		}
	}
	if sp.touched != 0 {
		t.Fatalf("decoding ran hostile code %d times", sp.touched)
	}

	// A legitimate function may use the spy, but only when called.
	fn := w.decode(t, fnMsg{name: "lambda", lambda: true, file: "ok.star", line: 1, col: 1,
		text: "lambda x=_pathos_default_x: x.touch()", defaults: dflt}.encode(t, w))
	if sp.touched != 0 {
		t.Fatalf("decoding a lambda called its body")
	}
	if _, err := call(t, w, fn, ""); err != nil || sp.touched != 1 {
		t.Errorf("calling the decoded lambda: %v, touched %d times, want once", err, sp.touched)
	}
}

// TestDecodeDeepSyntax sends function texts whose syntax trees are
// left-deep chains, which starlark's parser builds without recursion but
// its resolver and compiler traverse recursively: long enough, they would
// overflow the stack. Beyond 10,000 levels the decoder refuses them.
func TestDecodeDeepSyntax(t *testing.T) {
	w := receiver()
	for _, op := range []string{"+x", ".a", "()", "[0]", "[1:]", " or x"} {
		for _, c := range []struct {
			n  int
			ok bool
		}{{5000, true}, {20000, false}} {
			m := fnMsg{name: "lambda", lambda: true, file: "deep.star", line: 1, col: 1,
				text: "lambda x: x" + strings.Repeat(op, c.n)}
			_, err := w.codec.Decode(m.encode(t, w))
			if c.ok && err != nil || !c.ok && (err == nil || !strings.Contains(err.Error(), "syntax nested deeper than 10000 levels")) {
				t.Errorf("%q x %d: got %v", op, c.n, err)
			}
		}
	}
	// The encoder refuses such a function too, rather than send what the
	// receiver would refuse.
	s := sender()
	g := s.exec(t, "deep.star", "f = lambda x: x"+strings.Repeat("+x", 20000)+"\n")
	if _, err := s.codec.Encode(g["f"]); err == nil || !strings.Contains(err.Error(), "syntax nested deeper than 10000 levels") {
		t.Errorf("encoding a 20000-deep lambda: got %v", err)
	}
}
