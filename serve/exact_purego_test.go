//go:build purego || !amd64

package serve

// exactKernels: the portable kernels compute each sample the same way
// whatever the batch size, so batched outputs are bit-identical to a
// Predict of each request alone.
const exactKernels = true
