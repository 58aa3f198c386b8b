package layers

import (
	goruntime "runtime"

	"github.com/kerasrun/kerasrun/internal/kernels"
	"github.com/kerasrun/kerasrun/runtime"
)

// Scratch buffers of the hot layers (the recurrent input projection and
// states, the padded Conv1D input, im2col) come from the runtime's buffer
// pools and go back when the call ends, so that a model in steady state
// reuses them instead of allocating them on every call. A scratch buffer
// never escapes the call that took it.

// getScratch returns a buffer of length n (contents undefined), to give
// back with putScratch.
func getScratch(n int) []float32 { return runtime.Buffer(n) }

// putScratch gives a buffer from getScratch back.
func putScratch(b []float32) { runtime.PutBuffer(b) }

// zeroScratch is getScratch with the contents cleared.
func zeroScratch(n int) []float32 {
	b := getScratch(n)
	clear(b)
	return b
}

// parMinWork is the least work (multiply-adds or values touched per
// sample, times the samples) that forSamples spreads over goroutines.
const parMinWork = 1 << 16

// forSamples calls fn for each sample index in [0, n), spread over
// GOMAXPROCS goroutines when there are several samples and work (per
// sample) times n is worth it; fn must only write its own sample's part.
func forSamples(n, work int, fn func(i int)) {
	if n > 1 && n*work >= parMinWork && kernels.SplitWorth(n, 2*work) {
		kernels.ParallelFor(n, goruntime.GOMAXPROCS(0), fn)
		return
	}
	for i := 0; i < n; i++ {
		fn(i)
	}
}
