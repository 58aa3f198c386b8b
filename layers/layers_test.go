package layers

import (
	"errors"
	"math"
	"strings"
	"testing"

	"github.com/kerasrun/kerasrun/runtime"
)

var keras224 = Env{KerasVersion: "2.2.4", Backend: "tensorflow"}

const lstmCfg = `{"name": "lstm_1", "trainable": true, "return_sequences": false, "return_state": false, "go_backwards": false, "stateful": false, "unroll": false, "units": 3, "activation": "tanh", "recurrent_activation": "hard_sigmoid", "use_bias": true, "unit_forget_bias": true, "dropout": 0.0, "recurrent_dropout": 0.0, "implementation": 1}`

const lstmSeqCfg = `{"name": "lstm_1", "return_sequences": true, "units": 3, "activation": "tanh", "recurrent_activation": "sigmoid"}`

// TestDecodeErrors checks that every rejected config gives a *LayerError
// that names the layer, the class and the option, and that unsupported
// classes and options wrap ErrUnsupported.
func TestDecodeErrors(t *testing.T) {
	for _, tc := range []struct {
		name, layer, class, config string
		unsupported                bool     // errors.Is(err, ErrUnsupported)
		want                       []string // substrings of the message
	}{
		{
			name: "unknown option", layer: "dense_1", class: "Dense",
			config:      `{"name": "dense_1", "units": 3, "activation": "relu", "frobnicate": 2}`,
			unsupported: true, want: []string{"frobnicate"},
		},
		{
			name: "time_major LSTM", layer: "lstm_1", class: "LSTM",
			config:      `{"name": "lstm_1", "units": 3, "time_major": true}`,
			unsupported: true, want: []string{"time_major"},
		},
		{
			name: "Conv1D strides and dilation", layer: "conv1d_1", class: "Conv1D",
			config: `{"name": "conv1d_1", "filters": 4, "kernel_size": [3], "strides": [2], "dilation_rate": [2], "padding": "valid"}`,
			want:   []string{"dilation_rate", "strides"},
		},
		{
			name: "unknown activation", layer: "dense_1", class: "Dense",
			config:      `{"name": "dense_1", "units": 3, "activation": "mish_plus"}`,
			unsupported: true, want: []string{"activation", "mish_plus"},
		},
		{
			name: "unknown recurrent activation", layer: "lstm_1", class: "LSTM",
			config:      `{"name": "lstm_1", "units": 3, "recurrent_activation": "mish_plus"}`,
			unsupported: true, want: []string{"recurrent_activation", "mish_plus"},
		},
		{
			name: "unknown class", layer: "foo_bar_1", class: "FooBar",
			config:      `{"name": "foo_bar_1", "alpha": 0.5}`,
			unsupported: true, want: []string{"unknown layer class"},
		},
		{
			name: "unsupported padding value", layer: "conv1d_1", class: "Conv1D",
			config:      `{"name": "conv1d_1", "filters": 4, "kernel_size": 3, "padding": "full"}`,
			unsupported: true, want: []string{"padding", "full"},
		},
		{
			name: "bad merge_mode", layer: "bidirectional_1", class: "Bidirectional",
			config:      `{"name": "bidirectional_1", "merge_mode": "max", "layer": {"class_name": "LSTM", "config": ` + lstmCfg + `}}`,
			unsupported: true, want: []string{"merge_mode", "max"},
		},
		{
			name: "Bidirectional around Dense", layer: "bidirectional_1", class: "Bidirectional",
			config:      `{"name": "bidirectional_1", "merge_mode": "concat", "layer": {"class_name": "Dense", "config": {"name": "dense_1", "units": 3}}}`,
			unsupported: true, want: []string{"Dense"},
		},
		{
			name: "Bidirectional around an unknown class", layer: "bidirectional_1", class: "Bidirectional",
			config:      `{"name": "bidirectional_1", "layer": {"class_name": "FooRNN", "config": {"name": "foo_rnn_1"}}}`,
			unsupported: true, want: []string{"FooRNN", "foo_rnn_1"},
		},
		{
			name: "bad option inside Bidirectional", layer: "bidirectional_1", class: "Bidirectional",
			config:      `{"name": "bidirectional_1", "layer": {"class_name": "LSTM", "config": {"name": "lstm_1", "units": 3, "time_major": true}}}`,
			unsupported: true, want: []string{"lstm_1", "time_major"},
		},
		{
			name: "units not an integer", layer: "dense_1", class: "Dense",
			config: `{"name": "dense_1", "units": 2.5}`,
			want:   []string{"units", "2.5"},
		},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := Decode(Spec{Name: tc.layer, Class: tc.class, Config: mustParse(t, tc.config), Env: keras224})
			if err == nil {
				t.Fatalf("Decode accepted %s", tc.config)
			}
			var le *LayerError
			if !errors.As(err, &le) {
				t.Fatalf("error %v (%T) is not a *LayerError", err, err)
			}
			if le.Layer != tc.layer || le.Class != tc.class {
				t.Errorf("LayerError names %q (%s), want %q (%s)", le.Layer, le.Class, tc.layer, tc.class)
			}
			msg := err.Error()
			for _, part := range append([]string{tc.layer, tc.class}, tc.want...) {
				if !strings.Contains(msg, part) {
					t.Errorf("error %q does not mention %q", msg, part)
				}
			}
			if got := errors.Is(err, ErrUnsupported); got != tc.unsupported {
				t.Errorf("errors.Is(err, ErrUnsupported) = %v, want %v (error %q)", got, tc.unsupported, msg)
			}
		})
	}
}

