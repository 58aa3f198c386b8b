package kernels

import (
	"fmt"
	"math"
	"math/rand/v2"
	"testing"
)

// refGemm is the float64 reference: C = A·B (+ C0), and the magnitude
// Σ|a||b| + |c0| that bounds the float32 rounding error of each element.
func refGemm(m, k, n int, a []float32, lda int, b []float32, ldb int, c0 []float32, ldc int, acc bool) (ref, mag []float64) {
	ref = make([]float64, m*n)
	mag = make([]float64, m*n)
	for i := 0; i < m; i++ {
		for j := 0; j < n; j++ {
			var s, t float64
			if acc {
				s = float64(c0[i*ldc+j])
				t = math.Abs(s)
			}
			for p := 0; p < k; p++ {
				x := float64(a[i*lda+p]) * float64(b[p*ldb+j])
				s += x
				t += math.Abs(x)
			}
			ref[i*n+j], mag[i*n+j] = s, t
		}
	}
	return ref, mag
}

func randSlice(r *rand.Rand, n int) []float32 {
	s := make([]float32, n)
	for i := range s {
		s[i] = float32(r.Float64()*2 - 1)
	}
	return s
}

// gemmTol is the allowed error of one element: a sum of k+1 float32 terms,
// each product and addition rounded once (|err| ≤ γ_{k+1}·Σ|terms| with
// γ_n ≈ n·2^-24), doubled for the order-dependence of the blocked sums.
func gemmTol(k int, mag float64) float64 {
	return 2 * float64(k+2) * 0x1p-24 * mag
}

const sentinel = float32(-12345.5)

type gemmCase struct {
	m, k, n, padA, padB, padC int
	acc                       bool
}

func (g gemmCase) String() string {
	return fmt.Sprintf("m=%d,k=%d,n=%d,lda+%d,ldb+%d,ldc+%d,acc=%v", g.m, g.k, g.n, g.padA, g.padB, g.padC, g.acc)
}

func gemmCases() []gemmCase {
	var cs []gemmCase
	// Every small shape around the tile edges.
	for _, m := range []int{0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 12, 13} {
		for _, k := range []int{0, 1, 2, 3, 4, 5, 8, 9} {
			for _, n := range []int{1, 3, 8, 15, 16, 17, 33} {
				cs = append(cs, gemmCase{m, k, n, (m + k) % 3, n % 2, (m + n) % 4, (m+k+n)%2 == 0})
			}
		}
	}
	// The shapes of the workloads and the block edges.
	for _, s := range [][3]int{
		{1, 512, 2048}, {32, 512, 2048}, {1, 128, 512}, {32, 128, 512}, {100, 64, 512},
		{97, 257, 48}, {200, 300, 40}, {31, 255, 31}, {33, 256, 17}, {6, 513, 16}, {1, 1000, 3},
		{190, 32, 10}, {12, 1, 1}, {96, 256, 16}, {97, 256, 16}, {192, 512, 32},
	} {
		cs = append(cs, gemmCase{s[0], s[1], s[2], 5, 3, 7, true})
		if s[0]*s[1]*s[2] < 1<<24 {
			cs = append(cs, gemmCase{s[0], s[1], s[2], 0, 0, 0, false})
		}
	}
	// Overlapping rows of A (lda < k): Conv1D read in place, as in W2
	// (lda = in = 128, k = 5·128) and smaller.
	for _, s := range [][4]int{{196, 640, 128, 128}, {100, 160, 64, 32}, {9, 15, 17, 3}, {13, 7, 5, 1}, {7, 4, 33, 0}} {
		cs = append(cs, gemmCase{s[0], s[1], s[2], -s[3], 0, 0, false}, gemmCase{s[0], s[1], s[2], -s[3], 1, 2, true})
	}
	// Random shapes.
	r := rand.New(rand.NewPCG(7, 7))
	for i := 0; i < 60; i++ {
		cs = append(cs, gemmCase{r.IntN(70), 1 + r.IntN(600), 1 + r.IntN(90), r.IntN(9), r.IntN(3), r.IntN(9), r.IntN(2) == 0})
	}
	return cs
}

