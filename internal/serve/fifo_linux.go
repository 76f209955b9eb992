//go:build linux

package serve

import (
	"os"
	"sync"
	"sync/atomic"
	"syscall"
)

// fifoWaker wakes the lean connections that wait for their next request in
// the order their requests arrived.
//
// Why: a connection that waits in a read parks its goroutine in Go's
// network poller, and the runtime readies the goroutines of one poll in the
// reverse of the order the kernel reports them (netpoll pushes each onto a
// list that findRunnable then pops): under load, the request that arrived
// first in a batch is served last. With one P, as kumo runs pinned to a
// core, that order is the latency tail: the 99th percentile of a stream of
// cache hits was about 1.5 to 2 times nginx's, and a Go runtime built with
// netpoll's loop reversed brought it level with nginx's (bench/README.md).
//
// So an idle plain-TCP lean connection does not wait in a read: it is in
// the waker's own epoll set (edge-triggered: each arrival of bytes is one
// event, and bytes already there when the connection joins are one too),
// the waker's goroutine is the one that waits in Go's poller (for that
// epoll descriptor to be readable), and it sends each connection of a
// batch a report on its ready channel, in the kernel's order. The
// connection waits on that channel, not in a read: it makes no read that
// finds nothing, which a wait in a read starts with. A report is never
// lost (the channel keeps one), and one that is stale (bytes an earlier
// read took) only means that the read after it waits in Go's poller.
type fifoWaker struct {
	file *os.File        // the epoll set, registered with Go's poller
	rc   syscall.RawConn // file's

	mu    sync.Mutex
	slots []*leanConn // by slot number (epoll data); nil: free
	free  []int32
	// onReport, when set (tests), sees each report before it is sent,
	// under mu.
	onReport func(*leanConn)
	// stopped is set when the goroutine ended (close, or a poll error):
	// every connection in the set got a report then, and connections
	// wait in reads from there on.
	stopped atomic.Bool
}

// fifoWaitEnabled reports whether idle lean connections wait through a
// fifoWaker (Linux).
const fifoWaitEnabled = true

// epollET is EPOLLET as epoll_event's events field holds it.
const epollET = 1 << 31

// newFIFOWaker opens the epoll set and starts the goroutine that waits on
// it; close ends both.
func newFIFOWaker() (*fifoWaker, error) {
	epfd, err := syscall.EpollCreate1(syscall.EPOLL_CLOEXEC)
	if err != nil {
		return nil, os.NewSyscallError("epoll_create1", err)
	}
	if err := syscall.SetNonblock(epfd, true); err != nil {
		_ = syscall.Close(epfd)
		return nil, os.NewSyscallError("setnonblock", err)
	}
	w := &fifoWaker{file: os.NewFile(uintptr(epfd), "kumo-fifo-epoll")}
	if w.rc, err = w.file.SyscallConn(); err != nil {
		_ = w.file.Close()
		return nil, err
	}
	go w.run()
	return w, nil
}

// run waits for the epoll set to be readable and wakes the connections of
// each batch of events in their order, until close.
func (w *fifoWaker) run() {
	var events [128]syscall.EpollEvent
	wake := func(fd uintptr) bool {
		n, err := syscall.EpollWait(int(fd), events[:], 0)
		if n <= 0 {
			return err != nil && err != syscall.EINTR && err != syscall.EAGAIN
		}
		w.mu.Lock()
		for _, ev := range events[:n] {
			if s := int(ev.Fd); s < len(w.slots) {
				if lc := w.slots[s]; lc != nil {
					if w.onReport != nil {
						w.onReport(lc)
					}
					lc.report()
				}
			}
		}
		w.mu.Unlock()
		return true
	}
	for {
		if err := w.rc.Read(wake); err != nil {
			break // closed, or the set cannot be polled
		}
	}
	w.mu.Lock()
	w.stopped.Store(true)
	for _, lc := range w.slots {
		if lc != nil {
			lc.report() // whoever waits goes on to read
		}
	}
	w.mu.Unlock()
}

// add puts lc's connection (rc) into the set; it reports false when it
// could not (lc then waits in reads, as before).
func (w *fifoWaker) add(lc *leanConn, rc syscall.RawConn) bool {
	w.mu.Lock()
	var slot int32
	if n := len(w.free); n > 0 {
		slot, w.free = w.free[n-1], w.free[:n-1]
	} else {
		slot = int32(len(w.slots))
		w.slots = append(w.slots, nil)
	}
	w.slots[slot] = lc
	w.mu.Unlock()
	ev := syscall.EpollEvent{Events: syscall.EPOLLIN | syscall.EPOLLRDHUP | epollET, Fd: slot}
	var cerr error
	err := w.ctl(rc, func(epfd, fd int) {
		cerr = syscall.EpollCtl(epfd, syscall.EPOLL_CTL_ADD, fd, &ev)
	})
	if err != nil || cerr != nil {
		w.release(slot)
		return false
	}
	lc.slot, lc.rc = slot, rc
	return true
}

// remove takes lc out of the set, before its connection is closed (a
// closed descriptor leaves the set by itself). lc.rc stays: a report
// still under way may use it (checkGone), and on a closed connection it
// fails harmlessly.
func (w *fifoWaker) remove(lc *leanConn) {
	_ = w.ctl(lc.rc, func(epfd, fd int) {
		_ = syscall.EpollCtl(epfd, syscall.EPOLL_CTL_DEL, fd, nil)
	})
	w.release(lc.slot)
}

// ctl runs f with the epoll set's descriptor and rc's, each held open for
// the call (neither number can be a reused one); it fails when either is
// closed.
func (w *fifoWaker) ctl(rc syscall.RawConn, f func(epfd, fd int)) error {
	var inner error
	err := rc.Control(func(fd uintptr) {
		inner = w.rc.Control(func(epfd uintptr) { f(int(epfd), int(fd)) })
	})
	if err != nil {
		return err
	}
	return inner
}

func (w *fifoWaker) release(slot int32) {
	w.mu.Lock()
	w.slots[slot] = nil
	w.free = append(w.free, slot)
	w.mu.Unlock()
}

// peekGone reports whether the connection behind rc has ended: a peek
// (MSG_PEEK, which takes no byte, and MSG_DONTWAIT) finds the end of the
// stream or an error (reset). Bytes, or nothing yet, say it has not; so
// does a connection closed on this side (rc fails), whose end is not the
// client's doing.
func peekGone(rc syscall.RawConn) bool {
	var b [1]byte
	gone := false
	_ = rc.Control(func(fd uintptr) {
		for {
			n, _, err := syscall.Recvfrom(int(fd), b[:], syscall.MSG_PEEK|syscall.MSG_DONTWAIT)
			switch {
			case err == syscall.EINTR:
				continue
			case err == syscall.EAGAIN:
			case err != nil, n == 0:
				gone = true
			}
			return
		}
	})
	return gone
}

// close ends the waker's goroutine and closes the epoll set.
func (w *fifoWaker) close() { _ = w.file.Close() }
