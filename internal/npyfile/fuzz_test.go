package npyfile

import (
	"bytes"
	"math"
	"testing"
	"testing/iotest"

	"github.com/kerasrun/kerasrun/runtime"
)

// FuzzDecode feeds arbitrary bytes to the .npy reader: it must return a
// tensor or an error, never panic, hang or allocate beyond what the bytes
// can hold. Its seeds are files numpy wrote (testdata/fuzz/FuzzDecode/
// numpy-*, from tools/gen_npy_seeds.py); TestNumpyDifferential checks the
// reader's answers on those seeds and their mutations against numpy's.
// Here every answer must also be the same whether the size is known or the
// bytes arrive as a stream, and a tensor read must survive a write and a
// read bit for bit.
func FuzzDecode(f *testing.F) {
	var buf bytes.Buffer
	x, _ := runtime.NewTensor([]int{2, 3}, []float32{1, 2, 3, 4, 5, 6})
	if err := Encode(&buf, x); err != nil {
		f.Fatal(err)
	}
	f.Add(buf.Bytes())
	f.Add([]byte("\x93NUMPY\x01\x00v\x00{'descr': '<i4', 'fortran_order': True, 'shape': (2, 2), }            \n\x01\x00\x00\x00\x02\x00\x00\x00\x03\x00\x00\x00\x04\x00\x00\x00"))
	f.Add([]byte("\x93NUMPY\x01\x00v\x00{'descr': '<f2', 'fortran_order': False, 'shape': (1099511627776,), }   \n"))
	f.Add([]byte{})
	f.Fuzz(func(t *testing.T, data []byte) {
		got, _, err := Decode(bytes.NewReader(data), int64(len(data)))
		// The same bytes as a stream of unknown size, a byte at a time.
		got2, _, err2 := Decode(iotest.OneByteReader(bytes.NewReader(data)), -1)
		if (err == nil) != (err2 == nil) {
			t.Fatalf("sized: %v; stream: %v", err, err2)
		}
		if err != nil {
			return
		}
		if runtime.NumElements(got.Shape) != len(got.Data) {
			t.Fatalf("shape %v with %d values", got.Shape, len(got.Data))
		}
		if 4*len(got.Data) > 8*len(data)+64 {
			t.Fatalf("%d values from %d bytes", len(got.Data), len(data))
		}
		if !sameBits(got, got2) {
			t.Fatalf("sized and stream reads differ")
		}
		var out bytes.Buffer
		if err := Encode(&out, got); err != nil {
			t.Fatal(err)
		}
		back, dtype, err := Decode(bytes.NewReader(out.Bytes()), int64(out.Len()))
		if err != nil || dtype != "<f4" || !sameBits(got, back) {
			t.Fatalf("write and read back: %v %q", err, dtype)
		}
	})
}

func sameBits(a, b *runtime.Tensor) bool {
	if !runtime.ShapeMatches(a.Shape, b.Shape) || len(a.Data) != len(b.Data) {
		return false
	}
	for i := range a.Data {
		if math.Float32bits(a.Data[i]) != math.Float32bits(b.Data[i]) {
			return false
		}
	}
	return true
}
