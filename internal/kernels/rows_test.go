package kernels

import (
	"fmt"
	"math"
	"math/rand/v2"
	"testing"
)

// TestAddRows checks the batch-1 product through the row-interleaved copy
// (AddRows) on every path this machine runs: bit-identical to the product
// from the panels alone, and within the float64 reference's rounding
// bound, for every kernel mode, k over one and several k blocks, n whose
// full panels are and are not a whole number of groups, a partial last
// panel, and panel ranges that start and end inside a group (as threads
// cut a product); the same in descending order (GemmPanelsDesc), which
// must give the same bits as well.
func TestAddRows(t *testing.T) {
	shapes := []struct{ k, n int }{
		{1, 16}, {50, 10}, {3, 40}, {5, 128}, {64, 256}, {128, 512}, {130, 100},
		{333, 200}, {512, 2048 + 7}, {700, 300}, {1100, 96},
	}
	for _, isa := range testISAs(t) {
		restore := forceISA(t, isa)
		for _, s := range shapes {
			r := rand.New(rand.NewPCG(uint64(s.k), uint64(s.n)))
			b := randSlice(r, s.k*s.n)
			a := randSlice(r, s.k)
			bias := randSlice(r, s.n)
			c0 := randSlice(r, s.n)
			plain := PackB(s.k, s.n, b, s.n)
			rows := PackB(s.k, s.n, b, s.n).AddRows()
			want := rowsKernel() && s.n >= nr && s.n/nr*s.k*nr*4 <= rowsMaxBytes
			if got := rows.rows != nil; got != want {
				t.Fatalf("isa=%s k=%d n=%d: AddRows made a copy: %v, want %v", isa, s.k, s.n, got, want)
			}
			if want && len(rows.rows) != s.n/nr*s.k*nr {
				t.Fatalf("isa=%s k=%d n=%d: rows copy of %d floats, want %d", isa, s.k, s.n, len(rows.rows), s.n/nr*s.k*nr)
			}
			ref, mag := refGemm(1, s.k, s.n, a, s.k, b, s.n, c0, s.n, true)
			np := plain.Panels()
			ranges := [][2]int{{0, np}, {1, np}, {0, np - 1}, {3, min(np, 11)}, {np / 2, np}, {5, 6}}
			for _, pr := range ranges {
				p0, p1 := pr[0], pr[1]
				if p0 >= p1 || p1 > np {
					continue
				}
				for _, mode := range []string{"store", "add", "bias"} {
					name := fmt.Sprintf("isa=%s/k=%d,n=%d/panels=%d-%d/%s", isa, s.k, s.n, p0, p1, mode)
					run := func(pb *PackedB, desc bool) []float32 {
						c := append([]float32(nil), c0...)
						switch {
						case mode == "bias":
							// The batch-1 path of gemmPanels with a bias,
							// as GemmStepParallel runs it on one thread.
							walkPanels(1, a, s.k, pb, p0, p1, c, s.n, false, bias, nil, desc)
						case desc:
							GemmPanelsDesc(1, a, s.k, pb, p0, p1, c, s.n, mode == "add")
						default:
							GemmPanels(1, a, s.k, pb, p0, p1, c, s.n, mode == "add")
						}
						return c
					}
					want, got := run(plain, false), run(rows, false)
					compareBits(t, name, want, got, s.n)
					compareBits(t, name+"/desc", want, run(plain, true), s.n)
					compareBits(t, name+"/rows-desc", want, run(rows, true), s.n)
					c1 := min(p1*nr, s.n)
					for j := 0; j < s.n; j++ {
						if j < p0*nr || j >= c1 {
							if math.Float32bits(got[j]) != math.Float32bits(c0[j]) {
								t.Fatalf("%s: C[%d] outside the panels changed", name, j)
							}
							continue
						}
						e := ref[j]
						switch mode {
						case "store":
							e -= float64(c0[j])
						case "bias":
							e += float64(bias[j]) - float64(c0[j])
						}
						if d := math.Abs(float64(got[j]) - e); d > gemmTol(s.k, mag[j]+math.Abs(float64(bias[j]))) {
							t.Fatalf("%s: C[%d] = %v, want %v (error %g)", name, j, got[j], e, d)
						}
					}
				}
			}
		}
		restore()
	}
}

// TestAddRowsAcrossISAs checks that a copy packed for one path is not read
// on another: the product there is still right, from the panels.
func TestAddRowsAcrossISAs(t *testing.T) {
	isas := testISAs(t)
	const k, n = 200, 300
	r := rand.New(rand.NewPCG(7, 8))
	b, a := randSlice(r, k*n), randSlice(r, k)
	for _, packISA := range isas {
		restore := forceISA(t, packISA)
		pb := PackB(k, n, b, n).AddRows()
		restore()
		for _, runISA := range isas {
			restore := forceISA(t, runISA)
			want := make([]float32, n)
			Gemm(1, a, k, PackB(k, n, b, n), want, n, false)
			got := make([]float32, n)
			Gemm(1, a, k, pb, got, n, false)
			restore()
			compareBits(t, "packed-"+packISA+"/"+runISA, want, got, n)
		}
	}
}
