package layers

import (
	"errors"
	"testing"

	"github.com/kerasrun/kerasrun/runtime"
)

func TestMergeDecodeErrors(t *testing.T) {
	checkL3DecodeErrors(t, []l3DecodeCase{
		{class: "Concatenate", config: `{"axis": "last"}`, want: []string{"axis"}},
		{class: "Dot", config: `{"normalize": false}`, want: []string{"axes", "missing"}},
		{class: "Dot", config: `{"axes": [1, 2, 3]}`, want: []string{"axes"}},
		{class: "Dot", config: `{"axes": 1, "normalize": "yes"}`, want: []string{"normalize"}},
		{class: "Add", config: `{"name": "layer_1", "mode": "sum"}`, unsupported: true, want: []string{"mode"}},
	})
}

func TestMergeBuildErrors(t *testing.T) {
	for _, tc := range []struct {
		class, config string
		in            [][]int
	}{
		{"Subtract", `{}`, [][]int{{-1, 3}, {-1, 3}, {-1, 3}}},
		{"Add", `{}`, [][]int{{-1, 3}}},
		{"Add", `{}`, [][]int{{-1, 3}, {-1, 4}}},
		{"Concatenate", `{"axis": 0}`, [][]int{{-1, 3}, {-1, 3}}},
		{"Concatenate", `{"axis": 3}`, [][]int{{-1, 3}, {-1, 3}}},
		{"Concatenate", `{"axis": -1}`, [][]int{{-1, 2, 3}, {-1, 4, 3}}},
		{"Dot", `{"axes": 0}`, [][]int{{-1, 3}, {-1, 3}}},
		{"Dot", `{"axes": 1}`, [][]int{{-1, 3}, {-1, 4}}},
		{"Dot", `{"axes": 1}`, [][]int{{-1, 3}, {-1, 2, 3}}},
	} {
		if err := l3BuildErr(t, tc.class, tc.config, tc.in); err == nil {
			t.Errorf("%s %s on %v: built, want an error", tc.class, tc.config, tc.in)
		}
	}
}

// TestMergeMasks checks the mask rules: element-wise merges and
// Concatenate keep a mask when any input has one, Dot drops it.
func TestMergeMasks(t *testing.T) {
	for _, tc := range []struct {
		class, config string
		in            []bool
		want          bool
	}{
		{"Add", `{}`, []bool{false, true}, true},
		{"Multiply", `{}`, []bool{false, false}, false},
		{"Concatenate", `{"axis": 1}`, []bool{true, false}, true},
		{"Dot", `{"axes": 2}`, []bool{true, true}, false},
	} {
		out, err := l3Masks(t, tc.class, tc.config, keras224, tc.in...)
		if err != nil || out[0] != tc.want {
			t.Errorf("%s %v: masks %v, %v; want %v", tc.class, tc.in, out, err, tc.want)
		}
	}
}

// TestMergeForwardMasks checks the masks that Forward computes.
func TestMergeForwardMasks(t *testing.T) {
	a := l3Tensor([]int{1, 3, 1}, 1, 2, 3)
	b := l3Tensor([]int{1, 3, 1}, 10, 20, 30)
	a.Mask = []bool{true, true, false}
	b.Mask = []bool{false, true, true}
	add, _ := l3Build(t, "Add", `{}`, keras224, [][]int{{-1, 3, 1}, {-1, 3, 1}})
	out, err := add.Forward([]*runtime.Tensor{a, b})
	if err != nil {
		t.Fatal(err)
	}
	l3Close(t, "add", out[0].Data, []float32{11, 22, 33})
	if want := []bool{false, true, false}; !l3BoolsEq(out[0].Mask, want) {
		t.Errorf("Add mask %v, want %v", out[0].Mask, want)
	}
	c := l3Tensor([]int{1, 2, 1}, 7, 8)
	cat, _ := l3Build(t, "Concatenate", `{"axis": 1}`, keras224, [][]int{{-1, 3, 1}, {-1, 2, 1}})
	out, err = cat.Forward([]*runtime.Tensor{a, c})
	if err != nil {
		t.Fatal(err)
	}
	l3Close(t, "concat", out[0].Data, []float32{1, 2, 3, 7, 8})
	if want := []bool{true, true, false, true, true}; !l3BoolsEq(out[0].Mask, want) {
		t.Errorf("Concatenate(axis=1) mask %v, want %v", out[0].Mask, want)
	}
	if a.Mask[2] || b.Data[0] != 10 {
		t.Errorf("Forward modified its inputs")
	}
}

func TestDotShapes(t *testing.T) {
	for _, tc := range []struct {
		axes     string
		in       [][]int
		wantOut  []int
		wantFail bool
	}{
		{"1", [][]int{{-1, 4}, {-1, 4}}, []int{-1, 1}, false},
		{"[2, 2]", [][]int{{-1, 6, 4}, {-1, 3, 4}}, []int{-1, 6, 3}, false},
		{"[1, 2]", [][]int{{-1, 4, 6}, {-1, 3, 4}}, []int{-1, 6, 3}, false},
		{"-1", [][]int{{-1, 6, 4}, {-1, 3, 5}}, nil, true},
	} {
		if tc.wantFail {
			if err := l3BuildErr(t, "Dot", `{"axes": `+tc.axes+`}`, tc.in); err == nil {
				t.Errorf("Dot(axes=%s) on %v built", tc.axes, tc.in)
			}
			continue
		}
		_, out := l3Build(t, "Dot", `{"axes": `+tc.axes+`}`, keras224, tc.in)
		if !l3IntsEq(out[0], tc.wantOut) {
			t.Errorf("Dot(axes=%s) on %v: shape %v, want %v", tc.axes, tc.in, out[0], tc.wantOut)
		}
	}
}

func TestConcatenateUnsupportedAxis(t *testing.T) {
	err := l3BuildErr(t, "Concatenate", `{"axis": 0}`, [][]int{{-1, 3}, {-1, 3}})
	if !errors.Is(err, ErrUnsupported) {
		t.Errorf("axis 0: %v, want ErrUnsupported", err)
	}
}

func l3BoolsEq(a, b []bool) bool {
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
