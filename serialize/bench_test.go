package serialize_test

import (
	"strings"
	"testing"

	"github.com/pathos-star/pathos-star/serialize"
	"go.starlark.net/starlark"
)

func benchRoundTrip(b *testing.B, v starlark.Value, setBytes int64) {
	c := serialize.NewCodec(nil, serialize.NewNames(nil), serialize.Limits{})
	b.SetBytes(setBytes)
	b.ReportAllocs()
	for b.Loop() {
		data, err := c.Encode(v)
		if err != nil {
			b.Fatal(err)
		}
		if _, err := c.Decode(data); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkRoundTripSmallTuple measures encoding and decoding a typical
// small argument tuple.
func BenchmarkRoundTripSmallTuple(b *testing.B) {
	benchRoundTrip(b, starlark.Tuple{starlark.MakeInt(1), starlark.String("abc"), starlark.Float(2.5), starlark.True}, 0)
}

// BenchmarkString1MB measures the throughput of encoding and decoding a
// 1 MB string.
// Every string is validated as UTF-8 on both ends (the encoder chooses
// text or bytes by it; the decoder rejects invalid text), so text dense
// in multi-byte runes is slower than ASCII.
func BenchmarkString1MB(b *testing.B) {
	b.Run("ascii", func(b *testing.B) {
		benchRoundTrip(b, starlark.String(strings.Repeat("hello world ", 1<<20/12)), 1<<20)
	})
	b.Run("latin", func(b *testing.B) { // one 2-byte rune in 7 bytes
		benchRoundTrip(b, starlark.String(strings.Repeat("héllo wörld ", 1<<20/14)), 1<<20)
	})
	b.Run("invalid", func(b *testing.B) { // travels as bytes
		benchRoundTrip(b, starlark.String(strings.Repeat("hello world\xff", 1<<20/12)), 1<<20)
	})
}

// BenchmarkBytes1MB measures the throughput of encoding and decoding 1 MB
// of bytes.
func BenchmarkBytes1MB(b *testing.B) {
	benchRoundTrip(b, starlark.Bytes(strings.Repeat("\x00\x01\xfe\xff", 1<<18)), 1<<20)
}

// BenchmarkFunctionWithClosure measures what the driver does once per
// function and worker: encode a function with three helpers and a
// closure over 1,000 ints, and hash the encoding.
func BenchmarkFunctionWithClosure(b *testing.B) {
	s := sender()
	g := s.exec(b, "bench.star", `
K = 3
def h1(x):
    return x + K
def h2(x):
    return h1(x) * 2
def h3(x):
    return h2(x) - 1
def make():
    data = list(range(1000))
    def f(i):
        return h3(data[i]) + h1(i) + h2(i)
    return f
f = make()
`)
	fn := g["f"]
	data := s.encode(b, fn)
	b.Run("encode", func(b *testing.B) {
		b.ReportAllocs()
		b.ReportMetric(float64(len(data)), "bytes/msg")
		for b.Loop() {
			if _, err := s.codec.Encode(fn); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("hash", func(b *testing.B) {
		b.SetBytes(int64(len(data)))
		b.ReportAllocs()
		for b.Loop() {
			serialize.Hash(data)
		}
	})
	b.Run("decode", func(b *testing.B) {
		r := receiver()
		b.ReportAllocs()
		for b.Loop() {
			if _, err := r.codec.Decode(data); err != nil {
				b.Fatal(err)
			}
		}
	})
}
