package runtime_test

import (
	"fmt"
	"sync"
	"testing"

	"github.com/kerasrun/kerasrun/runtime"
)

// sharedShape returns x + 1 in fresh data under a header of its own that
// holds x's Shape slice (a layer may do that): x's header, recycled once
// x dies, must not be handed out while this output lives.
func sharedShape(in []*runtime.Tensor) []*runtime.Tensor {
	x := in[0]
	out := &runtime.Tensor{Shape: x.Shape, Data: make([]float32, len(x.Data))}
	for i, v := range x.Data {
		out.Data[i] = v + 1
	}
	return []*runtime.Tensor{out}
}

// emptyShaped takes fresh tensors of another rank, so that a recycled
// header would have its inline shape overwritten, and then computes
// a + 1 from its input.
func emptyShaped(in []*runtime.Tensor) []*runtime.Tensor {
	for range 4 {
		runtime.Recycle(runtime.Zeros(3, 5))
	}
	return freshPlusOne(in)
}

// maskedPlusOne returns x + 1 with a fresh mask that marks every step.
func maskedPlusOne(in []*runtime.Tensor) []*runtime.Tensor {
	out := freshPlusOne(in)
	x := in[0]
	out[0].Mask = runtime.MaskBuffer(x.Shape[0] * x.Shape[1])
	for i := range out[0].Mask {
		out[0].Mask[i] = i%2 == 0
	}
	return out
}

// maskZeroer takes fresh masks and clears them: a mask given back too
// early would be cleared under its reader.
func maskZeroer(in []*runtime.Tensor) []*runtime.Tensor {
	for range 4 {
		m := runtime.MaskBuffer(len(in[0].Mask))
		clear(m)
		runtime.PutMask(m)
	}
	out := freshPlusOne(in)
	out[0].Mask = in[0].Mask
	return out
}

// TestHeadersAndMasksRecycledSafely runs a graph whose intermediate
// headers and masks die while other tensors still use their Shape, their
// header (an identity layer) or their mask: a's header lives on as pass's
// until shared has read it, and then in shared's Shape while empties takes
// fresh tensors; a's mask lives on in zeroer's output. It runs from
// several goroutines and
// checks every output, its shape and its mask; then checks that outputs
// kept from earlier calls are unchanged by later ones (an output header,
// data or mask handed out again would change them).
func TestHeadersAndMasksRecycledSafely(t *testing.T) {
	g := runtime.NewGraph()
	x := g.Input(runtime.IO{Name: "x", Shape: []int{-1, 4, 3}, DType: "float32"}, true)
	a := g.Call(&fakeLayer{name: "a", fn: maskedPlusOne}, []runtime.Ref{x}, [][]int{{-1, 4, 3}})
	p := g.Call(&fakeLayer{name: "pass", fn: passThrough}, a, [][]int{{-1, 4, 3}})
	z := g.Call(&fakeLayer{name: "zeroer", fn: maskZeroer}, p, [][]int{{-1, 4, 3}})
	s := g.Call(&fakeLayer{name: "shared", fn: sharedShape}, p, [][]int{{-1, 4, 3}})
	e := g.Call(&fakeLayer{name: "empties", fn: emptyShaped}, s, [][]int{{-1, 4, 3}})
	g.Output("e", e[0])
	g.Output("z", z[0])
	m, err := g.Build()
	if err != nil {
		t.Fatal(err)
	}
	check := func(in *runtime.Tensor, out []*runtime.Tensor) error {
		for k, add := range []float32{3, 2} { // e = x+1+1+1, z = x+1+1
			o := out[k]
			if fmt.Sprint(o.Shape) != fmt.Sprint(in.Shape) {
				return fmt.Errorf("output %d has shape %v, want %v", k, o.Shape, in.Shape)
			}
			for i, v := range o.Data {
				if want := in.Data[i] + add; v != want {
					return fmt.Errorf("output %d [%d] = %v, want %v", k, i, v, want)
				}
			}
		}
		mask := out[1].Mask
		if len(mask) != in.Shape[0]*in.Shape[1] {
			return fmt.Errorf("output z has a mask of %d values", len(mask))
		}
		for i, v := range mask {
			if v != (i%2 == 0) {
				return fmt.Errorf("output z mask[%d] = %v", i, v)
			}
		}
		return nil
	}
	var wg sync.WaitGroup
	for w := range 4 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			type kept struct {
				in  *runtime.Tensor
				out []*runtime.Tensor
			}
			var all []kept
			for call := range 200 {
				in := runtime.Zeros(2+call%3, 4, 3)
				for i := range in.Data {
					in.Data[i] = float32(i + w + call)
				}
				out, err := m.Predict(in)
				if err != nil {
					t.Error(err)
					return
				}
				if err := check(in, out); err != nil {
					t.Errorf("worker %d call %d: %v", w, call, err)
					return
				}
				all = append(all, kept{in, out})
			}
			for call, k := range all {
				if err := check(k.in, k.out); err != nil {
					t.Errorf("worker %d, output of call %d after later calls: %v", w, call, err)
					return
				}
			}
		}()
	}
	wg.Wait()
}

