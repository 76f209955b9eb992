// Package serve owns kumo's listening sockets: one Server per local address,
// HTTP/1.1 and HTTP/2 (over TLS), whose handler and TLS configuration can be
// swapped atomically — even from plain HTTP to TLS and back, as TLS is
// decided per accepted connection. A reload swaps in a new data plane while
// in-flight requests finish on the old one, and no socket is closed or
// re-bound.
//
// serve runs the TLS handshake itself (one goroutine per connection, with a
// timeout), serves connections that negotiated "h2" with HTTP/2, and hands
// every HTTP/1.x connection to net/http through a kumo-owned plaintext
// wrapper, so that every byte net/http writes passes through serve: a plane
// can replace the error responses net/http writes on its own, before any
// handler runs (Plane.Reject).
//
// serve also records per-connection facts (the accept time and the
// ALB-style connection trace id) that the data planes read back from the
// request context with ConnInfoFrom.
package serve

import (
	"context"
	"crypto/rand"
	"crypto/tls"
	"encoding/hex"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	"golang.org/x/net/http2"
)

// ConnInfo describes one accepted client connection.
type ConnInfo struct {
	// Accepted is when the connection was accepted.
	Accepted time.Time
	// TraceID is an ALB conn_trace_id: TID_ + 32 lowercase hex.
	TraceID string
	// Local and Remote are the socket addresses.
	Local  net.Addr
	Remote net.Addr
	// Conn is the connection as the listener returned it: a listener that
	// wraps its connections finds its own type here.
	Conn net.Conn
}

type connInfoKey struct{}

// ConnInfoFrom returns the ConnInfo of the connection that carried the
// request whose context is ctx, or nil outside a serve.Server.
func ConnInfoFrom(ctx context.Context) *ConnInfo {
	ci, _ := ctx.Value(connInfoKey{}).(*ConnInfo)
	return ci
}

// WithConnInfo returns a context that carries ci; tests use it to drive a
// handler without a Server.
func WithConnInfo(ctx context.Context, ci *ConnInfo) context.Context {
	return context.WithValue(ctx, connInfoKey{}, ci)
}

// TLSConfigFunc picks the TLS configuration for a client hello (by SNI).
type TLSConfigFunc func(*tls.ClientHelloInfo) (*tls.Config, error)

// Plane is what a data plane offers a Server: a handler and, for TLS
// listeners, the TLS configuration per client hello.
type Plane struct {
	Handler http.Handler
	// TLS is nil for a plain-HTTP listener.
	TLS TLSConfigFunc
	// Reject, when set, is asked for the bytes to send instead of one of
	// the error responses net/http writes on its own for an HTTP/1.x
	// request it could not parse (see RejectKind). ok=false sends
	// net/http's own response. It runs on the connection's goroutine; the
	// connection is closed after the response.
	Reject func(info RejectInfo) (response []byte, ok bool)
}

// ConnObserver is implemented by accepted connections (as returned by the
// Server's net.Listener) that want to follow what serve does with them: a
// wrapping listener uses it to learn the connection's ConnInfo and to tell
// established TLS connections from failed ones exactly.
type ConnObserver interface {
	// ConnAccepted is called once, right after the accept, before serve
	// reads from the connection.
	ConnAccepted(ci *ConnInfo)
	// TLSHandshakeDone is called once, on a TLS listener, when the
	// handshake succeeded (state set, err nil) or failed (state nil).
	TLSHandshakeDone(state *tls.ConnectionState, err error)
}

// Options tune a Server.
type Options struct {
	// HTTP2 enables HTTP/2 via ALPN on TLS listeners.
	HTTP2 bool
	// IdleTimeout closes idle keep-alive connections, HTTP/1.x and
	// HTTP/2 (0: 60 s, as the ALB).
	IdleTimeout time.Duration
	// ReadHeaderTimeout bounds reading an HTTP/1.x request's headers
	// (0: 30 s).
	ReadHeaderTimeout time.Duration
	// HandshakeTimeout bounds a TLS handshake (0: ReadHeaderTimeout, as
	// net/http does).
	HandshakeTimeout time.Duration
	// Logger receives the server's own errors.
	Logger *slog.Logger
}

