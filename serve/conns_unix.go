//go:build unix

package serve

import "syscall"

// defaultMaxConns is the connection limit when Options.MaxConns is 0:
// three quarters of the descriptors the process may open (leaving the rest
// for model files, gRPC and the runtime), at least 16 and at most 4096.
func defaultMaxConns() int {
	var rl syscall.Rlimit
	if err := syscall.Getrlimit(syscall.RLIMIT_NOFILE, &rl); err != nil || rl.Cur == 0 {
		return 1024
	}
	n := (int64(min(rl.Cur, 1<<30)) - 64) * 3 / 4
	return int(max(16, min(4096, n)))
}
