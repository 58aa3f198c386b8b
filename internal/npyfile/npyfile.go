// Package npyfile reads and writes NumPy .npy files as kerasrun tensors.
//
// Reading is exact. It accepts what numpy.load accepts, with the same
// values: format versions 1.0, 2.0 and 3.0, a header that is a Python
// dictionary literal (parsed without evaluating anything, to numpy's
// header size limit), float16/32/64, signed and unsigned integers and
// bools in either byte order, in C or Fortran order, converted to float32.
// It refuses more than numpy does in these cases only:
//
//   - bytes after the data (numpy ignores them): the data must fill the
//     rest of the file exactly, so a file cut short or run together with
//     another is never read as a plausible array;
//   - a negative dimension (numpy reads "shape (-1,)" as "all the data");
//   - an integer beyond 2^24 in magnitude, which float32 cannot hold
//     exactly;
//   - dtypes other than those above (complex, strings, dates, structured
//     arrays, objects), and a descr not written as byte order, kind and
//     size ("<f4", "|u1", "f8");
//   - more than MaxElements elements;
//   - header text that Python reads but no numpy writer produces: a line
//     join with a backslash outside the dictionary's brackets, a "\N{...}"
//     escape, a form feed before the indented first line of a version 1 or
//     2 header.
//
// The declared shape is checked against the file size before anything is
// allocated.
//
// Every error about a file's bytes matches ErrFormat, and also
// runtime.ErrInvalidInput: an input file is the caller's to fix.
//
// Writing produces version 1.0 (2.0 for a header beyond 64 KiB)
// little-endian float32 files in C order, as numpy.save writes them.
package npyfile

import (
	"bufio"
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"math"
	"os"
	"strconv"
	"strings"
	"unicode/utf8"

	"github.com/kerasrun/kerasrun/runtime"
)

// MaxElements bounds the elements of one array read.
const MaxElements = 1 << 31

// ErrFormat is matched (errors.Is) by every error about the bytes of a
// .npy file: not a .npy file, a malformed header, an unsupported dtype, a
// size that does not match the shape, a value float32 cannot hold.
var ErrFormat = errors.New("npy: malformed or unsupported .npy file")

// formatError is an error about a file's bytes.
type formatError struct{ msg string }

func (e *formatError) Error() string { return e.msg }

// Is matches ErrFormat and runtime.ErrInvalidInput.
func (e *formatError) Is(target error) bool {
	return target == ErrFormat || target == runtime.ErrInvalidInput
}

func errorf(format string, args ...any) error {
	return &formatError{"npy: " + fmt.Sprintf(format, args...)}
}

// magic starts every .npy file.
const magic = "\x93NUMPY"

// maxHeaderChars is numpy's limit on the header's characters
// (numpy.lib.format._MAX_HEADER_SIZE); numpy refuses a longer header.
const maxHeaderChars = 10000

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
	t, dtype, err = Decode(bufio.NewReader(f), st.Size())
	if err != nil {
		return nil, dtype, fmt.Errorf("%s: %w", path, err)
	}
	return t, dtype, nil
}

// header is a parsed .npy header.
type header struct {
	major    int
	descr    string
	fortran  bool
	shape    []int
	elements int64
	// byte order, kind ('f', 'i', 'u', 'b') and size of one element
	order binary.ByteOrder
	kind  byte
	size  int
}

