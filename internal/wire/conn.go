package wire

import (
	"bufio"
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"math"
	"net"
	"reflect"
	"slices"
	"sync"
	"sync/atomic"

	"github.com/fxamacker/cbor/v2"
)

// Defaults for the zero fields of Limits.
const (
	DefaultMaxFrame = 256 << 20 // bytes
	DefaultMaxDepth = 10_240    // levels of CBOR arrays, maps and tags
)

// Limits bounds what a Conn accepts from its peer and what it sends. The
// zero value of a field selects its default; out-of-range values are
// brought into range.
//
// The depth and element limits apply to whole messages, their bodies
// included, so they must be at least as permissive as the limits with which
// the bodies are decoded later.
type Limits struct {
	// MaxFrame is the largest frame payload, in bytes, that Recv accepts
	// and Send produces. Zero means DefaultMaxFrame; a value beyond the
	// range of the 4-byte length field is lowered to that range.
	MaxFrame int

	// MaxDepth is the deepest nesting of CBOR arrays, maps and tags in a
	// message; the message itself is level 1. Zero means
	// DefaultMaxDepth. It is kept within [4, 65535].
	MaxDepth int

	// MaxElements is the largest number of elements of one CBOR array, or
	// of pairs of one map, in a message. Zero means MaxFrame: a frame of n
	// bytes holds fewer than n elements, so by default the frame limit
	// alone decides. It is kept within [16, 2147483647].
	MaxElements int
}

// withDefaults returns lim with defaults and ranges applied.
func (lim Limits) withDefaults() Limits {
	if lim.MaxFrame <= 0 {
		lim.MaxFrame = DefaultMaxFrame
	}
	if uint64(lim.MaxFrame) > math.MaxUint32 {
		lim.MaxFrame = math.MaxUint32
	}
	if lim.MaxDepth <= 0 {
		lim.MaxDepth = DefaultMaxDepth
	}
	lim.MaxDepth = min(max(lim.MaxDepth, 4), 65535)
	if lim.MaxElements <= 0 {
		lim.MaxElements = lim.MaxFrame
	}
	lim.MaxElements = min(max(lim.MaxElements, 16), math.MaxInt32)
	return lim
}

const (
	// flushSize is the amount of buffered output beyond which Send writes
	// even when other sends are waiting.
	flushSize = 64 << 10
	// keepSize is the largest output buffer kept between writes.
	keepSize = 1 << 20
	// readStep is the largest amount of memory allocated for a frame before
	// its bytes arrive, so that a hostile length costs little.
	readStep = 4 << 20
)

// A Conn sends and receives messages over a byte stream.
//
// Send is safe for concurrent use by several goroutines; Recv must be called
// by one goroutine at a time, which may run concurrently with senders. Close
// may be called from any goroutine at any time, and unblocks a pending Send
// or Recv if the underlying stream does so when closed.
type Conn struct {
	r io.Reader // as given to NewConn
	w io.Writer
	// lim holds Limits with defaults applied.
	lim Limits
	em  cbor.UserBufferEncMode
	dm  cbor.DecMode

	// Receiving.
	br   *bufio.Reader
	rerr error // sticky error of recv, without the "wire: " prefix

	// Sending. pending counts the senders waiting for wmu: the sender that
	// finds it zero after encoding its message writes the buffer out, so a
	// burst of messages from several goroutines costs few writes, and no
	// message stays in the buffer once every Send has returned.
	pending atomic.Int32
	wmu     sync.Mutex
	wbuf    bytes.Buffer // frames not written yet
	werr    error        // sticky write error

	closed    atomic.Bool
	closeOnce sync.Once
	closeErr  error
}

// NewConn returns a Conn that receives from r and sends to w, which are
// often the same value (such as a net.Conn). Neither may be nil. If r or w
// also implements io.Closer, Close closes it; if both implement
// SetDeadline(time.Time) error, the handshake functions use it to honour
// their context.
func NewConn(r io.Reader, w io.Writer, lim Limits) *Conn {
	lim = lim.withDefaults()
	em, err := cbor.CoreDetEncOptions().UserBufferEncMode()
	if err != nil {
		panic(fmt.Sprintf("wire: invalid encoding options: %v", err)) // a bug in this package
	}
	dm, err := cbor.DecOptions{
		DupMapKey:        cbor.DupMapKeyEnforcedAPF,
		MaxNestedLevels:  lim.MaxDepth,
		MaxArrayElements: lim.MaxElements,
		MaxMapPairs:      lim.MaxElements,
		IndefLength:      cbor.IndefLengthForbidden,
		// Text fields carry Starlark strings, which may hold any bytes.
		UTF8: cbor.UTF8DecodeInvalid,
		// Unknown keys are ignored (see the package documentation).
	}.DecMode()
	if err != nil {
		panic(fmt.Sprintf("wire: invalid decoding options: %v", err)) // a bug in withDefaults
	}
	return &Conn{
		r:   r,
		w:   w,
		lim: lim,
		em:  em,
		dm:  dm,
		br:  bufio.NewReaderSize(r, 64<<10),
	}
}

