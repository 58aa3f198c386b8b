package runtime_test

import (
	"context"
	"errors"
	"reflect"
	"sync"
	"testing"

	"github.com/kerasrun/kerasrun/runtime"
)

// pooledAffine returns a*x + b in a tensor from the pools, so that the
// run recycles its memory once the next layer has read it.
func pooledAffine(a, b float32) func(in []*runtime.Tensor) []*runtime.Tensor {
	return func(in []*runtime.Tensor) []*runtime.Tensor {
		out := runtime.Empty(in[0].Shape...)
		for i, v := range in[0].Data {
			out.Data[i] = a*v + b
		}
		return runtime.One(out)
	}
}

// chainModel is x [None, 3] -> a (x+1) -> b (2x) -> view (pass-through)
// -> c (x-1), each of a, b and c writing into pooled memory.
func chainModel(t *testing.T) *runtime.Model {
	t.Helper()
	g := runtime.NewGraph()
	r := g.Input(runtime.IO{Name: "x", Shape: []int{-1, 3}, DType: "float32"}, true)
	for _, l := range []*fakeLayer{
		{name: "a", fn: pooledAffine(1, 1)},
		{name: "b", fn: pooledAffine(2, 0)},
		{name: "view", fn: passThrough},
		{name: "c", fn: pooledAffine(1, -1)},
	} {
		r = g.Call(l, []runtime.Ref{r}, [][]int{{-1, 3}})[0]
	}
	g.Output("c", r)
	m, err := g.Build()
	if err != nil {
		t.Fatal(err)
	}
	return m
}

// TestTraceOutputs checks every layer's traced output against values
// worked by hand, after the run has recycled the layers' own memory.
func TestTraceOutputs(t *testing.T) {
	m := chainModel(t)
	x := seqTensor(2, 3) // 0 1 2 3 4 5
	var got []runtime.LayerOutput
	res, err := m.Trace(context.Background(), []*runtime.Tensor{x}, func(o runtime.LayerOutput) { got = append(got, o) })
	if err != nil {
		t.Fatal(err)
	}
	want := []struct {
		name  string
		data  []float32
		input int
		pass  bool
	}{
		{"a", []float32{1, 2, 3, 4, 5, 6}, -1, false},
		{"b", []float32{2, 4, 6, 8, 10, 12}, 0, false},
		{"view", []float32{2, 4, 6, 8, 10, 12}, 1, true},
		{"c", []float32{1, 3, 5, 7, 9, 11}, 2, false},
	}
	if len(got) != len(want) {
		t.Fatalf("traced %d calls, want %d", len(got), len(want))
	}
	// Run the model again so that pooled memory the first run gave back is
	// reused: traced outputs must not change.
	if _, err := m.Predict(seqTensor(2, 3)); err != nil {
		t.Fatal(err)
	}
	for i, w := range want {
		o := got[i]
		if o.Layer != w.name || o.Class != "Fake" || o.Call != 0 || len(o.Outputs) != 1 {
			t.Fatalf("call %d: %s (%s) call %d with %d outputs, want %s (Fake) call 0 with 1", i, o.Layer, o.Class, o.Call, len(o.Outputs), w.name)
		}
		if !reflect.DeepEqual(o.Inputs, []int{w.input}) || o.PassThrough != w.pass {
			t.Errorf("layer %s: inputs %v, pass-through %v; want [%d], %v", w.name, o.Inputs, o.PassThrough, w.input, w.pass)
		}
		if !reflect.DeepEqual(o.Outputs[0].Shape, []int{2, 3}) || !reflect.DeepEqual(o.Outputs[0].Data, w.data) {
			t.Errorf("layer %s: %v %v, want [2 3] %v", w.name, o.Outputs[0].Shape, o.Outputs[0].Data, w.data)
		}
	}
	if !reflect.DeepEqual(res[0].Data, want[3].data) {
		t.Errorf("result %v, want %v", res[0].Data, want[3].data)
	}
	// The traced copy of the output layer is not the result.
	got[3].Outputs[0].Data[0] = 99
	if res[0].Data[0] != 1 {
		t.Error("a traced output shares memory with the result")
	}
	if x.Data[0] != 0 {
		t.Error("Trace modified its input")
	}
}

// TestTraceSharedLayer checks the call count of a layer called twice.
func TestTraceSharedLayer(t *testing.T) {
	m, _ := twoInputModel(t)
	var calls []int
	_, err := m.Trace(context.Background(), []*runtime.Tensor{seqTensor(2, 3, 2), seqTensor(2, 4)}, func(o runtime.LayerOutput) {
		if o.Layer != "add_one" {
			t.Errorf("layer %q", o.Layer)
		}
		calls = append(calls, o.Call)
	})
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(calls, []int{0, 1}) {
		t.Errorf("calls %v, want [0 1]", calls)
	}
}

// TestTraceErrors checks that Trace refuses bad inputs as Predict does,
// and stops at cancellation.
func TestTraceErrors(t *testing.T) {
	m := chainModel(t)
	n := 0
	if _, err := m.Trace(context.Background(), []*runtime.Tensor{seqTensor(2, 4)}, func(runtime.LayerOutput) { n++ }); err == nil || n != 0 {
		t.Errorf("wrong shape: err %v after %d calls", err, n)
	}
	ctx, cancel := context.WithCancel(context.Background())
	_, err := m.Trace(ctx, []*runtime.Tensor{seqTensor(2, 3)}, func(o runtime.LayerOutput) {
		n++
		cancel()
	})
	if !errors.Is(err, context.Canceled) || n != 1 {
		t.Errorf("cancelled: err %v after %d calls, want context.Canceled after 1", err, n)
	}
	if res, err := m.Trace(context.Background(), []*runtime.Tensor{seqTensor(2, 3)}, nil); err != nil || res[0].Data[0] != 1 {
		t.Errorf("nil trace function: %v %v", res, err)
	}
}

// TestTraceConcurrent runs Trace and Predict at once on one model, for
// the race detector.
func TestTraceConcurrent(t *testing.T) {
	m := chainModel(t)
	var wg sync.WaitGroup
	for g := 0; g < 4; g++ {
		wg.Add(1)
		go func(g int) {
			defer wg.Done()
			for i := 0; i < 50; i++ {
				x := seqTensor(2, 3)
				if g%2 == 0 {
					if _, err := m.Predict(x); err != nil {
						t.Error(err)
					}
					continue
				}
				var last []float32
				if _, err := m.Trace(context.Background(), []*runtime.Tensor{x}, func(o runtime.LayerOutput) { last = o.Outputs[0].Data }); err != nil {
					t.Error(err)
				}
				if !reflect.DeepEqual(last, []float32{1, 3, 5, 7, 9, 11}) {
					t.Errorf("traced %v", last)
				}
			}
		}(g)
	}
	wg.Wait()
}
