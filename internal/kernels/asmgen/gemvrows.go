package main

import "fmt"

// gemvRowsKernel emits
//
//	gemvRowsAVX2(k int, kb int, a *float32, b *float32, c *float32, acc int, panels int, stride int, bias *float32)
//	gemvRows512(...) (the same arguments, on ZMM registers)
//
// the batch-1 product over `panels` adjacent panels of one group of the
// row-interleaved layout (kernels.PackedB's rows copy): row p of panel j
// is the 16 floats at b + p*stride + 64*j bytes, so that one k step of the
// whole group is one contiguous run of memory and the product reads the
// group as a single stream, front to back. For each panel j,
// c[16j : 16j+16] (=|+=) a[0:k] · panel j, with k walked in blocks of kb
// and the modes of gemvKernel: within a block each output element is one
// sequential FMA chain from zero, so that the result is bit-identical to
// gemvKernel's and to the GEMM kernels' at every batch size.
//
// The panels run in sub-groups of maxG (8 on ZMM, one register a panel
// row; 4 on YMM, two), then halves of that, down to one: 8 independent
// chains in the full sub-group, fewer only at the edge of a group.
//
// Registers: accumulators 0..7 (Z or Y), broadcasts 8..11 (Y) or 16..19
// (Z); AX panels left, BX the sub-group's first panel, DX its C, DI its
// bias, R11 the row stride in bytes, R15 three rows, R12 and R13 rows 0
// and 3 of the current k step, SI a, R8 k left, R10 the block length, CX
// the loop counter, R9 the accumulate flag.
func (g *gen) gemvRowsKernel(zmm bool) {
	name, maxG, per, reg, bc0 := "gemvRowsAVX2", 4, 2, "Y", 8
	if zmm {
		name, maxG, per, reg, bc0 = "gemvRows512", 4, 1, "Z", 16
	}
	width := 64 / per // bytes per register
	g.p("// func %s(k int, kb int, a *float32, b *float32, c *float32, acc int, panels int, stride int, bias *float32)", name)
	g.p("TEXT ·%s(SB), NOSPLIT, $0-72", name)
	g.i("MOVQ b+24(FP), BX")
	g.i("MOVQ c+32(FP), DX")
	g.i("MOVQ bias+64(FP), DI")
	g.i("MOVQ panels+48(FP), AX")
	g.i("MOVQ stride+56(FP), R11")
	g.i("LEAQ (R11)(R11*2), R15")
	end := g.newLabel("end_")
	row := func(u, disp int) string {
		d := ""
		if disp != 0 {
			d = fmt.Sprint(disp)
		}
		return d + [4]string{"(R12)", "(R12)(R11*1)", "(R12)(R11*2)", "(R13)"}[u]
	}
	zero := func(r string) {
		if zmm {
			g.i("VPXORD %s, %s, %s", r, r, r)
		} else {
			g.i("VXORPS %s, %s, %s", r, r, r)
		}
	}
	group := func(G int) {
		acc := G * per
		g.i("MOVQ a+16(FP), SI")
		g.i("MOVQ k+0(FP), R8")
		g.i("MOVQ acc+40(FP), R9")
		g.i("MOVQ BX, R12")
		g.i("LEAQ (R12)(R15*1), R13")
		block := g.newLabel("block_")
		loop4, tail, loop1, store := g.newLabel("k4_"), g.newLabel("tail_"), g.newLabel("k1_"), g.newLabel("store_")
		g.p("%s:", block)
		g.i("MOVQ R8, R10")
		g.i("CMPQ R10, kb+8(FP)")
		g.i("CMOVQGT kb+8(FP), R10")
		g.i("SUBQ R10, R8")
		for z := 0; z < acc; z++ {
			zero(fmt.Sprintf("%s%d", reg, z))
		}
		step := func(u int) {
			bc := fmt.Sprintf("%s%d", reg, bc0+u)
			g.i("VBROADCASTSS %d(SI), %s", 4*u, bc)
			for z := 0; z < acc; z++ {
				g.i("VFMADD231PS %s, %s, %s%d", row(u, width*z), bc, reg, z)
			}
		}
		g.gemvKLoop(loop4, tail, loop1, store, nil, step, func(steps int) {
			if steps == 4 {
				g.i("LEAQ (R12)(R11*4), R12")
				g.i("LEAQ (R13)(R11*4), R13")
				return
			}
			g.i("ADDQ R11, R12")
			g.i("ADDQ R11, R13")
		})
		g.gemvStore(reg, acc, width)
		g.i("MOVQ $1, R9")
		g.i("TESTQ R8, R8")
		g.i("JNZ %s", block)
		// Next sub-group: G panels on in the row, in C and in the bias.
		g.i("ADDQ $%d, BX", 64*G)
		g.i("ADDQ $%d, DX", 64*G)
		g.i("ADDQ $%d, DI", 64*G)
		g.i("SUBQ $%d, AX", G)
	}
	var sizes []int
	for G := maxG; G >= 1; G /= 2 {
		sizes = append(sizes, G)
	}
	labels := map[int]string{}
	for _, G := range sizes {
		labels[G] = g.newLabel(fmt.Sprintf("r%d_", G))
	}
	for i, G := range sizes {
		next := end
		if i+1 < len(sizes) {
			next = labels[sizes[i+1]]
		}
		g.p("%s:", labels[G])
		g.i("CMPQ AX, $%d", G)
		g.i("JLT %s", next)
		group(G)
		if G == maxG {
			g.i("JMP %s", labels[G])
		}
	}
	g.p("%s:", end)
	g.i("VZEROUPPER")
	g.i("RET")
	g.p("")
}

