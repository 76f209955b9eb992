//go:build unix

package upstream

import (
	"net"
	"os"
	"syscall"
)

// rawConn is the raw connection a pconn writes its request heads through
// (sendAwait): c's, when c is a *net.TCPConn; nil otherwise (a wrapper
// might buffer or count what it reads and writes).
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

// sendAwait writes the request head in pc.wbuf and waits until the
// connection is readable: the response (or the connection's end) has begun
// to arrive. pc.wrote is called once the whole head is written.
//
// Why: a read made at once after the write finds nothing (the target has
// not answered yet), and that read is a system call wasted per exchange
// before the goroutine waits in Go's poller. Here the write is made inside
// the raw connection's read, after the poller forgot any earlier
// readiness and before the wait, so the wait sees every arrival after the
// write and the read that follows finds the response. A wake with nothing
// to read (an arrival an earlier read took) only means that read waits in
// the poller, as it would have.
//
// The wait ends as a read does: when the connection is closed (an abort)
// or a read deadline passes; the read that follows then reports it. What
// the socket cannot take without waiting (a full buffer), or a write the
// closed connection never began, is left to conn.Write.
func (pc *pconn) sendAwait() error {
	pc.sent, pc.sendErr, pc.sendFirst = 0, nil, true
	_ = pc.rc.Read(pc.sendStep) // a failed wait: the read that follows reports it
	b := pc.wbuf
	switch {
	case pc.sendErr != nil:
		return &net.OpError{Op: "write", Net: "tcp", Source: pc.conn.LocalAddr(), Addr: pc.conn.RemoteAddr(), Err: os.NewSyscallError("write", pc.sendErr)}
	case pc.sent == len(b):
		return nil
	}
	if _, err := pc.conn.Write(b[pc.sent:]); err != nil {
		return err
	}
	pc.wrote()
	return nil
}

// step is sendAwait's function for the raw read, made once per
// connection (a closure per exchange would be an allocation): the first
// call writes, the next reports the connection readable.
func (pc *pconn) step(fd uintptr) bool {
	if !pc.sendFirst {
		return true
	}
	pc.sendFirst = false
	b := pc.wbuf
	for pc.sent < len(b) {
		m, err := syscall.Write(int(fd), b[pc.sent:])
		if err == syscall.EINTR {
			continue
		}
		if err != nil {
			if err != syscall.EAGAIN {
				pc.sendErr = err
			}
			return true
		}
		pc.sent += m
	}
	pc.wrote()
	return false // wait for the response
}
