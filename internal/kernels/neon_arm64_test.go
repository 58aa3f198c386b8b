//go:build arm64 && !purego

package kernels

import (
	"fmt"
	"math"
	"math/rand/v2"
	"testing"
)

// TestNEONKernels checks each NEON micro-kernel directly, for every tile
// height, 1 to 3 tiles, each mode, k around the loop edges and A rows
// that overlap (lda < k): every element against the float64 reference
// (within gemmTol), the 1-row kernel and the batch-1 kernel bit for bit
// against the taller tiles, and nothing written outside the tiles.
func TestNEONKernels(t *testing.T) {
	r := rand.New(rand.NewPCG(19, 2))
	for _, k := range []int{1, 2, 3, 5, 16, 63, 320} {
		for _, lda := range []int{k, k + 3, max(k/2, 1)} {
			b := randSlice(r, k*nr)
			bias := randSlice(r, nr)
			for rows := 1; rows <= mr; rows++ {
				for tiles := 1; tiles <= 3; tiles++ {
					for mode := modeStore; mode <= modeBias; mode++ {
						name := fmt.Sprintf("k=%d,lda=%d,%dx16,tiles=%d,mode=%d", k, lda, rows, tiles, mode)
						checkNEONTile(t, name, r, k, lda, rows, tiles, mode, b, bias)
					}
				}
			}
		}
	}
}

func checkNEONTile(t *testing.T, name string, r *rand.Rand, k, lda, rows, tiles, mode int, b, bias []float32) {
	t.Helper()
	h := rows * tiles
	const ldc = nr + 5
	a := randSlice(r, (h-1)*lda+k)
	c0 := randSlice(r, h*ldc+7)
	for i := 0; i < h; i++ {
		for j := nr; j < ldc; j++ {
			c0[i*ldc+j] = sentinel
		}
	}
	for j := h * ldc; j < len(c0); j++ {
		c0[j] = sentinel
	}
	c := append([]float32(nil), c0...)
	var bp *float32
	if mode == modeBias {
		bp = &bias[0]
	}
	kernelNEON(rows, tiles, k, &a[0], lda, &b[0], &c[0], ldc, mode, &b[0], bp)
	for i := 0; i < h; i++ {
		for j := 0; j < ldc; j++ {
			got := c[i*ldc+j]
			if j >= nr {
				if got != sentinel {
					t.Fatalf("%s: c[%d,%d] outside the tile changed to %v", name, i, j, got)
				}
				continue
			}
			var s, m float64
			switch mode {
			case modeAdd:
				s = float64(c0[i*ldc+j])
			case modeBias:
				s = float64(bias[j])
			}
			m = math.Abs(s)
			for p := 0; p < k; p++ {
				x := float64(a[i*lda+p]) * float64(b[p*nr+j])
				s += x
				m += math.Abs(x)
			}
			if e := math.Abs(float64(got) - s); e > gemmTol(k, m) || got != got {
				t.Fatalf("%s: c[%d,%d] = %v, want %v (err %.3g)", name, i, j, got, s, e)
			}
		}
	}
	for j := h * ldc; j < len(c); j++ {
		if c[j] != sentinel {
			t.Fatalf("%s: c[%d] past the tiles changed", name, j)
		}
	}
	// Every row is bit-identical to the 1-row kernel's and to the batch-1
	// kernel's (one panel, one k block) on that row alone.
	for i := 0; i < h; i++ {
		row := append([]float32(nil), c0[i*ldc:i*ldc+nr]...)
		kernelNEON(1, 1, k, &a[i*lda], lda, &b[0], &row[0], nr, mode, &b[0], bp)
		gv := append([]float32(nil), c0[i*ldc:i*ldc+nr]...)
		gemvNEON(k, k, &a[i*lda], &b[0], &gv[0], mode, 1, bp)
		for j := 0; j < nr; j++ {
			got := math.Float32bits(c[i*ldc+j])
			if got != math.Float32bits(row[j]) || got != math.Float32bits(gv[j]) {
				t.Fatalf("%s: c[%d,%d] = %v in the tile, %v in a 1-row tile, %v from the batch-1 kernel", name, i, j, c[i*ldc+j], row[j], gv[j])
			}
		}
	}
}

