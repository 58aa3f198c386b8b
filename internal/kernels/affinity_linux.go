package kernels

import (
	goruntime "runtime"
	"syscall"
	"unsafe"

	"golang.org/x/sys/unix"
)

// currentCPU returns the CPU the calling thread runs on, or -1.
func currentCPU() int {
	var cpu, node uint32
	_, _, errno := syscall.RawSyscall(unix.SYS_GETCPU, uintptr(unsafe.Pointer(&cpu)), uintptr(unsafe.Pointer(&node)), 0)
	if errno != 0 {
		return -1
	}
	return int(cpu)
}

// awayFrom keeps a helper's thread off one CPU, the CPU its caller ran on
// when it pushed a job on a contended machine. With another process
// keeping a core busy, Linux tends to wake a helper onto its caller's CPU
// (the other one runs the busy process and is not idle): the two then
// share one core for the whole job, while the other process keeps a core
// to itself, and a split loop runs no faster than on one goroutine. Off
// the caller's CPU the helper shares the busy process's core instead and
// the caller keeps its own: about a core and a half between them.
type awayFrom struct {
	cpu   int // the CPU kept off, or -1 when the thread runs where it was allowed to
	saved unix.CPUSet
}

func newAwayFrom() awayFrom { return awayFrom{cpu: -1} }

// follow moves the calling thread off cpu (or, for -1, back where it was
// allowed to run before). The first move locks the goroutine to its
// thread, the way back unlocks it.
func (a *awayFrom) follow(cpu int) {
	if cpu == a.cpu {
		return
	}
	if cpu < 0 {
		if err := unix.SchedSetaffinity(0, &a.saved); err != nil {
			return // the thread keeps the narrower set, and stays locked
		}
		goruntime.UnlockOSThread()
		a.cpu = -1
		return
	}
	if a.cpu < 0 {
		goruntime.LockOSThread()
		if unix.SchedGetaffinity(0, &a.saved) != nil {
			goruntime.UnlockOSThread()
			return
		}
	}
	set := a.saved
	set.Clear(cpu)
	if set.Count() == 0 || unix.SchedSetaffinity(0, &set) != nil {
		if a.cpu < 0 {
			goruntime.UnlockOSThread()
		}
		return
	}
	a.cpu = cpu
}
