package main

import (
	"fmt"
)

// ---------------------------------------------------------------------------
// AVX-512 kernels. They use AVX-512F instructions only (no DQ, BW or VL):
// the integer forms of the logic operations (VPANDD, VPORD, VPXORD),
// VRNDSCALEPS for rounding, and opmask registers with VBLENDMPS where the
// AVX2 kernels blend on sign bits. Constants are the 4-byte elements of the
// AVX2 constant vectors, broadcast by the instruction (.BCST) or by
// VBROADCASTSS.
//
// Each kernel runs, lane by lane, the operations of its AVX2 counterpart in
// the same order, so the two give the same bits: a row of a product is one
// FMA chain per element in both, and the activations are the same
// sequence of IEEE operations.

// rowAddrZ is rowAddr for tiles of up to 12 rows: rows 3q..3q+2 hang off
// base q (SI, DI, R11, R14: row 0, 3, 6 and 9 of the tile), R8 = lda in
// bytes.
func rowAddrZ(r int, disp int) string {
	base := [...]string{"SI", "DI", "R11", "R14"}[r/3]
	idx := ""
	switch r % 3 {
	case 1:
		idx = "(R8*1)"
	case 2:
		idx = "(R8*2)"
	}
	d := ""
	if disp != 0 {
		d = fmt.Sprint(disp)
	}
	return fmt.Sprintf("%s(%s)%s", d, base, idx)
}

