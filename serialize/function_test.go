package serialize_test

import (
	"bytes"
	"errors"
	"strings"
	"testing"

	"go.starlark.net/starlark"
)

// A funcCase is a function that must behave the same after a round trip.
type funcCase struct {
	name  string
	files map[string]string // modules the script may load
	src   string            // the script, run as "main.star"
	fn    string            // the global holding the function (default "f")
	// maker, if set, is a global function whose result is the function.
	// (Recursive closures cannot be globals: starlark's Function.Freeze,
	// applied to globals after execution, recurses forever on them.)
	maker string
	calls []string // argument lists to call it with, e.g. `1, c=2`
}

func funcCases() []funcCase {
	return []funcCase{
		{name: "def", src: "def f(x):\n    return x + 1\n", calls: []string{"1", "-5"}},
		{name: "lambda", src: "f = lambda x, y=2: x * y\n", calls: []string{"3", "3, 4", "y=5, x=1"}},
		{name: "lambda at line 1 column 5", src: "f = lambda s: s.upper() + '!'\n", calls: []string{`"hi"`}},
		{name: "lambda spanning lines", src: "g = [\n    1,\n    lambda x: (x +\n        1),\n]\nf = g[1]\n", calls: []string{"41"}},
		{name: "closure two levels deep", src: `
def outer(a):
    def middle(b):
        def inner(c):
            return a * 100 + b * 10 + c
        return inner
    return middle
f = outer(1)(2)
`, calls: []string{"3"}},
		{name: "default names module constant", src: "K = 7\ndef f(x, k=K):\n    return x * k\n", calls: []string{"2", "2, 3"}},
		{name: "defaults name enclosing locals", src: `
def make(n):
    m = n * 2
    def g(x, y=m, z=[n]):
        return x + y + z[0]
    return g
f = make(5)
`, calls: []string{"1", "1, 0", "1, z=[100]"}},
		{name: "multi-line default", src: `
def f(x, table={
        "a": 1,
        "b": 2,
    }, other=None):
    return table[x], other
`, calls: []string{`"a"`, `"b", other=3`}},
		{name: "default is a function", src: "def neg(x):\n    return -x\ndef f(xs, key=neg):\n    return sorted(xs, key=key)\n", calls: []string{"[3, 1, 2]"}},
		{name: "args kwargs keyword-only", src: `
def f(a, b=2, *args, c, d=4, **kwargs):
    return (a, b, args, c, d, sorted(kwargs.items()))
`, calls: []string{"1, c=3", "1, 2, 3, 4, c=5, e=6, d=7"}},
		{name: "keyword-only after bare star", src: "def f(a, *, b, c=3):\n    return a + b + c\n", calls: []string{"1, b=2", "1, b=2, c=0"}},
		{name: "recursion", src: "def f(n):\n    return 1 if n <= 1 else n * f(n - 1)\n", calls: []string{"10", "25"}},
		{name: "mutual recursion", src: `
def even(n):
    return True if n == 0 else odd(n - 1)
def odd(n):
    return False if n == 0 else even(n - 1)
`, fn: "even", calls: []string{"10", "7"}},
		{name: "recursive closure", src: `
def make():
    def fib(n):
        return n if n < 2 else fib(n - 1) + fib(n - 2)
    return fib
`, maker: "make", calls: []string{"15"}},
		{name: "mutually recursive closures", src: `
def make(stop):
    def a(n):
        return "a" if n <= stop else b(n - 1)
    def b(n):
        return "b" if n <= stop else a(n - 1)
    return a
def maker():
    return make(0)
`, maker: "maker", calls: []string{"4", "5"}},
		{name: "chain of helpers and constants", src: `
BASE = 10
SCALE = [2, 3]
NAMES = {"x": "ex"}
def h1(x):
    return x + BASE
def h2(x):
    return h1(x) * SCALE[0]
def h3(x):
    return h2(x) - SCALE[1]
def f(x):
    return h3(x) + h1(0), NAMES["x"]
`, calls: []string{"1"}},
		{name: "dispatch table cycle", src: `
def a(n):
    return "done" if n == 0 else TABLE["b"](n - 1)
def b(n):
    return TABLE["a"](n)
TABLE = {"a": a, "b": b}
f = TABLE["b"]
`, calls: []string{"3"}},
		{name: "function from a loaded module", files: map[string]string{"lib.star": `
FACTOR = 3
def _scale(x):
    return x * FACTOR
def helper(x):
    return _scale(x) + 1
`}, src: "load(\"lib.star\", \"helper\")\ndef f(x):\n    return helper(x) * 2\n", calls: []string{"5"}},
		{name: "loaded function itself", files: map[string]string{"lib.star": "Z = [1, 2]\ndef helper(x):\n    return Z[x]\n"},
			src: "load(\"lib.star\", \"helper\")\nf = helper\n", calls: []string{"1"}},
		{name: "universal builtins", src: "def f(xs):\n    return len(xs), sorted(xs), list(reversed(xs)), max(xs)\n", calls: []string{"[3, 1, 2]"}},
		{name: "math.sqrt", src: "def f(x):\n    return math.sqrt(x) + math.floor(2.5)\n", calls: []string{"16"}},
		{name: "json.encode", src: "def f(x):\n    return json.encode(x)\n", calls: []string{`{"a": [1, 2]}`}},
		{name: "math.sqrt as a global", src: "root = math.sqrt\ndef f(x):\n    return root(x)\n", calls: []string{"9"}},
		{name: "bound method as a global", src: "sep = \"-\".join\ndef f(*xs):\n    return sep(xs)\n", calls: []string{`"a", "b"`}},
		{name: "struct builtin", src: "def f(x):\n    return struct(v=x, w=[x])\n", calls: []string{"2"}},
		{name: "comprehension and nested lambda", src: "def f(xs):\n    return sorted([x * x for x in xs if x], key=lambda y: -y)\n", calls: []string{"[1, 0, 3, 2]"}},
		{name: "while and set", src: `
def f(n):
    seen = set()
    while n != 1:
        seen.add(n)
        n = n // 2 if n % 2 == 0 else 3 * n + 1
    return len(seen)
`, calls: []string{"27"}},
		{name: "def in a top-level if", src: "if True:\n    def f(x):\n        return x * 3\n", calls: []string{"4"}},
		{name: "lambda in a dict", src: "OPS = {\"add\": lambda a, b: a + b, \"sub\": lambda a, b: a - b}\nf = OPS[\"sub\"]\n", calls: []string{"5, 3"}},
		{name: "unicode text", src: "GREETING = \"héllo\"\ndef f(x):\n    return GREETING + \" wörld \" + x  # ✓\n", calls: []string{`"😀"`}},
		{name: "global shadows universal", src: "def len(x):\n    return 42\ndef f(x):\n    return len(x)\n", calls: []string{"[1]"}},
		// syntax's Span ends one byte short for these.
		{name: "def ending in an index", src: "def f(x):\n    return x[0]\n", calls: []string{"[7]"}},
		{name: "def ending in a slice", src: "def f(x): return x[1:]\n", calls: []string{`"abc"`}},
		{name: "def ending in a parenthesized tuple", src: "def f(x):\n    return (x, x)\n", calls: []string{"1"}},
		{name: "def ending in a comment", src: "def f(x):\n    return [x,\n        x]  # a list ]\nz = 1\n", calls: []string{"1"}},
		{name: "default with an index", src: "A = [4, 5]\ndef f(x, k=A[1], s=A[:1]):\n    return x * k, s\n", calls: []string{"2"}},
		{name: "lambda ending in an index", src: "f = lambda x: x[0][1:]\n", calls: []string{`["xyz"]`}},
		{name: "semicolons", src: "def f(x): y = x; return y * 2;\n", calls: []string{"4"}},
		{name: "closure over 1000 ints", src: `
def make():
    data = list(range(1000))
    def total(k):
        return sum_(data) * k
    return total
def sum_(xs):
    t = 0
    for x in xs:
        t += x
    return t
f = make()
`, calls: []string{"2"}},
	}
}