// Server is one listening address.
type Server struct {
	ln  net.Listener
	srv *http.Server // HTTP/1.x, over plain and TLS wrapper conns
	// h2 serves the connections whose ALPN chose "h2". x/net/http2 marks
	// Server and ServeConn deprecated in favour of http.Server.Protocols,
	// but net/http cannot serve a connection whose TLS handshake kumo ran
	// itself (serve must see net/http's plaintext), so ServeConn it is.
	h2 *http2.Server
	// h2Stacks runs the HTTP/2 handlers (StackPool); h2Bufs holds the
	// buffers their connections gather writes in (h2Conn).
	h2Stacks StackPool
	h2Bufs   h2Bufs
	h2Hook   *http.Server // carries x/net/http2's graceful-shutdown hook only
	plane    atomic.Pointer[Plane]
	opt      Options
	log      *slog.Logger
	// tlsBase is the server side of every TLS connection: it asks the plane
	// current at handshake time for the real configuration.
	tlsBase *tls.Config
	h1ln    *chanListener

	mu      sync.Mutex
	closing bool
	// closingFlag mirrors closing for the lean engine's per-request
	// checks, which take no lock.
	closingFlag atomic.Bool
	handshaking map[net.Conn]struct{}
	h2conns     map[*tls.Conn]struct{}
	leans       map[*leanConn]struct{} // connections on the lean engine
	leanWG      sync.WaitGroup
	dateVal     atomic.Pointer[dateCache]
	leanReaders sync.Pool      // *bufio.Reader of lean connections
	workers     sync.WaitGroup // accept loop, handshakes, HTTP/2 connections
	// fifo wakes idle plain-TCP lean connections in arrival order
	// (fifo_linux.go); made at the first such wait, closed at Shutdown.
	// fifoFailed: it could not be made (idle connections wait in reads).
	fifo       *fifoWaker
	fifoFailed bool

	// base is the parent of every connection's and request's context; it is
	// cancelled at Shutdown once ordinary requests have drained, which tells
	// handlers that took over their connection (WebSockets) to finish.
	base       context.Context
	cancelBase context.CancelFunc
	// handlers counts the handler calls in progress, hijacked ones included:
	// net/http's Shutdown does not wait for those, and their log lines must
	// not be lost.
	handlers sync.WaitGroup

	serveErr  error
	serveDone chan struct{} // closed when srv.Serve returned
	acceptErr error
	acceptEnd chan struct{} // closed when the accept loop returned
}

// Listen binds addr and starts serving p. TLS is used while the plane has
// TLS set.
func Listen(addr string, p Plane, opt Options) (*Server, error) {
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return nil, fmt.Errorf("listen on %s: %w", addr, err)
	}
	return Serve(ln, p, opt), nil
}

