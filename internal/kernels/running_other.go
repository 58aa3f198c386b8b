//go:build !linux

package kernels

// othersRunnable cannot count runnable threads here: every sign of
// contention counts.
func othersRunnable() bool { return true }
