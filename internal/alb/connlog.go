package alb

import (
	"crypto/tls"
	"net"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/kumo-dev/kumo/internal/accesslog"
	"github.com/kumo-dev/kumo/internal/model"
	"github.com/kumo-dev/kumo/internal/serve"
)

// ConnListener wraps the listening socket of one ALB listener so that the
// load balancer sees every client connection: one connection-log line per
// connection (alb.md §1.12), including TLS handshakes that failed, and the
// NewConnectionCount / ActiveConnectionCount / ClientTLSNegotiationErrorCount
// metrics. The runtime binds it with serve.Serve and calls Attach on every
// reload; connections keep the load balancer they were accepted under.
type ConnListener struct {
	net.Listener
	cur atomic.Pointer[listener]
}

// NewConnListener wraps ln; until Attach is called connections pass through
// untracked.
func NewConnListener(ln net.Listener) *ConnListener { return &ConnListener{Listener: ln} }

// Attach makes lb's listener ml see the connections accepted from now on
// (nil lb detaches).
func (cl *ConnListener) Attach(lb *LoadBalancer, ml *model.Listener) {
	if lb == nil {
		cl.cur.Store(nil)
		return
	}
	cl.cur.Store(lb.lookupListener(ml))
}

// Accept accepts a connection and, while attached, tracks it.
func (cl *ConnListener) Accept() (net.Conn, error) {
	c, err := cl.Listener.Accept()
	if err != nil {
		return nil, err
	}
	l := cl.cur.Load()
	if l == nil {
		return c, nil
	}
	return l.track(c), nil
}

// lookupListener finds the compiled listener for ml (by pointer, then ARN).
func (lb *LoadBalancer) lookupListener(ml *model.Listener) *listener {
	if l := lb.listeners[ml]; l != nil {
		return l
	}
	if ml != nil && ml.ARN != "" {
		return lb.byARN[ml.ARN]
	}
	return nil
}

// trackedConn is one client connection as the connection log sees it.
type trackedConn struct {
	net.Conn
	l        *listener
	accepted time.Time

	mu        sync.Mutex
	tls       bool // a ClientHello arrived
	hsStart   time.Time
	traceID   string
	state     *tls.ConnectionState // from VerifyConnection
	logged    bool
	closed    bool
	remoteKey string // remote address
	sni       string
	// seen is set at the first request a plain-HTTP connection carries
	// (plainRequestSeen), which writes its connection-log line.
	seen atomic.Bool

	// idle answers 408 when a plain-HTTP client sends nothing within the
	// idle timeout (idle408.go); gotBytes is set at the first byte read.
	idle     *time.Timer
	gotBytes atomic.Bool
}

func (l *listener) track(c net.Conn) *trackedConn {
	tc := &trackedConn{Conn: c, l: l, accepted: l.lb.now(), remoteKey: c.RemoteAddr().String()}
	l.lb.cfg.Metrics.ConnectionOpened(l.lb.lb.FullName)
	if l.tls == nil {
		tc.idle = time.AfterFunc(l.lb.idleTimeout, tc.requestTimeout) // idle408.go
	}
	return tc
}

// configForClient is the serve.Plane.TLS of an HTTPS listener: the
// certificate choice of listenerTLS, plus, on tracked connections, the
// handshake observation the connection log needs.
func (l *listener) configForClient(hello *tls.ClientHelloInfo) (*tls.Config, error) {
	cfg, err := l.tls.configForClient(hello)
	if err != nil {
		return nil, err
	}
	tc, ok := hello.Conn.(*trackedConn)
	if !ok {
		return cfg, nil
	}
	tc.mu.Lock()
	tc.tls = true
	tc.hsStart = l.lb.now()
	tc.sni = hello.ServerName
	if ci := serve.ConnInfoFrom(hello.Context()); ci != nil {
		tc.traceID = ci.TraceID
	}
	tc.mu.Unlock()
	cfg = cfg.Clone()
	cfg.VerifyConnection = func(cs tls.ConnectionState) error {
		tc.mu.Lock()
		tc.state = &cs
		tc.mu.Unlock()
		return nil
	}
	return cfg, nil
}

// SetReadDeadline passes through, except while the idle timeout governs a
// silent plain-HTTP connection (idle408.go).
func (c *trackedConn) SetReadDeadline(t time.Time) error {
	if c.idleGoverns() {
		return nil
	}
	return c.Conn.SetReadDeadline(t)
}

// ConnAccepted implements serve.ConnObserver: the connection's trace id is
// known from the accept on (alb.md §1.12: the connection log's and the
// access log's conn_trace_id, also on lines of connections that never
// carried a request).
func (c *trackedConn) ConnAccepted(ci *serve.ConnInfo) {
	c.mu.Lock()
	c.traceID = ci.TraceID
	c.mu.Unlock()
}

// TLSHandshakeDone implements serve.ConnObserver: serve reports the end of
// the connection's TLS handshake. A successful one is when the connection
// counts as established and gets its line (handshakeEstablished); a failed
// one is logged when the connection closes (Close).
func (c *trackedConn) TLSHandshakeDone(state *tls.ConnectionState, err error) {
	if err != nil || state == nil {
		return
	}
	c.mu.Lock()
	c.state = state
	c.mu.Unlock()
	c.handshakeEstablished()
}