// Serve starts serving p on an existing listener, which the Server then owns.
func Serve(ln net.Listener, p Plane, opt Options) *Server {
	if opt.IdleTimeout == 0 {
		opt.IdleTimeout = 60 * time.Second
	}
	if opt.ReadHeaderTimeout == 0 {
		opt.ReadHeaderTimeout = 30 * time.Second
	}
	if opt.HandshakeTimeout == 0 {
		opt.HandshakeTimeout = opt.ReadHeaderTimeout
	}
	logger := opt.Logger
	if logger == nil {
		logger = slog.Default()
	}
	s := &Server{
		ln: ln, opt: opt, log: logger,
		handshaking: map[net.Conn]struct{}{},
		h2conns:     map[*tls.Conn]struct{}{},
		leans:       map[*leanConn]struct{}{},
		serveDone:   make(chan struct{}),
		acceptEnd:   make(chan struct{}),
	}
	s.plane.Store(&p)
	s.base, s.cancelBase = context.WithCancel(context.Background())
	s.h1ln = newChanListener(ln.Addr())
	s.srv = &http.Server{
		Handler:           http.HandlerFunc(s.serveHTTP),
		BaseContext:       func(net.Listener) context.Context { return s.base },
		ReadHeaderTimeout: opt.ReadHeaderTimeout,
		IdleTimeout:       opt.IdleTimeout,
		ErrorLog:          slog.NewLogLogger(logger.Handler(), slog.LevelDebug),
		ConnContext: func(ctx context.Context, c net.Conn) context.Context {
			// h1ln delivers a *conn or a *handoffConn.
			pc, ok := c.(*conn)
			if h, isHandoff := c.(*handoffConn); isHandoff {
				pc, ok = h.conn, true
			}
			if !ok {
				return ctx
			}
			return context.WithValue(WithConnInfo(ctx, pc.info), plainConnKey{}, pc)
		},
		ConnState: func(c net.Conn, st http.ConnState) {
			// x/net/http2 calls this too, with its *tls.Conn.
			switch c := c.(type) {
			case *conn:
				if st == http.StateIdle {
					c.responded()
				}
			case *handoffConn:
				switch st {
				case http.StateIdle:
					c.release()
				case http.StateHijacked:
					c.hijack()
				}
			}
		},
	}
	protos := new(http.Protocols)
	protos.SetHTTP1(true)
	s.srv.Protocols = protos
	next := []string{"http/1.1"}
	if opt.HTTP2 {
		h2 := &http2.Server{IdleTimeout: opt.IdleTimeout}
		hook := &http.Server{}
		// ConfigureServer fails only for a TLSConfig with bad cipher
		// suites, and hook has none; should it fail, HTTP/2 is off.
		if err := http2.ConfigureServer(hook, h2); err != nil {
			logger.Error("serve: HTTP/2 disabled", "addr", ln.Addr().String(), "err", err)
		} else {
			s.h2, s.h2Hook = h2, hook
			next = []string{"h2", "http/1.1"}
		}
	}
	s.tlsBase = &tls.Config{
		NextProtos: next,
		GetConfigForClient: func(hello *tls.ClientHelloInfo) (*tls.Config, error) {
			cur := s.plane.Load()
			if cur.TLS == nil {
				return nil, errors.New("serve: the listener no longer terminates TLS")
			}
			cfg, err := cur.TLS(hello)
			if err != nil || cfg == nil {
				return cfg, err
			}
			switch {
			case len(cfg.NextProtos) == 0:
				cfg = cfg.Clone()
				cfg.NextProtos = next
			case s.h2 == nil && slices.Contains(cfg.NextProtos, http2.NextProtoTLS):
				// This Server does not speak HTTP/2: never negotiate it.
				cfg = cfg.Clone()
				cfg.NextProtos = slices.DeleteFunc(slices.Clone(cfg.NextProtos), func(p string) bool { return p == http2.NextProtoTLS })
			}
			return cfg, nil
		},
	}
	go func() {
		s.serveErr = s.srv.Serve(s.h1ln)
		close(s.serveDone)
	}()
	s.workers.Add(1)
	go s.acceptLoop()
	return s
}

// acceptLoop accepts client connections and never blocks on one: a TLS
// handshake runs in its own goroutine.
func (s *Server) acceptLoop() {
	defer s.workers.Done()
	defer close(s.acceptEnd)
	var backoff time.Duration
	for {
		c, err := s.ln.Accept()
		if err != nil {
			if s.isClosing() {
				return
			}
			if errors.Is(err, net.ErrClosed) {
				s.acceptErr = fmt.Errorf("accept on %s: %w", s.Addr(), err)
				return
			}
			// Any other accept failure (e.g. out of descriptors) is retried
			// with a growing pause, as net/http does for temporary ones.
			backoff = min(max(2*backoff, 5*time.Millisecond), time.Second)
			s.log.Warn("serve: accept failed; retrying", "addr", s.Addr(), "err", err, "in", backoff)
			time.Sleep(backoff)
			continue
		}
		backoff = 0
		ci := &ConnInfo{Accepted: time.Now(), TraceID: newTraceID(), Local: c.LocalAddr(), Remote: c.RemoteAddr(), Conn: c}
		if o, ok := c.(ConnObserver); ok {
			o.ConnAccepted(ci)
		}
		if s.plane.Load().TLS == nil {
			pc := s.newConn(c, ci, nil)
			if s.lean() {
				go s.serveLean(pc)
			} else {
				s.deliver(pc)
			}
			continue
		}
		s.mu.Lock()
		if s.closing {
			s.mu.Unlock()
			_ = c.Close()
			return
		}
		s.handshaking[c] = struct{}{}
		s.workers.Add(1)
		s.mu.Unlock()
		go s.handshake(c, ci)
	}
}

func (s *Server) isClosing() bool { return s.closingFlag.Load() }

