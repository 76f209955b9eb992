//go:build !linux

package serve

import (
	"errors"
	"sync/atomic"
	"syscall"
)

// fifoWaker is Linux's (fifo_linux.go); elsewhere idle lean connections
// wait in reads.
type fifoWaker struct{ stopped atomic.Bool }

const fifoWaitEnabled = false

func newFIFOWaker() (*fifoWaker, error) {
	return nil, errors.New("serve: no FIFO waker on this platform")
}

func (w *fifoWaker) add(*leanConn, syscall.RawConn) bool { return false }
func (w *fifoWaker) remove(*leanConn)                    {}
func (w *fifoWaker) close()                              {}
func peekGone(syscall.RawConn) bool                      { return false }