// TestDecodeReportsEveryProblem checks that one config with several
// problems reports them all at once, not just the first.
func TestDecodeReportsEveryProblem(t *testing.T) {
	_, err := Decode(Spec{Name: "dense_1", Class: "Dense", Env: keras224,
		Config: mustParse(t, `{"name": "dense_1", "units": 3, "activation": "mish_plus", "frobnicate": 1, "zorch": true}`)})
	if err == nil {
		t.Fatal("Decode accepted a config with three problems")
	}
	for _, part := range []string{"mish_plus", "frobnicate", "zorch"} {
		if !strings.Contains(err.Error(), part) {
			t.Errorf("error %q does not mention %q", err, part)
		}
	}
}

// TestDecodeAccepts checks configs that must decode: real Keras 2.2.4 keys,
// including training-only ones, and a Keras 3 style dtype.
func TestDecodeAccepts(t *testing.T) {
	for _, tc := range []struct{ class, config string }{
		{"LSTM", lstmCfg},
		{"Dense", `{"name": "dense_1", "trainable": true, "units": 5, "activation": "linear", "use_bias": true, "kernel_initializer": {"class_name": "VarianceScaling", "config": {}}, "bias_initializer": {"class_name": "Zeros", "config": {}}, "kernel_regularizer": null, "bias_regularizer": null, "activity_regularizer": null, "kernel_constraint": null, "bias_constraint": null, "batch_input_shape": [null, 4], "dtype": "float32"}`},
		{"Conv1D", `{"name": "conv1d_1", "filters": 8, "kernel_size": [3], "strides": [1], "padding": "causal", "dilation_rate": [2], "data_format": "channels_last", "activation": "relu", "use_bias": true}`},
		{"Dropout", `{"name": "dropout_1", "trainable": true, "rate": 0.5, "noise_shape": null, "seed": null}`},
		{"Bidirectional", `{"name": "bidirectional_1", "trainable": true, "layer": {"class_name": "LSTM", "config": ` + lstmCfg + `}, "merge_mode": "concat"}`},
	} {
		if _, err := Decode(Spec{Name: "x", Class: tc.class, Config: mustParse(t, tc.config), Env: keras224}); err != nil {
			t.Errorf("%s: %v", tc.class, err)
		}
	}
}

// lstmWeights returns zero-valued LSTM weights named under scope.
func lstmWeights(scope string, in, u int) []Weight {
	return []Weight{
		{Name: scope + "/kernel:0", Shape: []int{in, 4 * u}, Data: make([]float32, in*4*u)},
		{Name: scope + "/recurrent_kernel:0", Shape: []int{u, 4 * u}, Data: make([]float32, u*4*u)},
		{Name: scope + "/bias:0", Shape: []int{4 * u}, Data: make([]float32, 4*u)},
	}
}

