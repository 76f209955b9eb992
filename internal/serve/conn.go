package serve

import (
	"crypto/tls"
	"io"
	"net"
	"sync"
	"sync/atomic"
)

// headMax is how many of the first bytes a client sends on a connection
// serve keeps for RejectInfo.Head (the request line and headers of the
// connection's first request, as far as they fit).
const headMax = 16 << 10

type plainConnKey struct{}

// conn is the plaintext connection net/http serves HTTP/1.x on: the
// accepted socket, or the *tls.Conn after serve's handshake. Every byte
// net/http writes passes through Write, which recognises net/http's own
// error responses (rejectTable) and lets the plane replace them.
type conn struct {
	net.Conn
	info  *ConnInfo
	tls   *tls.ConnectionState   // nil for plain HTTP
	plane *atomic.Pointer[Plane] // the Server's current plane

	// inRequest is set while a request on the connection is with the
	// handler or its response is being written (from the handler's start
	// to net/http's StateIdle); net/http writes its own error responses
	// only outside that span.
	inRequest atomic.Bool
	// served is set once a request reached the handler: head then no
	// longer describes the request being read.
	served atomic.Bool

	mu   sync.Mutex
	head []byte
}

func (s *Server) newConn(c net.Conn, ci *ConnInfo, state *tls.ConnectionState) *conn {
	return &conn{Conn: c, info: ci, tls: state, plane: &s.plane}
}

// Read passes through, keeping the first bytes of the connection.
func (c *conn) Read(p []byte) (int, error) {
	n, err := c.Conn.Read(p)
	if n > 0 && !c.served.Load() {
		c.mu.Lock()
		if room := headMax - len(c.head); room > 0 {
			c.head = append(c.head, p[:min(n, room)]...)
		}
		c.mu.Unlock()
	}
	return n, err
}

// Write passes through, except for one of net/http's own error responses,
// which the plane's Reject may replace.
func (c *conn) Write(p []byte) (int, error) {
	if c.inRequest.Load() {
		return c.Conn.Write(p)
	}
	kind, status, ok := builtinReject(p)
	if !ok {
		return c.Conn.Write(p)
	}
	return c.reject(kind, status, p)
}

// requestStarted is called when a request on c reaches the handler.
func (c *conn) requestStarted() {
	c.inRequest.Store(true)
	if !c.served.Load() {
		c.served.Store(true)
		c.mu.Lock()
		c.head = nil
		c.mu.Unlock()
	}
}

// responded is called when net/http finished a response and waits for the
// next request (StateIdle).
func (c *conn) responded() { c.inRequest.Store(false) }

// CloseWrite half-closes the connection when the underlying one can
// (net/http uses it to let a client read an error response).
func (c *conn) CloseWrite() error {
	if cw, ok := c.Conn.(interface{ CloseWrite() error }); ok {
		return cw.CloseWrite()
	}
	return nil
}

// ReadFrom lets net/http copy a response body with the underlying
// connection's ReadFrom (sendfile, splice) where it has one.
func (c *conn) ReadFrom(r io.Reader) (int64, error) {
	if rf, ok := c.Conn.(io.ReaderFrom); ok {
		return rf.ReadFrom(r)
	}
	return io.Copy(writerOnly{c.Conn}, r)
}

type writerOnly struct{ io.Writer }

// chanListener is the net.Listener the http.Server serves: serve delivers
// the connections it accepted (and, for TLS, handshook) through it.
type chanListener struct {
	addr   net.Addr
	ch     chan net.Conn
	closed chan struct{}
	once   sync.Once
}

func newChanListener(addr net.Addr) *chanListener {
	return &chanListener{addr: addr, ch: make(chan net.Conn), closed: make(chan struct{})}
}

// deliver hands c to Accept; false when the listener closed first.
func (l *chanListener) deliver(c net.Conn) bool {
	select {
	case <-l.closed:
		return false
	default:
	}
	select {
	case l.ch <- c:
		return true
	case <-l.closed:
		return false
	}
}

func (l *chanListener) Accept() (net.Conn, error) {
	select {
	case c := <-l.ch:
		return c, nil
	case <-l.closed:
		return nil, net.ErrClosed
	}
}

func (l *chanListener) Close() error {
	l.once.Do(func() { close(l.closed) })
	return nil
}

func (l *chanListener) Addr() net.Addr { return l.addr }
