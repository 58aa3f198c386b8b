package layers

import (
	"math/bits"
	goruntime "runtime"
	"sync"

	"github.com/kerasrun/kerasrun/internal/kernels"
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

// parMinWork is the least work (multiply-adds or values touched per
// sample, times the samples) that forSamples spreads over goroutines.
const parMinWork = 1 << 16

// forSamples calls fn for each sample index in [0, n), spread over
// GOMAXPROCS goroutines when there are several samples and work (per
// sample) times n is worth it; fn must only write its own sample's part.
func forSamples(n, work int, fn func(i int)) {
	if n > 1 && n*work >= parMinWork {
		kernels.ParallelFor(n, goruntime.GOMAXPROCS(0), fn)
		return
	}
	for i := 0; i < n; i++ {
		fn(i)
	}
}
