package parallel

import (
	"errors"
	"os"
	goruntime "runtime"
	"strconv"
	"testing"
	"time"

	"golang.org/x/sys/unix"
)

// TestAwayFrom: a helper's thread leaves a CPU and comes back to where it
// was allowed to run, unlocked.
func TestAwayFrom(t *testing.T) {
	done := make(chan struct{})
	one := false
	go func() {
		defer close(done)
		a := newAwayFrom()
		before := allowedCPUs(t)
		if len(before) < 2 {
			one = true
			return
		}
		avoid := before[0]
		a.leave(avoid)
		during := allowedCPUs(t)
		for _, c := range during {
			if c == avoid {
				t.Errorf("still allowed on CPU %d after leave(%d): %v", avoid, avoid, during)
			}
		}
		if len(during) != len(before)-1 {
			t.Errorf("allowed on %v after leaving CPU %d of %v", during, avoid, before)
		}
		if cpu := currentCPU(); cpu == avoid {
			t.Errorf("running on CPU %d after leaving it", cpu)
		}
		if !a.back() {
			t.Error("back failed")
		}
		if after := allowedCPUs(t); len(after) != len(before) {
			t.Errorf("allowed on %v after coming back, %v before", after, before)
		}
		if !a.back() {
			t.Error("a second back failed")
		}
	}()
	<-done
	if one {
		t.Skip("this process may run on one CPU only")
	}
}

// TestAwayFromRestoreFails: when the thread's CPUs cannot be given back,
// back reports it and the goroutine stays locked to its thread, so that
// the thread ends with the goroutine instead of running others with the
// narrower set.
func TestAwayFromRestoreFails(t *testing.T) {
	tids := make(chan int, 1)
	one := false
	work := func() {
		a := newAwayFrom()
		before := allowedCPUs(t)
		if len(before) < 2 {
			one = true
			tids <- 0
			return
		}
		a.leave(before[0])
		if !a.away {
			t.Error("leave did not narrow the thread")
		}
		a.set = func(*unix.CPUSet) error { return errors.New("refused") }
		if a.back() {
			t.Error("back reported success although the restore failed")
		}
		tids <- unix.Gettid()
		// Exit locked, as a helper does.
	}
	go func() {
		// The Go runtime never ends the process's main thread; it wedges
		// it instead. Keep the work off that thread, so that its end can
		// be seen.
		goruntime.LockOSThread()
		if unix.Gettid() == os.Getpid() {
			done := make(chan struct{})
			go func() { defer close(done); work() }()
			<-done
			goruntime.UnlockOSThread()
			return
		}
		work()
	}()
	tid := <-tids
	if one {
		t.Skip("this process may run on one CPU only")
	}
	path := "/proc/self/task/" + strconv.Itoa(tid)
	for deadline := time.Now().Add(10 * time.Second); ; {
		if _, err := os.Stat(path); errors.Is(err, os.ErrNotExist) {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("thread %d (pid %d), left narrowed, still exists after its goroutine exited locked to it", tid, os.Getpid())
		}
		time.Sleep(time.Millisecond)
	}
}

// TestPinningOff: with pinning off (the default), helpers on a contended
// machine keep the affinity they started with.
func TestPinningOff(t *testing.T) {
	defer goruntime.GOMAXPROCS(goruntime.GOMAXPROCS(2))
	OverrideContention(ContentionBusy)
	defer OverrideContention(ContentionMachine)
	SetPinning(false)
	var before unix.CPUSet
	if err := unix.SchedGetaffinity(0, &before); err != nil {
		t.Skip(err)
	}
	want := before.Count()
	counts := make([]int, 64)
	For(len(counts), 2, func(i int) {
		var s unix.CPUSet
		if unix.SchedGetaffinity(0, &s) == nil {
			counts[i] = s.Count()
		}
	})
	for i, c := range counts {
		if c != want {
			t.Fatalf("index %d ran on a thread allowed %d CPUs, want %d", i, c, want)
		}
	}
}

// TestPinningOn: with pinning on, a contended loop's helpers run off the
// caller's CPU while in the loop, and their threads have every CPU back
// after it.
func TestPinningOn(t *testing.T) {
	defer goruntime.GOMAXPROCS(goruntime.GOMAXPROCS(2))
	var all unix.CPUSet
	if err := unix.SchedGetaffinity(0, &all); err != nil || all.Count() < 2 {
		t.Skip("this process may run on one CPU only")
	}
	OverrideContention(ContentionBusy)
	defer OverrideContention(ContentionMachine)
	SetPinning(true)
	defer SetPinning(false)
	narrowed := 0
	for range 20 {
		counts := make([]int, 64)
		For(len(counts), 2, func(i int) {
			var s unix.CPUSet
			if unix.SchedGetaffinity(0, &s) == nil {
				counts[i] = s.Count()
			}
			time.Sleep(10 * time.Microsecond) // leave indices to a helper
		})
		for i, c := range counts {
			if c != all.Count() && c != all.Count()-1 {
				t.Fatalf("index %d ran on a thread allowed %d CPUs of %d", i, c, all.Count())
			}
			if c < all.Count() {
				narrowed++
			}
		}
	}
	if narrowed == 0 {
		t.Error("no index ran on a helper kept off its caller's CPU")
	}
	// After the loops every helper is back: a loop on a quiet machine
	// sees whole sets only.
	OverrideContention(ContentionQuiet)
	counts := make([]int, 64)
	For(len(counts), 2, func(i int) {
		var s unix.CPUSet
		if unix.SchedGetaffinity(0, &s) == nil {
			counts[i] = s.Count()
		}
	})
	for i, c := range counts {
		if c != all.Count() {
			t.Fatalf("after pinned loops, index %d ran on a thread allowed %d CPUs of %d", i, c, all.Count())
		}
	}
}

// allowedCPUs lists the CPUs the calling thread may run on.
func allowedCPUs(t *testing.T) []int {
	t.Helper()
	var set unix.CPUSet
	if err := unix.SchedGetaffinity(0, &set); err != nil {
		t.Error(err)
		return nil
	}
	var cpus []int
	for c := 0; c < len(set)*64; c++ {
		if set.IsSet(c) {
			cpus = append(cpus, c)
		}
	}
	return cpus
}
