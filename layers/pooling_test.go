package layers

import (
	"errors"
	"strings"
	"testing"

	"github.com/kerasrun/kerasrun/runtime"
	"github.com/tidwall/gjson"
)

// l3DecodeCase is a config that Decode must reject, naming the option.
type l3DecodeCase struct {
	class, config string
	env           Env // keras224 when zero
	unsupported   bool
	want          []string
}

// checkL3DecodeErrors decodes every case and checks the error: a
// *LayerError naming the layer and class, mentioning want, wrapping
// ErrUnsupported exactly when the case says so.
func checkL3DecodeErrors(t *testing.T, cases []l3DecodeCase) {
	t.Helper()
	for _, tc := range cases {
		t.Run(tc.class+" "+strings.Join(tc.want, " "), func(t *testing.T) {
			env := tc.env
			if env == (Env{}) {
				env = keras224
			}
			_, err := Decode(Spec{Name: "layer_1", Class: tc.class, Config: l3Parse(t, tc.config), Env: env})
			if err == nil {
				t.Fatalf("Decode accepted %s", tc.config)
			}
			var le *LayerError
			if !errors.As(err, &le) || le.Layer != "layer_1" || le.Class != tc.class {
				t.Fatalf("error %v does not name layer_1 (%s)", err, tc.class)
			}
			for _, part := range append([]string{"layer_1", tc.class}, tc.want...) {
				if !strings.Contains(err.Error(), part) {
					t.Errorf("error %q does not mention %q", err, part)
				}
			}
			if got := errors.Is(err, ErrUnsupported); got != tc.unsupported {
				t.Errorf("errors.Is(err, ErrUnsupported) = %v, want %v (%q)", got, tc.unsupported, err)
			}
		})
	}
}

func l3Parse(t testing.TB, js string) gjson.Result {
	t.Helper()
	if !gjson.Valid(js) {
		t.Fatalf("test config is not valid JSON: %s", js)
	}
	return gjson.Parse(js)
}

// l3Build decodes and builds a layer on inputs of the given static shapes.
func l3Build(t testing.TB, class, js string, env Env, in [][]int, ws ...Weight) (runtime.Layer, [][]int) {
	t.Helper()
	spec := Spec{Name: "layer_1", Class: class, Config: l3Parse(t, js), Env: env}
	cfg, err := Decode(spec)
	if err != nil {
		t.Fatalf("Decode %s: %v", class, err)
	}
	l, out, err := Build(spec, cfg, in, NewWeights(ws))
	if err != nil {
		t.Fatalf("Build %s: %v", class, err)
	}
	return l, out
}

// l3BuildErr decodes a layer and returns the error of building it.
func l3BuildErr(t testing.TB, class, js string, in [][]int, ws ...Weight) error {
	t.Helper()
	spec := Spec{Name: "layer_1", Class: class, Config: l3Parse(t, js), Env: keras224}
	cfg, err := Decode(spec)
	if err != nil {
		t.Fatalf("Decode %s: %v", class, err)
	}
	_, _, err = Build(spec, cfg, in, NewWeights(ws))
	return err
}

// l3Masks returns the output masks of a layer given which inputs carry one.
func l3Masks(t testing.TB, class, js string, env Env, in ...bool) ([]bool, error) {
	t.Helper()
	spec := Spec{Name: "layer_1", Class: class, Config: l3Parse(t, js), Env: env}
	cfg, err := Decode(spec)
	if err != nil {
		t.Fatalf("Decode %s: %v", class, err)
	}
	return OutputMasks(spec, cfg, in, 1)
}

func l3Tensor(shape []int, data ...float32) *runtime.Tensor {
	t, err := runtime.NewTensor(shape, data)
	if err != nil {
		panic(err)
	}
	return t
}

func l3Close(t *testing.T, what string, got, want []float32) {
	t.Helper()
	if len(got) != len(want) {
		t.Fatalf("%s: got %d values %v, want %d %v", what, len(got), got, len(want), want)
	}
	for i := range got {
		d := got[i] - want[i]
		if d > 1e-5 || d < -1e-5 || got[i] != got[i] {
			t.Fatalf("%s: value %d is %v, want %v (all: %v)", what, i, got[i], want[i], got)
		}
	}
}

