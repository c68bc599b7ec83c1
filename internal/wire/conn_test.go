package wire

import (
	"bytes"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"math"
	"net"
	"os"
	"reflect"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/fxamacker/cbor/v2"
)

// sampleMsgs returns one or more valid messages of every kind.
func sampleMsgs() []*Msg {
	return []*Msg{
		{Kind: KindHello, Version: Version, Info: &Info{Role: RoleWorker, PID: 4242, Hostname: "h1", GOOS: "linux", GOARCH: "amd64", NumCPU: 2, Version: "v0.1.0"}},
		{Kind: KindHello, Version: Version, Info: &Info{Role: RoleDriver}, Nonce: hash(1), MAC: hash(2)},
		{Kind: KindDefine, Hash: hash(3), Body: cbor.RawMessage{0x82, 0x61, 'f', 0x01}},
		{Kind: KindCall, ID: 7, Hash: hash(3), Body: cbor.RawMessage{0x82, 0x81, 0x01, 0x81, 0x02}},
		{Kind: KindCall, ID: math.MaxUint64, Hash: hash(4), Index: math.MaxInt64, Body: bstrArray(200_000)},
		{Kind: KindResult, ID: 7, Body: cbor.RawMessage{0x82, 0x01, 0x02}},
		{Kind: KindResult, ID: 7, Body: append(bytes.Repeat([]byte{0x81}, 10_000), 0x01)}, // 10,000 nested lists
		{Kind: KindResult, ID: 8, Err: &TaskError{Index: 1001, Kind: FailError, Message: "division by zero",
			Traceback: "Traceback (most recent call last):\n  f.star:3:9: in f\nError: division by zero", Args: "(1, 0)"}},
		{Kind: KindResult, ID: 9, Err: &TaskError{Kind: FailCancelled, Message: "cancelled"}},
		{Kind: KindOutput, ID: 7, Text: "hello\nworld\n"},
		{Kind: KindOutput, ID: 7, Text: "not UTF-8: \xff\xfe\n"},
		{Kind: KindCancel, ID: 7},
		{Kind: KindCancel},
		{Kind: KindPing, Seq: 1},
		{Kind: KindPong, Seq: 1},
		{Kind: KindBye},
		{Kind: KindError, Message: "authentication failed"},
	}
}

func TestRoundTrip(t *testing.T) {
	for _, tr := range transports {
		t.Run(tr.name, func(t *testing.T) {
			a, b := tr.pair(t, Limits{})
			msgs := sampleMsgs()
			errc := make(chan error, 1)
			go func() {
				for _, m := range msgs {
					if err := a.Send(m); err != nil {
						errc <- err
						return
					}
				}
				errc <- a.Send(&Msg{Kind: KindBye})
			}()
			for _, want := range msgs {
				got, err := b.Recv()
				if err != nil {
					t.Fatalf("Recv: %v (want %v message)", err, want.Kind)
				}
				if !reflect.DeepEqual(got, want) {
					t.Errorf("got %+v\nwant %+v", got, want)
				}
			}
			if m, err := b.Recv(); err != nil || m.Kind != KindBye {
				t.Fatalf("Recv = %v, %v; want Bye", m, err)
			}
			if err := <-errc; err != nil {
				t.Fatalf("Send: %v", err)
			}
		})
	}
}

// TestEncoding pins the bytes of a few messages: they are the protocol.
func TestEncoding(t *testing.T) {
	for _, tc := range []struct {
		msg  *Msg
		want string // hex
	}{
		{&Msg{Kind: KindBye}, "00000003" + "a1" + "0109"},
		{&Msg{Kind: KindPing, Seq: 5}, "00000005" + "a2" + "0107" + "0c05"},
		{&Msg{Kind: KindCall, ID: 1, Hash: hash(0xaa), Index: 2, Body: cbor.RawMessage{0x80}},
			"0000002c" + "a5" + "0103" + "065820" + strings.Repeat("aa", 32) + "0780" + "0801" + "0902"},
		{&Msg{Kind: KindResult, ID: 3, Err: &TaskError{Index: 4, Kind: "error", Message: "m"}},
			"00000013" + "a3" + "0104" + "0803" + "0aa3" + "0104" + "02656572726f72" + "03616d"},
	} {
		var buf bytes.Buffer
		c := NewConn(&buf, &buf, Limits{})
		if err := c.Send(tc.msg); err != nil {
			t.Fatalf("Send(%v): %v", tc.msg.Kind, err)
		}
		if got := hex.EncodeToString(buf.Bytes()); got != tc.want {
			t.Errorf("%v message encodes as\n%s, want\n%s", tc.msg.Kind, got, tc.want)
		}
	}
}

