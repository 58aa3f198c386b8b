package runtime_test

import (
	"context"
	"errors"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/kerasrun/kerasrun/runtime"
)

// fakeLayer is a test layer whose output is computed by fn.
type fakeLayer struct {
	name  string
	fn    func(in []*runtime.Tensor) []*runtime.Tensor
	calls atomic.Int64
}

func (l *fakeLayer) Name() string  { return l.name }
func (l *fakeLayer) Class() string { return "Fake" }
func (l *fakeLayer) Forward(in []*runtime.Tensor) ([]*runtime.Tensor, error) {
	l.calls.Add(1)
	return l.fn(in), nil
}

// addOne returns x + 1 in a new tensor; every element is hand-checkable.
func addOne(in []*runtime.Tensor) []*runtime.Tensor {
	out := in[0].Clone()
	for i := range out.Data {
		out.Data[i]++
	}
	return []*runtime.Tensor{out}
}

// passThrough returns its input tensor itself, as an identity layer
// (Dropout at inference) may.
func passThrough(in []*runtime.Tensor) []*runtime.Tensor { return in[:1] }

// flattenShared returns a new tensor header over the input's data, as a
// Flatten over channels_last data may.
func flattenShared(in []*runtime.Tensor) []*runtime.Tensor {
	x := in[0]
	return []*runtime.Tensor{x.Reshape(x.Shape[0], runtime.NumElements(x.Shape[1:]))}
}

// twoInputModel is x [None, 3, 2] and y [2, None] (a fixed batch size of 2
// in the spec), each through addOne, as two outputs.
func twoInputModel(t *testing.T) (*runtime.Model, *fakeLayer) {
	t.Helper()
	g := runtime.NewGraph()
	x := g.Input(runtime.IO{Name: "x", Shape: []int{-1, 3, 2}, DType: "float32"}, true)
	y := g.Input(runtime.IO{Name: "y", Shape: []int{2, -1}, DType: "float32"}, true)
	l := &fakeLayer{name: "add_one", fn: addOne}
	ox := g.Call(l, []runtime.Ref{x}, [][]int{{-1, 3, 2}})
	oy := g.Call(l, []runtime.Ref{y}, [][]int{{2, -1}})
	g.Output("out_x", ox[0])
	g.Output("out_y", oy[0])
	m, err := g.Build()
	if err != nil {
		t.Fatal(err)
	}
	return m, l
}

func seqTensor(shape ...int) *runtime.Tensor {
	t := runtime.Zeros(shape...)
	for i := range t.Data {
		t.Data[i] = float32(i)
	}
	return t
}

