package kernels

import (
	"bytes"
	"strconv"
)

// runnableThreads parses the runnable count of a /proc/loadavg line,
// "0.52 0.61 0.66 3/412 12345": the 3 of its fourth field.
func runnableThreads(loadavg []byte) (int, bool) {
	f := bytes.Fields(loadavg)
	if len(f) < 4 {
		return 0, false
	}
	run, _, ok := bytes.Cut(f[3], []byte("/"))
	n, err := strconv.Atoi(string(run))
	if !ok || err != nil || n < 0 {
		return 0, false
	}
	return n, true
}
