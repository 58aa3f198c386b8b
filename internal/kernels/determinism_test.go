package kernels

import (
	"fmt"
	"math"
	"math/rand/v2"
	"testing"
)

// TestGemmRowDeterminism checks that a row of C = A·B is bit-identical
// whatever the number of rows of the product it is computed in: the full
// A [40×k] at once, then A cut into blocks of m rows for several m
// (batch 1, the small tail tiles, whole tiles, several row blocks), on
// every path this machine runs (each its own tile heights), with and
// without the batch-1 copy of the weights (AddRows). A served
// request batched with others must get exactly the numbers of a serial run
// of that request alone.
func TestGemmRowDeterminism(t *testing.T) {
	const rows = 40
	shapes := []struct{ k, n int }{
		{1, 5}, {3, 16}, {7, 33}, {64, 48}, {130, 100},
		{320, 17}, {321, 40}, {333, 70}, {512, 2048 + 7}, {700, 37}, {1000, 64},
	}
	ms := []int{1, 2, 3, 4, 5, 6, 7, 12, 13, 19, 25, 32}
	for _, isa := range testISAs(t) {
		restore := forceISA(t, isa)
		for _, s := range shapes {
			for _, withRows := range []bool{false, true} {
				r := rand.New(rand.NewPCG(uint64(s.k), uint64(s.n)))
				a := randSlice(r, rows*s.k)
				pb := PackB(s.k, s.n, randSlice(r, s.k*s.n), s.n)
				if withRows {
					pb.AddRows()
				}
				c0 := randSlice(r, rows*s.n) // prior C for the accumulate case
				for _, accumulate := range []bool{false, true} {
					name := fmt.Sprintf("isa=%s/k=%d,n=%d/rows=%v/acc=%v", isa, s.k, s.n, withRows, accumulate)
					want := append([]float32(nil), c0...)
					Gemm(rows, a, s.k, pb, want, s.n, accumulate)
					for _, m := range ms {
						got := append([]float32(nil), c0...)
						for i0 := 0; i0 < rows; i0 += m {
							h := min(m, rows-i0)
							Gemm(h, a[i0*s.k:], s.k, pb, got[i0*s.n:], s.n, accumulate)
						}
						compareBits(t, fmt.Sprintf("%s/m=%d", name, m), want, got, s.n)
					}
					// Threads cut rows or panels, never k.
					got := append([]float32(nil), c0...)
					GemmParallel(rows, a, s.k, pb, got, s.n, accumulate, 2)
					compareBits(t, name+"/parallel", want, got, s.n)
					got = append([]float32(nil), c0...)
					for i := 0; i < rows; i++ {
						GemmParallel(1, a[i*s.k:], s.k, pb, got[i*s.n:], s.n, accumulate, 2)
					}
					compareBits(t, name+"/parallel-m=1", want, got, s.n)
				}
			}
		}
		restore()
	}
}

func compareBits(t *testing.T, name string, want, got []float32, n int) {
	t.Helper()
	for i := range want {
		if math.Float32bits(want[i]) != math.Float32bits(got[i]) {
			t.Errorf("%s: C[%d,%d] = %v (%#08x), want %v (%#08x) as in the full product",
				name, i/n, i%n, got[i], math.Float32bits(got[i]), want[i], math.Float32bits(want[i]))
			return
		}
	}
}
