//go:build unix

package upstream

import (
	"net"
	"net/http/httptrace"
	"os"
	"syscall"
)

// writeAwait writes the request head p to pc's connection and then waits
// until the connection is readable, telling o and trace in between
// (wroteHead). When awaited is false it waited for nothing and told no one:
// written bytes of p went (none for a connection that is not a file
// descriptor), and the caller writes the rest and reads as usual. err is a
// failed write.
//
// Why: the read that follows a write would otherwise be made at once, and
// a target on another core has not answered within the microsecond since,
// so that read finds nothing (EAGAIN) and only then does the goroutine wait
// in Go's poller: one system call per request for nothing. Waiting first
// needs care with an edge-triggered poller: a readiness it saw before the
// wait was armed would be lost, and the wait would outlast the answer. So
// the write is made from inside syscall.RawConn.Read, whose callback runs
// once the read wait is armed: an answer arriving any time after the write
// ends the wait.
//
// A write the kernel does not take whole (a full send buffer: a large head
// to a slow target) stops the trick: the rest is written as usual and
// nothing awaited. A wait that fails (the connection closed under it, by
// an Abort) leaves the failure to the caller's read, which meets it too.
func (pc *pconn) writeAwait(p []byte, o Observer, trace *httptrace.ClientTrace) (written int, awaited bool, err error) {
	if pc.raw == nil {
		return 0, false, nil
	}
	a := &pc.await
	*a = awaitState{p: p, o: o, trace: trace, first: true}
	_ = pc.raw.Read(pc.awaitFn)
	written, awaited, err = a.written, a.awaited, a.err
	*a = awaitState{}
	return written, awaited, err
}

// awaitState is writeAwait's, for the callback it hands RawConn.Read: a
// method value made once per connection, so a round trip allocates no
// closure.
type awaitState struct {
	p       []byte
	o       Observer
	trace   *httptrace.ClientTrace
	first   bool
	written int
	awaited bool
	err     error
}

// step is writeAwait's RawConn.Read callback: first the write, then
// (called again once the connection is readable) the end of the wait.
func (a *awaitState) step(fd uintptr) bool {
	if !a.first {
		return true // readable: the caller's read finds the answer
	}
	a.first = false
	for a.written < len(a.p) {
		n, e := syscall.Write(int(fd), a.p[a.written:])
		if e == syscall.EINTR {
			continue
		}
		if e != nil {
			if e != syscall.EAGAIN {
				a.err = &net.OpError{Op: "write", Net: "tcp", Err: os.NewSyscallError("write", e)}
			}
			return true
		}
		a.written += n
	}
	wroteHead(a.o, a.trace)
	a.awaited = true
	return false // wait for the answer
}

// rawConn returns c's syscall.RawConn when it is a plain TCP connection,
// the only kind writeAwait is used for.
func rawConn(c net.Conn) syscall.RawConn {
	tc, ok := c.(*net.TCPConn)
	if !ok {
		return nil
	}
	rc, err := tc.SyscallConn()
	if err != nil {
		return nil
	}
	return rc
}
