package alb

import (
	"context"
	"crypto/tls"
	"errors"
	"io"
	"net"
	"net/http"
	"net/http/httptrace"
	"net/netip"
	"net/url"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/kumo-dev/kumo/internal/accesslog"
	"github.com/kumo-dev/kumo/internal/model"
	"github.com/kumo-dev/kumo/internal/serve"
	"github.com/kumo-dev/kumo/internal/upstream"
)

// Failure is a named way a request can fail inside the load balancer
// (Envoy-style names). Each maps to the status the client gets and to the
// shape of the access-log line (alb.md §1.11, §2.1).
type Failure string

// Failures.
const (
	// FailureNone: no failure.
	FailureNone Failure = ""
	// FailureNoRegisteredTargets: the target group has no registered
	// targets → 503, target "-", timings -1 -1 -1.
	FailureNoRegisteredTargets Failure = "NoRegisteredTargets"
	// FailureUpstreamConnectionFailure: the target refused or reset the
	// connection, or the TLS handshake to an HTTPS target failed → 502,
	// timings -1 -1 -1.
	FailureUpstreamConnectionFailure Failure = "UpstreamConnectionFailure"
	// FailureUpstreamConnectTimeout: no TCP connection within
	// TargetConnectTimeout → 504, timings -1 -1 -1.
	FailureUpstreamConnectTimeout Failure = "UpstreamConnectTimeout"
	// FailureUpstreamConnectionTermination: the target closed the
	// connection with the request outstanding → 502, timings x y -1.
	FailureUpstreamConnectionTermination Failure = "UpstreamConnectionTermination"
	// FailureUpstreamProtocolError: the target sent a malformed response or
	// response headers over 32 KB → 502, timings x y -1.
	FailureUpstreamProtocolError Failure = "UpstreamProtocolError"
	// FailureUpstreamIdleTimeout: the target sent nothing before the idle
	// timeout → 504, timings -1 -1 -1.
	FailureUpstreamIdleTimeout Failure = "UpstreamIdleTimeout"
	// FailureDownstreamConnectionTermination: the client went away before
	// the response → 460, logged but never sent.
	FailureDownstreamConnectionTermination Failure = "DownstreamConnectionTermination"
)

// StatusClientClosed is the ALB's log-only status for a client that closed
// the connection before the response (alb.md §2.1).
const StatusClientClosed = 460

// failureShape implements alb.md §1.11 / §2.1: the status of each failure
// and whether the request and target timings were measured (else -1 -1 -1;
// response_processing_time is always -1 for a failure).
func failureShape(f Failure) (status int, timed bool) {
	switch f {
	case FailureNoRegisteredTargets:
		return http.StatusServiceUnavailable, false
	case FailureUpstreamConnectionFailure:
		return http.StatusBadGateway, false
	case FailureUpstreamConnectTimeout:
		return http.StatusGatewayTimeout, false
	case FailureUpstreamConnectionTermination, FailureUpstreamProtocolError:
		return http.StatusBadGateway, true
	case FailureUpstreamIdleTimeout:
		return http.StatusGatewayTimeout, false
	case FailureDownstreamConnectionTermination:
		return StatusClientClosed, false
	case FailureTransformFailed:
		return http.StatusInternalServerError, false
	case FailureIncompatibleProtocol:
		return StatusIncompatibleProtocol, false
	case FailureDeregistrationDelayExpired:
		return http.StatusBadGateway, true
	}
	return http.StatusBadGateway, false
}

// notMeasured is a timing logged as -1.
const notMeasured time.Duration = -1

// errIdleTimeout is the cancel cause when the target stays silent for the
// idle timeout.
var errIdleTimeout = errors.New("alb: target idle timeout")

// dialError marks an error that happened while opening the TCP connection to
// a target.
type dialError struct{ err error }

func (e *dialError) Error() string { return "dial target: " + e.err.Error() }
func (e *dialError) Unwrap() error { return e.err }

// targetDialer dials targets: connect timeout, keep-alives, and failures
// marked as dialError for classifyTargetError.
func targetDialer(connectTimeout time.Duration) func(ctx context.Context, network, addr string) (net.Conn, error) {
	d := &net.Dialer{Timeout: connectTimeout, KeepAlive: 30 * time.Second}
	return func(ctx context.Context, network, addr string) (net.Conn, error) {
		c, err := d.DialContext(ctx, network, addr)
		if err != nil {
			return nil, &dialError{err}
		}
		return c, nil
	}
}

