package serve

import (
	"bytes"
	"crypto/tls"
)

// RejectKind names one of the error responses net/http's HTTP/1.x server
// writes on its own, before any handler runs, when it cannot read a
// request (net/http/server.go, conn.serve and conn.readRequest).
type RejectKind string

// The responses net/http writes by itself (Go 1.26.8).
const (
	// RejectMalformedRequest: the request line or a header line does not
	// parse (400 Bad Request).
	RejectMalformedRequest RejectKind = "MalformedRequest"
	// RejectMissingHost: an HTTP/1.1 request without Host (400).
	RejectMissingHost RejectKind = "MissingHost"
	// RejectMalformedHost: a Host header that is not a valid host (400).
	RejectMalformedHost RejectKind = "MalformedHost"
	// RejectInvalidHeaderName: a header name with a forbidden byte (400).
	RejectInvalidHeaderName RejectKind = "InvalidHeaderName"
	// RejectInvalidHeaderValue: a header value with a forbidden byte (400).
	RejectInvalidHeaderValue RejectKind = "InvalidHeaderValue"
	// RejectHeaderFieldsTooLarge: the header block exceeds the server's
	// MaxHeaderBytes (431).
	RejectHeaderFieldsTooLarge RejectKind = "HeaderFieldsTooLarge"
	// RejectUnsupportedTransferEncoding: a Transfer-Encoding other than
	// chunked (501).
	RejectUnsupportedTransferEncoding RejectKind = "UnsupportedTransferEncoding"
	// RejectHTTPVersionNotSupported: an HTTP/2+ version on an HTTP/1.x
	// connection (505).
	RejectHTTPVersionNotSupported RejectKind = "HTTPVersionNotSupported"
)

// RejectInfo is what a Plane's Reject gets to know about a request
// net/http refused.
type RejectInfo struct {
	// Kind is which of net/http's responses it was about to write.
	Kind RejectKind
	// Status is that response's status code.
	Status int
	// Conn is the connection's ConnInfo.
	Conn *ConnInfo
	// TLS is the connection's TLS state (nil for plain HTTP).
	TLS *tls.ConnectionState
	// Head holds the first bytes the client sent on the connection (at
	// most 16 KiB) when the refused request is the connection's first;
	// nil when earlier requests on the connection were served (their
	// bytes and the refused request's can no longer be told apart).
	Head []byte
	// Response is net/http's own response, byte for byte.
	Response []byte
}

// rejectErrorHeaders are the headers of every net/http error response.
const rejectErrorHeaders = "\r\nContent-Type: text/plain; charset=utf-8\r\nConnection: close\r\n\r\n"

// rejectTable lists net/http's own error responses exactly as Go 1.26.8
// writes them (net/http/server.go: the errTooLarge, unsupported
// transfer-encoding, statusError and generic cases of conn.serve). The
// strings are written out rather than built from http.StatusText so that a
// Go release that changes one makes TestRejectTableMatchesNetHTTP fail.
// It is never modified.
var rejectTable = [...]struct {
	kind     RejectKind
	status   int
	response string
}{
	{RejectMalformedRequest, 400, "HTTP/1.1 400 Bad Request" + rejectErrorHeaders + "400 Bad Request"},
	{RejectMissingHost, 400, "HTTP/1.1 400 Bad Request: missing required Host header" + rejectErrorHeaders + "400 Bad Request: missing required Host header"},
	{RejectMalformedHost, 400, "HTTP/1.1 400 Bad Request: malformed Host header" + rejectErrorHeaders + "400 Bad Request: malformed Host header"},
	{RejectInvalidHeaderName, 400, "HTTP/1.1 400 Bad Request: invalid header name" + rejectErrorHeaders + "400 Bad Request: invalid header name"},
	{RejectInvalidHeaderValue, 400, "HTTP/1.1 400 Bad Request: invalid header value" + rejectErrorHeaders + "400 Bad Request: invalid header value"},
	{RejectHeaderFieldsTooLarge, 431, "HTTP/1.1 431 Request Header Fields Too Large" + rejectErrorHeaders + "431 Request Header Fields Too Large"},
	{RejectUnsupportedTransferEncoding, 501, "HTTP/1.1 501 Not Implemented" + rejectErrorHeaders + "Unsupported transfer encoding"},
	{RejectHTTPVersionNotSupported, 505, "HTTP/1.1 505 HTTP Version Not Supported: unsupported protocol version" + rejectErrorHeaders + "505 HTTP Version Not Supported: unsupported protocol version"},
}

// builtinReject reports which of net/http's own error responses p is, if
// p is one of them exactly (net/http writes each with one Write call).
func builtinReject(p []byte) (kind RejectKind, status int, ok bool) {
	if len(p) < len("HTTP/1.1 400 ") || !bytes.HasPrefix(p, []byte("HTTP/1.1 ")) {
		return "", 0, false
	}
	for _, e := range rejectTable {
		if string(p) == e.response {
			return e.kind, e.status, true
		}
	}
	return "", 0, false
}

// reject writes, instead of net/http's error response p, what the plane's
// Reject returns (or p itself).
func (c *conn) reject(kind RejectKind, status int, p []byte) (int, error) {
	pl := c.plane.Load()
	if pl.Reject == nil {
		return c.Conn.Write(p)
	}
	info := RejectInfo{Kind: kind, Status: status, Conn: c.info, TLS: c.tls, Response: bytes.Clone(p)}
	if !c.served.Load() {
		c.mu.Lock()
		info.Head = bytes.Clone(c.head)
		c.mu.Unlock()
	}
	resp, ok := pl.Reject(info)
	if !ok {
		return c.Conn.Write(p)
	}
	if _, err := c.Conn.Write(resp); err != nil {
		return 0, err
	}
	return len(p), nil
}
