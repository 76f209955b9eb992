// Package upstream owns kumo's lean HTTP/1.1 client: the connection pool and
// round trip the load balancer uses toward plain-HTTP targets for requests
// without a body.
//
// It exists because net/http's Transport spends, per request, two goroutine
// hand-offs (its read and write loops) and several channel operations on
// top of the socket work; a proxy that answers from the same goroutine that
// writes the request does not. A Transport here runs the whole exchange on
// the caller's goroutine: it takes an idle connection (or dials), writes the
// request with one write, reads the response head, and hands the
// connection back to the pool when the caller has read the body to its
// end (or, with ReuseResponses, closed it). A simple head already
// buffered whole is parsed by readLean (head.go) into the very Response
// net/http would build, with fewer allocations; any other goes to
// net/http's own parser (http.ReadResponse).
//
// What it sends is what net/http's Transport sends for the same request
// (request line, Host, User-Agent, then the other headers sorted, values
// sanitised), so that a target sees no difference. Requests it does not
// take (a body, an upgrade, another scheme) are refused with
// ErrNotSupported before anything is sent, for the caller to use
// net/http's Transport instead.
package upstream

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptrace"
	"sync"
	"time"

	"github.com/kumo-dev/kumo/internal/httpwire"
	"golang.org/x/net/http/httpguts"
)

// ErrNotSupported is returned, before anything is sent, for a request the
// lean client does not take.
var ErrNotSupported = errors.New("upstream: request not supported by the lean client")

// errAborted is the error of a round trip whose Abort came before it.
var errAborted = errors.New("upstream: exchange aborted")

// Transport is a pool of HTTP/1.1 connections and the round trip over
// them. The zero value is not usable: Dial must be set. It is safe for
// concurrent use.
type Transport struct {
	// Dial opens a connection to addr ("host:port").
	Dial func(ctx context.Context, network, addr string) (net.Conn, error)
	// MaxIdlePerHost bounds the idle connections kept per address
	// (0: 256).
	MaxIdlePerHost int
	// IdleTimeout closes a connection idle that long (0: 90 s).
	IdleTimeout time.Duration
	// MaxResponseHeaderBytes bounds a response head (0: 32 KiB); a longer
	// one fails the round trip with an error saying "headers exceeded".
	MaxResponseHeaderBytes int64
	// ReuseResponses lets a connection fill again, for its next exchange,
	// the Response and the Header map of a response whose head it parsed
	// itself, saving their allocations. A caller that sets it promises to
	// close every response's Body and to use neither the Response nor its
	// Header map once it has: the header values (slices and strings) stay
	// its own, never reused. The connection then goes back to the pool
	// when the Body is closed rather than when it is read to its end, and
	// a response without a body has a Body that reads io.EOF where it
	// would otherwise be http.NoBody.
	ReuseResponses bool

	mu     sync.Mutex
	idle   map[string][]*pconn
	closed bool
	// sweep closes the connections that stayed idle for the idle timeout
	// (sweepIdle); it is armed, for the earliest such moment, while any
	// connection is idle (sweeping). One timer for the pool spares every
	// exchange a timer stop and a reset.
	sweep    *time.Timer
	sweeping bool
}

// pconn is one connection to a target.
type pconn struct {
	t    *Transport
	addr string
	conn net.Conn
	lim  io.LimitedReader // between br and conn: bounds the response head
	br   *bufio.Reader
	wbuf []byte
	keys []string
	// spare is the response readLean parsed last, filled again by the
	// next one (ReuseResponses).
	spare  *leanResponse
	idleAt time.Time
	// closeConn closes conn: the context.AfterFunc of every round trip
	// (made once per connection, not per request).
	closeConn func()
}

const (
	defaultMaxIdle       = 256
	defaultIdleTimeout   = 90 * time.Second
	defaultMaxHeaderSize = 32 << 10
	unlimited            = 1 << 62
)

// Supported reports whether req is one the lean client takes: plain HTTP,
// no body, no upgrade.
func Supported(req *http.Request) bool {
	if req.URL == nil || req.URL.Scheme != "http" || req.URL.Host == "" {
		return false
	}
	if req.Body != nil && req.Body != http.NoBody || req.ContentLength != 0 {
		return false
	}
	if len(req.TransferEncoding) > 0 || len(req.Trailer) > 0 || req.Close {
		return false
	}
	if _, ok := req.Header["Upgrade"]; ok {
		return false
	}
	return true
}

