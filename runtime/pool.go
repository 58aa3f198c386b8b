package runtime

import (
	"math/bits"
	"sync"
	"unsafe"
)

// Tensor memory is recycled: Zeros and Empty take their data from
// size-classed pools (powers of two), and Model.predict gives back the data
// of an intermediate tensor once its last consumer has run, unless it
// overlaps memory still in use (an input, an output, or a live tensor that
// a layer such as Dropout or Reshape returned as a view). A model in steady
// state then reuses its intermediate buffers instead of allocating (and
// page-faulting) them on every call. Data never given back, such as the
// outputs returned to the caller, is garbage collected as usual.
//
// The pools hold a pointer to the first element of each array, so that
// putting one back does not allocate.

const (
	minPoolClass = 6  // 64 floats; smaller tensors are allocated as usual
	maxPoolClass = 40 // larger ones too
)

var bufPools [maxPoolClass + 1]sync.Pool

// poolClass returns the size class (log2 of the capacity) that holds n
// floats, or -1 when n is not pooled.
func poolClass(n int) int {
	if n < 1<<minPoolClass {
		return -1
	}
	c := bits.Len(uint(n - 1))
	if c > maxPoolClass {
		return -1
	}
	return c
}

// getBuf returns n floats with undefined contents.
func getBuf(n int) []float32 {
	c := poolClass(n)
	if c < 0 {
		return make([]float32, n)
	}
	if p, ok := bufPools[c].Get().(unsafe.Pointer); ok {
		return unsafe.Slice((*float32)(p), 1<<c)[:n]
	}
	return make([]float32, n, 1<<c)
}

// putBuf gives the array of b back. b must start at the array's first
// element and be unreferenced from now on; arrays of other capacities are
// left to the garbage collector.
func putBuf(b []float32) {
	c := cap(b)
	if c == 0 || c&(c-1) != 0 {
		return
	}
	class := bits.Len(uint(c - 1))
	if class < minPoolClass || class > maxPoolClass {
		return
	}
	bufPools[class].Put(unsafe.Pointer(unsafe.SliceData(b)))
}

// Empty returns a tensor of the given shape whose data is NOT initialised:
// it may hold values from an earlier tensor. Use it only for an output
// that the layer overwrites entirely; otherwise use Zeros. It panics on a
// negative dimension.
func Empty(shape ...int) *Tensor {
	return &Tensor{Shape: append([]int(nil), shape...), Data: getBuf(numel(shape))}
}

func numel(shape []int) int {
	n := 1
	for _, d := range shape {
		if d < 0 {
			panic("runtime: negative dimension in shape " + FormatShape(shape))
		}
		n *= d
	}
	return n
}

// Recycle gives the data of t, a tensor the caller made (with Zeros or
// Empty) and no longer needs, back for reuse by Zeros and Empty. Nothing
// may use t or its data afterwards. t is kept when its data overlaps one of
// the live tensors (say a layer's input that an inner layer may have
// passed through).
func Recycle(t *Tensor, live ...*Tensor) {
	if t == nil || cap(t.Data) == 0 {
		return
	}
	all := t.Data[:cap(t.Data)]
	for _, x := range live {
		if x != nil && overlaps(all, x.Data) {
			return
		}
	}
	putBuf(t.Data)
	t.Data = nil
}