// newLeanTargetTransport is the lean HTTP/1.1 client (package upstream)
// for plain-HTTP targets and requests without a body: the same dialer,
// idle timeout and 32 KB response-header limit as newTargetTransport.
//
// It reuses responses (upstream.Transport.ReuseResponses): forward, its
// only caller, always closes the body (deferred) and touches neither the
// Response nor its Header map after that; copyResponseHeaders copies the
// header's value slices, which are never reused, into the client's
// header, and the trailers are read before the body is closed.
func newLeanTargetTransport(connectTimeout, idle time.Duration) *upstream.Transport {
	return &upstream.Transport{
		Dial:                   targetDialer(connectTimeout),
		MaxIdlePerHost:         256,
		IdleTimeout:            idle,
		MaxResponseHeaderBytes: 32 << 10, // alb.md §4.5 → 502
		ReuseResponses:         true,
	}
}

func newTargetTransport(connectTimeout, idle time.Duration, tlsConf *tls.Config) *http.Transport {
	if tlsConf != nil && tlsConf.ClientSessionCache == nil {
		// TLS session resumption toward HTTPS targets.
		tlsConf.ClientSessionCache = tls.NewLRUClientSessionCache(256)
	}
	return &http.Transport{
		Proxy:                  nil, // never through an environment proxy
		DialContext:            targetDialer(connectTimeout),
		TLSClientConfig:        tlsConf,
		TLSHandshakeTimeout:    connectTimeout, // alb.md §2.4: 10 s → 502
		DisableCompression:     true,
		MaxIdleConns:           1024,
		MaxIdleConnsPerHost:    256,
		IdleConnTimeout:        idle,
		MaxResponseHeaderBytes: 32 << 10, // alb.md §4.5 → 502
		TLSNextProto:           map[string]func(string, *tls.Conn) http.RoundTripper{},
	}
}

// classifyTargetError maps a failed round trip to a Failure (alb.md §2.1);
// cause is the first reason the exchange was ended for (nil: it was not).
func classifyTargetError(err, cause error, clientCtx context.Context, wrote bool) Failure {
	if errors.Is(cause, errIdleTimeout) {
		return FailureUpstreamIdleTimeout
	}
	if errors.Is(cause, errDeregistrationDelayExpired) {
		return FailureDeregistrationDelayExpired
	}
	if clientCtx.Err() != nil || errors.Is(cause, serve.ErrClientGone) {
		return FailureDownstreamConnectionTermination
	}
	var de *dialError
	if errors.As(err, &de) {
		var ne net.Error
		if errors.Is(err, context.DeadlineExceeded) || (errors.As(err, &ne) && ne.Timeout()) {
			return FailureUpstreamConnectTimeout
		}
		return FailureUpstreamConnectionFailure
	}
	if !wrote {
		return FailureUpstreamConnectionFailure
	}
	msg := err.Error()
	if strings.Contains(msg, "malformed") || strings.Contains(msg, "headers exceeded") ||
		strings.Contains(msg, "bogus") || strings.Contains(msg, "invalid") {
		return FailureUpstreamProtocolError
	}
	return FailureUpstreamConnectionTermination
}

// exchange is the state of one request through the listener.
type exchange struct {
	l        *listener
	w        responseCounter
	rec      accesslog.ALBRecord
	received time.Time
	wrote    atomic.Int64 // unix nanos when the request headers reached the target
	reqBytes int64
	body     countingBody
	failure  Failure        // set by fail, for the metrics
	sticky   stickyDecision // stickiness.go
	// abort and cancel end the exchange with the target (endTarget):
	// abort for the lean client, cancel (the derived context's) for
	// net/http's Transport.
	abort  upstream.Abort
	cancel context.CancelCauseFunc
	// drainPrev and drainNext link the exchanges in flight to one target
	// (targetExt.track).
	drainPrev, drainNext *exchange
	// moved is when bytes last moved between the client and the target;
	// the target's idle sweep (targetExt.sweepIdle) ends the exchange
	// after idleTimeout without any, unless relaying (a WebSocket relay
	// has its own idle timer).
	moved       activity
	idleTimeout time.Duration
	relaying    atomic.Bool
	// gone is endTarget as a func value, for serve.WatchClientFunc: made
	// once per exchange object, as the object is recycled (newExchange).
	gone func(error)
	// kept: something outside the request may still reach the exchange
	// once ServeHTTP returns (net/http's Transport, which may go on
	// reading the request body or call the trace; a WebSocket relay; the
	// lean client's watch of a request's context), so it is not recycled.
	kept bool
}

