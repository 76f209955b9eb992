// Package serve owns kumo's listening sockets: one Server per local address,
// HTTP/1.1 and HTTP/2 (over TLS), whose handler and TLS configuration can be
// swapped atomically — even from plain HTTP to TLS and back, as TLS is
// decided per accepted connection. A reload swaps in a new data plane while
// in-flight requests finish on the old one, and no socket is closed or
// re-bound.
//
// serve also records per-connection facts (an id, the accept time and the
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
	"sync/atomic"
	"time"
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
}

// Server is one listening address.
type Server struct {
	ln    net.Listener
	srv   *http.Server
	plane atomic.Pointer[Plane]
	done  chan error
	// tlsBase is the server side of every TLS connection: it asks the plane
	// current at handshake time for the real configuration.
	tlsBase *tls.Config
}

// switchListener wraps each accepted connection in TLS when the plane
// current at accept time terminates TLS. net/http's Server then runs the
// handshake and, for "h2", HTTP/2.
type switchListener struct {
	net.Listener
	s *Server
}

func (l switchListener) Accept() (net.Conn, error) {
	c, err := l.Listener.Accept()
	if err != nil {
		return nil, err
	}
	if l.s.plane.Load().TLS != nil {
		return tls.Server(c, l.s.tlsBase), nil
	}
	return c, nil
}

// Options tune a Server.
type Options struct {
	// HTTP2 enables HTTP/2 via ALPN on TLS listeners.
	HTTP2 bool
	// IdleTimeout closes idle keep-alive connections (0: 60 s, as the ALB).
	IdleTimeout time.Duration
	// Logger receives the server's own errors.
	Logger *slog.Logger
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
	logger := opt.Logger
	if logger == nil {
		logger = slog.Default()
	}
	s := &Server{ln: ln, done: make(chan error, 1)}
	s.plane.Store(&p)
	s.srv = &http.Server{
		Handler:           http.HandlerFunc(s.serveHTTP),
		ReadHeaderTimeout: 30 * time.Second,
		IdleTimeout:       opt.IdleTimeout,
		ErrorLog:          slog.NewLogLogger(logger.Handler(), slog.LevelDebug),
		ConnContext: func(ctx context.Context, c net.Conn) context.Context {
			return WithConnInfo(ctx, &ConnInfo{
				Accepted: time.Now(),
				TraceID:  newTraceID(),
				Local:    c.LocalAddr(),
				Remote:   c.RemoteAddr(),
			})
		},
	}
	protos := new(http.Protocols)
	protos.SetHTTP1(true)
	next := []string{"http/1.1"}
	if opt.HTTP2 {
		protos.SetHTTP2(true)
		next = []string{"h2", "http/1.1"}
	}
	s.srv.Protocols = protos
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
			if len(cfg.NextProtos) == 0 {
				cfg = cfg.Clone()
				cfg.NextProtos = next
			}
			return cfg, nil
		},
	}
	go func() { s.done <- s.srv.Serve(switchListener{Listener: ln, s: s}) }()
	return s
}

func (s *Server) serveHTTP(w http.ResponseWriter, r *http.Request) {
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

// Shutdown stops accepting, waits for in-flight requests to finish (or ctx to
// end) and closes the socket.
func (s *Server) Shutdown(ctx context.Context) error {
	err := s.srv.Shutdown(ctx)
	if serr := <-s.done; serr != nil && !errors.Is(serr, http.ErrServerClosed) && err == nil {
		err = serr
	}
	s.done <- http.ErrServerClosed
	return err
}

func newTraceID() string {
	var b [16]byte
	_, _ = rand.Read(b[:])
	return "TID_" + hex.EncodeToString(b[:])
}