// RoundTrip sends req and returns the response, whose Body must be read to
// its end (or closed) for the connection to be reused. A connection taken
// from the pool that turns out closed by the target before anything was
// read is replaced once, as net/http's Transport does for requests without
// a body. When req's context ends, the connection is closed and the round
// trip (or the body read) fails.
func (t *Transport) RoundTrip(req *http.Request) (*http.Response, error) {
	return t.roundTrip(req, nil, nil)
}

// Observer is told of the progress of a round trip.
type Observer interface {
	// WroteHeaders is called once the request head was written, as
	// httptrace.ClientTrace's WroteHeaders.
	WroteHeaders()
}

// RoundTripObserved is RoundTrip, telling o of its progress: what an
// httptrace.ClientTrace in req's context would be told, without the
// trace's allocations (a context value and a request copy per request).
func (t *Transport) RoundTripObserved(req *http.Request, o Observer) (*http.Response, error) {
	return t.roundTrip(req, o, nil)
}

func (t *Transport) roundTrip(req *http.Request, o Observer, a *Abort) (*http.Response, error) {
	if !Supported(req) {
		return nil, ErrNotSupported
	}
	if err := validate(req); err != nil {
		return nil, err
	}
	ctx := req.Context()
	addr := req.URL.Host
	trace := httptrace.ContextClientTrace(ctx)
	for attempt := 0; ; attempt++ {
		pc, reused, err := t.get(ctx, addr, a)
		if err != nil {
			if eerr := ended(ctx, a, err); eerr != nil {
				return nil, eerr
			}
			return nil, err
		}
		stop := watch(ctx, pc, a)
		if a != nil && !a.attach(pc.closeConn) {
			stop()
			_ = pc.conn.Close()
			return nil, ended(ctx, a, errAborted)
		}
		resp, b, readAny, err := pc.roundTrip(req, trace, o)
		if err == nil {
			if b == nil { // read by http.ReadResponse
				b = &body{pc: pc, rc: resp.Body}
			}
			b.stop, b.abort, b.keep = stop, a, !resp.Close
			if resp.Body == http.NoBody {
				b.finish(true) // nothing to read: the connection is free now
			} else {
				resp.Body = b
			}
			return resp, nil
		}
		stop()
		if a != nil {
			a.detach()
		}
		_ = pc.conn.Close()
		if eerr := ended(ctx, a, err); eerr != nil {
			return nil, eerr
		}
		if reused && !readAny && attempt == 0 {
			continue // the target had closed the idle connection
		}
		return nil, err
	}
}

// validate refuses, as net/http's Transport does before it sends anything,
// a header name or value that cannot be written.
func validate(req *http.Request) error {
	for k, vv := range req.Header {
		if !httpguts.ValidHeaderFieldName(k) {
			return fmt.Errorf("net/http: invalid header field name %q", k)
		}
		for _, v := range vv {
			if !httpguts.ValidHeaderFieldValue(v) {
				return fmt.Errorf("net/http: invalid header field value for %q", k)
			}
		}
	}
	return nil
}

// idleTimeout is IdleTimeout, or its default.
func (t *Transport) idleTimeout() time.Duration {
	if t.IdleTimeout > 0 {
		return t.IdleTimeout
	}
	return defaultIdleTimeout
}

// get returns an idle connection to addr, or a new one (dialed with ctx,
// and a cancelling the dial).
func (t *Transport) get(ctx context.Context, addr string, a *Abort) (*pconn, bool, error) {
	t.mu.Lock()
	list := t.idle[addr]
	if n := len(list); n > 0 {
		// The newest: none in the pool is past the idle timeout by more
		// than the sweep's lateness (sweepIdle).
		pc := list[n-1]
		t.idle[addr] = list[:n-1]
		t.mu.Unlock()
		return pc, true, nil
	}
	t.mu.Unlock()
	c, err := t.dialAbortable(ctx, addr, a)
	if err != nil {
		return nil, false, err
	}
	pc := &pconn{t: t, addr: addr, conn: c, wbuf: make([]byte, 0, 1024)}
	pc.closeConn = func() { _ = c.Close() }
	pc.lim.R = c
	pc.lim.N = unlimited
	pc.br = bufio.NewReaderSize(&pc.lim, 4096)
	return pc, false, nil
}

