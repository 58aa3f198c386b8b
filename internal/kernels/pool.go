package kernels

import (
	goruntime "runtime"
	"sync"
	"sync/atomic"
	"time"

	"github.com/kerasrun/kerasrun/internal/freelist"
)

// The helpers of ParallelFor are long-lived goroutines. A helper that has
// just finished some work spins for spinFor (checking for a new job and
// yielding its P between checks) before it parks on a channel, so that the
// next parallel region of the same Predict, typically tens of µs away,
// finds it awake. Waking a parked goroutine onto an idle core costs tens
// of µs on a VM (65 µs measured on the 2-vCPU EPYC VM of ../shared/perf):
// more than a batch-1 recurrent step takes. The spin is bounded, so an idle
// process burns at most spinFor per helper after its last parallel region,
// and nobody ever waits on a helper that is not running: the caller claims
// work itself and only waits for chunks a helper has already started.
var spinFor = 200 * time.Microsecond

// callerSpin is how long the caller polls for a helper's last chunk before
// it blocks.
const callerSpin = 30 * time.Microsecond

// Contention. When another process keeps a core busy, a spinning helper is
// a CPU hog to the OS scheduler: it gets time slices of milliseconds, and a
// step that waits for a chunk the helper holds waits for the rest of the
// other process's slice. So the pool watches for it: a helper whose spin
// loop was descheduled (two polls far apart), a caller that waited long
// for a helper's chunk, or a thread that spent a quarter of its recent
// time waiting for a CPU (noteWaits), is a sign when another process's
// thread is runnable at that moment (othersRunnable: a stall of the whole
// VM is no sign); two signs within confirmWithin mark the machine
// contended for contendedFor.
// Meanwhile helpers park as soon as they run out of work (a parked thread
// that wakes is scheduled promptly, ahead of the busy process), a helper
// that joins a loop whose work is shared out as it goes runs off its
// caller's CPU (awayFrom), and Contended tells callers to keep work split
// finer than ContendedMinFlops on one goroutine (SplitWorth), or to share
// it in ways that never wait for a descheduled thread
// (ParallelForDetached, layers' shared LSTM loop).
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
// which alone would cost 50 ms of single-core steps.
const confirmWithin = 100 * time.Millisecond

// markContended records a sign of contention at now, if another process's
// thread is runnable now (othersRunnable), which tells a sign of contention
// from a stall of the whole virtual machine: a VM's vCPU that the host
// deschedules for a moment (steal time) stalls a helper just as another
// process would, but it does not make the guest run a thread that is not
// ours. Our own runnable threads are not counted: the Go runtime briefly
// runs more of them than GOMAXPROCS, and counting those against GOMAXPROCS
// (as this once did) marked a quiet machine contended once or twice a
// second, each time putting 50 ms of steps on one core. Where the count
// cannot be read every sign counts.
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
// the samples of a batch. (Splitting the W3 batch-32 step, 4 pieces of
// 17 MFLOP, ran slower on a busy machine than one goroutine.)
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

type workerPool struct {
	mu      sync.Mutex
	jobs    []*parJob    // jobs that may still have unclaimed indices
	pending atomic.Int32 // len(jobs), read without the lock
	helpers int          // helpers started (never stopped)
	working atomic.Int32 // helpers inside a job
	parked  atomic.Int32 // helpers blocked on wake
	wake    chan struct{}
}

var pool = workerPool{wake: make(chan struct{}, 1024)}

type parJob struct {
	// ends holds the unclaimed indices [lo, hi) as hi<<32 | lo (see claim).
	ends       atomic.Uint64
	n          int32
	maxHelpers int32 // helpers that may join (threads-1)
	helpers    int32 // helpers in the job now; under pool.mu
	joined     int32 // helpers that have joined so far; under pool.mu
	removed    bool  // taken off pool.jobs; under pool.mu
	fin        chan struct{}
	fn         func(i int)
	// release, set by ParallelForDetached, is called once the last index
	// has returned; orphan is set (under pool.mu) when the caller left
	// before a helper did, which then calls release itself.
	release func()
	orphan  bool
	// avoid is the caller's CPU, or -1: the helpers that join run off it
	// (awayFrom; see parallelFor).
	avoid int32
}

