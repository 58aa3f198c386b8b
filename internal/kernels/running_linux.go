package kernels

import "os"

// othersRunnable reports whether a thread of another process is runnable:
// the machine's runnable threads (/proc/loadavg, counted when read) are
// more than this process's own (/proc/self/task), the reading thread
// counted in both (see othersFrom). The two files cannot be read at one
// instant, and one of our threads that sleeps or wakes in between would
// look like another process's, so our own are counted before and after
// the machine's (the larger count), and the answer must hold twice. It
// runs only on a sign of contention (a stall of a millisecond or more), so
// the reads it costs (tens of µs) do not matter.
func othersRunnable() bool {
	for range 2 {
		own1, ok1 := ownRunnable()
		b, err := os.ReadFile("/proc/loadavg")
		if err != nil {
			return true
		}
		own2, ok2 := ownRunnable()
		if !othersFrom(b, max(own1, own2), ok1 && ok2) {
			return false
		}
	}
	return true
}

// ownRunnable counts this process's threads in state R.
func ownRunnable() (int, bool) {
	tasks, err := os.ReadDir("/proc/self/task")
	if err != nil {
		return 0, false
	}
	n := 0
	for _, t := range tasks {
		b, err := os.ReadFile("/proc/self/task/" + t.Name() + "/stat")
		if err != nil {
			continue // the thread has exited
		}
		if r, ok := taskRunnable(b); ok && r {
			n++
		}
	}
	return n, true
}
