package parallel

import (
	goruntime "runtime"
	"sync"
	"sync/atomic"
	"time"

	"github.com/kerasrun/kerasrun/internal/freelist"
)

// The helpers of For are long-lived goroutines. A helper that has just
// finished some work spins for spinFor (checking for a new job and
// yielding its P between checks) before it parks on a channel, so that the
// next parallel region of the same Predict, typically tens of µs away,
// finds it awake: waking a parked goroutine onto an idle core can cost
// more than a batch-1 recurrent step takes. The spin is bounded, so an
// idle process burns at most spinFor per helper after its last parallel
// region, and nobody ever waits on a helper that is not running: the
// caller claims work itself and only waits for indices a helper has
// already started.
var spinFor = 200 * time.Microsecond

// callerSpin is how long the caller polls for a helper's last index before
// it blocks.
const callerSpin = 30 * time.Microsecond

// maxHelpers is the limit SetMaxHelpers sets; negative means none beyond
// GOMAXPROCS.
var maxHelpers atomic.Int32

func init() { maxHelpers.Store(-1) }

// SetMaxHelpers limits the helper goroutines a loop may use to n, on top
// of the limit GOMAXPROCS-1 that always holds; a negative n removes the
// limit (the default). With n = 0 every loop runs on its caller alone, no
// helper is ever started, and nothing spins. Helpers already started stay
// (parked when idle); the limit applies from the next loop.
func SetMaxHelpers(n int) {
	maxHelpers.Store(int32(max(min(n, 1<<20), -1)))
}

// pinning is set by SetPinning.
var pinning atomic.Bool

// SetPinning turns helper-thread affinity on or off (off by default). On,
// while the machine is contended, a helper that joins a loop whose indices
// are shared out as they go runs that loop with its OS thread kept off the
// CPU the loop's caller runs on (see the package doc); off, this package
// never changes a thread's affinity.
func SetPinning(on bool) { pinning.Store(on) }

// Pinning reports whether SetPinning turned helper-thread affinity on.
func Pinning() bool { return pinning.Load() }

type workerPool struct {
	mu      sync.Mutex
	jobs    []*parJob    // jobs that may still have unclaimed indices
	pending atomic.Int32 // len(jobs), read without the lock
	helpers int          // helpers running (a helper that exits starts its replacement)
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
	// release, set by ForDetached, is called once the last index has
	// returned; orphan is set (under pool.mu) when the caller left before
	// a helper did, which then calls release itself.
	release func()
	orphan  bool
	// avoid is the caller's CPU, or -1: the helpers that join run off it
	// (awayFrom; only with SetPinning; see parallelFor).
	avoid int32
}

var jobs = freelist.List[parJob]{New: func() *parJob { return &parJob{fin: make(chan struct{}, 1)} }}

// For calls fn(i) once for each i in [0, n), on up to threads goroutines:
// the caller and up to threads-1 of the package's helper goroutines (fewer
// when GOMAXPROCS or SetMaxHelpers says so). Each goroutine claims the
// next index (claim: the caller from the front, a single helper from the
// back) until none is left, so the caller starts work at once and a helper
// that the scheduler runs late (on a busy machine) just claims fewer
// indices; when no helper comes, the caller does all the work. For returns
// when every fn call has returned. Nothing spins for long: helpers spin at
// most spinFor after their last work, and the caller polls for at most
// callerSpin before blocking on a helper's last index.
//
// fn must be safe to call concurrently for different indices. Every write
// fn makes happens before For returns.
func For(n, threads int, fn func(i int)) {
	parallelFor(n, threads, fn, nil)
}

// ForDetached is For, except that when the caller has run out of indices
// it does not wait for a helper still inside one: it returns at once, and
// release is called (on whichever goroutine leaves last) when every fn
// call has returned. It is for loops whose indices finish their shared
// work among themselves (layers' shared time loop), where a helper that
// the OS has descheduled in the middle of an index has nothing left that
// anyone needs, and waiting for it to be scheduled again would stall the
// caller for the rest of another process's time slice. Whatever that
// index still reads must stay valid until release, and the caller must
// not rely on that index's writes: they happen before release, not
// before ForDetached returns.
func ForDetached(n, threads int, fn func(i int), release func()) {
	if n <= 0 {
		release()
		return
	}
	parallelFor(n, threads, fn, release)
}

// helpersFor returns how many helpers a loop of n indices asking for
// threads goroutines may use.
func helpersFor(n, threads int) int {
	h := min(threads, n, goruntime.GOMAXPROCS(0)) - 1
	if m := int(maxHelpers.Load()); m >= 0 {
		h = min(h, m)
	}
	return h
}

func parallelFor(n, threads int, fn func(i int), release func()) {
	if n <= 0 {
		return
	}
	want := 0
	if threads > 1 && n > 1 {
		want = helpersFor(n, threads)
	}
	// Inside another parallel loop (Bidirectional's two directions, say)
	// every helper may be taken: then there is nobody to share with.
	if want > 0 && pool.busy(want) {
		want = 0
	}
	if want <= 0 {
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
	j.n, j.maxHelpers, j.helpers, j.joined, j.removed, j.fn = int32(n), int32(want), 0, 0, false, fn
	j.release, j.orphan = release, false
	noteWaits(time.Now())
	// With pinning, on a contended machine, a loop whose indices the
	// cores share out as they go (more indices than goroutines, or a
	// detached loop) runs its helpers off the caller's CPU (awayFrom). A
	// loop of one index a goroutine does not: there the helper's half
	// would run at the busy core's speed, the caller's at full speed, and
	// the loop end with the slower.
	j.avoid = -1
	if pinning.Load() && (n > want+1 || release != nil) && Contended() {
		j.avoid = int32(currentCPU())
	}
	pool.push(j, want)
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

// busy reports whether all of the want helpers a loop would use exist and
// are inside jobs.
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

// finish counts a helper out of j, and hands j back to its caller (or,
// for a detached loop the caller has left, releases it) when the helper
// was the last one in.
func (p *workerPool) finish(j *parJob) {
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
}

func (p *workerPool) helper() {
	deadline := time.Now().Add(spinFor)
	last := time.Now() // the previous poll, to notice being descheduled
	away := newAwayFrom()
	for {
		if j := p.take(); j != nil {
			if j.avoid >= 0 {
				away.leave(int(j.avoid))
			}
			for {
				i, ok := j.claim(true)
				if !ok {
					break
				}
				j.fn(i)
			}
			p.finish(j)
			if !away.back() {
				// The thread could not be given its CPUs back: this
				// goroutine ends locked to it, so the Go runtime
				// terminates the thread, and a new helper takes its
				// place (the count stays).
				go p.helper()
				return
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

// Helpers returns the number of helper goroutines the pool runs. They
// live as long as the process (parked when idle); a goroutine-leak check
// subtracts them.
func Helpers() int {
	pool.mu.Lock()
	defer pool.mu.Unlock()
	return pool.helpers
}

// Busy reports whether a loop on threads goroutines would find every
// helper it could use already inside other loops (as inside one of
// Bidirectional's two directions): then For would run it on its caller
// alone, and a caller may as well skip preparing to split it.
func Busy(threads int) bool {
	return threads > 1 && pool.busy(threads-1)
}
