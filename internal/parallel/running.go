package parallel

import "bytes"

// runnableThreads parses the runnable count of a /proc/loadavg line,
// "0.52 0.61 0.66 3/412 12345": the 3 of its fourth field.
func runnableThreads(loadavg []byte) (int, bool) {
	f := loadavg
	for range 3 { // skip the three load averages
		f = bytes.TrimLeft(f, " \t\n")
		i := bytes.IndexAny(f, " \t\n")
		if i < 0 {
			return 0, false
		}
		f = f[i:]
	}
	f = bytes.TrimLeft(f, " \t\n")
	run, _, ok := bytes.Cut(f, []byte("/"))
	if !ok || len(run) == 0 || len(run) > 9 {
		return 0, false
	}
	n := 0
	for _, c := range run {
		if c < '0' || c > '9' {
			return 0, false
		}
		n = 10*n + int(c-'0')
	}
	return n, true
}

// taskRunnable parses a /proc/PID/task/TID/stat line, "12 (name) R 1 ...",
// and reports whether the thread is running or runnable (state R). The name
// may hold spaces and parentheses, so the state is read after the last ')'.
func taskRunnable(stat []byte) (runnable, ok bool) {
	i := bytes.LastIndexByte(stat, ')')
	if i < 0 || i+2 >= len(stat) || stat[i+1] != ' ' {
		return false, false
	}
	return stat[i+2] == 'R', true
}

// othersFrom reports whether the machine's runnable threads (a
// /proc/loadavg line) outnumber this process's own runnable ones: then a
// thread of another process wants a core. The Go runtime may run more of
// its threads than GOMAXPROCS for a moment (one in a system call while
// another takes its P, say), and those are no sign of another process. An
// unreadable count reports true.
func othersFrom(loadavg []byte, own int, ownOK bool) bool {
	n, ok := runnableThreads(loadavg)
	if !ok || !ownOK {
		return true
	}
	return n > own
}

// schedstatWait parses a /proc/.../schedstat line, "run_ns wait_ns
// slices": the thread's time spent runnable but waiting for a CPU. It
// allocates nothing (it runs while Predict does).
func schedstatWait(line []byte) (int64, bool) {
	f := bytes.TrimLeft(line, " \t\n")
	i := bytes.IndexAny(f, " \t\n")
	if i < 0 {
		return 0, false
	}
	f = bytes.TrimLeft(f[i:], " \t\n")
	if j := bytes.IndexAny(f, " \t\n"); j >= 0 {
		f = f[:j]
	}
	if len(f) == 0 || len(f) > 18 {
		return 0, false
	}
	var n int64
	for _, c := range f {
		if c < '0' || c > '9' {
			return 0, false
		}
		n = 10*n + int64(c-'0')
	}
	return n, true
}
