package main

import (
	"fmt"
	"os"
	"runtime/debug"
	"strconv"
	"strings"
)

// memoryLimit is the --memory-limit setting: auto, off, or a byte count.
type memoryLimit struct {
	auto  bool
	bytes int64
}

func parseMemoryLimit(s string) (memoryLimit, error) {
	switch s {
	case "auto":
		return memoryLimit{auto: true}, nil
	case "off":
		return memoryLimit{}, nil
	}
	n, err := parseBytes(s)
	if err != nil {
		return memoryLimit{}, fmt.Errorf("%w, or auto, or off", err)
	}
	return memoryLimit{bytes: n}, nil
}

// cgroupFiles hold the memory limit of the process's cgroup: v2, then v1.
var cgroupFiles = []string{"/sys/fs/cgroup/memory.max", "/sys/fs/cgroup/memory/memory.limit_in_bytes"}

// apply sets the Go memory limit and returns it with where it came from,
// or 0. auto leaves a GOMEMLIMIT from the environment alone, and
// otherwise takes 90% of the cgroup limit, leaving room for what the Go
// runtime does not count (thread stacks, the C heap of libhdf5).
func (m memoryLimit) apply() (int64, string) {
	switch {
	case m.bytes > 0:
		debug.SetMemoryLimit(m.bytes)
		return m.bytes, "--memory-limit"
	case !m.auto || os.Getenv("GOMEMLIMIT") != "":
		return 0, ""
	}
	for _, f := range cgroupFiles {
		if n := cgroupLimit(f); n > 0 {
			lim := n / 10 * 9
			debug.SetMemoryLimit(lim)
			return lim, f
		}
	}
	return 0, ""
}

// cgroupLimit reads a cgroup memory limit file: 0 when it is missing,
// unreadable, "max", or so large that it means no limit.
func cgroupLimit(path string) int64 {
	b, err := os.ReadFile(path)
	if err != nil {
		return 0
	}
	n, err := strconv.ParseInt(strings.TrimSpace(string(b)), 10, 64)
	if err != nil || n <= 0 || n >= 1<<60 {
		return 0
	}
	return n
}
