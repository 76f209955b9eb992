package edge

import (
	"net/http"
	"strconv"
)

// Viewer request limits (cloudfront.md §5.9, current documentation).
const (
	// maxViewerURL is the longest constructed URL (scheme://host/path?query).
	maxViewerURL = 8192
	// maxViewerRequestHeader is the largest request line plus headers.
	maxViewerRequestHeader = 32768
)

// viewerURLLength is the length of the URL CloudFront constructs for the
// request: scheme://Host plus the request target. UNCONFIRMED: AWS says
// "constructed URL" without defining it; kumo counts scheme, host and
// target.
func viewerURLLength(r *http.Request, https bool) int {
	n := len("http://") + len(r.Host) + len(r.RequestURI)
	if https {
		n++
	}
	return n
}

// viewerRequestHeaderLength is the size of the request line and headers as
// sent over HTTP/1.1 (name: value CRLF per field, Host included).
func viewerRequestHeaderLength(r *http.Request) int {
	n := len(r.Method) + 1 + len(r.RequestURI) + 1 + len("HTTP/1.1") + 2
	n += len("Host: ") + len(r.Host) + 2
	for k, vs := range r.Header {
		for _, v := range vs {
			n += len(k) + 2 + len(v) + 2
		}
	}
	return n + 2
}

// requestLimits implements cloudfront.md §5.9: a URL longer than 8,192
// bytes is answered 414 and request headers larger than 32,768 bytes 494,
// then the connection is closed. Neither is logged. It reports whether it
// answered.
func (t *txn) requestLimits() bool {
	reason := ReasonNone
	switch {
	case viewerURLLength(t.r, t.https) > maxViewerURL:
		reason = ReasonURITooLong
	case viewerRequestHeaderLength(t.r) > maxViewerRequestHeader:
		reason = ReasonRequestHeaderTooLarge
	default:
		return false
	}
	t.e.logger.Debug("edge: request over a limit", "reason", reason.String(), "request_id", t.requestID(),
		"url_bytes", strconv.Itoa(viewerURLLength(t.r, t.https)), "header_bytes", strconv.Itoa(viewerRequestHeaderLength(t.r)))
	t.result, t.respResult, t.detailed = resultError, resultError, reason.DetailedResultType()
	page := errorPage(make([]byte, 0, 1100), reason.Status(), reason.Message(), t.requestID())
	h := t.w.Header()
	h["Server"] = []string{"CloudFront"}
	h["Content-Type"] = []string{"text/html"}
	h["Content-Length"] = []string{strconv.Itoa(len(page))}
	h["Connection"] = []string{"close"}
	t.setEdgeHeaders(xCacheError)
	t.writeHeader(reason.Status())
	if t.r.Method != http.MethodHead {
		t.write(page)
	}
	return true
}

// getWithBody implements the body half of "GET with a body ⇒ 403"
// (cloudfront.md §3.4): a declared length, chunked framing, or, for an
// HTTP/3 request without Content-Length (whose length quic-go reports as
// unknown), a first body byte before the end of the stream.
func getWithBody(r *http.Request) bool {
	switch {
	case r.ContentLength > 0:
		return true
	case r.ContentLength == 0 || r.Body == nil || r.Body == http.NoBody:
		return false
	case r.ProtoMajor == 3:
		var b [1]byte
		n, _ := r.Body.Read(b[:])
		return n > 0
	}
	return true
}
