package main

import "math"

// ---------------------------------------------------------------------------
// Activations and the LSTM gates, four lanes (one Q register) at a time.
//
// The algorithms, constants and special values are those of the AVX2
// kernels (asmgen/main.go) and of the pure-Go versions in act.go; only the
// Cody-Waite reduction differs, as a fused multiply-subtract (FMLS) where
// the pure-Go code rounds the product first, which is at least as
// accurate. Constants are loaded where they are used (VMOVQ from the
// literal pool, a load that depends on nothing), which keeps the
// registers for the values: the loop iterations are independent, so the
// core overlaps their dependency chains.
//
// Instructions the Go assembler has no mnemonic for are written as WORDs
// (op3 and op2 below), with the instruction in a comment.

// Encodings of vector instructions on four single-precision (or 32-bit
// integer) lanes: the opcode with the register fields zero.
const (
	encFADD   = 0x4E20D400 // FADD Vd, Vn, Vm: Vn + Vm
	encFSUB   = 0x4EA0D400 // FSUB Vd, Vn, Vm: Vn - Vm
	encFMUL   = 0x6E20DC00 // FMUL Vd, Vn, Vm: Vn · Vm
	encFDIV   = 0x6E20FC00 // FDIV Vd, Vn, Vm: Vn / Vm
	encFMAX   = 0x4E20F400 // FMAX Vd, Vn, Vm: NaN if either is NaN
	encFMIN   = 0x4EA0F400 // FMIN Vd, Vn, Vm: NaN if either is NaN
	encFCMGT  = 0x6EA0E400 // FCMGT Vd, Vn, Vm: all ones where Vn > Vm
	encSUB    = 0x6EA08400 // SUB Vd, Vn, Vm (integer lanes): Vn - Vm
	encFRINTN = 0x4E218800 // FRINTN Vd, Vn: round to nearest, ties to even
	encFCVTZS = 0x4EA1B800 // FCVTZS Vd, Vn: to int32, toward zero
	encFABS   = 0x4EA0F800 // FABS Vd, Vn
	encSSHR   = 0x4F000400 // SSHR Vd, Vn, #s: immh:immb = 64-s in bits 16..22
)

var encNames = map[uint32]string{
	encFADD: "FADD", encFSUB: "FSUB", encFMUL: "FMUL", encFDIV: "FDIV",
	encFMAX: "FMAX", encFMIN: "FMIN", encFCMGT: "FCMGT", encSUB: "SUB",
	encFRINTN: "FRINTN", encFCVTZS: "FCVTZS", encFABS: "FABS",
}

// op3 emits a three-register vector instruction: Vd = Vn op Vm.
func (g *gen) op3(enc uint32, d, n, m int) {
	w := enc | uint32(m)<<16 | uint32(n)<<5 | uint32(d)
	g.i("WORD $0x%08x // %s V%d.S4, V%d.S4, V%d.S4", w, encNames[enc], d, n, m)
}

// op2 emits a two-register vector instruction: Vd = op Vn.
func (g *gen) op2(enc uint32, d, n int) {
	w := enc | uint32(n)<<5 | uint32(d)
	g.i("WORD $0x%08x // %s V%d.S4, V%d.S4", w, encNames[enc], d, n)
}

// sshr emits SSHR Vd.4S, Vn.4S, #s (arithmetic shift right, 1 <= s <= 32).
func (g *gen) sshr(d, n, s int) {
	w := uint32(encSSHR) | uint32(64-s)<<16 | uint32(n)<<5 | uint32(d)
	g.i("WORD $0x%08x // SSHR V%d.S4, V%d.S4, #%d", w, d, n, s)
}

// fmla: Vd += Vn·Vm (one rounding); fmls: Vd -= Vn·Vm.
func (g *gen) fmla(d, n, m int) { g.i("VFMLA V%d.S4, V%d.S4, V%d.S4", m, n, d) }
func (g *gen) fmls(d, n, m int) { g.i("VFMLS V%d.S4, V%d.S4, V%d.S4", m, n, d) }

