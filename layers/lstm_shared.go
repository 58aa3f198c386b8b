package layers

import (
	"context"
	goruntime "runtime"
	"sync/atomic"
	"time"

	"github.com/kerasrun/kerasrun/internal/freelist"
	"github.com/kerasrun/kerasrun/internal/parallel"
	"github.com/kerasrun/kerasrun/runtime"
)

// An LSTM's time loop shared by peers (sharedLoop), for a machine where
// another process competes for the cores.
//
// The split step (lstmCell.step) has a caller that hands each step's
// chunks to helpers and waits for them. When another process keeps a core
// busy, one of our threads shares a core with it and is descheduled for
// milliseconds at a time: a step that waits for a chunk such a thread
// holds waits that long, and when the caller itself is the one
// descheduled, nothing moves. So the split step is turned off then
// (parallel.SplitWorth), and a layer runs on one core: twice the time of
// two, on a machine that still has one and a half to give us.
//
// In the shared loop every goroutine (peer) runs the same loop and any of
// them can do any part of a step: claim a chunk of the step's gate blocks
// and compute it into its own scratch; take over (steal) a chunk whose
// peer has held it for several chunk times, computing it again; or, when
// every chunk is done, commit the step (copy the chunks' results into the
// states and the output, and open the next step). No peer ever waits for
// one that is not running, except for a commit, a few µs, cut short by
// the OS. A peer descheduled in the middle of a chunk comes back to a
// step that has moved on: its result is not taken (the chunk's state no
// longer names it as the owner of that step), and it reads only memory
// the loop keeps until every peer has left (parallel.ForDetached).
//
// Everything peers share is handed over through atomics, so the loop is
// race-free under the Go memory model, stealing included:
//   - A peer computes a chunk only into its own scratch, and publishes it
//     with a CAS of the chunk's state from running to done under its own
//     name; a peer whose chunk was taken over fails that CAS and its
//     result is thrown away (copy on commit). A commit reads a chunk from
//     the scratch of the peer the done state names.
//   - The states before a step live in one of the loop's state buffers,
//     one more than there are peers. A peer pins the buffer of its step
//     (a reader count) before it reads it and unpins it after, and a
//     commit writes the next step's states into a buffer that nobody has
//     pinned, claimed with a CAS of its count from 0 to writerPin. A peer
//     held up in the middle of a chunk thus keeps reading the states it
//     started from, however many steps the others commit meanwhile. A
//     commit never waits for a pin: the other peers pin at most one
//     buffer each, so one besides the current step's is always free.

// maxPeers bounds the peers of a shared loop (the owner field of a chunk's
// state has 6 bits).
const maxPeers = 64

// sharedSteps reports whether the time loop of c over a batch of b rows
// and the given steps runs shared by the cores ctx allows: when another
// process competes for them (parallel.Contended), the loop has more than
// one core, a step's recurrent product is at least sharedMinFlops, and
// the projection of every step (which the shared loop computes at once)
// is at most sharedMaxProj floats.
func (c *lstmCell) sharedSteps(ctx context.Context, b, steps int) bool {
	threads := min(coresOf(ctx), maxPeers)
	return threads > 1 && c.blocks.n() > 1 && 2*b*c.units*4*c.units >= sharedMinFlops &&
		steps*b*4*c.units <= sharedMaxProj && parallel.Contended()
}

// sharedMaxProj bounds the projection a shared loop holds: 32 MB, room
// for a large LSTM at batch 32. Longer loops run as on a quiet machine, in
// pieces of rows or a chunk of steps at a time.
const sharedMaxProj = 8 << 20

// sharedMinFlops is the smallest step a shared loop splits: tens of µs on
// one core. Smaller steps (a 128-unit LSTM at batch 1, say) cost more in
// hand-offs between the peers than they gain, with one core kept busy by
// another process. A variable for the tests.
var sharedMinFlops = 1 << 20

// Chunk states: step<<8 | peer<<2 | one of these.
const (
	chunkFree    = 0
	chunkRunning = 1
	chunkDone    = 2
)

func chunkWord(s int64, peer int, st int64) int64 { return s<<8 | int64(peer)<<2 | st }

// minStealNS is the least time a chunk is left to its peer before another
// takes it over; longer, stealChunks chunk times. Variables for the tests.
var (
	minStealNS  int64 = 20_000
	stealChunks int64 = 4
)

