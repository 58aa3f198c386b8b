package layers

import (
	"gonum.org/v1/gonum/blas"
	"gonum.org/v1/gonum/blas/blas32"
)

// matmul computes c = a·b (+ c when accumulate) for row-major a [m,k],
// b [k,n] and c [m,n].
func matmul(m, n, k int, a, b, c []float32, accumulate bool) {
	if m == 0 || n == 0 {
		return
	}
	if k == 0 {
		if !accumulate {
			clear(c[:m*n])
		}
		return
	}
	beta := float32(0)
	if accumulate {
		beta = 1
	}
	blas32.Implementation().Sgemm(blas.NoTrans, blas.NoTrans, m, n, k, 1, a, k, b, n, beta, c, n)
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