func TestSendInvalid(t *testing.T) {
	for _, tc := range []struct {
		msg  *Msg
		want string
	}{
		{&Msg{}, "unknown kind 0"},
		{&Msg{Kind: 99}, "unknown kind 99"},
		{&Msg{Kind: KindHello}, "invalid Hello message: protocol version 0"},
		{&Msg{Kind: KindDefine, Hash: hash(1)[:31], Body: cbor.RawMessage{0x01}}, "invalid Define message: hash is 31 bytes, want 32"},
		{&Msg{Kind: KindDefine, Hash: hash(1)}, "invalid Define message: no body"},
		{&Msg{Kind: KindCall, Hash: hash(1), Body: cbor.RawMessage{0x80}}, "invalid Call message: chunk id 0"},
		{&Msg{Kind: KindCall, ID: 1, Hash: hash(1), Index: -1, Body: cbor.RawMessage{0x80}}, "negative task index -1"},
		{&Msg{Kind: KindCall, ID: 1, Hash: hash(1), Body: cbor.RawMessage{0x01}}, "body is a CBOR item of major type 0, want an array (4)"},
		{&Msg{Kind: KindCall, ID: 1, Hash: hash(1), Body: cbor.RawMessage{0x82, 0x01}}, "encoding Call message: cbor: error calling MarshalCBOR"},
		{&Msg{Kind: KindCall, ID: 1, Hash: hash(1), Body: cbor.RawMessage{0x80, 0x80}}, "encoding Call message"},
		{&Msg{Kind: KindCall, ID: 1, Hash: hash(1), Body: cbor.RawMessage{0x9f, 0xff}}, "indefinite-length"},
		{&Msg{Kind: KindResult, ID: 1}, "invalid Result message: no body"},
		{&Msg{Kind: KindResult, ID: 1, Body: cbor.RawMessage{0x80}, Err: &TaskError{}}, "both a body and an error"},
		{&Msg{Kind: KindResult, ID: 1, Err: &TaskError{Index: -2}}, "negative task index -2 in error"},
		{&Msg{Kind: KindOutput, Text: "x"}, "invalid Output message: chunk id 0"},
		{&Msg{Kind: KindError}, "invalid Error message: no message"},
		{&Msg{Kind: KindDefine, Hash: hash(1), Body: bstrArray(2000)}, "Define message with a body of 2006 bytes exceeds frame limit of 1000"},
		{&Msg{Kind: KindDefine, Hash: hash(1), Body: bstrArray(980)}, "frame of 1025 bytes exceeds limit of 1000"},
	} {
		a, b := pipeConns(t, Limits{MaxFrame: 1000})
		err := a.Send(tc.msg)
		if err == nil || !strings.Contains(err.Error(), tc.want) || !strings.HasPrefix(err.Error(), "wire: send: ") {
			t.Errorf("Send(%v message) = %v, want error containing %q", tc.msg.Kind, err, tc.want)
			continue
		}
		// Nothing was written and the Conn still works.
		if err := a.Send(&Msg{Kind: KindPing, Seq: 1}); err != nil {
			t.Fatalf("Send after invalid message: %v", err)
		}
		if m, err := b.Recv(); err != nil || m.Kind != KindPing {
			t.Errorf("after invalid %v message: Recv = %+v, %v; want the Ping", tc.msg.Kind, m, err)
		}
	}
}

