package kernels

import (
	"fmt"
	"math"
	"math/rand/v2"
	"os"
	"testing"
)

// sweepInputs returns the inputs of the activation accuracy tests: a dense
// linear sweep of [-40, 40] (step 2^-12, 327,681 points), every 4099-th
// float32 bit pattern (about 1M values spread over all magnitudes and both
// signs, NaNs included), the neighbourhoods of the branch and saturation
// points, and the special values.
func sweepInputs() []float32 {
	var xs []float32
	for i := -40 * 4096; i <= 40*4096; i++ {
		xs = append(xs, float32(i)/4096)
	}
	for b := uint64(0); b < 1<<32; b += 4099 {
		xs = append(xs, math.Float32frombits(uint32(b)))
	}
	for _, c := range []float32{0.625, 9, 9.1, 17, 87.3, 88.72, 88.7228, 89, 103.9, 104, 126 * 0.6931472, 0x1p-126, 0x1p-149} {
		for _, s := range []float32{1, -1} {
			v := s * c
			for i := 0; i < 64; i++ {
				xs = append(xs, v)
				v = math.Nextafter32(v, float32(math.Inf(1)))
			}
			v = s * c
			for i := 0; i < 64; i++ {
				v = math.Nextafter32(v, float32(math.Inf(-1)))
				xs = append(xs, v)
			}
		}
	}
	inf := float32(math.Inf(1))
	nan := float32(math.NaN())
	xs = append(xs, 0, float32(math.Copysign(0, -1)), inf, -inf, nan, -nan,
		math.MaxFloat32, -math.MaxFloat32, math.SmallestNonzeroFloat32, -math.SmallestNonzeroFloat32, 1e10, -1e10, 1e30, -1e30)
	return xs
}

type actCase struct {
	name string
	f32  func([]float32)
	f64  func(float64) float64
	// bounds over finite inputs
	maxAbs, maxRel float64
	// relMin: the relative bound applies where |want| >= relMin
	relMin float64
}

func actCases() []actCase {
	return []actCase{
		{"Exp", Exp, math.Exp, math.Inf(1), 1.5e-7, 0x1p-126},
		{"Sigmoid", Sigmoid, func(x float64) float64 { return 1 / (1 + math.Exp(-x)) }, 1e-7, 2.5e-7, 0x1p-126},
		{"Tanh", Tanh, math.Tanh, 1e-7, 2e-7, 0x1p-126},
	}
}

// TestActivationAccuracy measures and enforces the documented error bounds
// (act.go) for the AVX2 and the pure-Go code, against float64 math on the
// exact float32 inputs.
func TestActivationAccuracy(t *testing.T) {
	xs := sweepInputs()
	for _, isa := range testISAs(t) {
		restore := forceISA(t, isa)
		for _, ac := range actCases() {
			y := append([]float32(nil), xs...)
			ac.f32(y)
			var maxAbs, maxRel float64
			var atAbs, atRel float32
			for i, x := range xs {
				got := float64(y[i])
				want := ac.f64(float64(x))
				if math.IsNaN(want) {
					if !math.IsNaN(got) {
						t.Errorf("%s isa=%s: f(%v) = %v, want NaN", ac.name, isa, x, got)
					}
					continue
				}
				// Where the float32 result overflows, want it to be ±Inf.
				if math.Abs(want) > math.MaxFloat32 {
					if !math.IsInf(got, int(math.Copysign(1, want))) {
						t.Errorf("%s isa=%s: f(%v) = %v, want %v (overflow)", ac.name, isa, x, got, want)
					}
					continue
				}
				if math.IsInf(got, 0) || math.IsNaN(got) {
					t.Errorf("%s isa=%s: f(%v) = %v, want %v", ac.name, isa, x, got, want)
					continue
				}
				d := math.Abs(got - want)
				if d > maxAbs {
					maxAbs, atAbs = d, x
				}
				if math.Abs(want) >= ac.relMin {
					if r := d / math.Abs(want); r > maxRel {
						maxRel, atRel = r, x
					}
				} else if d > 0x1p-140 {
					t.Errorf("%s isa=%s: f(%v) = %v, want %v (tiny result off by %g)", ac.name, isa, x, got, want, d)
				}
			}
			t.Logf("%-8s isa=%-7s max abs err %.3g (at %v), max rel err %.3g (at %v)", ac.name, isa, maxAbs, atAbs, maxRel, atRel)
			if maxAbs > ac.maxAbs || maxRel > ac.maxRel {
				t.Errorf("%s isa=%s: error over the documented bound (abs %.3g > %.3g or rel %.3g > %.3g)", ac.name, isa, maxAbs, ac.maxAbs, maxRel, ac.maxRel)
			}
		}
		restore()
	}
}

