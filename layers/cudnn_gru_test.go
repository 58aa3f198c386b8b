package layers

import (
	"math"
	"math/rand"
	"strconv"
	"testing"

	"github.com/kerasrun/kerasrun/runtime"
)

func iotaF(n int, scale float32) []float32 {
	out := make([]float32, n)
	for i := range out {
		out[i] = float32(i) * scale
	}
	return out
}

// gruConversions are Keras's CuDNNGRU -> GRU conversion (keras 2.2.4
// saving.py _convert_rnn_weights) of iota kernels, computed by numpy:
//
//	k = np.arange(in*3*u).reshape(in, 3*u); r = np.arange(u*3*u).reshape(u, 3*u)
//	np.hstack([b.T.reshape(b.shape, order='F') for b in np.hsplit(k, 3)]).ravel()
//	np.hstack([b.T for b in np.hsplit(r, 3)]).ravel()
var gruConversions = []struct {
	in, u int
	k, r  []float32
}{
	{2, 3,
		[]float32{0, 2, 10, 3, 5, 13, 6, 8, 16, 1, 9, 11, 4, 12, 14, 7, 15, 17},
		[]float32{0, 9, 18, 3, 12, 21, 6, 15, 24, 1, 10, 19, 4, 13, 22, 7, 16, 25, 2, 11, 20, 5, 14, 23, 8, 17, 26}},
	{4, 2,
		[]float32{0, 12, 2, 14, 4, 16, 1, 13, 3, 15, 5, 17, 6, 18, 8, 20, 10, 22, 7, 19, 9, 21, 11, 23},
		[]float32{0, 6, 2, 8, 4, 10, 1, 7, 3, 9, 5, 11}},
}

func TestConvertCuDNNGRU(t *testing.T) {
	for _, c := range gruConversions {
		k, r := iotaF(c.in*3*c.u, 1), iotaF(c.u*3*c.u, 1)
		gk, gr := convertCuDNNGRU(k, r, c.in, c.u)
		floatsEqual(t, "kernel", gk, c.k)
		floatsEqual(t, "recurrent_kernel", gr, c.r)
		floatsEqual(t, "kernel input (must not be modified)", k, iotaF(c.in*3*c.u, 1))
	}
}

// TestCuDNNGRUMatchesNativeGRU builds a CuDNNGRU from stored cuDNN weights
// and a GRU(reset_after=True, tanh, sigmoid) from the numpy-converted ones
// (the bias [6u] is the [2, 3u] bias unchanged) and checks that they agree,
// through return_sequences, return_state and go_backwards.
func TestCuDNNGRUMatchesNativeGRU(t *testing.T) {
	rng := rand.New(rand.NewSource(11))
	for _, c := range gruConversions {
		const scale = 0.02
		bias := make([]float32, 6*c.u)
		for i := range bias {
			bias[i] = float32(rng.NormFloat64())
		}
		scaled := func(v []float32) []float32 {
			out := make([]float32, len(v))
			for i, x := range v {
				out[i] = x * scale
			}
			return out
		}
		for _, opts := range []string{`"return_sequences": true, "return_state": true`, `"return_state": true, "go_backwards": true`} {
			u := strconv.Itoa(c.u)
			cudnn, cs := mustBuild(t, "cu_dnngru_1", "CuDNNGRU", `{"name": "cu_dnngru_1", "units": `+u+`, `+opts+`}`,
				envK224, []int{-1, 5, c.in}, []Weight{
					{Name: "cu_dnngru_1/kernel:0", Shape: []int{c.in, 3 * c.u}, Data: iotaF(c.in*3*c.u, scale)},
					{Name: "cu_dnngru_1/recurrent_kernel:0", Shape: []int{c.u, 3 * c.u}, Data: iotaF(c.u*3*c.u, scale)},
					{Name: "cu_dnngru_1/bias:0", Shape: []int{6 * c.u}, Data: bias},
				})
			native, ns := mustBuild(t, "gru_1", "GRU", `{"name": "gru_1", "units": `+u+`, "activation": "tanh", "recurrent_activation": "sigmoid", "reset_after": true, `+opts+`}`,
				envK224, []int{-1, 5, c.in}, []Weight{
					{Name: "gru_1/kernel:0", Shape: []int{c.in, 3 * c.u}, Data: scaled(c.k)},
					{Name: "gru_1/recurrent_kernel:0", Shape: []int{c.u, 3 * c.u}, Data: scaled(c.r)},
					{Name: "gru_1/bias:0", Shape: []int{2, 3 * c.u}, Data: bias},
				})
			if len(cs) != 2 || len(ns) != 2 {
				t.Fatalf("shapes %v, %v: want output and h", cs, ns)
			}
			if got, want := cudnn.(runtime.ParamCounter).Params(), c.in*3*c.u+c.u*3*c.u+6*c.u; got != want {
				t.Errorf("CuDNNGRU params %d, want %d", got, want)
			}
			x := randT(rng, 3, 5, c.in)
			got, err := cudnn.Forward([]*runtime.Tensor{x})
			if err != nil {
				t.Fatal(err)
			}
			want, err := native.Forward([]*runtime.Tensor{x})
			if err != nil {
				t.Fatal(err)
			}
			for i := range want {
				if !intsEq(got[i].Shape, want[i].Shape) {
					t.Fatalf("output %d shape %v, want %v", i, got[i].Shape, want[i].Shape)
				}
				for j := range want[i].Data {
					if d := math.Abs(float64(got[i].Data[j] - want[i].Data[j])); d > 1e-6 {
						t.Fatalf("in=%d u=%d %s: output %d element %d = %v, native GRU gives %v", c.in, c.u, opts, i, j, got[i].Data[j], want[i].Data[j])
					}
				}
			}
		}
	}
}

// TestCuDNNGRUConfig checks that CuDNNGRU refuses activation keys (it has
// none) and accepts its own options.
func TestCuDNNGRUConfig(t *testing.T) {
	err := buildErr(t, "cu_dnngru_1", "CuDNNGRU", `{"name": "cu_dnngru_1", "units": 2, "activation": "relu"}`, envK224, []int{-1, 4, 3}, nil)
	wantErr(t, err, "cu_dnngru_1", "CuDNNGRU", "activation")
}
