package layers

import (
	"math"
	"testing"

	"github.com/kerasrun/kerasrun/runtime"
)

func TestNormalizationDecodeErrors(t *testing.T) {
	checkL3DecodeErrors(t, []l3DecodeCase{
		{class: "BatchNormalization", config: `{"axis": -1, "renorm": true}`, unsupported: true, want: []string{"renorm"}},
		{class: "BatchNormalization", config: `{"axis": -1, "virtual_batch_size": 4}`, unsupported: true, want: []string{"virtual_batch_size"}},
		{class: "BatchNormalization", config: `{"axis": -1, "mode": 2}`, unsupported: true, want: []string{"mode"}},
		{class: "BatchNormalization", config: `{"axis": "channels"}`, want: []string{"axis"}},
		{class: "BatchNormalization", config: `{"epsilon": -1}`, want: []string{"epsilon"}},
		{class: "BatchNormalization", config: `{"center": 1}`, want: []string{"center"}},
		{class: "LayerNormalization", config: `{"axis": [-1], "rms_scaling": true}`, unsupported: true, want: []string{"rms_scaling"}},
		{class: "LayerNormalization", config: `{"axis": [], "epsilon": 0.001}`, want: []string{"axis"}},
		{class: "LayerNormalization", config: `{"axis": -1, "scale": "no"}`, want: []string{"scale"}},
	})
}

func bnWeights(prefix string, n int, names ...string) []Weight {
	var ws []Weight
	for k, nm := range names {
		d := make([]float32, n)
		for i := range d {
			d[i] = float32(k + 1)
		}
		ws = append(ws, Weight{Name: prefix + nm, Shape: []int{n}, Data: d})
	}
	return ws
}

// TestBatchNormWeights checks the stored weights BatchNormalization takes
// with and without center and scale, and the Keras 1 names.
func TestBatchNormWeights(t *testing.T) {
	all := []string{"gamma:0", "beta:0", "moving_mean:0", "moving_variance:0"}
	if err := l3BuildErr(t, "BatchNormalization", `{"axis": -1, "center": false}`, [][]int{{-1, 3}}, bnWeights("bn/", 3, all...)...); err == nil {
		t.Errorf("center=false took a beta weight")
	}
	if err := l3BuildErr(t, "BatchNormalization", `{"axis": -1}`, [][]int{{-1, 3}}, bnWeights("bn/", 3, "moving_mean:0", "moving_variance:0")...); err == nil {
		t.Errorf("built without gamma and beta")
	}
	if err := l3BuildErr(t, "BatchNormalization", `{"axis": -1, "center": false, "scale": false}`, [][]int{{-1, 3}}, bnWeights("bn/", 3, "moving_mean:0", "moving_variance:0")...); err != nil {
		t.Errorf("center=scale=false: %v", err)
	}
	if err := l3BuildErr(t, "BatchNormalization", `{"axis": -1}`, [][]int{{-1, 3}}, bnWeights("bn/", 4, all...)...); err == nil {
		t.Errorf("built with weights of the wrong size")
	}
	// Keras 1: gamma, beta, running_mean, running_std (the variance).
	env := Env{KerasVersion: "1.2.2"}
	spec := Spec{Name: "bn", Class: "BatchNormalization", Env: env,
		Config: l3Parse(t, `{"name": "bn", "epsilon": 0.001, "mode": 0, "axis": -1, "momentum": 0.99, "gamma_regularizer": null, "beta_regularizer": null}`)}
	cfg, err := Decode(spec)
	if err != nil {
		t.Fatal(err)
	}
	ws := bnWeights("", 2, "bn_gamma", "bn_beta", "bn_running_mean", "bn_running_std")
	l, _, err := Build(spec, cfg, [][]int{{-1, 2}}, NewWeights(ws))
	if err != nil {
		t.Fatalf("Keras 1 weights: %v", err)
	}
	out, err := l.Forward([]*runtime.Tensor{l3Tensor([]int{1, 2}, 3, 7)})
	if err != nil {
		t.Fatal(err)
	}
	// (x - 3) / sqrt(4 + 0.001) * 1 + 2
	w0 := float32((3.0-3)/math.Sqrt(4.001) + 2)
	w1 := float32((7.0-3)/math.Sqrt(4.001) + 2)
	l3Close(t, "Keras 1 BatchNormalization", out[0].Data, []float32{w0, w1})
}

