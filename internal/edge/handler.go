package edge

import (
	"context"
	crand "crypto/rand"
	"encoding/base64"
	"errors"
	"io"
	"math/rand/v2"
	"net"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/kumo-dev/kumo/internal/accesslog"
	"github.com/kumo-dev/kumo/internal/cache"
	"github.com/kumo-dev/kumo/internal/serve"
)

// Header values CloudFront sets (cloudfront.md §3.10).
const (
	xCacheHit      = "Hit from cloudfront"
	xCacheMiss     = "Miss from cloudfront"
	xCacheError    = "Error from cloudfront"
	xCacheRedirect = "Redirect from cloudfront"
)

// Result types (cloudfront.md §1.6).
const (
	resultHit      = "Hit"
	resultMiss     = "Miss"
	resultError    = "Error"
	resultRedirect = "Redirect"
)

// newRequestID writes a 56-character request id into dst: 40 random bytes
// in padded base64url, ending "==" (cloudfront.md §6).
//
// The bytes come from ChaCha8 generators, each seeded from crypto/rand:
// unpredictable like crypto/rand's output at a fraction of its cost per
// request. e.rids pools them, so that concurrent requests do not share
// (and lock) one generator. Each generator encodes ridBatch ids at a time
// into its own buffer, which the ids are copied from: a request id costs
// no allocation (txn.requestID makes a string of it only where one is
// kept).
func (e *Edge) newRequestID(dst *[ridLen]byte) {
	src, ok := e.rids.Get().(*ridSource)
	if !ok {
		var seed [32]byte
		_, _ = crand.Read(seed[:])
		src = &ridSource{g: rand.NewChaCha8(seed), next: len(ridSource{}.batch)}
	}
	if src.next == len(src.batch) {
		src.refill()
	}
	copy(dst[:], src.batch[src.next:])
	src.next += ridLen
	e.rids.Put(src)
}

// ridLen is the length of a request id; ridRaw the random bytes in it;
// ridBatch how many ids a ridSource makes at a time.
const (
	ridLen   = 56
	ridRaw   = 40
	ridBatch = 64
)

// ridSource makes request ids: batch holds ids not handed out yet from
// index next on.
type ridSource struct {
	g     *rand.ChaCha8
	batch [ridBatch * ridLen]byte
	next  int
}

// refill makes the next ridBatch ids.
func (s *ridSource) refill() {
	var raw [ridBatch * ridRaw]byte
	_, _ = s.g.Read(raw[:])
	for i := range ridBatch {
		base64.URLEncoding.Encode(s.batch[i*ridLen:(i+1)*ridLen], raw[i*ridRaw:(i+1)*ridRaw])
	}
	s.next = 0
}

// requestID is the request's id as a string, made on first use: what is
// kept (a header sent to an origin, a page, kumo's own log) holds a string
// of its own. The log record and a ready hit read ridBuf itself.
func (t *txn) requestID() string {
	if t.rid == "" {
		t.rid = string(t.ridBuf[:])
	}
	return t.rid
}

// txn is one viewer request in flight.
type txn struct {
	e     *Edge
	w     http.ResponseWriter
	r     *http.Request
	https bool
	start time.Time
	// ridBuf is the request id (newRequestID); rid the same as a string
	// once requestID made one.
	ridBuf [ridLen]byte
	rid    string
	host   string // viewer host, lowercase, no port
	d      *distribution
	beh    *behavior

	status      int
	wrote       bool
	firstByte   time.Time
	headerBytes int64
	bodyBytes   int64
	reqBody     *countingReader

	result, respResult, detailed string

	// c is the request's cache state (fresh.go).
	c cacheTxn

	// lean: the request runs on serve's lean engine (ServeFast); declined
	// is set when it had to go to net/http after all (needsNetHTTP), and
	// watched once its context follows the viewer's connection
	// (needsOrigin).
	lean, declined, watched bool

	// ready: the response was written from a ready head (serveReady),
	// whose Content-Type and Content-Length these are; the header map
	// is empty.
	ready   bool
	readyCT string
	readyCL int64

	// rec is the standard-log record finish fills (part of the txn, so
	// that logging allocates nothing of its own).
	rec accesslog.CloudFrontRecord
	// scratch holds the per-response header lines of a ready hit; keyBuf
	// the cache key as lookup builds it (a longer key goes to the heap).
	scratch [160]byte
	keyBuf  [256]byte
}

