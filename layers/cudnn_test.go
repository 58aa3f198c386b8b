package layers

import (
	"errors"
	"math"
	"math/rand"
	"strconv"
	"strings"
	"testing"

	"github.com/kerasrun/kerasrun/runtime"
	"github.com/tidwall/gjson"
)

// iota32 returns 0, 1, ..., n-1 as float32: with these as a kernel, the
// converted kernel shows where every element moved.
func iota32(n int) []float32 {
	out := make([]float32, n)
	for i := range out {
		out[i] = float32(i)
	}
	return out
}

func equalExact(t *testing.T, what string, got, want []float32) {
	t.Helper()
	if len(got) != len(want) {
		t.Fatalf("%s: %d values, want %d", what, len(got), len(want))
	}
	for i := range want {
		if math.Float32bits(got[i]) != math.Float32bits(want[i]) {
			t.Fatalf("%s: element %d is %v, want %v\ngot  %v\nwant %v", what, i, got[i], want[i], got, want)
		}
	}
}

// TestCuDNNKernel checks the input-kernel conversion where in != units.
// Expected values: Keras's own formula (keras 2.2.4 saving.py,
// _convert_rnn_weights) applied per gate block by numpy:
//
//	k = np.arange(in*4*u, dtype=np.float64).reshape(in, 4*u)
//	np.hstack([b.T.reshape(b.shape, order='F') for b in np.hsplit(k, 4)]).ravel()
func TestCuDNNKernel(t *testing.T) {
	for _, tc := range []struct {
		in, u int
		want  []float32
	}{
		{2, 3, []float32{0, 2, 13, 3, 5, 16, 6, 8, 19, 9, 11, 22, 1, 12, 14, 4, 15, 17, 7, 18, 20, 10, 21, 23}},
		{5, 2, []float32{0, 17, 2, 19, 4, 21, 6, 23, 1, 24, 3, 26, 5, 28, 7, 30, 8, 25, 10, 27, 12, 29, 14, 31, 9, 32, 11, 34, 13, 36, 15, 38, 16, 33, 18, 35, 20, 37, 22, 39}},
	} {
		k := iota32(tc.in * 4 * tc.u)
		orig := append([]float32(nil), k...)
		got := cudnnKernel(k, tc.in, tc.u, 4)
		equalExact(t, "cudnnKernel", got, tc.want)
		equalExact(t, "cudnnKernel input (must not be modified)", k, orig)
	}
}

// TestCuDNNKernelSquare checks that with in == units the conversion is a
// plain transpose of every gate block (reshape order='F' of a square
// transpose gives the transpose back).
func TestCuDNNKernelSquare(t *testing.T) {
	const n, g = 3, 4
	k := iota32(n * g * n)
	got := cudnnKernel(k, n, n, g)
	cols := g * n
	for gate := 0; gate < g; gate++ {
		for i := 0; i < n; i++ {
			for j := 0; j < n; j++ {
				// Native block [i][j] is the stored block [j][i].
				want := k[j*cols+gate*n+i]
				if g := got[i*cols+gate*n+j]; g != want {
					t.Fatalf("gate %d [%d][%d] = %v, want %v (stored [%d][%d])", gate, i, j, g, want, j, i)
				}
			}
		}
	}
	// And the numpy values for the same input, pasted:
	// k = np.arange(36.).reshape(3, 12); np.hstack([b.T.reshape(b.shape, order='F') for b in np.hsplit(k, 4)]).ravel()
	equalExact(t, "cudnnKernel in==u", got, []float32{0, 12, 24, 3, 15, 27, 6, 18, 30, 9, 21, 33, 1, 13, 25, 4, 16, 28, 7, 19, 31, 10, 22, 34, 2, 14, 26, 5, 17, 29, 8, 20, 32, 11, 23, 35})
}

