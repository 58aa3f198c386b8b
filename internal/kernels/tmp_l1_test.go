package kernels

import (
	"fmt"
	"math/rand/v2"
	"testing"
)

func BenchmarkTmpL1(b *testing.B) {
	for _, s := range []struct{ m, k, n int }{{24, 64, 64}, {36, 128, 64}, {36, 512, 128}, {32, 512, 2048}, {96, 512, 512}} {
		r := rand.New(rand.NewPCG(1, 2))
		a := randSlice(r, s.m*s.k)
		pb := PackB(s.k, s.n, randSlice(r, s.k*s.n), s.n)
		c := make([]float32, s.m*s.n)
		b.Run(fmt.Sprintf("m=%d,k=%d,n=%d", s.m, s.k, s.n), func(b *testing.B) {
			for b.Loop() {
				Gemm(s.m, a, s.k, pb, c, s.n, false)
			}
			gflops(b, s.m, s.k, s.n)
		})
	}
}