// put returns a connection whose exchange is complete to the pool.
func (t *Transport) put(pc *pconn) {
	maxIdle := t.MaxIdlePerHost
	if maxIdle <= 0 {
		maxIdle = defaultMaxIdle
	}
	idleTimeout := t.idleTimeout()
	pc.idleAt = time.Now()
	t.mu.Lock()
	defer t.mu.Unlock()
	// The oldest idle connections come first: close those past the idle
	// timeout, so that a target's pool does not keep dead sockets open.
	list := t.idle[pc.addr]
	n := 0
	for n < len(list) && pc.idleAt.Sub(list[n].idleAt) >= idleTimeout {
		_ = list[n].conn.Close()
		n++
	}
	if n > 0 {
		t.idle[pc.addr] = append(list[:0], list[n:]...)
	}
	if t.closed || len(t.idle[pc.addr]) >= maxIdle || pc.br.Buffered() > 0 {
		_ = pc.conn.Close()
		return
	}
	if t.idle == nil {
		t.idle = make(map[string][]*pconn)
	}
	t.idle[pc.addr] = append(t.idle[pc.addr], pc)
	if !t.sweeping {
		// pc is the only idle connection: the sweep is for its timeout.
		// (Connections that become idle later time out later, so an
		// armed sweep is never late for them.)
		t.sweeping = true
		if t.sweep == nil {
			t.sweep = time.AfterFunc(idleTimeout, t.sweepIdle)
		} else {
			t.sweep.Reset(idleTimeout)
		}
	}
}

// sweepIdle closes the connections idle for the idle timeout, and arms
// the sweep again for the earliest of the others to reach it, if any.
func (t *Transport) sweepIdle() {
	idleTimeout := t.idleTimeout()
	now := time.Now()
	t.mu.Lock()
	defer t.mu.Unlock()
	var next time.Time
	for addr, list := range t.idle {
		// Each list is oldest first (put appends; get takes the newest).
		n := 0
		for n < len(list) && now.Sub(list[n].idleAt) >= idleTimeout {
			_ = list[n].conn.Close()
			n++
		}
		if n == len(list) {
			delete(t.idle, addr)
			continue
		}
		t.idle[addr] = append(list[:0], list[n:]...)
		if at := list[0].idleAt; next.IsZero() || at.Before(next) {
			next = at
		}
	}
	t.sweeping = !next.IsZero()
	if t.sweeping {
		t.sweep.Reset(next.Add(idleTimeout).Sub(now))
	}
}

// CloseIdleConnections closes every idle connection.
func (t *Transport) CloseIdleConnections() {
	t.mu.Lock()
	defer t.mu.Unlock()
	for addr, list := range t.idle {
		for _, pc := range list {
			_ = pc.conn.Close()
		}
		delete(t.idle, addr)
	}
}

// Close closes every idle connection and keeps no connection from now on.
func (t *Transport) Close() {
	t.CloseIdleConnections()
	t.mu.Lock()
	t.closed = true
	t.mu.Unlock()
}

// roundTrip writes req and reads the response head. b is the response's
// body when readLean parsed the head (nil: http.ReadResponse did). readAny
// reports whether any byte of a response arrived.
func (pc *pconn) roundTrip(req *http.Request, trace *httptrace.ClientTrace, o Observer) (resp *http.Response, b *body, readAny bool, err error) {
	pc.wbuf = pc.appendRequest(pc.wbuf[:0], req)
	if _, err := pc.conn.Write(pc.wbuf); err != nil {
		return nil, nil, false, fmt.Errorf("upstream: write request: %w", err)
	}
	if o != nil {
		o.WroteHeaders()
	}
	if trace != nil && trace.WroteHeaders != nil {
		trace.WroteHeaders()
	}
	if trace != nil && trace.WroteRequest != nil {
		trace.WroteRequest(httptrace.WroteRequestInfo{})
	}
	maxHead := pc.t.MaxResponseHeaderBytes
	if maxHead <= 0 {
		maxHead = defaultMaxHeaderSize
	}
	for {
		if _, err := pc.br.Peek(1); err != nil {
			return nil, nil, false, fmt.Errorf("upstream: read response: %w", err)
		}
		if lr, n := readLean(pc.br, req, pc.spare); lr != nil {
			// The head is entirely buffered: what ReadResponse would have
			// consumed is exactly n bytes, none read past the limit.
			if int64(n) > maxHead {
				return nil, nil, true, headersExceeded(maxHead)
			}
			_, _ = pc.br.Discard(n)
			lr.body.pc = pc
			if pc.t.ReuseResponses {
				pc.spare = lr
				lr.body.putOnClose = true
				if lr.resp.Body == http.NoBody {
					// The connection must wait for Close: a Body that is
					// a Content-Length one of 0 bytes.
					lr.body.sized = true
					lr.resp.Body = &lr.body
				}
			}
			return &lr.resp, &lr.body, true, nil
		}
		// The head is what ReadResponse consumes: what was buffered, plus
		// what it reads from the connection (capped a little past the
		// limit), less what stays buffered.
		before := int64(pc.br.Buffered())
		budget := maxHead + int64(pc.br.Size())
		pc.lim.N = budget
		resp, err = http.ReadResponse(pc.br, req)
		consumed := before + (budget - pc.lim.N) - int64(pc.br.Buffered())
		exhausted := pc.lim.N == 0
		pc.lim.N = unlimited
		if exhausted || consumed > maxHead {
			if err == nil {
				_ = resp.Body.Close()
			}
			return nil, nil, true, headersExceeded(maxHead)
		}
		if err != nil {
			return nil, nil, true, fmt.Errorf("upstream: malformed response: %w", err)
		}
		if resp.StatusCode >= 100 && resp.StatusCode <= 199 && resp.StatusCode != http.StatusSwitchingProtocols {
			if trace != nil && trace.Got1xxResponse != nil {
				if err := trace.Got1xxResponse(resp.StatusCode, map[string][]string(resp.Header)); err != nil {
					return nil, nil, true, err
				}
			}
			continue // an interim response: the final one follows
		}
		if resp.StatusCode == http.StatusSwitchingProtocols {
			return nil, nil, true, errors.New("upstream: unexpected 101 Switching Protocols to a request without Upgrade")
		}
		return resp, nil, true, nil
	}
}

