package serialize_test

import (
	"errors"
	"strings"
	"testing"

	"github.com/pathos-star/pathos-star/serialize"
	"go.starlark.net/starlark"
	"go.starlark.net/starlarkstruct"
)

// TestEncodeErrors checks that a value that cannot travel is reported with
// its path and type, and never panics.
func TestEncodeErrors(t *testing.T) {
	for _, c := range []struct {
		name     string
		src      string // module whose global v is encoded
		value    starlark.Value
		path     string // want EncodeError.Path
		typ      string // want EncodeError.Type
		contains []string
	}{
		{name: "top level", src: "v = make_lock()", path: "", typ: "lock"},
		{name: "in list and dict", src: `v = [1, {"k": make_lock()}]`, path: `[1]["k"]`, typ: "lock"},
		{name: "in tuple", src: `v = (0, (1, 2, make_lock()))`, path: `[1][2]`, typ: "lock"},
		{name: "struct field", src: `v = [struct(a=1, b=make_lock())]`, path: `[0].b`, typ: "lock"},
		{name: "dict key", src: `v = {make_lock(): 1}`, path: `key <lock 0>`, typ: "lock"},
		{name: "set element", src: `v = set([1, make_lock()])`, path: `element <lock 0>`, typ: "lock"},
		{name: "dict value under int key", src: `v = {1: {2: [make_lock()]}}`, path: `[1][2][0]`, typ: "lock"},
		{name: "function global", src: "LOCK = make_lock()\ndef f():\n    return LOCK\nv = [f]", path: `[0]: function f: global "LOCK"`, typ: "lock"},
		{name: "function global in list", src: "L = [1, make_lock()]\ndef f():\n    return L\nv = f", path: `function f: global "L"[1]`, typ: "lock"},
		{name: "helper's global", src: "LOCK = make_lock()\ndef h():\n    return LOCK\ndef f():\n    return h()\nv = f", path: `function f: global "h": function h: global "LOCK"`, typ: "lock"},
		{name: "closure variable", src: "def outer():\n    lock = make_lock()\n    def g():\n        return lock\n    return g\nv = outer()", path: `function g: closure variable "lock"`, typ: "lock"},
		{name: "default", src: "def f(x=make_lock()):\n    return x\nv = f", path: "function f: default of parameter x", typ: "lock"},
		{name: "struct in dict", src: "v = {1: struct(m=make_lock())}", path: "[1].m", typ: "lock"},
		{name: "unknown builtin", value: starlark.Tuple{starlark.NewBuiltin("secret", nil)}, path: "[0]", typ: "builtin_function_or_method", contains: []string{"secret"}},
		{name: "unknown module", value: starlark.NewList([]starlark.Value{&starlarkstruct.Module{Name: "os", Members: starlark.StringDict{}}}), path: "[0]", typ: "module", contains: []string{"os"}},
		{name: "nil Go value", value: starlark.Tuple{starlark.None, nil}, path: "[1]", typ: "nil"},
		{name: "struct field not UTF-8", value: starlarkstruct.FromStringDict(starlarkstruct.Default, starlark.StringDict{"\xff": starlark.None}), typ: "struct"},
	} {
		t.Run(c.name, func(t *testing.T) {
			s := sender()
			v := c.value
			if c.src != "" {
				v = s.exec(t, "bad.star", c.src)["v"]
			}
			_, err := s.codec.Encode(v)
			var ee *serialize.EncodeError
			if !errors.As(err, &ee) {
				t.Fatalf("got %v, want an EncodeError", err)
			}
			if ee.Path != c.path || ee.Type != c.typ {
				t.Errorf("got path %q type %q, want %q %q", ee.Path, ee.Type, c.path, c.typ)
			}
			msg := err.Error()
			want := append([]string{"cannot serialize", c.path, `"` + c.typ + `"`}, c.contains...)
			for _, w := range want {
				if !strings.Contains(msg, w) {
					t.Errorf("error %q does not contain %q", msg, w)
				}
			}
		})
	}
}

// TestEncodeFunctionErrors checks functions that cannot travel because of
// their source or their environment.
func TestEncodeFunctionErrors(t *testing.T) {
	s := sender()
	var captured []error
	s.env["capture"] = starlark.NewBuiltin("capture", func(_ *starlark.Thread, _ *starlark.Builtin, args starlark.Tuple, _ []starlark.Tuple) (starlark.Value, error) {
		_, err := s.codec.Encode(args[0])
		captured = append(captured, err)
		return starlark.None, nil
	})
	g := s.exec(t, "early.star", `
def uses_later():
    return later()
capture(uses_later)
def later():
    return 1
def outer():
    def inner():
        return v
    capture(inner)
    v = 1
    return inner
outer()
capture(uses_later)
`)
	for i, want := range []string{
		`cannot serialize function uses_later: global "later" is not defined yet`,
		`cannot serialize function inner: closure variable "v" is not assigned yet`,
		"",
	} {
		if err := captured[i]; want == "" && err != nil || want != "" && (err == nil || !strings.Contains(err.Error(), want)) {
			t.Errorf("capture %d: got %v, want %q", i, err, want)
		}
	}

	// A function whose file was never registered.
	src := "def f():\n    return 1\n"
	g2, err := starlark.ExecFileOptions(fileOpts, &starlark.Thread{}, "unregistered.star", src, nil)
	if err != nil {
		t.Fatal(err)
	}
	_, err = s.codec.Encode(starlark.Tuple{g["later"], g2["f"]})
	if err == nil || !strings.Contains(err.Error(), `cannot serialize function f: no source recorded for file "unregistered.star"`) ||
		!strings.HasPrefix(err.Error(), "[1]: ") {
		t.Errorf("got %v, want an error about unregistered.star at [1]", err)
	}

	// A registered file whose text no longer matches.
	s.sources.Add("early.star", "# replaced\n")
	if _, err := s.codec.Encode(g["later"]); err == nil || !strings.Contains(err.Error(), "no def or lambda at early.star:5:1") {
		t.Errorf("got %v, want an error naming early.star:5:1", err)
	}
}

// TestDecodeErrorType checks that decoding errors are DecodeErrors with an
// offset.
func TestDecodeErrorType(t *testing.T) {
	_, err := receiver().codec.Decode([]byte{0x81, 0x19, 0x01})
	var de *serialize.DecodeError
	if !errors.As(err, &de) || de.Offset != 2 || !strings.Contains(err.Error(), "unexpected end of input") {
		t.Errorf("got %#v, want a DecodeError at offset 2", err)
	}
}
