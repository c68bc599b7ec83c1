package wire

import (
	"bytes"
	"io"
	"testing"
)

// FuzzRecv feeds arbitrary bytes to Recv. It must never panic, its errors
// must be sticky, and every message it accepts must survive being sent back
// unchanged: sending it again gives the same bytes.
func FuzzRecv(f *testing.F) {
	var all bytes.Buffer
	for _, m := range sampleMsgs() {
		if len(m.Body) > 1000 {
			continue // keep the corpus small
		}
		var buf bytes.Buffer
		if err := NewConn(&buf, &buf, Limits{}).Send(m); err != nil {
			f.Fatal(err)
		}
		f.Add(buf.Bytes())
		all.Write(buf.Bytes())
	}
	f.Add(all.Bytes())
	for _, tc := range recvErrorCases {
		if len(tc.input) <= 2000 {
			f.Add(tc.input)
		}
	}

	lim := Limits{MaxFrame: 1 << 16, MaxDepth: 16, MaxElements: 1 << 10}
	f.Fuzz(func(t *testing.T, data []byte) {
		c := NewConn(bytes.NewReader(data), io.Discard, lim)
		for {
			m, err := c.Recv()
			if err != nil {
				if _, err2 := c.Recv(); err2 == nil || err2.Error() != err.Error() {
					t.Fatalf("Recv error %v, then %v", err, err2)
				}
				return
			}
			var buf bytes.Buffer
			echo := NewConn(&buf, &buf, lim)
			if err := echo.Send(m); err != nil {
				t.Fatalf("received %v message cannot be sent: %v", m.Kind, err)
			}
			first := bytes.Clone(buf.Bytes())
			m2, err := echo.Recv()
			if err != nil {
				t.Fatalf("sent %v message cannot be received: %v", m.Kind, err)
			}
			if err := echo.Send(m2); err != nil {
				t.Fatalf("received %v message cannot be sent again: %v", m.Kind, err)
			}
			if !bytes.Equal(buf.Bytes(), first) {
				t.Fatalf("%v message changed on the way:\n% x\n% x", m.Kind, first, buf.Bytes())
			}
		}
	})
}
