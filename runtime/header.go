package runtime

import (
	"sync"
	"unsafe"
)

// Tensor headers are recycled as their data is: Empty, Zeros and View take
// a header from a free list, and Model.predict gives back the header of an
// intermediate tensor once its last reader has run, unless a live tensor,
// an input or a session state still is that header or holds its Shape. A
// header from the free list keeps its Shape in the header itself (rank 4
// or less), so that a tensor costs no allocation in steady state. Headers
// made any other way (a literal, NewTensor, Clone) are never given back.
//
// The free list is bounded: past maxFreeHeaders a header given back is
// left to the garbage collector.

const (
	inlineRank     = 4
	maxList        = 5 // a Bidirectional LSTM with return_state: 1 + 2×2
	maxFreeHeaders = 1024
)

var headers struct {
	mu   sync.Mutex
	free []*Tensor
}

// newHeader returns a header for a tensor of the given shape, marked as
// the runtime's, with Data and Mask nil.
func newHeader(shape []int) *Tensor {
	var t *Tensor
	headers.mu.Lock()
	if n := len(headers.free); n > 0 {
		t = headers.free[n-1]
		headers.free[n-1] = nil
		headers.free = headers.free[:n-1]
	}
	headers.mu.Unlock()
	if t == nil {
		t = &Tensor{}
		t.list[0] = t
		t.recyclable = true
	}
	if len(shape) <= inlineRank {
		t.Shape = t.dims[:len(shape):len(shape)]
	} else {
		t.Shape = make([]int, len(shape))
	}
	copy(t.Shape, shape)
	return t
}

// putHeader gives back a runtime header that nothing uses any more.
func putHeader(t *Tensor) {
	if !t.recyclable || t.list[0] != t {
		return
	}
	t.Shape, t.Data, t.Mask = nil, nil, nil
	clear(t.list[1:])
	headers.mu.Lock()
	if len(headers.free) < maxFreeHeaders {
		headers.free = append(headers.free, t)
	}
	headers.mu.Unlock()
}

// View returns a tensor of the given shape over data, which it shares:
// the header for a layer's output that is a view of other memory (a
// reshape, a recurrent layer's last step). It panics when the shape does
// not match len(data).
//
// For layer authors and the importer; a program that loads and runs models
// never calls it (see the package doc).
func View(data []float32, shape ...int) *Tensor {
	if numel(shape) != len(data) {
		panic("runtime: view of " + FormatShape(shape) + " over a different number of values")
	}
	t := newHeader(shape)
	t.Data = data
	return t
}

// One returns the list holding t alone, as Layer.Forward returns it. For a
// tensor from Empty, Zeros or View the list is kept in t itself, so that it
// costs no allocation; the caller must not modify it.
//
// For layer authors and the importer; a program that loads and runs models
// never calls it (see the package doc).
func One(t *Tensor) []*Tensor {
	if t.list[0] == t {
		return t.list[:1:1]
	}
	return []*Tensor{t}
}

// List returns the list of ts, as Layer.Forward returns several outputs.
// When ts[0] is a tensor that the caller made in this call with Empty,
// Zeros or View and has not handed on, and there are at most 5, the list
// is kept in ts[0] itself, so that it costs no allocation; the caller must
// not modify it.
//
// For layer authors and the importer; a program that loads and runs models
// never calls it (see the package doc).
func List(ts ...*Tensor) []*Tensor {
	if len(ts) == 0 {
		return nil
	}
	if t := ts[0]; t != nil && t.list[0] == t && len(ts) <= maxList {
		copy(t.list[1:], ts[1:])
		return t.list[:len(ts):len(ts)]
	}
	return append([]*Tensor(nil), ts...)
}

// sharesHeader reports whether live is the header h or its Shape lies in
// h's inline shape storage (a layer that gave its output its input's Shape,
// or a part of it).
func sharesHeader(h, live *Tensor) bool {
	if live == h {
		return true
	}
	if cap(live.Shape) == 0 {
		return false
	}
	p := uintptr(unsafe.Pointer(unsafe.SliceData(live.Shape)))
	lo := uintptr(unsafe.Pointer(&h.dims))
	return p >= lo && p < lo+unsafe.Sizeof(h.dims)
}
