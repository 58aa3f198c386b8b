package kernels

import (
	"unsafe"

	"golang.org/x/sys/unix"
)

// hugeFloats maps n floats (rounded up to whole huge pages) at a 2 MiB
// boundary and asks for transparent huge pages there. It returns the whole
// mapping, for unmapWeights, and the floats; nil floats when the mapping
// fails (the caller falls back to the Go heap). The pages are zero until
// written; only the pages touched count in the resident set.
func hugeFloats(n int) ([]byte, []float32) {
	size := (n*4 + hugePage - 1) / hugePage * hugePage
	mem, err := unix.Mmap(-1, 0, size+hugePage, unix.PROT_READ|unix.PROT_WRITE, unix.MAP_PRIVATE|unix.MAP_ANONYMOUS)
	if err != nil {
		return nil, nil
	}
	off := int((hugePage - uintptr(unsafe.Pointer(&mem[0]))%hugePage) % hugePage)
	// Without THP (or with it off) the advice fails or is ignored: the
	// mapping still works with small pages.
	_ = unix.Madvise(mem[off:off+size], unix.MADV_HUGEPAGE)
	return mem, unsafe.Slice((*float32)(unsafe.Pointer(&mem[off])), n)
}

func unmapWeights(mem []byte) {
	_ = unix.Munmap(mem)
	hugeLive.Add(-1)
}