// deliver hands an HTTP/1.x connection to net/http.
func (s *Server) deliver(c *conn) {
	if !s.h1ln.deliver(c) {
		_ = c.Close()
	}
}

// waitCtx waits for wg, or until ctx ends.
func waitCtx(ctx context.Context, wg *sync.WaitGroup) error {
	done := make(chan struct{})
	go func() { wg.Wait(); close(done) }()
	select {
	case <-done:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

// plainHTTPOnTLS is what net/http answers a client that sent plain HTTP to
// a TLS port (net/http/server.go, conn.serve); serve keeps that answer now
// that it runs the handshake.
const plainHTTPOnTLS = "HTTP/1.0 400 Bad Request\r\n\r\nClient sent an HTTP request to an HTTPS server.\n"

// handshake runs the TLS handshake of one connection, then serves it with
// HTTP/2 (ALPN "h2") or hands it to net/http as HTTP/1.x.
func (s *Server) handshake(raw net.Conn, ci *ConnInfo) {
	defer s.workers.Done()
	ctx := WithConnInfo(s.base, ci)
	tc := tls.Server(raw, s.tlsBase)
	dl := time.Now().Add(s.opt.HandshakeTimeout)
	_ = raw.SetReadDeadline(dl)
	_ = raw.SetWriteDeadline(dl)
	err := tc.HandshakeContext(ctx)
	obs, _ := raw.(ConnObserver)
	if err != nil {
		if obs != nil {
			obs.TLSHandshakeDone(nil, err)
		}
		var re tls.RecordHeaderError
		if errors.As(err, &re) && re.Conn != nil && looksLikeHTTP(re.RecordHeader) {
			_, _ = re.Conn.Write([]byte(plainHTTPOnTLS))
		}
		s.log.Debug("serve: TLS handshake failed", "client", ci.Remote.String(), "err", err)
		s.forgetHandshake(raw)
		_ = raw.Close()
		return
	}
	_ = raw.SetReadDeadline(time.Time{})
	_ = raw.SetWriteDeadline(time.Time{})
	state := tc.ConnectionState()
	if obs != nil {
		obs.TLSHandshakeDone(&state, nil)
	}
	s.mu.Lock()
	delete(s.handshaking, raw)
	if s.closing {
		s.mu.Unlock()
		_ = tc.Close()
		return
	}
	if state.NegotiatedProtocol == http2.NextProtoTLS && s.h2 != nil {
		s.h2conns[tc] = struct{}{}
		s.mu.Unlock()
		s.serveH2(ctx, tc)
		return
	}
	s.mu.Unlock()
	pc := s.newConn(tc, ci, &state)
	if s.lean() {
		s.serveLean(pc)
		return
	}
	s.deliver(pc)
}

// lean reports whether a new HTTP/1.x connection goes to the lean engine:
// when the current plane's Handler is a FastHandler.
func (s *Server) lean() bool {
	_, ok := s.plane.Load().Handler.(FastHandler)
	return ok
}

func (s *Server) forgetHandshake(raw net.Conn) {
	s.mu.Lock()
	delete(s.handshaking, raw)
	s.mu.Unlock()
}

// looksLikeHTTP reports whether a TLS record header is the start of a plain
// HTTP request (as net/http's tlsRecordHeaderLooksLikeHTTP).
func looksLikeHTTP(hdr [5]byte) bool {
	switch string(hdr[:]) {
	case "GET /", "HEAD ", "POST ", "PUT /", "OPTIO":
		return true
	}
	return false
}

// serveH2 serves one HTTP/2 connection until it ends. Its requests'
// contexts carry ci (from ctx); x/net/http2 checks the TLS version and
// cipher suite HTTP/2 requires.
func (s *Server) serveH2(ctx context.Context, tc *tls.Conn) {
	hc := newH2Conn(tc, &s.h2Bufs)
	defer func() {
		s.mu.Lock()
		delete(s.h2conns, tc)
		s.mu.Unlock()
		_ = hc.Close()
	}()
	s.h2.ServeConn(hc, &http2.ServeConnOpts{
		Context:    ctx,
		BaseConfig: s.srv,
		// On the pool's goroutines: their stacks are grown already.
		Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			s.h2Stacks.Run(func() { s.serveHTTP(w, r) })
		}),
	})
}

