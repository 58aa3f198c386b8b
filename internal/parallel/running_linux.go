package parallel

import (
	"bytes"
	"encoding/binary"
	goruntime "runtime"
	"syscall"
	"unsafe"
)

// othersRunnable reports whether a thread of another process is runnable:
// the machine's runnable threads (/proc/loadavg, counted when read) are
// more than this process's own (/proc/self/task), the reading thread
// counted in both (see othersFrom). The two files cannot be read at one
// instant, and one of our threads that sleeps or wakes in between would
// look like another process's, so our own are counted before and after
// the machine's (the larger count), and the answer must hold twice. It
// runs only on a sign of contention (a stall of a millisecond or more), so
// the reads it costs (tens of µs) do not matter.
func othersRunnable() bool {
	var buf [128]byte
	for range 2 {
		own1, ok1 := ownRunnable()
		b, ok := readProc(atCWD, "/proc/loadavg\x00", buf[:])
		if !ok {
			return true
		}
		own2, ok2 := ownRunnable()
		if !othersFrom(b, max(own1, own2), ok1 && ok2) {
			return false
		}
	}
	return true
}

// ownRunnable counts this process's threads in state R. It reads /proc
// with system calls into buffers on its stack: it runs while Predict does,
// and Predict allocates nothing but its outputs.
func ownRunnable() (int, bool) {
	dir, err := openat(atCWD, "/proc/self/task\x00", syscall.O_DIRECTORY)
	if err != nil {
		return 0, false
	}
	defer syscall.Close(dir)
	var dents [4096]byte
	var stat [512]byte
	var name [32]byte
	n := 0
	for {
		m, err := syscall.Getdents(dir, dents[:])
		if err != nil {
			return 0, false
		}
		if m <= 0 {
			return n, true
		}
		for off := 0; off+19 <= m; {
			// struct linux_dirent64: ino 8, off 8, reclen 2, type 1, name.
			reclen := int(binary.NativeEndian.Uint16(dents[off+16:]))
			if reclen <= 0 || off+reclen > m {
				break
			}
			tid := dents[off+19 : off+reclen]
			off += reclen
			if i := bytes.IndexByte(tid, 0); i >= 0 {
				tid = tid[:i]
			}
			if len(tid) == 0 || tid[0] < '0' || tid[0] > '9' || len(tid)+len("/stat\x00") > len(name) {
				continue // "." and ".."
			}
			path := append(append(name[:0], tid...), "/stat\x00"...)
			b, ok := readProc(dir, unsafe.String(&path[0], len(path)), stat[:])
			if !ok {
				continue // the thread has exited
			}
			if r, ok := taskRunnable(b); ok && r {
				n++
			}
		}
	}
}

const atCWD = -100 // AT_FDCWD

// openat opens the NUL-terminated path relative to the directory dir.
func openat(dir int, path string, flags int) (int, error) {
	fd, _, errno := syscall.Syscall6(syscall.SYS_OPENAT, uintptr(dir), uintptr(unsafe.Pointer(unsafe.StringData(path))),
		uintptr(flags|syscall.O_RDONLY|syscall.O_CLOEXEC), 0, 0, 0)
	if errno != 0 {
		return -1, errno
	}
	return int(fd), nil
}

// readProc reads the start of a /proc file (NUL-terminated path, relative
// to dir) into buf.
func readProc(dir int, path string, buf []byte) ([]byte, bool) {
	fd, err := openat(dir, path, 0)
	if err != nil {
		return nil, false
	}
	defer syscall.Close(fd)
	n, err := syscall.Read(fd, buf)
	if err != nil || n <= 0 {
		return nil, false
	}
	return buf[:n], true
}

// threadWait returns the calling thread's id and its run-queue wait so
// far in ns (/proc/thread-self/schedstat; see noteWaits).
func threadWait() (tid int, wait int64, ok bool) {
	goruntime.LockOSThread() // the file and the id of one thread
	defer goruntime.UnlockOSThread()
	var buf [96]byte
	b, ok := readProc(atCWD, "/proc/thread-self/schedstat\x00", buf[:])
	if !ok {
		return 0, 0, false
	}
	wait, ok = schedstatWait(b)
	return syscall.Gettid(), wait, ok
}
