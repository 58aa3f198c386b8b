package kernels

import (
	"sync/atomic"
	"testing"
	"time"
)

// TestSplitWorthUnderContention: small pieces stay on one goroutine while
// the machine is marked contended, large ones are still split, and the
// mark expires.
func TestSplitWorthUnderContention(t *testing.T) {
	defer contendedUntil.Store(contendedUntil.Load())
	contendedUntil.Store(0)
	if Contended() || !SplitWorth(2, 1) {
		t.Fatal("a quiet machine must split any work")
	}
	defer lastSign.Store(lastSign.Load())
	lastSign.Store(0)
	markContended(time.Now().Add(-2 * confirmWithin))
	markContended(time.Now())
	if Contended() {
		t.Fatal("two signs far apart marked the machine contended")
	}
	markContended(time.Now())
	if !Contended() {
		t.Fatal("two signs close together did not mark the machine contended")
	}
	if SplitWorth(4, ContendedMinFlops-1) {
		t.Error("a short loop of small pieces is split on a contended machine")
	}
	if SplitWorth(1<<20, ContendedMinPiece-1) {
		t.Error("a long loop of tiny pieces is split on a contended machine")
	}
	if !SplitWorth(ContendedMinTotal/ContendedMinPiece, ContendedMinPiece) {
		t.Error("a long loop of medium pieces is not split on a contended machine")
	}
	if !SplitWorth(2, ContendedMinFlops) {
		t.Error("large pieces are not split on a contended machine")
	}
	contendedUntil.Store(time.Now().Add(-time.Millisecond).UnixNano())
	if Contended() {
		t.Error("the contention mark did not expire")
	}
}

// TestParallelForSlowIndex: an index that takes far longer than the rest
// (as on a descheduled helper) is waited for: every index has run, once,
// when ParallelFor returns.
func TestParallelForSlowIndex(t *testing.T) {
	defer contendedUntil.Store(contendedUntil.Load())
	for rep := 0; rep < 20; rep++ {
		var runs [8]atomic.Int32
		ParallelFor(len(runs), 2, func(i int) {
			if i == 1 {
				time.Sleep(2 * time.Millisecond)
			}
			runs[i].Add(1)
		})
		for i := range runs {
			if n := runs[i].Load(); n != 1 {
				t.Fatalf("rep %d: index %d ran %d times before ParallelFor returned", rep, i, n)
			}
		}
	}
}
