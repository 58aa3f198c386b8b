package runtime_test

import (
	"sync"
	"testing"

	"github.com/kerasrun/kerasrun/runtime"
)

// freshPlusOne returns x + 1 in a tensor from runtime.Zeros (pooled memory).
func freshPlusOne(in []*runtime.Tensor) []*runtime.Tensor {
	out := runtime.Zeros(in[0].Shape...)
	for i, v := range in[0].Data {
		out.Data[i] = v + 1
	}
	return []*runtime.Tensor{out}
}

// zerosThenAdd takes fresh pooled memory first, zeroes it, and only then
// reads its two inputs: if the memory of a live input had been given back
// to the pools, the fresh tensor would take it and the read would see
// zeros.
func zerosThenAdd(in []*runtime.Tensor) []*runtime.Tensor {
	out := runtime.Zeros(in[0].Shape...)
	for i := range out.Data {
		out.Data[i] = in[0].Data[i] + in[1].Data[i]
	}
	return []*runtime.Tensor{out}
}

// TestRecycleKeepsLiveViews runs x -> a (fresh) -> view (Flatten-like
// header over a's data) -> pass (identity) and x -> b (fresh), then
// z = zerosThenAdd(pass, b). a's slot dies after view runs, but its memory
// is still live through view and pass, so it must not be recycled before z
// reads it. Every output element is checked by hand, over many calls and
// from several goroutines.
func TestRecycleKeepsLiveViews(t *testing.T) {
	g := runtime.NewGraph()
	x := g.Input(runtime.IO{Name: "x", Shape: []int{-1, 8, 16}, DType: "float32"}, true)
	a := g.Call(&fakeLayer{name: "a", fn: freshPlusOne}, []runtime.Ref{x}, [][]int{{-1, 8, 16}})
	v := g.Call(&fakeLayer{name: "view", fn: flattenShared}, a, [][]int{{-1, 128}})
	p := g.Call(&fakeLayer{name: "pass", fn: passThrough}, v, [][]int{{-1, 128}})
	xf := g.Call(&fakeLayer{name: "xflat", fn: flattenShared}, []runtime.Ref{x}, [][]int{{-1, 128}})
	b := g.Call(&fakeLayer{name: "b", fn: freshPlusOne}, xf, [][]int{{-1, 128}})
	z := g.Call(&fakeLayer{name: "z", fn: zerosThenAdd}, []runtime.Ref{p[0], b[0]}, [][]int{{-1, 128}})
	g.Output("z", z[0])
	m, err := g.Build()
	if err != nil {
		t.Fatal(err)
	}
	var wg sync.WaitGroup
	for w := 0; w < 4; w++ {
		wg.Add(1)
		go func(w int) {
			defer wg.Done()
			for call := 0; call < 200; call++ {
				in := runtime.Zeros(2, 8, 16)
				for i := range in.Data {
					in.Data[i] = float32(i + w + call)
				}
				out, err := m.Predict(in)
				if err != nil {
					t.Error(err)
					return
				}
				for i, got := range out[0].Data {
					// (x+1) + (x+1)
					if want := 2 * (in.Data[i] + 1); got != want {
						t.Errorf("worker %d call %d: z[%d] = %v, want %v", w, call, i, got, want)
						return
					}
				}
			}
		}(w)
	}
	wg.Wait()
}

// TestRecycleReusesIntermediates checks that the memory of a dead
// intermediate goes back to the pools: after a Predict whose intermediate
// had 256 floats, a tensor of that size comes from it rather than new
// memory, at least sometimes (the pools may drop entries at a GC).
func TestRecycleReusesIntermediates(t *testing.T) {
	var seen []float32
	keep := func(in []*runtime.Tensor) []*runtime.Tensor {
		out := freshPlusOne(in)
		seen = out[0].Data
		return out
	}
	g := runtime.NewGraph()
	x := g.Input(runtime.IO{Name: "x", Shape: []int{-1, 256}, DType: "float32"}, true)
	a := g.Call(&fakeLayer{name: "a", fn: keep}, []runtime.Ref{x}, [][]int{{-1, 256}})
	b := g.Call(&fakeLayer{name: "b", fn: freshPlusOne}, a, [][]int{{-1, 256}})
	g.Output("b", b[0])
	m, err := g.Build()
	if err != nil {
		t.Fatal(err)
	}
	reused := 0
	for i := 0; i < 20; i++ {
		if _, err := m.Predict(runtime.Zeros(1, 256)); err != nil {
			t.Fatal(err)
		}
		if e := runtime.Empty(1, 256); &e.Data[0] == &seen[0] {
			reused++
		}
	}
	if reused == 0 {
		t.Fatal("the dead intermediate's memory was never handed out again")
	}
}

// TestBufferSharedAcrossGoroutines: a buffer given back on one goroutine
// is handed out on another (through the shared stack: a sync.Pool keeps a
// per-P entry that other Ps cannot take).
func TestBufferSharedAcrossGoroutines(t *testing.T) {
	const n = 5000
	done := make(chan []float32)
	go func() {
		b := runtime.Buffer(n)
		runtime.PutBuffer(b)
		done <- b
	}()
	given := <-done
	got := runtime.Buffer(n)
	if &got[0] != &given[0] {
		t.Fatal("a buffer given back on another goroutine was not reused")
	}
	runtime.PutBuffer(got)
}

// TestRecycleHonoursLive: Recycle keeps memory that a live tensor shares
// (it is not handed out again), and gives back memory that no live tensor
// touches. t itself may not be looked at after Recycle (its header is
// recycled too), so the test keeps the address of its data.
func TestRecycleHonoursLive(t *testing.T) {
	const n = 3000
	owner := runtime.Empty(n)
	kept := &owner.Data[0]
	view := &runtime.Tensor{Shape: []int{n / 2}, Data: owner.Data[n/2:]}
	runtime.Recycle(owner, view)
	if b := runtime.Buffer(n); &b[0] == kept {
		t.Fatal("memory kept for a live view was handed out again")
	}
	other := runtime.Empty(n)
	first := &other.Data[0]
	runtime.Recycle(other, view)
	if b := runtime.Buffer(n); &b[0] != first {
		t.Fatal("the recycled memory was not handed out next")
	}
}