// gemmKernel512 emits gemm512Kernel{mr}x16, with the arguments and the
// contract of gemmKernel{mr}x16 (see gemmKernel) for 1 <= mr <= 12. A tile
// row is one ZMM accumulator (Z0..Z11); the B row of each of the four
// unrolled k steps is loaded into Z28..Z31 and each FMA broadcasts its A
// element from memory (embedded broadcast), so a k step is one load of B
// and mr FMAs, each one chain per output element over k as in the AVX2
// kernels.
//
// With two set it emits gemm512Kernel{mr}x32 instead, the same over two
// panels at once, with one more argument:
//
//	gemm512Kernel{mr}x32(k int, a *float32, lda int, b *float32, c *float32,
//	                     ldc int, acc int, pf *float32, tiles int, bias *float32, pstride int)
//
// C[t*mr : t*mr+mr, 0:32] (=|+=) A · [panel at b | panel at b+pstride
// bytes]: a tile row is two accumulators (Z0..Z11 and Z12..Z23), a k step
// loads both B rows (Z24..Z27, alternating pairs) and broadcasts each A
// element once into a register (Z28..Z31 in turn) for its two FMAs: 14
// loads for 24 FMAs instead of 13 for 12. The FMAs and their order per
// output element are those of the x16 kernel, so the two give the same
// bits. pf points at the next pair's first panel; its second is
// prefetched at pf+pstride. bias holds 32 values.
//
// Registers: AX tiles left, R13 tile base of A, DX tile base of C,
// SI/DI/R11/R14 rows 0/3/6/9 of A (SI walks the C rows before and after
// the k loop), BX the panel, CX/R10 k counters, R8/R9 lda/ldc in bytes,
// R12 the prefetch pointer, R15 pstride (x32).
func (g *gen) gemmKernel512(mr int, two bool) {
	np := 1
	if two {
		np = 2
	}
	acc := func(r int) string { return fmt.Sprintf("Z%d", r) }
	name := fmt.Sprintf("gemm512Kernel%dx%d", mr, 16*np)
	if two {
		g.p("// func %s(k int, a *float32, lda int, b *float32, c *float32, ldc int, acc int, pf *float32, tiles int, bias *float32, pstride int)", name)
		g.p("TEXT ·%s(SB), NOSPLIT, $0-88", name)
		g.i("MOVQ pstride+80(FP), R15")
	} else {
		g.p("// func %s(k int, a *float32, lda int, b *float32, c *float32, ldc int, acc int, pf *float32, tiles int, bias *float32)", name)
		g.p("TEXT ·%s(SB), NOSPLIT, $0-80", name)
	}
	g.i("MOVQ a+8(FP), R13")
	g.i("MOVQ lda+16(FP), R8")
	g.i("SHLQ $2, R8")
	g.i("MOVQ c+32(FP), DX")
	g.i("MOVQ ldc+40(FP), R9")
	g.i("SHLQ $2, R9")
	g.i("MOVQ tiles+64(FP), AX")
	g.i("TESTQ AX, AX")
	end := g.newLabel("end_")
	g.i("JZ %s", end)
	tile := g.newLabel("tile_")
	g.p("%s:", tile)
	g.i("MOVQ k+0(FP), CX")
	g.i("MOVQ b+24(FP), BX")
	g.i("MOVQ BX, R12")
	g.i("CMPQ AX, $1")
	g.i("CMOVQEQ pf+56(FP), R12")
	// Prefetch the C tile (two lines a row, three for 32 columns: rows
	// need not be aligned).
	g.i("MOVQ DX, SI")
	for r := 0; r < mr; r++ {
		g.i("PREFETCHT0 (SI)")
		g.i("PREFETCHT0 60(SI)")
		if two {
			g.i("PREFETCHT0 124(SI)")
		}
		if r < mr-1 {
			g.i("ADDQ R9, SI")
		}
	}
	g.i("MOVQ R13, SI")
	bases := []string{"SI"}
	for q, reg := range []string{"DI", "R11", "R14"} {
		if mr > 3*(q+1) {
			g.i("LEAQ (%s)(R8*2), %s", bases[q], reg)
			g.i("ADDQ R8, %s", reg)
			bases = append(bases, reg)
		}
	}
	for r := 0; r < np*mr; r++ {
		z := r
		if r >= mr {
			z = 12 + r - mr
		}
		g.i("VPXORD %s, %s, %s", acc(z), acc(z), acc(z))
	}
	loop4, tail, loop1, store := g.newLabel("k4_"), g.newLabel("tail_"), g.newLabel("k1_"), g.newLabel("store_")
	step := func(u int) {
		if !two {
			b := fmt.Sprintf("Z%d", 28+u)
			g.i("VMOVUPS %d(BX), %s", 64*u, b)
			for r := 0; r < mr; r++ {
				g.i("VFMADD231PS.BCST %s, %s, %s", rowAddrZ(r, 4*u), b, acc(r))
			}
			return
		}
		b0, b1 := 24+2*(u%2), 25+2*(u%2)
		g.i("VMOVUPS %d(BX), Z%d", 64*u, b0)
		g.i("VMOVUPS %d(BX)(R15*1), Z%d", 64*u, b1)
		for r := 0; r < mr; r++ {
			t := 28 + r%4
			g.i("VBROADCASTSS %s, Z%d", rowAddrZ(r, 4*u), t)
			g.i("VFMADD231PS Z%d, Z%d, %s", b0, t, acc(r))
			g.i("VFMADD231PS Z%d, Z%d, %s", b1, t, acc(12+r))
		}
	}
	advance := func(bytes int) {
		for _, b := range bases {
			g.i("ADDQ $%d, %s", bytes, b)
		}
	}
	g.i("MOVQ CX, R10")
	g.i("SHRQ $2, R10")
	g.i("JZ %s", tail)
	body := func() {
		for u := 0; u < 4; u++ {
			step(u)
		}
		advance(16)
		g.i("ADDQ $256, BX")
		g.i("DECQ R10")
	}
	second := ""
	if two {
		second = "R15"
	}
	g.k4Loop(mr, loop4, tail, body, second)
	g.p("%s:", tail)
	g.i("ANDQ $3, CX")
	g.i("JZ %s", store)
	g.p("%s:", loop1)
	step(0)
	advance(4)
	g.i("ADDQ $64, BX")
	g.i("DECQ CX")
	g.i("JNZ %s", loop1)
	g.p("%s:", store)
	over, addBias := g.newLabel("over_"), g.newLabel("bias_")
	g.i("CMPQ acc+48(FP), $0")
	g.i("JEQ %s", over)
	g.i("CMPQ acc+48(FP), $2")
	g.i("JEQ %s", addBias)
	g.i("MOVQ DX, SI")
	for r := 0; r < mr; r++ {
		g.i("VADDPS (SI), %s, %s", acc(r), acc(r))
		if two {
			g.i("VADDPS 64(SI), %s, %s", acc(12+r), acc(12+r))
		}
		if r < mr-1 {
			g.i("ADDQ R9, SI")
		}
	}
	g.i("JMP %s", over)
	g.p("%s:", addBias)
	g.i("MOVQ bias+72(FP), R10")
	g.i("VMOVUPS (R10), Z28")
	if two {
		g.i("VMOVUPS 64(R10), Z29")
	}
	for r := 0; r < mr; r++ {
		g.i("VADDPS Z28, %s, %s", acc(r), acc(r))
		if two {
			g.i("VADDPS Z29, %s, %s", acc(12+r), acc(12+r))
		}
	}
	g.p("%s:", over)
	// Store the rows, leaving DX on the next tile's C.
	for r := 0; r < mr; r++ {
		g.i("VMOVUPS %s, (DX)", acc(r))
		if two {
			g.i("VMOVUPS %s, 64(DX)", acc(12+r))
		}
		g.i("ADDQ R9, DX")
	}
	// Next tile: mr rows down in A.
	g.i("IMUL3Q $%d, R8, R10", mr)
	g.i("ADDQ R10, R13")
	g.i("DECQ AX")
	g.i("JNZ %s", tile)
	g.p("%s:", end)
	g.i("VZEROUPPER")
	g.i("RET")
	g.p("")
}

