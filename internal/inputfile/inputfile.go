// Package inputfile reads a model input from a file in one of three forms:
//
//   - a NumPy .npy file (through internal/npyfile: exact, see there);
//   - JSON: nested lists of numbers, [[1, 2], [3, 4]], whose nesting gives
//     the shape, or an object {"shape": [2, 2], "data": [1, 2, 3, 4]} with
//     the data flat in C order; a bare number is a scalar;
//   - raw little-endian float32 values in C order, whose shape the caller
//     gives.
//
// Read picks the form from the content and the name: a file that starts
// with the NUMPY magic is .npy whatever its name; a .json file is JSON; a
// .npy file without the magic is an error (one that says so when the file
// holds JSON); any other file is raw when a shape is given, and otherwise
// JSON when it starts with '[', '{' or a number, else an error that asks
// for a shape.
//
// Reading is bounded: a shape is checked with overflow-aware arithmetic
// against MaxElements (and, for raw data, against the file's size) before
// anything is allocated, and JSON values are decoded one at a time, so
// memory grows with the bytes in the file, never with what a shape claims.
// Every value must be a finite float32: JSON has no NaN or infinity, and a
// number beyond float32's range is an error, not an infinity.
//
// Every error about a file's content matches runtime.ErrInvalidInput
// (errors.Is): an input file is the caller's to fix. Errors from the file
// system (a missing file) are returned as they are.
package inputfile

import (
	"bufio"
	"bytes"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"

	"github.com/kerasrun/kerasrun/internal/npyfile"
	"github.com/kerasrun/kerasrun/runtime"
)

// MaxElements bounds the elements of one input, as npyfile.MaxElements.
const MaxElements = npyfile.MaxElements

// maxRank bounds the nesting of a JSON input.
const maxRank = 32

// inputError is an error about a file's content.
type inputError struct{ msg string }

func (e *inputError) Error() string { return e.msg }

// Is matches runtime.ErrInvalidInput.
func (e *inputError) Is(target error) bool { return target == runtime.ErrInvalidInput }

func errorf(format string, args ...any) error {
	return &inputError{fmt.Sprintf(format, args...)}
}

// Read reads the input file at path. shape is nil when the caller has no
// shape for it; for raw float32 data it is required, and for a .npy or
// JSON file it must equal the file's own shape. Every dimension of shape
// must be positive.
func Read(path string, shape []int) (*runtime.Tensor, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	st, err := f.Stat()
	if err != nil {
		return nil, err
	}
	if !st.Mode().IsRegular() {
		return nil, errorf("%s: not a regular file", path)
	}
	r := bufio.NewReader(f)
	head, _ := r.Peek(64)
	ext := strings.ToLower(filepath.Ext(path))
	looksJSON := startsJSON(head)
	var t *runtime.Tensor
	switch {
	case bytes.HasPrefix(head, []byte("\x93NUMPY")):
		t, _, err = npyfile.Decode(r, st.Size())
	case ext == ".npy" && looksJSON:
		return nil, errorf("%s: not a .npy file (no NUMPY magic): it holds JSON; name it .json", path)
	case ext == ".npy":
		t, _, err = npyfile.Decode(r, st.Size())
	case ext == ".json":
		t, err = decodeJSON(r)
	case shape != nil:
		return readRaw(path, r, st.Size(), shape)
	case looksJSON:
		t, err = decodeJSON(r)
	default:
		return nil, errorf("%s: not a .npy or JSON file; raw float32 data needs a shape", path)
	}
	if err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	if shape != nil && !slices.Equal(shape, t.Shape) {
		return nil, errorf("%s holds shape %s, but the shape given is %s", path, runtime.FormatShape(t.Shape), runtime.FormatShape(shape))
	}
	return t, nil
}

// startsJSON reports whether b, after white space, starts a JSON array,
// object or number.
func startsJSON(b []byte) bool {
	b = bytes.TrimLeft(b, " \t\r\n")
	return len(b) > 0 && (b[0] == '[' || b[0] == '{' || b[0] == '-' || b[0] >= '0' && b[0] <= '9')
}

