package runtime_test

import (
	"reflect"
	"testing"

	"github.com/kerasrun/kerasrun/runtime"
)

// countedLayer reports parameter counts, as layers with weights do.
type countedLayer struct {
	fakeLayer
	params, frozen int
}

func (l *countedLayer) Params() int             { return l.params }
func (l *countedLayer) NonTrainableParams() int { return l.frozen }

// TestLayerInfo checks what Layers reports for a summary: every call's
// inputs as layer[node][tensor], parameter counts split as Keras splits
// them, and a shared layer whose calls differ in shape.
func TestLayerInfo(t *testing.T) {
	g := runtime.NewGraph()
	a := g.Input(runtime.IO{Name: "a", Shape: []int{-1, 4}, DType: "float32"}, true)
	b := g.Input(runtime.IO{Name: "b", Shape: []int{-1, 6}, DType: "float32"}, true)
	shared := &countedLayer{fakeLayer: fakeLayer{name: "shared", fn: passThrough}, params: 20, frozen: 8}
	add := &fakeLayer{name: "add", fn: passThrough}
	sa := g.Call(shared, []runtime.Ref{a}, [][]int{{-1, 4}})
	sb := g.Call(shared, []runtime.Ref{b}, [][]int{{-1, 6}})
	out := g.Call(add, []runtime.Ref{sa[0], sb[0]}, [][]int{{-1, 4}})
	g.Output("add", out[0])
	m, err := g.Build()
	if err != nil {
		t.Fatal(err)
	}
	ls := m.Layers()
	if len(ls) != 4 {
		t.Fatalf("%d layers, want 4: %+v", len(ls), ls)
	}
	if len(ls[0].Calls) != 0 || ls[0].Class != "InputLayer" {
		t.Errorf("input layer: %+v", ls[0])
	}
	want := [][]runtime.TensorSource{{{Layer: "a"}}, {{Layer: "b"}}}
	if s := ls[2]; !reflect.DeepEqual(s.Calls, want) || !s.MultipleShapes || s.Params != 20 || s.NonTrainable != 8 {
		t.Errorf("shared layer: %+v", s)
	}
	want = [][]runtime.TensorSource{{{Layer: "shared", Node: 0}, {Layer: "shared", Node: 1}}}
	if s := ls[3]; !reflect.DeepEqual(s.Calls, want) || s.MultipleShapes {
		t.Errorf("add layer: %+v", s)
	}
	if m.Params() != 20 || m.NonTrainableParams() != 8 {
		t.Errorf("model params %d, non-trainable %d; want 20 and 8", m.Params(), m.NonTrainableParams())
	}
}