// gemvKernel512 emits gemv512Kernel, with the arguments and the contract
// of gemvKernel: the batch-1 product over `panels` full panels, k walked
// in blocks of kb, each output element one FMA chain from zero within a
// block. A panel row is one ZMM register, so a group of 8 panels gives
// the 8 independent chains (then groups of 4, 2 and 1 for the rest).
//
// Registers: accumulators Z0..Z7, broadcasts Z16..Z19; AX panels left, BX
// the group's first panel, DX its C, R11 the panel stride in bytes,
// R12/R13/R14 panels 0, 3 and 6 of the group at the current k, SI a, R8 k
// left, R10 the block length, CX the loop counter, R9 the accumulate
// flag, DI the group's bias.
func (g *gen) gemvKernel512() {
	name := "gemv512Kernel"
	g.p("// func %s(k int, kb int, a *float32, b *float32, c *float32, acc int, panels int, bias *float32)", name)
	g.p("TEXT ·%s(SB), NOSPLIT, $0-64", name)
	g.i("MOVQ b+24(FP), BX")
	g.i("MOVQ c+32(FP), DX")
	g.i("MOVQ bias+56(FP), DI")
	g.i("MOVQ panels+48(FP), AX")
	g.i("MOVQ k+0(FP), R11")
	g.i("SHLQ $6, R11")
	end := g.newLabel("end_")
	// Panel j of a group: a base register and a scaled index.
	pan := func(j, disp int) string {
		base, idx := [8]string{"R12", "R12", "R12", "R13", "R12", "R13", "R14", "R13"}[j], [8]string{"", "(R11*1)", "(R11*2)", "", "(R11*4)", "(R11*2)", "", "(R11*4)"}[j]
		d := ""
		if disp != 0 {
			d = fmt.Sprint(disp)
		}
		return fmt.Sprintf("%s(%s)%s", d, base, idx)
	}
	group := func(G int) {
		g.i("MOVQ a+16(FP), SI")
		g.i("MOVQ k+0(FP), R8")
		g.i("MOVQ acc+40(FP), R9")
		g.i("MOVQ BX, R12")
		ptrs := []string{"R12"}
		if G > 3 {
			g.i("LEAQ (R12)(R11*2), R13")
			g.i("ADDQ R11, R13")
			ptrs = append(ptrs, "R13")
		}
		if G > 6 {
			g.i("LEAQ (R13)(R11*2), R14")
			g.i("ADDQ R11, R14")
			ptrs = append(ptrs, "R14")
		}
		block := g.newLabel("block_")
		loop4, tail, loop1, store := g.newLabel("k4_"), g.newLabel("tail_"), g.newLabel("k1_"), g.newLabel("store_")
		g.p("%s:", block)
		g.i("MOVQ R8, R10")
		g.i("CMPQ R10, kb+8(FP)")
		g.i("CMOVQGT kb+8(FP), R10")
		g.i("SUBQ R10, R8")
		for z := 0; z < G; z++ {
			g.i("VPXORD Z%d, Z%d, Z%d", z, z, z)
		}
		step := func(u int) {
			bc := fmt.Sprintf("Z%d", 16+u)
			g.i("VBROADCASTSS %d(SI), %s", 4*u, bc)
			for j := 0; j < G; j++ {
				g.i("VFMADD231PS %s, %s, Z%d", pan(j, 64*u), bc, j)
			}
		}
		advance := func(bytes int) {
			for _, p := range ptrs {
				g.i("ADDQ $%d, %s", bytes, p)
			}
		}
		g.gemvKLoop(loop4, tail, loop1, store, func() {
			for j := 0; j < G; j++ {
				for l := 0; l < 4; l++ {
					g.i("PREFETCHT0 %s", pan(j, 1024+64*l))
				}
			}
		}, step, func(steps int) { advance(64 * steps) })
		g.gemvStore("Z", G, 64)
		g.i("MOVQ $1, R9")
		g.i("TESTQ R8, R8")
		g.i("JNZ %s", block)
		// Next group: G panels on in B, 16*G floats on in C.
		for j := 0; j < G; j++ {
			g.i("ADDQ R11, BX")
		}
		g.i("ADDQ $%d, DX", 64*G)
		g.i("ADDQ $%d, DI", 64*G)
		g.i("SUBQ $%d, AX", G)
	}
	labels := map[int]string{}
	for _, G := range []int{8, 4, 2, 1} {
		labels[G] = g.newLabel(fmt.Sprintf("g%d_", G))
	}
	for _, G := range []int{8, 4, 2, 1} {
		next := end
		if G > 1 {
			next = labels[G/2]
		}
		g.p("%s:", labels[G])
		g.i("CMPQ AX, $%d", G)
		g.i("JLT %s", next)
		group(G)
		if G == 8 {
			g.i("JMP %s", labels[8])
		}
	}
	g.p("%s:", end)
	g.i("VZEROUPPER")
	g.i("RET")
	g.p("")
}

