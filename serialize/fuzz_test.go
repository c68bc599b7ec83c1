package serialize_test

import (
	"bytes"
	"errors"
	"testing"

	"github.com/pathos-star/pathos-star/serialize"
	"go.starlark.net/starlark"
)

// FuzzDecode feeds arbitrary bytes to the decoder. It must never panic,
// must report failures as DecodeErrors, and whatever it accepts must be
// canonical: encoding the decoded value gives back the input.
func FuzzDecode(f *testing.F) {
	s := sender()
	for _, c := range valueCases() {
		if c.name == "string 10MB" {
			continue
		}
		f.Add(s.encode(f, c.build(f, s)))
	}
	for _, c := range funcCases() {
		s, fn := c.run(f)
		f.Add(s.encode(f, fn))
	}
	f.Add(valid().encode(f, s))
	f.Add(encodeArgs(f, s, starlark.Tuple{starlark.MakeInt(1)}, []starlark.Tuple{{starlark.String("k"), starlark.None}}))
	f.Add([]byte{0x9b, 0, 0, 1, 0, 0, 0, 0, 0})
	f.Add([]byte{0xd8, 0x1d, 0x00})

	r := receiver()
	f.Fuzz(func(t *testing.T, data []byte) {
		var de *serialize.DecodeError
		if _, _, err := r.codec.NewDecoder(data).Args(); err != nil && !errors.As(err, &de) {
			t.Fatalf("Args: error %v is a %T, want a *DecodeError", err, err)
		}
		v, err := r.codec.Decode(data)
		if err != nil {
			if !errors.As(err, &de) {
				t.Fatalf("error %v is a %T, want a *DecodeError", err, err)
			}
			return
		}
		// Not v.String(): shared references build DAGs whose repr is
		// exponentially long (see TestSharedDAG).
		_ = v.Type()
		again, err := r.codec.Encode(v)
		if err != nil {
			if containsFunction(v) {
				return // a function need not travel twice
			}
			t.Fatalf("decoded a %s, which does not encode: %v", v.Type(), err)
		}
		if !bytes.Equal(again, data) {
			t.Fatalf("decoded a %s from\n% x\nbut it encodes as\n% x", v.Type(), data, again)
		}
	})
}