// elements returns the product of shape's dimensions, checked: every
// dimension positive and the product at most MaxElements.
func elements(shape []int) (int64, error) {
	n := int64(1)
	for _, d := range shape {
		if d <= 0 {
			return 0, errorf("shape %s: every dimension must be positive", runtime.FormatShape(shape))
		}
		if int64(d) > MaxElements/n {
			return 0, errorf("shape %s has more than %d elements", runtime.FormatShape(shape), int64(MaxElements))
		}
		n *= int64(d)
	}
	return n, nil
}

// readRaw reads little-endian float32 values of the given shape; the file
// must hold exactly that many.
func readRaw(path string, r io.Reader, size int64, shape []int) (*runtime.Tensor, error) {
	n, err := elements(shape)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	if size != 4*n {
		return nil, errorf("%s: holds %d bytes, shape %s float32 needs %d", path, size, runtime.FormatShape(shape), 4*n)
	}
	raw := make([]byte, 4*n)
	if _, err := io.ReadFull(r, raw); err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	data := make([]float32, n)
	for i := range data {
		data[i] = math.Float32frombits(binary.LittleEndian.Uint32(raw[4*i:]))
	}
	return runtime.NewTensor(shape, data)
}

// jsonReader decodes a JSON input one token at a time.
type jsonReader struct {
	dec  *json.Decoder
	data []float32
	// dims[k] is the length of the lists at depth k, set by the first list
	// that closes there (0: none yet); leaf is the depth of the numbers
	// (0: none yet), and so the rank.
	dims [maxRank]int
	leaf int
}

// decodeJSON reads a JSON input: nested lists, a {"shape", "data"} object
// or a number.
func decodeJSON(r io.Reader) (*runtime.Tensor, error) {
	j := &jsonReader{dec: json.NewDecoder(r)}
	j.dec.UseNumber()
	tok, err := j.token()
	if err != nil {
		return nil, err
	}
	var t *runtime.Tensor
	switch v := tok.(type) {
	case json.Delim:
		if v == '[' {
			if err := j.list(0); err != nil {
				return nil, err
			}
			t, err = runtime.NewTensor(j.dims[:j.leaf], j.data)
		} else if v == '{' {
			t, err = j.object()
		} else {
			err = errorf("json: unexpected %q", v)
		}
	case json.Number:
		var x float32
		if x, err = j.number(v); err == nil {
			t, err = runtime.NewTensor(nil, []float32{x})
		}
	default:
		err = errorf("json: want a list, an object or a number, not %s", describe(v))
	}
	if err != nil {
		return nil, err
	}
	if _, err := j.dec.Token(); err != io.EOF {
		return nil, errorf("json: more after the input's value")
	}
	return t, nil
}

// token reads the next token; a syntax error becomes an input error.
func (j *jsonReader) token() (json.Token, error) {
	tok, err := j.dec.Token()
	if err == io.EOF {
		return nil, errorf("json: the file ends early")
	}
	if err != nil {
		var se *json.SyntaxError
		if errors.As(err, &se) || errors.Is(err, io.ErrUnexpectedEOF) {
			return nil, errorf("json: %v", err)
		}
		return nil, err
	}
	return tok, nil
}

func describe(tok json.Token) string {
	switch v := tok.(type) {
	case nil:
		return "null"
	case bool:
		return strconv.FormatBool(v)
	case string:
		return fmt.Sprintf("the string %q", v)
	case json.Delim:
		return fmt.Sprintf("%q", rune(v))
	}
	return fmt.Sprint(tok)
}

// number converts a JSON number to float32, refusing one beyond float32's
// range.
func (j *jsonReader) number(n json.Number) (float32, error) {
	x, err := strconv.ParseFloat(string(n), 32)
	if err != nil {
		return 0, errorf("json: the value %s at index %d is beyond float32's range", n, len(j.data))
	}
	return float32(x), nil
}