// errDeclined unwinds a lean transaction that needs net/http
// (needsNetHTTP); ServeFast recovers it.
var errDeclined = errors.New("edge: request needs net/http")

// needsOrigin is called on every path that waits for an origin (a fetch, a
// collapsed fetch, a custom error page): from there on a lean transaction's
// context must end when the viewer goes away, as net/http's does, so it
// asks the lean engine to watch the connection. Hits never get here and
// pay nothing for it.
func (t *txn) needsOrigin() {
	if t.lean && !t.watched {
		t.r = t.r.WithContext(serve.WatchClient(t.r))
		t.watched = true
	}
}

// needsNetHTTP is called where a request takes over the connection (a
// WebSocket): a lean transaction stops there, before it wrote anything,
// and the request goes to net/http. (The lean engine hands Upgrade
// requests to net/http itself; this is the guard behind it.)
func (t *txn) needsNetHTTP() {
	if t.lean {
		t.declined = true
		panic(errDeclined)
	}
}

func (e *Edge) serve(w http.ResponseWriter, r *http.Request, https, lean bool) {
	var t *txn
	if lean {
		// A lean transaction that did not go to the origin started
		// nothing that outlives it (a background refresh has its own),
		// so it is recycled.
		t, _ = e.txns.Get().(*txn)
		if t == nil {
			t = new(txn)
		}
		defer func() {
			if !t.watched {
				e.txns.Put(t)
			}
		}()
	} else {
		t = new(txn)
	}
	*t = txn{e: e, w: w, r: r, https: https, start: e.now(), lean: lean}
	e.newRequestID(&t.ridBuf)
	t.host = hostWithoutPort(r.Host)
	if t.requestLimits() {
		return
	}
	route, ok := e.routeHost(t.host)
	if !ok {
		e.logger.Debug("edge: no distribution for host", "host", r.Host, "request_id", t.requestID())
		t.fail(ReasonUnknownHost, nil)
		return
	}
	t.d = route.d
	defer t.finish()
	if !t.d.m.Enabled {
		t.fail(ReasonDistributionDisabled, nil)
		return
	}
	t.beh = t.d.matchBehavior(r.URL.Path)
	if !https && t.viewerProtocolPolicy() {
		return
	}
	if !t.beh.allowed[r.Method] {
		t.fail(ReasonMethodNotAllowed, nil)
		return
	}
	if t.corsPreflight() {
		return
	}
	if r.Method == http.MethodGet && getWithBody(r) {
		t.fail(ReasonGETWithBody, nil)
		return
	}
	p := defaultRootObject(requestPath(r), t.d.m.DefaultRootObject)
	if isWebSocketUpgrade(r) {
		t.webSocket(p)
		return
	}
	cacheable := !t.beh.noCache && t.beh.cached[r.Method]
	t.lookup(p, cacheable)
}

// hostWithoutPort lowercases a Host header value and strips any port.
func hostWithoutPort(h string) string {
	if i := strings.LastIndexByte(h, ':'); i >= 0 && !strings.HasSuffix(h, "]") {
		h = h[:i]
	}
	return strings.TrimSuffix(strings.ToLower(h), ".")
}

// requestPath is the path as the viewer sent it (escaped, without query).
func requestPath(r *http.Request) string {
	p, _, _ := strings.Cut(r.RequestURI, "?")
	if p == "" || p[0] != '/' {
		return r.URL.EscapedPath()
	}
	return p
}

// matchBehavior implements cloudfront.md §5.3: the first CacheBehavior whose
// path pattern matches, else the default behavior.
func (d *distribution) matchBehavior(p string) *behavior {
	for _, b := range d.behaviors[:len(d.behaviors)-1] {
		if matchPathPattern(b.pattern, p) {
			return b
		}
	}
	return d.behaviors[len(d.behaviors)-1]
}

