// Package npyfile reads and writes NumPy .npy files as kerasrun tensors,
// through codeberg.org/sbinet/npyio.
//
// Reading accepts float16/32/64 and signed or unsigned integer arrays, in C
// or Fortran order, and converts them to float32. Integers beyond 2^24 lose
// precision in float32 and are refused. The declared shape is checked
// against the file size before anything is allocated.
package npyfile

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"os"
	"reflect"
	"strings"

	"codeberg.org/sbinet/npyio"
	"codeberg.org/sbinet/npyio/npy/float16"
	"github.com/kerasrun/kerasrun/runtime"
)

// MaxElements bounds the elements of one array read.
const MaxElements = 1 << 31

// Read reads the .npy file at path as a float32 tensor. dtype is the
// file's NumPy type string (for example "<f4").
func Read(path string) (t *runtime.Tensor, dtype string, err error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, "", err
	}
	defer f.Close()
	st, err := f.Stat()
	if err != nil {
		return nil, "", err
	}
	t, dtype, err = Decode(f, st.Size())
	if err != nil {
		return nil, dtype, fmt.Errorf("%s: %w", path, err)
	}
	return t, dtype, nil
}

// Decode reads an .npy stream of size bytes (size < 0: unknown).
func Decode(r io.Reader, size int64) (t *runtime.Tensor, dtype string, err error) {
	defer func() {
		// npyio can panic on some malformed headers; data must never crash us.
		if p := recover(); p != nil {
			t, err = nil, fmt.Errorf("npy: malformed file (%v)", p)
		}
	}()
	r, err = checkHeader(r, size)
	if err != nil {
		return nil, "", err
	}
	rd, err := npyio.NewReader(r)
	if err != nil {
		return nil, "", fmt.Errorf("npy: %w", err)
	}
	h := rd.Header.Descr
	dtype = strings.Trim(h.Type, "'\" ")
	n := int64(1)
	for _, d := range h.Shape {
		if d < 0 {
			return nil, dtype, fmt.Errorf("npy: negative dimension in shape %v", h.Shape)
		}
		n *= int64(d)
		if n > MaxElements {
			return nil, dtype, fmt.Errorf("npy: shape %v is too large", h.Shape)
		}
	}
	esize := elemSize(dtype)
	if esize == 0 {
		return nil, dtype, fmt.Errorf("npy: unsupported dtype %q (want float or integer)", dtype)
	}
	if size >= 0 && n*int64(esize) > size {
		return nil, dtype, fmt.Errorf("npy: shape %v needs %d bytes, the file has %d", h.Shape, n*int64(esize), size)
	}
	data, err := readAs(rd, dtype, int(n))
	if err != nil {
		return nil, dtype, err
	}
	shape := append([]int(nil), h.Shape...)
	if h.Fortran && len(shape) > 1 {
		data = fromFortran(data, shape)
	}
	out, err := runtime.NewTensor(shape, data)
	return out, dtype, err
}

// maxHeader bounds the .npy header; numpy writes a few hundred bytes.
const maxHeader = 1 << 20

// checkHeader validates the magic, version and header length before npyio
// sees the stream, so that a hostile length cannot make it allocate.
func checkHeader(r io.Reader, size int64) (io.Reader, error) {
	pre := make([]byte, 8, 12)
	if _, err := io.ReadFull(r, pre); err != nil {
		return nil, fmt.Errorf("npy: not a .npy file (%d bytes)", max(size, 0))
	}
	if string(pre[:6]) != "\x93NUMPY" {
		return nil, fmt.Errorf("npy: not a .npy file (no NUMPY magic)")
	}
	var hlen int64
	switch pre[6] {
	case 1:
		pre = pre[:10]
		if _, err := io.ReadFull(r, pre[8:]); err != nil {
			return nil, errors.New("npy: truncated header")
		}
		hlen = int64(pre[8]) | int64(pre[9])<<8
	case 2, 3:
		pre = pre[:12]
		if _, err := io.ReadFull(r, pre[8:]); err != nil {
			return nil, errors.New("npy: truncated header")
		}
		hlen = int64(pre[8]) | int64(pre[9])<<8 | int64(pre[10])<<16 | int64(pre[11])<<24
	default:
		return nil, fmt.Errorf("npy: unsupported format version %d.%d", pre[6], pre[7])
	}
	if hlen > maxHeader || (size >= 0 && int64(len(pre))+hlen > size) {
		return nil, fmt.Errorf("npy: header length %d is larger than the file", hlen)
	}
	return io.MultiReader(bytes.NewReader(pre), r), nil
}