// TestPredictValidatesInputs checks that every bad input is refused before
// any layer runs, with an error that names the input.
func TestPredictValidatesInputs(t *testing.T) {
	good := func() (*runtime.Tensor, *runtime.Tensor) { return seqTensor(2, 3, 2), seqTensor(2, 4) }
	for _, tc := range []struct {
		name   string
		inputs func() []*runtime.Tensor
		want   []string
	}{
		{"no inputs", func() []*runtime.Tensor { return nil }, []string{"2 input", "got 0", "x", "y"}},
		{"one input of two", func() []*runtime.Tensor { x, _ := good(); return []*runtime.Tensor{x} }, []string{"2 input", "got 1", "x", "y"}},
		{"three inputs", func() []*runtime.Tensor { x, y := good(); return []*runtime.Tensor{x, y, y} }, []string{"2 input", "got 3"}},
		{"nil input", func() []*runtime.Tensor { x, _ := good(); return []*runtime.Tensor{x, nil} }, []string{`"y"`, "nil"}},
		{"wrong rank", func() []*runtime.Tensor { _, y := good(); return []*runtime.Tensor{seqTensor(2, 6), y} }, []string{`"x"`, "[2 6]", "(None, 3, 2)"}},
		{"rank 4", func() []*runtime.Tensor { _, y := good(); return []*runtime.Tensor{seqTensor(2, 3, 2, 1), y} }, []string{`"x"`, "(None, 3, 2)"}},
		{"wrong fixed dimension", func() []*runtime.Tensor { _, y := good(); return []*runtime.Tensor{seqTensor(2, 4, 2), y} }, []string{`"x"`, "[2 4 2]", "(None, 3, 2)"}},
		{"wrong last dimension", func() []*runtime.Tensor { _, y := good(); return []*runtime.Tensor{seqTensor(2, 3, 5), y} }, []string{`"x"`, "[2 3 5]"}},
		{"empty batch", func() []*runtime.Tensor { return []*runtime.Tensor{runtime.Zeros(0, 3, 2), runtime.Zeros(0, 4)} }, []string{`"x"`, "empty batch"}},
		{"mismatched batch sizes", func() []*runtime.Tensor { return []*runtime.Tensor{seqTensor(2, 3, 2), seqTensor(3, 4)} }, []string{`"y"`, "batch size 3", "2"}},
		{"too few values", func() []*runtime.Tensor {
			_, y := good()
			return []*runtime.Tensor{{Shape: []int{2, 3, 2}, Data: make([]float32, 11)}, y}
		}, []string{`"x"`, "11"}},
		{"negative dimension", func() []*runtime.Tensor {
			x, _ := good()
			return []*runtime.Tensor{x, {Shape: []int{-2, -4}, Data: make([]float32, 8)}}
		}, []string{`"y"`}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			m, l := twoInputModel(t)
			out, err := m.Predict(tc.inputs()...)
			if err == nil {
				t.Fatalf("Predict accepted the inputs and returned %d outputs", len(out))
			}
			if out != nil {
				t.Errorf("Predict returned outputs with an error")
			}
			for _, part := range tc.want {
				if !strings.Contains(err.Error(), part) {
					t.Errorf("error %q does not mention %s", err, part)
				}
			}
			if n := l.calls.Load(); n != 0 {
				t.Errorf("a layer ran %d time(s) before the inputs were checked", n)
			}
		})
	}
}

// TestPredictAcceptsFreeAndBatchDims checks that None dimensions take any
// size and that the batch axis is not checked against the spec: y's spec has
// batch 2, and Keras's predict accepts other batch sizes there.
func TestPredictAcceptsFreeAndBatchDims(t *testing.T) {
	m, _ := twoInputModel(t)
	for _, tc := range []struct{ batch, ylen int }{{1, 1}, {2, 4}, {5, 7}, {3, 100}} {
		x, y := seqTensor(tc.batch, 3, 2), seqTensor(tc.batch, tc.ylen)
		out, err := m.Predict(x, y)
		if err != nil {
			t.Fatalf("batch %d, y [%d %d]: %v", tc.batch, tc.batch, tc.ylen, err)
		}
		if len(out) != 2 {
			t.Fatalf("%d outputs, want 2", len(out))
		}
		if got := out[1].Shape; len(got) != 2 || got[0] != tc.batch || got[1] != tc.ylen {
			t.Errorf("out_y shape %v, want [%d %d]", got, tc.batch, tc.ylen)
		}
		// addOne: element i of y (which holds i) becomes i+1.
		for i, v := range out[1].Data {
			if v != float32(i+1) {
				t.Fatalf("out_y[%d] = %v, want %d", i, v, i+1)
			}
		}
	}
}

// sameMemory reports whether two slices share their first element.
func sameMemory[T any](a, b []T) bool {
	return len(a) > 0 && len(b) > 0 && &a[0] == &b[0]
}

// oneInputModel is x [None, 2, 3] through the layer made by fn; outputs
// lists which tensors are model outputs: "in" (the input itself) or "l"
// (the layer's output).
func oneInputModel(t *testing.T, fn func([]*runtime.Tensor) []*runtime.Tensor, outShape []int, outputs ...string) *runtime.Model {
	t.Helper()
	g := runtime.NewGraph()
	x := g.Input(runtime.IO{Name: "x", Shape: []int{-1, 2, 3}, DType: "float32"}, true)
	var lo runtime.Ref
	if fn != nil {
		lo = g.Call(&fakeLayer{name: "fake_1", fn: fn}, []runtime.Ref{x}, [][]int{outShape})[0]
	}
	for i, o := range outputs {
		r := x
		if o == "l" {
			r = lo
		}
		g.Output("out_"+string(rune('a'+i)), r)
	}
	m, err := g.Build()
	if err != nil {
		t.Fatal(err)
	}
	return m
}