// TestCuDNNRecurrent checks the recurrent-kernel conversion: a plain
// transpose of each gate block. numpy:
//
//	r = np.arange(u*4*u, dtype=np.float64).reshape(u, 4*u)
//	np.hstack([b.T for b in np.hsplit(r, 4)]).ravel()
func TestCuDNNRecurrent(t *testing.T) {
	for _, tc := range []struct {
		u    int
		want []float32
	}{
		{3, []float32{0, 12, 24, 3, 15, 27, 6, 18, 30, 9, 21, 33, 1, 13, 25, 4, 16, 28, 7, 19, 31, 10, 22, 34, 2, 14, 26, 5, 17, 29, 8, 20, 32, 11, 23, 35}},
		{2, []float32{0, 8, 2, 10, 4, 12, 6, 14, 1, 9, 3, 11, 5, 13, 7, 15}},
	} {
		r := iota32(tc.u * 4 * tc.u)
		equalExact(t, "cudnnRecurrent", cudnnRecurrent(r, tc.u, 4), tc.want)
	}
}

// cudnnCase is a CuDNNLSTM's stored weights and, from numpy, the native
// LSTM weights Keras converts them to. Made by:
//
//	rng = np.random.RandomState(seed)
//	k = np.round(rng.uniform(-1, 1, (in, 4*u)), 2).astype(np.float32)
//	r = np.round(rng.uniform(-1, 1, (u, 4*u)), 2).astype(np.float32)
//	b = np.round(rng.uniform(-1, 1, (8*u,)), 2).astype(np.float32)
//	nk = np.hstack([x.T.reshape(x.shape, order='F') for x in np.hsplit(k, 4)])
//	nr = np.hstack([x.T for x in np.hsplit(r, 4)])
//	nb = np.sum(np.split(b, 2, axis=0), axis=0)
type cudnnCase struct {
	in, u      int
	k, r, b    []float32
	nk, nr, nb []float32
}

var cudnnCases = []cudnnCase{
	{ // seed 1
		in: 2, u: 3,
		k:  []float32{-0.17, 0.44, -1.0, -0.4, -0.71, -0.82, -0.63, -0.31, -0.21, 0.08, -0.16, 0.37, -0.59, 0.76, -0.95, 0.34, -0.17, 0.12, -0.72, -0.6, 0.6, 0.94, -0.37, 0.38},
		r:  []float32{0.75, 0.79, -0.83, -0.92, -0.66, 0.76, -0.8, -0.16, 0.92, 0.07, 0.38, -0.37, 0.37, 0.67, -0.96, 0.5, 0.98, 0.5, -0.44, 0.58, -0.79, -0.1, 0.82, -0.41, -0.42, -0.74, -0.96, 0.36, -0.58, -0.47, -0.02, -0.89, 0.15, -0.71, 0.18, 0.4},
		b:  []float32{-0.8, -0.17, 0.39, -0.17, -0.9, 0.07, 0.33, 0.03, 0.89, 0.17, 0.81, -0.73, -0.72, 0.61, -0.2, -0.67, 0.86, -0.3, 0.5, 0.45, 0.77, 0.25, 0.5, -0.3},
		nk: []float32{-0.17, -1.0, 0.76, -0.4, -0.82, -0.17, -0.63, -0.21, -0.6, 0.08, 0.37, -0.37, 0.44, -0.59, -0.95, -0.71, 0.34, 0.12, -0.31, -0.72, 0.6, -0.16, 0.94, 0.38},
		nr: []float32{0.75, 0.37, -0.42, -0.92, 0.5, 0.36, -0.8, -0.44, -0.02, 0.07, -0.1, -0.71, 0.79, 0.67, -0.74, -0.66, 0.98, -0.58, -0.16, 0.58, -0.89, 0.38, 0.82, 0.18, -0.83, -0.96, -0.96, 0.76, 0.5, -0.47, 0.92, -0.79, 0.15, -0.37, -0.41, 0.4},
		nb: []float32{-1.52, 0.44, 0.18999998, -0.84000003, -0.03999996, -0.23000002, 0.83000004, 0.48, 1.66, 0.42000002, 1.31, -1.03},
	},
	{ // seed 2
		in: 5, u: 2,
		k:  []float32{-0.13, -0.95, 0.1, -0.13, -0.16, -0.34, -0.59, 0.24, -0.4, -0.47, 0.24, 0.06, -0.73, 0.03, -0.63, 0.57, 0.71, -0.01, 0.69, -0.84, 0.01, -0.87, -0.14, -0.81, -0.75, 0.19, -0.55, -0.79, -0.56, -0.3, -0.06, -0.6, 0.28, -0.03, 0.01, -0.23, 0.59, 0.16, -0.68, 0.4},
		r:  []float32{0.93, 0.0, 0.78, -0.32, 0.13, -0.14, -0.13, 0.55, 0.07, 0.91, 0.09, -0.84, -0.27, 0.7, -0.19, -0.95},
		b:  []float32{-0.51, -0.87, 0.99, 0.94, 0.6, 0.2, 0.53, -0.66, -0.41, 0.05, -0.29, -0.91, 0.97, -0.12, 0.01, -0.35},
		nk: []float32{-0.13, -0.01, 0.1, -0.84, -0.16, -0.87, -0.59, -0.81, -0.95, -0.75, -0.13, -0.55, -0.34, -0.56, 0.24, -0.06, -0.4, 0.19, 0.24, -0.79, -0.73, -0.3, -0.63, -0.6, -0.47, 0.28, 0.06, 0.01, 0.03, 0.59, 0.57, -0.68, 0.71, -0.03, 0.69, -0.23, 0.01, 0.16, -0.14, 0.4},
		nr: []float32{0.93, 0.07, 0.78, 0.09, 0.13, -0.27, -0.13, -0.19, 0.0, 0.91, -0.32, -0.84, -0.14, 0.7, 0.55, -0.95},
		nb: []float32{-0.91999996, -0.82, 0.70000005, 0.029999971, 1.57, 0.080000006, 0.53999996, -1.01},
	},
}