// recvErrorCases are byte streams that Recv must reject, with the error
// they must produce. The limits are those of recvErrorLimits.
var recvErrorCases = []struct {
	name  string
	input []byte
	want  string
}{
	{"oversize", []byte{0x11, 0xe1, 0xa3, 0x00, 0xa1, 0x01}, "wire: frame of 300000000 bytes exceeds limit of 268435456"},
	{"max uint32", []byte{0xff, 0xff, 0xff, 0xff}, "wire: frame of 4294967295 bytes exceeds limit of 268435456"},
	{"truncated header", []byte{0x00, 0x00}, "wire: truncated frame: stream ended after 2 of 4 length bytes"},
	{"truncated payload", []byte{0x00, 0x00, 0x00, 0x10, 0xa1, 0x01}, "wire: truncated frame: stream ended after 2 of 16 bytes"},
	{"truncated big payload", append([]byte{0x00, 0x30, 0x00, 0x00}, make([]byte, 1<<20+5)...), "wire: truncated frame: stream ended after 1048581 of 3145728 bytes"},
	{"second frame truncated", append(frame([]byte{0xa1, 0x01, 0x09}), 0x00, 0x00, 0x00, 0x05, 0xa1), "wire: truncated frame: stream ended after 1 of 5 bytes"},
	{"empty frame", []byte{0, 0, 0, 0}, "wire: empty frame"},
	{"garbage", []byte("GET / HTTP/1.1\r\nHost: example\r\n\r\n"), "wire: frame of 1195725856 bytes exceeds limit"},
	{"not CBOR", frame([]byte{0xff, 0x00, 0x13}), "wire: frame of 3 bytes is not a valid message: cbor:"},
	{"not a map", frame([]byte{0x80}), "wire: frame of 1 bytes is not a valid message: cbor: cannot unmarshal array"},
	{"truncated CBOR", frame([]byte{0xa2, 0x01, 0x07, 0x0c}), "is not a valid message: unexpected EOF"},
	{"trailing data", frame([]byte{0xa1, 0x01, 0x09, 0x00}), "is not a valid message: cbor: 1 bytes of extraneous data"},
	{"duplicate key", frame([]byte{0xa3, 0x01, 0x07, 0x0c, 0x05, 0x0c, 0x06}), "duplicate map key"},
	{"kind as text", frame([]byte{0xa1, 0x01, 0x61, 'x'}), "cannot unmarshal UTF-8 text string into Go struct field"},
	{"negative id", frame([]byte{0xa2, 0x01, 0x06, 0x08, 0x20}), "cannot unmarshal negative integer"},
	{"huge index", frame([]byte{0xa2, 0x01, 0x06, 0x09, 0x1b, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff}), "18446744073709551615 overflows int64"},
	{"no kind", frame([]byte{0xa0}), "wire: invalid message: unknown kind 0"},
	{"unknown kind", frame([]byte{0xa1, 0x01, 0x18, 0x63}), "wire: invalid message: unknown kind 99"},
	{"short hash", frame([]byte{0xa4, 0x01, 0x03, 0x06, 0x43, 1, 2, 3, 0x07, 0x80, 0x08, 0x01}), "wire: invalid Call message: hash is 3 bytes, want 32"},
	{"result without body", frame([]byte{0xa2, 0x01, 0x04, 0x08, 0x01}), "wire: invalid Result message: no body"},
	{"hello version 0", frame([]byte{0xa1, 0x01, 0x01}), "wire: invalid Hello message: protocol version 0"},
	{"indefinite length", frame([]byte{0xa3, 0x01, 0x04, 0x07, 0x9f, 0xff, 0x08, 0x01}), "indefinite-length array isn't allowed"},
	{"too deep", frame([]byte{0xa3, 0x01, 0x04, 0x07, 0x81, 0x81, 0x81, 0x81, 0x80, 0x08, 0x01}), "exceeded max nested level 5"},
	{"too many elements", frame(append([]byte{0xa3, 0x01, 0x04, 0x08, 0x01, 0x07, 0x91}, make([]byte, 17)...)), "exceeded max number of elements 16"},
	{"frame over custom limit", frame(append([]byte{0xa3, 0x01, 0x04, 0x08, 0x01, 0x07, 0x59, 0x04, 0x00}, make([]byte, 1024)...)), "wire: frame of 1033 bytes exceeds limit of 1024"},
}

// recvErrorLimits are the limits under which recvErrorCases are read; the
// large cases are checked against DefaultMaxFrame.
func recvErrorLimits(input []byte) Limits {
	if len(input) >= 4 && (input[0] != 0 || input[1] != 0) {
		return Limits{MaxDepth: 5, MaxElements: 16}
	}
	return Limits{MaxFrame: 1024, MaxDepth: 5, MaxElements: 16}
}

func TestRecvErrors(t *testing.T) {
	for _, tc := range recvErrorCases {
		t.Run(tc.name, func(t *testing.T) {
			r, w, err := os.Pipe()
			if err != nil {
				t.Fatal(err)
			}
			done := make(chan struct{})
			go func() {
				defer close(done)
				w.Write(tc.input) // fails with EPIPE if Recv stops reading first
				w.Close()
			}()
			c := NewConn(r, io.Discard, recvErrorLimits(tc.input))
			defer func() { c.Close(); <-done }()
			r.SetDeadline(time.Now().Add(time.Minute)) // a stuck Recv fails instead of hanging

			var m *Msg
			for err == nil {
				m, err = c.Recv()
				if err == nil && m.Kind != KindBye {
					t.Fatalf("Recv returned %+v, want an error", m)
				}
			}
			if !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("Recv error = %q, want %q", err, tc.want)
			}
			// The connection stays broken.
			if _, err2 := c.Recv(); err2 == nil || err2.Error() != err.Error() {
				t.Errorf("second Recv error = %v, want %v", err2, err)
			}
		})
	}
}

