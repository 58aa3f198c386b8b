//go:build !linux

package parallel

// othersRunnable cannot count runnable threads here: every sign of
// contention counts.
func othersRunnable() bool { return true }

// ownRunnable cannot count this process's threads here.
func ownRunnable() (int, bool) { return 0, false }

// threadWait cannot read run-queue waits here.
func threadWait() (int, int64, bool) { return 0, 0, false }

// currentCPU cannot be read here.
func currentCPU() int { return -1 }

// awayFrom does nothing here: helpers run where the OS puts them.
type awayFrom struct{}

func newAwayFrom() awayFrom    { return awayFrom{} }
func (a *awayFrom) leave(int)  {}
func (a *awayFrom) back() bool { return true }
