//go:build !linux

package kernels

// othersRunnable cannot count runnable threads here: every sign of
// contention counts.
func othersRunnable() bool { return true }

// ownRunnable cannot count this process's threads here.
func ownRunnable() (int, bool) { return 0, false }