// sharedRuns, sharedFrees, sharedSteals and sharedDiscards count the
// shared loops run and released, the chunks taken over and the chunk
// results thrown away, for the tests.
var sharedRuns, sharedFrees, sharedSteals, sharedDiscards atomic.Int64

// sharedLoop is one LSTM time loop shared by peers. Everything a peer
// reads or writes belongs to the loop, which is released (release) when
// the last peer has left, except the outputs and the final states, which
// only a commit writes (r).
type sharedLoop struct {
	r          *recurRows // outputs and final states; used by commits only
	c          *lstmCell
	ctx        context.Context
	xp         []float32 // the projection, [steps, b, 4u] (owned)
	b, u       int
	steps      int
	backwards  bool
	nb, chunks int
	bufs       []stateBuf   // the states before a step (owned)
	cur        atomic.Int32 // the buffer of the open step's states
	seen       []bool       // rows that have had an unmasked step (owned)
	peers      []peerScratch
	state      []atomic.Int64 // per chunk
	since      []atomic.Int64 // per chunk: when its current peer took it (ns)
	chunkNS    atomic.Int64   // a chunk's time, smoothed
	step       atomic.Int64   // the open step; steps when finished
	commit     atomic.Int64   // the last step whose commit has begun
	epoch      time.Time
	peer       func(i int) // run, bound once
	release    func()      // free, bound once
}

// stateBuf holds the states h and c [b, u] before one step of a shared
// loop, and the readers that use them (see the shared loop's comment).
type stateBuf struct {
	h, c []float32
	step atomic.Int64 // the step whose states h and c hold; -1 for none
	pins atomic.Int32 // peers reading h and c, or writerPin plus the failed pins while a commit writes them
}

// writerPin is a state buffer's pin count while a commit writes it: a peer
// that pins it meanwhile sees a negative count and lets go.
const writerPin = -1 << 30

// sharedHook, when set by a test, is called by a peer that has pinned the
// states of step s for chunk k, before it reads them.
var sharedHook func(l *sharedLoop, sb *stateBuf, s int64, k int)

// peerScratch is where a peer computes its chunks: the pre-activations
// [b, 4u] and the new c and h [b, u], each chunk in its own columns.
type peerScratch struct{ z, c, h []float32 }

// sharedLoops holds the loops; peer and release are bound on first use
// (binding them in New would make the list refer to itself through free).
var sharedLoops = freelist.List[sharedLoop]{New: func() *sharedLoop { return &sharedLoop{} }}

// runShared runs r's time loop of LSTM cell c on the cores ctx allows, as
// a shared loop, from the projection xp of every step ([steps, b, 4u]),
// which it takes over (it is given back when the loop is released).
func (r *recurRows) runShared(ctx context.Context, c *lstmCell, xp []float32) error {
	b, u, steps := r.b, c.units, r.steps
	threads := min(coresOf(ctx), maxPeers)
	sharedRuns.Add(1)
	l := sharedLoops.Get()
	if l.peer == nil {
		l.peer, l.release = l.run, l.free
	}
	l.r, l.c, l.ctx, l.xp = r, c, ctx, xp
	l.b, l.u, l.steps, l.backwards = b, u, steps, r.o.goBackwards
	l.nb = c.blocks.n()
	l.chunks = min(l.nb, 4*threads)
	if cap(l.bufs) < threads+1 {
		l.bufs = make([]stateBuf, threads+1)
	}
	l.bufs = l.bufs[:threads+1]
	for i := range l.bufs {
		sb := &l.bufs[i]
		sb.h, sb.c = getScratch(b*u), getScratch(b*u)
		sb.step.Store(-1)
		sb.pins.Store(0)
	}
	copy(l.bufs[0].h, r.states[0])
	copy(l.bufs[0].c, r.states[1])
	l.bufs[0].step.Store(0)
	l.cur.Store(0)
	if r.mask != nil {
		l.seen = runtime.MaskBuffer(b)
		clear(l.seen)
	}
	if cap(l.peers) < threads {
		l.peers = make([]peerScratch, threads)
	}
	l.peers = l.peers[:threads]
	for i := range l.peers {
		l.peers[i] = peerScratch{z: getScratch(b * 4 * u), c: getScratch(b * u), h: getScratch(b * u)}
	}
	if cap(l.state) < l.chunks {
		l.state = make([]atomic.Int64, l.chunks)
		l.since = make([]atomic.Int64, l.chunks)
	}
	l.state, l.since = l.state[:l.chunks], l.since[:l.chunks]
	for k := range l.state {
		l.state[k].Store(chunkWord(0, 0, chunkFree))
	}
	l.chunkNS.Store(0)
	l.commit.Store(-1)
	l.epoch = time.Now()
	r.err = nil
	l.step.Store(0)
	parallel.ForDetached(threads, threads, l.peer, l.release)
	// The last commit wrote the outputs, the final states and r.err before
	// it closed the loop; l may be released and reused by now.
	return r.err
}

