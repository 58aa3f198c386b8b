//go:build !arm64 || purego

package kernels

const hasNEON = false

func kernelNEON(rows, tiles, k int, a *float32, lda int, b *float32, c *float32, ldc int, acc int, pf *float32, bias *float32) {
	panic("kernels: no NEON kernels in this build")
}

func gemvNEON(k, kb int, a *float32, b *float32, c *float32, acc int, panels int, bias *float32) {
	panic("kernels: no NEON kernels in this build")
}

const hasRowsNEON = false

func gemvRowsNEON(k, kb int, a *float32, b *float32, c *float32, acc int, panels, stride int, bias *float32) {
	panic("kernels: no NEON kernels in this build")
}

func maxIntoNEON(dst *float32, src *float32, n int) { panic("kernels: no NEON kernels in this build") }

func gruSigmoidNEON(x *float32, r *float32, h *float32, u int, n int, slope float32) {
	panic("kernels: no NEON kernels in this build")
}

func gruHardNEON(x *float32, r *float32, h *float32, u int, n int, slope float32) {
	panic("kernels: no NEON kernels in this build")
}

func vecNEON(x []float32, f actKind) { panic("kernels: no NEON kernels in this build") }

func hardSigmoidNEON4(x []float32, slope float32) int {
	panic("kernels: no NEON kernels in this build")
}

func lstmGatesNEON(z, c, h []float32, u int, rec Gate) {
	panic("kernels: no NEON kernels in this build")
}

func lstmNEON(rec Gate, z *float32, u int, c *float32, h *float32, n, blocks int) {
	panic("kernels: no NEON kernels in this build")
}
