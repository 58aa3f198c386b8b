package layers

import (
	"context"
	"errors"
	"math"
	"math/rand"
	goruntime "runtime"
	"runtime/debug"
	"strconv"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/kerasrun/kerasrun/internal/parallel"
	"github.com/kerasrun/kerasrun/internal/race"
	"github.com/kerasrun/kerasrun/runtime"
)

// sharedCase is one LSTM configuration for the shared-loop tests.
type sharedCase struct {
	units, batch int
	act, opts    string
	env          Env
	masked       bool
}

func sharedCases() []sharedCase {
	var cs []sharedCase
	for _, u := range []int{36, 70, 130} {
		for _, b := range []int{1, 3} {
			cs = append(cs,
				sharedCase{u, b, "sigmoid", `"return_sequences": true`, envK230, false},
				sharedCase{u, b, "hard_sigmoid", `"return_sequences": false, "go_backwards": true`, envK230, false},
				sharedCase{u, b, "relu", `"return_sequences": true, "go_backwards": true`, envK230, false})
		}
	}
	return append(cs,
		sharedCase{70, 4, "sigmoid", `"return_sequences": true`, envK230, true},
		sharedCase{70, 4, "sigmoid", `"return_sequences": true, "go_backwards": true`, envTF24, true},
		sharedCase{36, 5, "sigmoid", `"return_sequences": false`, envTF24, true},
		sharedCase{130, 2, "sigmoid", `"return_sequences": true, "return_state": true`, envK230, false})
}

// build returns the case's layer (over 7 steps of 9 inputs), an input
// and random initial states.
func (c sharedCase) build(t *testing.T, rng *rand.Rand) (*rnnLayer, *runtime.Tensor, []*runtime.Tensor) {
	t.Helper()
	const in, steps = 9, 7
	u := c.units
	ws := []Weight{
		{Name: "lstm_1/kernel:0", Shape: []int{in, 4 * u}, Data: randTensor(rng, in, 4*u).Data},
		{Name: "lstm_1/recurrent_kernel:0", Shape: []int{u, 4 * u}, Data: randTensor(rng, u, 4*u).Data},
		{Name: "lstm_1/bias:0", Shape: []int{4 * u}, Data: randTensor(rng, 4*u).Data},
	}
	l, _ := buildLayer(t, "lstm_1", "LSTM",
		`{"name": "lstm_1", "units": `+strconv.Itoa(u)+`, "recurrent_activation": "`+c.act+`", `+c.opts+`}`,
		c.env, []int{-1, steps, in}, ws)
	x := randTensor(rng, c.batch, steps, in)
	if c.masked {
		x.Mask = randMask(rng, c.batch*steps)
		x.Mask[0] = false // row 0 starts masked (the rules before any unmasked step)
	}
	init := []*runtime.Tensor{randTensor(rng, c.batch, u), randTensor(rng, c.batch, u)}
	return l.(*rnnLayer), x, init
}

// run runs the layer from init and returns its outputs and final states.
func (c sharedCase) run(t *testing.T, l *rnnLayer, x *runtime.Tensor, init []*runtime.Tensor) []*runtime.Tensor {
	t.Helper()
	out, final, err := l.ForwardStates(context.Background(), []*runtime.Tensor{x}, init)
	if err != nil {
		t.Fatal(err)
	}
	return append(out, final...)
}

func sameBits(t *testing.T, what string, got, want []*runtime.Tensor) {
	t.Helper()
	if len(got) != len(want) {
		t.Fatalf("%s: %d tensors, want %d", what, len(got), len(want))
	}
	for i := range want {
		if !intsEqual(got[i].Shape, want[i].Shape) {
			t.Fatalf("%s: tensor %d has shape %v, want %v", what, i, got[i].Shape, want[i].Shape)
		}
		for j := range want[i].Data {
			if got[i].Data[j] != want[i].Data[j] {
				t.Fatalf("%s: tensor %d element %d = %v, want %v", what, i, j, got[i].Data[j], want[i].Data[j])
			}
		}
	}
}

