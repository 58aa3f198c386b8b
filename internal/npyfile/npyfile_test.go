package npyfile

import (
	"bytes"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/kerasrun/kerasrun/runtime"
)

// TestRoundTripNumpy writes a tensor and has numpy read it back, then reads
// numpy-written arrays of several dtypes and orders.
func TestRoundTripNumpy(t *testing.T) {
	py := "/usr/bin/python3"
	if _, err := exec.Command(py, "-c", "import numpy").CombinedOutput(); err != nil {
		t.Skip("python3-numpy not installed")
	}
	dir := t.TempDir()
	x, _ := runtime.NewTensor([]int{2, 3, 4}, make([]float32, 24))
	for i := range x.Data {
		x.Data[i] = float32(i) * 0.5
	}
	p := filepath.Join(dir, "x.npy")
	if err := Write(p, x); err != nil {
		t.Fatal(err)
	}
	script := `
import numpy as np, sys
d = sys.argv[1]
x = np.load(d + "/x.npy")
assert x.dtype == np.float32 and x.shape == (2, 3, 4), (x.dtype, x.shape)
assert (x.ravel() == np.arange(24, dtype=np.float32) * 0.5).all()
a = np.arange(24).reshape(2, 3, 4)
np.save(d + "/i32.npy", a.astype(np.int32))
np.save(d + "/i64.npy", a.astype(np.int64))
np.save(d + "/f64.npy", a.astype(np.float64) / 4)
np.save(d + "/f16.npy", a.astype(np.float16) / 4)
np.save(d + "/fort.npy", np.asfortranarray(a.astype(np.float32)))
`
	if out, err := exec.Command(py, "-c", script, dir).CombinedOutput(); err != nil {
		t.Fatalf("numpy: %v\n%s", err, out)
	}
	for name, scale := range map[string]float32{"i32": 1, "i64": 1, "f64": 0.25, "f16": 0.25, "fort": 1} {
		got, _, err := Read(filepath.Join(dir, name+".npy"))
		if err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		if !runtime.ShapeMatches([]int{2, 3, 4}, got.Shape) {
			t.Fatalf("%s: shape %v", name, got.Shape)
		}
		for i, v := range got.Data {
			if v != float32(i)*scale {
				t.Fatalf("%s: [%d] = %v, want %v", name, i, v, float32(i)*scale)
			}
		}
	}
}

func TestReadRejectsBadFiles(t *testing.T) {
	dir := t.TempDir()
	for name, content := range map[string]string{
		"empty":     "",
		"text":      "hello world",
		"truncated": "\x93NUMPY\x01\x00v\x00{'descr': '<f4', 'fortran_order': False, 'shape': (1000, 1000), }",
	} {
		p := filepath.Join(dir, name+".npy")
		if err := os.WriteFile(p, []byte(content), 0o644); err != nil {
			t.Fatal(err)
		}
		if _, _, err := Read(p); err == nil {
			t.Errorf("%s: no error", name)
		}
	}
}

// batchFile returns a numpy-layout .npy file of a (1, 5, 10) float32 array
// whose data is cut to, or run on to, dataBytes bytes.
func batchFile(t *testing.T, dataBytes int) []byte {
	t.Helper()
	x := runtime.Zeros(1, 5, 10)
	for i := range x.Data {
		x.Data[i] = float32(i) / 50
	}
	var b bytes.Buffer
	if err := Encode(&b, x); err != nil {
		t.Fatal(err)
	}
	full := b.Bytes()
	hdr := len(full) - 200
	if dataBytes <= 200 {
		return full[:hdr+dataBytes]
	}
	return append(full, make([]byte, dataBytes-200)...)
}

// TestReadExactData: the data must fill the rest of the file exactly. A
// truncated file once read as a plausible array (the size check counted
// the header as data, and the reader repeated the last value).
func TestReadExactData(t *testing.T) {
	for _, tc := range []struct {
		name string
		data int
		want string
	}{
		{"truncated", 80, "holds 80 bytes of data, the header's shape (1, 5, 10) <f4 needs 200"},
		{"one byte short", 199, "holds 199 bytes of data, the header's shape (1, 5, 10) <f4 needs 200"},
		{"no data", 0, "holds 0 bytes of data, the header's shape (1, 5, 10) <f4 needs 200"},
		{"trailing", 204, "holds 204 bytes of data, the header's shape (1, 5, 10) <f4 needs 200"},
		{"exact", 200, ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			p := filepath.Join(t.TempDir(), "x.npy")
			if err := os.WriteFile(p, batchFile(t, tc.data), 0o644); err != nil {
				t.Fatal(err)
			}
			got, _, err := Read(p)
			if tc.want == "" {
				if err != nil || len(got.Data) != 50 || got.Data[49] != 49.0/50 {
					t.Fatalf("exact file: %v", err)
				}
				return
			}
			if err == nil {
				t.Fatalf("read %v from a file with %d of 200 data bytes", got.Shape, tc.data)
			}
			if !strings.Contains(err.Error(), tc.want) {
				t.Errorf("error %q, want it to say %q", err, tc.want)
			}
			if !errors.Is(err, ErrFormat) || !errors.Is(err, runtime.ErrInvalidInput) {
				t.Errorf("%v does not match ErrFormat and runtime.ErrInvalidInput", err)
			}
			// The same bytes as a stream of unknown size.
			b := batchFile(t, tc.data)
			if _, _, err := Decode(bytes.NewReader(b), -1); err == nil {
				t.Errorf("stream: no error")
			}
		})
	}
}