// gemmData is one case's inputs and float64 reference.
type gemmData struct {
	tc            gemmCase
	lda, ldb, ldc int // lda = k + padA, or padA itself when negative (overlapping rows)
	a, b, c0      []float32
	ref, mag      []float64
}

func newGemmData(tc gemmCase) *gemmData {
	r := rand.New(rand.NewPCG(uint64(tc.m*1000003+tc.k*1009+tc.n), 1))
	d := &gemmData{tc: tc, lda: tc.k + tc.padA, ldb: tc.n + tc.padB, ldc: tc.n + tc.padC}
	if tc.padA < 0 {
		d.lda = -tc.padA
	}
	d.a = randSlice(r, max((tc.m-1)*d.lda+tc.k, 1))
	d.b = randSlice(r, max(tc.k*d.ldb, 1))
	d.c0 = randSlice(r, tc.m*d.ldc+3)
	for i := 0; i < tc.m; i++ {
		for j := tc.n; j < d.ldc; j++ {
			d.c0[i*d.ldc+j] = sentinel
		}
	}
	for j := tc.m * d.ldc; j < len(d.c0); j++ {
		d.c0[j] = sentinel
	}
	d.ref, d.mag = refGemm(tc.m, tc.k, tc.n, d.a, d.lda, d.b, d.ldb, d.c0, d.ldc, tc.acc)
	return d
}

// run runs the case through gemm (Gemm or a GemmParallel wrapper) and
// checks every element against the float64 reference, and that nothing
// outside C's m×n window changed. It returns C.
func (d *gemmData) run(t *testing.T, gemm func(m int, a []float32, lda int, pb *PackedB, c []float32, ldc int, acc bool)) []float32 {
	t.Helper()
	tc := d.tc
	c := append([]float32(nil), d.c0...)
	pb := PackB(tc.k, tc.n, d.b, d.ldb)
	gemm(tc.m, d.a, d.lda, pb, c, d.ldc, tc.acc)
	for i := 0; i < tc.m; i++ {
		for j := 0; j < d.ldc; j++ {
			got := c[i*d.ldc+j]
			if j >= tc.n {
				if got != sentinel {
					t.Fatalf("%v: c[%d,%d] outside C changed to %v", tc, i, j, got)
				}
				continue
			}
			want, tol := d.ref[i*tc.n+j], gemmTol(tc.k, d.mag[i*tc.n+j])
			if e := math.Abs(float64(got) - want); e > tol || got != got {
				t.Fatalf("%v: c[%d,%d] = %v, want %v (err %.3g, tol %.3g)", tc, i, j, got, want, e, tol)
			}
		}
	}
	for j := tc.m * d.ldc; j < len(c); j++ {
		if c[j] != sentinel {
			t.Fatalf("%v: c[%d] past C changed", tc, j)
		}
	}
	return c
}

// TestGemm checks Gemm on every path this machine runs (TestISAs)
// against the float64 reference, each vector path against the pure-Go
// kernel, and the AVX-512 and AVX2 paths against each other bit for bit:
// both sum each element as one FMA chain over k in the same order.
func TestGemm(t *testing.T) {
	isas := testISAs(t)
	for _, tc := range gemmCases() {
		d := newGemmData(tc)
		cs := map[string][]float32{}
		for _, isa := range isas {
			restore := forceISA(t, isa)
			cs[isa] = d.run(t, Gemm)
			restore()
		}
		cGo := cs["generic"]
		for _, isa := range isas {
			// Within gemmTol of the reference, each; they also agree with
			// each other to float32 rounding of the same sums.
			for i, v := range cs[isa] {
				if d := math.Abs(float64(v - cGo[i])); d > 1e-4*max(1, math.Abs(float64(cGo[i]))) {
					t.Fatalf("%v: %s %v and Go %v differ at %d", tc, isa, v, cGo[i], i)
				}
			}
		}
		if c512, c2 := cs["avx512"], cs["avx2"]; c512 != nil && c2 != nil {
			compareBits(t, tc.String()+"/avx512-vs-avx2", c2, c512, d.ldc)
		}
	}
}

