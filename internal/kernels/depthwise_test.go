package kernels

import (
	"math"
	"math/rand/v2"
	"testing"
)

// TestMulAddCols checks both paths against float64 sums, over channel
// counts around the vector widths, with overlapping input columns
// (xstep < n) and strided ones, and checks that the columns beyond cols and
// the channels beyond n are left alone.
func TestMulAddCols(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	for _, isa := range testISAs(t) {
		restore := forceISA(t, isa)
		for _, n := range []int{1, 3, 7, 8, 9, 16, 24, 31, 32, 33, 40, 48, 72, 144} {
			for _, cols := range []int{1, 2, 5} {
				for _, xstep := range []int{n / 2, n, 2 * n, 2*n + 3} {
					x := make([]float32, (cols-1)*xstep+n+5)
					k := make([]float32, n+3)
					o := make([]float32, cols*n+7)
					for i := range x {
						x[i] = rng.Float32()*2 - 1
					}
					for i := range k {
						k[i] = rng.Float32()*2 - 1
					}
					for i := range o {
						o[i] = rng.Float32()*2 - 1
					}
					want := make([]float64, len(o))
					for i, v := range o {
						want[i] = float64(v)
					}
					for j := 0; j < cols; j++ {
						for i := 0; i < n; i++ {
							want[j*n+i] += float64(x[j*xstep+i]) * float64(k[i])
						}
					}
					MulAddCols(o, x, k, n, cols, xstep)
					for i, v := range o {
						if math.Abs(float64(v)-want[i]) > 1e-6 {
							t.Fatalf("isa=%s n=%d cols=%d xstep=%d: o[%d]=%v, want %v", isa, n, cols, xstep, i, v, want[i])
						}
					}
				}
			}
		}
		restore()
	}
}

func TestMulAddColsPanics(t *testing.T) {
	defer func() {
		if recover() == nil {
			t.Fatal("no panic for a short x")
		}
	}()
	MulAddCols(make([]float32, 16), make([]float32, 8), make([]float32, 8), 8, 2, 8)
}

// TestReluClip checks that the AVX2 kernel gives the pure-Go bits for every
// input of the activation sweep (NaNs, zeros of both signs, infinities,
// denormals), in place and into another slice, at every tail length.
func TestReluClip(t *testing.T) {
	xs := sweepInputs()
	for _, top := range []float32{0, 1, 6, float32(math.Inf(1)), math.MaxFloat32} {
		want := make([]float32, len(xs))
		reluClipGo(want, xs, top)
		for i, v := range xs {
			var w float32
			if v > 0 {
				w = min(v, top)
			}
			if math.Float32bits(want[i]) != math.Float32bits(w) {
				t.Fatalf("top %v: reluClipGo(%v) = %v, want %v", top, v, want[i], w)
			}
		}
		got := make([]float32, len(xs))
		ReluClip(got, xs, top)
		in := append([]float32(nil), xs...)
		ReluClip(in, in, top)
		for i := range xs {
			if math.Float32bits(got[i]) != math.Float32bits(want[i]) || math.Float32bits(in[i]) != math.Float32bits(want[i]) {
				t.Fatalf("top %v: ReluClip(%v) = %v (in place %v), want %v", top, xs[i], got[i], in[i], want[i])
			}
		}
		for n := 0; n < 20; n++ {
			got := make([]float32, n)
			ReluClip(got, xs[100:100+n], top)
			for i := range got {
				if math.Float32bits(got[i]) != math.Float32bits(want[100+i]) {
					t.Fatalf("top %v n=%d: element %d differs", top, n, i)
				}
			}
		}
	}
}

// TestMulAddWindow3 checks that a window adds the bits of MulAddCols
// called tap by tap, on both paths, over channel counts around the vector
// widths and with padded row and column strides.
func TestMulAddWindow3(t *testing.T) {
	rng := rand.New(rand.NewPCG(3, 4))
	for _, isa := range testISAs(t) {
		restore := forceISA(t, isa)
		for _, n := range []int{1, 5, 8, 12, 16, 24, 32, 40, 48, 67} {
			for _, kh := range []int{1, 2, 3} {
				cols, cstep, xstep := 4, n+2, 2*n+1
				ostep := n + 3
				rstep := 3*cstep + xstep*cols + 5
				x := make([]float32, (cols-1)*xstep+(kh-1)*rstep+2*cstep+n+4)
				k := make([]float32, 3*kh*n+2)
				o := make([]float32, (cols-1)*ostep+n+6)
				for _, s := range [][]float32{x, k, o} {
					for i := range s {
						s[i] = rng.Float32()*2 - 1
					}
				}
				want := append([]float32(nil), o...)
				for j := 0; j < cols; j++ {
					for u := 0; u < kh; u++ {
						for v := 0; v < 3; v++ {
							xo := j*xstep + u*rstep + v*cstep
							MulAddCols(want[j*ostep:j*ostep+n], x[xo:], k[(3*u+v)*n:], n, 1, 0)
						}
					}
				}
				MulAddWindow3(o, x, k, n, cols, ostep, xstep, kh, rstep, cstep)
				for i := range o {
					if math.Float32bits(o[i]) != math.Float32bits(want[i]) {
						t.Fatalf("isa=%s n=%d kh=%d: o[%d]=%v, tap by tap %v", isa, n, kh, i, o[i], want[i])
					}
				}
			}
		}
		restore()
	}
}

// TestMaxInto checks MaxInto against Go's max, bit for bit, on every path
// this machine runs, with NaNs, signed zeros and infinities among the
// values and lengths around the vector width.
func TestMaxInto(t *testing.T) {
	special := []float32{0, float32(math.Copysign(0, -1)), float32(math.NaN()), float32(math.Inf(1)), float32(math.Inf(-1)), 1, -1, 3.5}
	r := rand.New(rand.NewPCG(5, 6))
	for _, isa := range testISAs(t) {
		restore := forceISA(t, isa)
		for _, n := range []int{0, 1, 7, 8, 9, 16, 31, 64, 100} {
			for round := 0; round < 20; round++ {
				dst, src := make([]float32, n+1), make([]float32, n)
				for i := range src {
					dst[i] = special[r.IntN(len(special))]
					src[i] = special[r.IntN(len(special))]
					if r.IntN(3) == 0 {
						src[i] = float32(r.NormFloat64())
					}
				}
				dst[n] = 42
				want := append([]float32(nil), dst...)
				for i, v := range src {
					want[i] = max(want[i], v)
				}
				MaxInto(dst, src)
				for i := range want {
					if math.Float32bits(dst[i]) != math.Float32bits(want[i]) && !(want[i] != want[i] && dst[i] != dst[i]) {
						t.Fatalf("isa=%s n=%d: dst[%d] = %v (%#08x), want %v (%#08x)", isa, n, i, dst[i], math.Float32bits(dst[i]), want[i], math.Float32bits(want[i]))
					}
				}
			}
		}
		restore()
	}
}