// newExchange returns an exchange for a request to l received at now:
// recycled (releaseExchange) or new.
//
// Why recycle: an exchange is about 800 bytes, and a new one per request
// is memory the allocator hands out cold and clears. bench/pair.sh
// measured the ALB's CPU per request about 4.5 % lower with exchanges
// recycled.
func (lb *LoadBalancer) newExchange(l *listener, now time.Time) *exchange {
	ex, _ := lb.exchanges.Get().(*exchange)
	if ex == nil {
		ex = new(exchange)
		ex.gone = ex.endTarget
	}
	gone := ex.gone
	*ex = exchange{l: l, received: now, gone: gone}
	return ex
}

// releaseExchange recycles ex once its request is over, unless kept.
// Nothing else reaches it by then: the target's idle sweep and the
// deregistration drain saw it leave their list (untrack), the client's
// watch no longer calls it (serve.StopWatchingClient), the lean client
// detached its abort when the response body closed, and Config.Log and
// the metrics took what they needed from the record during their calls.
func (lb *LoadBalancer) releaseExchange(ex *exchange) {
	if !ex.kept {
		lb.exchanges.Put(ex)
	}
}

// ServeHTTP serves one client request: rule matching, the action, and the
// access-log record.
func (l *listener) ServeHTTP(rw http.ResponseWriter, r *http.Request) {
	lb := l.lb
	ex := lb.newExchange(l, lb.now())
	defer lb.releaseExchange(ex)
	ex.w = responseCounter{ResponseWriter: rw, proto1: r.ProtoMajor == 1, head: r.Method == http.MethodHead}
	rec := &ex.rec
	rec.RequestCreationTime = ex.received
	rec.RequestProcessingTime, rec.TargetProcessingTime, rec.ResponseProcessingTime = notMeasured, notMeasured, notMeasured
	ex.reqBytes = requestHeaderBytes(r)
	ci := serve.ConnInfoFrom(r.Context())
	peerAddr := peerAddrPort(r, ci)
	peer := peerAddr.Addr()
	l.fillRequestFields(rec, r, peerAddr, ci)
	l.plainRequestSeen(ci)
	rec.TraceID = traceHeader(r.Header["X-Amzn-Trace-Id"], ex.received, ex.reqBytes)
	if l.screenRequest(ex, r) {
		return
	}

	ru := l.matchRule(r, peer)
	rec.MatchedRulePriority = ru.priority
	a := ru.action
	rec.ActionsExecuted = a.kind
	switch a.kind {
	case model.ActionRedirect:
		loc := l.redirectLocation(a.redirect, r)
		rec.RedirectURL = loc
		ex.w.Header()["Location"] = []string{loc}
		lb.writeGenerated(&ex.w, r, a.status, "text/html", lb.pages.body(a.status))
	case model.ActionFixedResponse:
		lb.writeGenerated(&ex.w, r, a.status, a.contentType, a.body)
	case model.ActionForward:
		if ru.transforms != nil && !ex.applyTransforms(r, ru.transforms) {
			ex.fail(r, FailureTransformFailed)
			return
		}
		ex.forward(r, ex.chooseTargetGroup(r, a, ex.received), peerAddr)
		return
	}
	ex.finish(r)
}

// ServeFast implements serve.FastHandler: the listener serves every request
// serve's lean HTTP/1.1 engine offers it (no body, no upgrade) exactly as
// through net/http. A forwarded request watches its client (forward), which
// the 460 and the target request's cancellation rely on.
func (l *listener) ServeFast(w http.ResponseWriter, r *http.Request) bool {
	l.ServeHTTP(w, r)
	return true
}

// writeGenerated writes an LB-generated response (alb.md §2.3, §5.3).
func (lb *LoadBalancer) writeGenerated(w *responseCounter, r *http.Request, status int, contentType, body string) {
	setLBHeaders(w.Header(), r, contentType, len(body), lb.now())
	w.WriteHeader(status)
	if !w.head && body != "" {
		_, _ = io.WriteString(w, body)
	}
}

// fail writes (or, for 460, only logs) a failure.
func (ex *exchange) fail(r *http.Request, f Failure) {
	status, timed := failureShape(f)
	ex.failure = f
	if !timed {
		ex.rec.RequestProcessingTime, ex.rec.TargetProcessingTime = notMeasured, notMeasured
	}
	ex.rec.ResponseProcessingTime = notMeasured
	ex.l.lb.log.Debug("alb: request failed", "failure", string(f), "status", status, "target", ex.rec.Target)
	if status == StatusClientClosed {
		ex.w.status = StatusClientClosed
	} else {
		grpcErrorStatus(ex.w.Header(), r, status)
		ex.l.lb.writeGenerated(&ex.w, r, status, "text/html", ex.l.lb.pages.body(status))
	}
	ex.finish(r)
}

