package oip

import (
	"math"
	"strconv"
)

// Float16 is an IEEE 754 binary16 number (the FP16 datatype), held as its
// bits: a sign bit, 5 exponent bits and 10 fraction bits.
type Float16 uint16

// Float32 returns h as a float32, which holds every binary16 value
// exactly. A NaN stays a NaN with the same sign and its fraction bits
// shifted to the top of the float32 fraction.
func (h Float16) Float32() float32 {
	sign := uint32(h&0x8000) << 16
	exp := uint32(h>>10) & 0x1f
	frac := uint32(h) & 0x3ff
	switch exp {
	case 0x1f: // infinities and NaNs
		return math.Float32frombits(sign | 0x7f800000 | frac<<13)
	case 0: // zeros and subnormals: frac × 2^-24, exact in float32
		f := float32(frac) * (1.0 / (1 << 24))
		if sign != 0 {
			f = -f
		}
		return f
	}
	// Rebias the exponent from 15 to 127.
	return math.Float32frombits(sign | (exp+127-15)<<23 | frac<<13)
}

// Float16FromFloat32 returns the binary16 nearest to f, ties to even.
// Magnitudes from 65520 up round to an infinity, those up to 2^-25 to a
// zero of f's sign, and a NaN stays a NaN of the same sign with the top 10
// bits of f's fraction (the lowest bit set if those are all 0), as numpy
// converts it, so that Float16FromFloat32(h.Float32()) == h for every h.
func Float16FromFloat32(f float32) Float16 {
	if b := math.Float32bits(f); b&0x7fffffff > 0x7f800000 {
		// A NaN, taken from its bits: the conversion to float64 below
		// would make a signalling one quiet.
		h := 0x7c00 | uint16(b>>13)&0x3ff
		if h == 0x7c00 {
			h++
		}
		return Float16(uint16(b>>16)&0x8000 | h)
	}
	// float64 holds every float32 exactly, so this rounds once.
	return float16FromFloat64(float64(f))
}

// float16FromFloat64 returns the binary16 nearest to f, ties to even, with
// one rounding from f's exact value.
func float16FromFloat64(f float64) Float16 {
	b := math.Float64bits(f)
	sign := uint16(b>>48) & 0x8000
	exp := int(b>>52) & 0x7ff
	frac := b & (1<<52 - 1)
	switch {
	case exp == 0x7ff && frac == 0:
		return Float16(sign | 0x7c00)
	case exp == 0x7ff:
		// A NaN keeps the top 10 bits of its fraction, which must not
		// all be 0 (that would be an infinity); it is not made quiet.
		h := 0x7c00 | uint16(frac>>42)
		if h == 0x7c00 {
			h++
		}
		return Float16(sign | h)
	case exp == 0:
		// Zeros and float64 subnormals, far below half the smallest
		// binary16 subnormal.
		return Float16(sign)
	}
	e := exp - 1023 // f = m × 2^(e-52)
	if e > 15 {
		return Float16(sign | 0x7c00)
	}
	m := frac | 1<<52
	// The binary16 result has the unit 2^(he-10) in its last place, where
	// he is e, or -14 for subnormal results. Drop the bits of m below it,
	// rounding to nearest even.
	he := max(e, -14)
	shift := uint(42 + he - e)
	if shift > 53 {
		// m < 2^53 is less than half the last place: rounds to zero.
		return Float16(sign)
	}
	q := m >> shift
	rem := m & (1<<shift - 1)
	half := uint64(1) << (shift - 1)
	if rem > half || (rem == half && q&1 == 1) {
		q++
	}
	// For he > -14, q is in [2^10, 2^11]: the implicit bit carries into the
	// exponent field, and q = 2^11 moves on to the next exponent (from
	// he = 15, to the infinity 0x7c00). For he = -14, q in [0, 2^10] is a
	// subnormal, or the smallest normal when it reaches 2^10.
	return Float16(sign | uint16(uint64(he+14)<<10+q))
}

// parseFloat16 reads a decimal as the nearest binary16. It parses s as a
// float64 and rounds that: two roundings, which differ from the single
// rounding of the decimal only when s lies within half a float64 unit in
// the last place (a relative 2^-53) of a midpoint between two binary16
// values without being on it, which takes a decimal of more than 16
// significant digits. The decimals appendFloat16 writes read back exactly.
func parseFloat16(s string) (Float16, error) {
	v, err := strconv.ParseFloat(s, 64)
	return float16FromFloat64(v), err
}

// appendFloat16 writes the shortest decimal that parseFloat16 reads back as
// h, and NaN and the infinities as the strings appendFloat writes.
func appendFloat16(b []byte, h Float16) []byte {
	f := float64(h.Float32())
	if math.IsNaN(f) || math.IsInf(f, 0) {
		return appendFloat(b, f, 32)
	}
	// Five significant digits tell every binary16 apart; fewer often do.
	// The digits found are written as FormatFloat writes the float64 they
	// stand for, so that 10 is "10", not "1e+01".
	for prec := 1; ; prec++ {
		d := strconv.FormatFloat(f, 'e', prec-1, 64)
		if g, err := parseFloat16(d); (err == nil && g == h) || prec == 5 {
			v, _ := strconv.ParseFloat(d, 64)
			return strconv.AppendFloat(b, v, 'g', -1, 64)
		}
	}
}
