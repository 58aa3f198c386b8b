package golden

import (
	"context"
	"math"
	"os"
	"os/exec"
	"path/filepath"
	"reflect"
	"strings"
	"testing"

	"github.com/kerasrun/kerasrun/runtime"
)

// affine is a test layer computing a*x + b.
type affine struct {
	name string
	a, b float32
}

func (l *affine) Name() string  { return l.name }
func (l *affine) Class() string { return "Affine" }
func (l *affine) Forward(in []*runtime.Tensor) ([]*runtime.Tensor, error) {
	out := runtime.Empty(in[0].Shape...)
	for i, v := range in[0].Data {
		out.Data[i] = l.a*v + l.b
	}
	return runtime.One(out), nil
}

// nestedModel is x [None, 2] -> a (x+1) -> enc/b (2x) -> enc/c (x+3),
// the layers of a nested model "enc" flattened as the importer names
// them. scale replaces enc/b's factor, to make it diverge.
func nestedModel(t *testing.T, scale float32) *runtime.Model {
	t.Helper()
	g := runtime.NewGraph()
	r := g.Input(runtime.IO{Name: "x", Shape: []int{-1, 2}, DType: "float32"}, true)
	for _, l := range []*affine{{"a", 1, 1}, {"enc/b", scale, 0}, {"enc/c", 1, 3}} {
		r = g.Call(l, []runtime.Ref{r}, [][]int{{-1, 2}})[0]
	}
	g.Output("enc", r)
	m, err := g.Build()
	if err != nil {
		t.Fatal(err)
	}
	return m
}

// writeCase writes a golden folder with tools/export_golden.py's writer:
// x = [[0, 1], [2, 3]] and the outputs numpy computes for nestedModel, the
// activations listed out of run order, plus one of a layer the model
// lacks. It skips the test without python3-numpy.
func writeCase(t *testing.T) string {
	t.Helper()
	py := "/usr/bin/python3"
	if err := exec.Command(py, "-c", "import numpy").Run(); err != nil {
		if os.Getenv("CI") == "true" {
			t.Fatalf("python3-numpy is missing: %v", err)
		}
		t.Skip("python3-numpy is missing")
	}
	dir := t.TempDir()
	script := `
import sys
import numpy as np
sys.path.insert(0, sys.argv[1])
from export_golden import write_golden
x = np.array([[0, 1], [2, 3]], np.float64)
a = x + 1
b = 2 * a
c = b + 3
acts = [("enc", "Functional", 0, c), ("enc/b", "Affine", 0, b), ("ghost", "Dense", 0, x), ("a", "Affine", 0, a)]
write_golden(sys.argv[2], "nested", [("x", x)], [("enc", c)], acts, {"atol": 1e-6, "rtol": 0})

# fusedModel: Keras's conv output is 2x+1, before the ReLU that kerasrun
# computes inside it.
x = np.array([[-1, 0], [1, 2]], np.float64)
conv = 2 * x + 1
relu = np.maximum(conv, 0)
dense = relu + 3
acts = [("conv", "Conv2D", 0, conv), ("relu", "ReLU", 0, relu), ("dense", "Dense", 0, dense)]
write_golden(sys.argv[2], "fused", [("x", x)], [("dense", dense)], acts, {"atol": 1e-6, "rtol": 0})
`
	cmd := exec.Command(py, "-B", "-c", script, filepath.Join("..", "..", "tools"), dir)
	if b, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("export_golden.write_golden: %v\n%s", err, b)
	}
	return dir
}