// ---------------------------------------------------------------------------
// AVX-512 activations: exp, sigmoid, tanh, hardSigmoid and relu of the
// AVX2 section on ZMM registers. Where the AVX2 code blends on a sign or
// compare mask in a vector register, these take an opmask register k.

// exp512 is exp on ZMM registers, with 5 temporaries (4 for
// expNonNegative).
func (g *gen) exp512(x string, t []string, rng expRange) {
	g.zmm = true
	defer func() { g.zmm = false }()
	g.exp(x, t, rng)
}

// sigmoid512 is sigmoid with 5 temporaries and the opmask k (x's sign).
func (g *gen) sigmoid512(x string, t []string, k string) {
	g.i("VPTESTMD.BCST %s, %s, %s", g.ic("signbit", 0x80000000), x, k)
	g.i("VPORD.BCST %s, %s, %s", g.ic("signbit", 0x80000000), x, x)
	g.exp512(x, t, expNonPositive)
	g.i("VBROADCASTSS %s, %s", g.c("one", 1), t[0])
	g.i("VBLENDMPS %s, %s, %s, %s", x, t[0], k, t[1]) // t1 = x<0 ? e : 1
	g.i("VADDPS %s, %s, %s", t[0], x, x)
	g.i("VDIVPS %s, %s, %s", x, t[1], x)
}

// tanh512 is tanh with 6 temporaries and the opmask k (|x| < 0.625).
func (g *gen) tanh512(x string, t []string, k string) {
	big := t[5]
	g.i("VPANDD.BCST %s, %s, %s", g.ic("absmask", 0x7fffffff), x, big)
	g.i("VCMPPS.BCST $1, %s, %s, %s", g.c("tanhSmall", tanhSmall), big, k)
	g.i("VADDPS %s, %s, %s", big, big, big)
	g.exp512(big, t, expNonNegative)
	g.i("VADDPS.BCST %s, %s, %s", g.c("one", 1), big, big)
	g.i("VBROADCASTSS %s, %s", g.c("two", 2), t[0])
	g.i("VDIVPS %s, %s, %s", big, t[0], big)
	g.i("VBROADCASTSS %s, %s", g.c("one", 1), t[0])
	g.i("VSUBPS %s, %s, %s", big, t[0], big)
	g.i("VMULPS %s, %s, %s", x, x, t[1])
	g.i("VBROADCASTSS %s, %s", g.c("tanhP0", -5.70498872745e-3), t[0])
	g.i("VFMADD213PS.BCST %s, %s, %s", g.c("tanhP1", 2.06390887954e-2), t[1], t[0])
	g.i("VFMADD213PS.BCST %s, %s, %s", g.c("tanhP2", -5.37397155531e-2), t[1], t[0])
	g.i("VFMADD213PS.BCST %s, %s, %s", g.c("tanhP3", 1.33314422036e-1), t[1], t[0])
	g.i("VFMADD213PS.BCST %s, %s, %s", g.c("tanhP4", -3.33332819422e-1), t[1], t[0])
	g.i("VMULPS %s, %s, %s", x, t[1], t[1])
	g.i("VFMADD213PS %s, %s, %s", x, t[1], t[0])
	g.i("VPANDD.BCST %s, %s, %s", g.ic("signbit", 0x80000000), x, t[1])
	g.i("VBLENDMPS %s, %s, %s, %s", t[0], big, k, x) // x = k ? small : big
	g.i("VPORD %s, %s, %s", t[1], x, x)
}

