package alb

import (
	"bytes"
	"context"
	"crypto/tls"
	"io"
	"net"
	"net/http"
	"strconv"
	"strings"
	"time"
)

// StatusIncompatibleProtocol is the status for a request whose protocol
// does not fit the target group's protocol version (alb.md §2.1).
const StatusIncompatibleProtocol = 464

// FailureIncompatibleProtocol: the request's protocol does not fit the
// target group's protocol version → 464, target "-", timings -1 -1 -1.
const FailureIncompatibleProtocol Failure = "IncompatibleProtocol"

// isGRPCRequest reports whether r is a gRPC request: HTTP/2 with a
// Content-Type of application/grpc or application/grpc+<subtype>.
func isGRPCRequest(r *http.Request) bool {
	if r.ProtoMajor != 2 {
		return false
	}
	ct := r.Header.Get("Content-Type")
	return ct == "application/grpc" || strings.HasPrefix(ct, "application/grpc+") || strings.HasPrefix(ct, "application/grpc;")
}

// protocolMismatch implements the request/target-group protocol matrix of
// alb.md §4.2 (464 on a mismatch, §2.1): HTTP1 groups take HTTP/1.x and
// HTTP/2 but not gRPC; HTTP2 groups take HTTP/2 (gRPC included) only; GRPC
// groups take HTTP/2 POST requests only.
func protocolMismatch(r *http.Request, version string) bool {
	switch version {
	case ProtocolVersionHTTP2:
		return r.ProtoMajor != 2
	case ProtocolVersionGRPC:
		return r.ProtoMajor != 2 || r.Method != http.MethodPost
	}
	return isGRPCRequest(r)
}

// h2Transports are the HTTP/2 transports to HTTP2 and GRPC target groups:
// over TLS (ALPN h2) for HTTPS groups, cleartext prior-knowledge HTTP/2
// (h2c) for HTTP groups.
type h2Transports struct {
	tls, clear *http.Transport
}

func newH2Transports(connectTimeout, idle time.Duration) h2Transports {
	return h2Transports{tls: newH2Transport(connectTimeout, idle, true), clear: newH2Transport(connectTimeout, idle, false)}
}

func (h *h2Transports) close() {
	h.tls.CloseIdleConnections()
	h.clear.CloseIdleConnections()
}

// newH2Transport builds an HTTP/2-only transport towards targets with the
// same fixed 10 s connect and TLS-handshake timeouts as HTTP/1 (alb.md
// §2.4), no certificate validation (§4.2) and a 32 KB response-header limit
// (§4.5).
func newH2Transport(connectTimeout, idle time.Duration, useTLS bool) *http.Transport {
	var tlsConf *tls.Config
	if useTLS {
		tlsConf = targetTLSConfig()
	}
	tr := newTargetTransport(connectTimeout, idle, tlsConf)
	tr.TLSNextProto = nil
	tr.ForceAttemptHTTP2 = true
	p := new(http.Protocols)
	if useTLS {
		p.SetHTTP2(true)
	} else {
		p.SetUnencryptedHTTP2(true)
	}
	tr.Protocols = p
	return tr
}

// roundTripper is the transport for a target group: HTTP/1.1 (plain or
// TLS) for HTTP1 groups, HTTP/2 for HTTP2 and GRPC groups.
func (lb *LoadBalancer) roundTripper(tg *targetGroup) http.RoundTripper {
	if tg.opts.protocolVersion != ProtocolVersionHTTP1 {
		if tg.https {
			return lb.h2.tls
		}
		return lb.h2.clear
	}
	if tg.https {
		return lb.httpsTransport
	}
	return lb.httpTransport
}

// grpcHealthCheckPath is the default HealthCheckPath of GRPC target groups
// (alb.md §6.2).
const grpcHealthCheckPath = "/AWS.ALB/healthcheck"

// checkTargetH2 runs one health check of an HTTP2 or GRPC target group over
// HTTP/2 on a fresh connection (alb.md §6.2): HTTP2 groups GET the path and
// match the HTTP status against Matcher.HttpCode; GRPC groups POST an empty
// gRPC message to the path (default /AWS.ALB/healthcheck) and match the
// grpc-status against Matcher.GrpcCode.
func checkTargetH2(ctx context.Context, t *target, port int) checkResult {
	hc := t.tg.model.HealthCheck
	timeout := hc.Timeout
	if timeout <= 0 {
		timeout = 5 * time.Second
	}
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	tr := newH2Transport(timeout, timeout, hc.Protocol == "HTTPS")
	defer tr.CloseIdleConnections()
	grpc := t.tg.opts.protocolVersion == ProtocolVersionGRPC
	path := hc.Path
	if path == "" {
		path = "/"
		if grpc {
			path = grpcHealthCheckPath
		}
	}
	scheme := "http"
	if hc.Protocol == "HTTPS" {
		scheme = "https"
	}
	method, body := http.MethodGet, io.Reader(nil)
	if grpc {
		method, body = http.MethodPost, bytes.NewReader([]byte{0, 0, 0, 0, 0})
	}
	req, err := http.NewRequestWithContext(ctx, method, scheme+"://"+t.healthCheckDialAddr(port)+path, body)
	if err != nil {
		return checkResult{reason: ReasonFailedHealthChecks, description: "Health checks failed"}
	}
	req.Host = net.JoinHostPort(t.host, strconv.Itoa(port))
	req.Header.Set("User-Agent", HealthCheckUserAgent)
	if grpc {
		req.Header.Set("Content-Type", "application/grpc")
		req.Header.Set("Te", "trailers")
	}
	resp, err := tr.RoundTrip(req)
	if err != nil {
		if ctx.Err() != nil || isTimeout(err) {
			return checkResult{reason: ReasonTimeout, description: "Request timed out"}
		}
		return checkResult{reason: ReasonFailedHealthChecks, description: "Health checks failed"}
	}
	_, _ = io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	if !grpc {
		m, _ := parseMatcher(hc.Matcher)
		if !m.matches(resp.StatusCode) {
			return checkResult{reason: ReasonResponseCodeMismatch,
				description: "Health checks failed with these codes: [" + strconv.Itoa(resp.StatusCode) + "]", status: resp.StatusCode}
		}
		return checkResult{pass: true, status: resp.StatusCode}
	}
	gs := resp.Trailer.Get("Grpc-Status")
	if gs == "" {
		gs = resp.Header.Get("Grpc-Status")
	}
	code, err := strconv.Atoi(gs)
	if err != nil || !t.tg.opts.grpcMatcher.matches(code) {
		return checkResult{reason: ReasonResponseCodeMismatch,
			description: "Health checks failed with these codes: [" + gs + "]", status: resp.StatusCode}
	}
	return checkResult{pass: true, status: resp.StatusCode}
}

// grpcErrorStatus adds the gRPC status of an LB-generated 5xx for a gRPC
// client (alb.md §2.3, OBSERVED for 502: grpc-status 14, grpc-message
// unavailable). UNCONFIRMED: kumo sends the same for every 5xx it
// generates (503, 504, ...), since all mean the service is unavailable.
func grpcErrorStatus(h http.Header, r *http.Request, status int) {
	if status >= 500 && isGRPCRequest(r) {
		h["Grpc-Status"] = []string{"14"}
		h["Grpc-Message"] = []string{"unavailable"}
	}
}