// Integer lanes and bitwise operations, which the assembler has.
func (g *gen) addi(d, n, m int) { g.i("VADD V%d.S4, V%d.S4, V%d.S4", m, n, d) }
func (g *gen) shl(d, n, s int)  { g.i("VSHL $%d, V%d.S4, V%d.S4", s, n, d) }
func (g *gen) and(d, n, m int)  { g.i("VAND V%d.B16, V%d.B16, V%d.B16", m, n, d) }
func (g *gen) orr(d, n, m int)  { g.i("VORR V%d.B16, V%d.B16, V%d.B16", m, n, d) }
func (g *gen) mov(d, n int)     { g.orr(d, n, n) }
func (g *gen) zero(d int)       { g.i("VEOR V%d.B16, V%d.B16, V%d.B16", d, d, d) }

// bit: Vd = mask ? Vn : Vd, bit by bit.
func (g *gen) bit(d, n, mask int) { g.i("VBIT V%d.B16, V%d.B16, V%d.B16", mask, n, d) }

// konst loads v into every lane of Vd; ikonst loads the bit pattern u.
func (g *gen) konst(d int, v float32) {
	q := uint64(math.Float32bits(v))
	q |= q << 32
	g.i("VMOVQ $0x%016x, $0x%016x, V%d // %v", q, q, d, v)
}

func (g *gen) ikonst(d int, u uint32) {
	q := uint64(u)<<32 | uint64(u)
	g.i("VMOVQ $0x%016x, $0x%016x, V%d", q, q, d)
}

const (
	expHi       = 89.0   // exp(89) overflows float32 -> +Inf
	expLo       = -104.0 // exp(-104) is below half the smallest denormal -> 0
	expHiNormal = 88.0   // exp(88) < 2^127: 2^n is one normal float
	tanhSmall   = 0.625
)

// expRange says which input clamps an evaluation of exp needs, as in
// asmgen/main.go: any input, x <= 0 (the sigmoid's exp(-|x|)), or x >= 0
// whose result need only be large (tanh's exp(2|x|): clamped at
// expHiNormal and scaled in one step). Leaving out a clamp that cannot
// bind, or the two-step scale where one step cannot overflow, changes no
// bits.
type expRange int

const (
	expAny expRange = iota
	expNonPositive
	expNonNegative
)

// exp: Vx = e^Vx, with temporaries t[0..4] (t[0..3] for expNonNegative).
// Cody-Waite reduction x = n·ln2 + r, |r| <= ln2/2, the Cephes expf
// polynomial for e^r, and the scale by 2^n as 2^(n>>1)·2^(n-(n>>1)), so
// that denormal results and results up to the overflow threshold are
// formed without an intermediate overflow. FMAX and FMIN return NaN for a
// NaN input, which then runs through as NaN.
func (g *gen) exp(x int, t []int, rng expRange) {
	t1, t2, t3, t4 := t[0], t[1], t[2], t[3]
	if rng != expNonNegative {
		g.konst(t1, expLo)
		g.op3(encFMAX, x, x, t1)
	}
	switch rng {
	case expAny:
		g.konst(t1, expHi)
		g.op3(encFMIN, x, x, t1)
	case expNonNegative:
		g.konst(t1, expHiNormal)
		g.op3(encFMIN, x, x, t1)
	}
	// t1 = n = round(x·log2e)
	g.konst(t1, float32(math.Log2E))
	g.op3(encFMUL, t1, x, t1)
	g.op2(encFRINTN, t1, t1)
	// r = x - n·C1 - n·C2
	g.konst(t2, 0.693359375)
	g.fmls(x, t1, t2)
	g.konst(t2, -2.12194440e-4)
	g.fmls(x, t1, t2)
	// p(r) by Horner, alternating between t2 and t3.
	p, q := t2, t3
	g.konst(p, 1.9875691500e-4)
	for _, c := range []float32{1.3981999507e-3, 8.3334519073e-3, 4.1665795894e-2, 1.6666665459e-1, 5.0000001201e-1} {
		g.konst(q, c)
		g.fmla(q, p, x)
		p, q = q, p
	}
	// x = p·r² + r + 1
	g.op3(encFMUL, q, x, x)
	g.fmla(x, p, q)
	g.konst(q, 1)
	g.op3(encFADD, x, x, q)
	g.op2(encFCVTZS, t1, t1)
	g.ikonst(q, 127)
	if rng == expNonNegative {
		// 0 <= n <= 127: x = x · 2^n
		g.addi(t1, t1, q)
		g.shl(t1, t1, 23)
		g.op3(encFMUL, x, x, t1)
		return
	}
	t5 := t[4]
	// n1 = n>>1, n2 = n-n1, x = x · 2^n1 · 2^n2
	g.sshr(t4, t1, 1)
	g.op3(encSUB, t5, t1, t4)
	g.addi(t4, t4, q)
	g.addi(t5, t5, q)
	g.shl(t4, t4, 23)
	g.shl(t5, t5, 23)
	g.op3(encFMUL, x, x, t4)
	g.op3(encFMUL, x, x, t5)
}

