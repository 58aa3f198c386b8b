package layers

import (
	goruntime "runtime"
	"sync"

	"github.com/kerasrun/kerasrun/internal/kernels"
)

// packed is a weight matrix [k, n] packed on first use into the layout of
// the kernels' matrix product. The weights are immutable, so the packed copy
// is made once and shared by every call. A recurrent kernel, which a
// batch-1 step reads whole at every time step, sets recurrent before first
// use to get the kernels' batch-1 copy as well (kernels.PackedB.AddRows).
type packed struct {
	once      sync.Once
	pb        *kernels.PackedB
	recurrent bool
}

// mul computes c = a·b (+ c when accumulate) for row-major a [m, k] with row
// stride lda, the weight b [k, n] (packed once) and c [m, n] with row stride
// ldc. Large products are spread over GOMAXPROCS goroutines; small ones run
// on the caller (kernels.GemmParallel decides).
func (p *packed) mul(m, n, k int, a []float32, lda int, b []float32, c []float32, ldc int, accumulate bool) {
	if m == 0 || n == 0 {
		return
	}
	if k == 0 {
		if !accumulate {
			for i := 0; i < m; i++ {
				clear(c[i*ldc : i*ldc+n])
			}
		}
		return
	}
	kernels.GemmParallel(m, a, lda, p.get(k, n, b), c, ldc, accumulate, goruntime.GOMAXPROCS(0))
}

// get returns the packed weight b [k, n], packing it on the first call.
func (p *packed) get(k, n int, b []float32) *kernels.PackedB {
	p.once.Do(func() {
		p.pb = kernels.PackB(k, n, b, n)
		if p.recurrent {
			p.pb.AddRows()
		}
	})
	return p.pb
}

// mulBias computes c = a·b + bias for the shapes of mul (see
// mulPackedBias); a nil bias gives c = a·b.
func (p *packed) mulBias(m, n, k int, a []float32, lda int, b, bias []float32, c []float32, ldc int) {
	if m == 0 || n == 0 {
		return
	}
	mulPackedBias(p.get(k, n, b), m, a, lda, bias, c, ldc)
}

// mulBiasAct is mulBias followed by a convolution's activation on the
// rows of c, which it sees as whole rows of n values (softmax normalises
// over a row); a linear one is skipped. The product applies it to each
// block of rows as it finishes them (kernels.GemmBiasActParallel), while
// they are still in cache.
func (p *packed) mulBiasAct(m, n, k int, a []float32, lda int, b, bias []float32, c []float32, ldc int, act ActFunc, linear bool) {
	if linear || act == nil {
		p.mulBias(m, n, k, a, lda, b, bias, c, ldc)
		return
	}
	if m == 0 || n == 0 {
		return
	}
	kernels.GemmBiasActParallel(m, a, lda, p.get(k, n, b), bias, c, ldc, kernels.RowsFunc(act), goruntime.GOMAXPROCS(0))
}

// mulStep is the product of a recurrent step: mul (bias nil) or mulBias
// (accumulate false), walking the panels of b in descending order when desc
// is set (kernels.GemmStepParallel); the same results either way.
func (p *packed) mulStep(m, n, k int, a []float32, lda int, b, bias []float32, c []float32, ldc int, accumulate, desc bool) {
	if m == 0 || n == 0 {
		return
	}
	if k == 0 && bias == nil {
		p.mul(m, n, k, a, lda, b, c, ldc, accumulate)
		return
	}
	kernels.GemmStepParallel(m, a, lda, p.get(k, n, b), bias, c, ldc, accumulate, desc, goruntime.GOMAXPROCS(0))
}

// addBias adds bias to every row of x (rows of len(bias)).
func addBias(x, bias []float32) {
	n := len(bias)
	for off := 0; off+n <= len(x); off += n {
		row := x[off : off+n]
		for i, b := range bias {
			row[i] += b
		}
	}
}

// mulPackedBias computes c = a·B + bias (each row of c gets bias) for a
// packed weight B; a nil bias gives c = a·B. The kernels add the bias as
// they store their sums (kernels.GemmBiasParallel): the numbers of copying
// it into c and accumulating, without that pass over c.
func mulPackedBias(pb *kernels.PackedB, m int, a []float32, lda int, bias, c []float32, ldc int) {
	if m == 0 || pb.N() == 0 {
		return
	}
	if bias == nil {
		kernels.GemmParallel(m, a, lda, pb, c, ldc, false, goruntime.GOMAXPROCS(0))
		return
	}
	kernels.GemmBiasParallel(m, a, lda, pb, bias, c, ldc, goruntime.GOMAXPROCS(0))
}