// handshakeEstablished writes the line of a TLS connection whose handshake
// succeeded, as serve reported it (TLSHandshakeDone). VerifyConnection
// alone is not enough: under TLS 1.3 it runs before the client's Finished,
// so a client that rejects the certificate still passes it.
func (c *trackedConn) handshakeEstablished() {
	c.mu.Lock()
	if !c.tls || c.logged || c.state == nil {
		c.mu.Unlock()
		return
	}
	c.logged = true
	now := c.l.lb.now()
	rec := c.l.connRecord(c, now) // alb.md §1.12: when the connection was established
	rec.TLSHandshakeLatency = nonNegative(now.Sub(c.hsStart))
	fillTLSFields(rec, c.state)
	rec.TLSVerifyStatus = "Success"
	c.mu.Unlock()
	c.l.lb.writeConnLog(rec)
}

// Close writes the line of a connection that never got one: a failed TLS
// handshake, or a plain-HTTP connection that carried no request.
func (c *trackedConn) Close() error {
	c.mu.Lock()
	first := !c.closed
	c.closed = true
	var rec *accesslog.ALBConnectionRecord
	failed, sni := false, c.sni
	if first && !c.logged {
		c.logged = true
		rec = c.l.connRecord(c, c.accepted)
		if c.tls || c.l.tls != nil {
			failed = true
			rec.Time = c.l.lb.now() // alb.md §1.12: when the connection failed
			rec.TLSHandshakeLatency = accesslog.ALBTimingNotMeasured
			if c.state != nil {
				fillTLSFields(rec, c.state)
			}
			rec.TLSVerifyStatus = "Failed:" + failedHandshakeCode
		}
	}
	c.mu.Unlock()
	if first && c.idle != nil {
		c.idle.Stop()
	}
	if first {
		lb := c.l.lb
		if failed {
			lb.cfg.Metrics.ClientTLSNegotiationError(lb.lb.FullName)
			lb.log.Info("alb: client TLS handshake failed", "client", c.remoteKey, "sni", sni, "conn_trace_id", rec.ConnTraceID)
		}
		if rec != nil {
			lb.writeConnLog(rec)
		}
		lb.cfg.Metrics.ConnectionClosed(lb.lb.FullName)
	}
	return c.Conn.Close()
}

// failedHandshakeCode is the tls_verify_status code of a handshake that
// failed without mutual TLS (the client abandoned it, e.g. because it
// rejected the certificate). UNCONFIRMED: alb.md §1.12 lists only mTLS
// codes and UnmappedConnectionError; kumo uses the latter.
const failedHandshakeCode = "UnmappedConnectionError"

// plainRequestSeen writes the line of a plain-HTTP connection at its first
// request, when the connection's trace id is known (alb.md §1.12: one line
// per connection; the access log's conn_trace_id matches it).
func (l *listener) plainRequestSeen(ci *serve.ConnInfo) {
	if l.tls != nil || ci == nil {
		return
	}
	c, ok := ci.Conn.(*trackedConn)
	if !ok || c.seen.Load() || !c.seen.CompareAndSwap(false, true) {
		return
	}
	c.mu.Lock()
	if c.logged {
		c.mu.Unlock()
		return
	}
	c.logged = true
	c.traceID = ci.TraceID
	rec := l.connRecord(c, c.accepted)
	c.mu.Unlock()
	l.lb.writeConnLog(rec)
}

// connRecord starts the connection-log record of c (c.mu held).
func (l *listener) connRecord(c *trackedConn, at time.Time) *accesslog.ALBConnectionRecord {
	rec := &accesslog.ALBConnectionRecord{Time: at, ListenerPort: l.model.Port,
		TLSHandshakeLatency: accesslog.ALBTimingNotMeasured, ConnTraceID: c.traceID, ELB: l.lb.lb.FullName}
	if host, port, err := net.SplitHostPort(c.remoteKey); err == nil {
		rec.ClientIP = host
		rec.ClientPort, _ = strconv.Atoi(port)
	}
	return rec
}

// fillTLSFields sets tls_protocol, tls_cipher and tls_keyexchange (alb.md
// §1.12 fields 5, 6, 13).
func fillTLSFields(rec *accesslog.ALBConnectionRecord, cs *tls.ConnectionState) {
	rec.TLSProtocol = accesslog.ProtocolName(cs.Version)
	rec.TLSCipher = accesslog.CipherName(cs.CipherSuite)
	rec.TLSKeyExchange = keyExchangeName(cs.CurveID)
}

// keyExchangeName implements tls_keyexchange (alb.md §1.12 field 13):
// OpenSSL group names as in AWS's lines (secp256r1, x25519, PQ hybrids).
func keyExchangeName(id tls.CurveID) string {
	switch id {
	case 0:
		return ""
	case tls.X25519:
		return "x25519"
	case tls.CurveP256:
		return "secp256r1"
	case tls.CurveP384:
		return "secp384r1"
	case tls.CurveP521:
		return "secp521r1"
	}
	return id.String()
}

// writeConnLog hands a connection-log record to Config.ConnLog.
func (lb *LoadBalancer) writeConnLog(rec *accesslog.ALBConnectionRecord) {
	if lb.cfg.ConnLog != nil {
		lb.cfg.ConnLog(rec)
	}
}

// CloseWrite half-closes the connection when the socket can (net/http uses
// it to let a client read an error response before the connection goes).
func (c *trackedConn) CloseWrite() error {
	if cw, ok := c.Conn.(interface{ CloseWrite() error }); ok {
		return cw.CloseWrite()
	}
	return nil
}
