package serve

import (
	"bufio"
	"io"
	"net"
	"os"
	"sync"
	"time"
)

// handoffConn is the connection net/http serves for one request whose head
// the lean engine read, or (remain < 0) for the rest of the connection.
//
// Reads come from the lean engine's reader (bytes it already read first)
// and stop at the end of the request: net/http never sees the next
// request's bytes. Once net/http finished the response (ConnState
// StateIdle), its next read gets io.EOF and it closes the connection
// quietly; that Close hands the connection back to the lean engine instead
// of closing it. Until then a read past the request waits on the socket
// (keeping what arrives for the lean engine), so that net/http still learns
// of a client that went away, and honours read deadlines (net/http's
// background read is aborted with a deadline in the past). Writes,
// addresses and deadlines go to the underlying connection.
type handoffConn struct {
	*conn
	br *bufio.Reader

	mu       sync.Mutex
	remain   int64 // request bytes still to give net/http; < 0: no limit
	limited  bool  // one request (remain started >= 0): the connection comes back
	released bool  // net/http finished the response and waits for another
	hijacked bool  // a handler took the connection over
	closed   bool
	readDL   time.Time
	wake     chan struct{} // 1-buffered: the state changed
	done     chan bool     // at Close: whether the lean engine resumes
}

func newHandoff(c *conn, br *bufio.Reader, extent int64) *handoffConn {
	return &handoffConn{conn: c, br: br, remain: extent, limited: extent >= 0,
		wake: make(chan struct{}, 1), done: make(chan bool, 1)}
}

func (h *handoffConn) signal() {
	select {
	case h.wake <- struct{}{}:
	default:
	}
}

// Read reads the request, then blocks until the response is done (io.EOF),
// the connection closes, or the read deadline passes.
func (h *handoffConn) Read(p []byte) (int, error) {
	h.mu.Lock()
	if h.closed {
		h.mu.Unlock()
		return 0, net.ErrClosed
	}
	if h.released && h.limited {
		// The request is answered: what follows is the lean engine's.
		h.mu.Unlock()
		return 0, io.EOF
	}
	for h.remain == 0 && !h.hijacked {
		switch {
		case h.closed:
			h.mu.Unlock()
			return 0, net.ErrClosed
		case h.released:
			h.mu.Unlock()
			return 0, io.EOF
		case !h.readDL.IsZero() && !time.Now().Before(h.readDL):
			h.mu.Unlock()
			return 0, os.ErrDeadlineExceeded
		}
		if h.br.Buffered() == 0 {
			// Wait on the socket itself, so that net/http's background
			// read still learns that the client went away; bytes that
			// arrive are the next request's, kept for the lean engine.
			h.mu.Unlock()
			if _, err := h.br.Peek(1); err != nil {
				return 0, err
			}
			h.mu.Lock()
			continue
		}
		dl := h.readDL
		h.mu.Unlock()
		var timer *time.Timer
		var expired <-chan time.Time
		if !dl.IsZero() {
			timer = time.NewTimer(time.Until(dl))
			expired = timer.C
		}
		select {
		case <-h.wake:
		case <-expired:
		}
		if timer != nil {
			timer.Stop()
		}
		h.mu.Lock()
	}
	limit := h.remain
	if h.hijacked {
		limit = -1
	}
	h.mu.Unlock()
	if limit > 0 && int64(len(p)) > limit {
		p = p[:limit]
	}
	n, err := h.br.Read(p)
	if limit > 0 {
		h.mu.Lock()
		h.remain -= int64(n)
		h.mu.Unlock()
	}
	return n, err
}

// SetReadDeadline sets the deadline on the connection and for a read
// waiting past the request.
func (h *handoffConn) SetReadDeadline(t time.Time) error {
	h.mu.Lock()
	h.readDL = t
	h.mu.Unlock()
	h.signal()
	return h.conn.SetReadDeadline(t)
}

// SetDeadline sets both deadlines.
func (h *handoffConn) SetDeadline(t time.Time) error {
	if err := h.SetReadDeadline(t); err != nil {
		return err
	}
	return h.conn.SetWriteDeadline(t)
}

// release is called when net/http finished the response (StateIdle).
func (h *handoffConn) release() {
	h.conn.responded()
	h.mu.Lock()
	h.released = true
	h.mu.Unlock()
	h.signal()
}

// hijack is called when a handler took the connection over.
func (h *handoffConn) hijack() {
	h.mu.Lock()
	h.hijacked = true
	h.mu.Unlock()
	h.signal()
}

// Close hands the connection back to the lean engine when net/http is
// done with a finished response, and closes it otherwise.
func (h *handoffConn) Close() error {
	h.mu.Lock()
	if h.closed {
		h.mu.Unlock()
		return nil
	}
	h.closed = true
	resume := h.limited && h.released && !h.hijacked
	h.mu.Unlock()
	h.signal()
	var err error
	if !resume {
		err = h.conn.Close()
	}
	h.done <- resume
	return err
}

// handoff lets net/http serve the next extent bytes of the connection (one
// request), or the rest of it (extent < 0). It returns nil when the
// connection comes back for another request, errLeanHandoff when it was
// closed, and net.ErrClosed when net/http no longer accepts connections.
func (lc *leanConn) handoff(extent int64) error {
	// Responses to earlier pipelined requests go first.
	if err := lc.flush(); err != nil {
		return err
	}
	h := newHandoff(lc.c, lc.br, extent)
	lc.setReadDeadline(time.Time{}) // net/http sets its own
	if !lc.s.h1ln.deliver(h) {
		return net.ErrClosed
	}
	if extent < 0 {
		// net/http (or a handler that takes the connection over) owns
		// it for good: Shutdown no longer waits for it as a lean one.
		lc.s.removeLean(lc)
	}
	if !<-h.done {
		return errLeanHandoff
	}
	// Whatever net/http left set, at a time not known here: the next
	// wait re-arms it (armReadDeadline, as deadlineAt is in the past).
	lc.readDeadline, lc.deadlineAt = true, time.Time{}
	return nil
}