// serveHTTP runs one request (HTTP/1.x or HTTP/2) on the plane current at
// its start.
func (s *Server) serveHTTP(w http.ResponseWriter, r *http.Request) {
	s.handlers.Add(1)
	defer s.handlers.Done()
	if r.ProtoMajor == 1 {
		if pc, ok := r.Context().Value(plainConnKey{}).(*conn); ok {
			pc.requestStarted()
			if r.TLS == nil && pc.tls != nil {
				// net/http sees the plaintext wrapper, not a *tls.Conn.
				r.TLS = pc.tls
			}
		}
	}
	s.plane.Load().Handler.ServeHTTP(w, r)
}

// Addr is the bound local address (with the real port when ":0" was asked).
func (s *Server) Addr() string { return s.ln.Addr().String() }

// TLS reports whether the server terminates TLS on new connections.
func (s *Server) TLS() bool { return s.plane.Load().TLS != nil }

// Swap makes p serve every request that starts from now on, and every
// connection accepted from now on (TLS or not, as p says). Requests in flight
// finish on the plane they started on.
func (s *Server) Swap(p Plane) { s.plane.Store(&p) }

// shutdownPoll is how often Shutdown looks at the HTTP/2 connections still
// open (as net/http polls its idle connections).
const shutdownPoll = 20 * time.Millisecond

// Shutdown stops accepting, waits for in-flight requests to finish (or ctx to
// end) and closes the socket. HTTP/1.x connections close once idle; HTTP/2
// connections get a GOAWAY and close once their streams finished; TLS
// handshakes still running are abandoned. When ctx ends first, every
// connection left is closed and ctx's error returned.
func (s *Server) Shutdown(ctx context.Context) error {
	s.mu.Lock()
	s.closing = true
	s.closingFlag.Store(true)
	for c := range s.handshaking {
		_ = c.Close()
	}
	s.closeLeansLocked(false)
	s.mu.Unlock()
	_ = s.ln.Close()
	<-s.acceptEnd
	if s.h2Hook != nil {
		_ = s.h2Hook.Shutdown(ctx) // GOAWAY to every HTTP/2 connection
	}
	err := s.srv.Shutdown(ctx)
	<-s.serveDone
	if lerr := waitCtx(ctx, &s.leanWG); lerr != nil {
		s.mu.Lock()
		s.closeLeansLocked(true)
		s.mu.Unlock()
		if err == nil {
			err = lerr
		}
	}
	if herr := s.drainH2(ctx); err == nil {
		err = herr
	}
	// Only handlers that took over their connection are left: tell them to
	// finish, and wait for them (and their log lines).
	s.cancelBase()
	if herr := waitCtx(ctx, &s.handlers); err == nil && herr != nil {
		err = fmt.Errorf("handlers that took over their connection: %w", herr)
	}
	s.workers.Wait()
	s.h2Stacks.Close()
	s.mu.Lock()
	if s.fifo != nil {
		s.fifo.close()
		s.fifo = nil
	}
	s.mu.Unlock()
	if err == nil && s.serveErr != nil && !errors.Is(s.serveErr, http.ErrServerClosed) {
		err = s.serveErr
	}
	if err == nil {
		err = s.acceptErr
	}
	return err
}

// drainH2 waits for the HTTP/2 connections to end. A connection that began
// serving just as Shutdown started may have missed the first GOAWAY, so it
// is sent again on every poll (x/net/http2 sends it once per connection).
func (s *Server) drainH2(ctx context.Context) error {
	if s.h2Hook == nil {
		return nil
	}
	t := time.NewTicker(shutdownPoll)
	defer t.Stop()
	for {
		s.mu.Lock()
		n := len(s.h2conns)
		s.mu.Unlock()
		if n == 0 {
			return nil
		}
		select {
		case <-ctx.Done():
			s.mu.Lock()
			for tc := range s.h2conns {
				_ = tc.Close()
			}
			s.mu.Unlock()
			return ctx.Err()
		case <-t.C:
			_ = s.h2Hook.Shutdown(ctx)
		}
	}
}

func newTraceID() string {
	var b [16]byte
	_, _ = rand.Read(b[:])
	return "TID_" + hex.EncodeToString(b[:])
}
