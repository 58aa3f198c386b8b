package kernels

import (
	"fmt"
	"math"
)

// Error bounds of the activations, against float64 math on the exact
// float32 input. The same algorithms run in the AVX-512 and AVX2 kernels
// (which give the same bits) and in the pure-Go fallback, and all meet the
// same bounds:
//
//	Exp      relative error ≤ 1.5e-7 (measured 8.5e-8, about 0.7 ulp) where
//	         the result is a normal float32; results under 2^-126 (x below
//	         -87.34) are formed by scaling and are within 2^-140 absolute.
//	Sigmoid  absolute error ≤ 1e-7 (measured 8.9e-8), relative ≤ 2.5e-7
//	         (measured 1.8e-7), for every input, tails included.
//	Tanh     absolute error ≤ 1e-7 (measured 7.9e-8), relative ≤ 2e-7
//	         (measured 1.4e-7).
//
// The measured figures are the maxima over every float32 with
// 2^-12 ≤ |x| < 32 (TestActivationExhaustive, KERNELS_EXHAUSTIVE=1) and a
// sweep of all magnitudes (TestActivationAccuracy, run always).
//
// Algorithms: Exp reduces x = n·ln2 + r (Cody-Waite, |r| ≤ ln2/2), evaluates
// the Cephes expf polynomial on r and scales by 2^n in two steps, so that
// denormal results and results near overflow need no special case (the
// AVX-512 path scales with one VSCALEFPS, which rounds the same: the same
// bits for all 2^32 inputs, TestAVX512MatchesAVX2Exhaustive). Sigmoid
// is 1/(1+e) for x ≥ 0 and e/(1+e) for x < 0, with e = Exp(-|x|). Tanh is
// the Cephes tanhf odd polynomial for |x| < 0.625 and
// sign(x)·(1 - 2/(Exp(2|x|)+1)) above.
//
// Special values: NaN stays NaN. Exp(+Inf)=+Inf, Exp(-Inf)=0, Exp(x)=+Inf for
// x > 88.7228 and 0 for x < -103.98. Sigmoid(+Inf)=1, Sigmoid(-Inf)=0;
// Sigmoid(x) is exactly 1 for x > 16.7, where 1/(1+e^-x) evaluated in float32
// is 1; for very negative x it follows e^x down into the denormals and is
// exactly 0 below -103.98 (naive float32 math gives 0 below -88.7).
// Tanh(±Inf)=±1, Tanh(x)=±1 exactly for |x| ≥ 9.1, Tanh(±0)=±0.

// Exp sets x[i] = e^x[i] for every element.
func Exp(x []float32) {
	vec(x, actExp)
}

// Sigmoid sets x[i] = 1/(1+e^-x[i]) for every element.
func Sigmoid(x []float32) {
	vec(x, actSigmoid)
}

// Relu sets x[i] = max(x[i], 0) for every element; NaN stays NaN.
func Relu(x []float32) {
	vec(x, actRelu)
}

// Tanh sets x[i] = tanh(x[i]) for every element.
func Tanh(x []float32) {
	vec(x, actTanh)
}

// HardSigmoid sets x[i] = clamp(slope*x[i] + 0.5, 0, 1), with the product
// and the sum each rounded to float32.
//
// Keras: Keras 2 uses slope 0.2 (backend.hard_sigmoid); Keras 3 computes
// relu6(x+3)/6, which is slope 1/6 up to rounding.
func HardSigmoid(x []float32, slope float32) {
	// Every path gives the same bits (one multiply, one add, two clamps),
	// so the vector kernels may share a slice with the scalar tail.
	n := 0
	if curISA == isaNEON {
		n = hardSigmoidNEON4(x, slope)
	}
	if useAVX512 {
		n = len(x) &^ 15
		if n > 0 {
			hardSigmoid512(&x[0], n, slope)
		}
	}
	if useAVX2 {
		if m := (len(x) - n) &^ 7; m > 0 {
			hardSigmoidAVX2(&x[n], m, slope)
			n += m
		}
	}
	for i, v := range x[n:] {
		x[n+i] = hardSigmoidGo(v, slope)
	}
}