// TestVerify checks Verify on a case written by export_golden.py: names
// matched exactly and as a nested model, layers sorted in run order, an
// unknown layer left out, and the first diverging layer.
func TestVerify(t *testing.T) {
	dir := writeCase(t)
	c, err := Find(dir, "model.h5", "nested")
	if err != nil {
		t.Fatal(err)
	}
	if atol, rtol := c.Tolerance(); atol != 1e-6 || rtol != 0 {
		t.Errorf("tolerance %g, %g; want 1e-6, 0", atol, rtol)
	}
	r, err := Verify(context.Background(), nestedModel(t, 2), c, 1e-6, 0)
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, d := range r.Layers {
		names = append(names, d.Name)
		if !d.OK || d.MaxAbs != 0 {
			t.Errorf("layer %s: %+v", d.Name, d)
		}
	}
	if !reflect.DeepEqual(names, []string{"a", "enc/b", "enc"}) {
		t.Errorf("layers %v, want [a enc/b enc] (run order)", names)
	}
	if !reflect.DeepEqual(r.Unmatched, []string{"ghost"}) {
		t.Errorf("unmatched %v, want [ghost]", r.Unmatched)
	}
	if !r.OK() || r.FirstDiverging() != nil {
		t.Errorf("ok %v, first diverging %v", r.OK(), r.FirstDiverging())
	}

	// enc/b computes 2.5x: every layer from it on diverges, and enc/b is
	// the first although the manifest lists enc before it.
	r, err = Verify(context.Background(), nestedModel(t, 2.5), c, 1e-6, 0)
	if err != nil {
		t.Fatal(err)
	}
	first := r.FirstDiverging()
	if r.OK() || first == nil || first.Name != "enc/b" || first.Class != "Affine" {
		t.Fatalf("ok %v, first diverging %+v; want enc/b", r.OK(), first)
	}
	// a + 1 is [[1, 2], [3, 4]]: 2.5 (a) - 2 (a) is at most 2, relative 0.25.
	if first.MaxAbs != 2 || first.MaxRel != 0.25 {
		t.Errorf("enc/b: max abs %g, max rel %g; want 2, 0.25", first.MaxAbs, first.MaxRel)
	}
	var b strings.Builder
	r.Write(&b)
	for _, want := range []string{
		"case nested: atol 1e-06, rtol 0\n",
		"output 0 enc: max abs error 2, max rel error 0.182  DIFFERS\n",
		"first diverging layer: enc/b (Affine): max abs error 2, max rel error 0.25\n",
		"not compared (no matching layer in the model): ghost\n",
	} {
		if !strings.Contains(b.String(), want) {
			t.Errorf("report lacks %q:\n%s", want, b.String())
		}
	}

	// The case folder itself finds its manifest in the parent; the folder
	// of two cases needs a case id.
	if c2, err := Find(filepath.Join(dir, "nested"), "", ""); err != nil || c2.ID != "nested" {
		t.Errorf("Find on the case folder: %v, %v", c2, err)
	}
	if _, err := Find(dir, "model.h5", ""); err == nil || !strings.Contains(err.Error(), "name one") {
		t.Errorf("Find without an id in a folder of two cases: %v", err)
	}
}

// passLayer is a test layer that returns its input, as a layer fused into
// the layer before it does.
type passLayer struct{ name string }

func (l *passLayer) Name() string  { return l.name }
func (l *passLayer) Class() string { return "ReLU" }
func (l *passLayer) Forward(in []*runtime.Tensor) ([]*runtime.Tensor, error) {
	return in[:1], nil
}

// reluAffine is a test layer computing max(a*x + b, 0): a convolution
// with a ReLU fused into it.
type reluAffine struct{ affine }

func (l *reluAffine) Forward(in []*runtime.Tensor) ([]*runtime.Tensor, error) {
	out, _ := l.affine.Forward(in)
	for i, v := range out[0].Data {
		out[0].Data[i] = max(v, 0)
	}
	return out, nil
}

// fusedModel is x -> conv (max(a*x+1, 0), a ReLU fused in) -> relu
// (pass-through) -> dense (x+3).
func fusedModel(t *testing.T, a float32) *runtime.Model {
	t.Helper()
	g := runtime.NewGraph()
	r := g.Input(runtime.IO{Name: "x", Shape: []int{-1, 2}, DType: "float32"}, true)
	for _, l := range []runtime.Layer{&reluAffine{affine{"conv", a, 1}}, &passLayer{"relu"}, &affine{"dense", 1, 3}} {
		r = g.Call(l, []runtime.Ref{r}, [][]int{{-1, 2}})[0]
	}
	g.Output("dense", r)
	m, err := g.Build()
	if err != nil {
		t.Fatal(err)
	}
	return m
}

