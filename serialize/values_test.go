package serialize_test

import (
	"bytes"
	"math"
	"strings"
	"testing"

	"go.starlark.net/starlark"
	"go.starlark.net/starlarkstruct"
)

// A valueCase is a value that must survive a round trip.
type valueCase struct {
	name  string
	expr  string         // a Starlark expression,
	src   string         // or a module whose global v is the value,
	value starlark.Value // or a value built in Go
	size  int            // if > 0, the expected length of the encoding
	// noEqual skips starlark.Equal (NaN, cycles, values equal only to
	// themselves); check must then say what equality means.
	noEqual bool
	check   func(t *testing.T, r *world, in, out starlark.Value)
}

func valueCases() []valueCase {
	return []valueCase{
		{name: "None", expr: "None", size: 1},
		{name: "True", expr: "True", size: 1},
		{name: "False", expr: "False", size: 1},
		{name: "int 0", expr: "0", size: 1},
		{name: "int 23", expr: "23", size: 1},
		{name: "int 24", expr: "24", size: 2},
		{name: "int -1", expr: "-1", size: 1},
		{name: "int -25", expr: "-25", size: 2},
		{name: "int 2**63-1", expr: "(1 << 63) - 1", size: 9},
		{name: "int 2**63", expr: "1 << 63", size: 9},
		{name: "int 2**64", expr: "1 << 64", size: 11},
		{name: "int -2**63", expr: "-(1 << 63)", size: 9},
		{name: "int -2**63-1", expr: "-(1 << 63) - 1", size: 9},
		{name: "int -2**64", expr: "-(1 << 64)", size: 9},
		{name: "int -2**64-1", expr: "-(1 << 64) - 1", size: 11},
		{name: "int 2**200", expr: "1 << 200"},
		{name: "int -(2**200)", expr: "-(1 << 200)"},
		{name: "float nan", expr: "float('nan')", size: 3, noEqual: true, check: func(t *testing.T, _ *world, _, out starlark.Value) {
			if f, ok := out.(starlark.Float); !ok || !math.IsNaN(float64(f)) {
				t.Errorf("got %v, want nan", out)
			}
		}},
		{name: "float +inf", expr: "float('+inf')", size: 3},
		{name: "float -inf", expr: "float('-inf')", size: 3},
		{name: "float -0.0", expr: "-0.0", size: 3, check: func(t *testing.T, _ *world, _, out starlark.Value) {
			if f := out.(starlark.Float); !math.Signbit(float64(f)) {
				t.Errorf("got %v without its sign bit", out)
			}
		}},
		{name: "float 0.0", expr: "0.0", size: 3, check: func(t *testing.T, _ *world, _, out starlark.Value) {
			if f := out.(starlark.Float); math.Signbit(float64(f)) {
				t.Errorf("got %v with a sign bit", out)
			}
		}},
		{name: "float 0.1", expr: "0.1", size: 9},
		{name: "float 1e300", expr: "1e300", size: 9},
		{name: "float 5e-324", expr: "5e-324", size: 9},
		{name: "float half 1.5", expr: "1.5", size: 3},
		{name: "float half max", expr: "65504.0", size: 3},
		{name: "float half subnormal", expr: "5.960464477539063e-08", size: 3}, // 2**-24
		{name: "float single 100000", expr: "100000.0", size: 5},
		{name: "float single max", expr: "3.4028234663852886e+38", size: 5},
		{name: "float single subnormal", expr: "1.401298464324817e-45", size: 5}, // 2**-149
		{name: "string empty", expr: `""`, size: 1},
		{name: "string unicode", expr: `"héllo, wörld ✓ 😀 \u0000"`},
		{name: "string invalid UTF-8", value: starlark.String("\xff"), size: 5},
		{name: "string mixed invalid UTF-8", value: starlark.String("ok \xc3\x28 \xed\xa0\x80")},
		{name: "string 10MB", value: starlark.String(strings.Repeat("0123456789", 1<<20)), size: 5 + 10<<20},
		{name: "bytes empty", expr: `b""`, size: 1},
		{name: "bytes", expr: `b"\x00\xffabc"`, size: 6},
		{name: "list empty", expr: "[]"},
		{name: "list", expr: `[1, "a", [2, 3], (4,), None]`},
		{name: "tuple empty", expr: "()", size: 1},
		{name: "tuple", expr: "(1, (2, 3), [4])"},
		{name: "dict empty", expr: "{}"},
		{name: "dict insertion order", expr: `{"b": 1, "a": 2, "c": 3}`, check: func(t *testing.T, _ *world, _, out starlark.Value) {
			if got := out.(*starlark.Dict).Keys(); len(got) != 3 || got[0] != starlark.String("b") || got[1] != starlark.String("a") {
				t.Errorf("keys %v, want insertion order b, a, c", got)
			}
		}},
		{name: "dict mixed keys", expr: `{1: "int", "a": "str", (1, 2): "tuple", True: "bool", None: "none", 2.5: "float"}`},
		{name: "dict of lists", expr: `{"x": [1], "y": {"z": [2, 3]}}`},
		{name: "set", expr: "set([3, 1, 2])"},
		{name: "set mixed", expr: `set([(1, 2), "x", 7, True])`},
		{name: "struct", expr: "struct(a=1, b=[2])"},
		{name: "struct nested", expr: `struct(p=struct(q=None), name="n")`},
		{name: "range(10)", expr: "range(10)"},
		{name: "range(1, 10, 3)", expr: "range(1, 10, 3)"},
		{name: "range(5, 0, -2)", expr: "range(5, 0, -2)"},
		{name: "range(0)", expr: "range(0)"},
		{name: "range slice", expr: "range(10)[::-3]"},
		{name: "range beyond int32", expr: "range(-(1 << 40), 1 << 40, 1 << 39)"},
		{name: "range of int64 extremes", expr: "range(-(1 << 63), (1 << 63) - 1, 1 << 62)"},
		{name: "list nested 2000 deep", src: "v = []\nfor i in range(2000):\n    v = [v, i]\n"},
		{name: "tuple nested 2000 deep", src: "v = ()\nfor i in range(2000):\n    v = (v,)\n"},
		{name: "list of 10000 ints", expr: "list(range(-5000, 5000))"},
		{name: "list contains itself", src: "v = [1, 2]\nv.append(v)\n", noEqual: true, check: func(t *testing.T, _ *world, _, out starlark.Value) {
			l := out.(*starlark.List)
			if l.Len() != 3 || l.Index(2) != l {
				t.Errorf("got %v, want a list whose third element is itself", l)
			}
		}},
		{name: "dict contains itself", src: "v = {\"a\": 1}\nv[\"self\"] = [v]\n", noEqual: true, check: func(t *testing.T, _ *world, _, out starlark.Value) {
			d := out.(*starlark.Dict)
			x, _, _ := d.Get(starlark.String("self"))
			if x.(*starlark.List).Index(0) != d {
				t.Errorf("got %v, want d[\"self\"][0] to be d", d)
			}
		}},
		{name: "shared list stays one object", src: "x = [1]\nv = [x, x]\n", check: func(t *testing.T, _ *world, _, out starlark.Value) {
			y := out.(*starlark.List)
			y0, y1 := y.Index(0).(*starlark.List), y.Index(1).(*starlark.List)
			if err := y0.Append(starlark.MakeInt(2)); err != nil {
				t.Fatal(err)
			}
			if y1.Len() != 2 {
				t.Errorf("after y[0].append(2), y[1] = %v, want [1, 2]", y1)
			}
		}},
		{name: "shared dict in tuple", src: "d = {\"k\": [1]}\nv = (d, [d], {\"again\": d}, d[\"k\"])\n", check: func(t *testing.T, _ *world, _, out starlark.Value) {
			tup := out.(starlark.Tuple)
			d := tup[0].(*starlark.Dict)
			inner, _, _ := tup[2].(*starlark.Dict).Get(starlark.String("again"))
			k, _, _ := d.Get(starlark.String("k"))
			if tup[1].(*starlark.List).Index(0) != d || inner != d || tup[3] != k {
				t.Errorf("shared values were copied: %v", out)
			}
		}},
		{name: "frozen list arrives mutable", value: frozenList(), check: func(t *testing.T, _ *world, _, out starlark.Value) {
			if err := out.(*starlark.List).Append(starlark.MakeInt(3)); err != nil {
				t.Errorf("decoded list: %v", err)
			}
		}},
		{name: "builtin len", expr: "len", noEqual: true, check: sameName(func(*world) starlark.Value { return starlark.Universe["len"] })},
		{name: "builtin sorted", expr: "sorted", noEqual: true, check: sameName(func(*world) starlark.Value { return starlark.Universe["sorted"] })},
		{name: "math.sqrt", expr: "math.sqrt", noEqual: true, check: sameName(member("math", "sqrt"))},
		{name: "json.encode", expr: "json.encode", noEqual: true, check: sameName(member("json", "encode"))},
		{name: "module math", expr: "math", noEqual: true, check: sameName(func(r *world) starlark.Value { return r.env["math"] })},
		{name: "builtins in a list", expr: "[len, math.floor, struct]", noEqual: true, check: func(t *testing.T, r *world, _, out starlark.Value) {
			l := out.(*starlark.List)
			if l.Index(0) != starlark.Universe["len"] || l.Index(1) != member("math", "floor")(r) || l.Index(2) != r.env["struct"] {
				t.Errorf("got %v, want the receiver's builtins", l)
			}
		}},
		{name: "bound method str.join", expr: `"-".join`, noEqual: true, check: func(t *testing.T, r *world, _, out starlark.Value) {
			got, err := call(t, r, out, `["a", "b", "c"]`)
			if err != nil || got != starlark.String("a-b-c") {
				t.Errorf(`decoded "-".join(["a", "b", "c"]) = %v, %v`, got, err)
			}
		}},
		{name: "bound method list.append with its list", src: "l = [1]\nv = (l, l.append)\n", noEqual: true, check: func(t *testing.T, r *world, _, out starlark.Value) {
			tup := out.(starlark.Tuple)
			if _, err := call(t, r, tup[1], "2"); err != nil {
				t.Fatal(err)
			}
			if got := tup[0].String(); got != "[1, 2]" {
				t.Errorf("after the decoded append(2), the decoded list is %s, want [1, 2]", got)
			}
		}},
		{name: "bound method dict.get", src: "d = {\"k\": 5}\nv = [d.get, d]\n", noEqual: true, check: func(t *testing.T, r *world, _, out starlark.Value) {
			l := out.(*starlark.List)
			l.Index(1).(*starlark.Dict).SetKey(starlark.String("k"), starlark.MakeInt(6))
			if got, err := call(t, r, l.Index(0), `"k"`); err != nil || got != starlark.MakeInt(6) {
				t.Errorf("decoded d.get(\"k\") after d[\"k\"] = 6: %v, %v", got, err)
			}
		}},
	}
}