// TestActivationSpecial pins the special values documented in act.go.
func TestActivationSpecial(t *testing.T) {
	inf := float32(math.Inf(1))
	nan := float32(math.NaN())
	negZero := float32(math.Copysign(0, -1))
	type want struct {
		x, y float32
	}
	cases := map[string]struct {
		f  func([]float32)
		ws []want
	}{
		"Exp": {Exp, []want{{0, 1}, {inf, inf}, {-inf, 0}, {88.73, inf}, {89, inf}, {1000, inf}, {-104, 0}, {-1000, 0}, {-math.MaxFloat32, 0}}},
		"Sigmoid": {Sigmoid, []want{{0, 0.5}, {inf, 1}, {-inf, 0}, {16.7, 1}, {17, 1}, {20, 1}, {100, 1}, {math.MaxFloat32, 1},
			{-104, 0}, {-200, 0}, {-math.MaxFloat32, 0}}},
		"Tanh": {Tanh, []want{{0, 0}, {negZero, negZero}, {inf, 1}, {-inf, -1}, {9.1, 1}, {-9.1, -1}, {20, 1}, {-100, -1},
			{math.MaxFloat32, 1}, {-math.MaxFloat32, -1}, {1e-30, 1e-30}, {-1e-30, -1e-30}}},
	}
	for _, isa := range testISAs(t) {
		restore := forceISA(t, isa)
		for name, c := range cases {
			for _, w := range c.ws {
				// In a vector of 8 and alone (the padded tail path).
				for _, n := range []int{1, 8, 11} {
					x := make([]float32, n)
					for i := range x {
						x[i] = w.x
					}
					c.f(x)
					for _, y := range x {
						if y != w.y || math.Signbit(float64(y)) != math.Signbit(float64(w.y)) {
							t.Errorf("%s isa=%s n=%d: f(%v) = %v, want %v", name, isa, n, w.x, y, w.y)
						}
					}
				}
			}
			x := []float32{nan, -nan, 1, nan, 2, 3, 4, 5, nan}
			c.f(x)
			for _, i := range []int{0, 1, 3, 8} {
				if x[i] == x[i] {
					t.Errorf("%s isa=%s: f(NaN) = %v, want NaN", name, isa, x[i])
				}
			}
		}
		restore()
	}
}

// TestActivationMonotone checks that Sigmoid and Tanh never decrease over the
// dense sweep (a property the gates rely on less than users expect it).
func TestActivationMonotone(t *testing.T) {
	for _, isa := range testISAs(t) {
		restore := forceISA(t, isa)
		for _, f := range []struct {
			name string
			fn   func([]float32)
		}{{"Sigmoid", Sigmoid}, {"Tanh", Tanh}} {
			var xs []float32
			for i := -20 * 4096; i <= 20*4096; i++ {
				xs = append(xs, float32(i)/4096)
			}
			f.fn(xs)
			for i := 1; i < len(xs); i++ {
				if xs[i] < xs[i-1] {
					t.Errorf("%s isa=%s: not monotone at x=%v: %v < %v", f.name, isa, float32(i-20*4096)/4096, xs[i], xs[i-1])
					break
				}
			}
		}
		restore()
	}
}

func TestHardSigmoid(t *testing.T) {
	x := []float32{-10, -2.5, -2.4, 0, 1, 2.5, 3, float32(math.Inf(1)), float32(math.Inf(-1)), float32(math.NaN())}
	HardSigmoid(x, 0.2)
	want := []float32{0, 0, float32(float32(0.2)*-2.4) + 0.5, 0.5, 0.7, 1, 1, 1, 0}
	for i, w := range want {
		if x[i] != w {
			t.Errorf("HardSigmoid: x[%d] = %v, want %v", i, x[i], w)
		}
	}
	if x[9] == x[9] {
		t.Errorf("HardSigmoid(NaN) = %v", x[9])
	}
}

