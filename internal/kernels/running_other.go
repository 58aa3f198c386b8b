//go:build !linux

package kernels

// runnableOverCores cannot count runnable threads here: every sign of
// contention counts.
func runnableOverCores() bool { return true }