func TestConvertCuDNNLSTM(t *testing.T) {
	for _, c := range cudnnCases {
		k, r, b := convertCuDNNLSTM(c.k, c.r, c.b, c.in, c.u)
		equalExact(t, "kernel", k, c.nk)
		equalExact(t, "recurrent_kernel", r, c.nr)
		equalExact(t, "bias", b, c.nb)
	}
}

func mustParse(t testing.TB, js string) gjson.Result {
	t.Helper()
	if !gjson.Valid(js) {
		t.Fatalf("test config is not valid JSON: %s", js)
	}
	return gjson.Parse(js)
}

// buildLayer decodes and builds one layer for a single input of the given
// static shape.
func buildLayer(t testing.TB, name, class, js string, env Env, in []int, ws []Weight) (runtime.Layer, [][]int) {
	t.Helper()
	spec := Spec{Name: name, Class: class, Config: mustParse(t, js), Env: env}
	cfg, err := Decode(spec)
	if err != nil {
		t.Fatalf("Decode %s: %v", class, err)
	}
	l, out, err := Build(spec, cfg, [][]int{in}, NewWeights(ws))
	if err != nil {
		t.Fatalf("Build %s: %v", class, err)
	}
	return l, out
}

func randTensor(rng *rand.Rand, shape ...int) *runtime.Tensor {
	x := runtime.Zeros(shape...)
	for i := range x.Data {
		x.Data[i] = float32(rng.Float64()*2 - 1)
	}
	return x
}