// Limits returns the limits of c, with defaults applied.
func (c *Conn) Limits() Limits { return c.lim }

// Send encodes m and writes it to the stream. It returns an error without
// sending anything if m breaks the rules of its kind (see Msg) or its
// frame would exceed Limits.MaxFrame. A failed write breaks the sending
// side of c: every later Send returns the same error.
//
// Send returns once m has been written to the underlying stream, or handed
// to another goroutine's Send that is about to write it together with its
// own message. Send is safe for concurrent use.
func (c *Conn) Send(m *Msg) error {
	if err := c.send(m); err != nil {
		return fmt.Errorf("wire: send: %w", err)
	}
	return nil
}

func (c *Conn) send(m *Msg) error {
	if err := m.check(); err != nil {
		return err
	}
	if len(m.Body) > c.lim.MaxFrame {
		return fmt.Errorf("%v message with a body of %d bytes exceeds frame limit of %d", m.Kind, len(m.Body), c.lim.MaxFrame)
	}

	c.pending.Add(1)
	c.wmu.Lock()
	defer c.wmu.Unlock()
	c.pending.Add(-1)

	if c.closed.Load() {
		return net.ErrClosed
	}
	if c.werr != nil {
		return c.werr
	}
	err := c.appendFrame(m)
	// Write out the buffer unless another sender is waiting, which will
	// then do it. This holds even if this message could not be encoded.
	if c.wbuf.Len() > 0 && (c.pending.Load() == 0 || c.wbuf.Len() >= flushSize) {
		c.flush()
	}
	if err != nil {
		return err
	}
	return c.werr
}

// appendFrame appends m as a frame to c.wbuf, or leaves c.wbuf as it was
// and returns an error. c.wmu must be held.
func (c *Conn) appendFrame(m *Msg) error {
	start := c.wbuf.Len()
	c.wbuf.Write([]byte{0, 0, 0, 0})
	// Room for the whole message, so that the encoder need not grow it.
	c.wbuf.Grow(len(m.Body) + len(m.Hash) + len(m.Nonce) + len(m.MAC) + len(m.Text) + len(m.Message) + errSize(m.Err) + 128)
	if err := c.em.MarshalToBuffer(m, &c.wbuf); err != nil {
		c.wbuf.Truncate(start)
		return fmt.Errorf("encoding %v message: %v", m.Kind, err)
	}
	n := c.wbuf.Len() - start - 4
	if n > c.lim.MaxFrame {
		c.wbuf.Truncate(start)
		return fmt.Errorf("frame of %d bytes exceeds limit of %d", n, c.lim.MaxFrame)
	}
	binary.BigEndian.PutUint32(c.wbuf.Bytes()[start:], uint32(n))
	return nil
}

func errSize(e *TaskError) int {
	if e == nil {
		return 0
	}
	return len(e.Kind) + len(e.Message) + len(e.Traceback) + len(e.Args) + 16
}

// flush writes c.wbuf to the stream. c.wmu must be held.
func (c *Conn) flush() {
	if _, err := c.w.Write(c.wbuf.Bytes()); err != nil {
		if c.closed.Load() {
			err = net.ErrClosed
		}
		c.werr = err
	}
	if c.wbuf.Cap() > keepSize {
		c.wbuf = bytes.Buffer{}
	} else {
		c.wbuf.Reset()
	}
}

// Recv reads and decodes the next message. At the end of the stream, on a
// frame boundary, it returns io.EOF. Any other error (a short read, a frame
// beyond Limits.MaxFrame, a payload that is not a valid message, a read
// error) breaks the receiving side of c: Recv returns the same error from
// then on.
//
// Recv must not be called by several goroutines at once.
func (c *Conn) Recv() (*Msg, error) {
	m, err := c.recv()
	if err != nil {
		if err == io.EOF {
			return nil, io.EOF
		}
		return nil, fmt.Errorf("wire: %w", err)
	}
	return m, nil
}