var jobs = freelist.List[parJob]{New: func() *parJob { return &parJob{fin: make(chan struct{}, 1)} }}

// ParallelFor calls fn(i) once for each i in [0, n), on up to threads
// goroutines: the caller and up to threads-1 of the package's helper
// goroutines. Each goroutine claims the next index (claim: the caller
// from the front, a single helper from the back) until none is left, so
// the caller starts work at once and a helper that the scheduler runs
// late (on a busy machine) just claims fewer indices; when no helper
// comes, the caller does all the work. ParallelFor returns when every fn
// call has returned. Nothing spins for long: helpers spin at
// most spinFor after their last work, and the caller polls for at most
// callerSpin before blocking on a helper's last index.
//
// fn must be safe to call concurrently for different indices.
func ParallelFor(n, threads int, fn func(i int)) {
	parallelFor(n, threads, fn, nil)
}

// ParallelForDetached is ParallelFor, except that when the caller has run
// out of indices it does not wait for a helper still inside one: it
// returns at once, and release is called (on whichever goroutine leaves
// last) when every fn call has returned. It is for loops whose indices
// finish their shared work among themselves (layers' shared time loop),
// where a helper that the OS has descheduled in the middle of an index
// has nothing left that anyone needs, and waiting for it to be scheduled
// again would stall the caller for the rest of another process's time
// slice. Whatever that index still reads must stay valid until release.
func ParallelForDetached(n, threads int, fn func(i int), release func()) {
	if n <= 0 {
		release()
		return
	}
	parallelFor(n, threads, fn, release)
}

func parallelFor(n, threads int, fn func(i int), release func()) {
	if n <= 0 {
		return
	}
	threads = min(threads, n)
	// Inside another parallel loop (Bidirectional's two directions, say)
	// every helper may be taken: then there is nobody to share with.
	if threads > 1 && pool.busy(threads-1) {
		threads = 1
	}
	if threads <= 1 {
		for i := 0; i < n; i++ {
			fn(i)
		}
		if release != nil {
			release()
		}
		return
	}
	j := jobs.Get()
	j.ends.Store(uint64(n) << 32)
	j.n, j.maxHelpers, j.helpers, j.joined, j.removed, j.fn = int32(n), int32(threads-1), 0, 0, false, fn
	j.release, j.orphan = release, false
	noteWaits(time.Now())
	// On a contended machine, a loop whose indices the cores share out
	// as they go (more indices than goroutines, or a detached loop) runs
	// its helpers off the caller's CPU (awayFrom). A loop of one index a
	// goroutine does not: there the helper's half would run at the busy
	// core's speed, the caller's at full speed, and the loop end with the
	// slower.
	j.avoid = -1
	if (n > threads || release != nil) && Contended() {
		j.avoid = int32(currentCPU())
	}
	pool.push(j, threads-1)
	t0 := time.Now()
	mine := 0
	for {
		i, ok := j.claim(false)
		if !ok {
			break
		}
		fn(i)
		mine++
	}
	pool.mu.Lock()
	pool.remove(j)
	wait := j.helpers > 0
	if wait && release != nil {
		// The last helper out calls release and gives j back.
		j.orphan = true
		pool.mu.Unlock()
		return
	}
	pool.mu.Unlock()
	if wait {
		// A helper is still running its last index: poll briefly (it is
		// usually nearly done), then block. Exactly one token comes.
		start := time.Now()
		deadline := start.Add(callerSpin)
	poll:
		for {
			select {
			case <-j.fin:
				break poll
			default:
			}
			if time.Now().After(deadline) {
				<-j.fin
				break
			}
		}
		// Waiting much longer than an index takes means the helper was
		// descheduled mid-index.
		per := start.Sub(t0) / time.Duration(max(mine, 1))
		if now := time.Now(); now.Sub(start) > longWait+4*per {
			markContended(now)
		}
	}
	j.fn, j.release = nil, nil
	jobs.Put(j)
	if release != nil {
		release()
	}
}

