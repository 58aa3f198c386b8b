//go:build !race

// Package race reports whether the race detector is built in: tests that
// count allocations skip under it (it changes what allocates, and makes
// sync.Pool drop a share of what is put back).
package race

// Enabled reports whether the race detector is built in.
const Enabled = false
