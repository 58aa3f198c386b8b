package parallel

import (
	"sync"
	"sync/atomic"
	"time"
)

// Contention. When another process keeps a core busy, a spinning helper is
// a CPU hog to the OS scheduler: it gets time slices of milliseconds, and a
// step that waits for an index the helper holds waits for the rest of the
// other process's slice. So the pool watches for it: a helper whose spin
// loop was descheduled (two polls far apart), a caller that waited long
// for a helper's index, or a thread that spent a quarter of its recent
// time waiting for a CPU (noteWaits), is a sign when another process's
// thread is runnable at that moment (othersRunnable: a stall of the whole
// VM is no sign); two signs within confirmWithin mark the machine
// contended for contendedFor.
// Meanwhile helpers park as soon as they run out of work (a parked thread
// that wakes is scheduled promptly, ahead of the busy process), with
// SetPinning a helper that joins a loop whose work is shared out as it
// goes runs off its caller's CPU (awayFrom), and Contended tells callers
// to keep work split finer than ContendedMinFlops on one goroutine
// (SplitWorth), or to share it in ways that never wait for a descheduled
// thread (ForDetached, layers' shared LSTM loop).
const (
	contendedFor = 50 * time.Millisecond
	preemptGap   = time.Millisecond // a poll gap that means descheduled
	longWait     = time.Millisecond // a caller wait, beyond 4 indices, that means the same
)

var (
	contendedUntil atomic.Int64 // unix nanoseconds
	lastSign       atomic.Int64 // unix nanoseconds of the last sign of contention
)

// confirmWithin is how close two signs of contention must come to mark
// the machine contended: another process taking a core gives signs every
// few ms, while a quiet VM gives a stray one now and then (a host hiccup),
// which alone would cost contendedFor of single-core steps.
const confirmWithin = 100 * time.Millisecond

// markContended records a sign of contention at now, if another process's
// thread is runnable now (othersRunnable), which tells a sign of contention
// from a stall of the whole virtual machine: a VM's vCPU that the host
// deschedules for a moment (steal time) stalls a helper just as another
// process would, but it does not make the guest run a thread that is not
// ours. Our own runnable threads are not counted: the Go runtime briefly
// runs more of them than GOMAXPROCS, and counting those would mark a quiet
// machine contended now and then. Where the count cannot be read every
// sign counts.
func markContended(now time.Time) {
	noteSign(now, othersRunnable())
}

// noteSign records a sign of contention at now when others holds, and
// marks the machine contended when the previous sign was recent.
func noteSign(now time.Time, others bool) {
	if !others {
		return
	}
	t := now.UnixNano()
	if prev := lastSign.Swap(t); prev != 0 && t-prev < int64(confirmWithin) {
		contendedUntil.Store(now.Add(contendedFor).UnixNano())
	}
}

// While the machine is contended, a parallel loop is worth it only when a
// stall on a descheduled helper (up to the other process's time slice, a
// few ms) is rare and small next to the loop: pieces of about a
// millisecond (ContendedMinFlops), or a long loop (ContendedMinTotal) of
// pieces that are not tiny (ContendedMinPiece), such as a convolution over
// the samples of a batch.
const (
	ContendedMinFlops = 64 << 20
	ContendedMinTotal = 256 << 20
	ContendedMinPiece = 4 << 20
)

// SplitWorth reports whether a loop of n pieces of flopsPerIndex each is
// worth spreading over helpers now: always, unless the machine is
// contended (see the constants above).
func SplitWorth(n, flopsPerIndex int) bool {
	if flopsPerIndex >= ContendedMinFlops || !Contended() {
		return true
	}
	return flopsPerIndex >= ContendedMinPiece && n*flopsPerIndex >= ContendedMinTotal
}

// Contention is what Contended reports: what the machine shows
// (ContentionMachine, the default), or, set by OverrideContention for a
// test, always contended (ContentionBusy) or never (ContentionQuiet).
type Contention int32

// The values of Contention.
const (
	ContentionMachine Contention = iota
	ContentionBusy
	ContentionQuiet
)

var contentionOverride atomic.Int32

// OverrideContention makes Contended report c from now on, for tests that
// check one way of splitting work, or count allocations, whatever else
// runs on the machine.
func OverrideContention(c Contention) { contentionOverride.Store(int32(c)) }

// Contended reports whether the pool has seen another process compete for
// the cores in the last contendedFor.
func Contended() bool {
	if o := contentionOverride.Load(); o != int32(ContentionMachine) {
		return o == int32(ContentionBusy)
	}
	until := contendedUntil.Load()
	if until == 0 {
		return false // the common case, without reading the clock
	}
	if time.Now().UnixNano() < until {
		return true
	}
	contendedUntil.CompareAndSwap(until, 0)
	return false
}

// Run-queue waits. The most direct sign that another process competes for
// the cores is the time our own threads spend runnable but not running,
// which Linux counts per thread (/proc/thread-self/schedstat). On a quiet
// machine it is a few % of their time (with GOMAXPROCS at most the
// cores); with one core of two kept busy by another process, close to
// half. A caller about to run a parallel loop, a helper that has just
// finished one and a long loop of its own (NoteWaits) read their own, at
// most once per waitEvery between all of them; a thread that waited more
// than a quarter of the time since its own previous reading gives a sign
// of contention. A reading costs about as much as a few system calls
// (BenchmarkThreadWait), and nothing where schedstat cannot be read.
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