// forward implements the forward action: pick a target, proxy, stream back.
func (ex *exchange) forward(r *http.Request, tg *targetGroup, peer netip.AddrPort) {
	lb := ex.l.lb
	rec := &ex.rec
	rec.TargetGroupARN = tg.model.ARN
	if tg.opts.protocolVersion == ProtocolVersionGRPC && ex.l.https && isGRPCRequest(r) {
		rec.Type = "grpcs" // alb.md §1.4
	}
	if protocolMismatch(r, tg.opts.protocolVersion) {
		ex.fail(r, FailureIncompatibleProtocol)
		return
	}
	t := ex.stickyTarget(r, tg, ex.received)
	if t == nil {
		ex.fail(r, FailureNoRegisteredTargets)
		return
	}
	rec.Target = t.model.Addr
	t.ext.inflight.Add(1)
	defer t.ext.inflight.Add(-1)

	clientCtx := r.Context()
	tr, _ := lb.outReqs.Get().(*targetReq)
	if tr == nil {
		tr = new(targetReq)
	}
	out := ex.l.targetRequest(clientCtx, r, t, clientIP(rec.Client, peer), rec.TraceID, &ex.body, tr)
	ex.l.applyRequestAttributes(out, r, peer)
	if rec.TransformedHost != "" {
		out.Host = rec.TransformedHost // a rewritten Host is sent as it is (alb.md §5.4)
	}
	if tg.opts.protocolVersion != ProtocolVersionHTTP1 && strings.Contains(r.Header.Get("Te"), "trailers") {
		out.Header["Te"] = []string{"trailers"} // gRPC needs it end to end
	}
	rt := lb.roundTripper(tg)
	lean := rt == http.RoundTripper(lb.httpTransport) && r.Header["Upgrade"] == nil && upstream.Supported(out)

	// The exchange with the target ends, for the first of these causes,
	// when the target stays silent for the idle timeout, when its
	// deregistration delay expires, or when the client goes away: for
	// net/http's Transport, a context derived from the client's ends;
	// the lean client takes the causes through ex.abort, which saves the
	// derived context. On serve's lean engine the client is watched
	// through a callback that ends the exchange the same way: r's context
	// (the connection's) does not end when the client goes, and the
	// target request gets one that never ends, which spares the lean
	// client its watch. Elsewhere the lean client watches the client's
	// context itself.
	if !lean {
		ex.kept = true
		clientCtx = serve.WatchClient(r) // r's own unless on the lean engine
	} else if serve.WatchClientFunc(r, ex.gone) {
		defer serve.StopWatchingClient(r) // before the exchange is recycled
		tr.detached.parent = clientCtx
		*out = *out.WithContext(&tr.detached)
	} else {
		// The lean client watches r's context (context.AfterFunc), whose
		// function may still be running when the request is over.
		ex.kept = true
	}
	ctx := clientCtx
	if !lean {
		var cancel context.CancelCauseFunc
		ctx, cancel = context.WithCancelCause(clientCtx)
		defer cancel(nil)
		ex.cancel = cancel
	}
	ex.moved.begin(ex.received) // (the idle timeout does not need a newer time)
	ex.idleTimeout = lb.idleTimeout
	if t.ext.track(ex) {
		defer t.ext.untrack(ex)
	} else {
		ex.deregistrationDelayExpired()
	}
	ex.body.moved = &ex.moved

	var resp *http.Response
	var err error
	if lean {
		// The lean client keeps nothing of out once the exchange is
		// over (below, the response body closed): tr serves again.
		defer lb.outReqs.Put(tr)
		resp, err = lb.leanTransport.RoundTripAbortable(out, ex, &ex.abort)
	} else {
		trace := &httptrace.ClientTrace{WroteHeaders: ex.WroteHeaders}
		resp, err = rt.RoundTrip(out.WithContext(httptrace.WithClientTrace(ctx, trace)))
	}
	gotResp := lb.now()
	wroteNanos := ex.wrote.Load()
	if wroteNanos != 0 {
		wrote := time.Unix(0, wroteNanos)
		rec.RequestProcessingTime = nonNegative(wrote.Sub(ex.received))
		rec.TargetProcessingTime = nonNegative(gotResp.Sub(wrote))
	}
	if err != nil {
		cause := context.Cause(ctx)
		if lean {
			cause = ex.abort.Cause()
		}
		ex.fail(r, classifyTargetError(err, cause, clientCtx, wroteNanos != 0))
		return
	}
	defer resp.Body.Close()
	ex.moved.touch()
	rec.TargetStatus = resp.StatusCode
	if resp.StatusCode == http.StatusSwitchingProtocols {
		ex.relaying.Store(true)  // the relay runs its own idle timer over both directions
		ex.relayUpgrade(r, resp) // websocket.go
		return
	}

	h := ex.w.Header()
	copyResponseHeaders(h, resp.Header)
	ex.setStickyCookies(h, r, tg, t, ex.received)
	rec.ResponseProcessingTime = nonNegative(lb.now().Sub(gotResp))
	ex.w.WriteHeader(resp.StatusCode)
	flush := resp.ContentLength == -1
	bufp := lb.bufs.Get().(*[]byte)
	rerr, werr := copyBody(&ex.w, resp.Body, *bufp, flush, &ex.moved)
	lb.bufs.Put(bufp)
	if rerr != nil || werr != nil {
		lb.log.Debug("alb: response body interrupted", "target", t.model.Addr, "read_error", rerr, "write_error", werr)
		ex.finish(r)
		if rerr != nil && werr == nil {
			// The target broke off mid-body: abort the client response so
			// the client sees the truncation.
			panic(http.ErrAbortHandler)
		}
		return
	}
	for k, vv := range resp.Trailer { // gRPC status and other trailers
		h[http.TrailerPrefix+k] = vv
	}
	ex.finish(r)
}