// Decode reads an .npy stream of size bytes (size < 0: unknown, and then
// the stream must end right after the data).
func Decode(r io.Reader, size int64) (t *runtime.Tensor, dtype string, err error) {
	h, hsize, err := readHeader(r, size)
	if err != nil {
		return nil, "", err
	}
	need := h.elements * int64(h.size)
	var raw []byte
	if size >= 0 {
		if have := size - hsize; have != need {
			return nil, h.descr, errorf("the file holds %d bytes of data, the header's shape %s %s needs %d", have, pyShape(h.shape), h.descr, need)
		}
		raw = make([]byte, need)
		if n, err := io.ReadFull(r, raw); err != nil {
			return nil, h.descr, errorf("read %d bytes of data, the header's shape %s %s needs %d", n, pyShape(h.shape), h.descr, need)
		}
	} else {
		// The size is unknown: memory grows with the bytes that arrive,
		// never with what the header claims.
		raw, err = io.ReadAll(io.LimitReader(r, need+1))
		if err != nil {
			return nil, h.descr, fmt.Errorf("npy: %w", err)
		}
		if int64(len(raw)) != need {
			what := "holds"
			if int64(len(raw)) > need {
				what = "holds more than"
			}
			return nil, h.descr, errorf("the stream %s %d bytes of data, the header's shape %s %s needs %d", what, len(raw), pyShape(h.shape), h.descr, need)
		}
	}
	data, err := convert(raw, h)
	if err != nil {
		return nil, h.descr, err
	}
	if h.fortran && len(h.shape) > 1 {
		data = fromFortran(data, h.shape)
	}
	out, err := runtime.NewTensor(h.shape, data)
	return out, h.descr, err
}

// readHeader reads the magic, version and header from r, and returns the
// header and its size in bytes, magic included.
func readHeader(r io.Reader, size int64) (*header, int64, error) {
	pre := make([]byte, 12)
	if n, err := io.ReadFull(r, pre[:8]); err != nil {
		if k := min(n, 6); string(pre[:k]) != magic[:k] {
			return nil, 0, errorf("not a .npy file (no NUMPY magic)")
		}
		return nil, 0, errorf("not a .npy file (%d bytes)", n)
	}
	if string(pre[:6]) != magic {
		return nil, 0, errorf("not a .npy file (no NUMPY magic)")
	}
	major, minor := pre[6], pre[7]
	if minor != 0 || major < 1 || major > 3 {
		return nil, 0, errorf("unsupported format version %d.%d (want 1.0, 2.0 or 3.0)", major, minor)
	}
	lenSize := 2
	if major > 1 {
		lenSize = 4
	}
	if _, err := io.ReadFull(r, pre[8:8+lenSize]); err != nil {
		return nil, 0, errorf("the file ends in its header length")
	}
	hlen := int64(binary.LittleEndian.Uint16(pre[8:]))
	if major > 1 {
		hlen = int64(binary.LittleEndian.Uint32(pre[8:]))
	}
	start := int64(8 + lenSize)
	// A UTF-8 character takes at most 4 bytes.
	if hlen > 4*maxHeaderChars {
		return nil, 0, errorf("the header is %d bytes, beyond numpy's limit of %d characters", hlen, maxHeaderChars)
	}
	if size >= 0 && start+hlen > size {
		return nil, 0, errorf("the header length %d is larger than the file (%d bytes)", hlen, size)
	}
	buf := make([]byte, hlen)
	if _, err := io.ReadFull(r, buf); err != nil {
		return nil, 0, errorf("the file ends in its %d-byte header", hlen)
	}
	text := string(buf)
	chars := len(buf)
	if major == 3 {
		// Version 3 headers are UTF-8; 1 and 2 are Latin-1, where every
		// byte is one character.
		if !utf8.ValidString(text) {
			return nil, 0, errorf("the version 3 header is not valid UTF-8")
		}
		chars = utf8.RuneCountInString(text)
	}
	if chars > maxHeaderChars {
		return nil, 0, errorf("the header has %d characters, beyond numpy's limit of %d", chars, maxHeaderChars)
	}
	v, msg := parseHeader(text, major < 3)
	if msg != "" {
		return nil, 0, errorf("malformed header: %s", msg)
	}
	h, err := checkHeader(v)
	if err != nil {
		return nil, 0, err
	}
	h.major = int(major)
	return h, start + hlen, nil
}

