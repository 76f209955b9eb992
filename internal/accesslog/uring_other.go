//go:build !linux

package accesslog

import "errors"

// ring is Linux's io_uring (uring_linux.go); elsewhere log files are
// written synchronously.
type ring struct{}

// Completions' user data (uring_linux.go).
const (
	ringWrite     = 0
	ringWriteback = 1
	ringFsync     = 2
)

func newRing() (*ring, error) { return nil, errors.New("io_uring: Linux only") }

func (*ring) submitWrite(int, []byte, int64) error { return errors.New("io_uring: Linux only") }
func (*ring) reap() (uint64, int32, bool)          { return 0, 0, false }
func (*ring) submitFsync(int) error                { return errors.New("io_uring: Linux only") }
func (*ring) wait() error                          { return errors.New("io_uring: Linux only") }
func (*ring) close()                               {}
