package layers

import (
	"math"
	"testing"

	"github.com/kerasrun/kerasrun/runtime"
)

func TestAdvancedActivationDecodeErrors(t *testing.T) {
	checkL3DecodeErrors(t, []l3DecodeCase{
		{class: "ReLU", config: `{"max_value": -1}`, want: []string{"max_value"}},
		{class: "ReLU", config: `{"negative_slope": -0.5}`, want: []string{"negative_slope"}},
		{class: "ReLU", config: `{"threshold": "low"}`, want: []string{"threshold"}},
		{class: "LeakyReLU", config: `{"alpha": 0.1, "negative_slope": 0.1}`, want: []string{"alpha", "negative_slope"}},
		{class: "ELU", config: `{"alpha": [1]}`, want: []string{"alpha"}},
		{class: "ThresholdedReLU", config: `{"theta": null, "beta": 1}`, unsupported: true, want: []string{"beta"}},
		{class: "PReLU", config: `{"shared_axes": [0]}`, want: []string{"shared_axes"}},
		{class: "Softmax", config: `{"axis": [1, 2]}`, unsupported: true, want: []string{"axis"}},
	})
}

func TestAdvancedActivationValues(t *testing.T) {
	x := l3Tensor([]int{1, 6}, -2, -0.1, 0, 0.25, 1, 3)
	for _, tc := range []struct {
		class, config string
		want          []float32
	}{
		{"LeakyReLU", `{"alpha": 0.5}`, []float32{-1, -0.05, 0, 0.25, 1, 3}},
		{"LeakyReLU", `{}`, []float32{-0.6, -0.03, 0, 0.25, 1, 3}},
		{"ELU", `{"alpha": 2}`, []float32{float32(2 * math.Expm1(-2)), float32(2 * math.Expm1(-0.1)), 0, 0.25, 1, 3}},
		{"ThresholdedReLU", `{"theta": 0.25}`, []float32{0, 0, 0, 0, 1, 3}},
		{"ReLU", `{"max_value": 2}`, []float32{0, 0, 0, 0.25, 1, 2}},
		{"ReLU", `{"negative_slope": 0.5}`, []float32{-1, -0.05, 0, 0.25, 1, 3}},
		// threshold 0.5: x > 0.5 keeps x, else slope·(x - 0.5).
		{"ReLU", `{"negative_slope": 0.5, "threshold": 0.5, "max_value": 2.5}`, []float32{-1.25, -0.3, -0.25, -0.125, 1, 2.5}},
		// Negative threshold with max_value: (-0.5, 0) clips to 0.
		{"ReLU", `{"threshold": -0.5, "max_value": 2}`, []float32{0, 0, 0, 0.25, 1, 2}},
		{"ReLU", `{"threshold": -0.5}`, []float32{0, -0.1, 0, 0.25, 1, 3}},
	} {
		l, _ := l3Build(t, tc.class, tc.config, keras224, [][]int{{-1, 6}})
		out, err := l.Forward([]*runtime.Tensor{x})
		if err != nil {
			t.Fatal(err)
		}
		l3Close(t, tc.class+" "+tc.config, out[0].Data, tc.want)
	}
}

func TestPReLUSharedAxes(t *testing.T) {
	alpha := Weight{Name: "p/alpha:0", Shape: []int{1, 2}, Data: []float32{0.5, 2}}
	l, _ := l3Build(t, "PReLU", `{"shared_axes": [1]}`, keras224, [][]int{{-1, -1, 2}}, alpha)
	out, err := l.Forward([]*runtime.Tensor{l3Tensor([]int{1, 3, 2}, -1, -1, 1, 1, -2, -4)})
	if err != nil {
		t.Fatal(err)
	}
	l3Close(t, "PReLU", out[0].Data, []float32{-0.5, -2, 1, 1, -1, -8})
	if err := l3BuildErr(t, "PReLU", `{"shared_axes": null}`, [][]int{{-1, -1, 2}}, alpha); err == nil {
		t.Errorf("PReLU over a free axis built")
	}
	if err := l3BuildErr(t, "PReLU", `{"shared_axes": [3]}`, [][]int{{-1, 4, 2}}, alpha); err == nil {
		t.Errorf("PReLU with shared axis 3 of a rank-3 input built")
	}
}

func TestSoftmaxLayer(t *testing.T) {
	l, _ := l3Build(t, "Softmax", `{"axis": 1}`, keras224, [][]int{{-1, 2, 2}})
	out, err := l.Forward([]*runtime.Tensor{l3Tensor([]int{1, 2, 2}, 0, 1, 0, 3)})
	if err != nil {
		t.Fatal(err)
	}
	e := float32(1 / (1 + math.Exp(-2)))
	l3Close(t, "softmax over axis 1", out[0].Data, []float32{0.5, 1 - e, 0.5, e})
	// Keras: multi-backend Keras 2 passes the mask on; tf.keras and Keras 3
	// use it as an attention mask, so it is refused there.
	if m, err := l3Masks(t, "Softmax", `{"axis": -1}`, keras224, true); err != nil || !m[0] {
		t.Errorf("Keras 2.2.4 Softmax: masks %v, %v", m, err)
	}
	for _, v := range []string{"2.4.0", "2.3.0-tf", "3.3.3"} {
		if _, err := l3Masks(t, "Softmax", `{"axis": -1}`, Env{KerasVersion: v}, true); err == nil {
			t.Errorf("Keras %s Softmax accepted a masked input", v)
		}
	}
	for _, class := range []string{"LeakyReLU", "ELU", "ReLU", "ThresholdedReLU"} {
		if m, err := l3Masks(t, class, `{}`, Env{KerasVersion: "2.4.0"}, true); err != nil || !m[0] {
			t.Errorf("%s: masks %v, %v; want the mask passed on", class, m, err)
		}
	}
}

// TestReLUVectorPath checks that the slice path of ReLU and ReLU(max_value)
// gives the bits of the one-value path, special values included, over more
// values than one chunk.
func TestReLUVectorPath(t *testing.T) {
	special := []float32{float32(math.NaN()), math.Float32frombits(0xFFC00000), float32(math.Inf(1)), float32(math.Inf(-1)), 0, float32(math.Copysign(0, -1)), 6, 6.5, -1e-30, 1e-30}
	x := make([]float32, pointwiseChunk+37)
	for i := range x {
		x[i] = float32(i%17) - 8.25
	}
	copy(x, special)
	for _, opts := range []string{`{}`, `{"max_value": 6}`, `{"max_value": 6, "threshold": 0, "negative_slope": 0}`} {
		spec := Spec{Name: "relu", Class: "ReLU", Config: l3Parse(t, opts), Env: keras224}
		cfg, err := Decode(spec)
		if err != nil {
			t.Fatal(err)
		}
		pc := cfg.(*pointwiseConfig)
		if pc.vec == nil {
			t.Fatalf("%s: no slice path", opts)
		}
		l, _ := l3Build(t, "ReLU", opts, keras224, [][]int{{-1, len(x)}})
		out, err := l.Forward([]*runtime.Tensor{l3Tensor([]int{1, len(x)}, x...)})
		if err != nil {
			t.Fatal(err)
		}
		for i, v := range x {
			if want := pc.f(v); math.Float32bits(out[0].Data[i]) != math.Float32bits(want) {
				t.Fatalf("%s: f(%v) = %v on the slice path, %v on the one-value path", opts, v, out[0].Data[i], want)
			}
		}
	}
}
