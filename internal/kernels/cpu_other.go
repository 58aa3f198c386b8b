//go:build !amd64 || purego

package kernels

const (
	hasAVX2   = false
	hasAVX512 = false
)

func kernelAVX2(rows, tiles, k int, a *float32, lda int, b *float32, c *float32, ldc int, acc int, pf *float32, bias *float32) {
	panic("kernels: no AVX2 kernels in this build")
}

func kernel512x2(rows, tiles, k int, a *float32, lda int, b *float32, c *float32, ldc int, acc int, pf *float32, bias *float32, pstride int) {
	panic("kernels: no AVX-512 kernels in this build")
}

func kernel512(rows, tiles, k int, a *float32, lda int, b *float32, c *float32, ldc int, acc int, pf *float32, bias *float32) {
	panic("kernels: no AVX-512 kernels in this build")
}

// gemv runs the batch-1 kernel of the path in force: NEON, the only one
// outside amd64 (gemvNEON panics in a build without it).
func gemv(k, kb int, a *float32, b *float32, c *float32, acc int, panels int, bias *float32) {
	gemvNEON(k, kb, a, b, c, acc, panels, bias)
}

// rowsKernel reports whether the path in force has a batch-1 kernel for
// the row-interleaved copy (PackedB.AddRows).
func rowsKernel() bool { return hasRowsNEON && curISA == isaNEON }

// gemvRows runs the batch-1 kernel over part of a group of the
// row-interleaved copy (see cpu_amd64.go).
func gemvRows(k, kb int, a *float32, b *float32, c *float32, acc int, panels, stride int, bias *float32) {
	gemvRowsNEON(k, kb, a, b, c, acc, panels, stride, bias)
}

func gemvAVX2(k, kb int, a *float32, b *float32, c *float32, acc int, panels int, bias *float32) {
	panic("kernels: no AVX2 kernels in this build")
}

func expAVX2(x *float32, n int)                    { panic("kernels: no AVX2") }
func sigmoidAVX2(x *float32, n int)                { panic("kernels: no AVX2") }
func reluAVX2(x *float32, n int)                   { panic("kernels: no AVX2") }
func hardSigmoidAVX2(x *float32, n int, s float32) { panic("kernels: no AVX2") }
func tanhAVX2(x *float32, n int)                   { panic("kernels: no AVX2") }
func lstmSigmoidAVX2(z *float32, u int, c *float32, h *float32, n int, s float32, blocks int) {
	panic("kernels: no AVX2")
}
func lstmHardAVX2(z *float32, u int, c *float32, h *float32, n int, s float32, blocks int) {
	panic("kernels: no AVX2")
}
func mulAddColsAVX2(o *float32, x *float32, k *float32, n8 int, cols int, xstep int, ostep int) {
	panic("kernels: no AVX2")
}
func gruSigmoidAVX2(x *float32, r *float32, h *float32, u int, n int, slope float32) {
	panic("kernels: no AVX2")
}
func gruHardAVX2(x *float32, r *float32, h *float32, u int, n int, slope float32) {
	panic("kernels: no AVX2")
}
func gruSigmoid512(x *float32, r *float32, h *float32, u int, n int, slope float32) {
	panic("kernels: no AVX-512")
}
func gruHard512(x *float32, r *float32, h *float32, u int, n int, slope float32) {
	panic("kernels: no AVX-512")
}
func maxIntoAVX2(dst *float32, src *float32, n int)               { panic("kernels: no AVX2") }
func reluClipAVX2(dst *float32, src *float32, n int, top float32) { panic("kernels: no AVX2") }
func gatherRowsAVX2(dst *float32, table *float32, ids *float32, n int, d int) {
	panic("kernels: no AVX2")
}
func mulAddWindow3AVX2(o *float32, x *float32, k *float32, n8 int, cols int, ostep int, xstep int, kh int, cstep int, rnext int, kstep int) {
	panic("kernels: no AVX2")
}
func exp512(x *float32, n int)                    { panic("kernels: no AVX-512") }
func sigmoid512(x *float32, n int)                { panic("kernels: no AVX-512") }
func relu512(x *float32, n int)                   { panic("kernels: no AVX-512") }
func tanh512(x *float32, n int)                   { panic("kernels: no AVX-512") }
func hardSigmoid512(x *float32, n int, s float32) { panic("kernels: no AVX-512") }
func lstmSigmoid512(z *float32, u int, c *float32, h *float32, n int, s float32, blocks int) {
	panic("kernels: no AVX-512")
}
func lstmHard512(z *float32, u int, c *float32, h *float32, n int, s float32, blocks int) {
	panic("kernels: no AVX-512")
}