// withShared runs f with every LSTM sharing its steps (parallel.OverrideContention)
// on the given GOMAXPROCS, and checks that f ran shared loops.
func withShared(t *testing.T, procs int, f func()) {
	t.Helper()
	defer goruntime.GOMAXPROCS(goruntime.GOMAXPROCS(procs))
	defer func(v, w int) { stepParMinFlops, sharedMinFlops = v, w }(stepParMinFlops, sharedMinFlops)
	stepParMinFlops, sharedMinFlops = 0, 0
	parallel.OverrideContention(parallel.ContentionBusy)
	defer parallel.OverrideContention(parallel.ContentionMachine)
	before := sharedRuns.Load()
	f()
	if sharedRuns.Load() == before {
		t.Fatal("no shared loop ran")
	}
}

// TestLSTMSharedLoopBitIdentical runs LSTMs through the shared loop (every
// peer on its own goroutine) and checks every output and final state, bit
// for bit, against the same layer on one goroutine: fused and plain gate
// math, partial blocks, batches, go_backwards, masks under both output
// rules, return_state, initial states.
func TestLSTMSharedLoopBitIdentical(t *testing.T) {
	rng := rand.New(rand.NewSource(11))
	for i, c := range sharedCases() {
		l, x, init := c.build(t, rng)
		goruntime.GOMAXPROCS(1)
		want := c.run(t, l, x, init)
		for _, procs := range []int{2, 3} {
			withShared(t, procs, func() {
				got := c.run(t, l, x, init)
				sameBits(t, "case "+strconv.Itoa(i)+" on "+strconv.Itoa(procs)+" peers", got, want)
			})
		}
	}
}

// TestLSTMSharedLoopSteals makes the peers take chunks over all the time
// (no wait before stealing) while other goroutines keep the Go scheduler
// preempting them, so that results computed by a peer that lost its chunk
// are thrown away: the outputs must still be those of one goroutine.
func TestLSTMSharedLoopSteals(t *testing.T) {
	defer func(a, b int64) { minStealNS, stealChunks = a, b }(minStealNS, stealChunks)
	minStealNS, stealChunks = 0, 0
	rng := rand.New(rand.NewSource(12))
	cases := sharedCases()
	var stop atomic.Bool
	var hogs sync.WaitGroup
	defer func() { stop.Store(true); hogs.Wait() }()
	for range 2 {
		hogs.Add(1)
		go func() {
			defer hogs.Done()
			for !stop.Load() {
			}
		}()
	}
	for i, c := range cases {
		l, x, init := c.build(t, rng)
		goruntime.GOMAXPROCS(1)
		want := c.run(t, l, x, init)
		withShared(t, 2, func() {
			for range 20 {
				got := c.run(t, l, x, init)
				sameBits(t, "case "+strconv.Itoa(i), got, want)
			}
		})
	}
	if sharedSteals.Load() == 0 {
		t.Error("no chunk was taken over")
	}
}