type actKind uint8

const (
	actExp actKind = iota
	actSigmoid
	actTanh
	actRelu
)

// vec applies an activation in place: the vector kernel of the path in
// force (AVX-512: 16 lanes, AVX2: 8) over whole vectors and over a padded
// copy of the tail (so every element gets the same code), or the scalar Go
// function. The AVX-512 and AVX2 kernels run the same operations lane by
// lane and give the same bits.
func vec(x []float32, f actKind) {
	if curISA == isaNEON {
		vecNEON(x, f)
		return
	}
	if !useAVX2 {
		scalar := expGo
		switch f {
		case actSigmoid:
			scalar = sigmoidGo
		case actTanh:
			scalar = tanhGo
		case actRelu:
			scalar = reluGo
		}
		for i, v := range x {
			x[i] = scalar(v)
		}
		return
	}
	if useAVX512 {
		n16 := len(x) &^ 15
		if n16 > 0 {
			vec512(f, &x[0], n16)
		}
		if t := x[n16:]; len(t) > 0 {
			var buf [16]float32
			copy(buf[:], t)
			vec512(f, &buf[0], 16)
			copy(t, buf[:])
		}
		return
	}
	n8 := len(x) &^ 7
	if n8 > 0 {
		vecAVX2(f, &x[0], n8)
	}
	if t := x[n8:]; len(t) > 0 {
		var buf [8]float32
		copy(buf[:], t)
		vecAVX2(f, &buf[0], 8)
		copy(t, buf[:])
	}
}

// vecAVX2 calls the kernel directly (not through a func value), so that
// escape analysis sees the noescape pointers and buf stays on the stack.
func vecAVX2(f actKind, x *float32, n int) {
	switch f {
	case actExp:
		expAVX2(x, n)
	case actSigmoid:
		sigmoidAVX2(x, n)
	case actTanh:
		tanhAVX2(x, n)
	case actRelu:
		reluAVX2(x, n)
	}
}

// vec512 is vecAVX2 for the AVX-512 kernels (n a multiple of 16).
func vec512(f actKind, x *float32, n int) {
	switch f {
	case actExp:
		exp512(x, n)
	case actSigmoid:
		sigmoid512(x, n)
	case actTanh:
		tanh512(x, n)
	case actRelu:
		relu512(x, n)
	}
}

// GateKind names the recurrent (gate) activation of LSTMGates.
type GateKind uint8

const (
	// GateSigmoid is 1/(1+e^-x).
	GateSigmoid GateKind = iota
	// GateHardSigmoid is clamp(Slope*x+0.5, 0, 1) (Keras 2: Slope 0.2).
	GateHardSigmoid
)

// Gate is the recurrent activation used for the i, f and o gates.
type Gate struct {
	Kind  GateKind
	Slope float32 // GateHardSigmoid only
}