func TestGemmParallel(t *testing.T) {
	defer func(a, b int) { parMinFlops, parMinFlopsGEMV = a, b }(parMinFlops, parMinFlopsGEMV)
	parMinFlops, parMinFlopsGEMV = 0, 0
	for _, tc := range []gemmCase{
		{1, 512, 2048, 0, 0, 0, false}, {32, 256, 1024, 3, 0, 1, true}, {100, 70, 20, 1, 1, 1, false},
		{200, 33, 17, 0, 0, 5, true}, {7, 5, 3, 0, 0, 0, false}, {13, 9, 40, 0, 0, 0, true},
		{3, 1, 1, 0, 0, 0, false},
	} {
		d := newGemmData(tc)
		for _, isa := range testISAs(t) {
			restore := forceISA(t, isa)
			for _, threads := range []int{2, 3, 5} {
				want := d.run(t, func(m int, a []float32, lda int, pb *PackedB, c []float32, ldc int, acc bool) {
					GemmParallel(m, a, lda, pb, c, ldc, acc, threads)
				})
				// A recurrent step's product, in either order: the same
				// bits.
				for _, desc := range []bool{false, true} {
					got := d.run(t, func(m int, a []float32, lda int, pb *PackedB, c []float32, ldc int, acc bool) {
						GemmStepParallel(m, a, lda, pb, nil, c, ldc, acc, desc, threads)
					})
					compareBits(t, fmt.Sprintf("%v/isa=%s/threads=%d/desc=%v", tc, isa, threads, desc), want, got, d.ldc)
				}
			}
			restore()
		}
	}
}

func TestRowTiles(t *testing.T) {
	for _, th := range []int{mr, mrZ} {
		for m := 0; m < 200; m++ {
			testRowTiles(t, m, th)
		}
	}
}

// testRowTiles checks rowSplit(m, th): the tiles cover m, none is taller
// than th, and none is shorter than th/2 when m >= th.
func testRowTiles(t *testing.T, m, th int) {
	t.Helper()
	tiles := rowTiles(m, th, nil)
	sum := 0
	for _, h := range tiles {
		if h < 1 || h > th || (m >= th && 2*h < th) {
			t.Fatalf("m=%d th=%d: bad tile %d in %v", m, th, h, tiles)
		}
		sum += h
	}
	if sum != m {
		t.Fatalf("m=%d th=%d: tiles %v sum to %d", m, th, tiles, sum)
	}
}

func TestGemmPanics(t *testing.T) {
	pb := PackB(4, 5, make([]float32, 20), 5)
	for name, f := range map[string]func(){
		"lda":     func() { Gemm(2, make([]float32, 8), -1, pb, make([]float32, 10), 5, false) },
		"ldc":     func() { Gemm(2, make([]float32, 8), 4, pb, make([]float32, 10), 4, false) },
		"short a": func() { Gemm(2, make([]float32, 7), 4, pb, make([]float32, 10), 5, false) },
		"short c": func() { Gemm(2, make([]float32, 8), 4, pb, make([]float32, 9), 5, false) },
		"m":       func() { Gemm(-1, nil, 4, pb, nil, 5, false) },
		"ldb":     func() { PackB(2, 5, make([]float32, 10), 4) },
		"short b": func() { PackB(2, 5, make([]float32, 9), 5) },
	} {
		func() {
			defer func() {
				if recover() == nil {
					t.Errorf("%s: no panic", name)
				}
			}()
			f()
		}()
	}
}

