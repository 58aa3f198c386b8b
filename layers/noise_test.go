package layers

import (
	"testing"

	"github.com/kerasrun/kerasrun/runtime"
)

func TestNoiseLayers(t *testing.T) {
	checkL3DecodeErrors(t, []l3DecodeCase{
		{class: "GaussianNoise", config: `{"stddev": 0.1, "noise_type": "uniform"}`, unsupported: true, want: []string{"noise_type"}},
		{class: "ActivityRegularization", config: `{"l1": 0.1, "l3": 0.2}`, unsupported: true, want: []string{"l3"}},
	})
	x := l3Tensor([]int{1, 2, 1}, 1, 2)
	x.Mask = []bool{true, false}
	for class, js := range map[string]string{
		"GaussianNoise":          `{"stddev": 0.5, "seed": null}`,
		"GaussianDropout":        `{"rate": 0.5}`,
		"AlphaDropout":           `{"rate": 0.5, "noise_shape": null, "seed": null}`,
		"ActivityRegularization": `{"l1": 0.01, "l2": 0.0}`,
	} {
		l, _ := l3Build(t, class, js, keras224, [][]int{{-1, 2, 1}})
		out, err := l.Forward([]*runtime.Tensor{x})
		if err != nil {
			t.Fatal(err)
		}
		l3Close(t, class, out[0].Data, []float32{1, 2})
		if !l3BoolsEq(out[0].Mask, x.Mask) {
			t.Errorf("%s dropped the mask", class)
		}
		if m, err := l3Masks(t, class, js, keras224, true); err != nil || !m[0] {
			t.Errorf("%s: masks %v, %v", class, m, err)
		}
	}
}
