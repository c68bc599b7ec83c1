package serialize_test

import (
	"encoding/binary"
	"runtime"
	"strings"
	"testing"

	"github.com/pathos-star/pathos-star/serialize"
	"go.starlark.net/starlark"
)

func nestedList(depth int) starlark.Value {
	var v starlark.Value = starlark.NewList(nil)
	for range depth - 1 {
		v = starlark.NewList([]starlark.Value{v})
	}
	return v
}

func nestedTuple(depth int) starlark.Value {
	v := starlark.Tuple{}
	for range depth - 1 {
		v = starlark.Tuple{v}
	}
	return v
}

func TestLimits(t *testing.T) {
	big := sender()
	for _, c := range []struct {
		name   string
		limits serialize.Limits
		ok     starlark.Value // within the limit
		bad    starlark.Value // beyond it
		encErr string         // error encoding bad under limits, if the encoder enforces the limit
		decErr string         // error decoding bad under limits
	}{
		{"depth of lists", serialize.Limits{MaxDepth: 100}, nestedList(100), nestedList(101),
			"value nested deeper than 100 levels", "nesting deeper than 100"},
		{"depth of tuples", serialize.Limits{MaxDepth: 50}, nestedTuple(50), nestedTuple(51),
			"value nested deeper than 50 levels", "nesting deeper than 50"},
		{"items", serialize.Limits{MaxItems: 1001}, starlark.NewList(make([]starlark.Value, 1000)), starlark.NewList(make([]starlark.Value, 1001)),
			"", "more than 1001 values in one message"},
		{"size", serialize.Limits{MaxSize: 1003}, starlark.String(strings.Repeat("x", 1000)), starlark.String(strings.Repeat("x", 1001)),
			"", "message of 1004 bytes exceeds limit of 1003"},
	} {
		t.Run(c.name, func(t *testing.T) {
			fill := func(v starlark.Value) starlark.Value {
				if l, ok := v.(*starlark.List); ok && l.Len() > 0 && l.Index(0) == nil {
					elems := make([]starlark.Value, l.Len())
					for i := range elems {
						elems[i] = starlark.MakeInt(i)
					}
					return starlark.NewList(elems)
				}
				return v
			}
			ok, bad := fill(c.ok), fill(c.bad)
			w := newWorld(receiverEnv(), c.limits)
			data, err := w.codec.Encode(ok)
			if err != nil {
				t.Fatalf("encode within the limit: %v", err)
			}
			if _, err := w.codec.Decode(data); err != nil {
				t.Fatalf("decode within the limit: %v", err)
			}
			if c.encErr != "" {
				_, err := w.codec.Encode(bad)
				if err == nil || !strings.Contains(err.Error(), c.encErr) {
					t.Errorf("encode beyond the limit: got %v, want %q", err, c.encErr)
				}
			}
			_, err = w.codec.Decode(big.encode(t, bad))
			if err == nil || !strings.Contains(err.Error(), c.decErr) {
				t.Errorf("decode beyond the limit: got %v, want %q", err, c.decErr)
			}
		})
	}
}

// huge returns the head of an item of major type major declaring length
// n in eight bytes.
func huge(major byte, n uint64) []byte {
	return binary.BigEndian.AppendUint64([]byte{major<<5 | 27}, n)
}

func cat(parts ...[]byte) []byte {
	var b []byte
	for _, p := range parts {
		b = append(b, p...)
	}
	return b
}

var (
	shareable = []byte{0xd8, 0x1c}
	tagList   = []byte{0xd9, 0x50, 0x51}
	tagDict   = []byte{0xd9, 0x50, 0x52}
	tagSet    = []byte{0xd9, 0x50, 0x53}
	tagStruct = []byte{0xd9, 0x50, 0x54}
	tagFunc   = []byte{0xd9, 0x50, 0x58}
	tagKwargs = []byte{0xd9, 0x50, 0x5a}
)

// allocated returns the bytes allocated by f, averaged over runs.
func allocated(f func()) uint64 {
	const runs = 5
	var before, after runtime.MemStats
	runtime.GC()
	runtime.ReadMemStats(&before)
	for range runs {
		f()
	}
	runtime.ReadMemStats(&after)
	return (after.TotalAlloc - before.TotalAlloc) / runs
}

