package layers

import (
	"testing"

	"github.com/kerasrun/kerasrun/runtime"
)

func TestPreprocessingDecodeErrors(t *testing.T) {
	checkL3DecodeErrors(t, []l3DecodeCase{
		{class: "Rescaling", config: `{"offset": 1}`, want: []string{"scale", "missing"}},
		{class: "Rescaling", config: `{"scale": [[1, 2]]}`, unsupported: true, want: []string{"scale"}},
		{class: "Rescaling", config: `{"scale": {"class_name": "__numpy__"}}`, unsupported: true, want: []string{"scale"}},
		{class: "Normalization", config: `{"mean": 1}`, want: []string{"mean", "variance"}},
		{class: "Normalization", config: `{"axis": -1, "invert": 2}`, want: []string{"invert"}},
	})
}

func TestRescaling(t *testing.T) {
	l, _ := l3Build(t, "Rescaling", `{"scale": [1, 2], "offset": 0.5}`, keras224, [][]int{{-1, 2, 2}})
	got, err := l.Forward([]*runtime.Tensor{l3Tensor([]int{1, 2, 2}, 1, 1, 3, 3)})
	if err != nil {
		t.Fatal(err)
	}
	l3Close(t, "Rescaling", got[0].Data, []float32{1.5, 2.5, 3.5, 6.5})
	if err := l3BuildErr(t, "Rescaling", `{"scale": [1, 2, 3]}`, [][]int{{-1, 2, 2}}); err == nil {
		t.Error("3 scales built on a last axis of 2")
	}
	if _, err := l.Forward([]*runtime.Tensor{runtime.Zeros(1, 2, 3)}); err == nil {
		t.Error("a last axis of 3 ran on 2 scales")
	}
}

func TestNormalization(t *testing.T) {
	mean := Weight{Name: "n/mean:0", Shape: []int{2}, Data: []float32{1, 0}}
	variance := Weight{Name: "n/variance:0", Shape: []int{2}, Data: []float32{4, 0}}
	count := Weight{Name: "n/count:0", Data: []float32{10}}
	l, _ := l3Build(t, "Normalization", `{"axis": -1}`, keras224, [][]int{{-1, 2}}, mean, variance, count)
	got, err := l.Forward([]*runtime.Tensor{l3Tensor([]int{2, 2}, 3, 0, 1, 1e-7)})
	if err != nil {
		t.Fatal(err)
	}
	// A zero variance divides by epsilon 1e-7.
	l3Close(t, "Normalization", got[0].Data, []float32{1, 0, 0, 1})
	inv, _ := l3Build(t, "Normalization", `{"axis": [1], "invert": true, "mean": [1, -1], "variance": [4, 9]}`, keras224, [][]int{{-1, 2, 1}})
	got, err = inv.Forward([]*runtime.Tensor{l3Tensor([]int{1, 2, 1}, 1, 1)})
	if err != nil {
		t.Fatal(err)
	}
	l3Close(t, "Normalization invert", got[0].Data, []float32{3, 2})
	if err := l3BuildErr(t, "Normalization", `{"axis": -1}`, [][]int{{-1, 3}}, mean, variance); err == nil {
		t.Error("2 means built on 3 features")
	}
	if err := l3BuildErr(t, "Normalization", `{"axis": 2}`, [][]int{{-1, 3}}); err == nil {
		t.Error("axis 2 built on rank 2")
	}
	if err := l3BuildErr(t, "Normalization", `{"axis": -1, "mean": [1, 2], "variance": [1, 2]}`, [][]int{{-1, 3}}); err == nil {
		t.Error("2 config means built on 3 features")
	}
}
