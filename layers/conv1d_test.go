package layers

import (
	"fmt"
	"math"
	"math/rand/v2"
	"testing"

	"github.com/kerasrun/kerasrun/runtime"
)

// TestConv1DWritesEveryOutput: Conv1D takes its output from the buffer
// pool uninitialised (runtime.Empty), so every element must come from the
// product. Each case runs once, hands the pool a buffer of the output's
// size full of NaNs, runs again and must give the same output, for each
// padding, with and without dilation, at batch 1 and 3.
func TestConv1DWritesEveryOutput(t *testing.T) {
	r := rand.New(rand.NewPCG(3, 4))
	const steps, in, filters, k = 11, 5, 7, 3
	for _, padding := range []string{"valid", "same", "causal"} {
		for _, dil := range []int{1, 2} {
			for _, batch := range []int{1, 3} {
				name := fmt.Sprintf("%s/dilation=%d/batch=%d", padding, dil, batch)
				kernel := make([]float32, k*in*filters)
				for i := range kernel {
					kernel[i] = float32(r.NormFloat64())
				}
				bias := make([]float32, filters)
				for i := range bias {
					bias[i] = float32(r.NormFloat64())
				}
				js := fmt.Sprintf(`{"name": "conv1d_1", "filters": %d, "kernel_size": [%d], "strides": [1], "padding": %q, "dilation_rate": [%d], "data_format": "channels_last", "activation": "linear", "use_bias": true}`, filters, k, padding, dil)
				l, _ := mustBuild(t, "conv1d_1", "Conv1D", js, envK224, []int{-1, steps, in}, []Weight{
					{Name: "conv1d_1/kernel:0", Shape: []int{k, in, filters}, Data: kernel},
					{Name: "conv1d_1/bias:0", Shape: []int{filters}, Data: bias},
				})
				x := runtime.Empty(batch, steps, in)
				for i := range x.Data {
					x.Data[i] = float32(r.NormFloat64())
				}
				first, err := l.Forward([]*runtime.Tensor{x})
				if err != nil {
					t.Fatalf("%s: %v", name, err)
				}
				want := append([]float32(nil), first[0].Data...)
				shape := first[0].Shape
				runtime.Recycle(first[0])
				dirty := runtime.Empty(shape...)
				for i := range dirty.Data {
					dirty.Data[i] = float32(math.NaN())
				}
				runtime.Recycle(dirty)
				again, err := l.Forward([]*runtime.Tensor{x})
				if err != nil {
					t.Fatalf("%s: %v", name, err)
				}
				for i, v := range again[0].Data {
					if v != want[i] {
						t.Fatalf("%s: output[%d] = %v after a NaN-filled buffer was pooled, %v before", name, i, v, want[i])
					}
				}
			}
		}
	}
}
