package layers

import (
	"math/rand"
	"strconv"
	"testing"

	"github.com/kerasrun/kerasrun/runtime"
	"github.com/tidwall/gjson"
)

func gruWeights(scope string, in, u int, biasShape ...int) []Weight {
	ws := []Weight{
		{Name: scope + "/kernel:0", Shape: []int{in, 3 * u}, Data: make([]float32, in*3*u)},
		{Name: scope + "/recurrent_kernel:0", Shape: []int{u, 3 * u}, Data: make([]float32, u*3*u)},
	}
	if biasShape != nil {
		ws = append(ws, Weight{Name: scope + "/bias:0", Shape: biasShape, Data: make([]float32, runtime.NumElements(biasShape))})
	}
	return ws
}

// TestGRUDefaults checks the version-dependent defaults of a GRU config
// without recurrent_activation and reset_after, through the bias shape each
// default accepts.
func TestGRUDefaults(t *testing.T) {
	const in, u = 3, 2
	for _, tc := range []struct {
		env        Env
		resetAfter bool
	}{
		{envKeras1, false},
		{envK224, false},
		{envK230, false},
		{envTF224, true},
		{envTF24, true},
		{envK3, true},
	} {
		cfg, err := Decode(Spec{Name: "gru_1", Class: "GRU", Env: tc.env, Config: gjson.Parse(`{"name": "gru_1", "units": 2}`)})
		if err != nil {
			t.Fatal(err)
		}
		if got := cfg.(*rnnConfig).cell.(*gruCellConfig).resetAfter; got != tc.resetAfter {
			t.Errorf("keras_version %q: reset_after defaults to %v, want %v", tc.env.KerasVersion, got, tc.resetAfter)
		}
	}
}

// TestGRUBiasFormats checks that the bias shape tells the weight format and
// that a format the config cannot use is an error naming both.
func TestGRUBiasFormats(t *testing.T) {
	const in, u = 3, 2
	for _, tc := range []struct {
		name, class, opts string
		bias              []int
		errParts          []string // nil: must build
	}{
		{"classic", "GRU", `"reset_after": false`, []int{3 * u}, nil},
		{"reset_after", "GRU", `"reset_after": true`, []int{2, 3 * u}, nil},
		{"cudnn weights in a reset_after GRU", "GRU", `"reset_after": true`, []int{6 * u}, nil},
		{"CuDNNGRU", "CuDNNGRU", ``, []int{6 * u}, nil},
		{"reset_after weights in a CuDNNGRU", "CuDNNGRU", ``, []int{2, 3 * u}, nil},
		{"reset_after weights in a classic GRU", "GRU", `"reset_after": false`, []int{2, 3 * u}, []string{"GRU(reset_after=False)", "GRU(reset_after=True)", "[2 6]"}},
		{"cudnn weights in a classic GRU", "GRU", `"reset_after": false`, []int{6 * u}, []string{"GRU(reset_after=False)", "CuDNNGRU"}},
		{"classic weights in a reset_after GRU", "GRU", `"reset_after": true`, []int{3 * u}, []string{"GRU(reset_after=True)", "GRU(reset_after=False)"}},
		{"classic weights in a CuDNNGRU", "CuDNNGRU", ``, []int{3 * u}, []string{"CuDNNGRU", "GRU(reset_after=False)"}},
		{"bad bias", "GRU", `"reset_after": true`, []int{5}, []string{"bias", "[5]"}},
		{"CuDNNGRU without a bias", "CuDNNGRU", ``, nil, []string{"bias"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			js := `{"name": "gru_1", "units": ` + strconv.Itoa(u)
			if tc.opts != "" {
				js += ", " + tc.opts
			}
			js += "}"
			err := buildErr(t, "gru_1", tc.class, js, envK224, []int{-1, 4, in}, gruWeights("gru_1", in, u, tc.bias...))
			if tc.errParts == nil {
				if err != nil {
					t.Fatal(err)
				}
				return
			}
			wantErr(t, err, append([]string{"gru_1", tc.class}, tc.errParts...)...)
		})
	}
}