// hardSigmoid512 is hardSigmoid on ZMM registers, with 1 temporary; slope
// is a memory operand.
func (g *gen) hardSigmoid512(x, slope string, t []string) {
	g.zmm = true
	defer func() { g.zmm = false }()
	g.hardSigmoid(x, slope, t)
}

// relu512 is relu on ZMM registers.
func (g *gen) relu512(x string, t []string) {
	g.zmm = true
	defer func() { g.zmm = false }()
	g.relu(x, t)
}

func zregs(lo, hi int) []string {
	var r []string
	for i := lo; i <= hi; i++ {
		r = append(r, fmt.Sprintf("Z%d", i))
	}
	return r
}

// interleaveN emits the instructions of the bodies in turn, one of each
// at a time (see interleave); the bodies use disjoint registers.
func (g *gen) interleaveN(bodies ...func()) {
	ls := make([][]string, len(bodies))
	n := 0
	for i, b := range bodies {
		g.capture = &ls[i]
		b()
		n = max(n, len(ls[i]))
	}
	g.capture = nil
	for i := 0; i < n; i++ {
		for _, l := range ls {
			if i < len(l) {
				g.p("%s", l[i])
			}
		}
	}
}

// actKernel512 emits func name(x *float32, n int): in place over n floats,
// n a multiple of 16. Four vectors per iteration (registers Z0..Z7,
// Z8..Z15, Z16..Z23, Z24..Z31 and opmasks K1..K4, their instructions
// interleaved), then one at a time.
func (g *gen) actKernel512(name string, body func(x string, t []string, k string)) {
	g.p("// func %s(x *float32, n int)", name)
	g.p("TEXT ·%s(SB), NOSPLIT, $0-16", name)
	g.i("MOVQ x+0(FP), SI")
	g.i("MOVQ n+8(FP), CX")
	g.i("SHRQ $4, CX")
	g.i("MOVQ CX, DX")
	g.i("SHRQ $2, CX")
	done, loop, one, rest := g.newLabel("done_"), g.newLabel("loop_"), g.newLabel("one_"), g.newLabel("rest_")
	g.i("JZ %s", rest)
	g.p("%s:", loop)
	var bodies []func()
	for v := 0; v < 4; v++ {
		g.i("VMOVUPS %d(SI), Z%d", 64*v, 8*v)
		x, t, k := fmt.Sprintf("Z%d", 8*v), zregs(8*v+1, 8*v+7), fmt.Sprintf("K%d", v+1)
		bodies = append(bodies, func() { body(x, t, k) })
	}
	g.interleaveN(bodies...)
	for v := 0; v < 4; v++ {
		g.i("VMOVUPS Z%d, %d(SI)", 8*v, 64*v)
	}
	g.i("ADDQ $256, SI")
	g.i("DECQ CX")
	g.i("JNZ %s", loop)
	g.p("%s:", rest)
	g.i("ANDQ $3, DX")
	g.i("JZ %s", done)
	g.p("%s:", one)
	g.i("VMOVUPS (SI), Z0")
	body("Z0", zregs(1, 7), "K1")
	g.i("VMOVUPS Z0, (SI)")
	g.i("ADDQ $64, SI")
	g.i("DECQ DX")
	g.i("JNZ %s", one)
	g.p("%s:", done)
	g.i("VZEROUPPER")
	g.i("RET")
	g.p("")
}