// checkHeader checks the parsed dictionary as numpy does, and our limits.
func checkHeader(v pyValue) (*header, error) {
	if v.kind != pyDict {
		return nil, errorf("the header is not a dictionary")
	}
	if len(v.keys) != 3 {
		return nil, errorf("the header's keys are %q, want descr, fortran_order and shape", v.keys)
	}
	h := &header{elements: 1}
	var shape, fortran, descr *pyValue
	for i, k := range v.keys {
		switch k {
		case "shape":
			shape = &v.items[i]
		case "fortran_order":
			fortran = &v.items[i]
		case "descr":
			descr = &v.items[i]
		default:
			return nil, errorf("the header's keys are %q, want descr, fortran_order and shape", v.keys)
		}
	}
	if shape.kind != pyTuple {
		return nil, errorf("the header's shape is not a tuple")
	}
	zero := false
	for _, d := range shape.items {
		switch {
		case d.kind != pyInt:
			return nil, errorf("the header's shape is not a tuple of integers")
		case d.big || d.num > math.MaxInt:
			return nil, errorf("the header's shape has a dimension beyond %d", math.MaxInt)
		case d.num < 0:
			return nil, errorf("the header's shape %s has a negative dimension", pyShapeOf(shape.items))
		case d.num == 0:
			zero = true
		}
		h.shape = append(h.shape, int(d.num))
	}
	if !zero {
		for _, d := range h.shape {
			if int64(d) > MaxElements/h.elements {
				return nil, errorf("the header's shape %s has more than %d elements", pyShape(h.shape), int64(MaxElements))
			}
			h.elements *= int64(d)
		}
	} else {
		h.elements = 0
	}
	if fortran.kind != pyBool {
		return nil, errorf("the header's fortran_order is not True or False")
	}
	h.fortran = fortran.num == 1
	if descr.kind != pyStr {
		return nil, errorf("unsupported dtype (a structured or sub-array descr; want a float, integer or bool type)")
	}
	h.descr = descr.str
	if !parseDescr(h) {
		return nil, errorf("unsupported dtype %q (want a float, integer or bool type such as '<f4')", h.descr)
	}
	return h, nil
}

// parseDescr sets h's byte order, kind and size from h.descr: an optional
// byte order ('<', '>', and '|' or '=' for the machine's own), a kind and
// a size in bytes.
func parseDescr(h *header) bool {
	s := h.descr
	h.order = binary.NativeEndian
	if s != "" && strings.IndexByte("<>|=", s[0]) >= 0 {
		switch s[0] {
		case '<':
			h.order = binary.LittleEndian
		case '>':
			h.order = binary.BigEndian
		}
		s = s[1:]
	}
	if len(s) != 2 {
		return false
	}
	h.kind, h.size = s[0], int(s[1]-'0')
	switch h.kind {
	case 'f':
		return h.size == 2 || h.size == 4 || h.size == 8
	case 'i', 'u':
		return h.size == 1 || h.size == 2 || h.size == 4 || h.size == 8
	case 'b':
		return h.size == 1
	}
	return false
}

// convert decodes raw element bytes to float32.
func convert(raw []byte, h *header) ([]float32, error) {
	n := len(raw) / h.size
	out := make([]float32, n)
	o := h.order
	for i := range out {
		b := raw[i*h.size : (i+1)*h.size]
		var x int64
		var ux uint64
		isInt, isUint := false, false
		switch int(h.kind)<<4 | h.size {
		case 'f'<<4 | 2:
			out[i] = halfToFloat32(o.Uint16(b))
		case 'f'<<4 | 4:
			out[i] = math.Float32frombits(o.Uint32(b))
		case 'f'<<4 | 8:
			out[i] = float32(math.Float64frombits(o.Uint64(b)))
		case 'b'<<4 | 1:
			if b[0] != 0 {
				out[i] = 1
			}
		case 'i'<<4 | 1:
			x, isInt = int64(int8(b[0])), true
		case 'i'<<4 | 2:
			x, isInt = int64(int16(o.Uint16(b))), true
		case 'i'<<4 | 4:
			x, isInt = int64(int32(o.Uint32(b))), true
		case 'i'<<4 | 8:
			x, isInt = int64(o.Uint64(b)), true
		case 'u'<<4 | 1:
			ux, isUint = uint64(b[0]), true
		case 'u'<<4 | 2:
			ux, isUint = uint64(o.Uint16(b)), true
		case 'u'<<4 | 4:
			ux, isUint = uint64(o.Uint32(b)), true
		case 'u'<<4 | 8:
			ux, isUint = o.Uint64(b), true
		}
		if isUint {
			if ux > 1<<24 {
				return nil, errorf("integer %d at index %d does not fit float32 exactly", ux, i)
			}
			x, isInt = int64(ux), true
		}
		if isInt {
			if x > 1<<24 || x < -(1<<24) {
				return nil, errorf("integer %d at index %d does not fit float32 exactly", x, i)
			}
			out[i] = float32(x)
		}
	}
	return out, nil
}