// gemvKLoop emits the k loop of a block of the batch-1 kernels, R10 k
// steps: four at a time (after pre, the prefetches, when not nil), then
// one at a time, step(u) emitting k step u of four and adv(steps) moving
// the B pointers on by that many k steps (SI, a, moves here); it ends on
// the store label.
func (g *gen) gemvKLoop(loop4, tail, loop1, store string, pre func(), step func(u int), adv func(steps int)) {
	g.i("MOVQ R10, CX")
	g.i("SHRQ $2, CX")
	g.i("JZ %s", tail)
	g.p("%s:", loop4)
	if pre != nil {
		pre()
	}
	for u := 0; u < 4; u++ {
		step(u)
	}
	g.i("ADDQ $16, SI")
	adv(4)
	g.i("DECQ CX")
	g.i("JNZ %s", loop4)
	g.p("%s:", tail)
	g.i("MOVQ R10, CX")
	g.i("ANDQ $3, CX")
	g.i("JZ %s", store)
	g.p("%s:", loop1)
	step(0)
	g.i("ADDQ $4, SI")
	adv(1)
	g.i("DECQ CX")
	g.i("JNZ %s", loop1)
	g.p("%s:", store)
}

// gemvStore emits the end of a k block of the batch-1 kernels: the acc
// accumulators (reg0.., width bytes each) stored into C at DX, added to
// C, or added to the bias at DI, as the mode in R9 says (0, 1, 2).
func (g *gen) gemvStore(reg string, acc, width int) {
	over, addBias := g.newLabel("over_"), g.newLabel("bias_")
	g.i("TESTQ R9, R9")
	g.i("JZ %s", over)
	g.i("CMPQ R9, $2")
	g.i("JEQ %s", addBias)
	for z := 0; z < acc; z++ {
		g.i("VADDPS %d(DX), %s%d, %s%d", width*z, reg, z, reg, z)
	}
	g.i("JMP %s", over)
	g.p("%s:", addBias)
	for z := 0; z < acc; z++ {
		g.i("VADDPS %d(DI), %s%d, %s%d", width*z, reg, z, reg, z)
	}
	g.p("%s:", over)
	for z := 0; z < acc; z++ {
		g.i("VMOVUPS %s%d, %d(DX)", reg, z, width*z)
	}
}

// maxIntoKernel emits
//
//	maxIntoAVX2(dst *float32, src *float32, n int)
//
// dst[i] = max(dst[i], src[i]) for i < n (n a multiple of 8), with Go's
// max on floats: NaN when either is NaN, and +0 for max(+0, -0). VMAXPS
// alone returns its second operand for a NaN or two zeros; the blends fix
// both cases (equal operands give a AND b, which is +0 for ±0 and the value
// itself otherwise; a NaN in dst gives dst).
func (g *gen) maxIntoKernel() {
	name := "maxIntoAVX2"
	g.p("// func %s(dst *float32, src *float32, n int)", name)
	g.p("TEXT ·%s(SB), NOSPLIT, $0-24", name)
	g.i("MOVQ dst+0(FP), DI")
	g.i("MOVQ src+8(FP), SI")
	g.i("MOVQ n+16(FP), CX")
	g.i("SHRQ $3, CX")
	done, loop := g.newLabel("done_"), g.newLabel("loop_")
	g.i("JZ %s", done)
	g.p("%s:", loop)
	g.i("VMOVUPS (DI), Y0")
	g.i("VMOVUPS (SI), Y1")
	g.i("VMAXPS Y1, Y0, Y2")        // a > b ? a : b
	g.i("VANDPS Y1, Y0, Y3")        // a AND b
	g.i("VCMPPS $0, Y1, Y0, Y4")    // a == b
	g.i("VBLENDVPS Y4, Y3, Y2, Y2") // equal: a AND b
	g.i("VCMPPS $3, Y0, Y0, Y5")    // a is NaN
	g.i("VBLENDVPS Y5, Y0, Y2, Y2") // then a
	g.i("VMOVUPS Y2, (DI)")
	g.i("ADDQ $32, SI")
	g.i("ADDQ $32, DI")
	g.i("DECQ CX")
	g.i("JNZ %s", loop)
	g.p("%s:", done)
	g.i("VZEROUPPER")
	g.i("RET")
	g.p("")
}

