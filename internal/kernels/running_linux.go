package kernels

import (
	"os"
	goruntime "runtime"
)

// runnableOverCores reads the number of runnable threads on the machine
// (/proc/loadavg, counted when read) and reports whether it is over
// GOMAXPROCS: then a thread that is not ours wants a core. Ours that are
// runnable count too, the reading one included, so a machine running
// nothing else reads at most GOMAXPROCS.
func runnableOverCores() bool {
	b, err := os.ReadFile("/proc/loadavg")
	if err != nil {
		return true
	}
	n, ok := runnableThreads(b)
	return !ok || n > goruntime.GOMAXPROCS(0)
}
