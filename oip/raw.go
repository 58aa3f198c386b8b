package oip

import (
	"encoding/binary"
	"errors"
	"fmt"
	"math"
	"math/bits"
	"unicode/utf8"
	"unsafe"
)

// The raw layout of tensor data, shared by the binary tensor data
// extension and the raw_*_contents fields of the gRPC API: the elements in
// row-major order, each little-endian in its datatype's size (BOOL one byte,
// 0 or 1); BYTES elements are each a 4-byte little-endian length followed
// by that many bytes.

// EncodeRaw returns the little-endian bytes of t.Data as the binary tensor
// data extension and the gRPC raw_*_contents carry them (BYTES: each
// element a 4-byte little-endian length then its bytes). t.Data must match
// t.Datatype and hold as many elements as t.Shape.
func EncodeRaw(t *Tensor) ([]byte, error) {
	if _, err := t.checkData(); err != nil {
		return nil, err
	}
	return rawBytes(t)
}

// rawBytes returns the raw form of data that checkData accepted.
func rawBytes(t *Tensor) ([]byte, error) {
	switch d := t.Data.(type) {
	case []bool:
		b := make([]byte, len(d))
		for i, v := range d {
			if v {
				b[i] = 1
			}
		}
		return b, nil
	case [][]byte:
		size := 0
		for i, e := range d {
			if uint64(len(e)) > math.MaxUint32 {
				return nil, fmt.Errorf("oip: tensor %q: BYTES element %d has %d bytes, more than a 4-byte length holds", t.Name, i, len(e))
			}
			var ok bool
			if size, ok = addInt(size, 4+len(e)); !ok {
				return nil, fmt.Errorf("oip: tensor %q: BYTES data is too large", t.Name)
			}
		}
		b := make([]byte, 0, size)
		for _, e := range d {
			b = binary.LittleEndian.AppendUint32(b, uint32(len(e)))
			b = append(b, e...)
		}
		return b, nil
	}
	src := byteView(t.Data)
	b := make([]byte, len(src))
	copy(b, src)
	if !littleEndian {
		swapBytes(b, elemSize(t.Datatype))
	}
	return b, nil
}

// DecodeRaw reads raw little-endian data of a datatype and shape (same
// layout as EncodeRaw) into the typed slice Tensor.Data holds for that
// datatype. Shape products and byte counts are overflow-checked before
// anything is allocated; raw must hold exactly the bytes the shape takes
// (BYTES: exactly the elements the shape counts). name only goes into error
// messages, shortened when long. The result shares nothing with raw.
func DecodeRaw(name, datatype string, shape []int64, raw []byte) (any, error) {
	name = clip(name)
	if !knownDatatype(datatype) {
		return nil, fmt.Errorf("oip: tensor %q: %s", name, unsupported(clip(datatype)))
	}
	n, err := shapeCount(shape)
	if err != nil {
		return nil, fmt.Errorf("oip: tensor %q: %v", name, err)
	}
	if datatype != BYTES {
		nb, ok := mulInt(n, elemSize(datatype))
		if !ok {
			return nil, fmt.Errorf("oip: tensor %q: shape %s of %s is too large", name, shapeString(shape), datatype)
		}
		if nb != len(raw) {
			return nil, fmt.Errorf("oip: tensor %q: shape %s of %s takes %d bytes, the raw data has %d", name, shapeString(shape), datatype, nb, len(raw))
		}
	}
	d, err := fromRaw(datatype, raw, n, true)
	if err != nil {
		return nil, fmt.Errorf("oip: tensor %q: %v", name, err)
	}
	return d, nil
}

// fromRaw reads n elements of a datatype from b. For a fixed-size datatype
// len(b) is n times the element size. For BYTES, b must hold exactly n
// elements; copy says whether the elements get their own backing array or
// may point into b (when the caller owns b).
func fromRaw(datatype string, b []byte, n int, copyBytes bool) (any, error) {
	switch datatype {
	case BOOL:
		out := make([]bool, n)
		for i, c := range b {
			if c > 1 {
				return nil, fmt.Errorf("BOOL element %d is the byte %d, want 0 or 1", i, c)
			}
			out[i] = c == 1
		}
		return out, nil
	case BYTES:
		return bytesFromRaw(b, n, copyBytes)
	}
	d := makeData(datatype, n)
	copy(byteView(d), b)
	if !littleEndian {
		swapBytes(byteView(d), elemSize(datatype))
	}
	return d, nil
}