// defaultRootObject implements cloudfront.md §5.4: only "/" is rewritten.
func defaultRootObject(p, root string) string {
	if p == "/" && root != "" {
		return "/" + root
	}
	return p
}

// viewerProtocolPolicy implements cloudfront.md §5.1 for a plain-HTTP
// request; it reports whether it answered the request.
func (t *txn) viewerProtocolPolicy() bool {
	switch t.beh.m.ViewerProtocolPolicy {
	case "https-only":
		t.fail(ReasonHTTPSOnly, nil)
		return true
	case "redirect-to-https":
		r := t.r
		if r.Method == http.MethodGet || r.Method == http.MethodHead {
			t.redirect(http.StatusMovedPermanently, redirectBody301)
		} else if r.ProtoAtLeast(1, 1) {
			t.redirect(http.StatusTemporaryRedirect, redirectBody307)
		} else {
			t.fail(ReasonRedirectOldHTTP, nil)
		}
		return true
	}
	return false
}

// redirectLocation is the Location of a viewer-protocol redirect:
// https://<host><path>?<query>; when the viewer's Host carried a (local)
// port, the HTTPS listener's port replaces it.
func (t *txn) redirectLocation() string {
	host := t.r.Host
	if h, _, err := net.SplitHostPort(host); err == nil {
		host = h
		if p := t.e.cfg.HTTPSPort; p != 0 && p != 443 {
			host = net.JoinHostPort(h, strconv.Itoa(p))
		}
	}
	return "https://" + host + t.r.RequestURI
}

func (t *txn) redirect(status int, body string) {
	h := t.w.Header()
	h["Server"] = []string{"CloudFront"}
	h["Content-Type"] = []string{"text/html"}
	h["Content-Length"] = []string{strconv.Itoa(len(body))}
	h["Location"] = []string{t.redirectLocation()}
	t.setEdgeHeaders(xCacheRedirect)
	t.result, t.respResult, t.detailed = resultRedirect, resultRedirect, resultRedirect
	t.writeHeader(status)
	if t.r.Method != http.MethodHead {
		t.write([]byte(body))
	}
}

// setEdgeHeaders adds the headers CloudFront puts on every viewer response
// (cloudfront.md §3.10).
func (t *txn) setEdgeHeaders(xCache string) {
	h := t.w.Header()
	hv := &t.e.hv
	switch xCache {
	case xCacheHit:
		h["X-Cache"] = hv.hit
	case xCacheMiss:
		h["X-Cache"] = hv.miss
	case xCacheError:
		h["X-Cache"] = hv.err
	default:
		h["X-Cache"] = []string{xCache}
	}
	h["Via"] = hv.via
	h["X-Amz-Cf-Pop"] = hv.pop
	h["X-Amz-Cf-Id"] = []string{t.requestID()}
}

// headerValues are the constant viewer header values, built once per Edge
// so the hit path does not allocate them (each has cap 1, so an append by
// anyone copies rather than shares).
type headerValues struct {
	hit, miss, err, via, pop []string
	// ages are the Age values 0 … maxSharedAge (ageValue).
	ages [][]string
}

// fail answers with CloudFront's error page for reason (or nothing, for a
// viewer that went away) and sets the result types. err, when set, is the
// underlying failure, logged with the reason.
func (t *txn) fail(reason Reason, err error) {
	t.result, t.respResult, t.detailed = resultError, resultError, reason.DetailedResultType()
	if reason.Status() == 0 {
		// The viewer is gone: nothing to answer. Abort the response, so
		// that net/http does not send its default empty 200 on a
		// connection that is still half open (the record is still logged
		// by the deferred finish).
		panic(http.ErrAbortHandler)
	}
	page := errorPage(make([]byte, 0, 1100), reason.Status(), reason.Message(), t.requestID())
	t.servePage(reason.Status(), page)
}

func (t *txn) servePage(status int, page []byte) {
	h := t.w.Header()
	for k := range h {
		delete(h, k)
	}
	h["Server"] = []string{"CloudFront"}
	h["Content-Type"] = []string{"text/html"}
	h["Content-Length"] = []string{strconv.Itoa(len(page))}
	t.setEdgeHeaders(xCacheError)
	t.writeHeader(status)
	if t.r.Method != http.MethodHead {
		t.write(page)
	}
}