// LSTMGates does the element-wise part of one LSTM step for one batch row,
// with tanh as the cell activation: z holds the pre-activations
// [i | f | g | o] (each u long, Keras gate order i, f, c, o), c the cell
// state and h receives the output:
//
//	i, f, o = rec(z_i), rec(z_f), rec(z_o);  g = tanh(z_g)
//	c = f*c + i*g;  h = o*tanh(c)
//
// z is only read. c and h must not overlap z or each other. The result
// is that of the float32 formula with Sigmoid and Tanh as documented (the
// tests hold c within 1e-6 relative and h within 1e-6 absolute of float64).
func LSTMGates(z, c, h []float32, u int, rec Gate) {
	if len(z) < 4*u || len(c) < u || len(h) < u {
		panic(fmt.Sprintf("kernels: LSTMGates: len(z)=%d len(c)=%d len(h)=%d too short for u=%d", len(z), len(c), len(h), u))
	}
	if rec.Kind != GateSigmoid && rec.Kind != GateHardSigmoid {
		panic(fmt.Sprintf("kernels: LSTMGates: unknown gate kind %d", rec.Kind))
	}
	if curISA == isaNEON {
		lstmGatesNEON(z, c, h, u, rec)
		return
	}
	if useAVX2 {
		// Whole vectors, then the tail through the same kernel, on padded
		// copies (the AVX-512 and AVX2 kernels give the same bits).
		lanes := vecLanes()
		n := u &^ (lanes - 1)
		if n > 0 {
			lstmVec(rec, &z[0], u, &c[0], &h[0], n, 1)
		}
		if n < u {
			var zb [64]float32
			var cb, hb [16]float32
			t := u - n
			for g := 0; g < 4; g++ {
				copy(zb[lanes*g:lanes*g+t], z[g*u+n:g*u+u])
			}
			copy(cb[:], c[n:u])
			lstmVec(rec, &zb[0], lanes, &cb[0], &hb[0], lanes, 1)
			copy(c[n:u], cb[:t])
			copy(h[n:u], hb[:t])
		}
		return
	}
	for j := 0; j < u; j++ {
		var i, f, o float32
		if rec.Kind == GateSigmoid {
			i, f, o = sigmoidGo(z[j]), sigmoidGo(z[u+j]), sigmoidGo(z[3*u+j])
		} else {
			i, f, o = hardSigmoidGo(z[j], rec.Slope), hardSigmoidGo(z[u+j], rec.Slope), hardSigmoidGo(z[3*u+j], rec.Slope)
		}
		g := tanhGo(z[2*u+j])
		cj := f*c[j] + i*g
		c[j] = cj
		h[j] = o * tanhGo(cj)
	}
}

// lstmVec runs the LSTM kernel of the path in force: n is a multiple of
// its vector width (16 floats for AVX-512, 8 for AVX2).
func lstmVec(rec Gate, z *float32, u int, c *float32, h *float32, n, blocks int) {
	if useAVX512 {
		if rec.Kind == GateSigmoid {
			lstmSigmoid512(z, u, c, h, n, 0, blocks)
		} else {
			lstmHard512(z, u, c, h, n, rec.Slope, blocks)
		}
		return
	}
	lstmAVX2(rec, z, u, c, h, n, blocks)
}

func lstmAVX2(rec Gate, z *float32, u int, c *float32, h *float32, n, blocks int) {
	if rec.Kind == GateSigmoid {
		lstmSigmoidAVX2(z, u, c, h, n, 0, blocks)
	} else {
		lstmHardAVX2(z, u, c, h, n, rec.Slope, blocks)
	}
}

// LSTMGatesBlocks is LSTMGates over `blocks` consecutive gate blocks of w
// units: block k of z, z[4wk : 4w(k+1)], holds [i | f | g | o] of units
// wk..wk+w-1, whose c and h are c[wk : w(k+1)] and h[wk : w(k+1)]. The
// results are those of LSTMGates on each block; with AVX-512 and w a
// multiple of 16, or AVX2 and w a multiple of 8, it is one call, which
// keeps the core's pipelines full across blocks.
func LSTMGatesBlocks(z, c, h []float32, w, blocks int, rec Gate) {
	if blocks <= 0 {
		return
	}
	if len(z) < 4*w*blocks || len(c) < w*blocks || len(h) < w*blocks {
		panic(fmt.Sprintf("kernels: LSTMGatesBlocks: len(z)=%d len(c)=%d len(h)=%d too short for %d blocks of %d", len(z), len(c), len(h), blocks, w))
	}
	if rec.Kind != GateSigmoid && rec.Kind != GateHardSigmoid {
		panic(fmt.Sprintf("kernels: LSTMGatesBlocks: unknown gate kind %d", rec.Kind))
	}
	switch {
	case curISA == isaNEON && w%4 == 0:
		lstmNEON(rec, &z[0], w, &c[0], &h[0], w, blocks)
	case useAVX512 && w%16 == 0:
		lstmVec(rec, &z[0], w, &c[0], &h[0], w, blocks)
	case useAVX2 && w%8 == 0:
		lstmAVX2(rec, &z[0], w, &c[0], &h[0], w, blocks) // the same bits as AVX-512
	default:
		for k := 0; k < blocks; k++ {
			LSTMGates(z[4*w*k:4*w*(k+1)], c[w*k:w*(k+1)], h[w*k:w*(k+1)], w, rec)
		}
	}
}

