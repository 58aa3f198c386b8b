package kerasrun

import "github.com/kerasrun/kerasrun/internal/parallel"

// SetMaxHelpers bounds the helper goroutines that Predict spreads its work
// over, for the whole process: at most n, and never more than
// GOMAXPROCS-1, which is the only bound by default (a negative n restores
// that). With n = 0 every Predict runs on its calling goroutine alone: no
// helper goroutine is started and nothing spins between calls. Helpers
// already started stay, parked. The bound applies from the next parallel
// loop. Outputs are the same bits whatever the bound.
func SetMaxHelpers(n int) { parallel.SetMaxHelpers(n) }

// SetThreadPinning lets the helper goroutines change their threads' CPU
// affinity (off by default: kerasrun then never calls sched_setaffinity).
// On, while another process keeps a core busy, a helper joining a loop
// whose work is shared out as it goes locks itself to its OS thread and
// keeps that thread off the CPU the loop's caller runs on, for that loop
// only; if its allowed CPUs cannot be restored afterwards, the helper
// exits still locked, so that the Go runtime ends the thread. Only Linux
// pins; elsewhere this does nothing.
func SetThreadPinning(on bool) { parallel.SetPinning(on) }

// ThreadPinning reports whether SetThreadPinning turned pinning on.
func ThreadPinning() bool { return parallel.Pinning() }