func TestPoolingDecodeErrors(t *testing.T) {
	checkL3DecodeErrors(t, []l3DecodeCase{
		{class: "MaxPooling1D", config: `{"pool_size": [2], "padding": "causal"}`, unsupported: true, want: []string{"padding", "causal"}},
		{class: "AveragePooling1D", config: `{"pool_size": [0]}`, want: []string{"pool_size"}},
		{class: "MaxPooling1D", config: `{"pool_size": [2, 2]}`, want: []string{"pool_size"}},
		{class: "MaxPooling1D", config: `{"pool_size": 2, "strides": -1}`, want: []string{"strides"}},
		{class: "AveragePooling1D", config: `{"pool_size": 2, "data_format": "NWC"}`, unsupported: true, want: []string{"data_format", "NWC"}},
		{class: "GlobalAveragePooling1D", config: `{"data_format": "channels_last", "keepdims": "yes"}`, want: []string{"keepdims"}},
		{class: "GlobalMaxPooling1D", config: `{"data_format": "channels_last", "mystery": 1}`, unsupported: true, want: []string{"mystery"}},
		{class: "GlobalMaxPooling2D", config: `{"data_format": "channels_middle"}`, unsupported: true, want: []string{"data_format", "channels_middle"}},
	})
}

// TestGlobalPoolingMasks checks which Keras versions let
// GlobalAveragePooling1D take a mask, and that GlobalMaxPooling1D never
// does.
func TestGlobalPoolingMasks(t *testing.T) {
	for _, tc := range []struct {
		class, version, format string
		ok                     bool
	}{
		{"GlobalAveragePooling1D", "1.2.2", "channels_last", false},
		{"GlobalAveragePooling1D", "2.1.6", "channels_last", false},
		{"GlobalAveragePooling1D", "2.2.2", "channels_last", false},
		{"GlobalAveragePooling1D", "2.2.3", "channels_last", true},
		{"GlobalAveragePooling1D", "2.2.4", "channels_last", true},
		{"GlobalAveragePooling1D", "2.2.4-tf", "channels_last", true},
		{"GlobalAveragePooling1D", "2.4.0", "channels_last", true},
		{"GlobalAveragePooling1D", "2.4.0", "channels_first", false},
		{"GlobalAveragePooling1D", "3.3.3", "channels_first", true},
		{"GlobalMaxPooling1D", "2.2.4", "channels_last", false},
		{"GlobalMaxPooling1D", "3.3.3", "channels_last", false},
	} {
		env := Env{KerasVersion: tc.version, Backend: "tensorflow"}
		out, err := l3Masks(t, tc.class, `{"data_format": "`+tc.format+`"}`, env, true)
		if tc.ok {
			if err != nil || len(out) != 1 || out[0] {
				t.Errorf("%s %s %s: masks %v, %v; want accepted and consumed", tc.class, tc.version, tc.format, out, err)
			}
			continue
		}
		if err == nil || !errors.Is(err, ErrUnsupported) || !strings.Contains(err.Error(), "does not support masking") {
			t.Errorf("%s %s %s: err %v, want a refusal of the mask", tc.class, tc.version, tc.format, err)
		}
	}
}

// TestMaskedAverage checks the masked mean of GlobalAveragePooling1D
// against hand-computed values.
func TestMaskedAverage(t *testing.T) {
	l, _ := l3Build(t, "GlobalAveragePooling1D", `{"data_format": "channels_last"}`, keras224, [][]int{{-1, 3, 2}})
	x := l3Tensor([]int{2, 3, 2}, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12)
	x.Mask = []bool{true, false, true, false, true, false}
	out, err := l.Forward([]*runtime.Tensor{x})
	if err != nil {
		t.Fatal(err)
	}
	l3Close(t, "masked mean", out[0].Data, []float32{3, 4, 9, 10})
	if out[0].Mask != nil {
		t.Errorf("output carries a mask")
	}
}

func TestPool1DShapes(t *testing.T) {
	_, out := l3Build(t, "MaxPooling1D", `{"pool_size": [3], "strides": [2], "padding": "same", "data_format": "channels_first"}`, keras224, [][]int{{-1, 4, 7}})
	if !l3IntsEq(out[0], []int{-1, 4, 4}) {
		t.Errorf("shape %v, want [-1 4 4]", out[0])
	}
	if err := l3BuildErr(t, "MaxPooling1D", `{"pool_size": [5]}`, [][]int{{-1, 3, 2}}); err == nil {
		t.Errorf("pool of 5 over 3 steps accepted")
	}
	_, out = l3Build(t, "GlobalAveragePooling2D", `{"data_format": "channels_first", "keepdims": true}`, keras224, [][]int{{-1, 3, 5, 6}})
	if !l3IntsEq(out[0], []int{-1, 3, 1, 1}) {
		t.Errorf("shape %v, want [-1 3 1 1]", out[0])
	}
}

func l3IntsEq(a, b []int) bool {
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