// TestReadMalformedHeaders: a malformed header is an error that says what
// is wrong, never a recovered panic.
func TestReadMalformedHeaders(t *testing.T) {
	// wrap makes a version 1.0 file of header h and data.
	wrap := func(h string, data ...string) string {
		return "\x93NUMPY\x01\x00" + string([]byte{byte(len(h)), byte(len(h) >> 8)}) + h + strings.Join(data, "")
	}
	for name, content := range map[string]string{
		// The header of a fuzzer's find that once leaked "runtime error:
		// slice bounds out of range [1:0]".
		"fuzz find":         "\x93NUMPY\x02D\x00\x00\x00{'descr': '<f4', 'fortran_order': False, '\x00hape': (2, 3), }        \n",
		"NUL in key":        wrap("{'descr': '<f4', 'fortran_order': False, '\x00hape': (2, 3), }\n"),
		"bad key":           wrap("{'descr': '<f4', 'fortran_order': False, 'xhape': (1,), }\n", "\x00\x00\x80\x3f"),
		"empty":             "",
		"text":              "hello world",
		"json":              `{"shape": [2], "data": [1, 2]}`,
		"short magic":       "\x93NUM",
		"no length":         "\x93NUMPY\x01\x00",
		"version":           "\x93NUMPY\x01\x01\x00\x00",
		"header too long":   "\x93NUMPY\x01\x00\xff\xff{}",
		"huge v2 header":    "\x93NUMPY\x02\x00\xff\xff\xff\xff{}",
		"not a dict":        wrap("('<f4', False, (1,))\n"),
		"unclosed":          wrap("{'descr': '<f4', 'fortran_order': False, 'shape': (1,\n"),
		"unclosed string":   wrap("{'descr': '<f4, 'fortran_order': False, 'shape': (1,)}\n"),
		"missing key":       wrap("{'descr': '<f4', 'shape': (1,)}\n"),
		"extra key":         wrap("{'descr': '<f4', 'fortran_order': False, 'shape': (1,), 'x': 1}\n"),
		"float dim":         wrap("{'descr': '<f4', 'fortran_order': False, 'shape': (1.0,)}\n"),
		"negative dim":      wrap("{'descr': '<f4', 'fortran_order': False, 'shape': (-1,)}\n", "\x00\x00\x80\x3f"),
		"huge dim":          wrap("{'descr': '<f4', 'fortran_order': False, 'shape': (99999999999999999999,)}\n"),
		"overflowing shape": wrap("{'descr': '<f4', 'fortran_order': False, 'shape': (4294967296, 4294967296)}\n"),
		"bool order":        wrap("{'descr': '<f4', 'fortran_order': 0, 'shape': (1,)}\n", "\x00\x00\x80\x3f"),
		"complex":           wrap("{'descr': '<c8', 'fortran_order': False, 'shape': (1,)}\n", "\x00\x00\x80\x3f\x00\x00\x80\x3f"),
		"structured":        wrap("{'descr': [('a', '<f4')], 'fortran_order': False, 'shape': (1,)}\n", "\x00\x00\x80\x3f"),
		"deep":              wrap("{'descr': " + strings.Repeat("(", 150) + "\n"),
		"big int":           wrap("{'descr': '<i4', 'fortran_order': False, 'shape': (1,)}\n", "\x01\x00\x00\x02"),
	} {
		t.Run(name, func(t *testing.T) {
			b := []byte(content)
			got, _, err := Decode(bytes.NewReader(b), int64(len(b)))
			if err == nil {
				t.Fatalf("no error; read %v", got.Shape)
			}
			t.Log(err)
			if strings.Contains(err.Error(), "runtime error") || !strings.HasPrefix(err.Error(), "npy: ") {
				t.Errorf("error %q", err)
			}
			if !errors.Is(err, ErrFormat) {
				t.Errorf("%v does not match ErrFormat", err)
			}
		})
	}
}

// TestEncodeShapes writes tensors of every rank, numpy's layout included,
// and reads them back.
func TestEncodeShapes(t *testing.T) {
	for _, shape := range [][]int{{}, {3}, {2, 3}, {1, 5, 10}, {0, 3}} {
		x := runtime.Zeros(shape...)
		for i := range x.Data {
			x.Data[i] = float32(i) - 1.5
		}
		var b bytes.Buffer
		if err := Encode(&b, x); err != nil {
			t.Fatal(err)
		}
		if hdr := b.Len() - 4*len(x.Data); hdr%64 != 0 {
			t.Errorf("%v: header of %d bytes, numpy pads to 64", shape, hdr)
		}
		got, dtype, err := Decode(bytes.NewReader(b.Bytes()), int64(b.Len()))
		if err != nil || dtype != "<f4" || !sameBits(x, got) {
			t.Errorf("%v: read back %v %q: %v", shape, got, dtype, err)
		}
	}
	if err := Encode(&bytes.Buffer{}, nil); err == nil {
		t.Error("nil tensor: no error")
	}
}