func TestNoAllocs(t *testing.T) {
	r := rand.New(rand.NewPCG(9, 9))
	for _, s := range [][3]int{{1, 512, 2048}, {1, 128, 520}, {32, 100, 35}, {6272, 64, 17}, {7, 3, 5}} {
		m, k, n := s[0], s[1], s[2]
		a := randSlice(r, m*k)
		pb := PackB(k, n, randSlice(r, k*n), n).AddRows() // the batch-1 copy where it fits
		c := make([]float32, m*n)
		z := randSlice(r, 4*13)
		cs, hs := make([]float32, 13), make([]float32, 13)
		for _, isa := range testISAs(t) {
			restore := forceISA(t, isa)
			if got := testing.AllocsPerRun(3, func() {
				Gemm(m, a, k, pb, c, n, true)
				Tanh(c[:min(len(c), 13)])
				Sigmoid(c[:min(len(c), 13)])
				Exp(c[:min(len(c), 5)])
				LSTMGates(z, cs, hs, 13, Gate{Kind: GateSigmoid})
				LSTMGates(z, cs, hs, 13, Gate{Kind: GateHardSigmoid, Slope: 0.2})
			}); got != 0 {
				t.Errorf("%v isa=%s: %v allocations per run", s, isa, got)
			}
			restore()
		}
	}
}

func TestParallelFor(t *testing.T) {
	for _, n := range []int{0, 1, 2, 3, 7, 64} {
		for _, threads := range []int{0, 1, 2, 3, 8} {
			for rep := 0; rep < 50; rep++ {
				hits := make([]int32, n)
				ParallelFor(n, threads, func(i int) { hits[i]++ })
				// ParallelFor returned: every call is done and visible.
				for i, h := range hits {
					if h != 1 {
						t.Fatalf("n=%d threads=%d: index %d ran %d times", n, threads, i, h)
					}
				}
			}
		}
	}
}

// TestGemmBias checks that GemmBiasParallel, and GemmStepParallel with a
// bias in either order, on every gemmCase with the assembly and the
// pure-Go kernels and on 1 to 3 goroutines, gives bit for bit what copying
// the bias into every row of C and accumulating gives
// (itself checked against float64 by TestGemm), and touches nothing
// outside C.
func TestGemmBias(t *testing.T) {
	defer func(a, b int) { parMinFlops, parMinFlopsGEMV = a, b }(parMinFlops, parMinFlopsGEMV)
	parMinFlops, parMinFlopsGEMV = 0, 0
	for _, tc := range gemmCases() {
		d := newGemmData(tc)
		bias := randSlice(rand.New(rand.NewPCG(uint64(tc.n), 3)), tc.n)
		pb := PackB(tc.k, tc.n, d.b, d.ldb)
		for _, isa := range testISAs(t) {
			restore := forceISA(t, isa)
			want := append([]float32(nil), d.c0...)
			for i := 0; i < tc.m; i++ {
				copy(want[i*d.ldc:i*d.ldc+tc.n], bias)
			}
			Gemm(tc.m, d.a, d.lda, pb, want, d.ldc, true)
			for _, threads := range []int{1, 2, 3} {
				for _, how := range []string{"bias", "step", "step-desc"} {
					got := append([]float32(nil), d.c0...)
					if how == "bias" {
						GemmBiasParallel(tc.m, d.a, d.lda, pb, bias, got, d.ldc, threads)
					} else {
						GemmStepParallel(tc.m, d.a, d.lda, pb, bias, got, d.ldc, false, how == "step-desc", threads)
					}
					for i := range want {
						if math.Float32bits(got[i]) != math.Float32bits(want[i]) {
							t.Fatalf("%v isa=%s threads=%d %s: c[%d] = %v with the bias folded in, %v copied", tc, isa, threads, how, i, got[i], want[i])
						}
					}
				}
			}
			restore()
		}
	}
}

