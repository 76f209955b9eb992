//go:build linux

package accesslog

import (
	"os"

	"golang.org/x/sys/unix"
)

// startWriteback starts the kernel's writeback of n bytes of f at off
// without waiting for it (sync_file_range with SYNC_FILE_RANGE_WRITE only:
// no wait before or after, so nothing is made durable here; close still
// fsyncs). A failure only means the kernel writes those pages back later,
// as it would have: it is ignored.
func startWriteback(f *os.File, off, n int64) {
	rc, err := f.SyscallConn()
	if err != nil {
		return
	}
	_ = rc.Control(func(fd uintptr) {
		_ = unix.SyncFileRange(int(fd), off, n, unix.SYNC_FILE_RANGE_WRITE)
	})
}
