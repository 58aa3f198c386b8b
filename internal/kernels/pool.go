package kernels

import (
	goruntime "runtime"
	"sync"
	"sync/atomic"
	"time"
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

type workerPool struct {
	mu      sync.Mutex
	jobs    []*parJob    // jobs that may still have unclaimed indices
	pending atomic.Int32 // len(jobs), read without the lock
	helpers int          // helpers started (never stopped)
	parked  atomic.Int32 // helpers blocked on wake
	wake    chan struct{}
}

var pool = workerPool{wake: make(chan struct{}, 1024)}

type parJob struct {
	next, done atomic.Int32
	n          int32
	maxHelpers int32 // helpers that may join (threads-1)
	helpers    int32 // helpers in the job now; under pool.mu
	joined     int32 // helpers that have joined so far; under pool.mu
	removed    bool  // taken off pool.jobs; under pool.mu
	fin        chan struct{}
	fn         func(i int)
}

var jobs = sync.Pool{New: func() any { return &parJob{fin: make(chan struct{}, 1)} }}

// ParallelFor calls fn(i) once for each i in [0, n), on up to threads
// goroutines: the caller and up to threads-1 of the package's helper
// goroutines. Each goroutine claims the next index with an atomic counter
// until none is left, so the caller starts work at once and a helper that
// the scheduler runs late (on a busy machine) just claims fewer indices;
// when no helper comes, the caller does all the work. ParallelFor returns
// when every fn call has returned. Nothing spins for long: helpers spin at
// most spinFor after their last work, and the caller polls for at most
// callerSpin before blocking on a helper's last index.
//
// fn must be safe to call concurrently for different indices.
func ParallelFor(n, threads int, fn func(i int)) {
	if n <= 0 {
		return
	}
	threads = min(threads, n)
	if threads <= 1 {
		for i := 0; i < n; i++ {
			fn(i)
		}
		return
	}
	j := jobs.Get().(*parJob)
	j.next.Store(0)
	j.done.Store(0)
	j.n, j.maxHelpers, j.helpers, j.joined, j.removed, j.fn = int32(n), int32(threads-1), 0, 0, false, fn
	pool.push(j, threads-1)
	for {
		i := j.next.Add(1) - 1
		if i >= j.n {
			break
		}
		fn(int(i))
	}
	pool.mu.Lock()
	pool.remove(j)
	wait := j.helpers > 0
	pool.mu.Unlock()
	if wait {
		// A helper is still running its last index: poll briefly (it is
		// usually nearly done), then block. Exactly one token comes.
		deadline := time.Now().Add(callerSpin)
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
	}
	j.fn = nil
	jobs.Put(j)
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

// take returns a job with unclaimed indices that another helper may join,
// counting this helper in, or nil.
func (p *workerPool) take() *parJob {
	if p.pending.Load() == 0 {
		return nil
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	for _, j := range p.jobs {
		if j.joined < j.maxHelpers && j.next.Load() < j.n {
			j.joined++
			j.helpers++
			return j
		}
	}
	return nil
}

func (p *workerPool) helper() {
	deadline := time.Now().Add(spinFor)
	for {
		if j := p.take(); j != nil {
			for {
				i := j.next.Add(1) - 1
				if i >= j.n {
					break
				}
				j.fn(int(i))
			}
			p.mu.Lock()
			j.helpers--
			if j.removed && j.helpers == 0 {
				j.fin <- struct{}{}
			}
			p.mu.Unlock()
			deadline = time.Now().Add(spinFor)
			continue
		}
		if time.Now().After(deadline) {
			// Park. A job pushed after parked is raised is announced on
			// wake; one pushed before is seen by the check below.
			p.parked.Add(1)
			if p.pending.Load() == 0 {
				<-p.wake
			}
			p.parked.Add(-1)
			deadline = time.Now().Add(spinFor)
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
