package serialize

import (
	"encoding/binary"
	"math"
)

// CBOR major types.
const (
	majorUint   = 0
	majorNegint = 1
	majorBytes  = 2
	majorText   = 3
	majorArray  = 4
	majorMap    = 5
	majorTag    = 6
	majorSimple = 7
)

// CBOR tags. 2, 3, 28 and 29 are the registered bignum and value-sharing
// tags; the others are private to pathos-star and never reused.
const (
	tagPosBignum   = 2
	tagNegBignum   = 3
	tagShareable   = 28
	tagSharedRef   = 29
	tagList        = 20561
	tagDict        = 20562
	tagSet         = 20563
	tagStruct      = 20564
	tagRange       = 20565
	tagName        = 20566
	tagMethod      = 20567
	tagFunction    = 20568
	tagBytesString = 20569
	tagKwargs      = 20570
)

// appendHead appends a CBOR item head with the shortest argument encoding.
func appendHead(dst []byte, major byte, n uint64) []byte {
	m := major << 5
	switch {
	case n < 24:
		return append(dst, m|byte(n))
	case n <= math.MaxUint8:
		return append(dst, m|24, byte(n))
	case n <= math.MaxUint16:
		return binary.BigEndian.AppendUint16(append(dst, m|25), uint16(n))
	case n <= math.MaxUint32:
		return binary.BigEndian.AppendUint32(append(dst, m|26), uint32(n))
	default:
		return binary.BigEndian.AppendUint64(append(dst, m|27), n)
	}
}

// appendFloat appends f in its shortest exact form (preferred serialization).
func appendFloat(dst []byte, f float64) []byte {
	if math.IsNaN(f) {
		return append(dst, 0xf9, 0x7e, 0x00)
	}
	if f32 := float32(f); float64(f32) == f {
		if h, ok := float16Bits(f32); ok {
			return binary.BigEndian.AppendUint16(append(dst, 0xf9), h)
		}
		return binary.BigEndian.AppendUint32(append(dst, 0xfa), math.Float32bits(f32))
	}
	return binary.BigEndian.AppendUint64(append(dst, 0xfb), math.Float64bits(f))
}

// float16Bits returns the IEEE half-precision bits of f if f is exactly
// representable as a half (f is not NaN).
func float16Bits(f float32) (uint16, bool) {
	bits := math.Float32bits(f)
	sign := uint16(bits>>16) & 0x8000
	exp := int(bits>>23) & 0xff
	mant := bits & 0x7fffff
	switch {
	case exp == 0 && mant == 0:
		return sign, true
	case exp == 0xff: // infinity (NaN is handled by the caller)
		return sign | 0x7c00, mant == 0
	case exp == 0:
		return 0, false // float32 subnormals are far below the half range
	}
	e := exp - 127
	switch {
	case e >= -14 && e <= 15:
		if mant&0x1fff != 0 {
			return 0, false
		}
		return sign | uint16(e+15)<<10 | uint16(mant>>13), true
	case e >= -24 && e < -14:
		full := mant | 0x800000
		shift := uint(-e - 1)
		if full&(1<<shift-1) != 0 {
			return 0, false
		}
		return sign | uint16(full>>shift), true
	}
	return 0, false
}

// float16Value converts IEEE half-precision bits to a float64.
func float16Value(h uint16) float64 {
	sign := 1.0
	if h&0x8000 != 0 {
		sign = -1
	}
	exp := int(h>>10) & 0x1f
	mant := float64(h & 0x3ff)
	switch exp {
	case 0:
		return sign * math.Ldexp(mant, -24)
	case 0x1f:
		if mant == 0 {
			return math.Inf(int(sign))
		}
		return math.NaN()
	}
	return sign * math.Ldexp(1+mant/1024, exp-15)
}