// endTarget ends the exchange with the target for cause, unless it ended
// for another first.
func (ex *exchange) endTarget(cause error) {
	if ex.cancel != nil {
		ex.cancel(cause)
		return
	}
	ex.abort.Abort(cause)
}

// idleTimedOut ends the exchange with the target: nothing moved for the
// idle timeout.
func (ex *exchange) idleTimedOut() { ex.endTarget(errIdleTimeout) }

// deregistrationDelayExpired ends the exchange with a draining target.
func (ex *exchange) deregistrationDelayExpired() { ex.endTarget(errDeregistrationDelayExpired) }

// WroteHeaders records when the request head reached the target
// (upstream.Observer, httptrace.ClientTrace.WroteHeaders).
func (ex *exchange) WroteHeaders() {
	ex.wrote.CompareAndSwap(0, ex.l.lb.now().UnixNano())
}

func nonNegative(d time.Duration) time.Duration {
	if d < 0 {
		return 0
	}
	return d
}

// copyBody streams the target's body to the client, touching moved on
// every read; flush pushes each chunk out for unsized bodies.
func copyBody(w *responseCounter, body io.Reader, buf []byte, flush bool, moved *activity) (rerr, werr error) {
	for {
		n, err := body.Read(buf)
		if n > 0 {
			moved.touch()
			if _, werr = w.Write(buf[:n]); werr != nil {
				return nil, werr
			}
			if flush {
				w.Flush()
			}
		}
		if err == io.EOF {
			return nil, nil
		}
		if err != nil {
			return err, nil
		}
	}
}

// finish completes the access-log record and hands it to Config.Log.
func (ex *exchange) finish(r *http.Request) {
	lb := ex.l.lb
	rec := &ex.rec
	rec.Time = lb.now()
	rec.ELBStatus = ex.w.status
	if rec.ELBStatus == 0 {
		rec.ELBStatus = http.StatusOK
	}
	body := ex.body.n.Load()
	if body < r.ContentLength {
		body = r.ContentLength
	}
	rec.ReceivedBytes = ex.reqBytes + body
	rec.SentBytes = ex.w.headerBytes + ex.w.bodyBytes
	lb.observeRequest(rec, ex.failure)
	if lb.cfg.Log != nil {
		// Fields only the log line shows (the metrics take none of them).
		rec.TargetPortList = rec.Target
		if rec.TargetStatus > 0 {
			rec.TargetStatusCodeList = strconv.Itoa(rec.TargetStatus)
		}
		lb.cfg.Log(rec)
	}
}