// TestAsmMatchesGo: each vector path agrees with the pure-Go one within
// the sum of their bounds, the AVX-512 and AVX2 paths give the same bits,
// and tails (n not a multiple of the vector width) give the same values
// as full vectors.
func TestAsmMatchesGo(t *testing.T) {
	isas := testISAs(t)
	if len(isas) == 1 {
		t.Skip("no vector path here")
	}
	xs := sweepInputs()
	for _, ac := range actCases() {
		ys := map[string][]float32{}
		for _, isa := range isas {
			y := append([]float32(nil), xs...)
			restore := forceISA(t, isa)
			ac.f32(y)
			// Tail consistency.
			for n := 1; n < 40; n++ {
				v := append([]float32(nil), xs[1000:1000+n]...)
				ac.f32(v)
				for i := range v {
					if v[i] != y[1000+i] {
						t.Errorf("%s %s: tail n=%d i=%d: %v != %v", ac.name, isa, n, i, v[i], y[1000+i])
					}
				}
			}
			restore()
			ys[isa] = y
		}
		g := ys["generic"]
		for _, isa := range isas {
			a := ys[isa]
			for i := range xs {
				if a[i] != g[i] && !(a[i] != a[i] && g[i] != g[i]) {
					d := math.Abs(float64(a[i] - g[i]))
					if d > 2*ac.maxAbs && d > 2*ac.maxRel*math.Abs(float64(g[i])) {
						t.Errorf("%s: %s %v, Go %v at x=%v", ac.name, isa, a[i], g[i], xs[i])
					}
				}
			}
		}
		if a, b := ys["avx512"], ys["avx2"]; a != nil && b != nil {
			for i := range xs {
				if math.Float32bits(a[i]) != math.Float32bits(b[i]) && !(a[i] != a[i] && b[i] != b[i]) {
					t.Fatalf("%s(%v): avx512 %v, avx2 %v", ac.name, xs[i], a[i], b[i])
				}
			}
		}
	}
}

// TestHardSigmoidAsmMatchesGo: every path gives the same bits, and the
// float64 formula within an ulp.
func TestHardSigmoidAsmMatchesGo(t *testing.T) {
	xs := sweepInputs()
	isas := testISAs(t)
	for _, slope := range []float32{0.2, 1.0 / 6} {
		restore := forceISA(t, "generic")
		g := append([]float32(nil), xs...)
		HardSigmoid(g, slope)
		restore()
		for i := range xs {
			if want := math.Min(1, math.Max(0, float64(slope)*float64(xs[i])+0.5)); math.Abs(float64(g[i])-want) > 1.2e-7 && !math.IsNaN(want) {
				t.Fatalf("slope %v: HardSigmoid(%v) = %v, want %v", slope, xs[i], g[i], want)
			}
		}
		for _, isa := range isas {
			restore := forceISA(t, isa)
			// Offsets and lengths that leave every split of the vector
			// widths: 16-wide, 8-wide and scalar parts.
			for _, off := range []int{0, 3, 8, 13} {
				a := append([]float32(nil), xs[off:]...)
				HardSigmoid(a, slope)
				for i := range a {
					if a[i] != g[off+i] && !(a[i] != a[i] && g[off+i] != g[off+i]) {
						t.Fatalf("%s slope %v: HardSigmoid(%v): %v, Go %v", isa, slope, xs[off+i], a[i], g[off+i])
					}
				}
			}
			restore()
		}
	}
}

// refLSTM is the float64 reference of one LSTM step.
func refLSTM(z, c []float32, u int, hard bool, slope float32) (c2, h []float64) {
	rec := func(x float32) float64 {
		if hard {
			return math.Min(1, math.Max(0, float64(slope)*float64(x)+0.5))
		}
		return 1 / (1 + math.Exp(-float64(x)))
	}
	c2 = make([]float64, u)
	h = make([]float64, u)
	for j := 0; j < u; j++ {
		i, f, g, o := rec(z[j]), rec(z[u+j]), math.Tanh(float64(z[2*u+j])), rec(z[3*u+j])
		c2[j] = f*float64(c[j]) + i*g
		h[j] = o * math.Tanh(c2[j])
	}
	return c2, h
}