// TestVerifyFusion checks that a layer whose output was fused away does
// not count as diverging while the fused chain matches Keras, and does
// when it does not.
func TestVerifyFusion(t *testing.T) {
	c, err := Find(writeCase(t), "", "fused")
	if err != nil {
		t.Fatal(err)
	}
	r, err := Verify(context.Background(), fusedModel(t, 2), c, 1e-6, 0)
	if err != nil {
		t.Fatal(err)
	}
	conv := r.Layers[0]
	if conv.Name != "conv" || conv.OK || conv.FusedInto != "relu" || !reflect.DeepEqual(conv.Chain, []string{"relu"}) {
		t.Errorf("conv: %+v; want it diverging, fused into relu", conv)
	}
	if !r.OK() || r.FirstDiverging() != nil {
		t.Errorf("ok %v, first diverging %v; want ok and none", r.OK(), r.FirstDiverging())
	}
	var b strings.Builder
	r.Write(&b)
	if want := "layers: 3 layer output(s) compared, all within tolerance (1 fused into a later layer)\n"; !strings.Contains(b.String(), want) {
		t.Errorf("report lacks %q:\n%s", want, b.String())
	}

	r, err = Verify(context.Background(), fusedModel(t, 3), c, 1e-6, 0)
	if err != nil {
		t.Fatal(err)
	}
	first := r.FirstDiverging()
	if r.OK() || first == nil || first.Name != "conv" || first.FusedInto != "" {
		t.Fatalf("ok %v, first diverging %+v; want conv", r.OK(), first)
	}
	// Keras's conv is 2x+1 = [-1 1 3 5], kerasrun's max(3x+1, 0) is
	// [0 1 4 7]: errors 1 0 1 2, relative 1 0 1/3 2/5.
	if want := "conv (Conv2D): max abs error 2, max rel error 1 (its output also stands for the pass-through layers after it: relu)"; first.String() != want {
		t.Errorf("got %q, want %q", first.String(), want)
	}
}

// TestMeasure checks the error measures on hand-worked values.
func TestMeasure(t *testing.T) {
	nan := float32(math.NaN())
	mk := func(data ...float32) *runtime.Tensor {
		x, err := runtime.NewTensor([]int{len(data)}, data)
		if err != nil {
			t.Fatal(err)
		}
		return x
	}
	for _, tc := range []struct {
		got, want  *runtime.Tensor
		abs, rel   float64
		ok         bool
		problem    string
		atol, rtol float64
	}{
		{mk(1, 2, 0), mk(1, 2, 0), 0, 0, true, "", 0, 0},
		{mk(1.5, 2, 1), mk(1, 2, 0), 1, 0.5, false, "", 0.1, 0},
		{mk(1.5, 2, 1), mk(1, 2, 0), 1, 0.5, true, "", 1, 0},
		{mk(1.5, 4), mk(1, 2), 2, 1, true, "", 0, 1},
		{mk(nan, 1), mk(nan, 1), 0, 0, true, "", 0, 0},
		{mk(nan, 1), mk(0, 1), math.Inf(1), 0, false, "", 1, 1},
		{mk(1, 2), mk(1, 2, 3), 0, 0, false, "shape (2,), want (3,)", 1, 1},
	} {
		d := Measure(tc.got, tc.want, tc.atol, tc.rtol)
		if d.MaxAbs != tc.abs || d.MaxRel != tc.rel || d.OK != tc.ok || d.Problem != tc.problem {
			t.Errorf("Measure(%v, %v, %g, %g) = %+v; want abs %g rel %g ok %v problem %q", tc.got.Data, tc.want.Data, tc.atol, tc.rtol, d, tc.abs, tc.rel, tc.ok, tc.problem)
		}
	}
}

// TestExportGoldenSelfTest runs the writer's own checks in
// tools/export_golden.py.
func TestExportGoldenSelfTest(t *testing.T) {
	py := "/usr/bin/python3"
	if err := exec.Command(py, "-c", "import numpy").Run(); err != nil {
		t.Skip("python3-numpy is missing")
	}
	cmd := exec.Command(py, "-B", filepath.Join("..", "..", "tools", "export_golden.py"), "--self-test")
	if b, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("%v\n%s", err, b)
	}
}
