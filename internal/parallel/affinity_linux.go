package parallel

import (
	goruntime "runtime"
	"syscall"
	"unsafe"

	"golang.org/x/sys/unix"
)

// currentCPU returns the CPU the calling thread runs on, or -1. It is
// called only with SetPinning on.
func currentCPU() int {
	var cpu, node uint32
	_, _, errno := syscall.RawSyscall(unix.SYS_GETCPU, uintptr(unsafe.Pointer(&cpu)), uintptr(unsafe.Pointer(&node)), 0)
	if errno != 0 {
		return -1
	}
	return int(cpu)
}

// awayFrom keeps a helper's thread off one CPU for one loop, the CPU its
// caller ran on when it pushed the loop on a contended machine, with
// SetPinning on. With another process keeping a core busy, Linux tends to
// wake a helper onto its caller's CPU (the other one runs the busy process
// and is not idle): the two then share one core for the whole loop, while
// the other process keeps a core to itself, and a split loop runs no
// faster than on one goroutine. Off the caller's CPU the helper shares the
// busy process's core instead and the caller keeps its own.
type awayFrom struct {
	away  bool // the thread is locked and narrowed; saved holds its CPUs
	saved unix.CPUSet
	// set and get change and read the calling thread's affinity; a test
	// makes set fail.
	set func(*unix.CPUSet) error
	get func(*unix.CPUSet) error
}

func newAwayFrom() awayFrom {
	return awayFrom{
		set: func(s *unix.CPUSet) error { return unix.SchedSetaffinity(0, s) },
		get: func(s *unix.CPUSet) error { return unix.SchedGetaffinity(0, s) },
	}
}

// leave locks the calling goroutine to its thread and moves the thread off
// cpu, until back. When that cannot be done the thread stays as it was,
// unlocked.
func (a *awayFrom) leave(cpu int) {
	if a.away {
		return
	}
	goruntime.LockOSThread()
	if a.get(&a.saved) != nil {
		goruntime.UnlockOSThread()
		return
	}
	set := a.saved
	set.Clear(cpu)
	if set.Count() == 0 || a.set(&set) != nil {
		goruntime.UnlockOSThread()
		return
	}
	a.away = true
}

// back gives the thread the CPUs it had before leave and unlocks it. It
// reports false when the thread keeps the narrower set: then it stays
// locked, and the calling goroutine must exit so that the Go runtime
// terminates the thread rather than run other goroutines on it.
func (a *awayFrom) back() bool {
	if !a.away {
		return true
	}
	if a.set(&a.saved) != nil {
		return false
	}
	a.away = false
	goruntime.UnlockOSThread()
	return true
}