func bidiWeights(in, u int) []Weight {
	return append(lstmWeights("bidirectional_1/forward_lstm_1", in, u), lstmWeights("bidirectional_1/backward_lstm_1", in, u)...)
}

// TestBidirectionalMergeNone checks that merge_mode null gives two outputs,
// forward then backward, each with the inner layer's shape.
func TestBidirectionalMergeNone(t *testing.T) {
	for _, tc := range []struct {
		inner string
		want  [][]int
	}{
		{lstmCfg, [][]int{{-1, 3}, {-1, 3}}},
		{lstmSeqCfg, [][]int{{-1, 6, 3}, {-1, 6, 3}}},
	} {
		l, shapes := buildLayer(t, "bidirectional_1", "Bidirectional",
			`{"name": "bidirectional_1", "merge_mode": null, "layer": {"class_name": "LSTM", "config": `+tc.inner+`}}`,
			keras224, []int{-1, 6, 4}, bidiWeights(4, 3))
		if len(shapes) != len(tc.want) {
			t.Fatalf("Build gives %d output shapes %v, want %v", len(shapes), shapes, tc.want)
		}
		for i := range tc.want {
			if !intsEqual(shapes[i], tc.want[i]) {
				t.Errorf("output shape %d = %v, want %v", i, shapes[i], tc.want[i])
			}
		}
		out, err := l.Forward([]*runtime.Tensor{runtime.Zeros(2, 6, 4)})
		if err != nil {
			t.Fatal(err)
		}
		if len(out) != 2 {
			t.Fatalf("Forward gives %d outputs, want 2", len(out))
		}
		for i, o := range out {
			want := append([]int{2}, tc.want[i][1:]...)
			if !intsEqual(o.Shape, want) {
				t.Errorf("Forward output %d shape %v, want %v", i, o.Shape, want)
			}
		}
	}
}

// TestBidirectionalConcatShape checks the default merge (concat) and the
// output order with return_state: merged output, forward h and c, then
// backward h and c.
func TestBidirectionalConcatShape(t *testing.T) {
	inner := `{"name": "lstm_1", "units": 3, "return_sequences": true, "return_state": true}`
	_, shapes := buildLayer(t, "bidirectional_1", "Bidirectional",
		`{"name": "bidirectional_1", "layer": {"class_name": "LSTM", "config": `+inner+`}}`,
		keras224, []int{-1, 6, 4}, bidiWeights(4, 3))
	want := [][]int{{-1, 6, 6}, {-1, 3}, {-1, 3}, {-1, 3}, {-1, 3}}
	if len(shapes) != len(want) {
		t.Fatalf("shapes %v, want %v", shapes, want)
	}
	for i := range want {
		if !intsEqual(shapes[i], want[i]) {
			t.Errorf("shape %d = %v, want %v", i, shapes[i], want[i])
		}
	}
}

// bidiInner builds a Bidirectional LSTM and returns its inner layers.
func bidiInner(t *testing.T) (fwd, bwd runtime.Layer) {
	t.Helper()
	l, _ := buildLayer(t, "bidirectional_1", "Bidirectional",
		`{"name": "bidirectional_1", "layer": {"class_name": "LSTM", "config": `+lstmCfg+`}}`,
		keras224, []int{-1, 6, 4}, bidiWeights(4, 3))
	b, ok := l.(*bidirectionalLayer)
	if !ok {
		t.Fatalf("Bidirectional built a %T", l)
	}
	return b.fwd, b.bwd
}

// TestBidirectionalForwardName checks the name of the forward inner layer,
// which errors at run time report. Keras (wrappers.py) names it
// "forward_" + layer.name.
func TestBidirectionalForwardName(t *testing.T) {
	fwd, _ := bidiInner(t)
	if got := fwd.Name(); got != "forward_lstm_1" {
		t.Errorf("forward layer name %q, want %q", got, "forward_lstm_1")
	}
}

