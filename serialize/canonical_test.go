package serialize_test

import (
	"bytes"
	"strings"
	"testing"

	"github.com/pathos-star/pathos-star/serialize"
	"go.starlark.net/starlark"
)

func text(s string) []byte { return append([]byte{0x60 | byte(len(s))}, s...) }

// TestRejectNonCanonical checks that the decoder accepts only what the
// encoder produces: one encoding per value, so hashes identify values.
func TestRejectNonCanonical(t *testing.T) {
	structAB := cat(tagStruct, []byte{0x83}, text("struct"), text("a"), []byte{0x01})
	for _, c := range []struct {
		name string
		data []byte
		want string // part of the error
	}{
		{"uint 5 in one byte", []byte{0x18, 0x05}, "non-canonical integer"},
		{"uint 16 in two bytes", []byte{0x19, 0x00, 0x10}, "non-canonical integer"},
		{"uint 255 in four bytes", []byte{0x1a, 0, 0, 0, 0xff}, "non-canonical integer"},
		{"uint 65536 in eight bytes", []byte{0x1b, 0, 0, 0, 0, 0, 1, 0, 0}, "non-canonical integer"},
		{"negative int in one byte", []byte{0x38, 0x01}, "non-canonical integer"},
		{"text length in one byte", []byte{0x78, 0x01, 'a'}, "non-canonical integer"},
		{"array length in one byte", []byte{0x98, 0x01, 0x01}, "non-canonical integer"},
		{"tag in two bytes", cat([]byte{0xd9, 0x00, 0x1c}, tagList, []byte{0x80}), "non-canonical integer"},
		{"float64 1.0", []byte{0xfb, 0x3f, 0xf0, 0, 0, 0, 0, 0, 0}, "non-canonical float"},
		{"float32 1.0", []byte{0xfa, 0x3f, 0x80, 0, 0}, "non-canonical float"},
		{"float64 inf", []byte{0xfb, 0x7f, 0xf0, 0, 0, 0, 0, 0, 0}, "non-canonical float"},
		{"float64 100000", []byte{0xfb, 0x40, 0xf8, 0x6a, 0, 0, 0, 0, 0}, "non-canonical float"},
		{"float32 nan", []byte{0xfa, 0x7f, 0xc0, 0, 0}, "non-canonical float"},
		{"float64 nan", []byte{0xfb, 0x7f, 0xf8, 0, 0, 0, 0, 0, 0}, "non-canonical float"},
		{"half nan with payload", []byte{0xf9, 0x7e, 0x01}, "non-canonical float"},
		{"negative half nan", []byte{0xf9, 0xfe, 0x00}, "non-canonical float"},
		{"bignum of one byte", []byte{0xc2, 0x41, 0x05}, "non-canonical bignum"},
		{"bignum of eight bytes", cat([]byte{0xc2, 0x48}, bytes.Repeat([]byte{0xff}, 8)), "non-canonical bignum"},
		{"bignum with a leading zero", cat([]byte{0xc2, 0x4a, 0x00, 0x01}, make([]byte, 8)), "non-canonical bignum"},
		{"empty bignum", []byte{0xc2, 0x40}, "non-canonical bignum"},
		{"negative bignum of one byte", []byte{0xc3, 0x41, 0x05}, "non-canonical bignum"},
		{"bignum not bytes", []byte{0xc2, 0x01}, "bignum is not a byte string"},
		{"UTF-8 string as bytes", []byte{0xd9, 0x50, 0x59, 0x41, 'a'}, "valid UTF-8 string encoded as bytes"},
		{"invalid UTF-8 text", []byte{0x61, 0xff}, "not valid UTF-8"},
		{"list without shareable", cat(tagList, []byte{0x80}), "without the shareable tag"},
		{"dict without shareable", cat(tagDict, []byte{0x80}), "without the shareable tag"},
		{"set without shareable", cat(tagSet, []byte{0x80}), "without the shareable tag"},
		{"function without shareable", cat(tagFunc, []byte{0x80}), "without the shareable tag"},
		{"shareable tuple", cat(shareable, []byte{0x80}), "shareable tag must precede"},
		{"shareable int", cat(shareable, []byte{0x01}), "shareable tag must precede"},
		{"shareable shareable", cat(shareable, shareable, tagList, []byte{0x80}), "shareable tag must precede"},
		{"forward shared reference", []byte{0xd8, 0x1d, 0x00}, "reference to shared value 0 of 0"},
		{"shared reference not uint", cat([]byte{0x82}, shareable, tagList, []byte{0x80, 0xd8, 0x1d, 0x20}), "want unsigned integer"},
		{"indefinite array", []byte{0x9f, 0xff}, "indefinite lengths"},
		{"indefinite text", []byte{0x7f, 0xff}, "indefinite lengths"},
		{"map", []byte{0xa1, 0x01, 0x02}, "unexpected CBOR map"},
		{"undefined", []byte{0xf7}, "unsupported simple value 23"},
		{"simple value 32", []byte{0xf8, 0x20}, "unsupported simple value 24"},
		{"simple value 0", []byte{0xe0}, "unsupported simple value 0"},
		{"struct fields unsorted", cat(tagStruct, []byte{0x85}, text("struct"), text("b"), []byte{0x01}, text("a"), []byte{0x02}), "not sorted"},
		{"struct field twice", cat(tagStruct, []byte{0x85}, text("struct"), text("a"), []byte{0x01}, text("a"), []byte{0x02}), "not sorted"},
		{"struct of even length", cat(tagStruct, []byte{0x82}, text("struct"), text("a")), "even length"},
		{"struct field name not text", cat(tagStruct, []byte{0x83}, text("struct"), []byte{0x01, 0x01}), "want text"},
		{"dict key twice", cat(shareable, tagDict, []byte{0x84, 0x01, 0x01, 0x01, 0x02}), "duplicate dict key"},
		{"dict key 1 and 1.0", cat(shareable, tagDict, []byte{0x84, 0x01, 0x01, 0xf9, 0x3c, 0x00, 0x02}), "duplicate dict key"},
		{"dict of odd length", cat(shareable, tagDict, []byte{0x81, 0x01}), "odd dict array"},
		{"dict with list key", cat(shareable, tagDict, []byte{0x82}, shareable, tagList, []byte{0x80, 0x01}), "unhashable"},
		{"set element twice", cat(shareable, tagSet, []byte{0x82, 0x01, 0x01}), "duplicate set element"},
		{"set with list element", cat(shareable, tagSet, []byte{0x81}, shareable, tagList, []byte{0x80}), "unhashable"},
		{"name alias", cat([]byte{0xd9, 0x50, 0x56}, text("length")), `name "length" instead of "len"`},
		{"unknown name", cat([]byte{0xd9, 0x50, 0x56}, text("os")), `unknown name "os"`},
		{"name not text", []byte{0xd9, 0x50, 0x56, 0x01}, "want text"},
		{"struct field as method", cat([]byte{0xd9, 0x50, 0x57, 0x82}, structAB, text("a")), "struct has no method a"},
		{"module member as method", cat([]byte{0xd9, 0x50, 0x57, 0x82, 0xd9, 0x50, 0x56}, text("math"), text("sqrt")), "module has no method sqrt"},
		{"unknown method", cat([]byte{0xd9, 0x50, 0x57, 0x82}, text("x"), text("nosuch")), "string has no method nosuch"},
		{"method on int", cat([]byte{0xd9, 0x50, 0x57, 0x82, 0x01}, text("x")), "int has no method x"},
		{"method of three fields", cat([]byte{0xd9, 0x50, 0x57, 0x83}, text("x"), text("join"), []byte{0x01}), "want 2"},
		{"kwargs tag in a value", cat(tagKwargs, []byte{0x82, 0x80, 0x80}), "unknown tag 20570"},
		{"tag 1 (time)", []byte{0xc1, 0x01}, "unknown tag 1"},
		{"range of floats", []byte{0xd9, 0x50, 0x55, 0x83, 0xf9, 0x3c, 0x00, 0x01, 0x01}, "want int"},
		{"range step zero", []byte{0xd9, 0x50, 0x55, 0x83, 0x00, 0x0a, 0x00}, "range step is zero"},
		{"range beyond int64", cat([]byte{0xd9, 0x50, 0x55, 0x83, 0x00, 0xc2, 0x49, 0x01}, make([]byte, 8), []byte{0x01}), "int out of range"},
		{"range of two fields", []byte{0xd9, 0x50, 0x55, 0x82, 0x00, 0x01}, "want 3"},
		{"trailing bytes", []byte{0x01, 0x01}, "1 trailing bytes"},
		{"empty input", nil, "unexpected end of input"},
		{"truncated float", []byte{0xfb, 0x3f}, "unexpected end of input"},
		{"truncated text", []byte{0x63, 'a'}, "exceeds the remaining"},
	} {
		t.Run(c.name, func(t *testing.T) {
			env := receiverEnv()
			env["length"] = starlark.Universe["len"]
			w := newWorld(env, serialize.Limits{})
			v, err := w.codec.Decode(c.data)
			if err == nil {
				t.Fatalf("decoded % x as %v, want an error", c.data, v)
			}
			if !strings.Contains(err.Error(), c.want) {
				t.Errorf("got %v, want %q", err, c.want)
			}
		})
	}
}