// TestOneAndList: a fresh tensor carries its own list; any other tensor,
// or more than a header holds, gets a new one; the lists hold the tensors.
func TestOneAndList(t *testing.T) {
	a, b := runtime.Empty(2), runtime.Empty(3)
	user := &runtime.Tensor{Shape: []int{1}, Data: []float32{1}}
	if l := runtime.One(a); len(l) != 1 || l[0] != a {
		t.Fatalf("One(a) = %v", l)
	}
	if l := runtime.One(user); len(l) != 1 || l[0] != user {
		t.Fatalf("One(user) = %v", l)
	}
	if n := testing.AllocsPerRun(10, func() { runtime.One(a) }); n != 0 {
		t.Fatalf("One of a fresh tensor allocates %v times", n)
	}
	if n := testing.AllocsPerRun(10, func() { runtime.List(a, b, user) }); n != 0 {
		t.Fatalf("List with a fresh first tensor allocates %v times", n)
	}
	if l := runtime.List(a, b, user); len(l) != 3 || l[0] != a || l[1] != b || l[2] != user {
		t.Fatalf("List(a, b, user) = %v", l)
	}
	six := []*runtime.Tensor{a, b, a, b, a, b}
	if l := runtime.List(six...); len(l) != 6 || l[5] != b {
		t.Fatalf("List of six = %v", l)
	}
	if l := runtime.List(user, a); len(l) != 2 || l[0] != user || l[1] != a {
		t.Fatalf("List(user, a) = %v", l)
	}
	if l := runtime.List(); l != nil {
		t.Fatalf("List() = %v", l)
	}
}

// TestViewAndEmptyShapes: headers keep shapes of any rank, and View
// refuses a shape that does not fit its data.
func TestViewAndEmptyShapes(t *testing.T) {
	for _, shape := range [][]int{{}, {3}, {2, 3}, {1, 2, 3, 1}, {1, 2, 1, 3, 1, 1}} {
		e := runtime.Empty(shape...)
		if fmt.Sprint(e.Shape) != fmt.Sprint(shape) || len(e.Data) != runtime.NumElements(shape) {
			t.Errorf("Empty(%v) has shape %v and %d values", shape, e.Shape, len(e.Data))
		}
		v := runtime.View(e.Data, shape...)
		if fmt.Sprint(v.Shape) != fmt.Sprint(shape) || len(v.Data) != len(e.Data) {
			t.Errorf("View(%v) has shape %v", shape, v.Shape)
		}
	}
	defer func() {
		if recover() == nil {
			t.Fatal("View of 6 values as (4,) did not panic")
		}
	}()
	runtime.View(make([]float32, 6), 4)
}