// claim takes the next unclaimed index of j: the lowest for the caller,
// and for a helper the highest, when the job has a single helper, or the
// lowest otherwise. With two goroutines, the caller then works up from
// index 0 and the helper down from n-1, so that the caller gets a leading
// and the helper a trailing run of indices, whatever their speeds. The
// loops of a model cut their data in index order (the rows of an image,
// row tiles of a product), so each core tends to read what it wrote in the
// loop before, from its own cache; with indices claimed in one sequence,
// both cores would read about half their data from the other's cache.
func (j *parJob) claim(helper bool) (int, bool) {
	for {
		v := j.ends.Load()
		lo, hi := uint32(v), uint32(v>>32)
		if lo >= hi {
			return 0, false
		}
		i := lo
		if helper && j.maxHelpers == 1 {
			hi--
			i = hi
		} else {
			lo++
		}
		if j.ends.CompareAndSwap(v, uint64(hi)<<32|uint64(lo)) {
			return int(i), true
		}
	}
}

// left reports whether j has unclaimed indices.
func (j *parJob) left() bool {
	v := j.ends.Load()
	return uint32(v) < uint32(v>>32)
}

// push publishes j and makes sure up to want helpers exist and are awake.
func (p *workerPool) push(j *parJob, want int) {
	p.mu.Lock()
	for p.helpers < want {
		p.helpers++
		go p.helper()
	}
	p.jobs = append(p.jobs, j)
	p.pending.Store(int32(len(p.jobs)))
	p.mu.Unlock()
	for w := min(int(p.parked.Load()), want); w > 0; w-- {
		select {
		case p.wake <- struct{}{}:
		default:
			return
		}
	}
}

// remove takes j off the job list; p.mu must be held.
func (p *workerPool) remove(j *parJob) {
	for i, x := range p.jobs {
		if x == j {
			last := len(p.jobs) - 1
			p.jobs[i] = p.jobs[last]
			p.jobs[last] = nil
			p.jobs = p.jobs[:last]
			break
		}
	}
	p.pending.Store(int32(len(p.jobs)))
	j.removed = true
}

// busy reports whether all of the want helpers ParallelFor would use
// exist and are inside jobs.
func (p *workerPool) busy(want int) bool {
	w := int(p.working.Load())
	return w > 0 && w >= want
}

// take returns a job with unclaimed indices that another helper may join,
// counting this helper in, or nil.
func (p *workerPool) take() *parJob {
	if p.pending.Load() == 0 {
		return nil
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	for _, j := range p.jobs {
		if j.joined < j.maxHelpers && j.left() {
			j.joined++
			j.helpers++
			p.working.Add(1)
			return j
		}
	}
	return nil
}

func (p *workerPool) helper() {
	deadline := time.Now().Add(spinFor)
	last := time.Now() // the previous poll, to notice being descheduled
	away := newAwayFrom()
	for {
		if j := p.take(); j != nil {
			away.follow(int(j.avoid))
			for {
				i, ok := j.claim(true)
				if !ok {
					break
				}
				j.fn(i)
			}
			p.working.Add(-1)
			p.mu.Lock()
			j.helpers--
			var orphan *parJob
			if j.removed && j.helpers == 0 {
				if j.orphan {
					orphan = j
				} else {
					j.fin <- struct{}{}
				}
			}
			p.mu.Unlock()
			if orphan != nil {
				release := orphan.release
				orphan.fn, orphan.release = nil, nil
				jobs.Put(orphan)
				release()
			}
			last = time.Now()
			deadline = last.Add(spinFor)
			// After the job, where a /proc read delays nobody.
			noteWaits(last)
			continue
		}
		now := time.Now()
		if now.Sub(last) > preemptGap {
			markContended(now)
		}
		last = now
		if now.After(deadline) || Contended() {
			// Park. A job pushed after parked is raised is announced on
			// wake; one pushed before is seen by the check below.
			p.parked.Add(1)
			if p.pending.Load() == 0 {
				<-p.wake
			}
			p.parked.Add(-1)
			last = time.Now()
			deadline = last.Add(spinFor)
			continue
		}
		// Spin: poll the job count, yielding the P now and then.
		for k := 0; k < 64 && p.pending.Load() == 0; k++ {
		}
		goruntime.Gosched()
	}
}

// Helpers returns the number of helper goroutines ParallelFor has started.
// They live as long as the process (parked when idle); a goroutine-leak
// check subtracts them.
func Helpers() int {
	pool.mu.Lock()
	defer pool.mu.Unlock()
	return pool.helpers
}