func (c funcCase) run(t testing.TB) (*world, *starlark.Function) {
	t.Helper()
	s := sender()
	for k, v := range c.files {
		s.files[k] = v
	}
	g := s.exec(t, "main.star", c.src)
	name := c.fn
	if name == "" {
		name = "f"
	}
	v := g[name]
	if c.maker != "" {
		var err error
		if v, err = starlark.Call(s.thread(), g[c.maker], nil, nil); err != nil {
			t.Fatal(err)
		}
	}
	fn, ok := v.(*starlark.Function)
	if !ok {
		t.Fatalf("%s is a %s", name, v.Type())
	}
	return s, fn
}

func TestFunctionRoundTrip(t *testing.T) {
	for _, c := range funcCases() {
		t.Run(c.name, func(t *testing.T) {
			s, fn := c.run(t)
			data := s.encode(t, fn)
			r := receiver()
			out := r.decode(t, data)
			if out.Type() != "function" || out.String() != fn.String() {
				t.Errorf("decoded %s %s, want function %s", out.Type(), out, fn)
			}
			dfn := out.(*starlark.Function)
			if dfn.Position().String() != fn.Position().String() {
				t.Errorf("decoded function at %v, want %v", dfn.Position(), fn.Position())
			}
			for _, args := range c.calls {
				want, werr := call(t, s, fn, args)
				got, gerr := call(t, r, out, args)
				if werr != nil || gerr != nil {
					t.Fatalf("f(%s): original %v, decoded %v", args, werr, gerr)
				}
				if want.String() != got.String() || !deepEqual(t, want, got) {
					t.Errorf("f(%s) = %s, want %s", args, got, want)
				}
			}

			// A decoded function travels on unchanged (a worker may map
			// it again).
			again, err := r.codec.Encode(out)
			if err != nil {
				t.Fatalf("re-encode: %v", err)
			}
			if !bytes.Equal(again, data) {
				t.Errorf("re-encoding differs (%d bytes, want %d)", len(again), len(data))
			}
			out2 := receiver().decode(t, again)
			for _, args := range c.calls {
				want, _ := call(t, s, fn, args)
				if got, err := call(t, r, out2, args); err != nil || !deepEqual(t, want, got) {
					t.Errorf("twice decoded f(%s) = %v, %v; want %s", args, got, err, want)
				}
			}
		})
	}
	if n := len(funcCases()) + len(valueCases()); n < 40 {
		t.Errorf("only %d cases", n)
	}
}

