package inputfile

import (
	"bytes"
	"encoding/binary"
	"errors"
	"math"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/kerasrun/kerasrun/internal/npyfile"
	"github.com/kerasrun/kerasrun/runtime"
)

func write(t *testing.T, name string, content []byte) string {
	t.Helper()
	p := filepath.Join(t.TempDir(), name)
	if err := os.WriteFile(p, content, 0o644); err != nil {
		t.Fatal(err)
	}
	return p
}

func rawFloats(xs ...float32) []byte {
	b := make([]byte, 0, 4*len(xs))
	for _, x := range xs {
		b = binary.LittleEndian.AppendUint32(b, math.Float32bits(x))
	}
	return b
}

func npyBytes(t *testing.T, shape []int, data []float32) []byte {
	t.Helper()
	x, err := runtime.NewTensor(shape, data)
	if err != nil {
		t.Fatal(err)
	}
	var b bytes.Buffer
	if err := npyfile.Encode(&b, x); err != nil {
		t.Fatal(err)
	}
	return b.Bytes()
}

func TestRead(t *testing.T) {
	npy := npyBytes(t, []int{2, 2}, []float32{1, 2, 3, 4})
	for _, tc := range []struct {
		name, file string
		content    []byte
		shape      []int // given
		wantShape  []int
		want       []float32
	}{
		{"npy", "x.npy", npy, nil, []int{2, 2}, []float32{1, 2, 3, 4}},
		{"npy with its shape", "x.npy", npy, []int{2, 2}, []int{2, 2}, []float32{1, 2, 3, 4}},
		{"npy by content", "x.bin", npy, nil, []int{2, 2}, []float32{1, 2, 3, 4}},
		{"nested lists", "x.json", []byte("[[1, 2.5], [-3e2, 4]]"), nil, []int{2, 2}, []float32{1, 2.5, -300, 4}},
		{"nested lists, 3-d", "x.json", []byte(" [[[1],[2]],[[3],[4]],[[5],[6]]]\n"), nil, []int{3, 2, 1}, []float32{1, 2, 3, 4, 5, 6}},
		{"nested lists by content", "input", []byte("[0.5, 1]"), nil, []int{2}, []float32{0.5, 1}},
		{"object", "x.json", []byte(`{"shape": [1, 3], "data": [1, 2, 3]}`), nil, []int{1, 3}, []float32{1, 2, 3}},
		{"object, data first", "x.json", []byte(`{"data": [1, 2, 3], "shape": [3, 1]}`), []int{3, 1}, []int{3, 1}, []float32{1, 2, 3}},
		{"object scalar", "x.json", []byte(`{"shape": [], "data": [7]}`), nil, []int{}, []float32{7}},
		{"scalar", "x.json", []byte(`-1.25`), nil, []int{}, []float32{-1.25}},
		{"float32 rounding", "x.json", []byte(`[0.1, 16777217, 1e-46]`), nil, []int{3}, []float32{0.1, 16777216, 0}},
		{"raw", "x.f32", rawFloats(1, 2, 3, 4, 5, 6), []int{1, 2, 3}, []int{1, 2, 3}, []float32{1, 2, 3, 4, 5, 6}},
		{"raw that starts like JSON", "x.bin", rawFloats(math.Float32frombits(0x5b5b5b5b)), []int{1}, []int{1}, []float32{math.Float32frombits(0x5b5b5b5b)}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, err := Read(write(t, tc.file, tc.content), tc.shape)
			if err != nil {
				t.Fatal(err)
			}
			if len(got.Shape) != len(tc.wantShape) || !slices.Equal(got.Shape, tc.wantShape) {
				t.Fatalf("shape %v, want %v", got.Shape, tc.wantShape)
			}
			for i := range tc.want {
				if got.Data[i] != tc.want[i] {
					t.Fatalf("data %v, want %v", got.Data, tc.want)
				}
			}
		})
	}
}