// checkNoAlias fails when an output shares memory with the input or with
// another output.
func checkNoAlias(t *testing.T, in *runtime.Tensor, out []*runtime.Tensor) {
	t.Helper()
	for i, o := range out {
		if o == in || sameMemory(o.Data, in.Data) || sameMemory(o.Shape, in.Shape) {
			t.Errorf("output %d shares memory with the input", i)
		}
		for j := range out[:i] {
			if o == out[j] || sameMemory(o.Data, out[j].Data) {
				t.Errorf("outputs %d and %d share memory", j, i)
			}
		}
	}
}

// TestOutputsDoNotAliasInputs checks the runtime's ownership rule: the
// tensors Predict returns are the caller's, distinct from its inputs and
// from each other, whatever the layers return.
func TestOutputsDoNotAliasInputs(t *testing.T) {
	t.Run("output is the input", func(t *testing.T) {
		m := oneInputModel(t, nil, nil, "in")
		x := seqTensor(2, 2, 3)
		out, err := m.Predict(x)
		if err != nil {
			t.Fatal(err)
		}
		checkNoAlias(t, x, out)
		out[0].Data[0] = 42
		if x.Data[0] != 0 {
			t.Errorf("writing to the output changed the input")
		}
	})
	t.Run("same output twice", func(t *testing.T) {
		m := oneInputModel(t, addOne, []int{-1, 2, 3}, "l", "l", "in", "in")
		x := seqTensor(2, 2, 3)
		out, err := m.Predict(x)
		if err != nil {
			t.Fatal(err)
		}
		checkNoAlias(t, x, out)
	})
}

// TestOutputsDoNotAliasInputsThroughLayers is TestOutputsDoNotAliasInputs
// with layers that hand back their input's memory, as the identity layers
// (Dropout) and Flatten of package layers do.
func TestOutputsDoNotAliasInputsThroughLayers(t *testing.T) {
	for _, tc := range []struct {
		name  string
		fn    func([]*runtime.Tensor) []*runtime.Tensor
		shape []int
	}{
		{"identity layer", passThrough, []int{-1, 2, 3}},
		{"layer sharing the input data", flattenShared, []int{-1, 6}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			m := oneInputModel(t, tc.fn, tc.shape, "l")
			x := seqTensor(2, 2, 3)
			out, err := m.Predict(x)
			if err != nil {
				t.Fatal(err)
			}
			checkNoAlias(t, x, out)
		})
	}
}

// TestPredictDoesNotModifyInputs checks that the inputs' shapes and values
// are the same after Predict.
func TestPredictDoesNotModifyInputs(t *testing.T) {
	m, _ := twoInputModel(t)
	x, y := seqTensor(2, 3, 2), seqTensor(2, 4)
	xs, ys := x.Clone(), y.Clone()
	out, err := m.Predict(x, y)
	if err != nil {
		t.Fatal(err)
	}
	for i, pair := range [][2]*runtime.Tensor{{x, xs}, {y, ys}} {
		got, want := pair[0], pair[1]
		if len(got.Shape) != len(want.Shape) || len(got.Data) != len(want.Data) {
			t.Fatalf("input %d changed shape: %v, was %v", i, got.Shape, want.Shape)
		}
		for j := range want.Shape {
			if got.Shape[j] != want.Shape[j] {
				t.Errorf("input %d shape changed to %v, was %v", i, got.Shape, want.Shape)
			}
		}
		for j := range want.Data {
			if got.Data[j] != want.Data[j] {
				t.Fatalf("input %d element %d changed to %v, was %v", i, j, got.Data[j], want.Data[j])
			}
		}
	}
	// Writing to the outputs must not reach the inputs either.
	for _, o := range out {
		for i := range o.Data {
			o.Data[i] = -1
		}
	}
	if x.Data[1] != 1 || y.Data[1] != 1 {
		t.Errorf("writing to the outputs changed the inputs")
	}
}

