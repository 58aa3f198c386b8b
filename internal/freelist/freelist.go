// Package freelist keeps objects for reuse across goroutines.
//
// A sync.Pool keeps a private entry per P that no other P can take, and
// drops what it holds at every other garbage collection: an object put back
// by a helper goroutine is then often not found by the caller, and a call
// that should reuse everything allocates now and then. A List is a bounded
// stack under a mutex instead: whatever is put back is found by the next
// Get, on any goroutine, until the list is full.
package freelist

import "sync"

// maxFree is the most objects a List keeps; more are left to the garbage
// collector.
const maxFree = 64

// List is a free list of *T. The zero value is ready to use; Get returns
// new(T) when the list is empty, or New() when New is set.
type List[T any] struct {
	mu   sync.Mutex
	free []*T
	New  func() *T
}

// Get takes an object off the list, or makes one.
func (l *List[T]) Get() *T {
	l.mu.Lock()
	if n := len(l.free); n > 0 {
		x := l.free[n-1]
		l.free[n-1] = nil
		l.free = l.free[:n-1]
		l.mu.Unlock()
		return x
	}
	l.mu.Unlock()
	if l.New != nil {
		return l.New()
	}
	return new(T)
}

// Put gives x back. Nothing may use x afterwards.
func (l *List[T]) Put(x *T) {
	l.mu.Lock()
	if len(l.free) < maxFree {
		l.free = append(l.free, x)
	}
	l.mu.Unlock()
}
