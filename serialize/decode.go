package serialize

import (
	"encoding/binary"
	"fmt"
	"math"
	"math/big"
	"unicode/utf8"

	"go.starlark.net/starlark"
	"go.starlark.net/starlarkstruct"
)

// A DecodeError reports malformed or over-limit input.
type DecodeError struct {
	Offset int
	Msg    string
}

func (e *DecodeError) Error() string {
	return fmt.Sprintf("serialize: decode at byte %d: %s", e.Offset, e.Msg)
}

// A Decoder reads values from one message. After an error it must not be
// used again. It is not safe for concurrent use.
type Decoder struct {
	c       *Codec
	data    []byte
	off     int
	depth   int
	items   int
	shared  []starlark.Value
	scratch [9]byte
}

// NewDecoder returns a decoder for one message.
func (c *Codec) NewDecoder(data []byte) *Decoder { return &Decoder{c: c, data: data} }

func (d *Decoder) errorf(format string, args ...any) error {
	return &DecodeError{Offset: d.off, Msg: fmt.Sprintf(format, args...)}
}

// End reports an error unless all input has been consumed.
func (d *Decoder) End() error {
	if d.off != len(d.data) {
		return d.errorf("%d trailing bytes", len(d.data)-d.off)
	}
	return nil
}

// More reports whether input remains.
func (d *Decoder) More() bool { return d.off < len(d.data) }

// head reads an item head: major type, additional info and argument.
func (d *Decoder) head() (major byte, info byte, arg uint64, err error) {
	if len(d.data) > d.c.limits.MaxSize {
		return 0, 0, 0, d.errorf("message of %d bytes exceeds limit of %d", len(d.data), d.c.limits.MaxSize)
	}
	if d.off >= len(d.data) {
		return 0, 0, 0, d.errorf("unexpected end of input")
	}
	b := d.data[d.off]
	d.off++
	major, info = b>>5, b&0x1f
	var n int
	switch {
	case info < 24:
		return major, info, uint64(info), nil
	case info == 24:
		n = 1
	case info == 25:
		n = 2
	case info == 26:
		n = 4
	case info == 27:
		n = 8
	default:
		return 0, 0, 0, d.errorf("unsupported additional info %d (indefinite lengths are not used)", info)
	}
	if len(d.data)-d.off < n {
		return 0, 0, 0, d.errorf("unexpected end of input")
	}
	p := d.data[d.off : d.off+n]
	d.off += n
	switch n {
	case 1:
		arg = uint64(p[0])
	case 2:
		arg = uint64(binary.BigEndian.Uint16(p))
	case 4:
		arg = uint64(binary.BigEndian.Uint32(p))
	default:
		arg = binary.BigEndian.Uint64(p)
	}
	if major != majorSimple && !shortest(info, arg) {
		return 0, 0, 0, d.errorf("non-canonical integer encoding")
	}
	return major, info, arg, nil
}

// shortest reports whether arg was encoded in its shortest form, as
// deterministic encoding requires.
func shortest(info byte, arg uint64) bool {
	switch info {
	case 24:
		return arg >= 24
	case 25:
		return arg > math.MaxUint8
	case 26:
		return arg > math.MaxUint16
	case 27:
		return arg > math.MaxUint32
	}
	return true
}

// count charges one value against the item limit.
func (d *Decoder) count() error {
	d.items++
	if d.items > d.c.limits.MaxItems {
		return d.errorf("more than %d values in one message", d.c.limits.MaxItems)
	}
	return nil
}

// maxPrealloc bounds the capacity allocated ahead for a container's
// declared length: nested containers each declaring a huge length must not
// make the decoder allocate more than the input justifies.
const maxPrealloc = 64

// length validates a declared length against the remaining input: every
// element takes at least minSize bytes, so no declared length can make us
// allocate more than the input justifies.
func (d *Decoder) length(arg uint64, minSize int) (int, error) {
	if arg > uint64(len(d.data)-d.off)/uint64(minSize) {
		return 0, d.errorf("length %d exceeds the remaining %d bytes", arg, len(d.data)-d.off)
	}
	return int(arg), nil
}

// ArrayHeader reads the head of an array and returns its length.
func (d *Decoder) ArrayHeader() (int, error) { return d.arrayHeader() }

func (d *Decoder) arrayHeader() (int, error) {
	major, _, arg, err := d.head()
	if err != nil {
		return 0, err
	}
	if major != majorArray {
		d.off--
		return 0, d.errorf("got major type %d, want array", major)
	}
	return d.length(arg, 1)
}