// TestBatchNormAxes checks parameters broadcast over a middle axis and the
// full-rank parameter layout of several axes.
func TestBatchNormAxes(t *testing.T) {
	ws := []Weight{
		{Name: "bn/moving_mean:0", Shape: []int{2}, Data: []float32{1, -1}},
		{Name: "bn/moving_variance:0", Shape: []int{2}, Data: []float32{3, 0}},
	}
	l, _ := l3Build(t, "BatchNormalization", `{"axis": 1, "epsilon": 1, "center": false, "scale": false}`, keras224, [][]int{{-1, 2, 3}}, ws...)
	x := l3Tensor([]int{1, 2, 3}, 1, 3, 5, -1, 0, 1)
	out, err := l.Forward([]*runtime.Tensor{x})
	if err != nil {
		t.Fatal(err)
	}
	l3Close(t, "axis 1", out[0].Data, []float32{0, 1, 2, 0, 1, 2})
	ws2 := []Weight{
		{Name: "bn/moving_mean:0", Shape: []int{1, 2, 1, 2}, Data: []float32{0, 1, 2, 3}},
		{Name: "bn/moving_variance:0", Shape: []int{1, 2, 1, 2}, Data: []float32{0, 0, 0, 0}},
	}
	l, _ = l3Build(t, "BatchNormalization", `{"axis": [1, 3], "epsilon": 1, "center": false, "scale": false}`, keras224, [][]int{{-1, 2, 2, 2}}, ws2...)
	x = l3Tensor([]int{1, 2, 2, 2}, 0, 0, 0, 0, 0, 0, 0, 0)
	out, err = l.Forward([]*runtime.Tensor{x})
	if err != nil {
		t.Fatal(err)
	}
	l3Close(t, "axes [1, 3]", out[0].Data, []float32{0, -1, 0, -1, -2, -3, -2, -3})
}

func TestLayerNormForward(t *testing.T) {
	ws := []Weight{
		{Name: "ln/gamma:0", Shape: []int{2}, Data: []float32{2, 1}},
		{Name: "ln/beta:0", Shape: []int{2}, Data: []float32{0, 10}},
	}
	env := Env{KerasVersion: "2.4.0", Backend: "tensorflow"}
	l, _ := l3Build(t, "LayerNormalization", `{"axis": [2], "epsilon": 0}`, env, [][]int{{-1, 2, 2}}, ws...)
	x := l3Tensor([]int{1, 2, 2}, 1, 3, 5, 5)
	x.Mask = []bool{true, false}
	out, err := l.Forward([]*runtime.Tensor{x})
	if err != nil {
		t.Fatal(err)
	}
	// Row (1, 3): mean 2, std 1, so (-1, 1) before gamma and beta. Row
	// (5, 5) has variance 0 and, with epsilon 0, gives NaN: not checked.
	l3Close(t, "first row", out[0].Data[:2], []float32{-2, 11})
	if !l3BoolsEq(out[0].Mask, x.Mask) {
		t.Errorf("mask %v not passed on", out[0].Mask)
	}
	// Axes [1, 2]: gamma and beta of shape (2, 2).
	ws2 := []Weight{{Name: "ln/gamma:0", Shape: []int{2, 2}, Data: []float32{1, 1, 1, 1}}}
	l, _ = l3Build(t, "LayerNormalization", `{"axis": [1, 2], "epsilon": 0, "center": false}`, env, [][]int{{-1, 2, 2}}, ws2...)
	out, err = l.Forward([]*runtime.Tensor{l3Tensor([]int{1, 2, 2}, 0, 2, 4, 6)})
	if err != nil {
		t.Fatal(err)
	}
	s := float32(math.Sqrt(5))
	l3Close(t, "axes [1, 2]", out[0].Data, []float32{-3 / s, -1 / s, 1 / s, 3 / s})
}

// TestBatchNorm4DFormats checks that BatchNormalization over axis 1 of a
// channels_first tensor gives what axis -1 gives on the same values moved
// channels last, on more values than one chunk of the row loop.
func TestBatchNorm4DFormats(t *testing.T) {
	const c = 3
	gamma := Weight{Name: "gamma", Shape: []int{c}, Data: []float32{1, 2, -1}}
	beta := Weight{Name: "beta", Shape: []int{c}, Data: []float32{0, 0.5, 1}}
	mean := Weight{Name: "moving_mean", Shape: []int{c}, Data: []float32{0.1, -0.2, 0.3}}
	variance := Weight{Name: "moving_variance", Shape: []int{c}, Data: []float32{1, 4, 0.25}}
	last, _ := l3Build(t, "BatchNormalization", `{"axis": -1}`, keras224, [][]int{{-1, 40, 80, c}}, gamma, beta, mean, variance)
	first, _ := l3Build(t, "BatchNormalization", `{"axis": 1}`, keras224, [][]int{{-1, c, 40, 80}}, gamma, beta, mean, variance)
	cl := runtime.Empty(2, 40, 80, c)
	for i := range cl.Data {
		cl.Data[i] = float32(i%11) - 5
	}
	cf := runtime.Empty(2, c, 40, 80)
	permuteInto(cf.Data, cl.Data, cl.Shape, []int{0, 3, 1, 2})
	a, err := last.Forward([]*runtime.Tensor{cl})
	if err != nil {
		t.Fatal(err)
	}
	b, err := first.Forward([]*runtime.Tensor{cf})
	if err != nil {
		t.Fatal(err)
	}
	want := make([]float32, len(cl.Data))
	permuteInto(want, a[0].Data, cl.Shape, []int{0, 3, 1, 2})
	l3Close(t, "BatchNormalization axis 1", b[0].Data, want)
	if _, err := first.Forward([]*runtime.Tensor{runtime.Zeros(1, c+1, 2, 2)}); err == nil {
		t.Error("4 channels ran on parameters for 3")
	}
}
