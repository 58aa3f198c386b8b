package kernels

import (
	"fmt"
	"math"
	"math/rand/v2"
	"testing"
)

// gruUnfused is a reset_after GRU row computed one operation at a time
// with the package's vector activations, as layers computed it before
// GRUGates: the bits GRUGates must give on every path.
func gruUnfused(x, r, h []float32, u int, rec Gate) []float32 {
	row := append([]float32(nil), x[:3*u]...)
	for j := 0; j < 2*u; j++ {
		row[j] += r[j]
	}
	if rec.Kind == GateSigmoid {
		Sigmoid(row[:2*u])
	} else {
		HardSigmoid(row[:2*u], rec.Slope)
	}
	for j := 0; j < u; j++ {
		row[2*u+j] += row[u+j] * r[2*u+j]
	}
	Tanh(row[2*u : 3*u])
	out := append([]float32(nil), h[:u]...)
	for j := 0; j < u; j++ {
		z := row[j]
		out[j] = z*out[j] + (1-z)*row[2*u+j]
	}
	return out
}

// TestGRUGates checks GRUGates on every path: the bits of the unfused
// step (to rounding on NEON), x and r left alone, and the float64 formula within float32
// rounding, for unit counts around the vector widths.
func TestGRUGates(t *testing.T) {
	rng := rand.New(rand.NewPCG(3, 4))
	for _, isa := range testISAs(t) {
		restore := forceISA(t, isa)
		for _, u := range []int{1, 5, 8, 15, 16, 17, 31, 40, 128, 133} {
			for _, rec := range []Gate{{Kind: GateSigmoid}, {Kind: GateHardSigmoid, Slope: 0.2}, {Kind: GateHardSigmoid, Slope: float32(1.0 / 6)}} {
				name := fmt.Sprintf("isa=%s/u=%d/gate=%v", isa, u, rec)
				x, r, h := make([]float32, 3*u), make([]float32, 3*u), make([]float32, u)
				for i := range x {
					x[i] = float32(rng.NormFloat64() * 3)
					r[i] = float32(rng.NormFloat64() * 3)
				}
				for i := range h {
					h[i] = float32(rng.Float64()*2 - 1)
				}
				x0, r0 := append([]float32(nil), x...), append([]float32(nil), r...)
				want := gruUnfused(x, r, h, u, rec)
				got := append([]float32(nil), h...)
				GRUGates(x, r, got, u, rec)
				for j := range want {
					// NEON: Go may fuse the unfused step's a*b+c on arm64,
					// so there the two agree to rounding (below) only.
					if isa != "neon" && math.Float32bits(got[j]) != math.Float32bits(want[j]) {
						t.Fatalf("%s: h[%d] = %v, want %v as unfused", name, j, got[j], want[j])
					}
					if d := math.Abs(float64(got[j]) - float64(want[j])); d > 1e-6 {
						t.Fatalf("%s: h[%d] = %v, unfused %v", name, j, got[j], want[j])
					}
					// The float64 formula.
					act := func(v float64) float64 {
						if rec.Kind == GateSigmoid {
							return 1 / (1 + math.Exp(-v))
						}
						return math.Max(0, math.Min(1, float64(rec.Slope)*v+0.5))
					}
					z := act(float64(x[j]) + float64(r[j]))
					g := act(float64(x[u+j]) + float64(r[u+j]))
					c := math.Tanh(float64(x[2*u+j]) + g*float64(r[2*u+j]))
					e := z*float64(h[j]) + (1-z)*c
					if d := math.Abs(float64(got[j]) - e); d > 2e-6 {
						t.Fatalf("%s: h[%d] = %v, want %v (error %g)", name, j, got[j], e, d)
					}
				}
				for i := range x {
					if x[i] != x0[i] || r[i] != r0[i] {
						t.Fatalf("%s: x or r changed at %d", name, i)
					}
				}
			}
		}
		restore()
	}
}
