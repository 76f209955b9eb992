package edge

import (
	"bytes"
	"errors"
	"net/http"
	"net/url"
	"strconv"
	"strings"

	"github.com/kumo-dev/kumo/internal/model"
)

// customErrorResponse returns the distribution's CustomErrorResponses item
// for status (nil if none).
func (d *distribution) customErrorResponse(status int) *model.CustomErrorResponse {
	for _, ce := range d.m.CustomErrorResponses {
		if ce.ErrorCode == status {
			return ce
		}
	}
	return nil
}

// customErrorCachingMinTTL implements ErrorCachingMinTTL (cloudfront.md
// §4.4, §5.5): the seconds an error response with status is cached at
// least, when a custom error response for status sets it.
func (d *distribution) customErrorCachingMinTTL(status int) (int64, bool) {
	if ce := d.customErrorResponse(status); ce != nil {
		return int64(ce.ErrorCachingMinTTL.Seconds()), true
	}
	return 0, false
}

// pageRecorder captures the response of an error-page fetch.
type pageRecorder struct {
	header http.Header
	status int
	body   bytes.Buffer
}

func (p *pageRecorder) Header() http.Header { return p.header }

func (p *pageRecorder) WriteHeader(status int) {
	if p.status == 0 {
		p.status = status
	}
}

func (p *pageRecorder) Write(b []byte) (int, error) {
	if p.status == 0 {
		p.status = http.StatusOK
	}
	return p.body.Write(b)
}

// swallowWriter stands in for the viewer once a custom error page has been
// sent: the origin's error body, still read (and cached) by the caller,
// goes nowhere.
type swallowWriter struct {
	w http.ResponseWriter
}

func (s swallowWriter) Header() http.Header { return s.w.Header() }

func (s swallowWriter) WriteHeader(int) {}

func (s swallowWriter) Write([]byte) (int, error) { return 0, nil }

// Unwrap lets http.ResponseController reach the viewer's writer.
func (s swallowWriter) Unwrap() http.ResponseWriter { return s.w }

// maxErrorPage bounds a custom error page held in memory.
const maxErrorPage = 10 << 20

// fetchErrorPage fetches a ResponsePagePath through the behavior whose
// pattern matches it, from the cache or the origin, and caches it per that
// behavior (cloudfront.md §5.5). It runs as an unlogged transaction.
func (t *txn) fetchErrorPage(pagePath string) (rec *pageRecorder) {
	t.needsOrigin()
	rec = &pageRecorder{header: http.Header{}}
	u, err := url.ParseRequestURI(pagePath)
	if err != nil {
		rec.status = http.StatusBadGateway
		return rec
	}
	r := &http.Request{Method: http.MethodGet, URL: u, RequestURI: pagePath, Proto: "HTTP/1.1", ProtoMajor: 1, ProtoMinor: 1,
		Host: t.r.Host, Header: http.Header{}, Body: http.NoBody, RemoteAddr: t.r.RemoteAddr, TLS: t.r.TLS}
	r = r.WithContext(t.r.Context())
	st := &txn{e: t.e, w: rec, r: r, https: t.https, start: t.e.now(), ridBuf: t.ridBuf, rid: t.rid, host: t.host, d: t.d}
	st.beh = t.d.matchBehavior(u.Path)
	defer func() {
		if v := recover(); v != nil {
			if v != http.ErrAbortHandler {
				panic(v)
			}
			rec.status = http.StatusBadGateway // the page's origin failed mid-body
		}
	}()
	if !st.beh.allowed[http.MethodGet] {
		st.fail(ReasonMethodNotAllowed, nil)
		return rec
	}
	st.lookup(requestPath(r), !st.beh.noCache && st.beh.cached[http.MethodGet])
	if rec.status == 0 {
		rec.status = http.StatusBadGateway
	}
	return rec
}

// errCustomPageTooLarge is logged when a custom error page exceeds maxErrorPage.
var errCustomPageTooLarge = errors.New("custom error page too large")

// serveCustomError implements CustomErrorResponses (cloudfront.md §5.5) at
// the moment a response with status is about to be sent: when the
// distribution has a ResponsePagePath for status, the viewer gets that page
// (fetched through its own behavior) with ResponseCode instead; if the page
// cannot be fetched, the viewer gets the page fetch's own response. The
// result types stay as they are (Error). It reports whether it answered;
// the caller's own body then goes nowhere. CloudFront's refusals of viewer
// requests (InvalidRequest*) are not replaced. UNCONFIRMED: whether
// CloudFront's own 403s (method, https-only) use custom pages.
func (t *txn) serveCustomError(status int) bool {
	if _, inner := t.w.(*pageRecorder); inner || t.d == nil || status < 400 || strings.HasPrefix(t.detailed, "InvalidRequest") {
		return false
	}
	ce := t.d.customErrorResponse(status)
	if ce == nil || ce.ResponsePagePath == "" {
		return false
	}
	page := t.fetchErrorPage(ce.ResponsePagePath)
	code := page.status
	if code < 300 {
		code = ce.ResponseCode
		if code == 0 {
			code = status
		}
	}
	if page.body.Len() > maxErrorPage {
		t.e.logger.Warn("edge: custom error page not served", "page", ce.ResponsePagePath, "err", errCustomPageTooLarge, "request_id", t.requestID())
		return false
	}
	h := t.w.Header()
	for k := range h {
		delete(h, k)
	}
	for _, k := range []string{"Content-Type", "Etag", "Last-Modified", "Cache-Control", "Server", "Content-Encoding"} {
		if v, ok := page.header[k]; ok {
			h[k] = v
		}
	}
	h["Content-Length"] = []string{strconv.Itoa(page.body.Len())}
	t.setEdgeHeaders(xCacheError)
	t.addAltSvc()
	if t.beh != nil && t.beh.rhp != nil {
		t.applyResponsePolicy(h)
	}
	t.status = code
	t.headerBytes = responseHeaderBytes(code, h)
	t.w.WriteHeader(code)
	t.firstByte = t.e.now()
	if t.r.Method != http.MethodHead {
		t.write(page.body.Bytes())
	}
	t.w = swallowWriter{w: t.w}
	return true
}
