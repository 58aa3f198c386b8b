package kernels

import (
	"runtime"
	"sync/atomic"
	"unsafe"
)

// Weight buffers. Packed weights are read whole at every recurrent step
// (4 MB per 512-unit LSTM layer), so that with 4 KiB pages each step walks
// about a thousand pages: more than the TLB holds once a model has a few
// such matrices, and each miss is a page walk in the middle of a stream
// that is already bound by L3 or memory bandwidth. Large buffers therefore
// live in their own mapping, aligned to 2 MiB and marked for transparent
// huge pages (madvise; Linux's default THP mode honours it), where the
// platform allows. Measured on the 2-vCPU VM of ../shared/perf, a batch-1
// product over 512x2048 weights, alternating in one process: 73 against
// 76 µs per product with one such matrix in use, 97 against 103 with two,
// 105 against 117 with three, 131 against 154 with four.

// hugeMin is the smallest buffer, in bytes, given huge pages: below it the
// rounding up to whole 2 MiB pages would cost more memory than the TLB
// saves. Larger buffers get them too only when the rounding adds at most an
// eighth (useHuge). A variable for the tests.
var hugeMin = 2 << 20

const hugePage = 2 << 20

// useHuge reports whether a buffer of bytes bytes goes to huge pages.
func useHuge(bytes int) bool {
	waste := (bytes+hugePage-1)/hugePage*hugePage - bytes
	return bytes >= hugeMin && waste*8 <= bytes
}

// hugeLive counts the huge-page mappings not yet released (tests).
var hugeLive atomic.Int64

// WeightFloats returns a zeroed buffer of n floats for weights that owner
// keeps for its lifetime: 64-byte aligned, and from a huge-page mapping
// when it is large (see above). Such a mapping is released when owner is
// garbage collected, so the buffer must not be used once owner is
// unreachable: keep owner alive (runtime.KeepAlive) across any use of the
// buffer that does not go through owner.
func WeightFloats[T any](owner *T, n int) []float32 {
	if useHuge(n * 4) {
		if mem, buf := hugeFloats(n); buf != nil {
			hugeLive.Add(1)
			runtime.AddCleanup(owner, unmapWeights, mem)
			return buf
		}
	}
	return alignedFloats(n)
}

// alignedFloats returns a zeroed slice of n floats whose first element is
// 64-byte (cache line) aligned.
func alignedFloats(n int) []float32 {
	buf := make([]float32, n+16)
	off := 0
	if n > 0 {
		addr := uintptr(unsafe.Pointer(&buf[0]))
		off = int((64 - addr%64) % 64 / 4)
	}
	return buf[off : off+n : off+n]
}