// TestClosureMadeByDecodedFunction encodes a function that a decoded
// function creates, as a nested pool.map on a worker does.
func TestClosureMadeByDecodedFunction(t *testing.T) {
	s := sender()
	g := s.exec(t, "main.star", `
def make(n):
    def add(x, y=n):
        return x + y + helper()
    sq = lambda z: z * z + n
    return add, sq
def helper():
    return 1000
`)
	r := receiver()
	dmake := r.decode(t, s.encode(t, g["make"]))
	pair, err := call(t, r, dmake, "5")
	if err != nil {
		t.Fatal(err)
	}
	for i, args := range []string{"1", "3"} {
		made := pair.(starlark.Tuple)[i]
		data, err := r.codec.Encode(made)
		if err != nil {
			t.Fatalf("encode %s made by a decoded function: %v", made, err)
		}
		w := receiver()
		dmade := w.decode(t, data)
		want, _ := call(t, r, made, args)
		got, err := call(t, w, dmade, args)
		if err != nil || !deepEqual(t, want, got) {
			t.Errorf("%s(%s) = %v, %v; want %v", made, args, got, err, want)
		}
	}
}

// TestTraceback checks that an error raised in a decoded function is
// reported at the original file, line and column.
func TestTraceback(t *testing.T) {
	s := sender()
	g := s.exec(t, "tb.star", `
def helper(x):
    return 1 // x
def f(x, k=[
        1]):
    y = x
    return helper(y)
l = lambda x: f(x) + 1
`)
	for _, name := range []string{"f", "l"} {
		fn := g[name]
		_, werr := call(t, s, fn, "0")
		r := receiver()
		_, gerr := call(t, r, r.decode(t, s.encode(t, fn)), "0")
		var want, got *starlark.EvalError
		if !errors.As(werr, &want) || !errors.As(gerr, &got) {
			t.Fatalf("%s(0): errors %v and %v, want EvalErrors", name, werr, gerr)
		}
		if got.Backtrace() != want.Backtrace() {
			t.Errorf("%s(0) traceback:\n%s\nwant:\n%s", name, got.Backtrace(), want.Backtrace())
		}
		if !strings.Contains(got.Backtrace(), "tb.star:3:14: in helper") || !strings.Contains(got.Backtrace(), "tb.star:7:18: in f") {
			t.Errorf("traceback does not name tb.star:3 and tb.star:7:\n%s", got.Backtrace())
		}
		top := got.CallStack.At(0) // the innermost frame
		if top.Pos.Filename() != "tb.star" || top.Pos.Line != 3 {
			t.Errorf("innermost frame at %v, want tb.star:3", top.Pos)
		}
	}
}

// TestREPLChunk sends functions defined in REPL chunks, which a REPL
// registers under "<stdin>" padded to their own lines.
func TestREPLChunk(t *testing.T) {
	s := sender()
	globals := make(starlark.StringDict)
	transcript := ""
	chunk := func(text string) {
		t.Helper()
		padded := strings.Repeat("\n", strings.Count(transcript, "\n")) + text
		transcript += text
		s.sources.Add("<stdin>", transcript)
		f, err := fileOpts.Parse("<stdin>", padded, 0)
		if err != nil {
			t.Fatal(err)
		}
		if err := starlark.ExecREPLChunk(f, s.thread(), globals); err != nil {
			t.Fatal(err)
		}
	}
	chunk("x = 1\n")
	chunk("y = 2\n")
	chunk("z = [x, y]\n")
	chunk("\n")
	chunk("def f(a): return a // (z[0] - 1)\n") // line 5
	chunk("g = lambda a: f(a) + x\n")           // line 6

	r := receiver()
	for _, name := range []string{"f", "g"} {
		out := r.decode(t, s.encode(t, globals[name]))
		_, err := call(t, r, out, "3")
		var ee *starlark.EvalError
		if !errors.As(err, &ee) {
			t.Fatalf("%s(3): %v, want a division error", name, err)
		}
		if !strings.Contains(ee.Backtrace(), "<stdin>:5:") {
			t.Errorf("%s(3) traceback does not name <stdin>:5:\n%s", name, ee.Backtrace())
		}
	}
	chunk("z[0] = 5\n")
	out := r.decode(t, s.encode(t, globals["g"]))
	if got, err := call(t, r, out, "8"); err != nil || got != starlark.MakeInt(3) {
		t.Errorf("g(8) = %v, %v; want 3", got, err)
	}
}