func TestLSTMGates(t *testing.T) {
	for _, isa := range testISAs(t) {
		restore := forceISA(t, isa)
		for _, u := range []int{1, 3, 7, 8, 9, 16, 31, 64, 128, 512, 515} {
			for _, gate := range []Gate{{Kind: GateSigmoid}, {Kind: GateHardSigmoid, Slope: 0.2}, {Kind: GateHardSigmoid, Slope: 1.0 / 6}} {
				t.Run(fmt.Sprintf("isa=%s/u=%d/%v", isa, u, gate), func(t *testing.T) {
					z := make([]float32, 4*u+5)
					c := make([]float32, u+3)
					h := make([]float32, u+3)
					for i := range z {
						z[i] = float32(math.Sin(float64(i)*1.7)*6 + math.Cos(float64(i)*0.3))
					}
					for i := range c {
						c[i] = float32(math.Sin(float64(i)*0.9) * 4)
					}
					if u > 4 {
						z[0], z[u], z[2*u], z[3*u] = float32(math.Inf(1)), float32(math.Inf(-1)), 50, -50
					}
					z0 := append([]float32(nil), z...)
					h[u], c[u] = sentinel, sentinel
					wc, wh := refLSTM(z, c, u, gate.Kind == GateHardSigmoid, gate.Slope)
					LSTMGates(z[:4*u], c[:u], h[:u], u, gate)
					for j := 0; j < u; j++ {
						if d := math.Abs(float64(c[j]) - wc[j]); d > 1e-6*max(1, math.Abs(wc[j])) {
							t.Errorf("c[%d] = %v, want %v", j, c[j], wc[j])
						}
						if d := math.Abs(float64(h[j]) - wh[j]); d > 1e-6 {
							t.Errorf("h[%d] = %v, want %v", j, h[j], wh[j])
						}
					}
					if h[u] != sentinel || c[u] != sentinel {
						t.Errorf("wrote past u")
					}
					for i := range z {
						if z[i] != z0[i] {
							t.Fatalf("z[%d] modified", i)
						}
					}
					// The generic version agrees.
					c2 := make([]float32, u)
					h2 := make([]float32, u)
					copy(c2, c) // c already advanced: run again from it
					cA := append([]float32(nil), c[:u]...)
					LSTMGates(z[:4*u], cA, h[:u], u, gate)
					recF := Sigmoid
					if gate.Kind == GateHardSigmoid {
						recF = func(x []float32) { HardSigmoid(x, gate.Slope) }
					}
					zs := append([]float32(nil), z[:4*u]...)
					LSTMGatesFunc(zs, c2, h2, u, Tanh, recF)
					for j := 0; j < u; j++ {
						if math.Abs(float64(c2[j]-cA[j])) > 1e-6*max(1, math.Abs(float64(cA[j]))) || math.Abs(float64(h2[j]-h[j])) > 1e-6 {
							t.Errorf("LSTMGatesFunc differs at %d: c %v/%v h %v/%v", j, c2[j], cA[j], h2[j], h[j])
						}
					}
				})
			}
		}
		restore()
	}
}

// TestActivationExhaustive checks every float32 with 2^-12 <= |x| < 32 (about
// 285M inputs per function and path; about a minute) against the bounds.
// It backs the numbers in act.go; run it with KERNELS_EXHAUSTIVE=1.
func TestActivationExhaustive(t *testing.T) {
	if os.Getenv("KERNELS_EXHAUSTIVE") == "" {
		t.Skip("set KERNELS_EXHAUSTIVE=1")
	}
	lo, hi := math.Float32bits(0x1p-12), math.Float32bits(32)
	const chunk = 1 << 20
	x := make([]float32, chunk)
	for _, isa := range testISAs(t) {
		restore := forceISA(t, isa)
		for _, ac := range actCases() {
			var maxAbs, maxRel float64
			for _, sign := range []uint32{0, 1 << 31} {
				for b := lo; b < hi; b += chunk {
					n := min(chunk, int(hi-b))
					for i := 0; i < n; i++ {
						x[i] = math.Float32frombits(sign | (b + uint32(i)))
					}
					y := append([]float32(nil), x[:n]...)
					ac.f32(y)
					for i := 0; i < n; i++ {
						want := ac.f64(float64(x[i]))
						d := math.Abs(float64(y[i]) - want)
						maxAbs = max(maxAbs, d)
						maxRel = max(maxRel, d/math.Abs(want))
					}
				}
			}
			t.Logf("%-8s isa=%-7s max abs err %.3g, max rel err %.3g", ac.name, isa, maxAbs, maxRel)
			if ac.name != "Exp" && maxAbs > ac.maxAbs || maxRel > ac.maxRel {
				t.Errorf("%s isa=%s: over the documented bound", ac.name, isa)
			}
		}
		restore()
	}
}