// LSTMGatesFunc is LSTMGates for any pair of activations, given as in-place
// slice functions (act for the cell, rec for the gates). It runs them over
// the quarters of z, which it overwrites: z is scratch.
func LSTMGatesFunc(z, c, h []float32, u int, act, rec func([]float32)) {
	if len(z) < 4*u || len(c) < u || len(h) < u {
		panic(fmt.Sprintf("kernels: LSTMGatesFunc: len(z)=%d len(c)=%d len(h)=%d too short for u=%d", len(z), len(c), len(h), u))
	}
	rec(z[:2*u])
	act(z[2*u : 3*u])
	rec(z[3*u : 4*u])
	zi, zf, zg, zo := z[:u], z[u:2*u], z[2*u:3*u], z[3*u:4*u]
	c = c[:u]
	for j := range c {
		c[j] = zf[j]*c[j] + zi[j]*zg[j]
	}
	h = h[:u]
	copy(h, c)
	act(h)
	for j := range h {
		h[j] *= zo[j]
	}
}

// ---------------------------------------------------------------------------
// Scalar float32 versions: the same algorithms as the generated assembly
// (asmgen), used where AVX2/FMA is missing or the generic path is forced.

const (
	expHi     = 89.0
	expLo     = -104.0
	log2e     = float32(math.Log2E)
	expC1     = 0.693359375
	expC2     = -2.12194440e-4
	tanhSmall = 0.625
)

func expGo(x float32) float32 {
	if x != x {
		return x
	}
	if x < expLo {
		x = expLo
	} else if x > expHi {
		x = expHi
	}
	// Round to nearest even by adding and removing 1.5·2^23 (|x·log2e| ≤
	// 151 here); the conversions keep the compiler from fusing the steps.
	const magic = 0x1.8p23
	n := float32(float32(x*log2e)+magic) - magic
	r := float32(x - n*expC1) // n*expC1 is exact: expC1 has 9 bits
	r = float32(r - n*expC2)
	p := float32(1.9875691500e-4)
	p = p*r + 1.3981999507e-3
	p = p*r + 8.3334519073e-3
	p = p*r + 4.1665795894e-2
	p = p*r + 1.6666665459e-1
	p = p*r + 5.0000001201e-1
	p = p*(r*r) + r + 1
	ni := int32(n)
	n1 := ni >> 1
	n2 := ni - n1
	p *= math.Float32frombits(uint32(n1+127) << 23)
	return p * math.Float32frombits(uint32(n2+127)<<23)
}

func reluGo(x float32) float32 {
	if !(x > 0) && x == x {
		return 0
	}
	return x
}

func sigmoidGo(x float32) float32 {
	if math.Signbit(float64(x)) {
		e := expGo(x)
		return e / (1 + e)
	}
	return 1 / (1 + expGo(-x))
}

func tanhGo(x float32) float32 {
	ax := float32(math.Abs(float64(x)))
	if x == 0 {
		return x // keeps the sign of zero
	}
	if ax < tanhSmall {
		z := x * x
		p := float32(-5.70498872745e-3)
		p = p*z + 2.06390887954e-2
		p = p*z - 5.37397155531e-2
		p = p*z + 1.33314422036e-1
		p = p*z - 3.33332819422e-1
		return p*(z*x) + x
	}
	t := 1 - 2/(expGo(2*ax)+1)
	if x < 0 || math.Signbit(float64(x)) {
		return -t
	}
	return t
}

func hardSigmoidGo(x, slope float32) float32 {
	y := float32(slope*x) + 0.5
	// Comparisons, not min/max: NaN fails both and stays NaN.
	if y < 0 {
		return 0
	}
	if y > 1 {
		return 1
	}
	return y
}

