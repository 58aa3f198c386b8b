package importer

import (
	"fmt"
	"path/filepath"
	goruntime "runtime"
	"runtime/debug"
	"testing"

	"github.com/kerasrun/kerasrun/internal/golden"
	"github.com/kerasrun/kerasrun/internal/parallel"
	"github.com/kerasrun/kerasrun/internal/race"
	"github.com/kerasrun/kerasrun/runtime"
)

// TestPredictAllocatesOnlyOutputs runs every fixture model in steady state
// and counts the heap allocations of a Predict call: they must be those of
// the outputs and nothing else. An output costs its header, its data and
// its mask when it has one (and its shape past rank 4); the call adds the
// list of outputs. Every intermediate tensor, list, scratch buffer and
// per-call bookkeeping must come from the pools. Each model runs on its
// fixture input and on that input repeated to a batch of 32 (so that the
// layers that split samples or rows over goroutines do), with GOMAXPROCS 1
// and 2.
func TestPredictAllocatesOnlyOutputs(t *testing.T) {
	if race.Enabled {
		t.Skip("the race detector makes sync.Pool drop a share of what is put back")
	}
	cases, err := golden.Load(filepath.Join("..", "fixtures"))
	if err != nil {
		t.Fatal(err)
	}
	defer goruntime.GOMAXPROCS(goruntime.GOMAXPROCS(0))
	// One way of splitting work throughout: a busy spell on the machine
	// would switch layers to their contended ways mid-count, whose first
	// calls fill pools of their own.
	parallel.OverrideContention(parallel.ContentionQuiet)
	defer parallel.OverrideContention(parallel.ContentionMachine)
	checked := 0
	for i := range cases {
		c := &cases[i]
		if c.Expect != "ok" || !c.HasGold() {
			continue
		}
		m, err := loadCase(c)
		if err != nil {
			t.Errorf("%s: load: %v", c.ID, err)
			continue
		}
		in, err := c.ReadInputs()
		if err != nil {
			t.Fatal(err)
		}
		for _, rep := range []int{1, 32} {
			x := in
			if rep > 1 {
				x = repeatBatch(in, rep)
			}
			for _, procs := range []int{1, 2} {
				goruntime.GOMAXPROCS(procs)
				got, want, err := predictAllocs(m, x)
				if err != nil {
					t.Errorf("%s (batch ×%d, GOMAXPROCS %d): %v", c.ID, rep, procs, err)
					continue
				}
				// With two Ps a buffer that a helper goroutine gave back
				// may sit in its P's private sync.Pool entry, which the
				// caller's P cannot take: now and then a call allocates
				// it again, less than once a call on average. A layer
				// that allocates does so on every call.
				slack := 0.0
				if procs > 1 {
					slack = 0.99
				}
				if got > float64(want)+slack {
					t.Errorf("%s (batch ×%d, GOMAXPROCS %d): Predict makes %.1f allocations, its outputs %d", c.ID, rep, procs, got, want)
				}
				checked++
			}
		}
	}
	if checked < 4*100 {
		t.Fatalf("only %d runs checked", checked)
	}
}

// predictAllocs runs m on x until its pools are warm, then returns the
// fewest allocations per call over five rounds and what the outputs
// account for.
func predictAllocs(m *runtime.Model, x []*runtime.Tensor) (got float64, want int, err error) {
	var out []*runtime.Tensor
	for range 5 {
		if out, err = m.Predict(x...); err != nil {
			return 0, 0, err
		}
	}
	want = 1 // the list
	for _, o := range out {
		want++ // the header
		if len(o.Data) > 0 {
			want++
		}
		if o.Mask != nil {
			want++
		}
		if len(o.Shape) > 4 {
			want++
		}
	}
	// No collection during the rounds: one empties the sync.Pools that
	// hold buffers, and each would be allocated again.
	defer debug.SetGCPercent(debug.SetGCPercent(-1))
	const calls = 10
	got = -1
	var ms goruntime.MemStats
	for range 5 {
		goruntime.ReadMemStats(&ms)
		before := ms.Mallocs
		for range calls {
			if _, err := m.Predict(x...); err != nil {
				return 0, 0, err
			}
		}
		goruntime.ReadMemStats(&ms)
		if a := float64(ms.Mallocs-before) / calls; got < 0 || a < got {
			got = a
		}
	}
	return got, want, nil
}

// repeatBatch returns the inputs with every sample repeated k times along
// the batch axis (masks too).
func repeatBatch(in []*runtime.Tensor, k int) []*runtime.Tensor {
	out := make([]*runtime.Tensor, len(in))
	for i, x := range in {
		shape := append([]int{x.Shape[0] * k}, x.Shape[1:]...)
		t, err := runtime.NewTensor(shape, repeat(x.Data, k))
		if err != nil {
			panic(fmt.Sprint("repeatBatch: ", err))
		}
		if x.Mask != nil {
			t.Mask = repeat(x.Mask, k)
		}
		out[i] = t
	}
	return out
}

func repeat[T any](s []T, k int) []T {
	out := make([]T, 0, len(s)*k)
	for range k {
		out = append(out, s...)
	}
	return out
}