// TestAVX512MatchesAVX2Exhaustive checks that Exp, Sigmoid and Tanh give
// the same bits on the AVX-512 and AVX2 paths for every one of the 2^32
// float32 inputs (NaNs only as NaN): the two scale by 2^n differently
// (VSCALEFPS against two multiplies), and this is the proof that they
// round alike. About 30 s; run it with KERNELS_EXHAUSTIVE=1.
func TestAVX512MatchesAVX2Exhaustive(t *testing.T) {
	if os.Getenv("KERNELS_EXHAUSTIVE") == "" {
		t.Skip("set KERNELS_EXHAUSTIVE=1")
	}
	if isas := testISAs(t); !isaIn(isas, "avx512") || !isaIn(isas, "avx2") {
		t.Skip("needs both the AVX-512 and the AVX2 path")
	}
	const chunk = 1 << 22
	a, b := make([]float32, chunk), make([]float32, chunk)
	for _, ac := range actCases() {
		for base := uint64(0); base < 1<<32; base += chunk {
			for i := range a {
				a[i] = math.Float32frombits(uint32(base + uint64(i)))
			}
			copy(b, a)
			restore := forceISA(t, "avx512")
			ac.f32(a)
			restore()
			restore = forceISA(t, "avx2")
			ac.f32(b)
			restore()
			for i := range a {
				if math.Float32bits(a[i]) != math.Float32bits(b[i]) && !(a[i] != a[i] && b[i] != b[i]) {
					t.Fatalf("%s(%#08x): avx512 %v, avx2 %v", ac.name, base+uint64(i), a[i], b[i])
				}
			}
		}
	}
}

// TestRelu checks max(x, 0) on special values and random inputs, on both
// paths and on tails of every length below 20.
func TestRelu(t *testing.T) {
	nan := float32(math.NaN())
	special := []float32{-1, 0, 1, float32(math.Copysign(0, -1)), float32(math.Inf(1)), float32(math.Inf(-1)), -1e-45, 3e38, nan}
	want := []float32{0, 0, 1, 0, float32(math.Inf(1)), 0, 0, 3e38, nan}
	xs := sweepInputs()
	for _, isa := range testISAs(t) {
		restore := forceISA(t, isa)
		for n := 0; n <= len(special); n++ {
			x := append([]float32(nil), special[:n]...)
			Relu(x)
			for i, w := range want[:n] {
				if x[i] != w && !(w != w && x[i] != x[i]) {
					t.Errorf("isa=%s n=%d: Relu(%v) = %v, want %v", isa, n, special[i], x[i], w)
				}
			}
		}
		x := append([]float32(nil), xs...)
		Relu(x)
		for i, v := range xs {
			w := float64(v)
			if w < 0 {
				w = 0
			}
			if float64(x[i]) != w && v == v {
				t.Fatalf("isa=%s: Relu(%v) = %v", isa, v, x[i])
			}
		}
		restore()
	}
}

// TestLSTMGatesBlocks: the multi-block call gives, bit for bit, what
// LSTMGates gives block by block, on every path, for both gate kinds,
// widths that the vector kernels take (multiples of 16 and 8) and one that
// they do not; and the AVX-512 and AVX2 paths give the same bits.
func TestLSTMGatesBlocks(t *testing.T) {
	isas := testISAs(t)
	for _, rec := range []Gate{{Kind: GateSigmoid}, {Kind: GateHardSigmoid, Slope: 0.2}} {
		for _, w := range []int{8, 12, 16, 24, 32, 40} {
			for blocks := 1; blocks <= 4; blocks++ {
				r := rand.New(rand.NewPCG(uint64(w), uint64(blocks)))
				z := make([]float32, 4*w*blocks)
				c0 := make([]float32, w*blocks)
				for i := range z {
					z[i] = float32(r.NormFloat64() * 3)
				}
				for i := range c0 {
					c0[i] = float32(r.NormFloat64())
				}
				hs := map[string][]float32{}
				for _, isa := range isas {
					restore := forceISA(t, isa)
					c, h := append([]float32(nil), c0...), make([]float32, w*blocks)
					LSTMGatesBlocks(z, c, h, w, blocks, rec)
					wc, wh := append([]float32(nil), c0...), make([]float32, w*blocks)
					for k := 0; k < blocks; k++ {
						LSTMGates(z[4*w*k:4*w*(k+1)], wc[w*k:w*(k+1)], wh[w*k:w*(k+1)], w, rec)
					}
					restore()
					for i := range c {
						if c[i] != wc[i] || h[i] != wh[i] {
							t.Fatalf("%s kind %d w=%d blocks=%d unit %d: c=%v h=%v, block by block c=%v h=%v", isa, rec.Kind, w, blocks, i, c[i], h[i], wc[i], wh[i])
						}
					}
					hs[isa] = append(c, h...)
				}
				if a, b := hs["avx512"], hs["avx2"]; a != nil && b != nil {
					for i := range a {
						if math.Float32bits(a[i]) != math.Float32bits(b[i]) {
							t.Fatalf("kind %d w=%d blocks=%d: c|h[%d] = %v on avx512, %v on avx2", rec.Kind, w, blocks, i, a[i], b[i])
						}
					}
				}
			}
		}
	}
}