// lstmKernel512 emits name with the arguments and the contract of
// lstmKernel, n a multiple of 16, 16 units per iteration.
func (g *gen) lstmKernel512(name string, hard bool) {
	g.p("// func %s(z *float32, u int, c *float32, h *float32, n int, slope float32, blocks int)", name)
	g.p("TEXT ·%s(SB), NOSPLIT, $0-56", name)
	g.i("MOVQ z+0(FP), SI")
	g.i("MOVQ u+8(FP), R8")
	g.i("SHLQ $2, R8")
	g.i("MOVQ c+16(FP), DX")
	g.i("MOVQ h+24(FP), DI")
	g.i("LEAQ (SI)(R8*2), R9")
	g.i("LEAQ (R8)(R8*2), R11")
	g.i("ADDQ R8, R11")
	g.i("MOVQ n+32(FP), R12")
	g.i("SHLQ $2, R12")
	g.i("SUBQ R12, R11")
	g.i("MOVQ blocks+48(FP), R10")
	done, block, loop, next := g.newLabel("done_"), g.newLabel("block_"), g.newLabel("loop_"), g.newLabel("next_")
	g.i("TESTQ R10, R10")
	g.i("JZ %s", done)
	g.p("%s:", block)
	g.i("MOVQ n+32(FP), CX")
	g.i("SHRQ $4, CX")
	g.i("JZ %s", next)
	g.p("%s:", loop)
	rec := func(x string, t []string, k string) func() {
		return func() {
			if hard {
				g.hardSigmoid512(x, "slope+40(FP)", t)
			} else {
				g.sigmoid512(x, t, k)
			}
		}
	}
	// g = tanh (Z0, Z1..Z7, K1), i = rec (Z8, Z9..Z15, K2), f = rec (Z16,
	// Z17..Z23, K3) and o = rec (Z24, Z25..Z31, K4), all four interleaved;
	// then c = f*c + i*g and h = o*tanh(c).
	g.i("VMOVUPS (R9), Z0")
	g.i("VMOVUPS (SI), Z8")
	g.i("VMOVUPS (SI)(R8*1), Z16")
	g.i("VMOVUPS (R9)(R8*1), Z24")
	g.interleaveN(func() { g.tanh512("Z0", zregs(1, 7), "K1") }, rec("Z8", zregs(9, 15), "K2"),
		rec("Z16", zregs(17, 23), "K3"), rec("Z24", zregs(25, 31), "K4"))
	g.i("VMULPS Z8, Z0, Z0")
	g.i("VMOVUPS (DX), Z15")
	g.i("VFMADD213PS Z0, Z16, Z15")
	g.i("VMOVUPS Z15, (DX)")
	g.i("VMOVUPS Z15, Z0")
	g.tanh512("Z0", zregs(8, 14), "K1")
	g.i("VMULPS Z24, Z0, Z0")
	g.i("VMOVUPS Z0, (DI)")
	g.i("ADDQ $64, SI")
	g.i("ADDQ $64, R9")
	g.i("ADDQ $64, DX")
	g.i("ADDQ $64, DI")
	g.i("DECQ CX")
	g.i("JNZ %s", loop)
	g.p("%s:", next)
	g.i("ADDQ R11, SI")
	g.i("ADDQ R11, R9")
	g.i("DECQ R10")
	g.i("JNZ %s", block)
	g.p("%s:", done)
	g.i("VZEROUPPER")
	g.i("RET")
	g.p("")
}

// avx512Kernels emits every AVX-512 kernel.
func (g *gen) avx512Kernels() {
	for mr := 1; mr <= 12; mr++ {
		g.gemmKernel512(mr, false)
	}
	g.gemvKernel512()
	g.actKernel512("exp512", func(x string, t []string, k string) { g.exp512(x, t, expAny) })
	g.actKernel512("sigmoid512", g.sigmoid512)
	g.actKernel512("tanh512", g.tanh512)
	g.actKernel512("relu512", func(x string, t []string, k string) { g.relu512(x, t) })
	g.hardKernel("hardSigmoid512", true)
	g.lstmKernel512("lstmSigmoid512", false)
	g.lstmKernel512("lstmHard512", true)
}
