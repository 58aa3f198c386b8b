package kernels

import (
	"fmt"
	"math/rand/v2"
	"os"
	"sort"
	"testing"
	"time"
)

// tuneRun times each named function in interleaved rounds and prints the
// best and median GFLOP/s. Enabled by KERNELS_TUNE=1.
func tuneRun(t *testing.T, rounds int, names []string, flops []float64, fns []func()) {
	res := make([][]float64, len(fns))
	for r := 0; r < rounds; r++ {
		for i, f := range fns {
			f()
			n := 0
			t0 := time.Now()
			for time.Since(t0) < 20*time.Millisecond {
				f()
				n++
			}
			res[i] = append(res[i], flops[i]*float64(n)/time.Since(t0).Seconds()/1e9)
		}
	}
	for i := range fns {
		sort.Float64s(res[i])
		fmt.Printf("%-50s best %6.1f  median %6.1f GFLOP/s\n", names[i], res[i][len(res[i])-1], res[i][len(res[i])/2])
	}
}

func TestTuneAL2(t *testing.T) {
	if os.Getenv("KERNELS_TUNE") == "" {
		t.Skip("set KERNELS_TUNE=1")
	}
	r := rand.New(rand.NewPCG(1, 2))
	var names []string
	var flops []float64
	var fns []func()
	for _, k := range []int{128, 256} {
		for _, lda := range []int{k, k + 16, 512, 2048} {
			for _, rowsA := range []int{6, 96} {
				a := randSlice(r, rowsA*lda)
				w := randSlice(r, k*16)
				c := make([]float32, rowsA*16)
				names = append(names, fmt.Sprintf("k=%d/lda=%d/rowsA=%d", k, lda, rowsA))
				flops = append(flops, float64(2*rowsA*k*16))
				fns = append(fns, func() {
					for i := 0; i < rowsA; i += 6 {
						kernelAVX2(6, 1, k, &a[i*lda], lda, &w[0], &c[i*16], 16, modeStore, &w[0], nil)
					}
				})
			}
		}
	}
	tuneRun(t, 15, names, flops, fns)
}

func TestTuneGemm(t *testing.T) {
	if os.Getenv("KERNELS_TUNE") == "" {
		t.Skip("set KERNELS_TUNE=1")
	}
	defer func(k0, m0 int) { kc, mc = k0, m0 }(kc, mc)
	var names []string
	var flops []float64
	var fns []func()
	for _, s := range benchShapes {
		r := rand.New(rand.NewPCG(1, 2))
		a := randSlice(r, s.m*s.k)
		w := randSlice(r, s.k*s.n)
		c := make([]float32, s.m*s.n)
		pb := PackB(s.k, s.n, w, s.n)
		for _, kcv := range []int{256, 512} {
			for _, mcv := range []int{96, 192} {
				names = append(names, fmt.Sprintf("%v/kc=%d/mc=%d", s, kcv, mcv))
				flops = append(flops, float64(2*s.m*s.k*s.n))
				fns = append(fns, func() {
					kc, mc = kcv, mcv
					Gemm(s.m, a, s.k, pb, c, s.n, false)
				})
			}
		}
	}
	tuneRun(t, 7, names, flops, fns)
}
