package layers

import (
	"math/bits"
	"sync"
)

// Scratch buffers of the hot layers (the recurrent input projection, the
// padded Conv1D input, im2col) are taken from size-classed pools and given
// back when the call ends, so that a model in steady state reuses them
// instead of allocating them on every call. A pooled buffer never escapes
// the call that took it.
var scratchPools [48]sync.Pool

// getScratch returns a buffer of length n (contents undefined) and the
// handle to give back with putScratch.
func getScratch(n int) *[]float32 {
	if n == 0 {
		return new([]float32)
	}
	class := bits.Len(uint(n - 1)) // smallest power of two >= n
	if p, ok := scratchPools[class].Get().(*[]float32); ok {
		*p = (*p)[:n]
		return p
	}
	buf := make([]float32, n, 1<<class)
	return &buf
}

// putScratch gives a buffer from getScratch back.
func putScratch(p *[]float32) {
	c := cap(*p)
	if c == 0 || c&(c-1) != 0 {
		return
	}
	scratchPools[bits.Len(uint(c-1))].Put(p)
}

// zeroScratch is getScratch with the contents cleared.
func zeroScratch(n int) *[]float32 {
	p := getScratch(n)
	clear(*p)
	return p
}