func (d *Decoder) text() (string, error) {
	major, _, arg, err := d.head()
	if err != nil {
		return "", err
	}
	if major != majorText {
		return "", d.errorf("got major type %d, want text", major)
	}
	n, err := d.length(arg, 1)
	if err != nil {
		return "", err
	}
	s := string(d.data[d.off : d.off+n])
	d.off += n
	if !utf8.ValidString(s) {
		return "", d.errorf("text string is not valid UTF-8")
	}
	return s, nil
}

func (d *Decoder) uint() (uint64, error) {
	major, _, arg, err := d.head()
	if err != nil {
		return 0, err
	}
	if major != majorUint {
		return 0, d.errorf("got major type %d, want unsigned integer", major)
	}
	return arg, nil
}

func (d *Decoder) bool() (bool, error) {
	if d.off < len(d.data) {
		switch d.data[d.off] {
		case 0xf4:
			d.off++
			return false, nil
		case 0xf5:
			d.off++
			return true, nil
		}
	}
	return false, d.errorf("want boolean")
}

func (d *Decoder) int64() (int64, error) {
	v, err := d.Value()
	if err != nil {
		return 0, err
	}
	i, ok := v.(starlark.Int)
	if !ok {
		return 0, d.errorf("got %s, want int", v.Type())
	}
	x, ok := i.Int64()
	if !ok {
		return 0, d.errorf("int out of range")
	}
	return x, nil
}

// Args reads one task's arguments: an array of positional arguments, or
// the kwargs tag followed by [positional array, flat name, value array].
// The results are not frozen.
func (d *Decoder) Args() (starlark.Tuple, []starlark.Tuple, error) {
	kw := false
	if d.off+2 < len(d.data) && d.data[d.off] == 0xd9 && binary.BigEndian.Uint16(d.data[d.off+1:]) == tagKwargs {
		d.off += 3
		kw = true
		n, err := d.arrayHeader()
		if err != nil {
			return nil, nil, err
		}
		if n != 2 {
			return nil, nil, d.errorf("keyword call has %d parts, want 2", n)
		}
	}
	v, err := d.Value()
	if err != nil {
		return nil, nil, err
	}
	args, ok := v.(starlark.Tuple)
	if !ok {
		return nil, nil, d.errorf("arguments are a %s, want an array", v.Type())
	}
	if !kw {
		return args, nil, nil
	}
	n, err := d.arrayHeader()
	if err != nil {
		return nil, nil, err
	}
	if n%2 != 0 {
		return nil, nil, d.errorf("odd keyword argument array")
	}
	kwargs := make([]starlark.Tuple, 0, min(n/2, maxPrealloc))
	for range n / 2 {
		name, err := d.text()
		if err != nil {
			return nil, nil, err
		}
		v, err := d.Value()
		if err != nil {
			return nil, nil, err
		}
		kwargs = append(kwargs, starlark.Tuple{starlark.String(name), v})
	}
	return args, kwargs, nil
}

// Value decodes the next value. The result is not frozen.
func (d *Decoder) Value() (starlark.Value, error) {
	if err := d.count(); err != nil {
		return nil, err
	}
	major, info, arg, err := d.head()
	if err != nil {
		return nil, err
	}
	switch major {
	case majorUint:
		return starlark.MakeUint64(arg), nil
	case majorNegint:
		if arg <= math.MaxInt64 {
			return starlark.MakeInt64(-1 - int64(arg)), nil
		}
		b := new(big.Int).SetUint64(arg)
		return starlark.MakeBigInt(b.Neg(b.Add(b, big.NewInt(1)))), nil
	case majorBytes:
		n, err := d.length(arg, 1)
		if err != nil {
			return nil, err
		}
		b := starlark.Bytes(d.data[d.off : d.off+n])
		d.off += n
		return b, nil
	case majorText:
		n, err := d.length(arg, 1)
		if err != nil {
			return nil, err
		}
		s := string(d.data[d.off : d.off+n])
		d.off += n
		if !utf8.ValidString(s) {
			return nil, d.errorf("text string is not valid UTF-8")
		}
		return starlark.String(s), nil
	case majorArray:
		n, err := d.length(arg, 1)
		if err != nil {
			return nil, err
		}
		if err := d.enter(); err != nil {
			return nil, err
		}
		t := make(starlark.Tuple, 0, min(n, maxPrealloc))
		for range n {
			v, err := d.Value()
			if err != nil {
				return nil, err
			}
			t = append(t, v)
		}
		d.leave()
		return t, nil
	case majorMap:
		return nil, d.errorf("unexpected CBOR map")
	case majorTag:
		return d.tagged(arg)
	}
	// major 7: simple values and floats
	switch info {
	case 20:
		return starlark.False, nil
	case 21:
		return starlark.True, nil
	case 22:
		return starlark.None, nil
	case 25, 26, 27:
		var f float64
		switch info {
		case 25:
			f = float16Value(uint16(arg))
		case 26:
			f = float64(math.Float32frombits(uint32(arg)))
		default:
			f = math.Float64frombits(arg)
		}
		// Deterministic encoding: the shortest form, one NaN.
		if n := 1 << (info - 24); len(appendFloat(d.scratch[:0], f)) != 1+n ||
			math.IsNaN(f) && arg != 0x7e00 {
			d.off -= 1 + n
			return nil, d.errorf("non-canonical float encoding")
		}
		return starlark.Float(f), nil
	}
	return nil, d.errorf("unsupported simple value %d", info)
}

