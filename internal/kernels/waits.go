package kernels

import (
	"sync"
	"sync/atomic"
	"time"
)

// Run-queue waits. The most direct sign that another process competes for
// the cores is the time our own threads spend runnable but not running,
// which Linux counts per thread (/proc/thread-self/schedstat). On a quiet
// machine it is about 1-2% of their time (with GOMAXPROCS at most the
// cores); with one core of two kept busy by another process, 40-50%
// (measured on the 2-vCPU VM of ../shared/perf, W1 and W3 under `yes`).
// A caller about to run a parallel loop, a helper that has just finished
// one and a shared loop as it commits steps (noteWaits) read their own, at
// most once per waitEvery between all of them; a thread that waited more
// than a quarter of the time since its own previous reading gives a sign
// of contention. A reading costs about 10 µs (BenchmarkThreadWait), so at
// most 0.2% of a core, and nothing where schedstat cannot be read. (At
// one reading per 2 ms, taken by a helper before its chunk, the 2-thread
// batch-1 steps of W3 and W2 ran a few % slower on a quiet machine.)
const (
	waitEvery  = 5_000_000   // ns between readings, over all threads
	waitWindow = 200_000_000 // ns: an older reading of the same thread is too old to compare
)

var (
	lastWaitRead atomic.Int64 // unix ns of the last reading
	waitTab      struct {
		mu   sync.Mutex
		next int
		tid  [16]int32
		wait [16]int64
		at   [16]int64
	}
)

// NoteWaits is noteWaits for loops that run long without a parallel loop
// of their own (layers' shared LSTM loop, at each step): it keeps the
// contention mark (Contended) up to date while they run. It costs a clock
// read when a reading is not due.
func NoteWaits() { noteWaits(time.Now()) }

// noteWaits reads the calling thread's run-queue wait when no thread has
// for waitEvery, and counts a sign of contention (markContended) when the
// thread waited for more than a quarter of the time since its previous
// reading. Like the other signs, it counts only while another process's
// thread is runnable (our own threads wait too when the Go runtime runs
// more of them than there are cores: its garbage collector's, while a
// model loads), and it takes two signs within confirmWithin.
func noteWaits(now time.Time) {
	ns := now.UnixNano()
	last := lastWaitRead.Load()
	if ns-last < waitEvery || !lastWaitRead.CompareAndSwap(last, ns) {
		return
	}
	tid, wait, ok := threadWait()
	if ok && waitedMuch(int32(tid), wait, ns) {
		markContended(now)
	}
}

// waitedMuch records thread tid's run-queue wait at now and reports
// whether it grew by more than a quarter of the time since the thread's
// previous record (when that is recent).
func waitedMuch(tid int32, wait, now int64) bool {
	t := &waitTab
	t.mu.Lock()
	defer t.mu.Unlock()
	i := -1
	for k, id := range t.tid {
		if id == tid {
			i = k
			break
		}
	}
	much := false
	if i >= 0 {
		if dt := now - t.at[i]; dt > 0 && dt <= waitWindow {
			much = 4*(wait-t.wait[i]) > dt
		}
	} else {
		i = t.next
		t.next = (t.next + 1) % len(t.tid)
		t.tid[i] = tid
	}
	t.wait[i], t.at[i] = wait, now
	return much
}