// halfToFloat32 converts an IEEE 754 binary16 value exactly.
func halfToFloat32(h uint16) float32 {
	sign := uint32(h>>15) << 31
	exp := uint32(h>>10) & 0x1f
	frac := uint32(h) & 0x3ff
	switch {
	case exp == 0x1f: // Inf or NaN, payload kept
		return math.Float32frombits(sign | 0xff<<23 | frac<<13)
	case exp != 0:
		return math.Float32frombits(sign | (exp+127-15)<<23 | frac<<13)
	case frac == 0:
		return math.Float32frombits(sign)
	}
	// Subnormal: frac * 2^-24, exact in float32.
	f := float32(frac) * (1.0 / (1 << 24))
	if sign != 0 {
		f = -f
	}
	return f
}

// pyShape formats a shape as Python prints a tuple: "(5,)", "(1, 5, 10)".
func pyShape(shape []int) string {
	parts := make([]string, len(shape))
	for i, d := range shape {
		parts[i] = strconv.Itoa(d)
	}
	if len(parts) == 1 {
		return "(" + parts[0] + ",)"
	}
	return "(" + strings.Join(parts, ", ") + ")"
}

func pyShapeOf(items []pyValue) string {
	parts := make([]string, len(items))
	for i, d := range items {
		parts[i] = strconv.FormatInt(d.num, 10)
	}
	if len(parts) == 1 {
		return "(" + parts[0] + ",)"
	}
	return "(" + strings.Join(parts, ", ") + ")"
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

// Encode writes t as a little-endian float32 .npy stream in C order, with
// the header padded to 64 bytes as numpy.save pads it.
func Encode(w io.Writer, t *runtime.Tensor) error {
	if t == nil {
		return errors.New("npy: nil tensor")
	}
	if runtime.NumElements(t.Shape) != len(t.Data) {
		return fmt.Errorf("npy: shape %v does not match %d values", t.Shape, len(t.Data))
	}
	dict := "{'descr': '<f4', 'fortran_order': False, 'shape': " + pyShape(t.Shape) + ", }"
	if len(t.Shape) == 0 {
		dict = "{'descr': '<f4', 'fortran_order': False, 'shape': (), }"
	}
	major, lenSize := byte(1), 2
	if len(dict)+1+10 > math.MaxUint16 {
		major, lenSize = 2, 4
	}
	pre := 8 + lenSize
	pad := (64 - (pre+len(dict)+1)%64) % 64
	hdr := make([]byte, 0, pre+len(dict)+pad+1)
	hdr = append(hdr, magic...)
	hdr = append(hdr, major, 0)
	hlen := len(dict) + pad + 1
	if lenSize == 2 {
		hdr = binary.LittleEndian.AppendUint16(hdr, uint16(hlen))
	} else {
		hdr = binary.LittleEndian.AppendUint32(hdr, uint32(hlen))
	}
	hdr = append(hdr, dict...)
	hdr = append(hdr, bytes.Repeat([]byte{' '}, pad)...)
	hdr = append(hdr, '\n')
	if _, err := w.Write(hdr); err != nil {
		return err
	}
	const chunk = 8192
	buf := make([]byte, 0, 4*chunk)
	for i := 0; i < len(t.Data); i += chunk {
		buf = buf[:0]
		for _, v := range t.Data[i:min(i+chunk, len(t.Data))] {
			buf = binary.LittleEndian.AppendUint32(buf, math.Float32bits(v))
		}
		if _, err := w.Write(buf); err != nil {
			return err
		}
	}
	return nil
}