func (t *txn) writeHeader(status int) {
	if t.wrote {
		return
	}
	t.wrote, t.status = true, status
	if t.serveCustomError(status) {
		return
	}
	t.addAltSvc()
	if t.beh != nil && t.beh.rhp != nil {
		t.applyResponsePolicy(t.w.Header())
	}
	t.headerBytes = responseHeaderBytes(status, t.w.Header())
	t.w.WriteHeader(status)
	t.firstByte = t.e.now()
}

// write sends body bytes; it reports false when the viewer went away.
func (t *txn) write(p []byte) bool {
	n, err := t.w.Write(p)
	t.bodyBytes += int64(n)
	return err == nil
}

// appendCacheKey appends the cache key of cloudfront.md §4.5 to dst: the
// path (after the default root object), the behavior, the query strings,
// headers and cookies the cache policy selects, the normalised
// Accept-Encoding when gzip/br is on, and the method for OPTIONS. Host is
// in the key only when selected.
func (t *txn) appendCacheKey(dst []byte, p string) []byte {
	b := t.beh
	r := t.r
	dst = append(dst, p...)
	dst = append(dst, 0)
	dst = strconv.AppendInt(dst, int64(b.index), 10)
	if b.cp.query.mode != selectNone {
		dst = append(dst, "\x00q="...)
		dst = append(dst, selectQuery(r.URL.RawQuery, b.cp.query)...)
	}
	if b.cp.headers.mode == selectList {
		for _, name := range b.cp.headers.names {
			dst = append(dst, "\x00h="...)
			dst = append(dst, name...)
			dst = append(dst, ':')
			if name == "Host" {
				dst = append(dst, t.host...)
			} else if v, ok := t.cloudFrontHeaderValue(name); ok {
				dst = append(dst, v...) // generated by the edge, never the viewer's (§3.4)
			} else {
				dst = append(dst, strings.Join(r.Header.Values(name), ",")...)
			}
		}
	}
	if b.cp.cookies.mode != selectNone {
		dst = append(dst, "\x00c="...)
		dst = append(dst, selectCookies(r, b.cp.cookies)...)
	}
	if b.normalizeAE {
		if ae := normalizeAcceptEncoding(r.Header["Accept-Encoding"], b.cp.gzip, b.cp.br, r.ProtoMajor, r.ProtoMinor); ae != "" {
			dst = append(dst, "\x00ae="...)
			dst = append(dst, ae...)
		}
	}
	if r.Method == http.MethodOptions {
		dst = append(dst, "\x00OPTIONS"...)
	}
	return dst
}

// selectQuery keeps the selected query parameters in their order (only &
// separates parameters, cloudfront.md §4.5).
func selectQuery(raw string, s selection) string {
	switch s.mode {
	case selectNone:
		return ""
	case selectAll:
		return raw
	}
	var out []string
	for part := range strings.SplitSeq(raw, "&") {
		name, _, _ := strings.Cut(part, "=")
		if n, err := url.QueryUnescape(name); err == nil {
			name = n
		}
		if s.has(name) {
			out = append(out, part)
		}
	}
	return strings.Join(out, "&")
}

// selectCookies returns the selected cookies as "a=1; b=2", sorted by name
// (cloudfront.md §3.4).
func selectCookies(r *http.Request, s selection) string {
	if s.mode == selectNone {
		return ""
	}
	var kept []*http.Cookie
	for _, c := range r.Cookies() {
		if s.hasWild(c.Name) {
			kept = append(kept, c)
		}
	}
	slices.SortStableFunc(kept, func(a, b *http.Cookie) int { return strings.Compare(a.Name, b.Name) })
	parts := make([]string, len(kept))
	for i, c := range kept {
		parts[i] = c.Name + "=" + c.Value
	}
	return strings.Join(parts, "; ")
}

// serveHit answers from a fresh cache entry (cloudfront.md §3.10, §4.6).
func (t *txn) serveHit(ent *cache.Entry) { t.serveCached(ent, xCacheHit, resultHit) }