// TestLSTMSharedLoopForcedSteal holds up the first peer to pin a step's
// states until another peer has taken its chunk over and committed at
// least two more steps (or the whole loop), then lets it compute its
// chunk from the states it pinned: those must still be its step's, its
// result must be thrown away, and the outputs must be those of one
// goroutine, bit for bit. Under -race this runs the stealing path with
// a late reader, which the race detector would flag if a commit could
// rewrite states a peer still reads.
func TestLSTMSharedLoopForcedSteal(t *testing.T) {
	defer func(a, b int64) { minStealNS, stealChunks = a, b }(minStealNS, stealChunks)
	minStealNS, stealChunks = 0, 0
	rng := rand.New(rand.NewSource(15))
	cases := sharedCases()
	for _, i := range []int{0, 4, 8, len(cases) - 4, len(cases) - 1} {
		c := cases[i]
		l, x, init := c.build(t, rng)
		goruntime.GOMAXPROCS(1)
		want := c.run(t, l, x, init)
		var first atomic.Bool
		returned := make(chan struct{})
		var stale atomic.Int64 // the step the held peer's buffer names, when it is not its own
		stale.Store(-1)
		// Every helper out of the loops before, so that this loop gets one
		// (a loop that finds every helper busy runs on its caller alone).
		for deadline := time.Now().Add(10 * time.Second); sharedFrees.Load() != sharedRuns.Load(); time.Sleep(time.Millisecond) {
			if time.Now().After(deadline) {
				t.Fatalf("case %d: a shared loop before it was never released", i)
			}
		}
		steals, discards := sharedSteals.Load(), sharedDiscards.Load()
		sharedHook = func(sl *sharedLoop, sb *stateBuf, s int64, k int) {
			if !first.CompareAndSwap(false, true) {
				return
			}
			defer close(returned)
			target := min(s+3, int64(sl.steps))
			for deadline := time.Now().Add(10 * time.Second); time.Now().Before(deadline); time.Sleep(20 * time.Microsecond) {
				if sharedSteals.Load() > steals && sl.step.Load() >= target {
					break
				}
			}
			if got := sb.step.Load(); got != s {
				stale.Store(got)
			}
		}
		withShared(t, 2, func() {
			got := c.run(t, l, x, init)
			sameBits(t, "case "+strconv.Itoa(i)+" with a forced steal", got, want)
		})
		select {
		case <-returned:
		case <-time.After(20 * time.Second):
			t.Fatalf("case %d: the held peer never returned", i)
		}
		sharedHook = nil
		if got := stale.Load(); got >= 0 {
			t.Fatalf("case %d: a commit rewrote the states a held peer had pinned (they are step %d's now)", i, got)
		}
		if sharedSteals.Load() == steals {
			t.Fatalf("case %d: no chunk was taken over from the held peer", i)
		}
		// The held peer's result is thrown away before the loop is
		// released; the next call starts after that.
		for deadline := time.Now().Add(10 * time.Second); sharedDiscards.Load() == discards; time.Sleep(time.Millisecond) {
			if time.Now().After(deadline) {
				t.Fatalf("case %d: the held peer's result was not thrown away", i)
			}
		}
	}
}

// TestLSTMSharedLoopCancel cancels a shared loop's context: the layer
// returns the context's error.
func TestLSTMSharedLoopCancel(t *testing.T) {
	rng := rand.New(rand.NewSource(13))
	const in, u, steps = 4, 64, 300
	ws := randWeights(rng, "lstm_1", in, u, 4, 4*u)
	l, _ := buildLayer(t, "lstm_1", "LSTM", `{"name": "lstm_1", "units": 64, "return_sequences": true}`, envK230, []int{-1, steps, in}, ws)
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	withShared(t, 2, func() {
		_, err := l.(*rnnLayer).ForwardContext(ctx, []*runtime.Tensor{randTensor(rng, 2, steps, in)})
		if !errors.Is(err, context.Canceled) {
			t.Fatalf("err = %v, want context.Canceled", err)
		}
	})
}

// TestLSTMSharedLoopAllocatesOnlyOutputs: a shared loop takes its memory
// from the pools, like the loop on one goroutine.
func TestLSTMSharedLoopAllocatesOnlyOutputs(t *testing.T) {
	if race.Enabled {
		t.Skip("the race detector allocates")
	}
	rng := rand.New(rand.NewSource(14))
	c := sharedCase{70, 2, "sigmoid", `"return_sequences": true`, envK230, false}
	l, x, _ := c.build(t, rng)
	in := []*runtime.Tensor{x}
	defer debug.SetGCPercent(debug.SetGCPercent(-1))
	// The fewest of 5 rounds: a peer that the OS held up can still hold
	// its loop when the next call starts, which then takes (and keeps in
	// the pool) one more.
	perCall := func() float64 {
		best := math.Inf(1)
		for range 5 {
			for range 5 { // warm the pools
				out, _ := l.ForwardContext(context.Background(), in)
				runtime.Recycle(out[0], x)
			}
			var m0, m1 goruntime.MemStats
			goruntime.ReadMemStats(&m0)
			const n = 50
			for range n {
				out, _ := l.ForwardContext(context.Background(), in)
				runtime.Recycle(out[0], x)
			}
			goruntime.ReadMemStats(&m1)
			best = min(best, float64(m1.Mallocs-m0.Mallocs)/n)
		}
		return best
	}
	goruntime.GOMAXPROCS(1)
	serial := perCall()
	withShared(t, 2, func() {
		if got := perCall(); got > serial+0.5 {
			t.Errorf("%.2f allocations a call shared, %.2f on one goroutine", got, serial)
		}
	})
}