func frozenList() starlark.Value {
	l := starlark.NewList([]starlark.Value{starlark.MakeInt(1), starlark.String("x")})
	l.Freeze()
	return l
}

func member(module, name string) func(*world) starlark.Value {
	return func(r *world) starlark.Value {
		return r.env[module].(*starlarkstruct.Module).Members[name]
	}
}

// sameName checks that a value that travels by name arrives as the
// receiver's value of that name, with the sender's type and repr.
func sameName(want func(*world) starlark.Value) func(t *testing.T, r *world, in, out starlark.Value) {
	return func(t *testing.T, r *world, in, out starlark.Value) {
		if w := want(r); out != w {
			t.Errorf("got %v (%p), want the receiver's %v", out, out, w)
		}
	}
}

func (c valueCase) build(t testing.TB, s *world) starlark.Value {
	switch {
	case c.src != "":
		return s.exec(t, c.name+".star", c.src)["v"]
	case c.expr != "":
		return s.eval(t, c.expr, nil)
	}
	return c.value
}

func TestValueRoundTrip(t *testing.T) {
	cases := valueCases()
	if len(cases) < 40 {
		t.Fatalf("only %d value cases", len(cases))
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			s, r := sender(), receiver()
			in := c.build(t, s)
			data := s.encode(t, in)
			if c.size > 0 && len(data) != c.size {
				t.Errorf("encoding is %d bytes, want %d: % x", len(data), c.size, data[:min(len(data), 16)])
			}
			out := r.decode(t, data)
			if out.Type() != in.Type() {
				t.Errorf("type %s, want %s", out.Type(), in.Type())
			}
			if got, want := out.String(), in.String(); got != want {
				t.Errorf("repr %s, want %s", short(got), short(want))
			}
			if !c.noEqual && !deepEqual(t, in, out) {
				t.Errorf("%s != %s", short(out.String()), short(in.String()))
			}
			// Decoding then encoding gives back the same bytes.
			if again := r.encode(t, out); !bytes.Equal(again, data) {
				t.Errorf("re-encoding differs:\n% x\n% x", again[:min(len(again), 64)], data[:min(len(data), 64)])
			}
			if c.check != nil {
				c.check(t, r, in, out)
			}
		})
	}
}
