//go:build !linux

package kernels

// hugeFloats has no huge-page mapping off Linux: the Go heap is used.
func hugeFloats(n int) ([]byte, []float32) { return nil, nil }

func unmapWeights(mem []byte) {}