// TestCuDNNLSTMMatchesNativeLSTM builds a CuDNNLSTM from stored cuDNN
// weights (bias of 8u) and a native LSTM (tanh, sigmoid) from the
// numpy-converted weights, and checks they give the same outputs.
func TestCuDNNLSTMMatchesNativeLSTM(t *testing.T) {
	env := Env{KerasVersion: "2.2.4", Backend: "tensorflow"}
	rng := rand.New(rand.NewSource(7))
	for _, c := range cudnnCases {
		// With in != u the native weights differ from the stored ones, so
		// a CuDNNLSTM that skipped the conversion would fail.
		if c.in == c.u {
			t.Fatal("test case needs in != units")
		}
		for _, seq := range []bool{false, true} {
			opts := `"return_sequences": false, "return_state": true`
			if seq {
				opts = `"return_sequences": true, "return_state": true`
			}
			cudnn, cshapes := buildLayer(t, "cu_dnnlstm_1", "CuDNNLSTM",
				`{"name": "cu_dnnlstm_1", "trainable": true, "units": `+strconv.Itoa(c.u)+`, `+opts+`, "go_backwards": false, "stateful": false, "unit_forget_bias": true, "kernel_initializer": null}`,
				env, []int{-1, 4, c.in}, []Weight{
					{Name: "cu_dnnlstm_1/kernel:0", Shape: []int{c.in, 4 * c.u}, Data: c.k},
					{Name: "cu_dnnlstm_1/recurrent_kernel:0", Shape: []int{c.u, 4 * c.u}, Data: c.r},
					{Name: "cu_dnnlstm_1/bias:0", Shape: []int{8 * c.u}, Data: c.b},
				})
			native, nshapes := buildLayer(t, "lstm_1", "LSTM",
				`{"name": "lstm_1", "units": `+strconv.Itoa(c.u)+`, `+opts+`, "activation": "tanh", "recurrent_activation": "sigmoid", "use_bias": true}`,
				env, []int{-1, 4, c.in}, []Weight{
					{Name: "lstm_1/kernel:0", Shape: []int{c.in, 4 * c.u}, Data: c.nk},
					{Name: "lstm_1/recurrent_kernel:0", Shape: []int{c.u, 4 * c.u}, Data: c.nr},
					{Name: "lstm_1/bias:0", Shape: []int{4 * c.u}, Data: c.nb},
				})
			if len(cshapes) != 3 || len(nshapes) != 3 {
				t.Fatalf("output shapes %v and %v, want 3 each (output, h, c)", cshapes, nshapes)
			}
			if pc := cudnn.(runtime.ParamCounter).Params(); pc != c.in*4*c.u+c.u*4*c.u+8*c.u {
				t.Errorf("CuDNNLSTM params = %d, want the stored count %d", pc, c.in*4*c.u+c.u*4*c.u+8*c.u)
			}
			x := randTensor(rng, 3, 4, c.in)
			got, err := cudnn.Forward([]*runtime.Tensor{x})
			if err != nil {
				t.Fatal(err)
			}
			want, err := native.Forward([]*runtime.Tensor{x})
			if err != nil {
				t.Fatal(err)
			}
			if len(got) != len(want) {
				t.Fatalf("%d outputs, want %d", len(got), len(want))
			}
			for i := range want {
				if !intsEqual(got[i].Shape, want[i].Shape) {
					t.Fatalf("output %d shape %v, want %v", i, got[i].Shape, want[i].Shape)
				}
				for j := range want[i].Data {
					if d := math.Abs(float64(got[i].Data[j] - want[i].Data[j])); d > 1e-6 {
						t.Fatalf("in=%d u=%d seq=%v: output %d element %d = %v, native LSTM gives %v", c.in, c.u, seq, i, j, got[i].Data[j], want[i].Data[j])
					}
				}
			}
		}
	}
}

// TestLSTMBiasShape checks that a bias of neither 4u nor 8u is an error that
// names the layer and the shapes.
func TestLSTMBiasShape(t *testing.T) {
	const u, in = 3, 2
	for _, class := range []string{"LSTM", "CuDNNLSTM"} {
		js := `{"name": "lstm_1", "units": 3}`
		spec := Spec{Name: "lstm_1", Class: class, Config: mustParse(t, js), Env: Env{KerasVersion: "2.2.4"}}
		cfg, err := Decode(spec)
		if err != nil {
			t.Fatal(err)
		}
		_, _, err = Build(spec, cfg, [][]int{{-1, 4, in}}, NewWeights([]Weight{
			{Name: "lstm_1/kernel:0", Shape: []int{in, 4 * u}, Data: make([]float32, in*4*u)},
			{Name: "lstm_1/recurrent_kernel:0", Shape: []int{u, 4 * u}, Data: make([]float32, u*4*u)},
			{Name: "lstm_1/bias:0", Shape: []int{7}, Data: make([]float32, 7)},
		}))
		if err == nil {
			t.Fatalf("%s: a bias of shape [7] with units=3 was accepted", class)
		}
		for _, part := range []string{"lstm_1", class, "bias", "[7]"} {
			if !strings.Contains(err.Error(), part) {
				t.Errorf("%s: error %q does not mention %q", class, err, part)
			}
		}
		var le *LayerError
		if !errors.As(err, &le) || le.Layer != "lstm_1" || le.Class != class {
			t.Errorf("%s: error %v is not a *LayerError for lstm_1 (%s)", class, err, class)
		}
	}
}

func intsEqual(a, b []int) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}
