package layers

import (
	"testing"

	"github.com/kerasrun/kerasrun/runtime"
)

func TestUpSampling2DDecodeErrors(t *testing.T) {
	checkL3DecodeErrors(t, []l3DecodeCase{
		{class: "UpSampling2D", config: `{"size": [2, 0]}`, want: []string{"size"}},
		{class: "UpSampling2D", config: `{"interpolation": "bicubic"}`, unsupported: true, want: []string{"interpolation", "bicubic"}},
		{class: "UpSampling2D", config: `{"interpolation": "bilinear"}`, env: Env{KerasVersion: "2.2.4", Backend: "theano"}, unsupported: true, want: []string{"interpolation", "bilinear"}},
		{class: "UpSampling2D", config: `{"interpolation": "bilinear"}`, env: Env{KerasVersion: "2.2.4-tf", Backend: "tensorflow"}, unsupported: true, want: []string{"interpolation", "bilinear"}},
	})
}

// TestUpSampling2DBilinear checks both resize rules on a 1x2 image scaled
// by 2, by hand.
func TestUpSampling2DBilinear(t *testing.T) {
	x := l3Tensor([]int{1, 1, 2, 1}, 0, 4)
	for _, tc := range []struct {
		env  Env
		want []float32
	}{
		// Half-pixel centres: columns read 0 (clamped), 0.25, 0.75, 1 (clamped).
		{Env{KerasVersion: "2.4.0", Backend: "tensorflow"}, []float32{0, 1, 3, 4}},
		// Without: columns read 0, 0.5, 1, 1.5 (clamped to 1).
		{keras224, []float32{0, 2, 4, 4}},
	} {
		l, out := l3Build(t, "UpSampling2D", `{"size": 2, "interpolation": "bilinear"}`, tc.env, [][]int{{-1, 1, 2, 1}})
		if !l3IntsEq(out[0], []int{-1, 2, 4, 1}) {
			t.Fatalf("shape %v", out[0])
		}
		got, err := l.Forward([]*runtime.Tensor{x})
		if err != nil {
			t.Fatal(err)
		}
		l3Close(t, "bilinear "+tc.env.KerasVersion, got[0].Data, append(append([]float32(nil), tc.want...), tc.want...))
	}
	l, _ := l3Build(t, "UpSampling2D", `{"size": [1, 2]}`, keras224, [][]int{{-1, 1, 2, 1}})
	got, err := l.Forward([]*runtime.Tensor{x})
	if err != nil {
		t.Fatal(err)
	}
	l3Close(t, "nearest", got[0].Data, []float32{0, 0, 4, 4})
	if _, err := l.Forward([]*runtime.Tensor{runtime.Zeros(2, 3)}); err == nil {
		t.Error("a rank-2 tensor ran")
	}
}
