package freelist

import (
	"sync"
	"testing"
)

// TestReuseAcrossGoroutines: an object put back on one goroutine is the
// one the next Get returns on another.
func TestReuseAcrossGoroutines(t *testing.T) {
	var l List[int]
	x := l.Get()
	done := make(chan struct{})
	go func() {
		l.Put(x)
		close(done)
	}()
	<-done
	if y := l.Get(); y != x {
		t.Fatal("an object put back on another goroutine was not reused")
	}
}

// TestNewAndBound: New makes what an empty list lacks, and the list keeps
// at most maxFree objects.
func TestNewAndBound(t *testing.T) {
	made := 0
	l := List[int]{New: func() *int { made++; return new(int) }}
	var xs []*int
	for range maxFree + 10 {
		xs = append(xs, l.Get())
	}
	if made != maxFree+10 {
		t.Fatalf("New made %d objects, want %d", made, maxFree+10)
	}
	for _, x := range xs {
		l.Put(x)
	}
	if len(l.free) != maxFree {
		t.Fatalf("the list keeps %d objects, want %d", len(l.free), maxFree)
	}
	for range maxFree {
		l.Get()
	}
	if made != maxFree+10 {
		t.Fatal("Get made an object while the list held some")
	}
}

// TestConcurrent exercises Get and Put from many goroutines (run with
// -race): no object is handed to two holders at once.
func TestConcurrent(t *testing.T) {
	var l List[int]
	var wg sync.WaitGroup
	for g := range 8 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range 1000 {
				x := l.Get()
				*x = g*1000 + i
				if *x != g*1000+i {
					t.Error("an object was shared")
				}
				l.Put(x)
			}
		}()
	}
	wg.Wait()
}