// free gives back the loop's memory and the loop itself.
func (l *sharedLoop) free() {
	putScratch(l.xp)
	for i := range l.bufs {
		sb := &l.bufs[i]
		putScratch(sb.h)
		putScratch(sb.c)
		sb.h, sb.c = nil, nil
	}
	if l.seen != nil {
		runtime.PutMask(l.seen)
	}
	for i, p := range l.peers {
		putScratch(p.z)
		putScratch(p.c)
		putScratch(p.h)
		l.peers[i] = peerScratch{}
	}
	l.r, l.c, l.ctx, l.xp, l.seen = nil, nil, nil, nil, nil
	sharedLoops.Put(l)
	sharedFrees.Add(1)
}

func (l *sharedLoop) now() int64 { return int64(time.Since(l.epoch)) }

// run is peer me's loop: until the last step is committed, take a free
// chunk of the open step, or a chunk held too long by another peer, or
// commit the step when all its chunks are done, or else wait a moment.
func (l *sharedLoop) run(me int) {
	n := int64(l.steps)
	idle := 0
	for {
		s := l.step.Load()
		if s >= n {
			return
		}
		if l.claim(s, me) {
			idle = 0
			continue
		}
		done, stole := l.scan(s, me)
		switch {
		case done < 0: // the step was committed meanwhile
			continue
		case stole:
			idle = 0
			continue
		case done == l.chunks:
			if l.commit.CompareAndSwap(s-1, s) {
				l.finish(s)
			}
			idle = 0
			continue
		}
		// Another peer is computing a chunk: poll again shortly, and now
		// and then let the Go scheduler run someone else.
		if idle++; idle&255 == 255 {
			goruntime.Gosched()
		}
		for range 32 {
			if l.step.Load() != s {
				break
			}
		}
	}
}

// claim takes a free chunk of step s, if any, and computes it.
func (l *sharedLoop) claim(s int64, me int) bool {
	free := chunkWord(s, 0, chunkFree)
	// Peers start at different chunks, so as not to contend for the same:
	// each at the first chunk of its share on even steps, and on odd ones
	// at the last, walking down, as stepBlocks walks a chunk's weights
	// (desc), so that a step starts on the weights the step before left in
	// the peer's cache.
	n := len(l.peers)
	k0, dir := me*l.chunks/n, 1
	if s&1 == 1 {
		k0, dir = (me+1)*l.chunks/n-1, -1
	}
	for i := range l.chunks {
		k := k0 + dir*i
		switch {
		case k >= l.chunks:
			k -= l.chunks
		case k < 0:
			k += l.chunks
		}
		if l.state[k].Load() == free && l.state[k].CompareAndSwap(free, chunkWord(s, me, chunkRunning)) {
			l.since[k].Store(l.now())
			l.compute(s, k, me)
			return true
		}
	}
	return false
}

// scan counts the done chunks of step s, and takes over (and computes) a
// chunk another peer has held too long. It returns -1 when step s is
// closed.
func (l *sharedLoop) scan(s int64, me int) (done int, stole bool) {
	var now, limit int64
	for k := range l.chunks {
		w := l.state[k].Load()
		if w>>8 != s {
			return -1, false
		}
		switch w & 3 {
		case chunkDone:
			done++
		case chunkRunning:
			if int(w>>2&63) == me {
				continue
			}
			if now == 0 {
				now = l.now()
				limit = max(minStealNS, stealChunks*l.chunkNS.Load())
			}
			if now-l.since[k].Load() > limit && l.state[k].CompareAndSwap(w, chunkWord(s, me, chunkRunning)) {
				l.since[k].Store(now)
				sharedSteals.Add(1)
				l.compute(s, k, me)
				return 0, true
			}
		}
	}
	return done, false
}

// units returns the units [j0, j1) and the blocks [b0, b1) of chunk k.
func (l *sharedLoop) units(k int) (j0, j1, b0, b1 int) {
	b0, b1 = k*l.nb/l.chunks, (k+1)*l.nb/l.chunks
	j0, _, _ = l.c.blocks.block(b0)
	jl, _, w := l.c.blocks.block(b1 - 1)
	return j0, jl + w, b0, b1
}