func TestReadErrors(t *testing.T) {
	npy := npyBytes(t, []int{2, 2}, []float32{1, 2, 3, 4})
	for _, tc := range []struct {
		name, file string
		content    []byte
		shape      []int
		want       string
	}{
		{"npy, wrong shape", "x.npy", npy, []int{4}, "holds shape (2, 2), but the shape given is (4,)"},
		{"truncated npy", "x.npy", npy[:len(npy)-4], nil, "holds 12 bytes of data"},
		{"json named npy", "x.npy", []byte(`[[1, 2]]`), nil, "it holds JSON; name it .json"},
		{"text named npy", "x.npy", []byte(`hello`), nil, "no NUMPY magic"},
		{"no shape for raw", "x.bin", rawFloats(1), nil, "raw float32 data needs a shape"},
		{"raw too short", "x.bin", rawFloats(1, 2, 3), []int{2, 2}, "holds 12 bytes, shape (2, 2) float32 needs 16"},
		{"raw too long", "x.bin", rawFloats(1, 2, 3, 4, 5), []int{2, 2}, "holds 20 bytes, shape (2, 2) float32 needs 16"},
		{"raw zero dim", "x.bin", nil, []int{0, 2}, "every dimension must be positive"},
		{"raw overflowing shape", "x.bin", rawFloats(1), []int{1 << 40, 1 << 40}, "more than 2147483648 elements"},
		{"json wrong shape", "x.json", []byte(`[1, 2]`), []int{1, 2}, "holds shape (2,), but the shape given is (1, 2)"},
		{"ragged", "x.json", []byte(`[[1, 2], [3]]`), nil, "ragged"},
		{"ragged depth", "x.json", []byte(`[[1, 2], 3]`), nil, "ragged"},
		{"ragged depth 2", "x.json", []byte(`[1, [2, 3]]`), nil, "ragged"},
		{"empty list", "x.json", []byte(`[]`), nil, "empty list"},
		{"empty inner list", "x.json", []byte(`[[], []]`), nil, "empty list"},
		{"string value", "x.json", []byte(`[1, "2"]`), nil, `the string "2" at index 1`},
		{"null value", "x.json", []byte(`[1, null]`), nil, "null at index 1"},
		{"NaN", "x.json", []byte(`[1, NaN]`), nil, "invalid character"},
		{"beyond float32", "x.json", []byte(`[1, 1e39]`), nil, "1e39 at index 1 is beyond float32's range"},
		{"trailing value", "x.json", []byte(`[1] [2]`), nil, "more after"},
		{"truncated json", "x.json", []byte(`[[1, 2], [3`), nil, "ends early"},
		{"deep", "x.json", []byte(strings.Repeat("[", 40) + "1" + strings.Repeat("]", 40)), nil, "nested deeper than 32"},
		{"object in lists", "x.json", []byte(`[{"a": 1}]`), nil, "object inside"},
		{"object, no data", "x.json", []byte(`{"shape": [2]}`), nil, `needs both "shape" and "data"`},
		{"object, unknown key", "x.json", []byte(`{"shape": [1], "data": [1], "dtype": "f4"}`), nil, `unknown key "dtype"`},
		{"object, twice", "x.json", []byte(`{"shape": [1], "shape": [1], "data": [1]}`), nil, `"shape" appears twice`},
		{"object, count", "x.json", []byte(`{"shape": [2, 2], "data": [1, 2, 3]}`), nil, `"data" holds 3 values, shape (2, 2) needs 4`},
		{"object, nested data", "x.json", []byte(`{"shape": [1, 2], "data": [[1, 2]]}`), nil, "flat"},
		{"object, zero dim", "x.json", []byte(`{"shape": [0], "data": []}`), nil, "positive integer"},
		{"object, fractional dim", "x.json", []byte(`{"shape": [1.5], "data": [1]}`), nil, "positive integer"},
		{"object, hostile shape", "x.json", []byte(`{"shape": [2147483648, 2147483648, 2147483648], "data": [1]}`), nil, "more than 2147483648 elements"},
		{"object, huge dim", "x.json", []byte(`{"shape": [99999999999999999999], "data": [1]}`), nil, "positive integer"},
		{"not json", "x.json", []byte(`hello`), nil, "invalid character"},
		{"empty json", "x.json", nil, nil, "ends early"},
		{"bool", "x.json", []byte(`true`), nil, "not true"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			p := write(t, tc.file, tc.content)
			got, err := Read(p, tc.shape)
			if err == nil {
				t.Fatalf("no error; read %v %v", got.Shape, got.Data)
			}
			if !strings.Contains(err.Error(), tc.want) {
				t.Errorf("error %q, want it to say %q", err, tc.want)
			}
			if !strings.Contains(err.Error(), p) {
				t.Errorf("error %q does not name the file", err)
			}
			if !errors.Is(err, runtime.ErrInvalidInput) {
				t.Errorf("%v does not match runtime.ErrInvalidInput", err)
			}
		})
	}
	if _, err := Read(filepath.Join(t.TempDir(), "missing.npy"), nil); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("missing file: %v", err)
	}
}

// FuzzJSON feeds arbitrary bytes to the JSON reader: a tensor whose shape
// holds its values, or an error, never a panic.
func FuzzJSON(f *testing.F) {
	for _, s := range []string{`[[1, 2], [3, 4]]`, `{"shape": [2], "data": [1, 2]}`, `1`, `[[[1]], [[2]]]`, `{"data": [], "shape": []}`} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		got, err := decodeJSON(bytes.NewReader(data))
		if err != nil {
			if !errors.Is(err, runtime.ErrInvalidInput) {
				t.Fatalf("%v does not match runtime.ErrInvalidInput", err)
			}
			return
		}
		if runtime.NumElements(got.Shape) != len(got.Data) || len(got.Data) == 0 {
			t.Fatalf("shape %v with %d values", got.Shape, len(got.Data))
		}
		for _, v := range got.Data {
			if math.IsInf(float64(v), 0) || math.IsNaN(float64(v)) {
				t.Fatalf("value %v", v)
			}
		}
	})
}