// notModified implements the viewer conditional request of cloudfront.md
// §4.6 on a hit: If-None-Match (weak comparison) wins over If-Modified-Since.
func notModified(r *http.Request, h http.Header) bool {
	if inm := r.Header.Get("If-None-Match"); inm != "" {
		etag := h.Get("Etag")
		if etag == "" {
			return false
		}
		for cand := range strings.SplitSeq(inm, ",") {
			cand = strings.TrimSpace(cand)
			if cand == "*" || strings.TrimPrefix(cand, "W/") == strings.TrimPrefix(etag, "W/") {
				return true
			}
		}
		return false
	}
	ims := r.Header.Get("If-Modified-Since")
	lm := h.Get("Last-Modified")
	if ims == "" || lm == "" {
		return false
	}
	since, err1 := http.ParseTime(ims)
	mod, err2 := http.ParseTime(lm)
	return err1 == nil && err2 == nil && !mod.After(since)
}

func (t *txn) viewerGoneMidBody() {
	t.result, t.detailed = resultError, ReasonViewerGone.DetailedResultType()
}

// fetch forwards a miss to the origin and relays (and maybe caches) the
// response.
func (t *txn) fetch(p, key string, cacheable bool) {
	t.needsOrigin()
	o := t.beh.origin
	ctx, release := t.originContext()
	defer release()
	req, err := t.originRequest(ctx, o, p)
	if err != nil {
		t.e.logger.Error("edge: build origin request", "err", err, "request_id", t.requestID())
		t.fail(ReasonOriginInvalidResponse, err)
		return
	}
	t.addValidators(req)
	resp, err := t.roundTripFailover(ctx, req, func(o *origin) (*http.Request, error) {
		req, err := t.originRequest(ctx, o, p)
		if err == nil {
			t.addValidators(req)
		}
		return req, err
	})
	if err != nil {
		t.originFailed(err, key, cacheable)
		return
	}
	defer resp.Body.Close()
	t.relay(resp, key, cacheable)
}

// originFailed turns a failed fetch into CloudFront's error response,
// error-caching a generated 502/504 like an origin 5xx (cloudfront.md §4.4).
func (t *txn) originFailed(err error, key string, cacheable bool) {
	reason := Classify(err)
	if t.r.Context().Err() != nil {
		reason = ReasonViewerGone
	}
	if t.viewerHungUpRequest() {
		reason = ReasonViewerHungUpRequest
	}
	t.e.logger.Info("edge: origin fetch failed", "reason", reason.String(),
		"detailed_result_type", reason.DetailedResultType(), "status", reason.Status(),
		"distribution", t.d.m.DomainName, "origin", t.beh.origin.m.DomainName,
		"request_id", t.requestID(), "err", err)
	if reason == ReasonViewerGone || reason == ReasonViewerHungUpRequest {
		t.fail(reason, err)
		return
	}
	if t.serveStaleOnError(reason.Status()) {
		return
	}
	t.result, t.respResult, t.detailed = resultError, resultError, reason.DetailedResultType()
	page := errorPage(make([]byte, 0, 1100), reason.Status(), reason.Message(), t.requestID())
	if cacheable && t.r.Method == http.MethodGet {
		if secs, ok := errorTTL(reason.Status(), cacheControl{sMaxAge: -1, maxAge: -1, expires: -1}, t.beh.cp.maxTTL, t.beh.noCache, t.errorCachingMinTTL(reason.Status())); ok {
			h := http.Header{"Server": {"CloudFront"}, "Content-Type": {"text/html"}}
			t.store(reason.Status(), h, page, secs, true, nil)
		}
	}
	t.servePage(reason.Status(), page)
}

// hopByHop are response headers never relayed to viewers (cloudfront.md §3.7).
var hopByHop = map[string]bool{
	"Connection": true, "Keep-Alive": true, "Proxy-Connection": true, "Proxy-Authenticate": true,
	"Te": true, "Trailer": true, "Transfer-Encoding": true, "Upgrade": true,
	"Via": true, "X-Cache": true, "X-Amz-Cf-Pop": true, "X-Amz-Cf-Id": true,
}