func TestRecvEOF(t *testing.T) {
	r, w, err := os.Pipe()
	if err != nil {
		t.Fatal(err)
	}
	c := NewConn(r, io.Discard, Limits{})
	defer c.Close()
	w.Write(frame([]byte{0xa1, 0x01, 0x09}))
	w.Close()
	if m, err := c.Recv(); err != nil || m.Kind != KindBye {
		t.Fatalf("Recv = %+v, %v; want Bye", m, err)
	}
	for range 2 {
		if m, err := c.Recv(); err != io.EOF {
			t.Fatalf("Recv at end = %+v, %v; want io.EOF", m, err)
		}
	}
}

// TestUnknownKeys checks that a message with keys this version does not
// know is accepted, so that fields can be added compatibly.
func TestUnknownKeys(t *testing.T) {
	// {1: 7, 12: 5, 99: "new", -1: [1]}
	payload := []byte{0xa4, 0x01, 0x07, 0x0c, 0x05, 0x18, 0x63, 0x63, 'n', 'e', 'w', 0x20, 0x81, 0x01}
	c := NewConn(bytes.NewReader(frame(payload)), io.Discard, Limits{})
	m, err := c.Recv()
	if err != nil {
		t.Fatal(err)
	}
	if want := (&Msg{Kind: KindPing, Seq: 5}); !reflect.DeepEqual(m, want) {
		t.Errorf("got %+v, want %+v", m, want)
	}
}

// TestBodyOwnership checks that received bodies are independent of each
// other and of later messages, and that appending to one is harmless.
func TestBodyOwnership(t *testing.T) {
	a, b := pipeConns(t, Limits{})
	go func() {
		for i := range 3 {
			a.Send(&Msg{Kind: KindResult, ID: uint64(i + 1), Body: cbor.RawMessage{0x82, byte(i), byte(i)}})
		}
	}()
	var got []*Msg
	for range 3 {
		m, err := b.Recv()
		if err != nil {
			t.Fatal(err)
		}
		got = append(got, m)
	}
	_ = append(got[0].Body, 0xee, 0xee, 0xee, 0xee)
	for i, m := range got {
		if want := (cbor.RawMessage{0x82, byte(i), byte(i)}); !bytes.Equal(m.Body, want) || m.ID != uint64(i+1) {
			t.Errorf("message %d: ID %d, body % x; want ID %d, body % x", i, m.ID, m.Body, i+1, want)
		}
	}
}

// TestBodyNotCopied checks that a received body refers to its frame instead
// of being copied out of it, as recvMsg intends.
func TestBodyNotCopied(t *testing.T) {
	var buf bytes.Buffer
	c := NewConn(&buf, &buf, Limits{})
	if err := c.Send(&Msg{Kind: KindResult, ID: 1, Body: bstrArray(1000)}); err != nil {
		t.Fatal(err)
	}
	payload := buf.Bytes()[4:]
	var d recvMsg
	if err := c.dm.Unmarshal(payload, &d); err != nil {
		t.Fatal(err)
	}
	// The payload starts a3 01 04 07: {1: 4, 7: body, 8: 1}.
	if len(d.Body) != 1006 || &d.Body[0] != &payload[4] {
		t.Errorf("body of %d bytes was copied out of the frame", len(d.Body))
	}
	if len(d.Msg.Body) != 0 {
		t.Errorf("Msg.Body was decoded too (%d bytes)", len(d.Msg.Body))
	}
}

// TestConcurrentSend sends from many goroutines at once and checks that
// every message arrives intact and in per-sender order, and that none is left
// in the buffer once the senders are done.
func TestConcurrentSend(t *testing.T) {
	const senders, perSender = 16, 300
	for _, tr := range transports {
		t.Run(tr.name, func(t *testing.T) {
			a, b := tr.pair(t, Limits{})
			var wg sync.WaitGroup
			errc := make(chan error, senders)
			for s := range senders {
				wg.Go(func() {
					for i := range perSender {
						m := &Msg{Kind: KindOutput, ID: uint64(s + 1), Text: fmt.Sprintf("sender %d line %d\n", s, i)}
						if i%3 == 0 {
							// Bodies of varied size, up to several buffers.
							m = &Msg{Kind: KindCall, ID: uint64(s + 1), Hash: hash(byte(s)), Index: int64(i), Body: bstrArray(i * 97 % 3000 * (i % 7))}
						}
						if err := a.Send(m); err != nil {
							errc <- err
							return
						}
					}
				})
			}

			next := make([]int, senders)
			for n := 0; n < senders*perSender; n++ {
				m, err := b.Recv()
				if err != nil {
					t.Fatalf("Recv after %d messages: %v", n, err)
				}
				s := int(m.ID) - 1
				if s < 0 || s >= senders {
					t.Fatalf("message with unexpected ID: %+v", m)
				}
				i := next[s]
				next[s]++
				switch {
				case i%3 == 0:
					if m.Kind != KindCall || m.Index != int64(i) || !bytes.Equal(m.Hash, hash(byte(s))) || !bytes.Equal(m.Body, bstrArray(i*97%3000*(i%7))) {
						t.Fatalf("sender %d message %d: got %v message with index %d and %d-byte body", s, i, m.Kind, m.Index, len(m.Body))
					}
				default:
					if want := fmt.Sprintf("sender %d line %d\n", s, i); m.Kind != KindOutput || m.Text != want {
						t.Fatalf("sender %d message %d: got %v message %q, want Output %q", s, i, m.Kind, m.Text, want)
					}
				}
			}
			wg.Wait()
			close(errc)
			for err := range errc {
				t.Error(err)
			}
		})
	}
}

