package wire

import (
	"testing"

	"github.com/fxamacker/cbor/v2"
)

// benchStream sends m b.N times from one goroutine through an os.Pipe and
// receives it in another.
func benchStream(b *testing.B, m *Msg) {
	a, c := pipeConns(b, Limits{})
	b.ReportAllocs()
	b.ResetTimer()
	errc := make(chan error, 1)
	go func() {
		for range b.N {
			if err := a.Send(m); err != nil {
				errc <- err
				return
			}
		}
		errc <- nil
	}()
	for range b.N {
		if _, err := c.Recv(); err != nil {
			b.Fatal(err)
		}
	}
	if err := <-errc; err != nil {
		b.Fatal(err)
	}
}

// BenchmarkSmallCall measures sending and receiving a Call with a tiny
// body through an os.Pipe.
func BenchmarkSmallCall(b *testing.B) {
	benchStream(b, &Msg{Kind: KindCall, ID: 1, Hash: hash(1), Index: 12345, Body: cbor.RawMessage{0x81, 0x81, 0x01}})
}

// BenchmarkPayload100KB measures one-way throughput of Results with a
// 100 KB body through an os.Pipe.
func BenchmarkPayload100KB(b *testing.B) {
	m := &Msg{Kind: KindResult, ID: 1, Body: bstrArray(100<<10 - 6)}
	b.SetBytes(int64(len(m.Body)))
	benchStream(b, m)
}

// BenchmarkRoundTrip measures the latency of a Call answered by a Result
// through a pair of os.Pipes, one chunk in flight at a time.
func BenchmarkRoundTrip(b *testing.B) {
	driver, worker := pipeConns(b, Limits{})
	go func() {
		for {
			m, err := worker.Recv()
			if err != nil {
				return
			}
			if worker.Send(&Msg{Kind: KindResult, ID: m.ID, Body: cbor.RawMessage{0x81, 0x02}}) != nil {
				return
			}
		}
	}()
	call := &Msg{Kind: KindCall, ID: 1, Hash: hash(1), Body: cbor.RawMessage{0x81, 0x81, 0x01}}
	b.ReportAllocs()
	for b.Loop() {
		if err := driver.Send(call); err != nil {
			b.Fatal(err)
		}
		if _, err := driver.Recv(); err != nil {
			b.Fatal(err)
		}
	}
}