// sigmoid: Vx = sigmoid(Vx), with temporaries t[0..5]. With e = exp(-|x|)
// the result is 1/(1+e) for x with the sign bit clear and e/(1+e) for x
// with it set, so that results for very negative x keep their relative
// accuracy down into the denormals.
func (g *gen) sigmoid(x int, t []int) {
	sel := t[5]
	g.sshr(sel, x, 31) // all ones where the sign bit is set
	g.ikonst(t[0], 0x80000000)
	g.orr(x, x, t[0]) // -|x|
	g.exp(x, t, expNonPositive)
	g.konst(t[0], 1)
	g.mov(t[1], t[0])
	g.bit(t[1], x, sel) // t1 = x < 0 ? e : 1
	g.op3(encFADD, x, x, t[0])
	g.op3(encFDIV, x, t[1], x)
}

// tanh: Vx = tanh(Vx), with temporaries t[0..6]. For |x| < 0.625 the odd
// polynomial x + x³·P(x²) (Cephes tanhf); otherwise
// sign(x)·(1 - 2/(exp(2|x|)+1)).
func (g *gen) tanh(x int, t []int) {
	big, mask := t[5], t[6]
	g.op2(encFABS, big, x)
	g.konst(t[0], tanhSmall)
	g.op3(encFCMGT, mask, t[0], big) // 0.625 > |x|; false for NaN
	g.op3(encFADD, big, big, big)
	g.exp(big, t, expNonNegative)
	// big = 1 - 2/(e+1)
	g.konst(t[0], 1)
	g.op3(encFADD, big, big, t[0])
	g.konst(t[1], 2)
	g.op3(encFDIV, big, t[1], big)
	g.op3(encFSUB, big, t[0], big)
	// small: z = x², t2 = x + (x·z)·P(z)
	g.op3(encFMUL, t[1], x, x)
	p, q := t[0], t[2]
	g.konst(p, -5.70498872745e-3)
	for _, c := range []float32{2.06390887954e-2, -5.37397155531e-2, 1.33314422036e-1, -3.33332819422e-1} {
		g.konst(q, c)
		g.fmla(q, p, t[1])
		p, q = q, p
	}
	g.op3(encFMUL, t[1], x, t[1])
	g.mov(q, x)
	g.fmla(q, p, t[1])
	// x = (mask ? small : big) | sign(x). The small branch already has the
	// sign of x except for -0, which the OR restores.
	g.ikonst(t[1], 0x80000000)
	g.and(t[1], x, t[1])
	g.bit(big, q, mask)
	g.orr(x, big, t[1])
}

// hardSigmoid: Vx = clamp(slope·x + 0.5, 0, 1), slope in every lane of
// Vslope, with temporary t. The product and the sum are rounded
// separately, as Keras and the pure-Go code do, so that every path gives
// the same bits.
func (g *gen) hardSigmoid(x, slope, t int) {
	g.op3(encFMUL, x, x, slope)
	g.konst(t, 0.5)
	g.op3(encFADD, x, x, t)
	g.zero(t)
	g.op3(encFMAX, x, x, t)
	g.konst(t, 1)
	g.op3(encFMIN, x, x, t)
}