// TestGRUNoBias checks use_bias=False for both GRU variants.
func TestGRUNoBias(t *testing.T) {
	for _, ra := range []string{"true", "false"} {
		l, shapes := mustBuild(t, "gru_1", "GRU", `{"name": "gru_1", "units": 2, "use_bias": false, "reset_after": `+ra+`, "return_state": true}`,
			envK224, []int{-1, 4, 3}, gruWeights("gru_1", 3, 2))
		if len(shapes) != 2 {
			t.Fatalf("shapes %v, want output and h", shapes)
		}
		// Zero weights and no bias: z = r = hard_sigmoid(0) = 0.5, h~ = 0,
		// so h stays 0.
		out, err := l.Forward([]*runtime.Tensor{runtime.Zeros(2, 4, 3)})
		if err != nil {
			t.Fatal(err)
		}
		floatsEqual(t, "h", out[1].Data, []float32{0, 0, 0, 0})
	}
}

// TestGRUSingleStep checks two steps of both GRU variants on hand-computed
// values (units 1, in 1, linear activations, x = 2 then 1, h0 = 0).
func TestGRUSingleStep(t *testing.T) {
	// kernel [1,3] = (wz, wr, wh), recurrent [1,3] = (uz, ur, uh).
	k := []float32{0.5, 0.25, 1}
	rk := []float32{0.5, 2, 3}
	x := &runtime.Tensor{Shape: []int{1, 2, 1}, Data: []float32{2, 1}}
	// classic, bias (bz, br, bh) = (-0.5, 0, 1):
	//   step 1: z = 0.5, r = 0.5, h~ = 2 + 1 + (0.5*0)*3 = 3, h1 = 1.5
	//   step 2: z = 0.5 - 0.5 + 0.75 = 0.75, r = 0.25 + 3 = 3.25,
	//           h~ = 1 + 1 + 3.25*1.5*3 = 16.625, h2 = 0.75*1.5 + 0.25*16.625 = 5.28125
	// reset_after, input bias (-0.5, 0, 1), recurrent bias (0, 0, 0.5):
	//   step 1: z = 0.5, r = 0.5, h~ = 3 + 0.5*(0 + 0.5) = 3.25, h1 = 1.625
	//   step 2: z = 0.5 - 0.5 + 0.8125 = 0.8125, r = 0.25 + 3.25 = 3.5,
	//           h~ = 2 + 3.5*(4.875 + 0.5) = 20.8125,
	//           h2 = 0.8125*1.625 + 0.1875*20.8125 = 5.22265625
	for _, tc := range []struct {
		resetAfter string
		bias       Weight
		want       []float32
	}{
		{"false", Weight{Name: "gru_1/bias:0", Shape: []int{3}, Data: []float32{-0.5, 0, 1}}, []float32{1.5, 5.28125}},
		{"true", Weight{Name: "gru_1/bias:0", Shape: []int{2, 3}, Data: []float32{-0.5, 0, 1, 0, 0, 0.5}}, []float32{1.625, 5.22265625}},
	} {
		l, _ := mustBuild(t, "gru_1", "GRU", `{"name": "gru_1", "units": 1, "activation": "linear", "recurrent_activation": "linear", "reset_after": `+tc.resetAfter+`, "return_sequences": true}`,
			envK224, []int{-1, 2, 1}, []Weight{
				{Name: "gru_1/kernel:0", Shape: []int{1, 3}, Data: k},
				{Name: "gru_1/recurrent_kernel:0", Shape: []int{1, 3}, Data: rk},
				tc.bias,
			})
		out, err := l.Forward([]*runtime.Tensor{x})
		if err != nil {
			t.Fatal(err)
		}
		floatsEqual(t, "reset_after="+tc.resetAfter, out[0].Data, tc.want)
	}
}

// TestGRUDoesNotModifyInput checks Forward leaves its input alone.
func TestGRUDoesNotModifyInput(t *testing.T) {
	rng := rand.New(rand.NewSource(3))
	ws := gruWeights("gru_1", 3, 4, 2, 12)
	for _, w := range ws {
		for i := range w.Data {
			w.Data[i] = float32(rng.NormFloat64())
		}
	}
	l, _ := mustBuild(t, "gru_1", "GRU", `{"name": "gru_1", "units": 4, "reset_after": true}`, envTF24, []int{-1, 5, 3}, ws)
	x := randT(rng, 2, 5, 3)
	orig := x.Clone()
	if _, err := l.Forward([]*runtime.Tensor{x}); err != nil {
		t.Fatal(err)
	}
	floatsEqual(t, "input", x.Data, orig.Data)
}