// TestGemmBiasAct checks that the activation applied to rows as the
// product finishes them (GemmBiasActParallel) gives, bit for bit, the
// product and then the activation over all of C, with and without a bias,
// on 1-3 threads (row and column splits), and that it sees whole rows
// only: the test's activation scales each row by its own first value's
// sign, which a call on part of a row would get wrong.
func TestGemmBiasAct(t *testing.T) {
	defer func(a, b int) { parMinFlops, parMinFlopsGEMV = a, b }(parMinFlops, parMinFlopsGEMV)
	parMinFlops, parMinFlopsGEMV = 0, 0
	for _, tc := range gemmCases() {
		if tc.m == 0 {
			continue
		}
		d := newGemmData(tc)
		n := tc.n
		act := func(x []float32, last int) {
			if last != n || len(x)%n != 0 {
				t.Errorf("%v: act on %d values, last %d; want whole rows of %d", tc, len(x), last, n) // maybe on a helper: no Fatal
				return
			}
			for r := 0; r+n <= len(x); r += n {
				row := x[r : r+n]
				s := float32(1)
				if row[0] < 0 {
					s = -0.5
				}
				for i, v := range row {
					row[i] = min(v*s, 6)
				}
			}
		}
		bias := randSlice(rand.New(rand.NewPCG(uint64(tc.n), 5)), tc.n)
		pb := PackB(tc.k, tc.n, d.b, d.ldb)
		for _, isa := range testISAs(t) {
			restore := forceISA(t, isa)
			for _, bs := range [][]float32{bias, nil} {
				want := append([]float32(nil), d.c0...)
				if bs == nil {
					Gemm(tc.m, d.a, d.lda, pb, want, d.ldc, false)
				} else {
					GemmBiasParallel(tc.m, d.a, d.lda, pb, bs, want, d.ldc, 1)
				}
				for i := 0; i < tc.m; i++ {
					act(want[i*d.ldc:i*d.ldc+n], n)
				}
				for _, threads := range []int{1, 2, 3} {
					got := append([]float32(nil), d.c0...)
					GemmBiasActParallel(tc.m, d.a, d.lda, pb, bs, got, d.ldc, act, threads)
					for i := range want {
						if math.Float32bits(got[i]) != math.Float32bits(want[i]) {
							t.Fatalf("%v isa=%s bias=%v threads=%d: c[%d] = %v, want %v", tc, isa, bs != nil, threads, i, got[i], want[i])
						}
					}
				}
			}
			restore()
		}
	}
}

// TestPackBCols checks that packing selected columns gives PackB's packing
// of the matrix made of those columns, for permutations and selections
// (repeats included) and widths around the panel edges.
func TestPackBCols(t *testing.T) {
	r := rand.New(rand.NewPCG(3, 4))
	for _, s := range [][3]int{{1, 1, 1}, {5, 17, 17}, {7, 40, 33}, {64, 512, 512}, {3, 20, 7}, {0, 5, 3}} {
		k, ldb, n := s[0], s[1], s[2]
		src := randSlice(r, max(k*ldb, 1))
		cols := make([]int, n)
		for j := range cols {
			cols[j] = r.IntN(ldb)
		}
		if n == ldb {
			copy(cols, r.Perm(ldb))
		}
		b := make([]float32, k*n)
		for i := 0; i < k; i++ {
			for j, c := range cols {
				b[i*n+j] = src[i*ldb+c]
			}
		}
		want, got := PackB(k, n, b, n), PackBCols(k, src, ldb, cols)
		if got.k != want.k || got.n != want.n || got.panels != want.panels || len(got.data) != len(want.data) {
			t.Fatalf("k=%d ldb=%d n=%d: packed %d×%d in %d panels, want %d×%d in %d", k, ldb, n, got.k, got.n, got.panels, want.k, want.n, want.panels)
		}
		for i := range want.data {
			if got.data[i] != want.data[i] {
				t.Fatalf("k=%d ldb=%d n=%d: packed element %d = %v, want %v", k, ldb, n, i, got.data[i], want.data[i])
			}
		}
	}
}