// relu: Vx = max(x, 0), NaN kept (FMAX returns it), -0 to +0.
func (g *gen) relu(x, t int) {
	g.zero(t)
	g.op3(encFMAX, x, x, t)
}

func vregs(lo, hi int) []int {
	var r []int
	for i := lo; i <= hi; i++ {
		r = append(r, i)
	}
	return r
}

// actKernel emits func name(x *float32, n int): in place over n floats, n
// a multiple of 4, one vector per iteration.
func (g *gen) actKernel(name string, body func(x int, t []int)) {
	g.p("// func %s(x *float32, n int)", name)
	g.p("TEXT ·%s(SB), NOSPLIT, $0-16", name)
	g.i("MOVD x+0(FP), R0")
	g.i("MOVD n+8(FP), R1")
	g.i("LSR $2, R1, R1")
	done, loop := g.newLabel("done"), g.newLabel("loop")
	g.i("CBZ R1, %s", done)
	g.p("%s:", loop)
	g.i("VLD1 (R0), [V0.S4]")
	body(0, vregs(1, 7))
	g.i("VST1.P [V0.S4], 16(R0)")
	g.i("SUBS $1, R1, R1")
	g.i("BNE %s", loop)
	g.p("%s:", done)
	g.i("RET")
	g.p("")
}

// hardKernel emits func name(x *float32, n int, slope float32): the hard
// sigmoid in place over n floats, n a multiple of 4.
func (g *gen) hardKernel(name string) {
	g.p("// func %s(x *float32, n int, slope float32)", name)
	g.p("TEXT ·%s(SB), NOSPLIT, $0-20", name)
	g.i("MOVD x+0(FP), R0")
	g.i("MOVD n+8(FP), R1")
	g.i("FMOVS slope+16(FP), F31")
	g.i("VDUP V31.S[0], V31.S4")
	g.i("LSR $2, R1, R1")
	done, loop := g.newLabel("done"), g.newLabel("loop")
	g.i("CBZ R1, %s", done)
	g.p("%s:", loop)
	g.i("VLD1 (R0), [V0.S4]")
	g.hardSigmoid(0, 31, 1)
	g.i("VST1.P [V0.S4], 16(R0)")
	g.i("SUBS $1, R1, R1")
	g.i("BNE %s", loop)
	g.p("%s:", done)
	g.i("RET")
	g.p("")
}