func elemSize(dtype string) int {
	if len(dtype) < 3 {
		return 0
	}
	kind, sz := dtype[1], dtype[2:]
	switch kind {
	case 'f':
		switch sz {
		case "2":
			return 2
		case "4":
			return 4
		case "8":
			return 8
		}
	case 'i', 'u':
		switch sz {
		case "1", "2", "4", "8":
			return int(sz[0] - '0')
		}
	case 'b':
		if sz == "1" {
			return 1
		}
	}
	return 0
}

func readAs(rd *npyio.Reader, dtype string, n int) ([]float32, error) {
	if dtype[1:] == "f2" {
		// npyio reads float16 data as its raw 16-bit pattern.
		rd.Header.Descr.Type = strings.Replace(rd.Header.Descr.Type, "f2", "u2", 1)
		bits, err := readAs(rd, dtype[:1]+"u2", n)
		if err != nil {
			return nil, err
		}
		for i, b := range bits {
			bits[i] = float16.Float16Frombits(uint16(b)).Float32()
		}
		return bits, nil
	}
	rt := npyio.TypeFrom(dtype)
	if rt == nil {
		return nil, fmt.Errorf("npy: unsupported dtype %q", dtype)
	}
	ptr := reflect.New(reflect.SliceOf(rt))
	ptr.Elem().Set(reflect.MakeSlice(reflect.SliceOf(rt), 0, n))
	if err := rd.Read(ptr.Interface()); err != nil && !errors.Is(err, io.EOF) {
		return nil, fmt.Errorf("npy: %w", err)
	}
	v := ptr.Elem()
	if v.Len() != n {
		return nil, fmt.Errorf("npy: read %d values, the shape needs %d", v.Len(), n)
	}
	out := make([]float32, n)
	for i := 0; i < n; i++ {
		e := v.Index(i)
		switch {
		case e.CanFloat():
			out[i] = float32(e.Float())
		case e.CanInt():
			x := e.Int()
			if x > 1<<24 || x < -(1<<24) {
				return nil, fmt.Errorf("npy: integer %d at index %d does not fit float32 exactly", x, i)
			}
			out[i] = float32(x)
		case e.CanUint():
			x := e.Uint()
			if x > 1<<24 {
				return nil, fmt.Errorf("npy: integer %d at index %d does not fit float32 exactly", x, i)
			}
			out[i] = float32(x)
		case e.Kind() == reflect.Bool:
			if e.Bool() {
				out[i] = 1
			}
		default:
			return nil, fmt.Errorf("npy: unsupported dtype %q", dtype)
		}
	}
	return out, nil
}

// fromFortran reorders column-major data to row-major.
func fromFortran(data []float32, shape []int) []float32 {
	out := make([]float32, len(data))
	idx := make([]int, len(shape))
	for i := range data {
		// i walks the row-major order; compute its column-major offset.
		off, stride := 0, 1
		for d := 0; d < len(shape); d++ {
			off += idx[d] * stride
			stride *= shape[d]
		}
		out[i] = data[off]
		for d := len(shape) - 1; d >= 0; d-- {
			idx[d]++
			if idx[d] < shape[d] {
				break
			}
			idx[d] = 0
		}
	}
	return out
}

// Write writes t to path as a float32 .npy file.
func Write(path string, t *runtime.Tensor) error {
	f, err := os.Create(path)
	if err != nil {
		return err
	}
	if err := Encode(f, t); err != nil {
		f.Close()
		return fmt.Errorf("%s: %w", path, err)
	}
	return f.Close()
}

// Encode writes t as a float32 .npy stream.
func Encode(w io.Writer, t *runtime.Tensor) error {
	if runtime.NumElements(t.Shape) != len(t.Data) {
		return fmt.Errorf("npy: shape %v does not match %d values", t.Shape, len(t.Data))
	}
	if len(t.Shape) == 0 {
		return npyio.Write(w, t.Data[0])
	}
	for _, d := range t.Shape {
		if d == 0 {
			return fmt.Errorf("npy: cannot write the empty shape %v", t.Shape)
		}
	}
	return npyio.Write(w, nest(t.Data, t.Shape).Interface())
}

// nest views flat data as nested slices ([][]...[]float32) of the given
// shape, without copying, so that npyio writes the full shape.
func nest(data []float32, shape []int) reflect.Value {
	if len(shape) == 1 {
		return reflect.ValueOf(data)
	}
	inner := len(data) / shape[0]
	first := nest(data[:inner], shape[1:])
	v := reflect.MakeSlice(reflect.SliceOf(first.Type()), shape[0], shape[0])
	v.Index(0).Set(first)
	for i := 1; i < shape[0]; i++ {
		v.Index(i).Set(nest(data[i*inner:(i+1)*inner], shape[1:]))
	}
	return v
}