func (d *Decoder) enter() error {
	d.depth++
	if d.depth > d.c.limits.MaxDepth {
		return d.errorf("nesting deeper than %d", d.c.limits.MaxDepth)
	}
	return nil
}

func (d *Decoder) leave() { d.depth-- }

// fill sets a reserved shared slot, as soon as the value exists.
func (d *Decoder) fill(slot int, v starlark.Value) { d.shared[slot] = v }

func (d *Decoder) tagged(tag uint64) (starlark.Value, error) {
	switch tag {
	case tagShareable:
		// Only what the encoder marks shareable may follow: lists, dicts,
		// sets and functions.
		start := d.off
		major, _, inner, err := d.head()
		if err != nil {
			return nil, err
		}
		if major != majorTag || (inner != tagList && inner != tagDict && inner != tagSet && inner != tagFunction) {
			d.off = start
			return nil, d.errorf("shareable tag must precede a list, dict, set or function")
		}
		slot := len(d.shared)
		d.shared = append(d.shared, nil)
		if err := d.enter(); err != nil {
			return nil, err
		}
		var v starlark.Value
		switch inner {
		case tagList:
			v, err = d.list(slot)
		case tagDict:
			v, err = d.dict(slot)
		case tagSet:
			v, err = d.set(slot)
		default:
			v, err = d.decodeFunction(slot)
		}
		if err != nil {
			return nil, err
		}
		d.leave()
		d.shared[slot] = v
		return v, nil
	case tagList, tagDict, tagSet, tagFunction:
		return nil, d.errorf("tag %d without the shareable tag", tag)
	case tagPosBignum, tagNegBignum:
		major, _, arg, err := d.head()
		if err != nil {
			return nil, err
		}
		if major != majorBytes {
			return nil, d.errorf("bignum is not a byte string")
		}
		n, err := d.length(arg, 1)
		if err != nil {
			return nil, err
		}
		mag := d.data[d.off : d.off+n]
		if n == 0 || mag[0] == 0 || n <= 8 {
			return nil, d.errorf("non-canonical bignum")
		}
		d.off += n
		b := new(big.Int).SetBytes(mag)
		if tag == tagNegBignum {
			b.Neg(b.Add(b, big.NewInt(1)))
		}
		return starlark.MakeBigInt(b), nil
	case tagBytesString:
		major, _, arg, err := d.head()
		if err != nil {
			return nil, err
		}
		if major != majorBytes {
			return nil, d.errorf("non-UTF-8 string is not a byte string")
		}
		n, err := d.length(arg, 1)
		if err != nil {
			return nil, err
		}
		s := string(d.data[d.off : d.off+n])
		if utf8.ValidString(s) {
			return nil, d.errorf("valid UTF-8 string encoded as bytes")
		}
		d.off += n
		return starlark.String(s), nil
	}

	// The rest nest, like the encoder's non-scalar values. (The depth
	// matters only while decoding succeeds: an error ends the message.)
	if err := d.enter(); err != nil {
		return nil, err
	}
	v, err := d.nested(tag)
	if err != nil {
		return nil, err
	}
	d.leave()
	return v, nil
}

