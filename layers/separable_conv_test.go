package layers

import (
	"testing"

	"github.com/kerasrun/kerasrun/runtime"
)

func TestSeparableConv1DDecodeErrors(t *testing.T) {
	checkL3DecodeErrors(t, []l3DecodeCase{
		{class: "SeparableConv1D", config: `{"filters": 2, "kernel_size": [3], "strides": [2], "dilation_rate": [2]}`, want: []string{"dilation_rate", "strides"}},
		{class: "SeparableConv1D", config: `{"filters": 2, "kernel_size": [3], "depth_multiplier": 0}`, want: []string{"depth_multiplier"}},
		{class: "SeparableConv1D", config: `{"filters": 2, "kernel_size": [3], "padding": "full"}`, unsupported: true, want: []string{"padding"}},
		{class: "SeparableConv1D", config: `{"filters": 2}`, want: []string{"kernel_size"}},
	})
}

// TestSeparableConv1DSmall checks the channel order of the depthwise step
// (output channel c·mult + m) by hand.
func TestSeparableConv1DSmall(t *testing.T) {
	// k=1, in=2, mult=2: depthwise [1, 2, 2] = [[a0m0, a0m1], [a1m0, a1m1]].
	dw := Weight{Name: "s/depthwise_kernel:0", Shape: []int{1, 2, 2}, Data: []float32{1, 2, 3, 4}}
	// pointwise [1, 4, 1] picks channel 1 (in 0, mult 1) and channel 2 (in 1, mult 0).
	pw := Weight{Name: "s/pointwise_kernel:0", Shape: []int{1, 4, 1}, Data: []float32{0, 1, 10, 0}}
	l, _ := l3Build(t, "SeparableConv1D", `{"filters": 1, "kernel_size": [1], "depth_multiplier": 2, "use_bias": false}`, keras224, [][]int{{-1, 2, 2}}, dw, pw)
	out, err := l.Forward([]*runtime.Tensor{l3Tensor([]int{1, 2, 2}, 1, 1, 2, 5)})
	if err != nil {
		t.Fatal(err)
	}
	// step 0: x=(1,1): ch1 = 1*2, ch2 = 1*3 -> 2 + 30; step 1: x=(2,5): 4 + 150.
	l3Close(t, "SeparableConv1D", out[0].Data, []float32{32, 154})
}
