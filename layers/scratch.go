package layers

import (
	goruntime "runtime"

	"github.com/kerasrun/kerasrun/internal/freelist"
	"github.com/kerasrun/kerasrun/internal/parallel"
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

// f64s holds float64 scratch (accumulators).
var f64s freelist.List[[]float64]

// getF64 returns n zeroed float64s, to give back with putF64.
func getF64(n int) *[]float64 {
	p := f64s.Get()
	if cap(*p) < n {
		*p = make([]float64, n)
	}
	*p = (*p)[:n]
	clear(*p)
	return p
}

// putF64 gives scratch from getF64 back.
func putF64(p *[]float64) { f64s.Put(p) }

// intss holds int scratch (index tables), as f64s does.
var intss freelist.List[[]int]

// getInts returns n ints (contents undefined), to give back with putInts.
func getInts(n int) *[]int {
	p := intss.Get()
	if cap(*p) < n {
		*p = make([]int, n)
	}
	*p = (*p)[:n]
	return p
}

// putInts gives scratch from getInts back.
func putInts(p *[]int) { intss.Put(p) }

// parMinWork is the least work (multiply-adds or values touched per
// sample, times the samples) that forSamples spreads over goroutines.
const parMinWork = 1 << 16

// forSamples calls fn for each sample index in [0, n), spread over
// GOMAXPROCS goroutines when there are several samples and work (per
// sample) times n is worth it; fn must only write its own sample's part.
func forSamples(n, work int, fn func(i int)) {
	if n > 1 && n*work >= parMinWork && parallel.SplitWorth(n, 2*work) {
		parallel.For(n, goruntime.GOMAXPROCS(0), fn)
		return
	}
	for i := 0; i < n; i++ {
		fn(i)
	}
}

// samplePool runs a loop over samples (forSamples) whose body takes its
// data from an A rather than from a closure: a closure that may run on
// other goroutines is allocated on every call, whereas the sampleRun that
// carries an A comes from a pool.
type samplePool[A any] struct {
	pool freelist.List[sampleRun[A]]
}

type sampleRun[A any] struct {
	args A
	body func(a *A, i int)
	run  func(i int) // do, bound once
}

func (r *sampleRun[A]) do(i int) { r.body(&r.args, i) }

// newSamplePool returns the pool of a loop body.
func newSamplePool[A any](body func(a *A, i int)) *samplePool[A] {
	p := &samplePool[A]{}
	p.pool.New = func() *sampleRun[A] {
		r := &sampleRun[A]{body: body}
		r.run = r.do
		return r
	}
	return p
}

// forSamples calls the body with args for each sample index in [0, n), as
// the function forSamples does.
func (p *samplePool[A]) forSamples(n, work int, args A) {
	r := p.pool.Get()
	r.args = args
	forSamples(n, work, r.run)
	var zero A
	r.args = zero // hold no memory while pooled
	p.pool.Put(r)
}