// nested decodes the tagged values that count as a level of nesting.
func (d *Decoder) nested(tag uint64) (starlark.Value, error) {
	switch tag {
	case tagSharedRef:
		i, err := d.uint()
		if err != nil {
			return nil, err
		}
		if i >= uint64(len(d.shared)) {
			return nil, d.errorf("reference to shared value %d of %d", i, len(d.shared))
		}
		if d.shared[i] == nil {
			return nil, d.errorf("reference to shared value %d while it is being decoded", i)
		}
		return d.shared[i], nil
	case tagStruct:
		return d.structValue()
	case tagRange:
		n, err := d.arrayHeader()
		if err != nil {
			return nil, err
		}
		if n != 3 {
			return nil, d.errorf("range has %d fields, want 3", n)
		}
		var p [3]int64
		for i := range p {
			if p[i], err = d.int64(); err != nil {
				return nil, err
			}
		}
		if p[2] == 0 {
			return nil, d.errorf("range step is zero")
		}
		thread := &starlark.Thread{Name: "decode range"}
		r, err := starlark.Call(thread, starlark.Universe["range"], starlark.Tuple{
			starlark.MakeInt64(p[0]), starlark.MakeInt64(p[1]), starlark.MakeInt64(p[2])}, nil)
		if err != nil {
			return nil, d.errorf("%v", err)
		}
		return r, nil
	case tagName:
		name, err := d.text()
		if err != nil {
			return nil, err
		}
		v, ok := d.c.names.Lookup(name)
		if !ok {
			return nil, d.errorf("unknown name %q", name)
		}
		if canon, _ := d.c.names.nameOf(v); canon != name {
			return nil, d.errorf("name %q instead of %q", name, canon)
		}
		return v, nil
	case tagMethod:
		n, err := d.arrayHeader()
		if err != nil {
			return nil, err
		}
		if n != 2 {
			return nil, d.errorf("method has %d fields, want 2", n)
		}
		recv, err := d.Value()
		if err != nil {
			return nil, err
		}
		name, err := d.text()
		if err != nil {
			return nil, err
		}
		return methodOf(recv, name, d)
	}
	return nil, d.errorf("unknown tag %d", tag)
}

func methodOf(recv starlark.Value, name string, d *Decoder) (starlark.Value, error) {
	ha, ok := recv.(starlark.HasAttrs)
	if !ok {
		return nil, d.errorf("%s has no method %s", recv.Type(), name)
	}
	m, err := ha.Attr(name)
	if b, ok := m.(*starlark.Builtin); err != nil || !ok || b.Receiver() == nil || b.Name() != name {
		return nil, d.errorf("%s has no method %s", recv.Type(), name)
	}
	return m, nil
}

// Containers that may be shared are decoded by these methods when they
// follow the shareable tag, so that the slot is filled before their
// elements are decoded.
func (d *Decoder) list(slot int) (starlark.Value, error) {
	n, err := d.arrayHeader()
	if err != nil {
		return nil, err
	}
	l := starlark.NewList(make([]starlark.Value, 0, min(n, maxPrealloc)))
	d.fill(slot, l)
	for range n {
		v, err := d.Value()
		if err != nil {
			return nil, err
		}
		l.Append(v)
	}
	return l, nil
}

func (d *Decoder) dict(slot int) (starlark.Value, error) {
	n, err := d.arrayHeader()
	if err != nil {
		return nil, err
	}
	if n%2 != 0 {
		return nil, d.errorf("odd dict array")
	}
	m := starlark.NewDict(min(n/2, maxPrealloc))
	d.fill(slot, m)
	for range n / 2 {
		k, err := d.Value()
		if err != nil {
			return nil, err
		}
		v, err := d.Value()
		if err != nil {
			return nil, err
		}
		if err := m.SetKey(k, v); err != nil {
			return nil, d.errorf("dict key: %v", err)
		}
	}
	if m.Len() != n/2 {
		return nil, d.errorf("duplicate dict key")
	}
	return m, nil
}

func (d *Decoder) set(slot int) (starlark.Value, error) {
	n, err := d.arrayHeader()
	if err != nil {
		return nil, err
	}
	s := starlark.NewSet(min(n, maxPrealloc))
	d.fill(slot, s)
	for range n {
		v, err := d.Value()
		if err != nil {
			return nil, err
		}
		if err := s.Insert(v); err != nil {
			return nil, d.errorf("set element: %v", err)
		}
	}
	if s.Len() != n {
		return nil, d.errorf("duplicate set element")
	}
	return s, nil
}

func (d *Decoder) structValue() (starlark.Value, error) {
	n, err := d.arrayHeader()
	if err != nil {
		return nil, err
	}
	if n%2 != 1 {
		return nil, d.errorf("struct array has even length %d", n)
	}
	ctor, err := d.Value()
	if err != nil {
		return nil, err
	}
	fields := make(starlark.StringDict, min(n/2, maxPrealloc))
	prev := ""
	for i := range n / 2 {
		name, err := d.text()
		if err != nil {
			return nil, err
		}
		if i > 0 && name <= prev {
			return nil, d.errorf("struct fields are not sorted")
		}
		prev = name
		if fields[name], err = d.Value(); err != nil {
			return nil, err
		}
	}
	return starlarkstruct.FromStringDict(ctor, fields), nil
}
