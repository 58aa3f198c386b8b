package npyfile

import (
	"os"
	"os/exec"
	"path/filepath"
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