// GRUGates runs the gates of one row of a reset_after GRU step (Keras's
// GRU v2, CuDNNGRU) with the activation tanh and rec the recurrent one:
// for j < u, with x the row [z | r | h~] of the input projection (input
// bias included) and r the row of h·U plus the recurrent bias, both 3u
// wide,
//
//	z = rec(x[j] + r[j]), g = rec(x[u+j] + r[u+j]),
//	c = tanh(x[2u+j] + g*r[2u+j]), h[j] = z*h[j] + (1-z)*c.
//
// x and r are only read. Every operation is rounded on its own, in that
// order, with the path's activations: on the x86 paths and in pure Go the
// result is the bits of computing the step one operation at a time
// (Sigmoid or HardSigmoid over the z and g values, the products and sums,
// Tanh, the update); the AVX2, AVX-512 and NEON kernels do it in one pass.
// It panics if a slice is too short.
func GRUGates(x, r, h []float32, u int, rec Gate) {
	if len(x) < 3*u || len(r) < 3*u || len(h) < u {
		panic(fmt.Sprintf("kernels: GRUGates: len(x)=%d len(r)=%d len(h)=%d too short for u=%d", len(x), len(r), len(h), u))
	}
	if rec.Kind != GateSigmoid && rec.Kind != GateHardSigmoid {
		panic(fmt.Sprintf("kernels: GRUGates: unknown gate kind %d", rec.Kind))
	}
	if u == 0 {
		return
	}
	if lanes := gruLanes(); lanes > 0 {
		n := u &^ (lanes - 1)
		if n > 0 {
			gruVec(rec, &x[0], &r[0], &h[0], u, n)
		}
		if n < u {
			// The tail through the same kernel, on padded copies.
			var xb, rb [48]float32
			var hb [16]float32
			t := u - n
			for g := 0; g < 3; g++ {
				copy(xb[lanes*g:lanes*g+t], x[g*u+n:g*u+u])
				copy(rb[lanes*g:lanes*g+t], r[g*u+n:g*u+u])
			}
			copy(hb[:], h[n:u])
			gruVec(rec, &xb[0], &rb[0], &hb[0], lanes, lanes)
			copy(h[n:u], hb[:t])
		}
		return
	}
	// Pure Go: the same operations in chunks of 16 units.
	var zg [32]float32
	var c [16]float32
	for j0 := 0; j0 < u; j0 += 16 {
		w := min(16, u-j0)
		z, g := zg[:w], zg[16:16+w]
		for j := range z {
			z[j] = x[j0+j] + r[j0+j]
			g[j] = x[u+j0+j] + r[u+j0+j]
		}
		if rec.Kind == GateSigmoid {
			Sigmoid(zg[:16+w])
		} else {
			HardSigmoid(zg[:16+w], rec.Slope)
		}
		cw := c[:w]
		for j := range cw {
			cw[j] = x[2*u+j0+j] + g[j]*r[2*u+j0+j]
		}
		Tanh(cw)
		hw := h[j0 : j0+w]
		for j, zj := range z {
			hw[j] = zj*hw[j] + (1-zj)*cw[j]
		}
	}
}

// gruLanes is the lanes of GRUGates's kernel on the path in force, or 0
// where there is none (pure Go).
func gruLanes() int {
	switch {
	case useAVX2:
		return vecLanes()
	case curISA == isaNEON:
		return 4
	}
	return 0
}

func gruVec(rec Gate, x, r, h *float32, u, n int) {
	hard := rec.Kind == GateHardSigmoid
	switch {
	case curISA == isaNEON && hard:
		gruHardNEON(x, r, h, u, n, rec.Slope)
	case curISA == isaNEON:
		gruSigmoidNEON(x, r, h, u, n, 0)
	case useAVX512 && hard:
		gruHard512(x, r, h, u, n, rec.Slope)
	case useAVX512:
		gruSigmoid512(x, r, h, u, n, 0)
	case hard:
		gruHardAVX2(x, r, h, u, n, rec.Slope)
	default:
		gruSigmoidAVX2(x, r, h, u, n, 0)
	}
}

// vecLanes is the float32 lanes of a vector register on the x86 path in
// force: 16 on AVX-512, 8 on AVX2.
func vecLanes() int {
	if useAVX512 {
		return 16
	}
	return 8
}
