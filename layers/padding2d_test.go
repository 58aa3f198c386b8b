package layers

import (
	"testing"

	"github.com/kerasrun/kerasrun/runtime"
)

func TestPadding2DDecodeErrors(t *testing.T) {
	checkL3DecodeErrors(t, []l3DecodeCase{
		{class: "ZeroPadding2D", config: `{"padding": -1}`, want: []string{"padding"}},
		{class: "ZeroPadding2D", config: `{"padding": [1, 2, 3]}`, want: []string{"padding"}},
		{class: "ZeroPadding2D", config: `{"padding": [[1, 2], [3]]}`, want: []string{"padding"}},
		{class: "ZeroPadding2D", config: `{"padding": "big"}`, want: []string{"padding"}},
		{class: "ZeroPadding2D", config: `{"padding": 1, "data_format": "channels_middle"}`, unsupported: true, want: []string{"data_format"}},
		{class: "Cropping2D", config: `{"cropping": [[1, -2], [0, 0]]}`, want: []string{"cropping"}},
		{class: "Cropping2D", config: `{"cropping": 1, "extra": 2}`, unsupported: true, want: []string{"extra"}},
	})
}

// TestPadding2DForms checks the three forms of the option and both data
// formats on a 2x3 image of one channel (channels_last) or of two
// (channels_first), by hand.
func TestPadding2DForms(t *testing.T) {
	img := []float32{1, 2, 3, 4, 5, 6}
	for _, tc := range []struct {
		class, opt string
		shape      []int
		want       []float32
	}{
		{"ZeroPadding2D", `"padding": 1`, []int{-1, 4, 5, 1}, []float32{
			0, 0, 0, 0, 0,
			0, 1, 2, 3, 0,
			0, 4, 5, 6, 0,
			0, 0, 0, 0, 0}},
		{"ZeroPadding2D", `"padding": [0, 1]`, []int{-1, 2, 5, 1}, []float32{0, 1, 2, 3, 0, 0, 4, 5, 6, 0}},
		{"ZeroPadding2D", `"padding": [[1, 0], [0, 2]]`, []int{-1, 3, 5, 1}, []float32{
			0, 0, 0, 0, 0,
			1, 2, 3, 0, 0,
			4, 5, 6, 0, 0}},
		{"Cropping2D", `"cropping": [[1, 0], [0, 1]]`, []int{-1, 1, 2, 1}, []float32{4, 5}},
		{"Cropping2D", `"cropping": [0, 1]`, []int{-1, 2, 1, 1}, []float32{2, 5}},
	} {
		l, out := l3Build(t, tc.class, `{`+tc.opt+`}`, keras224, [][]int{{-1, 2, 3, 1}})
		if !l3IntsEq(out[0], tc.shape) {
			t.Fatalf("%s %s: shape %v, want %v", tc.class, tc.opt, out[0], tc.shape)
		}
		got, err := l.Forward([]*runtime.Tensor{l3Tensor([]int{1, 2, 3, 1}, img...)})
		if err != nil {
			t.Fatal(err)
		}
		l3Close(t, tc.class+" "+tc.opt, got[0].Data, tc.want)
		// channels_first, two channels: the second is the first times 10.
		cf, _ := l3Build(t, tc.class, `{`+tc.opt+`, "data_format": "channels_first"}`, keras224, [][]int{{-1, 2, 2, 3}})
		two := append(append([]float32(nil), img...), 10, 20, 30, 40, 50, 60)
		got, err = cf.Forward([]*runtime.Tensor{l3Tensor([]int{1, 2, 2, 3}, two...)})
		if err != nil {
			t.Fatal(err)
		}
		want := append([]float32(nil), tc.want...)
		for _, v := range tc.want {
			want = append(want, 10*v)
		}
		l3Close(t, tc.class+" channels_first "+tc.opt, got[0].Data, want)
	}
}

func TestCropping2DTooMuch(t *testing.T) {
	if err := l3BuildErr(t, "Cropping2D", `{"cropping": [[1, 1], [0, 0]]}`, [][]int{{-1, 2, 3, 1}}); err == nil {
		t.Error("cropping 2 rows of 2 built")
	}
	l, _ := l3Build(t, "Cropping2D", `{"cropping": [[1, 1], [0, 0]]}`, keras224, [][]int{{-1, -1, 3, 1}})
	if _, err := l.Forward([]*runtime.Tensor{runtime.Zeros(1, 2, 3, 1)}); err == nil {
		t.Error("cropping 2 rows of 2 ran")
	}
	if _, err := l.Forward([]*runtime.Tensor{runtime.Zeros(2, 3, 1)}); err == nil {
		t.Error("a rank-3 tensor ran")
	}
}
