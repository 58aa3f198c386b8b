//go:build !amd64 || purego

package kernels

const hasAVX2 = false

func kernelAVX2(rows, tiles, k int, a *float32, lda int, b *float32, c *float32, ldc int, acc int, pf *float32, bias *float32) {
	panic("kernels: no AVX2 kernels in this build")
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
func reluClipAVX2(dst *float32, src *float32, n int, top float32) { panic("kernels: no AVX2") }
func mulAddWindow3AVX2(o *float32, x *float32, k *float32, n8 int, cols int, ostep int, xstep int, kh int, cstep int, rnext int, kstep int) {
	panic("kernels: no AVX2")
}