// fillRequestFields fills the record's request-derived fields. Without an
// access log it leaves out those only the log line shows (the request line
// and the User-Agent: building the first allocates).
func (l *listener) fillRequestFields(rec *accesslog.ALBRecord, r *http.Request, peer netip.AddrPort, ci *serve.ConnInfo) {
	rec.ELB = l.lb.lb.FullName
	rec.Type = logType(l.https, r)
	rec.Client = clientField(r.RemoteAddr, peer)
	if l.lb.cfg.Log != nil {
		rec.Request = requestField(r, l.scheme, l.port)
		rec.UserAgent = userAgentField(r.Header.Get("User-Agent"))
	}
	if ci != nil {
		rec.ConnTraceID = ci.TraceID
	}
	if l.tls != nil && r.TLS != nil {
		rec.SSLCipher = sslCipherField(r.TLS)
		rec.SSLProtocol = sslProtocolField(r.TLS)
		rec.DomainName = domainNameField(r.TLS)
		rec.ChosenCertARN = l.tls.chosenCertField(r.TLS)
	}
}

// clientField is access-log field 4, client:port (alb.md §1.3): the
// client's ip (unbracketed for IPv6, an IPv4-mapped one as IPv4) and port.
// When remote, the request's RemoteAddr, already is that text (an IPv4
// client, as serve writes it), it is used as it is, allocating nothing.
func clientField(remote string, peer netip.AddrPort) string {
	if !peer.IsValid() {
		return remote
	}
	var buf [64]byte
	b := peer.Addr().Unmap().AppendTo(buf[:0])
	b = append(b, ':')
	b = strconv.AppendUint(b, uint64(peer.Port()), 10)
	if string(b) == remote {
		return remote
	}
	return string(b)
}

// clientIP is the ip part of a clientField value (what X-Forwarded-For
// appends, alb.md §4.1); "" for a client without an address.
func clientIP(client string, peer netip.AddrPort) string {
	if !peer.IsValid() {
		return ""
	}
	return client[:strings.LastIndexByte(client, ':')]
}

// logType implements access-log field 1 (alb.md §1.4): http, https or h2.
func logType(https bool, r *http.Request) string {
	switch {
	case !https:
		return "http"
	case r.ProtoMajor == 2:
		return "h2"
	}
	return "https"
}

// requestField implements access-log field 13 (alb.md §1.5):
// "METHOD scheme://host:port/uri HTTP/x.y" with the Host as sent (its port
// dropped) and the listener's modeled port always printed; the URI as sent.
func requestField(r *http.Request, scheme, port string) string {
	uri := r.RequestURI
	if uri == "" || uri[0] != '/' {
		uri = r.URL.RequestURI()
	}
	var b strings.Builder
	b.Grow(len(r.Method) + len(scheme) + len(r.Host) + len(port) + len(uri) + 16)
	b.WriteString(r.Method)
	b.WriteByte(' ')
	b.WriteString(scheme)
	b.WriteString("://")
	b.WriteString(hostWithoutPort(r.Host))
	b.WriteByte(':')
	b.WriteString(port)
	b.WriteString(uri)
	b.WriteByte(' ')
	b.WriteString(r.Proto)
	return b.String()
}

// userAgentField implements access-log field 14: the User-Agent, truncated
// at 8 KB (alb.md §1.3 #14, §4.5).
func userAgentField(ua string) string {
	const limit = 8 << 10
	if len(ua) > limit {
		return ua[:limit]
	}
	return ua
}

// peerAddrPort is the client's address and port: the accepted connection's
// own when serve's ConnInfo has a TCP address (no parsing per request),
// otherwise RemoteAddr parsed. An IPv4 peer is IPv4, as RemoteAddr writes
// it.
func peerAddrPort(r *http.Request, ci *serve.ConnInfo) netip.AddrPort {
	if ci != nil {
		if ta, ok := ci.Remote.(*net.TCPAddr); ok {
			ap := ta.AddrPort()
			return netip.AddrPortFrom(ap.Addr().Unmap(), ap.Port())
		}
	}
	ap, err := netip.ParseAddrPort(r.RemoteAddr)
	if err != nil {
		return netip.AddrPort{}
	}
	return ap
}

// hopByHopHeaders are removed in both directions (RFC 9110 §7.6.1; alb.md
// §4.1 leaves the exact set UNCONFIRMED).
var hopByHopHeaders = [...]string{
	"Connection", "Proxy-Connection", "Keep-Alive", "Proxy-Authenticate",
	"Proxy-Authorization", "Te", "Trailer", "Transfer-Encoding", "Upgrade",
}

