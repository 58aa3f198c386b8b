package layers

import (
	"errors"
	"math/rand"
	"strings"
	"testing"

	"github.com/kerasrun/kerasrun/runtime"
)

// The golden cases fixtures/q4_* check the numbers against Keras's
// definitions (tools/cases_quant.py); these tests check the pieces.

// quantizeRow follows Keras's abs_max_quantize: the values worked by hand.
// amax = 2, so s = float32(127 / float32(2 + 1e-7)) = 63.5 in float32 (the
// epsilon is below half an ulp of 2); 0.5·63.5 = 31.75 → 32, -2·63.5 =
// -127, 1·63.5 = 63.5 → 64 (half to even), 0.3·63.5 = 19.05 → 19.
func TestQuantizeRowByHand(t *testing.T) {
	q := make([]int8, 4)
	s := quantizeRow([]float32{0.5, -2, 1, 0.3}, q)
	if s != 63.5 {
		t.Fatalf("scale %v, want 63.5", s)
	}
	want := []int8{32, -127, 64, 19}
	for i := range want {
		if q[i] != want[i] {
			t.Fatalf("q = %v, want %v", q, want)
		}
	}
	// An all-zero row: scale 127/1e-7, every value 0.
	if s := quantizeRow([]float32{0, 0}, q[:2]); q[0] != 0 || q[1] != 0 || s <= 0 {
		t.Fatalf("zero row: q %v scale %v", q[:2], s)
	}
}

func int8Weights(rng *rand.Rand, k, n int) (kernel, scale []float32) {
	kernel = make([]float32, k*n)
	for i := range kernel {
		kernel[i] = float32(rng.Intn(255) - 127)
	}
	scale = make([]float32, n)
	for i := range scale {
		scale[i] = float32(50 + rng.Intn(100))
	}
	return
}

// A .keras file (positional weights: kernel, bias, kernel_scale) and a
// legacy .h5 file (named: bias, kernel, kernel_scale) give the same int8
// Dense.
func TestInt8DenseWeightOrders(t *testing.T) {
	rng := rand.New(rand.NewSource(3))
	k, n := 5, 3
	kern, sc := int8Weights(rng, k, n)
	bias := []float32{0.1, -0.2, 0.3}
	cfg := `{"units": 3, "dtype": "int8_from_float32"}`
	env := Env{KerasVersion: "3.13.0"}
	pos := []Weight{
		{Name: "layers/dense/vars/0", Shape: []int{k, n}, Data: kern, Positional: true},
		{Name: "layers/dense/vars/1", Shape: []int{n}, Data: bias, Positional: true},
		{Name: "layers/dense/vars/2", Shape: []int{n}, Data: sc, Positional: true},
	}
	named := []Weight{
		{Name: "dense/bias", Shape: []int{n}, Data: bias},
		{Name: "dense/kernel", Shape: []int{k, n}, Data: kern},
		{Name: "dense/kernel_scale", Shape: []int{n}, Data: sc},
	}
	x := randTensor(rng, 2, k)
	var outs [][]float32
	for _, ws := range [][]Weight{pos, named} {
		l, _ := buildLayer(t, "dense", "Dense", cfg, env, []int{-1, k}, ws)
		y, err := l.Forward([]*runtime.Tensor{x})
		if err != nil {
			t.Fatal(err)
		}
		outs = append(outs, y[0].Data)
	}
	for i := range outs[0] {
		if outs[0][i] != outs[1][i] {
			t.Fatalf("outputs differ: %v and %v", outs[0], outs[1])
		}
	}
}

// A kernel value that is no int8 is refused at build.
func TestInt8DenseBadKernel(t *testing.T) {
	spec := Spec{Name: "d", Class: "Dense", Config: mustParse(t, `{"units": 1, "use_bias": false, "dtype": "int8_from_float32"}`)}
	cfg, err := Decode(spec)
	if err != nil {
		t.Fatal(err)
	}
	ws := []Weight{{Name: "d/kernel", Shape: []int{2, 1}, Data: []float32{0.5, 3}}, {Name: "d/kernel_scale", Shape: []int{1}, Data: []float32{1}}}
	if _, _, err := Build(spec, cfg, [][]int{{-1, 2}}, NewWeights(ws)); err == nil || !strings.Contains(err.Error(), "int8") {
		t.Fatalf("got %v", err)
	}
}

func TestEinsumDenseEquations(t *testing.T) {
	for _, eq := range []string{"ab,bc->ac", "abc,cd->abd", "abc,cde->abde", "...b,bc->...c", "abcd,cde->abe"} {
		if _, err := Decode(k3Spec("EinsumDense", `{"equation": "`+eq+`", "output_shape": 4}`)); err != nil {
			t.Errorf("%s: %v", eq, err)
		}
	}
	for _, eq := range []string{"abc,acd->abd", "ab,cb->ac", "abc,cd->adb", "ab...,bc->ac...", "ab,bc", "aab,bc->ac"} {
		_, err := Decode(k3Spec("EinsumDense", `{"equation": "`+eq+`", "output_shape": 4}`))
		if err == nil || !errors.Is(err, ErrUnsupported) || !strings.Contains(err.Error(), eq) {
			t.Errorf("%s: got %v, want an unsupported error naming the equation", eq, err)
		}
	}
}

// A float EinsumDense "abc,cd->abd" with bias_axes "d" is a Dense.
func TestEinsumDenseIsDense(t *testing.T) {
	rng := rand.New(rand.NewSource(5))
	k, n := 4, 3
	kern := randTensor(rng, k, n).Data
	bias := randTensor(rng, n).Data
	env := Env{KerasVersion: "3.13.0"}
	e, shapes := buildLayer(t, "e", "EinsumDense", `{"equation": "abc,cd->abd", "output_shape": [null, 3], "bias_axes": "d", "activation": "tanh"}`,
		env, []int{-1, 5, k}, []Weight{{Name: "kernel", Shape: []int{k, n}, Data: kern}, {Name: "bias", Shape: []int{n}, Data: bias}})
	if got := shapes[0]; len(got) != 3 || got[1] != 5 || got[2] != n {
		t.Fatalf("output shape %v", got)
	}
	d, _ := buildLayer(t, "d", "Dense", `{"units": 3, "activation": "tanh"}`, env, []int{-1, 5, k},
		[]Weight{{Name: "kernel", Shape: []int{k, n}, Data: kern}, {Name: "bias", Shape: []int{n}, Data: bias}})
	x := randTensor(rng, 2, 5, k)
	ye, err := e.Forward([]*runtime.Tensor{x})
	if err != nil {
		t.Fatal(err)
	}
	yd, err := d.Forward([]*runtime.Tensor{x})
	if err != nil {
		t.Fatal(err)
	}
	for i := range yd[0].Data {
		if d := ye[0].Data[i] - yd[0].Data[i]; d > 1e-6 || d < -1e-6 {
			t.Fatalf("at %d: EinsumDense %v, Dense %v", i, ye[0].Data[i], yd[0].Data[i])
		}
	}
}

// The bias of bias_axes "d" in "abc,cde->abde" has shape [d, 1] and
// broadcasts over e.
func TestBroadcastBias(t *testing.T) {
	got := broadcastBias([]int{-1, 3, 2, 4}, []int{2, 1}, []float32{1, 2})
	want := []float32{1, 1, 1, 1, 2, 2, 2, 2}
	for i := range want {
		if got[i] != want[i] {
			t.Fatalf("got %v, want %v", got, want)
		}
	}
}
