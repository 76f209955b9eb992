package alb

import (
	"bytes"
	"net/http"
	"net/netip"
	"strconv"
	"time"

	"github.com/kumo-dev/kumo/internal/accesslog"
	"github.com/kumo-dev/kumo/internal/serve"
)

// Refusals of requests that never parsed: the named reasons for the
// responses the listener writes instead of net/http's own (serve.Plane.Reject,
// alb.md §2.1).
const (
	// RejectMalformed: the request line or a header does not parse, a
	// header has a forbidden byte, or the Host header is missing or bad → 400.
	RejectMalformed = "MalformedRequest"
	// RejectHeaderBlockOverParserLimit: the header block is larger than
	// the HTTP parser reads at all (net/http's 1 MiB; the 64 KB limit of
	// alb.md §4.5 is checked by screenRequest for smaller blocks) → 400.
	RejectHeaderBlockOverParserLimit = "HeaderBlockOverParserLimit"
	// RejectUnsupportedTransferEncoding: a Transfer-Encoding other than
	// chunked or identity → 501.
	RejectUnsupportedTransferEncoding = "UnsupportedTransferEncoding"
	// RejectHTTPVersion: an HTTP version the listener does not speak on
	// this connection (HTTP/2 on an HTTP/1 connection) → 505.
	RejectHTTPVersion = "HTTPVersionNotSupported"
)

// unparsedRejection implements the statuses of alb.md §2.1 for the
// requests Go's parser refuses before any handler runs: malformed or not
// HTTP-compliant → 400, all headers over the limit → 400 (not net/http's
// 431), an unknown Transfer-Encoding → 501, an unexpected HTTP version →
// 505. It returns the named reason, and false for a kind it does not know
// (net/http's own response is sent then).
func unparsedRejection(kind serve.RejectKind) (status int, reason string, ok bool) {
	switch kind {
	case serve.RejectMalformedRequest, serve.RejectMissingHost, serve.RejectMalformedHost,
		serve.RejectInvalidHeaderName, serve.RejectInvalidHeaderValue:
		return http.StatusBadRequest, RejectMalformed, true
	case serve.RejectHeaderFieldsTooLarge:
		return http.StatusBadRequest, RejectHeaderBlockOverParserLimit, true
	case serve.RejectUnsupportedTransferEncoding:
		return http.StatusNotImplemented, RejectUnsupportedTransferEncoding, true
	case serve.RejectHTTPVersionNotSupported:
		return http.StatusHTTPVersionNotSupported, RejectHTTPVersion, true
	}
	return 0, "", false
}

// reject is the serve.Plane.Reject of a listener: the LB page with
// Connection: close (alb.md §2.3: the malformed-request 400 is 272 bytes
// with Connection: close) and one access-log line of the unparsable shape
// (§1.5, §1.11).
func (l *listener) reject(info serve.RejectInfo) ([]byte, bool) {
	status, why, ok := unparsedRejection(info.Kind)
	if !ok {
		return nil, false
	}
	lb := l.lb
	now := lb.now()
	body := lb.pages.body(status)
	resp := make([]byte, 0, 160+len(body))
	resp = append(resp, "HTTP/1.1 "...)
	resp = strconv.AppendInt(resp, int64(status), 10)
	resp = append(resp, ' ')
	resp = append(resp, lbPageReason(status)...)
	resp = append(resp, "\r\nServer: "+ServerHeader+"\r\nDate: "...)
	resp = now.UTC().AppendFormat(resp, http.TimeFormat)
	resp = append(resp, "\r\nContent-Type: text/html\r\nContent-Length: "...)
	resp = strconv.AppendInt(resp, int64(len(body)), 10)
	resp = append(resp, "\r\nConnection: close\r\n\r\n"...)
	resp = append(resp, body...)
	lb.log.Debug("alb: unparsable request refused", "reason", why, "status", status, "net_http", string(info.Kind))

	rec := &accesslog.ALBRecord{
		Type: l.scheme, Time: now, ELB: lb.lb.FullName,
		RequestProcessingTime: notMeasured, TargetProcessingTime: notMeasured, ResponseProcessingTime: notMeasured,
		Request: unparsableRequestField(info.Head, l.scheme, l.port), ELBStatus: status, SentBytes: int64(len(resp)),
		MatchedRulePriority: accesslog.RulePriorityNone, RequestCreationTime: unparsableRequestTime(now),
	}
	if ci := info.Conn; ci != nil {
		rec.ConnTraceID = ci.TraceID
		if ci.Remote != nil {
			remote := ci.Remote.String()
			ap, _ := netip.ParseAddrPort(remote) // invalid: clientField keeps remote
			rec.Client = clientField(remote, ap)
		}
		l.plainRequestSeen(ci)
	}
	if l.tls != nil && info.TLS != nil {
		rec.SSLCipher = sslCipherField(info.TLS)
		rec.SSLProtocol = sslProtocolField(info.TLS)
		rec.DomainName = domainNameField(info.TLS)
		rec.ChosenCertARN = l.tls.chosenCertField(info.TLS)
	}
	lb.observeRequest(rec, FailureNone)
	if lb.cfg.Log != nil {
		lb.cfg.Log(rec)
	}
	return resp, true
}

// unparsableRequestTime is request_creation_time of a refused unparsable
// request. UNCONFIRMED: AWS's lines show it 0.25–0.75 s before time (when
// the first byte arrived, presumably); kumo logs the time of the refusal.
func unparsableRequestTime(now time.Time) time.Time { return now }

// unparsableRequestField implements the request field of an unparsable
// request (alb.md §1.5): "- <scheme>://<host>:<port>- -" when the client
// sent a usable Host header in the connection's first bytes, "- - -"
// otherwise; the port is the listener's. UNCONFIRMED: which of the two
// shapes AWS writes when; one AWS line with a parsed request line
// ("POST http://…/cgi-bin/login.cgi HTTP/1.1", 400, user agent set) shows
// AWS sometimes logs the request line of a 400 whose cause is unknown;
// kumo writes the unparsable shape for every request Go's parser refuses.
func unparsableRequestField(head []byte, scheme, port string) string {
	host := hostFromHead(head)
	if host == "" {
		return "- - -"
	}
	return "- " + scheme + "://" + host + ":" + port + "- -"
}

// hostFromHead finds the first Host header in the header block of a
// request's first bytes and returns it without its port, or "" when there
// is none or it is not a plain host name or address.
func hostFromHead(head []byte) string {
	_, rest, ok := bytes.Cut(head, []byte("\n"))
	if !ok {
		return ""
	}
	for len(rest) > 0 {
		var line []byte
		line, rest, _ = bytes.Cut(rest, []byte("\n"))
		line = bytes.TrimSuffix(line, []byte("\r"))
		if len(line) == 0 {
			break // end of the header block
		}
		name, value, ok := bytes.Cut(line, []byte(":"))
		if !ok || !bytes.EqualFold(name, []byte("Host")) {
			continue
		}
		h := hostWithoutPort(string(bytes.TrimSpace(value)))
		if !plainHost(h) {
			return ""
		}
		return h
	}
	return ""
}

// plainHost reports whether h is a non-empty host name, IPv4 address or
// bracketed IPv6 address made only of the bytes those use.
func plainHost(h string) bool {
	if h == "" || len(h) > 255 {
		return false
	}
	for i := 0; i < len(h); i++ {
		c := h[i]
		switch {
		case 'a' <= c && c <= 'z', 'A' <= c && c <= 'Z', '0' <= c && c <= '9':
		case c == '.', c == '-', c == '_', c == ':', c == '[', c == ']':
		default:
			return false
		}
	}
	return true
}
