package main

// gatherRowsKernel emits
//
//	gatherRowsAVX2(dst *float32, table *float32, ids *float32, n int, d int)
//
// For i < n it copies row int(ids[i]) of table (d floats wide, d ≥ 8) to
// row i of dst, 32 bytes at a time and the row's last 32 bytes last (they
// overlap the chunk before when 4d is not a multiple of 32). Before it
// copies row i it prefetches every cache line of row ids[i+gatherAhead]:
// an embedding's rows come from a table far larger than the caches, in the
// order of the tokens, and the prefetches keep several of those misses in
// flight where a plain copy waits on one row at a time. The ids are
// converted by truncation: the caller has checked that every one is an
// integer in range.
func (g *gen) gatherRowsKernel() {
	const gatherAhead = 8
	name := "gatherRowsAVX2"
	g.p("// func %s(dst *float32, table *float32, ids *float32, n int, d int)", name)
	g.p("TEXT ·%s(SB), NOSPLIT, $0-40", name)
	g.i("MOVQ dst+0(FP), DI")
	g.i("MOVQ table+8(FP), SI")
	g.i("MOVQ ids+16(FP), BX")
	g.i("MOVQ n+24(FP), CX")
	g.i("MOVQ d+32(FP), DX")
	g.i("SHLQ $2, DX")       // DX = row bytes
	g.i("LEAQ -32(DX), R12") // R12 = offset of the row's last 32 bytes
	g.i("XORQ R8, R8")       // R8 = i
	done, row, copyRow, pf, chunk, tail := g.newLabel("done_"), g.newLabel("row_"), g.newLabel("copy_"), g.newLabel("pf_"), g.newLabel("chunk_"), g.newLabel("tail_")
	g.i("TESTQ CX, CX")
	g.i("JZ %s", done)
	g.p("%s:", row)
	g.i("LEAQ %d(R8), R9", gatherAhead)
	g.i("CMPQ R9, CX")
	g.i("JGE %s", copyRow)
	rowAt := func(i string) { // R10 = the address of row ids[i]
		g.i("CVTTSS2SQ (BX)(%s*4), R10", i)
		g.i("IMULQ DX, R10")
		g.i("ADDQ SI, R10")
	}
	rowAt("R9")
	g.i("XORQ R11, R11")
	g.p("%s:", pf)
	g.i("PREFETCHT0 (R10)(R11*1)")
	g.i("ADDQ $64, R11")
	g.i("CMPQ R11, DX")
	g.i("JLT %s", pf)
	g.i("PREFETCHT0 -1(R10)(DX*1)") // the last line, when the row starts mid-line
	g.p("%s:", copyRow)
	rowAt("R8")
	g.i("XORQ R11, R11")
	g.p("%s:", chunk)
	g.i("CMPQ R11, R12")
	g.i("JGE %s", tail)
	g.i("VMOVUPS (R10)(R11*1), Y0")
	g.i("VMOVUPS Y0, (DI)(R11*1)")
	g.i("ADDQ $32, R11")
	g.i("JMP %s", chunk)
	g.p("%s:", tail)
	g.i("VMOVUPS (R10)(R12*1), Y0")
	g.i("VMOVUPS Y0, (DI)(R12*1)")
	g.i("ADDQ DX, DI")
	g.i("INCQ R8")
	g.i("CMPQ R8, CX")
	g.i("JLT %s", row)
	g.p("%s:", done)
	g.i("VZEROUPPER")
	g.i("RET")
	g.p("")
}