// pin pins the state buffer of step s and returns it, or nil when step s
// has been committed (then nobody needs its chunks).
func (l *sharedLoop) pin(s int64) *stateBuf {
	// l.cur is stored before l.step, so it names step s's buffer or a
	// later one, which the step check turns down.
	sb := &l.bufs[l.cur.Load()]
	if sb.pins.Add(1) > 0 {
		if sb.step.Load() == s {
			return sb
		}
	}
	sb.pins.Add(-1)
	return nil
}

// compute runs chunk k of step s into peer me's scratch and marks it done,
// unless another peer took it over meanwhile.
func (l *sharedLoop) compute(s int64, k int, me int) {
	start := l.now()
	sb := l.pin(s)
	if sb == nil {
		sharedDiscards.Add(1)
		return
	}
	if h := sharedHook; h != nil {
		h(l, sb, s, k)
	}
	b, u, g := l.b, l.u, 4*l.u
	t := int(s)
	if l.backwards {
		t = l.steps - 1 - t
	}
	j0, j1, b0, b1 := l.units(k)
	col0, col1 := 4*j0, 4*j1 // a block of w units is 4w columns
	p := &l.peers[me]
	zt := l.xp[t*b*g : (t+1)*b*g]
	for r := range b {
		copy(p.z[r*g+col0:r*g+col1], zt[r*g+col0:r*g+col1])
		copy(p.c[r*u+j0:r*u+j1], sb.c[r*u+j0:r*u+j1])
	}
	l.c.stepBlocks(b0, b1, p.z, b, sb.h, p.h, p.c, s&1 == 1)
	sb.pins.Add(-1)
	if !l.state[k].CompareAndSwap(chunkWord(s, me, chunkRunning), chunkWord(s, me, chunkDone)) {
		sharedDiscards.Add(1) // taken over
	} else {
		// A chunk's time, smoothed; one cut by the OS counts at most
		// twice the current figure.
		d, old := l.now()-start, l.chunkNS.Load()
		if old > 0 {
			d = old + (min(d, 2*old)-old)/8
		}
		l.chunkNS.Store(d)
	}
}

// finish commits step s: the chunks' new states go into a free state
// buffer, the states of step s+1 (a masked row keeps its states), the
// step's output is written, and step s+1 is opened. After the last step
// the final states go to r.
func (l *sharedLoop) finish(s int64) {
	r := l.r
	b, u := l.b, l.u
	t := int(s)
	if l.backwards {
		t = l.steps - 1 - t
	}
	cur := int(l.cur.Load())
	nx := -1
	for x := range l.bufs {
		if x != cur && l.bufs[x].pins.CompareAndSwap(0, writerPin) {
			nx = x
			break
		}
	}
	if nx < 0 {
		panic("layers: shared loop: every state buffer is pinned")
	}
	sc, sn := &l.bufs[cur], &l.bufs[nx]
	hc, cc := sc.h, sc.c
	hn, cn := sn.h, sn.c
	for k := range l.chunks {
		p := &l.peers[int(l.state[k].Load()>>2&63)]
		j0, j1, _, _ := l.units(k)
		for row := range b {
			copy(hn[row*u+j0:row*u+j1], p.h[row*u+j0:row*u+j1])
			copy(cn[row*u+j0:row*u+j1], p.c[row*u+j0:row*u+j1])
		}
	}
	if r.mask != nil {
		for bi := range b {
			if !r.mask[bi*l.steps+t] {
				copy(hn[bi*u:(bi+1)*u], hc[bi*u:(bi+1)*u])
				copy(cn[bi*u:(bi+1)*u], cc[bi*u:(bi+1)*u])
			}
		}
	}
	sn.step.Store(s + 1)
	sn.pins.Add(-writerPin)
	l.cur.Store(int32(nx))
	r.emit(int(s), t, hn, l.seen)
	// A long loop keeps the contention mark fresh for the layers after it.
	parallel.NoteWaits()
	next := s + 1
	if s&63 == 63 && next < int64(l.steps) {
		if err := l.ctx.Err(); err != nil {
			r.err = err
			next = int64(l.steps)
		}
	}
	if next == int64(l.steps) && r.err == nil {
		copy(r.states[0], hn)
		copy(r.states[1], cn)
	}
	for k := range l.state {
		l.state[k].Store(chunkWord(next, 0, chunkFree))
	}
	l.step.Store(next)
}