// gruKernel emits the fused gates of a reset_after GRU step on YMM
// (gruSigmoidAVX2, gruHardAVX2) or ZMM registers (gruSigmoid512,
// gruHard512):
//
//	name(x *float32, r *float32, h *float32, u int, n int, slope float32)
//
// For j < n (a multiple of the lanes), with x the row [z | r | h~] of the
// input projection and r the row of h·U plus the recurrent bias, both
// 3u wide:
//
//	z = rec(x[j] + r[j]), g = rec(x[u+j] + r[u+j]),
//	c = tanh(x[2u+j] + g*r[2u+j]), h[j] = z*h[j] + (1-z)*c
//
// rec the sigmoid, or the hard sigmoid with the slope. The operations are
// those of the unfused step (layers' gruCell) in its order, with the
// activations' own emitters, so the result is the same, bit for bit; x and
// r are only read.
//
// Registers: SI x, DI r, DX h, R8 u in bytes, CX the loop counter; on YMM
// z in Y0 (temporaries Y1..Y6), g in Y8 (Y9..Y14), c in Y1 (Y2..Y8); on
// ZMM z in Z0 (Z1..Z7, K1), g in Z8 (Z9..Z15, K2), c in Z16 (Z17..Z23,
// K3).
func (g *gen) gruKernel(zmm, hard bool) {
	kind := "Sigmoid"
	if hard {
		kind = "Hard"
	}
	name, lanes := "gru"+kind+"AVX2", 8
	if zmm {
		name, lanes = "gru"+kind+"512", 16
	}
	g.p("// func %s(x *float32, r *float32, h *float32, u int, n int, slope float32)", name)
	g.p("TEXT ·%s(SB), NOSPLIT, $0-44", name)
	g.i("MOVQ x+0(FP), SI")
	g.i("MOVQ r+8(FP), DI")
	g.i("MOVQ h+16(FP), DX")
	g.i("MOVQ u+24(FP), R8")
	g.i("SHLQ $2, R8")
	g.i("MOVQ n+32(FP), CX")
	g.i("SHRQ $%d, CX", map[int]int{8: 3, 16: 4}[lanes])
	done, loop := g.newLabel("done_"), g.newLabel("loop_")
	g.i("JZ %s", done)
	g.p("%s:", loop)
	v := func(i int) string {
		if zmm {
			return fmt.Sprintf("Z%d", i)
		}
		return fmt.Sprintf("Y%d", i)
	}
	vs := func(lo, hi int) []string {
		if zmm {
			return zregs(lo, hi)
		}
		return regs(lo, hi)
	}
	rec := func(x string, t []string, k string) func() {
		return func() {
			switch {
			case hard && zmm:
				g.hardSigmoid512(x, "slope+40(FP)", t)
			case hard:
				g.hardSigmoid(x, "slope+40(FP)", t)
			case zmm:
				g.sigmoid512(x, t, k)
			default:
				g.sigmoid(x, t)
			}
		}
	}
	z, gr, c := v(0), v(8), v(1)
	zt, gt, ct := vs(1, 6), vs(9, 14), vs(2, 8)
	if zmm {
		c = v(16)
		zt, gt, ct = vs(1, 7), vs(9, 15), vs(17, 23)
	}
	// z and g: the sums, then the two activations interleaved.
	g.i("VMOVUPS (SI), %s", z)
	g.i("VADDPS (DI), %s, %s", z, z)
	g.i("VMOVUPS (SI)(R8*1), %s", gr)
	g.i("VADDPS (DI)(R8*1), %s, %s", gr, gr)
	if zmm {
		g.interleaveN(rec(z, zt, "K1"), rec(gr, gt, "K2"))
	} else {
		g.interleave(rec(z, zt, ""), rec(gr, gt, ""))
	}
	// c = tanh(x[2u+j] + g*r[2u+j])
	g.i("VMOVUPS (DI)(R8*2), %s", c)
	g.i("VMULPS %s, %s, %s", c, gr, c)
	g.i("VADDPS (SI)(R8*2), %s, %s", c, c)
	if zmm {
		g.tanh512(c, ct, "K3")
	} else {
		g.tanh(c, ct)
	}
	// h = z*h + (1-z)*c
	t0, t1 := v(2), v(3)
	if zmm {
		t0, t1 = v(24), v(25)
	}
	g.i("VMOVUPS (DX), %s", t0)
	g.i("VMULPS %s, %s, %s", t0, z, t0)
	if zmm {
		g.i("VBROADCASTSS %s, %s", g.c("one", 1), t1)
	} else {
		g.i("VMOVUPS %s, %s", g.c("one", 1), t1)
	}
	g.i("VSUBPS %s, %s, %s", z, t1, t1)
	g.i("VMULPS %s, %s, %s", c, t1, t1)
	g.i("VADDPS %s, %s, %s", t1, t0, t0)
	g.i("VMOVUPS %s, (DX)", t0)
	g.i("ADDQ $%d, SI", 4*lanes)
	g.i("ADDQ $%d, DI", 4*lanes)
	g.i("ADDQ $%d, DX", 4*lanes)
	g.i("DECQ CX")
	g.i("JNZ %s", loop)
	g.p("%s:", done)
	g.i("VZEROUPPER")
	g.i("RET")
	g.p("")
}