func TestClose(t *testing.T) {
	for _, tr := range transports {
		t.Run(tr.name, func(t *testing.T) {
			a, _ := tr.pair(t, Limits{})
			errc := make(chan error, 1)
			go func() {
				_, err := a.Recv()
				errc <- err
			}()
			time.Sleep(10 * time.Millisecond) // usually lets Recv block first; the test holds either way
			if err := a.Close(); err != nil {
				t.Fatalf("Close: %v", err)
			}
			if err := <-errc; err == nil {
				t.Errorf("Recv on closed Conn succeeded")
			}
			if err := a.Close(); err != nil {
				t.Errorf("second Close: %v", err)
			}
			err := a.Send(&Msg{Kind: KindBye})
			if !errors.Is(err, net.ErrClosed) {
				t.Errorf("Send after Close = %v, want net.ErrClosed", err)
			}
		})
	}
}

// TestPeerGone checks that Send reports a peer that has closed its end,
// and keeps reporting it.
func TestPeerGone(t *testing.T) {
	a, b := pipeConns(t, Limits{})
	b.Close()
	var err error
	for i := 0; err == nil && i < 10; i++ {
		err = a.Send(&Msg{Kind: KindBye})
	}
	if err == nil || !strings.Contains(err.Error(), "broken pipe") {
		t.Fatalf("Send to closed pipe = %v, want broken pipe", err)
	}
	if err2 := a.Send(&Msg{Kind: KindBye}); err2 == nil || err2.Error() != err.Error() {
		t.Errorf("second Send = %v, want %v", err2, err)
	}
}

func TestLimitsDefaults(t *testing.T) {
	for _, tc := range []struct{ in, want Limits }{
		{Limits{}, Limits{MaxFrame: DefaultMaxFrame, MaxDepth: DefaultMaxDepth, MaxElements: DefaultMaxFrame}},
		{Limits{MaxFrame: 1000, MaxDepth: 1, MaxElements: 1}, Limits{MaxFrame: 1000, MaxDepth: 4, MaxElements: 16}},
		{Limits{MaxFrame: 1 << 40, MaxDepth: 1 << 20}, Limits{MaxFrame: math.MaxUint32, MaxDepth: 65535, MaxElements: math.MaxInt32}},
	} {
		if got := NewConn(bytes.NewReader(nil), io.Discard, tc.in).Limits(); got != tc.want {
			t.Errorf("NewConn(%+v).Limits() = %+v, want %+v", tc.in, got, tc.want)
		}
	}
}

func TestTaskErrorString(t *testing.T) {
	for _, tc := range []struct {
		err  *TaskError
		want string
	}{
		{&TaskError{Index: 3, Kind: FailError, Message: "division by zero", Args: "(1, 0)", Traceback: "tb"}, "task 3 (args (1, 0)): error: division by zero"},
		{&TaskError{Index: 0, Message: "boom"}, "task 0: error: boom"},
		{&TaskError{Index: 7, Kind: FailTimeout, Message: "exceeded 1s"}, "task 7: timeout: exceeded 1s"},
	} {
		if got := tc.err.Error(); got != tc.want {
			t.Errorf("Error() = %q, want %q", got, tc.want)
		}
	}
}

func TestKindString(t *testing.T) {
	for k, want := range map[Kind]string{KindHello: "Hello", KindError: "Error", KindCall: "Call", 0: "Kind(0)", 11: "Kind(11)", -1: "Kind(-1)"} {
		if got := k.String(); got != want {
			t.Errorf("Kind(%d).String() = %q, want %q", int(k), got, want)
		}
	}
}
