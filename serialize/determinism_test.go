package serialize_test

import (
	"bytes"
	"testing"

	"github.com/fxamacker/cbor/v2"
	"github.com/pathos-star/pathos-star/serialize"
	"go.starlark.net/starlark"
)

// TestDeterministic checks that a value encodes to the same bytes every
// time, in one codec and in two interpreters that ran the same source.
func TestDeterministic(t *testing.T) {
	for _, c := range valueCases() {
		t.Run("value "+c.name, func(t *testing.T) {
			s1, s2 := sender(), sender()
			v1, v2 := c.build(t, s1), c.build(t, s2)
			a, b, other := s1.encode(t, v1), s1.encode(t, v1), s2.encode(t, v2)
			if !bytes.Equal(a, b) || !bytes.Equal(a, other) {
				t.Errorf("encodings differ")
			}
		})
	}
	for _, c := range funcCases() {
		t.Run("function "+c.name, func(t *testing.T) {
			s1, fn1 := c.run(t)
			s2, fn2 := c.run(t)
			a, b, other := s1.encode(t, fn1), s1.encode(t, fn1), s2.encode(t, fn2)
			if serialize.Hash(a) != serialize.Hash(b) || serialize.Hash(a) != serialize.Hash(other) {
				t.Errorf("hashes differ: %x %x %x", serialize.Hash(a), serialize.Hash(b), serialize.Hash(other))
			}
		})
	}
}

// TestOrderFaithful checks that dicts and sets encode in insertion order:
// the same order gives the same bytes however the value was built, and a
// different order gives different bytes.
func TestOrderFaithful(t *testing.T) {
	s := sender()
	g := s.exec(t, "order.star", `
d1 = {"a": 1, "b": 2, "c": 3}
d2 = dict(a=1, b=2, c=3)
d3 = {"c": 3}
d3["a"] = 1
d3.pop("c")
d3["b"] = 2
d3["c"] = 3
d4 = {"c": 3, "b": 2, "a": 1}
s1 = set([1, 2, 3])
s2 = set()
s2.add(1)
s2.add(2)
s2.add(3)
s3 = set([3, 2, 1])
`)
	enc := func(name string) []byte { return s.encode(t, g[name]) }
	for _, same := range [][2]string{{"d1", "d2"}, {"d1", "d3"}, {"s1", "s2"}} {
		if !bytes.Equal(enc(same[0]), enc(same[1])) {
			t.Errorf("%s and %s have the same order but encode differently", same[0], same[1])
		}
	}
	for _, diff := range [][2]string{{"d1", "d4"}, {"s1", "s3"}} {
		if bytes.Equal(enc(diff[0]), enc(diff[1])) {
			t.Errorf("%s and %s have different orders but encode the same", diff[0], diff[1])
		}
		r := receiver()
		for _, name := range diff {
			if got, want := r.decode(t, enc(name)).String(), g[name].String(); got != want {
				t.Errorf("%s decoded as %s, want %s", name, got, want)
			}
		}
	}
}

// TestHashFollowsBindings checks that a function's hash changes with the
// values it takes from its environment, so a worker never runs a stale
// cached function.
func TestHashFollowsBindings(t *testing.T) {
	src := "L = [1, 2]\ndef f(x):\n    return x in L\n"
	s1, s2 := sender(), sender()
	f1 := s1.exec(t, "h.star", src)["f"]
	f2 := s2.exec(t, "h.star", src+"L.append(3)\n")["f"]
	if serialize.Hash(s1.encode(t, f1)) == serialize.Hash(s2.encode(t, f2)) {
		t.Errorf("functions with different globals have the same hash")
	}
}

// TestWellFormedCBOR cross-checks the encoder with an independent CBOR
// implementation: every encoding is well-formed, and decoding it into
// generic values and re-encoding it under the core deterministic rules of
// RFC 8949 gives back the same bytes.
func TestWellFormedCBOR(t *testing.T) {
	dm, err := cbor.DecOptions{
		MaxNestedLevels:  65535,
		MaxArrayElements: 1 << 30,
		MaxMapPairs:      1 << 30,
		IndefLength:      cbor.IndefLengthForbidden,
		UTF8:             cbor.UTF8RejectInvalid,
	}.DecMode()
	if err != nil {
		t.Fatal(err)
	}
	em, err := cbor.CoreDetEncOptions().EncMode()
	if err != nil {
		t.Fatal(err)
	}
	check := func(t *testing.T, data []byte) {
		if err := dm.Wellformed(data); err != nil {
			t.Fatalf("not well-formed: %v", err)
		}
		var generic any
		if err := dm.Unmarshal(data, &generic); err != nil {
			t.Fatalf("cbor: %v", err)
		}
		again, err := em.Marshal(generic)
		if err != nil {
			t.Fatalf("cbor: %v", err)
		}
		if !bytes.Equal(again, data) {
			t.Errorf("not core deterministic:\n ours % x\ncbor % x", data[:min(len(data), 48)], again[:min(len(again), 48)])
		}
	}
	for _, c := range valueCases() {
		t.Run("value "+c.name, func(t *testing.T) {
			s := sender()
			check(t, s.encode(t, c.build(t, s)))
		})
	}
	for _, c := range funcCases() {
		t.Run("function "+c.name, func(t *testing.T) {
			s, fn := c.run(t)
			check(t, s.encode(t, fn))
		})
	}
	t.Run("arguments", func(t *testing.T) {
		check(t, encodeArgs(t, sender(), starlark.Tuple{starlark.MakeInt(1)}, []starlark.Tuple{{starlark.String("k"), starlark.None}}))
	})
}
