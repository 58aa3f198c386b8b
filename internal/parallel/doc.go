// Package parallel runs the loops of kerasrun's kernels and layers on a
// pool of helper goroutines, and watches for other processes competing for
// the cores, so that a loop is split only where splitting pays.
//
// # Loops
//
// For calls fn(i) for each i in [0, n) on the calling goroutine and up to
// threads-1 helpers, and returns when every call has returned. ForDetached
// is For for loops whose indices share their work among themselves: the
// caller does not wait for a helper still inside an index, and a release
// function runs when the last index returns. Indices are claimed one at a
// time (the caller from the front), so a helper that the scheduler runs
// late claims fewer and the caller never waits for one that has not
// started its part. For allocates nothing in the steady state.
//
// # Effects on the process
//
// A library runs inside someone else's process, so everything this
// package does beyond computing is listed here.
//
//   - Helper goroutines. The first loop that wants k helpers starts them
//     (at most GOMAXPROCS-1 at the time of the loop, and at most the
//     limit set by SetMaxHelpers); they live as long as the process
//     (Helpers counts them). A helper that has just finished a loop
//     spins for at most 200 µs (spinFor), polling for the next loop and
//     yielding its P between polls, and then parks on a channel, costing
//     nothing until the next loop. While the machine is contended
//     (below) helpers park as soon as they run out of work. The caller of
//     a loop polls for at most 30 µs (callerSpin) for a helper's last
//     index before it blocks. SetMaxHelpers(0) runs every loop on its
//     caller: then no helper is started and nothing spins.
//   - Reads of /proc, on Linux only, through system calls into buffers
//     on the stack (no allocation, no file descriptor kept open). At most
//     once per 5 ms over the whole process (waitEvery), a goroutine about
//     to start a loop, a helper that has just finished one, or a long
//     loop that calls NoteWaits reads its own thread's run-queue wait
//     (/proc/thread-self/schedstat, locking the goroutine to its thread
//     for the read). On a sign of contention (a stall of a millisecond or
//     more, or a thread that waited for a CPU a quarter of its time) it
//     reads /proc/loadavg and /proc/self/task/*/stat, up to twice, to tell
//     another process's runnable thread from a stall of the whole machine.
//     Where /proc cannot be read, every sign counts.
//   - Thread affinity, only after SetPinning(true); the default is off,
//     and then this package never calls sched_setaffinity or getcpu.
//     With pinning on and the machine contended, a helper that joins a
//     loop whose indices are shared out as they go locks itself to its
//     OS thread and moves that thread off the CPU its caller ran on, for
//     that loop only; it restores the thread's allowed CPUs when the loop
//     ends. If the restore fails, the helper's goroutine exits still
//     locked to the thread, so the Go runtime terminates the thread
//     instead of reusing it, and a new helper takes its place.
//
// # Contention
//
// Contended reports whether another process has been seen competing for
// the cores in the last 50 ms: two signs (a helper descheduled in its
// spin loop, a caller that waited long for a helper's index, a thread
// that spent a quarter of its recent time waiting for a CPU) within 100
// ms, each counted only while another process's thread is runnable.
// SplitWorth tells a caller whether a loop of a given size is worth
// splitting now. OverrideContention fixes the answer for tests.
//
// # Concurrency
//
// Every function may be called from any goroutine, including from inside
// fn: a loop started while every helper is busy runs on its caller. The
// settings (SetPinning, SetMaxHelpers) take effect from the next loop.
package parallel