// lstmKernel emits
//
//	func name(z *float32, u int, c *float32, h *float32, n int, slope float32, blocks int)
//
// with the contract of the AVX2 kernel of the same role: for `blocks`
// consecutive gate blocks of one batch row (each block of z holds
// [i f g o] pre-activations, each u long, blocks 4u apart), over the first
// n units of each block (n a multiple of 4): i, f, o = rec(z), g = tanh(z),
// c = f*c + i*g (one fused multiply-add onto i*g), h = o*tanh(c), with c
// and h advancing n per block. rec is the sigmoid or, when hard is set,
// the hard sigmoid with the given slope (held in V31).
//
// Registers: R0 the i gate, R4 the g gate, R1 u in bytes, R2 c, R3 h, R5
// the bytes from the end of a block's first n i-values to the next
// block's, R6 blocks left, R7 vectors left, R8 scratch.
func (g *gen) lstmKernel(name string, hard bool) {
	g.p("// func %s(z *float32, u int, c *float32, h *float32, n int, slope float32, blocks int)", name)
	g.p("TEXT ·%s(SB), NOSPLIT, $0-56", name)
	g.i("MOVD z+0(FP), R0")
	g.i("MOVD u+8(FP), R1")
	g.i("LSL $2, R1, R1")
	g.i("MOVD c+16(FP), R2")
	g.i("MOVD h+24(FP), R3")
	g.i("ADD R1<<1, R0, R4")
	// R5 = (4u - n) floats in bytes.
	g.i("LSL $2, R1, R5")
	g.i("MOVD n+32(FP), R8")
	g.i("SUB R8<<2, R5, R5")
	if hard {
		g.i("FMOVS slope+40(FP), F31")
		g.i("VDUP V31.S[0], V31.S4")
	}
	g.i("MOVD blocks+48(FP), R6")
	done, block, loop, next := g.newLabel("done"), g.newLabel("block"), g.newLabel("loop"), g.newLabel("next")
	g.i("CBZ R6, %s", done)
	g.p("%s:", block)
	g.i("MOVD n+32(FP), R7")
	g.i("LSR $2, R7, R7")
	g.i("CBZ R7, %s", next)
	g.p("%s:", loop)
	rec := func(x int, t []int) {
		if hard {
			g.hardSigmoid(x, 31, t[0])
		} else {
			g.sigmoid(x, t)
		}
	}
	// V0 = tanh(z_g) · rec(z_i)
	g.i("VLD1 (R4), [V0.S4]")
	g.tanh(0, vregs(1, 7))
	g.i("VLD1 (R0), [V8.S4]")
	rec(8, vregs(9, 14))
	g.op3(encFMUL, 0, 0, 8)
	// V8 = rec(z_f), V1 = rec(z_o)
	g.i("ADD R1, R0, R8")
	g.i("VLD1 (R8), [V8.S4]")
	rec(8, vregs(9, 14))
	g.i("ADD R1, R4, R8")
	g.i("VLD1 (R8), [V1.S4]")
	rec(1, vregs(2, 7))
	// c = f*c + i*g
	g.i("VLD1 (R2), [V15.S4]")
	g.fmla(0, 8, 15)
	g.i("VST1.P [V0.S4], 16(R2)")
	// h = o * tanh(c)
	g.tanh(0, vregs(8, 14))
	g.op3(encFMUL, 0, 0, 1)
	g.i("VST1.P [V0.S4], 16(R3)")
	g.i("ADD $16, R0, R0")
	g.i("ADD $16, R4, R4")
	g.i("SUBS $1, R7, R7")
	g.i("BNE %s", loop)
	g.p("%s:", next)
	g.i("ADD R5, R0, R0")
	g.i("ADD R5, R4, R4")
	g.i("SUBS $1, R6, R6")
	g.i("BNE %s", block)
	g.p("%s:", done)
	g.i("RET")
	g.p("")
}