func isHopByHop(k string, connTokens []string) bool {
	for _, h := range hopByHopHeaders {
		if k == h {
			return true
		}
	}
	for _, v := range connTokens {
		for tok := range strings.SplitSeq(v, ",") {
			if http.CanonicalHeaderKey(strings.TrimSpace(tok)) == k {
				return true
			}
		}
	}
	return false
}

// targetReq is the storage of a request to a target, reused from one
// request to the next (LoadBalancer.outReqs) when no one keeps it.
type targetReq struct {
	req http.Request
	url url.URL
	h   http.Header
	// vals backs the header values the load balancer sets (User-Agent,
	// X-Forwarded-For, X-Amzn-Trace-Id), each a slice of one with no room
	// to grow into the next: no allocation per request for them.
	vals [3]string
	// detached is the lean client's context: the client's, without its
	// cancellation (forward).
	detached detachedCtx
}

// detachedCtx is context.WithoutCancel's context as a pointer: kept in
// the targetReq, it costs no allocation per request, nor per Value call
// (WithoutCancel's value receiver is boxed on each).
type detachedCtx struct{ parent context.Context }

func (c *detachedCtx) Deadline() (time.Time, bool) { return time.Time{}, false }
func (c *detachedCtx) Done() <-chan struct{}       { return nil }
func (c *detachedCtx) Err() error                  { return nil }
func (c *detachedCtx) Value(key any) any           { return c.parent.Value(key) }

// targetRequest builds the request to the target (alb.md §4.1–4.4) in tr.
func (l *listener) targetRequest(ctx context.Context, r *http.Request, t *target, ip, traceID string, counter *countingBody, tr *targetReq) *http.Request {
	conn := r.Header["Connection"]
	h := tr.h
	if h == nil {
		h = make(http.Header, len(r.Header)+4)
		tr.h = h
	}
	clear(h)
	for k, vv := range r.Header {
		if isHopByHop(k, conn) {
			continue
		}
		h[k] = vv // shared, never mutated: changed headers get new slices
	}
	if _, ok := h["User-Agent"]; !ok {
		tr.vals[0] = ""
		h["User-Agent"] = tr.vals[0:1:1] // keep Go's transport from adding its own
	}
	if xff, ok := forwardedFor(l.lb.xffMode, r.Header["X-Forwarded-For"], ip); ok {
		tr.vals[1] = xff
		h["X-Forwarded-For"] = tr.vals[1:2:2]
	} else {
		delete(h, "X-Forwarded-For")
	}
	h["X-Forwarded-Proto"] = l.schemeValue // shared, never mutated
	h["X-Forwarded-Port"] = l.portValue
	tr.vals[2] = traceID
	h["X-Amzn-Trace-Id"] = tr.vals[2:3:3]

	scheme := "http"
	if t.tg.https {
		scheme = "https"
	}
	body := r.Body
	if body == nil || body == http.NoBody || r.ContentLength == 0 {
		body = http.NoBody
	} else {
		counter.r = body
		body = counter
	}
	tr.url = url.URL{Scheme: scheme, Host: t.dial, Path: r.URL.Path, RawPath: r.URL.RawPath, RawQuery: r.URL.RawQuery}
	var blank http.Request
	tr.req = *blank.WithContext(ctx) // (a copy in place: WithContext's own does not escape)
	out := &tr.req
	out.Method = r.Method
	out.URL = &tr.url
	out.Proto, out.ProtoMajor, out.ProtoMinor = "HTTP/1.1", 1, 1
	out.Header = h
	out.Body = body
	out.ContentLength = r.ContentLength
	out.Host = forwardedHost(r.Host, l.model.Port, l.lb.preserve)
	if out.Host == "" {
		// HTTP/1.0 without Host: never let the local dial address leak.
		out.Host = t.model.Addr
	}
	if out.ContentLength == 0 && body != http.NoBody {
		out.ContentLength = -1
	}
	return out
}

// forwardedFor implements X-Forwarded-For processing (alb.md §4.1) for the
// modes append (add ", <client-ip>" or create), preserve and remove. ok is
// false when the header must be absent.
func forwardedFor(mode string, prior []string, ip string) (string, bool) {
	switch mode {
	case "remove":
		return "", false
	case "preserve":
		if len(prior) == 0 {
			return "", false
		}
		return strings.Join(prior, ", "), true
	}
	if len(prior) == 0 {
		return ip, true
	}
	return strings.Join(prior, ", ") + ", " + ip, true
}

