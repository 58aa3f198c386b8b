package layers

import (
	"testing"

	"github.com/kerasrun/kerasrun/runtime"
)

func TestConv2DTransposeDecodeErrors(t *testing.T) {
	checkL3DecodeErrors(t, []l3DecodeCase{
		{class: "Conv2DTranspose", config: `{"filters": 2, "kernel_size": 3, "dilation_rate": 2}`, unsupported: true, want: []string{"dilation_rate"}},
		{class: "Conv2DTranspose", config: `{"filters": 2, "kernel_size": 3, "strides": 2, "output_padding": 2}`, want: []string{"output_padding"}},
		{class: "Conv2DTranspose", config: `{"filters": 2, "kernel_size": 3, "padding": "causal"}`, unsupported: true, want: []string{"padding", "causal"}},
		{class: "Conv2DTranspose", config: `{"filters": 2}`, want: []string{"kernel_size", "missing"}},
		{class: "Conv2DTranspose", config: `{"filters": 2, "kernel_size": 3, "groups": 2}`, unsupported: true, want: []string{"groups"}},
	})
}

// TestConv2DTransposeShapes checks the output sizes of Keras'
// compute_conv_transpose_output_shape.
func TestConv2DTransposeShapes(t *testing.T) {
	for _, tc := range []struct {
		opts   string
		kh, kw int
		want   []int
	}{
		{`"kernel_size": 3`, 3, 3, []int{-1, 6, 7, 2}},
		{`"kernel_size": [2, 2], "strides": 3`, 2, 2, []int{-1, 12, 15, 2}},
		{`"kernel_size": 3, "strides": 2, "padding": "same"`, 3, 3, []int{-1, 8, 10, 2}},
		{`"kernel_size": [3, 4], "strides": [2, 3], "padding": "same", "output_padding": [1, 2]`, 3, 4, []int{-1, 8, 14, 2}},
		{`"kernel_size": [3, 2], "strides": 2, "output_padding": [1, 0]`, 3, 2, []int{-1, 10, 10, 2}},
	} {
		_, out := l3Build(t, "Conv2DTranspose", `{"filters": 2, "use_bias": false, `+tc.opts+`}`, keras224, [][]int{{-1, 4, 5, 1}},
			Weight{Name: "kernel", Shape: []int{tc.kh, tc.kw, 2, 1}, Data: make([]float32, tc.kh*tc.kw*2)})
		if !l3IntsEq(out[0], tc.want) {
			t.Errorf("%s: shape %v, want %v", tc.opts, out[0], tc.want)
		}
	}
}

// TestConv2DTransposeSmall checks a 2x2 kernel with stride 2 over a 2x2
// image by hand: each pixel stamps the kernel times its value.
func TestConv2DTransposeSmall(t *testing.T) {
	k := Weight{Name: "kernel", Shape: []int{2, 2, 1, 1}, Data: []float32{1, 2, 3, 4}}
	b := Weight{Name: "bias", Shape: []int{1}, Data: []float32{0.5}}
	l, _ := l3Build(t, "Conv2DTranspose", `{"filters": 1, "kernel_size": 2, "strides": 2}`, keras224, [][]int{{-1, 2, 2, 1}}, k, b)
	got, err := l.Forward([]*runtime.Tensor{l3Tensor([]int{1, 2, 2, 1}, 1, 10, 100, 1000)})
	if err != nil {
		t.Fatal(err)
	}
	l3Close(t, "Conv2DTranspose", got[0].Data, []float32{
		1.5, 2.5, 10.5, 20.5,
		3.5, 4.5, 30.5, 40.5,
		100.5, 200.5, 1000.5, 2000.5,
		300.5, 400.5, 3000.5, 4000.5})
	if _, err := l.Forward([]*runtime.Tensor{runtime.Zeros(1, 2, 2, 3)}); err == nil {
		t.Error("3 channels ran on a kernel for 1")
	}
}