// TestHugeLengths checks that declared lengths far beyond the input fail
// before anything is allocated for them.
func TestHugeLengths(t *testing.T) {
	const n = 1 << 40
	for _, c := range []struct {
		name string
		data []byte
	}{
		{"array", huge(4, n)},
		{"array in array", cat([]byte{0x82, 0x01}, huge(4, n))},
		{"bytes", huge(2, n)},
		{"text", huge(3, n)},
		{"list", cat(shareable, tagList, huge(4, n))},
		{"dict", cat(shareable, tagDict, huge(4, n))},
		{"set", cat(shareable, tagSet, huge(4, n))},
		{"struct", cat(tagStruct, huge(4, n))},
		{"bignum", cat([]byte{0xc2}, huge(2, n))},
		{"function defaults", cat(shareable, tagFunc, []byte{0x89, 0x61, 'f', 0x61, 'x', 0x01, 0x01, 0xf4, 0x60}, huge(4, n))},
		{"length 2**64-1", huge(4, 1<<64-1)},
		{"kwargs", cat(tagKwargs, []byte{0x82, 0x80}, huge(4, n))},
	} {
		t.Run(c.name, func(t *testing.T) {
			w := receiver()
			var err error
			bytes := allocated(func() {
				d := w.codec.NewDecoder(c.data)
				if c.name == "kwargs" {
					_, _, err = d.Args()
				} else {
					_, err = d.Value()
				}
			})
			if err == nil || !strings.Contains(err.Error(), "exceeds the remaining") {
				t.Errorf("got %v, want a length error", err)
			}
			if bytes > 64<<10 {
				t.Errorf("decoding a %d-byte input allocated %d bytes", len(c.data), bytes)
			}
		})
	}
}

// TestNestedHugeLengths checks that containers nested in one another, each
// declaring nearly all the remaining input as its length, do not make the
// decoder allocate in proportion to the square of the input.
func TestNestedHugeLengths(t *testing.T) {
	for _, c := range []struct {
		name   string
		prefix []byte
	}{
		{"arrays", nil},
		{"lists", cat(shareable, tagList)},
		{"dicts", cat(shareable, tagDict)},
		{"sets", cat(shareable, tagSet)},
	} {
		t.Run(c.name, func(t *testing.T) {
			const levels = 2000
			level := len(c.prefix) + 9
			data := make([]byte, 0, levels*level)
			for i := range levels {
				remaining := uint64((levels-i)*level - level)
				data = append(data, c.prefix...)
				data = append(data, huge(4, remaining&^1)...) // even, for dicts
			}
			w := receiver()
			var err error
			bytes := allocated(func() { _, err = w.codec.Decode(data) })
			if err == nil {
				t.Fatal("decoded a truncated message")
			}
			if limit := uint64(levels) * 8 << 10; bytes > limit {
				t.Errorf("decoding %d bytes allocated %d bytes (limit %d)", len(data), bytes, limit)
			}
		})
	}
}

// TestSharedDAG decodes lists that each hold the previous one twice: the
// message and the decoded value grow linearly with the depth, though the
// value's repr would grow exponentially.
func TestSharedDAG(t *testing.T) {
	const n = 60
	var data []byte
	for range n {
		data = cat(data, shareable, tagList, []byte{0x82})
	}
	data = cat(data, shareable, tagList, []byte{0x80})
	for i := n; i >= 1; i-- { // the second element of level i-1 is a reference to level i
		data = append(data, 0xd8, 0x1d)
		if i < 24 {
			data = append(data, byte(i))
		} else {
			data = append(data, 0x18, byte(i))
		}
	}
	r := receiver()
	v := r.decode(t, data)
	l := v.(*starlark.List)
	for range n {
		if l.Len() != 2 || l.Index(0) != l.Index(1) {
			t.Fatalf("shared list arrived as two lists")
		}
		l = l.Index(0).(*starlark.List)
	}
	if again := r.encode(t, v); string(again) != string(data) {
		t.Errorf("re-encoded as %d bytes, want the %d input bytes", len(again), len(data))
	}
}
