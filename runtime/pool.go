package runtime

import (
	"math/bits"
	goruntime "runtime"
	"sync"
	"unsafe"
)

// Tensor memory is recycled: Zeros and Empty take their data from
// size-classed pools, and Model.predict gives back the data of an
// intermediate tensor once its last consumer has run, unless it overlaps
// memory still in use (an input, an output, or a live tensor that a layer
// such as Dropout or Reshape returned as a view). A model in steady state
// then reuses its intermediate buffers instead of allocating (and
// page-faulting) them on every call. Data never given back, such as the
// outputs returned to the caller, is garbage collected as usual. Layers
// take their own scratch memory from the same pools (Buffer, PutBuffer).
//
// The size classes have three significant bits (8, 10, 12, 14, 16, 20,
// ... floats), so a buffer wastes at most a quarter of its memory (a
// buffer of fewer than 8 floats takes 8).
// The pools hold a pointer to the first element of each array, so that
// putting one back does not allocate.

const (
	minPoolFloats = 8      // smaller buffers take a buffer of 8
	maxPoolShift  = 40 - 3 // larger ones are allocated as usual
	numClasses    = (maxPoolShift + 1) * 8
)

var bufPools [numClasses]sync.Pool

// poolClass returns the size class that holds n floats and its capacity,
// or -1 when n is not pooled.
func poolClass(n int) (class, size int) {
	if n <= 0 {
		return -1, n
	}
	n = max(n, minPoolFloats)
	shift := bits.Len(uint(n-1)) - 3
	if shift > maxPoolShift {
		return -1, n
	}
	k := (n-1)>>shift + 1 // 5..8 (8 at shift 0, n = 8)
	return shift*8 + k - 1, k << shift
}

// Buffer returns n floats with undefined contents from the pools. Give it
// back with PutBuffer when done, or let the garbage collector have it.
//
// For layer authors and the importer; a program that loads and runs models
// never calls it (see the package doc).
func Buffer(n int) []float32 {
	c, size := poolClass(n)
	if c < 0 {
		return make([]float32, n)
	}
	if p := shared[c].get(); p != nil {
		return unsafe.Slice((*float32)(p), size)[:n]
	}
	if p, ok := bufPools[c].Get().(unsafe.Pointer); ok {
		return unsafe.Slice((*float32)(p), size)[:n]
	}
	return make([]float32, n, size)
}

// PutBuffer gives b back for reuse by Buffer, Zeros and Empty. b must come
// from one of them, start at its first element, and nothing may use b or
// any slice of its array afterwards. Arrays that are not of a pooled
// capacity are left to the garbage collector.
//
// For layer authors and the importer; a program that loads and runs models
// never calls it (see the package doc).
func PutBuffer(b []float32) {
	n := cap(b)
	if c, size := poolClass(n); c >= 0 && size == n {
		p := unsafe.Pointer(unsafe.SliceData(b))
		if !shared[c].put(p) {
			bufPools[c].Put(p)
		}
	}
}

// Masks are pooled as data is, in the same size classes, so that the
// layers of a masked model (Masking, an Embedding with mask_zero, the
// merges) take their output masks from the pools and predict gives back
// the mask of a dead intermediate tensor that no live one shares.
var maskPools [numClasses]sync.Pool

// MaskBuffer returns n mask values with undefined contents from the pools.
// Give it back with PutMask when done, or let the garbage collector have
// it.
//
// For layer authors and the importer; a program that loads and runs models
// never calls it (see the package doc).
func MaskBuffer(n int) []bool {
	c, size := poolClass(n)
	if c < 0 {
		return make([]bool, n)
	}
	if p, ok := maskPools[c].Get().(unsafe.Pointer); ok {
		return unsafe.Slice((*bool)(p), size)[:n]
	}
	return make([]bool, n, size)
}

// PutMask gives m back for reuse by MaskBuffer, as PutBuffer does for
// data.
//
// For layer authors and the importer; a program that loads and runs models
// never calls it (see the package doc).
func PutMask(m []bool) {
	n := cap(m)
	if c, size := poolClass(n); c >= 0 && size == n {
		maskPools[c].Put(unsafe.Pointer(unsafe.SliceData(m)))
	}
}

// A sync.Pool keeps a private entry per P that other Ps cannot take: with
// two cores, a buffer given back by a helper was often not found by the
// caller, and allocated again (0.2 MB a call at batch 32). So each class
// first goes through a small stack shared by all Ps. The stacks are emptied
// into the sync.Pools at every garbage collection (gcDrain), so an unused
// buffer still ages out as a pooled one does.
const sharedDepth = 4

type sharedStack struct {
	mu sync.Mutex
	n  int
	p  [sharedDepth]unsafe.Pointer
}

var shared [numClasses]sharedStack

func (s *sharedStack) get() unsafe.Pointer {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.n == 0 {
		return nil
	}
	s.n--
	p := s.p[s.n]
	s.p[s.n] = nil
	return p
}

func (s *sharedStack) put(p unsafe.Pointer) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.n == sharedDepth {
		return false
	}
	s.p[s.n] = p
	s.n++
	return true
}

// gcDrain moves every shared buffer into its sync.Pool. It runs once per
// garbage collection, from the finalizer of an object it re-creates.
func gcDrain() {
	for c := range shared {
		for p := shared[c].get(); p != nil; p = shared[c].get() {
			bufPools[c].Put(p)
		}
	}
	armGCDrain()
}

type gcSentinel struct{ _ *int }

func armGCDrain() {
	goruntime.SetFinalizer(&gcSentinel{}, func(*gcSentinel) { gcDrain() })
}

func init() { armGCDrain() }

// Empty returns a tensor of the given shape whose data is NOT initialised:
// it may hold values from an earlier tensor. Use it only for an output
// that the layer overwrites entirely; otherwise use Zeros. It panics on a
// negative dimension.
//
// For layer authors and the importer; a program that loads and runs models
// never calls it (see the package doc).
func Empty(shape ...int) *Tensor {
	n := numel(shape)
	t := newHeader(shape)
	t.Data = Buffer(n)
	return t
}

func numel(shape []int) int {
	n := 1
	for _, d := range shape {
		if d < 0 {
			panic("runtime: negative dimension in shape " + FormatShape(shape))
		}
		n *= d
	}
	return n
}

// Recycle gives the data of t, a tensor the caller made (with Zeros,
// Empty or View) and no longer needs, back for reuse, and its header too.
// Nothing may use t or its data afterwards. The data is kept when it
// overlaps one of the live tensors (say a layer's input that an inner
// layer may have passed through), the header when a live tensor is t or
// holds its Shape.
//
// For layer authors and the importer; a program that loads and runs models
// never calls it (see the package doc).
func Recycle(t *Tensor, live ...*Tensor) {
	if t == nil {
		return
	}
	data, _, header := liveParts(t, nil, live)
	if cap(t.Data) > 0 && !data {
		PutBuffer(t.Data)
	}
	t.Data = nil
	if t.recyclable && !header {
		putHeader(t)
	}
}