// recv is Recv with errors lacking the "wire: " prefix.
func (c *Conn) recv() (*Msg, error) {
	if c.rerr != nil {
		return nil, c.rerr
	}
	m, err := c.readMsg()
	if err != nil {
		if c.closed.Load() && !errors.Is(err, io.EOF) {
			err = fmt.Errorf("read: %w", net.ErrClosed)
		}
		c.rerr = err
		return nil, err
	}
	return m, nil
}

func (c *Conn) readMsg() (*Msg, error) {
	var hdr [4]byte
	if n, err := io.ReadFull(c.br, hdr[:]); err != nil {
		switch err {
		case io.EOF:
			return nil, io.EOF
		case io.ErrUnexpectedEOF:
			return nil, fmt.Errorf("truncated frame: stream ended after %d of 4 length bytes: %w", n, err)
		}
		return nil, fmt.Errorf("read: %w", err)
	}
	size := binary.BigEndian.Uint32(hdr[:])
	if size == 0 {
		return nil, errors.New("empty frame")
	}
	if uint64(size) > uint64(c.lim.MaxFrame) {
		return nil, fmt.Errorf("frame of %d bytes exceeds limit of %d", size, c.lim.MaxFrame)
	}
	frame, err := c.readPayload(int(size))
	if err != nil {
		return nil, err
	}

	// Decode into recvMsg, whose Body refers to the frame instead of
	// copying it: the frame is not used for anything else.
	var d recvMsg
	if err := c.dm.Unmarshal(frame, &d); err != nil {
		return nil, fmt.Errorf("frame of %d bytes is not a valid message: %v", size, err)
	}
	m := &d.Msg
	m.Body = cbor.RawMessage(d.Body)
	if err := m.check(); err != nil {
		return nil, err
	}
	return m, nil
}

// readPayload reads a frame payload of n bytes.
func (c *Conn) readPayload(n int) ([]byte, error) {
	buf := make([]byte, min(n, readStep))
	got := 0
	for {
		k, err := io.ReadFull(c.br, buf[got:])
		got += k
		if err != nil {
			if err == io.EOF || err == io.ErrUnexpectedEOF {
				return nil, fmt.Errorf("truncated frame: stream ended after %d of %d bytes: %w", got, n, io.ErrUnexpectedEOF)
			}
			return nil, fmt.Errorf("read: %w", err)
		}
		if got == n {
			return buf, nil
		}
		// Allocate more only as the bytes arrive.
		size := min(n, 2*len(buf))
		buf = slices.Grow(buf, size-len(buf))[:size]
	}
}

// recvMsg is the type into which Recv decodes a message. Its Body field
// shadows Msg.Body (a field at a shallower depth wins), so the body refers to
// the frame rather than being copied out of it.
type recvMsg struct {
	Msg
	Body frameRef `cbor:"7,keyasint,omitempty"`
}

// frameRef is a CBOR item held by reference into a frame.
type frameRef []byte

// UnmarshalCBOR implements cbor.Unmarshaler; data is a well-formed CBOR item.
func (r *frameRef) UnmarshalCBOR(data []byte) error {
	*r = data[:len(data):len(data)] // a full slice expression, so append copies
	return nil
}

// Close closes the reader and the writer given to NewConn, once each, if they
// implement io.Closer, and returns the first error. Later calls return the
// same result. A Send after Close fails; a Recv after Close returns what
// reading the closed stream gives (often an error, or io.EOF). Close is safe
// for concurrent use.
func (c *Conn) Close() error {
	c.closeOnce.Do(func() {
		c.closed.Store(true)
		var errs []error
		for _, x := range c.ends() {
			if cl, ok := x.(io.Closer); ok {
				if err := cl.Close(); err != nil {
					errs = append(errs, err)
				}
			}
		}
		if len(errs) > 0 {
			c.closeErr = fmt.Errorf("wire: close: %w", errs[0])
		}
	})
	return c.closeErr
}

// ends returns the reader and the writer, or just one of them if they are
// the same value.
func (c *Conn) ends() []any {
	r, w := reflect.ValueOf(c.r), reflect.ValueOf(c.w)
	if r.Type() == w.Type() && r.Comparable() && w.Comparable() && r.Equal(w) {
		return []any{c.r}
	}
	return []any{c.r, c.w}
}
