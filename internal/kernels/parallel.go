package kernels

import "github.com/kerasrun/kerasrun/internal/parallel"

// ParallelFor is parallel.For, for the products of this package (see
// GemmParallel); other packages call the parallel package directly.
func ParallelFor(n, threads int, fn func(i int)) { parallel.For(n, threads, fn) }

// SplitWorth is parallel.SplitWorth, for the products of this package.
func SplitWorth(n, flopsPerIndex int) bool { return parallel.SplitWorth(n, flopsPerIndex) }

// pool answers gemmParallel's question whether the helpers are all taken
// (parallel.Busy).
var pool helperPool

type helperPool struct{}

// busy reports whether want helpers exist and are all inside loops.
func (helperPool) busy(want int) bool { return parallel.Busy(want + 1) }