// TestBidirectionalBackwardName checks the name of the backward inner
// layer: Keras (wrappers.py) names it "backward_" + layer.name.
func TestBidirectionalBackwardName(t *testing.T) {
	_, bwd := bidiInner(t)
	if got := bwd.Name(); got != "backward_lstm_1" {
		t.Errorf("backward layer name %q, want %q", got, "backward_lstm_1")
	}
}

// TestBidirectionalOddWeights checks that a weight count that cannot be
// split in two halves is an error naming the layer.
func TestBidirectionalOddWeights(t *testing.T) {
	spec := Spec{Name: "bidirectional_1", Class: "Bidirectional", Env: keras224,
		Config: mustParse(t, `{"name": "bidirectional_1", "layer": {"class_name": "LSTM", "config": `+lstmCfg+`}}`)}
	cfg, err := Decode(spec)
	if err != nil {
		t.Fatal(err)
	}
	ws := bidiWeights(4, 3)[:5]
	_, _, err = Build(spec, cfg, [][]int{{-1, 6, 4}}, NewWeights(ws))
	if err == nil {
		t.Fatal("5 weights were accepted for a Bidirectional LSTM")
	}
	for _, part := range []string{"bidirectional_1", "Bidirectional", "5"} {
		if !strings.Contains(err.Error(), part) {
			t.Errorf("error %q does not mention %q", err, part)
		}
	}
}

// TestHardSigmoidVersions checks hard_sigmoid by Keras version.
// Keras 2: clip(0.2x + 0.5, 0, 1); Keras 3: clip(x/6 + 0.5, 0, 1). The
// expected values are worked by hand: for Keras 3, -1 -> 1/3, 1 -> 2/3,
// 2.5 -> 2.5/6 + 0.5 = 11/12.
func TestHardSigmoidVersions(t *testing.T) {
	xs := []float32{-4, -3, -1, 0, 1, 2.5, 3, 4}
	for _, tc := range []struct {
		version string
		want    []float64
	}{
		{"2.2.4", []float64{0, 0, 0.3, 0.5, 0.7, 1, 1, 1}},
		{"2.2.4-tf", []float64{0, 0, 0.3, 0.5, 0.7, 1, 1, 1}},
		{"2.7.0", []float64{0, 0, 0.3, 0.5, 0.7, 1, 1, 1}},
		{"", []float64{0, 0, 0.3, 0.5, 0.7, 1, 1, 1}}, // Keras 1 files have no version
		{"3.1.0", []float64{0, 0, 1.0 / 3, 0.5, 2.0 / 3, 11.0 / 12, 1, 1}},
	} {
		f, ok := NewActivation("hard_sigmoid", Env{KerasVersion: tc.version})
		if !ok {
			t.Fatal("hard_sigmoid not supported")
		}
		x := append([]float32(nil), xs...)
		f(x, len(x))
		for i := range x {
			if math.Abs(float64(x[i])-tc.want[i]) > 1e-6 {
				t.Errorf("keras %q: hard_sigmoid(%v) = %v, want %v", tc.version, xs[i], x[i], tc.want[i])
			}
		}
	}
}

// TestSoftmax checks softmax over the last axis: every row sums to 1,
// large logits do not overflow, and hand-derived rows: softmax(0, 0, 0) =
// 1/3 each; softmax(0, ln 3) = (1/4, 3/4); softmax(1000, 1000) = 1/2 each.
func TestSoftmax(t *testing.T) {
	f, ok := NewActivation("softmax", keras224)
	if !ok {
		t.Fatal("softmax not supported")
	}
	x := []float32{0, 0, 0, 1000, 1001, 1002, -5, 2, 7}
	f(x, 3)
	for r := 0; r < 3; r++ {
		var s float64
		for _, v := range x[r*3 : r*3+3] {
			if math.IsNaN(float64(v)) || v < 0 || v > 1 {
				t.Fatalf("row %d: value %v", r, v)
			}
			s += float64(v)
		}
		if math.Abs(s-1) > 1e-6 {
			t.Errorf("row %d sums to %v", r, s)
		}
	}
	for i := 0; i < 3; i++ {
		if math.Abs(float64(x[i])-1.0/3) > 1e-7 {
			t.Errorf("softmax(0,0,0)[%d] = %v, want 1/3", i, x[i])
		}
	}
	// Rows 1 and 2 are increasing: softmax keeps the order.
	if !(x[3] < x[4] && x[4] < x[5] && x[6] < x[7] && x[7] < x[8]) {
		t.Errorf("softmax broke the order of the logits: %v", x)
	}
	y := []float32{0, float32(math.Log(3)), 1000, 1000}
	f(y, 2)
	for i, want := range []float64{0.25, 0.75, 0.5, 0.5} {
		if math.Abs(float64(y[i])-want) > 1e-6 {
			t.Errorf("softmax element %d = %v, want %v", i, y[i], want)
		}
	}
}

