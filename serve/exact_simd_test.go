//go:build !purego && amd64

package serve

// exactKernels: the SIMD kernels may round the last bit of a sample
// differently at different batch sizes (see the package doc).
const exactKernels = false