// TestPredictContextCancelled checks that a done context stops Predict
// before any layer runs, with ctx.Err().
func TestPredictContextCancelled(t *testing.T) {
	m, l := twoInputModel(t)
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	out, err := m.PredictContext(ctx, seqTensor(2, 3, 2), seqTensor(2, 4))
	if !errors.Is(err, context.Canceled) {
		t.Fatalf("PredictContext with a cancelled context: %v, %d outputs; want context.Canceled", err, len(out))
	}
	if n := l.calls.Load(); n != 0 {
		t.Errorf("a layer ran %d time(s) after the context was cancelled", n)
	}
}

// TestPredictContextCancelledBetweenLayers cancels from inside the first
// layer and checks that the second never runs.
func TestPredictContextCancelledBetweenLayers(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	first := &fakeLayer{name: "first", fn: func(in []*runtime.Tensor) []*runtime.Tensor { cancel(); return addOne(in) }}
	second := &fakeLayer{name: "second", fn: addOne}
	g := runtime.NewGraph()
	x := g.Input(runtime.IO{Name: "x", Shape: []int{-1, 2}}, false)
	h := g.Call(first, []runtime.Ref{x}, [][]int{{-1, 2}})
	o := g.Call(second, h, [][]int{{-1, 2}})
	g.Output("out", o[0])
	m, err := g.Build()
	if err != nil {
		t.Fatal(err)
	}
	if _, err := m.PredictContext(ctx, seqTensor(1, 2)); !errors.Is(err, context.Canceled) {
		t.Fatalf("got %v, want context.Canceled", err)
	}
	if n := second.calls.Load(); n != 0 {
		t.Errorf("the second layer ran after cancellation")
	}
}

// TestLayerOutputCount checks that a layer returning the wrong number of
// outputs is an error naming it.
func TestLayerOutputCount(t *testing.T) {
	two := &fakeLayer{name: "two_out", fn: func(in []*runtime.Tensor) []*runtime.Tensor {
		return []*runtime.Tensor{in[0].Clone(), in[0].Clone()}
	}}
	g := runtime.NewGraph()
	x := g.Input(runtime.IO{Name: "x", Shape: []int{-1, 2}}, false)
	o := g.Call(two, []runtime.Ref{x}, [][]int{{-1, 2}})
	g.Output("out", o[0])
	m, err := g.Build()
	if err != nil {
		t.Fatal(err)
	}
	_, err = m.Predict(seqTensor(1, 2))
	if err == nil || !strings.Contains(err.Error(), "two_out") {
		t.Fatalf("got %v, want an error naming layer two_out", err)
	}
}

// TestGraphBuildErrors checks that a graph without inputs or outputs is
// refused.
func TestGraphBuildErrors(t *testing.T) {
	if _, err := runtime.NewGraph().Build(); err == nil || !strings.Contains(err.Error(), "no inputs") {
		t.Errorf("empty graph: %v, want an error about no inputs", err)
	}
	g := runtime.NewGraph()
	g.Input(runtime.IO{Name: "x", Shape: []int{-1, 2}}, false)
	if _, err := g.Build(); err == nil || !strings.Contains(err.Error(), "no outputs") {
		t.Errorf("graph without outputs: %v, want an error about no outputs", err)
	}
}

// TestModelDescriptionsAreCopies checks that the caller cannot change a
// model through the slices its accessors return.
func TestModelDescriptionsAreCopies(t *testing.T) {
	m, _ := twoInputModel(t)
	in := m.Inputs()
	in[0].Shape[1] = 99
	in[0].Name = "changed"
	if got := m.Inputs()[0]; got.Name != "x" || got.Shape[1] != 3 {
		t.Errorf("Inputs() returned the model's own slices: now %+v", got)
	}
	out := m.Outputs()
	out[0].Shape[1] = 99
	if got := m.Outputs()[0]; got.Shape[1] != 3 {
		t.Errorf("Outputs() returned the model's own slices: now %+v", got)
	}
	// x with spec (None, 3, 2) still accepts a [1 3 2] tensor.
	if _, err := m.Predict(seqTensor(1, 3, 2), seqTensor(1, 4)); err != nil {
		t.Errorf("after editing Inputs(): %v", err)
	}
}