// TestActivationValues checks elementwise activations against Python:
//
//	gelu: 0.5*x*(1+math.erf(x/math.sqrt(2)))
//	selu: S*x if x > 0 else S*A*math.expm1(x), with A = 1.6732632423543772848170429916717
//	      and S = 1.0507009873554804934193349852946 (keras/activations.py)
//	elu:  x if x > 0 else math.expm1(x)
//
// at x = -2.0, -0.5, 0.5, 1.5, printed with repr().
func TestActivationValues(t *testing.T) {
	xs := []float32{-2, -0.5, 0.5, 1.5}
	for _, tc := range []struct {
		name string
		want []float64
	}{
		{"gelu", []float64{-0.04550026389635842, -0.15426876936299344, 0.34573123063700656, 1.399789198096713}},
		{"selu", []float64{-1.5201664685956948, -0.6917581878028713, 0.5253504936777402, 1.5760514810332207}},
		{"elu", []float64{-0.8646647167633873, -0.3934693402873666, 0.5, 1.5}},
		// Hand-derived: relu and linear.
		{"relu", []float64{0, 0, 0.5, 1.5}},
		{"linear", []float64{-2, -0.5, 0.5, 1.5}},
	} {
		f, ok := NewActivation(tc.name, keras224)
		if !ok {
			t.Fatalf("%s not supported", tc.name)
		}
		x := append([]float32(nil), xs...)
		f(x, len(x))
		for i := range x {
			if d := math.Abs(float64(x[i]) - tc.want[i]); d > 1e-6*math.Max(1, math.Abs(tc.want[i])) {
				t.Errorf("%s(%v) = %v, want %v", tc.name, xs[i], x[i], tc.want[i])
			}
		}
	}
	if _, ok := NewActivation("mish_plus", keras224); ok {
		t.Error("NewActivation accepted an unknown name")
	}
}

// TestActivationLayerDoesNotModifyInput checks that the Activation layer
// writes a new tensor.
func TestActivationLayerDoesNotModifyInput(t *testing.T) {
	l, _ := buildLayer(t, "activation_1", "Activation", `{"name": "activation_1", "activation": "relu"}`, keras224, []int{-1, 3}, nil)
	x := &runtime.Tensor{Shape: []int{1, 3}, Data: []float32{-1, 0, 2}}
	out, err := l.Forward([]*runtime.Tensor{x})
	if err != nil {
		t.Fatal(err)
	}
	equalExact(t, "output", out[0].Data, []float32{0, 0, 2})
	equalExact(t, "input", x.Data, []float32{-1, 0, 2})
}