// TestNEONGemv checks the batch-1 kernel over many panels (the groups of
// 4, 2 and 1) and several k blocks, in each mode, bit for bit against the
// 1-row GEMM kernel run block by block, and against float64.
func TestNEONGemv(t *testing.T) {
	r := rand.New(rand.NewPCG(19, 3))
	for _, s := range []struct{ k, kb, panels int }{
		{1, 1, 1}, {7, 7, 7}, {40, 16, 5}, {100, 32, 3}, {513, 260, 9}, {64, 64, 4}, {30, 8, 2},
	} {
		k, kb, panels := s.k, s.kb, s.panels
		a := randSlice(r, k)
		b := randSlice(r, panels*k*nr)
		bias := randSlice(r, panels*nr)
		for mode := modeStore; mode <= modeBias; mode++ {
			c0 := randSlice(r, panels*nr+3)
			for j := panels * nr; j < len(c0); j++ {
				c0[j] = sentinel
			}
			var bp *float32
			if mode == modeBias {
				bp = &bias[0]
			}
			got := append([]float32(nil), c0...)
			gemvNEON(k, kb, &a[0], &b[0], &got[0], mode, panels, bp)
			want := append([]float32(nil), c0...)
			for q := 0; q < panels; q++ {
				for pc := 0; pc < k; pc += kb {
					md, pb := mode, bp
					if pc > 0 {
						md = modeAdd
					}
					if pb != nil {
						pb = &bias[q*nr]
					}
					kernelNEON(1, 1, min(kb, k-pc), &a[pc], k, &b[q*k*nr+pc*nr], &want[q*nr], nr, md, &b[0], pb)
				}
			}
			name := fmt.Sprintf("k=%d,kb=%d,panels=%d,mode=%d", k, kb, panels, mode)
			compareBits(t, name, want, got, len(got))
			for q := 0; q < panels; q++ {
				for j := 0; j < nr; j++ {
					var ref, mag float64
					switch mode {
					case modeAdd:
						ref = float64(c0[q*nr+j])
					case modeBias:
						ref = float64(bias[q*nr+j])
					}
					mag = math.Abs(ref)
					for p := 0; p < k; p++ {
						x := float64(a[p]) * float64(b[q*k*nr+p*nr+j])
						ref += x
						mag += math.Abs(x)
					}
					if e := math.Abs(float64(got[q*nr+j]) - ref); e > gemmTol(k, mag) {
						t.Fatalf("%s: c[%d] = %v, want %v", name, q*nr+j, got[q*nr+j], ref)
					}
				}
			}
		}
	}
}

// TestNEONRowDeterminism is TestGemmRowDeterminism's check on the NEON
// path: a row of C comes out bit-identical whatever the number of rows of
// the product (batch 1 through the GEMV kernel included), with and
// without a bias, on one and two goroutines.
func TestNEONRowDeterminism(t *testing.T) {
	defer forceISA(t, "neon")()
	const rows = 27
	for _, s := range []struct{ k, n int }{{1, 5}, {9, 16}, {64, 48}, {321, 40}, {600, 100}, {1100, 33}} {
		r := rand.New(rand.NewPCG(uint64(s.k), uint64(s.n)))
		a := randSlice(r, rows*s.k)
		pb := PackB(s.k, s.n, randSlice(r, s.k*s.n), s.n)
		bias := randSlice(r, s.n)
		c0 := randSlice(r, rows*s.n)
		for _, accumulate := range []bool{false, true} {
			name := fmt.Sprintf("k=%d,n=%d/acc=%v", s.k, s.n, accumulate)
			want := append([]float32(nil), c0...)
			Gemm(rows, a, s.k, pb, want, s.n, accumulate)
			for _, m := range []int{1, 2, 3, 4, 5, 6, 7, 13} {
				got := append([]float32(nil), c0...)
				for i0 := 0; i0 < rows; i0 += m {
					h := min(m, rows-i0)
					Gemm(h, a[i0*s.k:], s.k, pb, got[i0*s.n:], s.n, accumulate)
				}
				compareBits(t, fmt.Sprintf("%s/m=%d", name, m), want, got, s.n)
			}
			got := append([]float32(nil), c0...)
			GemmParallel(rows, a, s.k, pb, got, s.n, accumulate, 2)
			compareBits(t, name+"/parallel", want, got, s.n)
		}
		want := make([]float32, rows*s.n)
		GemmBiasParallel(rows, a, s.k, pb, bias, want, s.n, 1)
		got := make([]float32, rows*s.n)
		for i := 0; i < rows; i++ {
			GemmBiasParallel(1, a[i*s.k:], s.k, pb, bias, got[i*s.n:], s.n, 2)
		}
		compareBits(t, fmt.Sprintf("k=%d,n=%d/bias,m=1", s.k, s.n), want, got, s.n)
	}
}