// viewerResponseHeader implements cloudfront.md §3.7: the origin headers a
// viewer gets (hop-by-hop, Trailer and Upgrade removed; Set-Cookie only when
// cookies are forwarded; CloudFront's own headers replaced).
func (t *txn) viewerResponseHeader(resp *http.Response) http.Header {
	out := make(http.Header, len(resp.Header))
	var connTokens []string
	for _, v := range resp.Header["Connection"] {
		for tok := range strings.SplitSeq(v, ",") {
			connTokens = append(connTokens, http.CanonicalHeaderKey(strings.TrimSpace(tok)))
		}
	}
	for k, v := range resp.Header {
		if hopByHop[k] || slices.Contains(connTokens, k) {
			continue
		}
		if k == "Set-Cookie" && t.beh.fwdCookies.mode == selectNone {
			continue
		}
		out[k] = v
	}
	if resp.ContentLength >= 0 {
		out["Content-Length"] = []string{strconv.FormatInt(resp.ContentLength, 10)}
	} else {
		delete(out, "Content-Length")
	}
	return out
}

// responseTTL decides whether and how long an origin response is cached:
// error statuses by errorTTL (§4.4), 2xx/3xx (but 206 and 304) by ttl (§4.2).
func (t *txn) responseTTL(resp *http.Response) (int64, bool) {
	cc := parseCacheControl(resp.Header, t.start)
	b := t.beh
	if isErrorStatus(resp.StatusCode) {
		return errorTTL(resp.StatusCode, cc, b.cp.maxTTL, b.noCache, t.errorCachingMinTTL(resp.StatusCode))
	}
	if resp.StatusCode < 200 || resp.StatusCode == http.StatusPartialContent || resp.StatusCode == http.StatusNotModified {
		return 0, false
	}
	secs := ttl(cc, b.cp.minTTL, b.cp.defTTL, b.cp.maxTTL)
	return secs, secs > 0
}

// originBodyFailed records an origin failure after the response started:
// the viewer's response is cut short and the log shows Error with the
// reason's detailed type over the started result (cloudfront.md §1.6).
func (t *txn) originBodyFailed(err error) {
	if t.r.Context().Err() != nil {
		t.viewerGoneMidBody()
		return
	}
	reason := ReasonOriginClosed
	if errors.Is(err, errReadTimeout) || errors.Is(context.Cause(t.r.Context()), errReadTimeout) {
		reason = ReasonOriginReadTimeout
	}
	var fe *FetchError
	if errors.As(err, &fe) {
		reason = fe.Reason
	}
	if errors.Is(err, context.Canceled) {
		reason = ReasonOriginReadTimeout // only the read watch cancels the attempt context
	}
	t.e.logger.Info("edge: origin response cut short", "reason", reason.String(),
		"distribution", t.d.m.DomainName, "origin", t.beh.origin.m.DomainName,
		"request_id", t.requestID(), "err", err)
	t.result, t.detailed = resultError, reason.DetailedResultType()
	// Send what the viewer has been promised so far, then abort the
	// response so a truncated body is not mistaken for a complete one.
	_ = http.NewResponseController(t.w).Flush()
	panic(http.ErrAbortHandler)
}

// countingReader counts request body bytes read from the viewer. Its reads
// may run on another goroutine than the transaction's (http.Transport's
// write loop sends a request body, and may still be at it when the
// response is logged), so what it counts is read through count and
// readErr.
type countingReader struct {
	rc  io.ReadCloser
	n   atomic.Int64
	mu  sync.Mutex
	err error // the read error that was not EOF, if any
}

func (c *countingReader) Read(p []byte) (int, error) {
	n, err := c.rc.Read(p)
	c.n.Add(int64(n))
	if err != nil && err != io.EOF {
		c.mu.Lock()
		c.err = err
		c.mu.Unlock()
	}
	return n, err
}

// count is how many body bytes were read so far.
func (c *countingReader) count() int64 { return c.n.Load() }

// readErr is the read error that was not EOF, if any.
func (c *countingReader) readErr() error {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.err
}

func (c *countingReader) Close() error { return c.rc.Close() }
