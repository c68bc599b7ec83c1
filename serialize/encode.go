package serialize

import (
	"fmt"
	"math/big"
	"strconv"
	"strings"
	"unicode/utf8"

	"go.starlark.net/starlark"
	"go.starlark.net/starlarkstruct"
)

// An EncodeError reports a value that cannot be serialized and where it
// was found.
type EncodeError struct {
	Path string // where the value was, e.g. `[2]["key"]` or `function f: global "lock"`; empty at top level
	Type string // the value's Starlark type
	Msg  string // why, e.g. `cannot serialize value of type "file"`
}

func (e *EncodeError) Error() string {
	if e.Path == "" {
		return e.Msg
	}
	return e.Path + ": " + e.Msg
}

// within prefixes step to the path of an EncodeError.
func within(err error, step string) error {
	if e, ok := err.(*EncodeError); ok {
		switch {
		case e.Path == "":
			e.Path = step
		case strings.HasPrefix(e.Path, "[") || strings.HasPrefix(e.Path, "."):
			e.Path = step + e.Path
		default:
			e.Path = step + ": " + e.Path
		}
	}
	return err
}

func cannot(v starlark.Value, why string) error {
	msg := fmt.Sprintf("cannot serialize value of type %q", v.Type())
	if why != "" {
		msg += " (" + why + ")"
	}
	return &EncodeError{Type: v.Type(), Msg: msg}
}

// An Encoder appends encoded values to a buffer. Values encoded by one
// Encoder form one message: a list or function that appears twice is
// encoded once and referenced after, and the matching Decoder restores the
// sharing. After an error the message is unusable and so is the Encoder.
// An Encoder is not safe for concurrent use.
type Encoder struct {
	c       *Codec
	shared  map[any]uint64
	nshared uint64
	depth   int
	globals map[*starlark.Module]starlark.StringDict
}

// NewEncoder returns an encoder for one message.
func (c *Codec) NewEncoder() *Encoder { return &Encoder{c: c} }

// AppendArrayHeader appends the head of a CBOR array of n items; the caller
// then appends the n items.
func AppendArrayHeader(dst []byte, n int) []byte { return appendHead(dst, majorArray, uint64(n)) }

// AppendKwargsTag appends the tag that marks a [positional, keyword]
// argument pair (see Decoder.Args).
func AppendKwargsTag(dst []byte) []byte { return appendHead(dst, majorTag, tagKwargs) }

// Append appends the encoding of v to dst. On error the returned slice is
// unusable and err is an *EncodeError.
func (e *Encoder) Append(dst []byte, v starlark.Value) ([]byte, error) {
	switch v := v.(type) {
	case nil:
		return nil, &EncodeError{Type: "nil", Msg: `cannot serialize value of type "nil" (a Go nil, not None)`}
	case starlark.NoneType:
		return append(dst, 0xf6), nil
	case starlark.Bool:
		if v {
			return append(dst, 0xf5), nil
		}
		return append(dst, 0xf4), nil
	case starlark.Int:
		return appendInt(dst, v), nil
	case starlark.Float:
		return appendFloat(dst, float64(v)), nil
	case starlark.String:
		if utf8.ValidString(string(v)) {
			dst = appendHead(dst, majorText, uint64(len(v)))
		} else {
			dst = appendHead(dst, majorTag, tagBytesString)
			dst = appendHead(dst, majorBytes, uint64(len(v)))
		}
		return append(dst, v...), nil
	case starlark.Bytes:
		dst = appendHead(dst, majorBytes, uint64(len(v)))
		return append(dst, v...), nil
	}

	if e.depth >= e.c.limits.MaxDepth {
		return nil, &EncodeError{Type: v.Type(), Msg: fmt.Sprintf("value nested deeper than %d levels", e.c.limits.MaxDepth)}
	}
	e.depth++
	dst, err := e.appendNested(dst, v)
	e.depth--
	return dst, err
}

