package serve

import (
	"crypto/tls"
	"net"
	"runtime"
	"sync"
	"time"
)

// h2WriteMax bounds the bytes an h2Conn holds unsent: a Write that would
// take it past this is written through, after what is held (so a handler
// streaming a large body is not copied, and memory per connection stays
// bounded).
const h2WriteMax = 64 << 10

// h2BufSize is the capacity of the buffers an h2Conn gathers writes in. They
// come from the server's pool when a connection has bytes to keep and go
// back once sent, so an idle connection holds none (as x/net/http2's own
// write buffer).
const h2BufSize = 16 << 10

// h2Bufs is the pool of an h2Conn's buffers (*[]byte, h2BufSize or grown
// up to h2WriteMax).
type h2Bufs struct{ pool sync.Pool }

func (b *h2Bufs) get() []byte {
	if p, ok := b.pool.Get().(*[]byte); ok {
		return (*p)[:0]
	}
	return make([]byte, 0, h2BufSize)
}

func (b *h2Bufs) put(buf []byte) {
	if cap(buf) == 0 || cap(buf) > h2WriteMax {
		return
	}
	buf = buf[:0]
	b.pool.Put(&buf)
}

// h2Conn is the connection x/net/http2 serves an HTTP/2 connection on: the
// *tls.Conn after serve's handshake, with its writes gathered.
//
// Why: x/net/http2's serve loop flushes its frame buffer whenever its write
// queue runs dry, and with each handler on a goroutine of its own it runs
// dry after almost every frame. Under load that is a TLS record and a
// write(2) for nearly every frame: 1.7 writes per request for h2load -c64
// -m10 against the bench stack, the largest single cost on kumo's core.
// h2Conn's Write keeps the bytes and wakes a flusher goroutine, which
// yields once (so the goroutines that are ready to run, the other streams'
// handlers among them, add their frames first) and then writes everything
// kept in one call. On that benchmark: 0.1 writes per request, and 1.5
// times the requests per second.
//
// A write error is kept and returned by every later Write; it also closes
// the socket, so that the serve loop's pending read ends too (x/net/http2
// learns of the error at its next write, or through that read, instead of
// at the flush that met it). Close writes what is kept, then closes. Reads,
// deadlines and ConnectionState are the *tls.Conn's.
type h2Conn struct {
	*tls.Conn

	// wmu is held by whoever writes to Conn (the flusher, a written-through
	// Write, Close): it keeps the byte order of Writes.
	wmu sync.Mutex

	bufs    *h2Bufs
	mu      sync.Mutex
	pending []byte // bytes written and not yet sent (nil: none, no buffer)
	err     error  // the first write error, or net.ErrClosed after Close

	// closeFlush bounds Close's wait (h2CloseFlush; tests shorten it).
	closeFlush time.Duration

	kick chan struct{} // capacity 1: pending became non-empty
	done chan struct{} // closed by Close: the flusher returns
	once sync.Once
}

// newH2Conn wraps tc and starts its flusher; Close ends it. Its buffers
// come from bufs.
func newH2Conn(tc *tls.Conn, bufs *h2Bufs) *h2Conn {
	c := &h2Conn{Conn: tc, bufs: bufs, closeFlush: h2CloseFlush, kick: make(chan struct{}, 1), done: make(chan struct{})}
	go c.flusher()
	return c
}

// Write keeps p to be sent by the flusher, or writes it through (after what
// is kept) when it would take the kept bytes past h2WriteMax.
func (c *h2Conn) Write(p []byte) (int, error) {
	c.mu.Lock()
	if c.err != nil {
		err := c.err
		c.mu.Unlock()
		return 0, err
	}
	if len(c.pending)+len(p) > h2WriteMax {
		c.mu.Unlock()
		return c.writeThrough(p)
	}
	wake := len(c.pending) == 0
	if c.pending == nil {
		c.pending = c.bufs.get()
	}
	c.pending = append(c.pending, p...)
	c.mu.Unlock()
	if wake {
		select {
		case c.kick <- struct{}{}:
		default: // a kick is already waiting
		}
	}
	return len(p), nil
}

// writeThrough sends what is kept and then p, in the order written.
func (c *h2Conn) writeThrough(p []byte) (int, error) {
	c.wmu.Lock()
	defer c.wmu.Unlock()
	if err := c.flushLocked(); err != nil {
		return 0, err
	}
	n, err := c.Conn.Write(p)
	if err != nil {
		c.fail(err)
	}
	return n, err
}

// flusher sends the kept bytes after each kick, once the goroutines ready
// to run have had their turn.
func (c *h2Conn) flusher() {
	for {
		select {
		case <-c.kick:
		case <-c.done:
			return
		}
		// The kick readied this goroutine to run next; yielding puts it
		// behind the goroutines already runnable, whose frames then go
		// out in the same write.
		runtime.Gosched()
		c.wmu.Lock()
		_ = c.flushLocked()
		c.wmu.Unlock()
	}
}

// flushLocked writes the kept bytes and gives their buffer back to the
// pool; c.wmu is held.
func (c *h2Conn) flushLocked() error {
	c.mu.Lock()
	buf := c.pending
	c.pending = nil
	err := c.err
	c.mu.Unlock()
	defer c.bufs.put(buf) // after the write: the kernel has the bytes then
	if err != nil || len(buf) == 0 {
		return err
	}
	_, werr := c.Conn.Write(buf)
	if werr != nil {
		c.fail(werr)
	}
	return werr
}

// fail records the first write error and closes the socket, which ends the
// serve loop's read.
func (c *h2Conn) fail(err error) {
	c.mu.Lock()
	first := c.err == nil
	if first {
		c.err = err
	}
	c.mu.Unlock()
	if first {
		// The socket, not the TLS connection: after a failed write its
		// close_notify could only wait for a peer that is not reading.
		_ = c.Conn.NetConn().Close()
	}
}

// h2CloseFlush bounds how long Close waits to send what is kept (and for a
// write in progress to end): as long as crypto/tls gives its close_notify.
const h2CloseFlush = 5 * time.Second

// Close sends what is kept, then closes the connection; a peer that reads
// nothing holds it up for h2CloseFlush at most. Later Writes fail with
// net.ErrClosed. It is safe to call more than once.
func (c *h2Conn) Close() error {
	var err error
	c.once.Do(func() {
		close(c.done)
		_ = c.Conn.SetWriteDeadline(time.Now().Add(c.closeFlush))
		c.wmu.Lock()
		c.mu.Lock()
		buf, open := c.pending, c.err == nil
		c.pending = nil
		if open {
			c.err = net.ErrClosed
		}
		c.mu.Unlock()
		if open && len(buf) > 0 {
			_, _ = c.Conn.Write(buf)
		}
		c.bufs.put(buf)
		c.wmu.Unlock()
		err = c.Conn.Close()
	})
	return err
}
