package parallel

import (
	"os"
	"os/exec"
	goruntime "runtime"
	"slices"
	"sync/atomic"
	"testing"
	"time"

	"github.com/kerasrun/kerasrun/internal/race"
)

// TestSplitWorthUnderContention: small pieces stay on one goroutine while
// the machine is marked contended, large ones are still split, and the
// mark expires; stalls while no other thread is runnable do not count.
func TestSplitWorthUnderContention(t *testing.T) {
	defer contendedUntil.Store(contendedUntil.Load())
	contendedUntil.Store(0)
	if Contended() || !SplitWorth(2, 1) {
		t.Fatal("a quiet machine must split any work")
	}
	defer lastSign.Store(lastSign.Load())
	// A stall of the whole VM (nobody else runnable) is not a sign.
	lastSign.Store(0)
	noteSign(time.Now(), false)
	noteSign(time.Now(), false)
	if Contended() {
		t.Fatal("two stalls with no other thread runnable marked the machine contended")
	}
	noteSign(time.Now().Add(-2*confirmWithin), true)
	noteSign(time.Now(), true)
	if Contended() {
		t.Fatal("two signs far apart marked the machine contended")
	}
	noteSign(time.Now(), true)
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

// TestForSlowIndex: an index that takes far longer than the rest
// (as on a descheduled helper) is waited for: every index has run, once,
// when For returns.
func TestForSlowIndex(t *testing.T) {
	defer contendedUntil.Store(contendedUntil.Load())
	for rep := 0; rep < 20; rep++ {
		var runs [8]atomic.Int32
		For(len(runs), 2, func(i int) {
			if i == 1 {
				time.Sleep(2 * time.Millisecond)
			}
			runs[i].Add(1)
		})
		for i := range runs {
			if n := runs[i].Load(); n != 1 {
				t.Fatalf("rep %d: index %d ran %d times before For returned", rep, i, n)
			}
		}
	}
}

// TestClaimEnds: with one helper, the caller claims a job's indices from
// the front and the helper from the back, each index once; with more
// helpers, everyone claims from the front.
func TestClaimEnds(t *testing.T) {
	j := &parJob{n: 5, maxHelpers: 1}
	j.ends.Store(5 << 32)
	var got []int
	for k, helper := range []bool{false, true, true, false, true, false} {
		i, ok := j.claim(helper)
		if k == 5 {
			if ok || j.left() {
				t.Fatalf("claim %d: got index %d of an exhausted job (left %v)", k, i, j.left())
			}
			break
		}
		if !ok {
			t.Fatalf("claim %d: nothing left, want an index", k)
		}
		got = append(got, i)
	}
	if want := []int{0, 4, 3, 1, 2}; !slices.Equal(got, want) {
		t.Fatalf("claims %v, want %v", got, want)
	}
	j = &parJob{n: 3, maxHelpers: 2}
	j.ends.Store(3 << 32)
	for want := 0; want < 3; want++ {
		if i, ok := j.claim(want%2 == 1); !ok || i != want {
			t.Fatalf("two helpers: claim %d got %d, %v", want, i, ok)
		}
	}
}

// TestForEveryIndexOnce runs loops of many sizes on 2 and 3
// goroutines: every index runs exactly once.
func TestForEveryIndexOnce(t *testing.T) {
	for _, threads := range []int{2, 3} {
		for n := 1; n < 70; n++ {
			runs := make([]atomic.Int32, n)
			For(n, threads, func(i int) { runs[i].Add(1) })
			for i := range runs {
				if c := runs[i].Load(); c != 1 {
					t.Fatalf("threads %d, n %d: index %d ran %d times", threads, n, i, c)
				}
			}
		}
	}
}

// TestRunnableThreads parses /proc/loadavg lines.
func TestRunnableThreads(t *testing.T) {
	for _, c := range []struct {
		line string
		n    int
		ok   bool
	}{
		{"0.52 0.61 0.66 3/412 12345\n", 3, true},
		{"1.02 1.25 1.22 1/77 25023", 1, true},
		{"12.00 9.10 8.00 17/1024 1", 17, true},
		{"0.52 0.61 0.66", 0, false},
		{"0.52 0.61 0.66 x/412 1", 0, false},
		{"0.52 0.61 0.66 3 1", 0, false},
		{"", 0, false},
	} {
		if n, ok := runnableThreads([]byte(c.line)); n != c.n || ok != c.ok {
			t.Errorf("runnableThreads(%q) = %d, %v; want %d, %v", c.line, n, ok, c.n, c.ok)
		}
	}
}

// TestOthersFrom: only runnable threads beyond this process's own count,
// and a count that cannot be read counts as another process.
func TestOthersFrom(t *testing.T) {
	for _, c := range []struct {
		line  string
		own   int
		ownOK bool
		want  bool
	}{
		{"0.52 0.61 0.66 3/412 12345", 3, true, false}, // the runtime's third thread
		{"0.52 0.61 0.66 3/412 12345", 2, true, true},
		{"0.52 0.61 0.66 1/412 12345", 1, true, false},
		{"0.52 0.61 0.66 2/412 12345", 3, true, false}, // read at different moments
		{"0.52 0.61 0.66", 1, true, true},
		{"0.52 0.61 0.66 3/412 12345", 0, false, true},
	} {
		if got := othersFrom([]byte(c.line), c.own, c.ownOK); got != c.want {
			t.Errorf("othersFrom(%q, %d, %v) = %v, want %v", c.line, c.own, c.ownOK, got, c.want)
		}
	}
}

func TestTaskRunnable(t *testing.T) {
	for _, c := range []struct {
		stat  string
		r, ok bool
	}{
		{"12 (kerasrun) R 1 12 12 0 -1", true, true},
		{"12 (kerasrun) S 1 12 12 0 -1", false, true},
		{"12 (a) b) (c) R 1", true, true},
		{"12 (odd name) D 1", false, true},
		{"12 (trunc)", false, false},
		{"garbage", false, false},
	} {
		if r, ok := taskRunnable([]byte(c.stat)); r != c.r || ok != c.ok {
			t.Errorf("taskRunnable(%q) = %v, %v; want %v, %v", c.stat, r, ok, c.r, c.ok)
		}
	}
}

// TestOwnRunnable: this goroutine, reading, is a runnable thread of its
// own process.
func TestOwnRunnable(t *testing.T) {
	if goruntime.GOOS != "linux" {
		t.Skip("reads /proc/self/task")
	}
	n, ok := ownRunnable()
	if !ok || n < 1 {
		t.Fatalf("ownRunnable() = %d, %v; want at least 1 (the reader)", n, ok)
	}
}

// TestRunnableCountsAllocateNothing: the contention check reads /proc
// while Predict runs, which allocates nothing but its outputs.
func TestRunnableCountsAllocateNothing(t *testing.T) {
	if goruntime.GOOS != "linux" {
		t.Skip("reads /proc")
	}
	if race.Enabled {
		t.Skip("the race detector allocates in system calls")
	}
	if a := testing.AllocsPerRun(20, func() { othersRunnable() }); a != 0 {
		t.Fatalf("othersRunnable makes %v allocations", a)
	}
}

// TestOthersRunnable: on Linux a process spinning next to this one shows
// as another process's runnable thread.
func TestOthersRunnable(t *testing.T) {
	if goruntime.GOOS != "linux" {
		t.Skip("reads /proc/loadavg")
	}
	b, err := os.ReadFile("/proc/loadavg")
	if err != nil {
		t.Skip(err)
	}
	if _, ok := runnableThreads(b); !ok {
		t.Fatalf("/proc/loadavg does not parse: %q", b)
	}
	// The spinning child is runnable whenever it is not running, and not
	// ours.
	cmd := exec.Command("sh", "-c", "while :; do :; done")
	if err := cmd.Start(); err != nil {
		t.Skip(err)
	}
	defer cmd.Process.Kill()
	deadline := time.Now().Add(2 * time.Second)
	for !othersRunnable() {
		if time.Now().After(deadline) {
			t.Fatal("a spinning process next to this one never showed as another process's runnable thread")
		}
		time.Sleep(time.Millisecond)
	}
}

// TestHelpersBounded: a loop uses no more goroutines than GOMAXPROCS and
// SetMaxHelpers allow, whatever threads it asks for; with no helpers
// allowed it runs on its caller.
func TestHelpersBounded(t *testing.T) {
	defer goruntime.GOMAXPROCS(goruntime.GOMAXPROCS(2))
	defer SetMaxHelpers(-1)
	for _, c := range []struct{ procs, limit, n, threads, want int }{
		{2, -1, 10, 8, 1},
		{4, -1, 10, 8, 3},
		{4, 1, 10, 8, 1},
		{4, 0, 10, 8, 0},
		{4, -1, 2, 8, 1},
		{1, -1, 10, 8, 0},
	} {
		goruntime.GOMAXPROCS(c.procs)
		SetMaxHelpers(c.limit)
		if got := helpersFor(c.n, c.threads); got != c.want {
			t.Errorf("GOMAXPROCS %d, limit %d: a loop of %d on %d threads gets %d helpers, want %d",
				c.procs, c.limit, c.n, c.threads, got, c.want)
		}
	}
	for _, procs := range []int{1, 2} {
		for _, limit := range []int{-1, 0} {
			if procs == 2 && limit < 0 {
				continue
			}
			goruntime.GOMAXPROCS(procs)
			SetMaxHelpers(limit)
			caller := goid()
			var others atomic.Int32
			For(64, 4, func(int) {
				if goid() != caller {
					others.Add(1)
				}
			})
			if others.Load() != 0 {
				t.Errorf("GOMAXPROCS %d, limit %d: %d indices ran off the caller", procs, limit, others.Load())
			}
		}
	}
}

// TestForAllocatesNothing: a loop in steady state allocates nothing.
func TestForAllocatesNothing(t *testing.T) {
	if race.Enabled {
		t.Skip("the race detector allocates")
	}
	defer goruntime.GOMAXPROCS(goruntime.GOMAXPROCS(2))
	OverrideContention(ContentionQuiet)
	defer OverrideContention(ContentionMachine)
	var sink [16]atomic.Int32
	fn := func(i int) { sink[i].Add(1) }
	For(len(sink), 2, fn) // start the helpers
	if a := testing.AllocsPerRun(100, func() { For(len(sink), 2, fn) }); a != 0 {
		t.Fatalf("For makes %v allocations a loop", a)
	}
}