// TestWeightsTake checks Take's errors: they name the weight and both
// shapes, or the weight that was expected and the one found.
func TestWeightsTake(t *testing.T) {
	kernel := Weight{Name: "dense_1/kernel:0", Shape: []int{4, 2}, Data: make([]float32, 8)}

	w := NewWeights([]Weight{kernel})
	_, err := w.Take("kernel", 4, 3)
	if err == nil {
		t.Fatal("Take accepted a [4 2] kernel for [4 3]")
	}
	for _, part := range []string{"kernel", "[4 3]", "[4 2]"} {
		if !strings.Contains(err.Error(), part) {
			t.Errorf("wrong shape: error %q does not mention %q", err, part)
		}
	}
	if w.Remaining() != 1 {
		t.Errorf("a failed Take consumed the weight: %d remaining", w.Remaining())
	}

	w = NewWeights([]Weight{kernel})
	_, err = w.Take("bias", 2)
	if err == nil {
		t.Fatal("Take(bias) accepted a kernel")
	}
	for _, part := range []string{"bias", "dense_1/kernel:0", "[4 2]"} {
		if !strings.Contains(err.Error(), part) {
			t.Errorf("wrong name: error %q does not mention %q", err, part)
		}
	}

	w = NewWeights(nil)
	_, err = w.Take("kernel", 4, 3)
	if err == nil || !strings.Contains(err.Error(), "kernel") || !strings.Contains(err.Error(), "missing") {
		t.Errorf("missing weight: error %v, want one naming \"kernel\" as missing", err)
	}

	// -1 accepts any size in that dimension.
	w = NewWeights([]Weight{kernel})
	got, err := w.Take("kernel", -1, 2)
	if err != nil {
		t.Fatal(err)
	}
	if !intsEqual(got.Shape, []int{4, 2}) {
		t.Errorf("Take returned shape %v", got.Shape)
	}
	if err := w.Done(); err != nil {
		t.Errorf("Done after taking everything: %v", err)
	}
}

// TestWeightsDone checks that a weight left over is reported with its name
// and shape, directly and through Build.
func TestWeightsDone(t *testing.T) {
	ws := []Weight{
		{Name: "dense_1/kernel:0", Shape: []int{4, 3}, Data: make([]float32, 12)},
		{Name: "dense_1/bias:0", Shape: []int{3}, Data: make([]float32, 3)},
		{Name: "dense_1/extra:0", Shape: []int{5}, Data: make([]float32, 5)},
	}
	w := NewWeights(ws)
	if _, err := w.Take("kernel", 4, 3); err != nil {
		t.Fatal(err)
	}
	err := w.Done()
	if err == nil {
		t.Fatal("Done accepted two weights left over")
	}
	for _, part := range []string{"dense_1/bias:0", "dense_1/extra:0", "[5]"} {
		if !strings.Contains(err.Error(), part) {
			t.Errorf("Done: error %q does not mention %q", err, part)
		}
	}

	spec := Spec{Name: "dense_1", Class: "Dense", Env: keras224, Config: mustParse(t, `{"name": "dense_1", "units": 3}`)}
	cfg, err := Decode(spec)
	if err != nil {
		t.Fatal(err)
	}
	_, _, err = Build(spec, cfg, [][]int{{-1, 4}}, NewWeights(ws))
	if err == nil {
		t.Fatal("Build accepted an extra weight")
	}
	for _, part := range []string{"dense_1", "Dense", "dense_1/extra:0"} {
		if !strings.Contains(err.Error(), part) {
			t.Errorf("Build: error %q does not mention %q", err, part)
		}
	}
	if strings.Contains(err.Error(), "dense_1/bias:0") {
		t.Errorf("Build: error %q reports the bias, which Dense takes", err)
	}
}

// TestDenseWrongWeightShape checks the Build error for a stored kernel of
// the wrong shape: it names the layer, class, weight and both shapes.
func TestDenseWrongWeightShape(t *testing.T) {
	spec := Spec{Name: "dense_1", Class: "Dense", Env: keras224, Config: mustParse(t, `{"name": "dense_1", "units": 3}`)}
	cfg, err := Decode(spec)
	if err != nil {
		t.Fatal(err)
	}
	_, _, err = Build(spec, cfg, [][]int{{-1, 4}}, NewWeights([]Weight{
		{Name: "dense_1/kernel:0", Shape: []int{4, 2}, Data: make([]float32, 8)},
		{Name: "dense_1/bias:0", Shape: []int{3}, Data: make([]float32, 3)},
	}))
	if err == nil {
		t.Fatal("Build accepted a [4 2] kernel for units=3")
	}
	for _, part := range []string{"dense_1", "Dense", "kernel", "[4 3]", "[4 2]"} {
		if !strings.Contains(err.Error(), part) {
			t.Errorf("error %q does not mention %q", err, part)
		}
	}
}