// list reads the items of a list whose '[' is read, at the given depth.
func (j *jsonReader) list(depth int) error {
	if depth >= maxRank {
		return errorf("json: lists nested deeper than %d", maxRank)
	}
	n := 0
	for {
		tok, err := j.token()
		if err != nil {
			return err
		}
		switch v := tok.(type) {
		case json.Delim:
			if v == ']' {
				if n == 0 {
					return errorf("json: an empty list at depth %d (every dimension must be positive)", depth+1)
				}
				if j.dims[depth] == 0 {
					j.dims[depth] = n
				} else if j.dims[depth] != n {
					return errorf("json: ragged lists: a list at depth %d has %d items, the first had %d", depth+1, n, j.dims[depth])
				}
				return nil
			}
			if v != '[' {
				return errorf("json: an object inside the lists")
			}
			if j.leaf != 0 && depth+1 >= j.leaf {
				return errorf("json: ragged lists: a list where a number was at depth %d", depth+1)
			}
			if err := j.list(depth + 1); err != nil {
				return err
			}
		case json.Number:
			if j.leaf == 0 {
				j.leaf = depth + 1
			} else if j.leaf != depth+1 {
				return errorf("json: ragged lists: a number at depth %d, the first was at depth %d", depth+1, j.leaf)
			}
			if len(j.data) >= MaxElements {
				return errorf("json: more than %d values", int64(MaxElements))
			}
			x, err := j.number(v)
			if err != nil {
				return err
			}
			j.data = append(j.data, x)
		default:
			return errorf("json: %s at index %d, want a number", describe(v), len(j.data))
		}
		n++
	}
}

// object reads {"shape": [...], "data": [...]} whose '{' is read.
func (j *jsonReader) object() (*runtime.Tensor, error) {
	var shape []int
	haveShape, haveData := false, false
	for {
		tok, err := j.token()
		if err != nil {
			return nil, err
		}
		if tok == json.Delim('}') {
			break
		}
		key, _ := tok.(string)
		switch {
		case key == "shape" && !haveShape:
			haveShape = true
			if shape, err = j.shape(); err != nil {
				return nil, err
			}
		case key == "data" && !haveData:
			haveData = true
			if err := j.flat(); err != nil {
				return nil, err
			}
		case key == "shape" || key == "data":
			return nil, errorf("json: the key %q appears twice", key)
		default:
			return nil, errorf("json: unknown key %q (want \"shape\" and \"data\")", key)
		}
	}
	if !haveShape || !haveData {
		return nil, errorf("json: an object input needs both \"shape\" and \"data\"")
	}
	n, err := elements(shape)
	if err != nil {
		return nil, fmt.Errorf("json: %w", err)
	}
	if int64(len(j.data)) != n {
		return nil, errorf("json: \"data\" holds %d values, shape %s needs %d", len(j.data), runtime.FormatShape(shape), n)
	}
	return runtime.NewTensor(shape, j.data)
}

// shape reads a list of positive integers.
func (j *jsonReader) shape() ([]int, error) {
	tok, err := j.token()
	if err != nil {
		return nil, err
	}
	if tok != json.Delim('[') {
		return nil, errorf("json: \"shape\" must be a list of integers, not %s", describe(tok))
	}
	var shape []int
	for {
		tok, err := j.token()
		if err != nil {
			return nil, err
		}
		if tok == json.Delim(']') {
			return shape, nil
		}
		num, _ := tok.(json.Number)
		d, err := strconv.ParseInt(string(num), 10, 64)
		if err != nil || d <= 0 || d > MaxElements {
			return nil, errorf("json: \"shape\" holds %s, want a positive integer at most %d", describe(tok), int64(MaxElements))
		}
		if len(shape) >= maxRank {
			return nil, errorf("json: \"shape\" has more than %d dimensions", maxRank)
		}
		shape = append(shape, int(d))
	}
}

// flat reads a flat list of numbers into j.data.
func (j *jsonReader) flat() error {
	tok, err := j.token()
	if err != nil {
		return err
	}
	if tok != json.Delim('[') {
		return errorf("json: \"data\" must be a flat list of numbers, not %s", describe(tok))
	}
	for {
		tok, err := j.token()
		if err != nil {
			return err
		}
		if tok == json.Delim(']') {
			return nil
		}
		num, ok := tok.(json.Number)
		if !ok {
			return errorf("json: \"data\" holds %s at index %d, want a number (the data is flat, in C order)", describe(tok), len(j.data))
		}
		if len(j.data) >= MaxElements {
			return errorf("json: more than %d values", int64(MaxElements))
		}
		x, err := j.number(num)
		if err != nil {
			return err
		}
		j.data = append(j.data, x)
	}
}
