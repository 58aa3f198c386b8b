package layers

import (
	"testing"

	"github.com/kerasrun/kerasrun/runtime"
)

func TestReshapeDecodeErrors(t *testing.T) {
	checkL3DecodeErrors(t, []l3DecodeCase{
		{class: "Reshape", config: `{"target_shape": [-1, -1]}`, want: []string{"target_shape"}},
		{class: "Reshape", config: `{"target_shape": [0, 4]}`, want: []string{"target_shape"}},
		{class: "Reshape", config: `{}`, want: []string{"target_shape", "missing"}},
		{class: "Permute", config: `{"dims": [1, 1]}`, want: []string{"dims"}},
		{class: "Permute", config: `{"dims": [0, 1]}`, want: []string{"dims"}},
		{class: "RepeatVector", config: `{"n": 0}`, want: []string{"n"}},
		{class: "ZeroPadding1D", config: `{"padding": [-1, 2]}`, want: []string{"padding"}},
		{class: "ZeroPadding1D", config: `{"padding": [1, 2, 3]}`, want: []string{"padding"}},
		{class: "Cropping1D", config: `{"cropping": "all"}`, want: []string{"cropping"}},
		{class: "UpSampling1D", config: `{"size": 0}`, want: []string{"size"}},
		{class: "UpSampling1D", config: `{"size": 2, "interpolation": "bilinear"}`, unsupported: true, want: []string{"interpolation"}},
	})
}

func TestShapeLayersRefuseMasks(t *testing.T) {
	for class, js := range map[string]string{
		"Reshape":       `{"target_shape": [-1]}`,
		"Permute":       `{"dims": [2, 1]}`,
		"RepeatVector":  `{"n": 2}`,
		"ZeroPadding1D": `{"padding": 1}`,
		"Cropping1D":    `{"cropping": 1}`,
		"UpSampling1D":  `{"size": 2}`,
	} {
		if _, err := l3Masks(t, class, js, keras224, true); err == nil {
			t.Errorf("%s accepted a masked input", class)
		}
	}
}

func TestShapeLayers(t *testing.T) {
	x := l3Tensor([]int{1, 3, 2}, 1, 2, 3, 4, 5, 6)
	for _, tc := range []struct {
		class, config string
		shape         []int
		data          []float32
	}{
		{"Reshape", `{"target_shape": [-1, 3]}`, []int{1, 2, 3}, []float32{1, 2, 3, 4, 5, 6}},
		{"Permute", `{"dims": [2, 1]}`, []int{1, 2, 3}, []float32{1, 3, 5, 2, 4, 6}},
		{"ZeroPadding1D", `{"padding": [1, 0]}`, []int{1, 4, 2}, []float32{0, 0, 1, 2, 3, 4, 5, 6}},
		{"ZeroPadding1D", `{"padding": 1, "data_format": "channels_first"}`, []int{1, 3, 4}, []float32{0, 1, 2, 0, 0, 3, 4, 0, 0, 5, 6, 0}},
		{"Cropping1D", `{"cropping": [0, 2]}`, []int{1, 1, 2}, []float32{1, 2}},
		{"UpSampling1D", `{"size": 2}`, []int{1, 6, 2}, []float32{1, 2, 1, 2, 3, 4, 3, 4, 5, 6, 5, 6}},
	} {
		l, out := l3Build(t, tc.class, tc.config, keras224, [][]int{{-1, 3, 2}})
		if !l3IntsEq(out[0][1:], tc.shape[1:]) {
			t.Errorf("%s %s: static shape %v, want %v", tc.class, tc.config, out[0], tc.shape)
		}
		got, err := l.Forward([]*runtime.Tensor{x})
		if err != nil {
			t.Fatalf("%s: %v", tc.class, err)
		}
		if !l3IntsEq(got[0].Shape, tc.shape) {
			t.Errorf("%s %s: shape %v, want %v", tc.class, tc.config, got[0].Shape, tc.shape)
		}
		l3Close(t, tc.class+" "+tc.config, got[0].Data, tc.data)
	}
	r, _ := l3Build(t, "RepeatVector", `{"n": 2}`, keras224, [][]int{{-1, 2}})
	got, err := r.Forward([]*runtime.Tensor{l3Tensor([]int{2, 2}, 1, 2, 3, 4)})
	if err != nil {
		t.Fatal(err)
	}
	l3Close(t, "RepeatVector", got[0].Data, []float32{1, 2, 1, 2, 3, 4, 3, 4})
	if err := l3BuildErr(t, "Reshape", `{"target_shape": [4]}`, [][]int{{-1, 3, 2}}); err == nil {
		t.Errorf("Reshape of 6 values to (4,) built")
	}
	if err := l3BuildErr(t, "Cropping1D", `{"cropping": [2, 1]}`, [][]int{{-1, 3, 2}}); err == nil {
		t.Errorf("Cropping1D of all 3 steps built")
	}
	_, out := l3Build(t, "Reshape", `{"target_shape": [-1, 2]}`, keras224, [][]int{{-1, -1, 4}})
	if !l3IntsEq(out[0], []int{-1, -1, 2}) {
		t.Errorf("Reshape of a free dimension: %v", out[0])
	}
}