// gruKernel emits
//
//	func name(x *float32, r *float32, h *float32, u int, n int, slope float32)
//
// with the contract of the AVX2 kernels of the same role (gruKernel in
// asmgen/gemvrows.go): the gates of a reset_after GRU step over the
// first n units of a row (n a multiple of 4), x the input projection's
// row [z | r | h~] and r the recurrent one, both 3u wide, only read:
// z = rec(x+r), g = rec(x_r+r_r), c = tanh(x_h + g*r_h), h = z*h + (1-z)*c,
// each operation rounded on its own as in the unfused step. rec is the
// sigmoid or, when hard is set, the hard sigmoid with the slope (in V31).
//
// Registers: R0 x's z part, R5 its r part, R6 its h~ part, R1 r's z part,
// R7 its r part, R8 its h part, R2 h, R3 u in bytes, R4 vectors left;
// z in V0 (temporaries V1..V7), g in V8 (V9..V14), c in V1 (V2..V8).
func (g *gen) gruKernel(name string, hard bool) {
	g.p("// func %s(x *float32, r *float32, h *float32, u int, n int, slope float32)", name)
	g.p("TEXT ·%s(SB), NOSPLIT, $0-44", name)
	g.i("MOVD x+0(FP), R0")
	g.i("MOVD r+8(FP), R1")
	g.i("MOVD h+16(FP), R2")
	g.i("MOVD u+24(FP), R3")
	g.i("LSL $2, R3, R3")
	g.i("ADD R3, R0, R5")
	g.i("ADD R3<<1, R0, R6")
	g.i("ADD R3, R1, R7")
	g.i("ADD R3<<1, R1, R8")
	if hard {
		g.i("FMOVS slope+40(FP), F31")
		g.i("VDUP V31.S[0], V31.S4")
	}
	g.i("MOVD n+32(FP), R4")
	g.i("LSR $2, R4, R4")
	done, loop := g.newLabel("done"), g.newLabel("loop")
	g.i("CBZ R4, %s", done)
	g.p("%s:", loop)
	rec := func(x int, t []int) {
		if hard {
			g.hardSigmoid(x, 31, t[0])
		} else {
			g.sigmoid(x, t)
		}
	}
	g.i("VLD1.P 16(R0), [V0.S4]")
	g.i("VLD1.P 16(R1), [V16.S4]")
	g.fadd(0, 0, 16)
	g.i("VLD1.P 16(R5), [V8.S4]")
	g.i("VLD1.P 16(R7), [V16.S4]")
	g.fadd(8, 8, 16)
	rec(0, vregs(1, 7))
	rec(8, vregs(9, 14))
	// c = tanh(x_h + g*r_h)
	g.i("VLD1.P 16(R8), [V1.S4]")
	g.op3(encFMUL, 1, 8, 1)
	g.i("VLD1.P 16(R6), [V16.S4]")
	g.fadd(1, 16, 1)
	g.tanh(1, vregs(2, 8))
	// h = z*h + (1-z)*c
	g.i("VLD1 (R2), [V2.S4]")
	g.op3(encFMUL, 2, 0, 2)
	g.konst(3, 1)
	g.op3(encFSUB, 3, 3, 0)
	g.op3(encFMUL, 3, 3, 1)
	g.fadd(2, 2, 3)
	g.i("VST1.P [V2.S4], 16(R2)")
	g.i("SUBS $1, R4, R4")
	g.i("BNE %s", loop)
	g.p("%s:", done)
	g.i("RET")
	g.p("")
}

// maxIntoKernel emits maxIntoNEON(dst *float32, src *float32, n int):
// dst[i] = FMAX(dst[i], src[i]) for i < n (a multiple of 4). FMAX gives
// Go's max on floats: NaN when either is NaN, and +0 for +0 and -0.
func (g *gen) maxIntoKernel() {
	name := "maxIntoNEON"
	g.p("// func %s(dst *float32, src *float32, n int)", name)
	g.p("TEXT ·%s(SB), NOSPLIT, $0-24", name)
	g.i("MOVD dst+0(FP), R0")
	g.i("MOVD src+8(FP), R1")
	g.i("MOVD n+16(FP), R2")
	g.i("LSR $2, R2, R2")
	done, loop := g.newLabel("done"), g.newLabel("loop")
	g.i("CBZ R2, %s", done)
	g.p("%s:", loop)
	g.i("VLD1 (R0), [V0.S4]")
	g.i("VLD1.P 16(R1), [V1.S4]")
	g.op3(encFMAX, 0, 0, 1)
	g.i("VST1.P [V0.S4], 16(R0)")
	g.i("SUBS $1, R2, R2")
	g.i("BNE %s", loop)
	g.p("%s:", done)
	g.i("RET")
	g.p("")
}

// actKernels emits the activation and LSTM kernels.
func (g *gen) actKernels() {
	g.actKernel("expNEON", func(x int, t []int) { g.exp(x, t, expAny) })
	g.actKernel("sigmoidNEON", g.sigmoid)
	g.actKernel("tanhNEON", g.tanh)
	g.actKernel("reluNEON", func(x int, t []int) { g.relu(x, t[0]) })
	g.hardKernel("hardSigmoidNEON")
	g.lstmKernel("lstmSigmoidNEON", false)
	g.lstmKernel("lstmHardNEON", true)
}

// gruKernels emits the GRU gate kernels.
func (g *gen) gruKernels() {
	g.gruKernel("gruSigmoidNEON", false)
	g.gruKernel("gruHardNEON", true)
}