// bytesFromRaw splits raw BYTES data into exactly n elements.
func bytesFromRaw(b []byte, n int, copyBytes bool) ([][]byte, error) {
	// Every element takes at least its 4-byte length, which bounds n by
	// the bytes present before anything is allocated.
	if n > len(b)/4 {
		return nil, fmt.Errorf("%d bytes of BYTES data cannot hold %d elements", len(b), n)
	}
	if copyBytes {
		b = append([]byte(nil), b...)
	}
	out := make([][]byte, n)
	off := 0
	for i := range out {
		if len(b)-off < 4 {
			return nil, fmt.Errorf("BYTES data ends at element %d of %d", i, n)
		}
		l := binary.LittleEndian.Uint32(b[off:])
		off += 4
		if uint64(l) > uint64(len(b)-off) {
			return nil, fmt.Errorf("BYTES element %d has length %d but %d bytes are left", i, l, len(b)-off)
		}
		end := off + int(l)
		out[i] = b[off:end:end]
		off = end
	}
	if off != len(b) {
		return nil, fmt.Errorf("%d bytes are left after the %d BYTES elements", len(b)-off, n)
	}
	return out, nil
}

// makeData returns a zeroed slice of n elements of a fixed-size numeric
// datatype (not BOOL or BYTES).
func makeData(datatype string, n int) any {
	switch datatype {
	case UINT8:
		return make([]uint8, n)
	case UINT16:
		return make([]uint16, n)
	case UINT32:
		return make([]uint32, n)
	case UINT64:
		return make([]uint64, n)
	case INT8:
		return make([]int8, n)
	case INT16:
		return make([]int16, n)
	case INT32:
		return make([]int32, n)
	case INT64:
		return make([]int64, n)
	case FP16:
		return make([]Float16, n)
	case FP32:
		return make([]float32, n)
	case FP64:
		return make([]float64, n)
	}
	panic("oip: makeData of " + datatype)
}

// byteView returns the memory of a fixed-size numeric slice (not []bool or
// [][]byte) as bytes, in the host's byte order.
func byteView(d any) []byte {
	switch x := d.(type) {
	case []uint8:
		return x
	case []int8:
		return view(x)
	case []uint16:
		return view(x)
	case []int16:
		return view(x)
	case []Float16:
		return view(x)
	case []uint32:
		return view(x)
	case []int32:
		return view(x)
	case []float32:
		return view(x)
	case []uint64:
		return view(x)
	case []int64:
		return view(x)
	case []float64:
		return view(x)
	}
	panic(fmt.Sprintf("oip: byteView of %T", d))
}

func view[T any](s []T) []byte {
	if len(s) == 0 {
		return nil
	}
	var zero T
	return unsafe.Slice((*byte)(unsafe.Pointer(&s[0])), len(s)*int(unsafe.Sizeof(zero)))
}

// littleEndian says whether the host stores numbers little-endian, the
// wire's byte order, so that raw data copies without swapping.
var littleEndian = binary.NativeEndian.Uint16([]byte{1, 0}) == 1

// swapBytes reverses the bytes of each size-byte element of b in place.
func swapBytes(b []byte, size int) {
	for i := 0; i+size <= len(b); i += size {
		e := b[i : i+size]
		for j, k := 0, size-1; j < k; j, k = j+1, k-1 {
			e[j], e[k] = e[k], e[j]
		}
	}
}

// errTooLargeShape is the error of a shape whose element count overflows.
var errTooLargeShape = errors.New("too large")

// shapeCount returns the number of elements of a shape. A negative
// dimension is an error, and so is a shape whose non-zero dimensions
// multiply past the int range, even when another dimension is 0, so that
// no accepted shape overflows anywhere it is used.
func shapeCount(shape []int64) (int, error) {
	n, zero := 1, false
	for _, d := range shape {
		if d < 0 {
			return 0, fmt.Errorf("negative dimension in shape %s", shapeString(shape))
		}
		if d == 0 {
			zero = true
			continue
		}
		if d > math.MaxInt {
			return 0, fmt.Errorf("shape %s is %w", shapeString(shape), errTooLargeShape)
		}
		var ok bool
		if n, ok = mulInt(n, int(d)); !ok {
			return 0, fmt.Errorf("shape %s is %w", shapeString(shape), errTooLargeShape)
		}
	}
	if zero {
		return 0, nil
	}
	return n, nil
}

// mulInt returns a*b for a, b >= 0, and false when it overflows int.
func mulInt(a, b int) (int, bool) {
	hi, lo := bits.Mul64(uint64(a), uint64(b))
	if hi != 0 || lo > math.MaxInt {
		return 0, false
	}
	return int(lo), true
}

// addInt returns a+b for a, b >= 0, and false when it overflows int.
func addInt(a, b int) (int, bool) {
	s := a + b
	if s < a {
		return 0, false
	}
	return s, true
}

// validUTF8 reports whether every element of BYTES data is valid UTF-8,
// which its JSON form needs, and the index of the first that is not.
func validUTF8(d [][]byte) (int, bool) {
	for i, e := range d {
		if !utf8.Valid(e) {
			return i, false
		}
	}
	return 0, true
}

// shapeString writes a shape for an error, shortened when long.
func shapeString(shape []int64) string {
	return clip(fmt.Sprint(shape))
}
