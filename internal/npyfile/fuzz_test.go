package npyfile

import (
	"bytes"
	"testing"

	"github.com/kerasrun/kerasrun/runtime"
)

// FuzzDecode feeds arbitrary bytes to the .npy reader: it must return a
// tensor or an error, never panic, hang or allocate beyond what the bytes
// can hold.
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
		if err != nil {
			return
		}
		if runtime.NumElements(got.Shape) != len(got.Data) {
			t.Fatalf("shape %v with %d values", got.Shape, len(got.Data))
		}
		if 4*len(got.Data) > 8*len(data)+64 {
			t.Fatalf("%d values from %d bytes", len(got.Data), len(data))
		}
	})
}
