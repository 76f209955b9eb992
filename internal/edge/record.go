package edge

import (
	"net/http"
	"strconv"
	"strings"
	"unsafe"

	"github.com/kumo-dev/kumo/internal/accesslog"
)

// dateHeaderLen is the serialised length of the Date header net/http adds
// when a response has none: "Date: Mon, 02 Jan 2006 15:04:05 GMT\r\n".
const dateHeaderLen = len("Date: Mon, 02 Jan 2006 15:04:05 GMT\r\n")

// responseHeaderBytes is the size of a response's status line and header
// block serialised as HTTP/1.1 ("HTTP/1.1 200 OK\r\n", "Name: value\r\n" per
// value, the Date header net/http adds, and the blank line). sc-bytes is this
// plus the body bytes written, whatever the viewer's HTTP version (HTTP/2's
// compressed framing is not modelled).
func responseHeaderBytes(status int, h http.Header) int64 {
	n := len("HTTP/1.1 ") + 3 + 1 + len(http.StatusText(status)) + 2
	for k, vs := range h {
		for _, v := range vs {
			n += len(k) + 2 + len(v) + 2
		}
	}
	if _, ok := h["Date"]; !ok {
		n += dateHeaderLen
	}
	return int64(n + 2)
}

// requestBytes is cs-bytes: the viewer request serialised as HTTP/1.1
// (request line, Host, headers, blank line) plus the body bytes received.
func requestBytes(r *http.Request, body int64) int64 {
	n := len(r.Method) + 1 + len(r.RequestURI) + 1 + len("HTTP/1.1") + 2
	n += len("Host: ") + len(r.Host) + 2
	for k, vs := range r.Header {
		for _, v := range vs {
			n += len(k) + 2 + len(v) + 2
		}
	}
	return int64(n+2) + body
}

// parseContentRange reads "bytes a-b/len" into a and b (-1, -1 if absent).
func parseContentRange(v string) (int64, int64) {
	rest, ok := strings.CutPrefix(v, "bytes ")
	if !ok {
		return -1, -1
	}
	rng, _, _ := strings.Cut(rest, "/")
	a, b, ok := strings.Cut(rng, "-")
	if !ok {
		return -1, -1
	}
	start, err1 := strconv.ParseInt(a, 10, 64)
	end, err2 := strconv.ParseInt(b, 10, 64)
	if err1 != nil || err2 != nil {
		return -1, -1
	}
	return start, end
}

// protocolVersion is the cs-protocol-version field: HTTP/1.0, HTTP/1.1,
// HTTP/2.0 or HTTP/3.0.
func protocolVersion(r *http.Request) string {
	switch {
	case r.ProtoMajor == 1 && r.ProtoMinor == 1:
		return "HTTP/1.1"
	case r.ProtoMajor == 2 && r.ProtoMinor == 0:
		return "HTTP/2.0"
	case r.ProtoMajor == 3 && r.ProtoMinor == 0:
		return "HTTP/3.0"
	case r.ProtoMajor == 1 && r.ProtoMinor == 0:
		return "HTTP/1.0"
	}
	return "HTTP/" + strconv.Itoa(r.ProtoMajor) + "." + strconv.Itoa(r.ProtoMinor)
}

// finish fills the standard-log record (cloudfront.md §1.3, §1.6) and hands
// it to Config.Log. It runs once per response, after the response finished.
func (t *txn) finish() {
	if t.e.cfg.Log == nil || t.declined {
		return
	}
	end := t.e.now()
	r := t.r
	rec := &t.rec
	*rec = accesslog.CloudFrontRecord{
		Time:               end.UTC(),
		EdgeLocation:       t.e.pop,
		Method:             r.Method,
		Host:               t.d.m.DomainName,
		URIStem:            requestPath(r),
		Status:             t.status,
		Referer:            firstValue(r.Header, "Referer"),
		UserAgent:          firstValue(r.Header, "User-Agent"),
		URIQuery:           r.URL.RawQuery,
		ResultType:         t.result,
		RequestID:          t.logRequestID(),
		HostHeader:         r.Host,
		Protocol:           "http",
		TimeTaken:          end.Sub(t.start),
		ForwardedFor:       strings.Join(r.Header["X-Forwarded-For"], ","),
		ResponseResultType: t.respResult,
		ProtocolVersion:    protocolVersion(r),
		FLEEncryptedFields: -1,
		DetailedResultType: t.detailed,
		ContentLen:         -1,
		RangeStart:         -1,
		RangeEnd:           -1,
	}
	rec.ClientIP, rec.ClientPort = t.clientAddr()
	if t.d.m.Logging.IncludeCookies {
		rec.Cookie = strings.Join(r.Header.Values("Cookie"), "; ")
	}
	if t.https {
		rec.Protocol = "https"
		if r.TLS != nil {
			rec.SSLProtocol = accesslog.ProtocolName(r.TLS.Version)
			rec.SSLCipher = accesslog.CipherName(r.TLS.CipherSuite)
		}
	}
	if t.status == http.StatusSwitchingProtocols {
		rec.Protocol = webSocketProtocol(t.https)
	}
	var body int64
	if t.reqBody != nil {
		body = t.reqBody.count()
	} else if r.ContentLength > 0 {
		body = r.ContentLength
	}
	rec.CSBytes = requestBytes(r, body)
	if t.wrote && t.ready {
		rec.SCBytes = t.headerBytes + t.bodyBytes
		rec.TimeToFirstByte = rec.TimeTaken // serveReady: written at once
		rec.ContentType, rec.ContentLen = t.readyCT, t.readyCL
	} else if t.wrote {
		rec.SCBytes = t.headerBytes + t.bodyBytes
		rec.TimeToFirstByte = t.firstByte.Sub(t.start)
		h := t.w.Header()
		rec.ContentType = h.Get("Content-Type")
		if cl := h.Get("Content-Length"); cl != "" {
			if n, err := strconv.ParseInt(cl, 10, 64); err == nil {
				rec.ContentLen = n
			}
		}
		if cr := h.Get("Content-Range"); cr != "" {
			rec.RangeStart, rec.RangeEnd = parseContentRange(cr)
		}
	} else {
		// The viewer went away before a response (logged 000).
		rec.Status = 0
		rec.ResultType, rec.ResponseResultType = resultError, resultError
		rec.DetailedResultType = ReasonViewerGone.DetailedResultType()
		if t.detailed == ReasonViewerHungUpRequest.DetailedResultType() {
			rec.DetailedResultType = t.detailed
		}
		rec.TimeToFirstByte = rec.TimeTaken
	}
	t.e.cfg.Log(t.d.m, rec)
	rec.RequestID = "" // it may point into ridBuf (logRequestID)
}

// firstValue is h.Get(key) for a key already in canonical form, without
// Get's canonicalisation (which a log record would pay per field).
func firstValue(h http.Header, key string) string {
	if vs := h[key]; len(vs) > 0 {
		return vs[0]
	}
	return ""
}

// logRequestID is the request id for the log record: the string made
// already if there is one, otherwise a string over ridBuf, valid only
// while the transaction is (Config.Log: the record is the callee's only
// during the call). A hit makes no string of its id.
func (t *txn) logRequestID() string {
	if t.rid != "" {
		return t.rid
	}
	return unsafe.String(&t.ridBuf[0], len(t.ridBuf))
}