// appendNested appends a value that counts as a level of nesting.
func (e *Encoder) appendNested(dst []byte, v starlark.Value) ([]byte, error) {
	switch v := v.(type) {
	case starlark.Tuple:
		dst = appendHead(dst, majorArray, uint64(len(v)))
		for i, x := range v {
			var err error
			if dst, err = e.Append(dst, x); err != nil {
				return nil, within(err, "["+strconv.Itoa(i)+"]")
			}
		}
		return dst, nil
	case *starlark.List:
		dst, done := e.share(dst, v)
		if done {
			return dst, nil
		}
		dst = appendHead(dst, majorTag, tagList)
		dst = appendHead(dst, majorArray, uint64(v.Len()))
		for i := range v.Len() {
			var err error
			if dst, err = e.Append(dst, v.Index(i)); err != nil {
				return nil, within(err, "["+strconv.Itoa(i)+"]")
			}
		}
		return dst, nil
	case *starlark.Dict:
		dst, done := e.share(dst, v)
		if done {
			return dst, nil
		}
		return e.appendDict(dst, v)
	case *starlark.Set:
		dst, done := e.share(dst, v)
		if done {
			return dst, nil
		}
		return e.appendSet(dst, v)
	case *starlarkstruct.Struct:
		names := v.AttrNames()
		dst = appendHead(dst, majorTag, tagStruct)
		dst = appendHead(dst, majorArray, 1+2*uint64(len(names)))
		dst, err := e.Append(dst, v.Constructor())
		if err != nil {
			return nil, within(err, "constructor")
		}
		for _, name := range names {
			x, _ := v.Attr(name)
			if !utf8.ValidString(name) {
				return nil, cannot(v, fmt.Sprintf("field name %q is not valid UTF-8", name))
			}
			dst = appendHead(dst, majorText, uint64(len(name)))
			dst = append(dst, name...)
			if dst, err = e.Append(dst, x); err != nil {
				return nil, within(err, "."+name)
			}
		}
		return dst, nil
	case *starlark.Function:
		dst, done := e.share(dst, v)
		if done {
			return dst, nil
		}
		return e.appendFunction(dst, v)
	case *starlark.Builtin:
		if recv := v.Receiver(); recv != nil {
			dst = appendHead(dst, majorTag, tagMethod)
			dst = appendHead(dst, majorArray, 2)
			if !utf8.ValidString(v.Name()) {
				return nil, cannot(v, fmt.Sprintf("method name %q is not valid UTF-8", v.Name()))
			}
			dst, err := e.Append(dst, recv)
			if err != nil {
				return nil, within(err, "receiver of ."+v.Name())
			}
			return appendText(dst, v.Name()), nil
		}
		if name, ok := e.c.names.nameOf(v); ok {
			return appendText(appendHead(dst, majorTag, tagName), name), nil
		}
		return nil, cannot(v, fmt.Sprintf("builtin %s is not a predeclared name", v.Name()))
	case *starlarkstruct.Module:
		if name, ok := e.c.names.nameOf(v); ok {
			return appendText(appendHead(dst, majorTag, tagName), name), nil
		}
		return nil, cannot(v, fmt.Sprintf("module %s is not a predeclared name", v.Name))
	}
	if v.Type() == "range" {
		if start, stop, step, ok := rangeParams(v); ok {
			dst = appendHead(dst, majorTag, tagRange)
			dst = appendHead(dst, majorArray, 3)
			dst = appendInt(dst, starlark.MakeInt64(start))
			dst = appendInt(dst, starlark.MakeInt64(stop))
			return appendInt(dst, starlark.MakeInt64(step)), nil
		}
	}
	if name, ok := e.c.names.nameOf(v); ok {
		return appendText(appendHead(dst, majorTag, tagName), name), nil
	}
	return nil, cannot(v, "")
}

// appendDict and appendSet are apart from Append because their range
// loops over iterator functions would make Append's results escape.
func (e *Encoder) appendDict(dst []byte, v *starlark.Dict) ([]byte, error) {
	dst = appendHead(dst, majorTag, tagDict)
	dst = appendHead(dst, majorArray, 2*uint64(v.Len()))
	for k, x := range v.Entries() {
		var err error
		if dst, err = e.Append(dst, k); err != nil {
			return nil, within(err, "key "+k.String())
		}
		if dst, err = e.Append(dst, x); err != nil {
			return nil, within(err, "["+k.String()+"]")
		}
	}
	return dst, nil
}

func (e *Encoder) appendSet(dst []byte, v *starlark.Set) ([]byte, error) {
	dst = appendHead(dst, majorTag, tagSet)
	dst = appendHead(dst, majorArray, uint64(v.Len()))
	for x := range v.Elements() {
		var err error
		if dst, err = e.Append(dst, x); err != nil {
			return nil, within(err, "element "+x.String())
		}
	}
	return dst, nil
}

// share handles the value-sharing tags: it returns done if v was already
// encoded in this message (and a reference to it was appended), and
// otherwise appends the shareable tag and records v.
func (e *Encoder) share(dst []byte, v any) ([]byte, bool) {
	if i, ok := e.shared[v]; ok {
		return appendHead(appendHead(dst, majorTag, tagSharedRef), majorUint, i), true
	}
	if e.shared == nil {
		e.shared = make(map[any]uint64)
	}
	e.shared[v] = e.nshared
	e.nshared++
	return appendHead(dst, majorTag, tagShareable), false
}

func appendText(dst []byte, s string) []byte {
	return append(appendHead(dst, majorText, uint64(len(s))), s...)
}

func appendInt(dst []byte, i starlark.Int) []byte {
	if x, ok := i.Int64(); ok {
		if x >= 0 {
			return appendHead(dst, majorUint, uint64(x))
		}
		return appendHead(dst, majorNegint, uint64(-1-x))
	}
	b := i.BigInt()
	if b.Sign() > 0 {
		if b.IsUint64() {
			return appendHead(dst, majorUint, b.Uint64())
		}
		dst = appendHead(dst, majorTag, tagPosBignum)
		mag := b.Bytes()
		return append(appendHead(dst, majorBytes, uint64(len(mag))), mag...)
	}
	n := new(big.Int).Neg(b) // n = -b > 0, encoded as n-1
	n.Sub(n, big.NewInt(1))
	if n.IsUint64() {
		return appendHead(dst, majorNegint, n.Uint64())
	}
	dst = appendHead(dst, majorTag, tagNegBignum)
	mag := n.Bytes()
	return append(appendHead(dst, majorBytes, uint64(len(mag))), mag...)
}

// rangeParams recovers the start, stop and step of a range value, whose
// type go.starlark.net does not export, from its canonical repr.
func rangeParams(v starlark.Value) (start, stop, step int64, ok bool) {
	s := v.String()
	if !strings.HasPrefix(s, "range(") || !strings.HasSuffix(s, ")") {
		return 0, 0, 0, false
	}
	parts := strings.Split(s[len("range("):len(s)-1], ", ")
	nums := make([]int64, len(parts))
	for i, p := range parts {
		n, err := strconv.ParseInt(p, 10, 64)
		if err != nil {
			return 0, 0, 0, false
		}
		nums[i] = n
	}
	switch len(nums) {
	case 1:
		return 0, nums[0], 1, true
	case 2:
		return nums[0], nums[1], 1, true
	case 3:
		return nums[0], nums[1], nums[2], true
	}
	return 0, 0, 0, false
}
