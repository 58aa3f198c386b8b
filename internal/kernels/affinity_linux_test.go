package kernels

import (
	"sync"
	"testing"

	"golang.org/x/sys/unix"
)

// TestAwayFrom: a helper's thread leaves a CPU and comes back to where it
// was allowed to run.
func TestAwayFrom(t *testing.T) {
	var wg sync.WaitGroup
	wg.Add(1)
	one := false
	go func() {
		defer wg.Done()
		a := newAwayFrom()
		before := allowedCPUs(t)
		if len(before) < 2 {
			one = true
			return
		}
		avoid := before[0]
		a.follow(avoid)
		during := allowedCPUs(t)
		for _, c := range during {
			if c == avoid {
				t.Errorf("still allowed on CPU %d after follow(%d): %v", avoid, avoid, during)
			}
		}
		if len(during) != len(before)-1 {
			t.Errorf("allowed on %v after leaving CPU %d of %v", during, avoid, before)
		}
		if cpu := currentCPU(); cpu == avoid {
			t.Errorf("running on CPU %d after leaving it", cpu)
		}
		a.follow(-1)
		if after := allowedCPUs(t); len(after) != len(before) {
			t.Errorf("allowed on %v after coming back, %v before", after, before)
		}
	}()
	wg.Wait()
	if one {
		t.Skip("this process may run on one CPU only")
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