// forwardedHost implements the Host header sent to targets (alb.md §4.3):
// on listener ports 80 and 443 a port in the Host is removed; on other
// ports the listener port is appended when the client sent none; with
// routing.http.preserve_host_header.enabled the Host is passed unchanged.
func forwardedHost(host string, listenerPort int, preserve bool) string {
	if preserve || host == "" {
		return host
	}
	bare := hostWithoutPort(host)
	if listenerPort == 80 || listenerPort == 443 {
		return bare
	}
	if bare != host {
		return host
	}
	return host + ":" + strconv.Itoa(listenerPort)
}

// copyResponseHeaders passes the target's headers through, minus hop-by-hop.
func copyResponseHeaders(dst, src http.Header) {
	conn := src["Connection"]
	for k, vv := range src {
		if isHopByHop(k, conn) {
			continue
		}
		dst[k] = vv
	}
}

// countingBody counts the request body bytes read towards the target; each
// read also touches the exchange's activity (bytes are flowing).
type countingBody struct {
	r     io.ReadCloser
	n     atomic.Int64
	moved *activity
}

func (c *countingBody) Read(p []byte) (int, error) {
	n, err := c.r.Read(p)
	if n > 0 {
		c.n.Add(int64(n))
		if c.moved != nil {
			c.moved.touch()
		}
	}
	return n, err
}

func (c *countingBody) Close() error { return c.r.Close() }

// responseCounter counts what is written to the client, as HTTP/1.1 bytes.
type responseCounter struct {
	http.ResponseWriter
	proto1      bool
	head        bool
	status      int
	headerBytes int64
	bodyBytes   int64
}

func (w *responseCounter) WriteHeader(code int) {
	if w.status != 0 {
		return
	}
	w.status = code
	w.headerBytes = responseHeaderBytes(code, w.ResponseWriter.Header(), w.proto1, w.head)
	w.ResponseWriter.WriteHeader(code)
}

func (w *responseCounter) Write(p []byte) (int, error) {
	if w.status == 0 {
		w.WriteHeader(http.StatusOK)
	}
	n, err := w.ResponseWriter.Write(p)
	w.bodyBytes += int64(n)
	return n, err
}

// Flush flushes the underlying writer when it can.
func (w *responseCounter) Flush() {
	if f, ok := w.ResponseWriter.(http.Flusher); ok {
		f.Flush()
	}
}

// Unwrap exposes the underlying writer to http.ResponseController.
func (w *responseCounter) Unwrap() http.ResponseWriter { return w.ResponseWriter }

// requestHeaderBytes is the request's size before the body, serialized as
// HTTP/1.1: request line, Host, every header line, and the blank line
// (alb.md §1.3 #11 received_bytes: "request incl. headers"). HTTP/2
// requests are counted the same way (no HPACK accounting).
func requestHeaderBytes(r *http.Request) int64 {
	uri := r.RequestURI
	if uri == "" {
		uri = r.URL.RequestURI()
	}
	n := len(r.Method) + 1 + len(uri) + 1 + len("HTTP/1.1") + 2
	if r.Host != "" {
		n += len("Host: ") + len(r.Host) + 2
	}
	n += headerBlockBytes(r.Header)
	return int64(n + 2)
}

// responseHeaderBytes is the response's size before the body, serialized as
// HTTP/1.1 the way net/http writes it: status line with Go's reason phrase,
// the header lines, the Date line net/http adds when missing, a
// "Transfer-Encoding: chunked" line when the body is unsized, and the blank
// line (alb.md §1.3 #12 sent_bytes). Chunk framing is not counted.
func responseHeaderBytes(code int, h http.Header, proto1, head bool) int64 {
	n := len("HTTP/1.1 ") + 3 + 1 + len(http.StatusText(code)) + 2
	n += headerBlockBytes(h)
	if _, ok := h["Date"]; !ok {
		n += len("Date: Mon, 02 Jan 2006 15:04:05 GMT\r\n")
	}
	if _, ok := h["Content-Length"]; !ok && proto1 && !head && bodyAllowed(code) {
		n += len("Transfer-Encoding: chunked\r\n")
	}
	return int64(n + 2)
}

func bodyAllowed(code int) bool {
	return code >= 200 && code != http.StatusNoContent && code != http.StatusNotModified
}

func headerBlockBytes(h http.Header) int {
	n := 0
	for k, vv := range h {
		for _, v := range vv {
			n += len(k) + 2 + len(v) + 2
		}
	}
	return n
}

// bufferPool returns the pool of body-copy buffers.
func bufferPool() *sync.Pool {
	return &sync.Pool{New: func() any { b := make([]byte, 32<<10); return &b }}
}
