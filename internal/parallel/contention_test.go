package parallel

import (
	goruntime "runtime"
	"sync/atomic"
	"testing"
	"time"

	"github.com/kerasrun/kerasrun/internal/race"
)

// TestForDetached: every index runs once, release is called once
// and only after every index has returned, and the caller does not wait
// for a helper stuck in an index.
func TestForDetached(t *testing.T) {
	defer goruntime.GOMAXPROCS(goruntime.GOMAXPROCS(2))
	var helped atomic.Int32
	for round := range 50 {
		const n = 2
		var ran [n]atomic.Int32
		var inside atomic.Int32
		var released atomic.Int32
		unblock := make(chan struct{})
		released1 := make(chan struct{})
		var callerIndex atomic.Int32
		callerIndex.Store(-1)
		caller := goid()
		fn := func(i int) {
			inside.Add(1)
			defer inside.Add(-1)
			ran[i].Add(1)
			if goid() != caller {
				helped.Add(1)
				<-unblock // a helper that the OS would have descheduled
				return
			}
			callerIndex.Store(int32(i))
			// Give a helper time to take the other index (on a loaded
			// machine it may wake late).
			for deadline := time.Now().Add(time.Second); ran[1-i].Load() == 0 && time.Now().Before(deadline); {
				goruntime.Gosched()
			}
		}
		release := func() {
			if inside.Load() != 0 {
				t.Errorf("round %d: release called while an index runs", round)
			}
			if released.Add(1) == 1 {
				close(released1)
			}
		}
		done := make(chan struct{})
		go func() {
			caller = goid()
			ForDetached(n, 2, fn, release)
			close(done)
		}()
		select {
		case <-done:
		case <-time.After(5 * time.Second):
			t.Fatalf("round %d: the caller waited for a helper stuck in an index", round)
		}
		close(unblock)
		<-released1
		for i := range ran {
			if c := ran[i].Load(); c != 1 {
				t.Fatalf("round %d: index %d ran %d times", round, i, c)
			}
		}
		// Let the helpers give the job back before the next round.
		for released.Load() != 1 || inside.Load() != 0 {
			goruntime.Gosched()
		}
	}
	if helped.Load() == 0 {
		t.Fatal("no helper ever ran an index: the test checked nothing")
	}
	// n <= 0 and one thread call release too.
	var calls atomic.Int32
	ForDetached(0, 2, func(int) {}, func() { calls.Add(1) })
	ForDetached(3, 1, func(int) {}, func() { calls.Add(1) })
	if calls.Load() != 2 {
		t.Fatalf("release called %d times for an empty loop and a loop on one thread, want 2", calls.Load())
	}
}

// goid returns an identifier of the calling goroutine (the address of a
// value on its stack's first frame would move; a goroutine-local marker is
// what the test needs): the stack's top frame differs per goroutine.
func goid() uint64 {
	var buf [64]byte
	n := goruntime.Stack(buf[:], false)
	var id uint64
	for _, c := range buf[len("goroutine "):n] {
		if c < '0' || c > '9' {
			break
		}
		id = 10*id + uint64(c-'0')
	}
	return id
}

func TestSchedstatWait(t *testing.T) {
	for _, c := range []struct {
		line string
		wait int64
		ok   bool
	}{
		{"1216803 0 1\n", 0, true},
		{"98765 43210 7", 43210, true},
		{"5", 0, false},
		{"", 0, false},
		{"1 2x 3", 0, false},
		{"1 99999999999999999999999 3", 0, false},
		{"  12 34\n", 34, true},
	} {
		w, ok := schedstatWait([]byte(c.line))
		if w != c.wait || ok != c.ok {
			t.Errorf("schedstatWait(%q) = %d, %v; want %d, %v", c.line, w, ok, c.wait, c.ok)
		}
	}
}

// TestWaitedMuch: a thread's wait counts when it grew by more than a
// quarter of the time since the same thread's previous reading, which
// must be recent; each thread is compared with its own readings.
func TestWaitedMuch(t *testing.T) {
	waitTab.mu.Lock()
	next, tids := waitTab.next, waitTab.tid
	waitTab.next, waitTab.tid = 0, [16]int32{}
	waitTab.mu.Unlock()
	defer func() { // forget the test's threads
		waitTab.mu.Lock()
		waitTab.next, waitTab.tid = next, tids
		waitTab.mu.Unlock()
	}()
	const ms = 1_000_000
	if waitedMuch(7, 0, 100*ms) {
		t.Fatal("a first reading counted")
	}
	if waitedMuch(7, 1*ms, 110*ms) {
		t.Fatal("1 ms of 10 counted")
	}
	if !waitedMuch(7, 4*ms, 120*ms) {
		t.Fatal("3 ms of 10 did not count")
	}
	if waitedMuch(8, 50*ms, 121*ms) {
		t.Fatal("another thread's first reading was compared with thread 7's")
	}
	if waitedMuch(7, 100*ms, 120*ms+waitWindow+1) {
		t.Fatal("a reading older than waitWindow was compared")
	}
	for tid := int32(100); tid < 140; tid++ { // more threads than the table holds
		waitedMuch(tid, 0, 200*ms)
	}
}

// TestThreadWait: on Linux the calling thread's run-queue wait reads,
// does not go backwards, and costs no allocation.
func TestThreadWait(t *testing.T) {
	if goruntime.GOOS != "linux" {
		t.Skip("reads /proc/thread-self/schedstat")
	}
	goruntime.LockOSThread()
	defer goruntime.UnlockOSThread()
	tid, w1, ok := threadWait()
	if !ok {
		t.Skip("no schedstat here")
	}
	for i := 0; i < 1e6; i++ {
	}
	tid2, w2, ok := threadWait()
	if !ok || tid2 != tid || w2 < w1 {
		t.Fatalf("threadWait: (%d, %d) then (%d, %d, %v)", tid, w1, tid2, w2, ok)
	}
	if race.Enabled {
		return
	}
	if a := testing.AllocsPerRun(20, func() { threadWait() }); a != 0 {
		t.Fatalf("threadWait makes %v allocations", a)
	}
}

// BenchmarkThreadWait times one reading of the calling thread's run-queue
// wait (noteWaits takes one at most every waitEvery).
func BenchmarkThreadWait(b *testing.B) {
	b.ReportAllocs()
	for b.Loop() {
		threadWait()
	}
}