// headersExceeded is the error of a response head over the limit, worded
// as net/http's Transport words it ("headers exceeded" is what callers
// classify).
func headersExceeded(maxHead int64) error {
	return fmt.Errorf("upstream: server response headers exceeded %d bytes", maxHead)
}

// excluded are the headers net/http's request writer leaves out of the
// header block (it writes Host and User-Agent first itself).
func excluded(k string) bool {
	switch k {
	case "Host", "User-Agent", "Content-Length", "Transfer-Encoding", "Trailer":
		return true
	}
	return false
}

// appendRequest serialises req as net/http's Request.write does for a
// request without a body sent to a server (not a proxy): request line,
// Host, User-Agent (none when the header holds ""), the other headers
// sorted with line breaks turned into spaces and values trimmed, and the
// blank line.
func (pc *pconn) appendRequest(b []byte, req *http.Request) []byte {
	b = append(b, req.Method...)
	b = append(b, ' ')
	b = append(b, req.URL.RequestURI()...)
	b = append(b, " HTTP/1.1\r\nHost: "...)
	host := req.Host
	if host == "" {
		host = req.URL.Host
	}
	b = append(b, httpwire.Sanitize(host)...)
	b = append(b, "\r\n"...)
	ua := "Go-http-client/1.1"
	if v, ok := req.Header["User-Agent"]; ok {
		ua = ""
		if len(v) > 0 {
			ua = v[0]
		}
	}
	if ua != "" {
		b = httpwire.AppendLine(b, "User-Agent", ua)
	}
	b, pc.keys = httpwire.AppendHeader(b, req.Header, excluded, pc.keys)
	return append(b, "\r\n"...)
}

// body is a response body on a pooled connection: at its end the
// connection goes back to the pool; closed early, the connection is closed.
type body struct {
	pc *pconn
	// rc is net/http's body when http.ReadResponse read the head; nil when
	// readLean did, and the body reads from the connection itself.
	rc io.ReadCloser
	// src is the connection's reader, whence readLean's body reads.
	src *bufio.Reader
	// lr bounds a Content-Length body read by readLean (sized).
	lr    io.LimitedReader
	sized bool
	stop  func() bool
	abort *Abort // nil: only the request's context ends the exchange
	keep  bool
	done  bool
	// putOnClose keeps the connection out of the pool until Close, even
	// past the body's end (eof): its response is reused (ReuseResponses).
	putOnClose bool
	eof        bool
}

func (b *body) Read(p []byte) (int, error) {
	if b.done || b.eof {
		return 0, io.EOF
	}
	var n int
	var err error
	if b.rc != nil {
		n, err = b.rc.Read(p)
	} else {
		n, err = b.readLean(p)
	}
	if err == io.EOF && b.putOnClose {
		b.eof = true
	} else if err == io.EOF {
		b.finish(true)
	} else if err != nil {
		b.finish(false)
	}
	return n, err
}

// Close ends the exchange; a body not read to its end closes the
// connection.
func (b *body) Close() error {
	b.finish(b.eof)
	return nil
}

func (b *body) finish(complete bool) {
	if b.done {
		return
	}
	b.done = true
	stillOpen := b.stop() // false: the context ended and closed the connection
	if b.abort != nil && !b.abort.detach() {
		stillOpen = false // aborted: the connection is closed
	}
	if complete && stillOpen && b.keep {
		b.pc.t.put(b.pc)
		return
	}
	_ = b.pc.conn.Close()
}
