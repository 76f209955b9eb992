package edge

import (
	"bytes"
	"context"
	"errors"
	"io"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/kumo-dev/kumo/internal/cache"
)

// RefreshHit (cloudfront.md §1.6, §3.10, §4.6).
const (
	xCacheRefreshHit = "RefreshHit from cloudfront"
	resultRefreshHit = "RefreshHit"
)

// resultStale is the result type of a stale object served without the
// origin's confirmation (stale-while-revalidate, or the origin failed,
// cloudfront.md §4.3). UNCONFIRMED: the reference does not say how
// CloudFront logs these; it serves the object from its cache, so Hit.
const resultStale = resultHit

// cacheTxn is a request's cache state.
type cacheTxn struct {
	// key is the primary cache key ("" when the request is not cacheable);
	// storeKey is where a response is stored: key, or the variant key when
	// the stored response varies (§3.7).
	key, storeKey string
	// stale is the expired entry the request may revalidate, or serve when
	// the origin fails (§4.3, §4.6).
	stale *cache.Entry
	// revalidating: the origin request carries stale's validators.
	revalidating bool
	// flight is the collapsed fetch this request leads (§4.8).
	flight *flight
	// background: a stale-while-revalidate refresh with no viewer.
	background bool
	// originAge is the origin response's Age in seconds (originAge).
	originAge int64
}

// lookup implements the cache lookup of cloudfront.md §8 step "lookup": a
// fresh object is a Hit; a stale one within stale-while-revalidate is served
// and refreshed in the background (§4.3); otherwise the origin is asked,
// conditionally when a stale object can be revalidated (§4.6), with
// concurrent misses collapsed (§4.8).
func (t *txn) lookup(p string, cacheable bool) {
	if !cacheable {
		t.fetch(p, "", false)
		return
	}
	kb := t.appendCacheKey(t.keyBuf[:0], p)
	primary, stored, ok := t.d.store.Lookup(kb)
	if ok {
		t.c.key = stored // the entry's own string: a hit makes none
	} else {
		t.c.key = string(kb)
	}
	if t.serveFromCache(p, primary, ok) || t.serveCachedRange() {
		return
	}
	if t.collapse(p) {
		return
	}
	t.fetch(p, t.c.key, true)
}

// serveFromCache answers from the cache when it can and reports whether it
// did; otherwise it leaves the stale entry (if any) in t.c.stale. primary
// is the entry under the primary key (found: there is one).
func (t *txn) serveFromCache(p string, primary *cache.Entry, found bool) bool {
	ent, ok := t.variantOf(primary, found)
	if !ok {
		return false
	}
	switch t.freshness(ent) {
	case stateFresh:
		t.serveHit(ent)
		return true
	case stateStaleWhileRevalidate:
		t.refreshInBackground(p, ent)
		t.serveCached(ent, xCacheHit, resultStale)
		return true
	}
	t.c.stale = ent
	return false
}

// getVariant looks up the primary key and, when the stored response varies
// on request headers, the variant for this request (§3.7).
func (t *txn) getVariant() (*cache.Entry, bool) {
	ent, ok := t.d.store.Get(t.c.key)
	return t.variantOf(ent, ok)
}

// variantOf is getVariant for the primary entry already looked up (ok
// when there is one).
func (t *txn) variantOf(ent *cache.Entry, ok bool) (*cache.Entry, bool) {
	t.c.storeKey = t.c.key
	if !ok || ent.VaryNames == nil {
		return ent, ok
	}
	t.c.storeKey = t.variantKey(ent.VaryNames)
	return t.d.store.Get(t.c.storeKey)
}

// variantKey is the key of this request's variant of a response that
// varies on names: the primary key plus the request's values of those
// headers (Accept-Encoding normalised when the policy normalises it).
func (t *txn) variantKey(names []string) string {
	var sb strings.Builder
	sb.WriteString(t.c.key)
	for _, n := range names {
		sb.WriteString("\x00v=")
		sb.WriteString(n)
		sb.WriteByte(':')
		if n == "Accept-Encoding" && t.beh.normalizeAE {
			sb.WriteString(normalizeAcceptEncoding(t.r.Header.Values(n), t.beh.cp.gzip, t.beh.cp.br, t.r.ProtoMajor, t.r.ProtoMinor))
			continue
		}
		for i, v := range t.r.Header.Values(n) {
			if i > 0 {
				sb.WriteByte(',')
			}
			sb.WriteString(strings.TrimSpace(v))
		}
	}
	return sb.String()
}

// freshState is what the cache may do with a stored entry.
type freshState int

const (
	stateFresh freshState = iota
	stateStaleWhileRevalidate
	stateStale
)

// freshness implements the freshness rules of cloudfront.md §4.2-§4.3: an
// entry is fresh within its TTL, or while it is held after an origin error;
// after that it may be served for min(stale-while-revalidate, MaxTTL) while
// it is refreshed.
func (t *txn) freshness(ent *cache.Entry) freshState {
	now := t.start
	if ent.Fresh(now) || now.Before(ent.HeldUntil) {
		return stateFresh
	}
	if ent.Error || t.r.Method != http.MethodGet && t.r.Method != http.MethodHead {
		return stateStale
	}
	cc := parseCacheControl(ent.Header, ent.Stored)
	if cc.staleWhileRevalidate > 0 && !cc.mustRevalidate {
		window := time.Duration(min(cc.staleWhileRevalidate, t.beh.cp.maxTTL)) * time.Second
		if now.Before(ent.Expires().Add(window)) {
			return stateStaleWhileRevalidate
		}
	}
	return stateStale
}

// errorCachingMinTTL is the ErrorCachingMinTTL for an error status
// (cloudfront.md §4.4, §5.5). Hook for CustomErrorResponses: a distribution
// whose custom error response for status sets ErrorCachingMinTTL overrides
// the 10 s default here.
func (t *txn) errorCachingMinTTL(status int) int64 {
	if secs, ok := t.d.customErrorCachingMinTTL(status); ok {
		return secs
	}
	return defaultErrorCachingMinTTL
}

// conditionalAllowed implements the "not sent" rules of cloudfront.md §4.6:
// no revalidation when the behavior forwards cookies, nor for Vary: * with
// MinTTL 0, nor for an error response or one without a validator.
func (t *txn) conditionalAllowed(ent *cache.Entry) bool {
	if ent.Error || ent.Status != http.StatusOK || t.beh.fwdCookies.mode != selectNone {
		return false
	}
	if t.beh.cp.minTTL == 0 && varyStar(ent.Header) {
		return false
	}
	return len(ent.Header["Etag"]) > 0 || len(ent.Header["Last-Modified"]) > 0
}

// addValidators implements the revalidation request of cloudfront.md §4.6:
// an expired object's ETag and Last-Modified go to the origin as
// If-None-Match and If-Modified-Since (replacing the viewer's own
// conditional headers, which are answered from the refreshed object).
func (t *txn) addValidators(req *http.Request) {
	ent := t.c.stale
	if ent == nil || !t.conditionalAllowed(ent) {
		return
	}
	for _, h := range []string{"If-None-Match", "If-Modified-Since", "If-Match", "If-Unmodified-Since", "If-Range", "Range"} {
		delete(req.Header, h)
	}
	if v := ent.Header["Etag"]; len(v) > 0 {
		req.Header["If-None-Match"] = []string{v[0]}
	}
	if v := ent.Header["Last-Modified"]; len(v) > 0 {
		req.Header["If-Modified-Since"] = []string{v[0]}
	}
	t.c.revalidating = true
}

// refreshed implements the origin-304 case of cloudfront.md §4.6: the cached
// object's headers are updated from the 304 (RFC 9111 §4.3.4), its age
// restarts, and the viewer is answered from it as a RefreshHit.
func (t *txn) refreshed(resp *http.Response) {
	_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, 64<<10))
	old := t.c.stale
	h := old.Header.Clone()
	upd := t.viewerResponseHeader(resp)
	for k, v := range upd {
		switch k {
		case "Content-Length", "Content-Encoding", "Content-Range", "Transfer-Encoding", "Vary", "Content-Md5", "Age", "Etag":
			// These describe the stored body, which the 304 confirmed
			// (RFC 9111 §3.2); a compressed object keeps its weakened
			// ETag (§4.11: it keeps its form on a 304 refresh).
			continue
		}
		h[k] = v
	}
	cc := parseCacheControl(h, t.start)
	secs := ttl(cc, t.beh.cp.minTTL, t.beh.cp.defTTL, t.beh.cp.maxTTL)
	h["Content-Length"] = []string{strconv.Itoa(len(old.Body))}
	ent := &cache.Entry{Status: old.Status, Header: h, Body: old.Body, Stored: t.e.now(), TTL: time.Duration(secs) * time.Second}
	if secs > 0 {
		t.put(t.c.storeKey, ent)
	} else {
		t.d.store.Delete(t.c.storeKey)
	}
	t.serveCached(ent, xCacheRefreshHit, resultRefreshHit)
}

// serveStaleOnError implements the stale-on-error rules of cloudfront.md
// §4.3 for an origin 5xx or a failed fetch (status is the 5xx the viewer
// would get): a stale object is served instead, unless stale-if-error=0,
// its stale-if-error window (bounded by MaxTTL) is over, or it must be
// revalidated (must-revalidate, RFC 9111 §4.2.4). Without stale-if-error,
// the object is then served for ErrorCachingMinTTL before the origin is
// asked again. It reports whether it answered.
func (t *txn) serveStaleOnError(status int) bool {
	ent := t.c.stale
	if ent == nil || status < 500 || ent.Error || t.r.Method != http.MethodGet && t.r.Method != http.MethodHead {
		return false
	}
	cc := parseCacheControl(ent.Header, ent.Stored)
	if cc.mustRevalidate || cc.staleIfError == 0 {
		return false
	}
	now := t.e.now()
	hold := time.Duration(t.errorCachingMinTTL(status)) * time.Second
	if cc.staleIfError > 0 {
		limit := ent.Expires().Add(time.Duration(min(cc.staleIfError, t.beh.cp.maxTTL)) * time.Second)
		if !now.Before(limit) {
			return false
		}
		hold = min(hold, limit.Sub(now))
	}
	held := ent.Clone()
	held.HeldUntil = now.Add(hold)
	t.put(t.c.storeKey, held)
	t.e.logger.Info("edge: origin failed, serving stale object", "status", status,
		"distribution", t.d.m.DomainName, "request_id", t.requestID(), "held_until", held.HeldUntil)
	t.serveCached(held, xCacheHit, resultStale)
	return true
}

// refreshInBackground implements the asynchronous refresh of
// stale-while-revalidate (cloudfront.md §4.3): one origin fetch per key,
// detached from the viewer, conditional when it can be; it is not logged.
func (t *txn) refreshInBackground(p string, ent *cache.Entry) {
	fl, leader := t.e.flights.lead(t.d, t.c.key)
	if !leader {
		return
	}
	r := t.r.Clone(context.WithoutCancel(t.r.Context()))
	r.Method = http.MethodGet
	for _, h := range []string{"Range", "If-None-Match", "If-Modified-Since", "If-Match", "If-Unmodified-Since", "If-Range"} {
		r.Header.Del(h)
	}
	bt := &txn{e: t.e, w: &discardResponse{h: http.Header{}}, r: r, https: t.https, start: t.start,
		host: t.host, d: t.d, beh: t.beh}
	t.e.newRequestID(&bt.ridBuf)
	bt.c = cacheTxn{key: t.c.key, storeKey: t.c.storeKey, stale: ent, flight: fl, background: true}
	key := t.c.key
	go func() {
		defer bt.e.flights.land(bt.d, key, fl)
		defer func() {
			if v := recover(); v != nil && v != http.ErrAbortHandler {
				panic(v)
			}
		}()
		bt.fetch(p, bt.c.key, true)
	}()
}

// discardResponse is the ResponseWriter of a background refresh.
type discardResponse struct{ h http.Header }

func (d *discardResponse) Header() http.Header         { return d.h }
func (d *discardResponse) WriteHeader(int)             {}
func (d *discardResponse) Write(p []byte) (int, error) { return len(p), nil }

// varyStar reports whether h has Vary: *.
func varyStar(h http.Header) bool {
	for _, v := range h["Vary"] {
		for tok := range strings.SplitSeq(v, ",") {
			if strings.TrimSpace(tok) == "*" {
				return true
			}
		}
	}
	return false
}

// varyHeader implements the Vary rule of cloudfront.md §3.7: the viewer
// gets Vary only for Accept-Encoding, Cookie and forwarded headers (and *);
// the others are removed. It rewrites h and returns the header names the
// cached object varies on (not *: with MinTTL > 0 Vary: * is handled like
// any object, and with MinTTL 0 it is not served from the cache).
func (t *txn) varyHeader(h http.Header) []string {
	vs, ok := h["Vary"]
	if !ok {
		return nil
	}
	var kept, names []string
	for _, v := range vs {
		for tok := range strings.SplitSeq(v, ",") {
			tok = strings.TrimSpace(tok)
			if tok == "" {
				continue
			}
			if tok == "*" {
				kept = append(kept, tok)
				continue
			}
			name := http.CanonicalHeaderKey(tok)
			if name == "Accept-Encoding" || name == "Cookie" || t.beh.fwdHeaders.has(name) {
				kept = append(kept, tok)
				if !slices.Contains(names, name) {
					names = append(names, name)
				}
			}
		}
	}
	if len(kept) == 0 {
		delete(h, "Vary")
	} else {
		h["Vary"] = []string{strings.Join(kept, ", ")}
	}
	slices.Sort(names)
	return names
}

// storedHeader implements the Set-Cookie rule of cloudfront.md §3.7: the
// headers cached with an object are the viewer's, Set-Cookie included
// (replayed on hits), except the fields of a qualified no-cache
// (no-cache="Set-Cookie").
func storedHeader(h http.Header, cc cacheControl) http.Header {
	if len(cc.noCacheFields) == 0 {
		return h
	}
	out := h.Clone()
	for _, f := range cc.noCacheFields {
		delete(out, f)
	}
	return out
}

// put stores an entry, logging (not failing) when it cannot be stored.
func (t *txn) put(key string, ent *cache.Entry) {
	if err := t.d.store.Put(key, ent); err != nil {
		t.e.logger.Debug("edge: not cached", "request_id", t.requestID(), "err", err)
	}
}

// store caches a response under the request's key: under its variant key
// with a variant index at the primary key when it varies (§3.7).
func (t *txn) store(status int, h http.Header, body []byte, secs int64, isErr bool, vary []string) {
	now := t.e.now().Add(-time.Duration(t.c.originAge) * time.Second)
	ttl := time.Duration(secs) * time.Second
	if !now.Add(ttl).After(t.e.now()) {
		return // already stale when it arrived
	}
	key := t.c.key
	if len(vary) > 0 {
		idx := &cache.Entry{Header: http.Header{}, Stored: now, TTL: ttl, VaryNames: vary}
		t.put(key, idx)
		key = t.variantKey(vary)
	}
	t.c.storeKey = key
	h["Content-Length"] = []string{strconv.Itoa(len(body))} // hits need not format it
	t.put(key, &cache.Entry{Status: status, Header: h, Body: body, Stored: now, TTL: ttl, Error: isErr})
}

// errViewerGone stops a relay whose viewer went away.
var errViewerGone = errors.New("viewer went away")

// relaySink receives the response body (after compression): it writes it
// to the viewer and keeps a copy for the cache, up to max bytes.
type relaySink struct {
	t    *txn
	buf  bytes.Buffer
	keep bool
	max  int64
	gone bool
}

func (s *relaySink) Write(p []byte) (int, error) {
	if s.keep {
		if int64(s.buf.Len()+len(p)) > s.max {
			s.keep = false
			s.buf = bytes.Buffer{}
		} else {
			s.buf.Write(p)
		}
	}
	if !s.gone && s.t.r.Method != http.MethodHead {
		if !s.t.write(p) {
			s.gone = true
			s.t.viewerGoneMidBody()
		}
	}
	if s.gone && !(s.keep && s.t.c.flight.hasWaiters()) {
		return 0, errViewerGone
	}
	return len(p), nil
}

// relay streams the origin response to the viewer, caching it when
// cacheable and complete (an aborted or truncated response is never cached,
// cloudfront.md §4.10). An origin 304 to a revalidation refreshes the stale
// object (§4.6); an origin 5xx may be replaced by the stale object (§4.3).
func (t *txn) relay(resp *http.Response, key string, cacheable bool) {
	_ = key
	if t.c.revalidating && resp.StatusCode == http.StatusNotModified {
		t.refreshed(resp)
		return
	}
	if !originContentRangeOK(resp) {
		t.e.logger.Info("edge: origin Content-Length disagrees with Content-Range", "content_range", resp.Header.Get("Content-Range"),
			"content_length", resp.ContentLength, "distribution", t.d.m.DomainName, "request_id", t.requestID())
		t.fail(ReasonOriginContentRange, nil)
		return
	}
	if resp.StatusCode >= 500 && t.serveStaleOnError(resp.StatusCode) {
		_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, 64<<10))
		return
	}
	h := t.viewerResponseHeader(resp)
	vary := t.varyHeader(h)
	t.c.originAge = originAge(resp.Header)
	isErr := isErrorStatus(resp.StatusCode)
	var secs int64
	store := false
	cc := parseCacheControl(resp.Header, t.start)
	if cacheable && t.r.Method == http.MethodGet {
		secs, store = t.responseTTL(resp)
		if resp.StatusCode == http.StatusPartialContent {
			secs, store = t.rangeTTL(resp, cc)
		}
		if t.beh.cp.minTTL == 0 && varyStar(h) {
			store = false // cloudfront.md §3.7: every request goes to the origin
		}
	}
	enc := t.compression(resp, h, secs)
	maxBody := t.d.store.MaxEntryBytes()
	if enc == "" && resp.ContentLength > maxBody {
		store = false
	}
	if !store && t.c.stale != nil && resp.StatusCode < 300 && resp.StatusCode != http.StatusPartialContent {
		t.d.store.Delete(t.c.storeKey) // replaced by an uncacheable response
	}
	wh := t.w.Header()
	for k, v := range h {
		wh[k] = v
	}
	if isErr {
		t.setEdgeHeaders(xCacheError)
		t.result, t.respResult, t.detailed = resultError, resultError, resultError
	} else {
		t.setEdgeHeaders(xCacheMiss)
		t.result, t.respResult, t.detailed = resultMiss, resultMiss, resultMiss
	}
	t.writeHeader(resp.StatusCode)

	sink := &relaySink{t: t, keep: store, max: maxBody}
	if store && resp.ContentLength > 0 && enc == "" {
		sink.buf.Grow(int(resp.ContentLength))
	}
	var dst io.Writer = sink
	var encw io.WriteCloser
	if enc != "" {
		encw = newEncoder(enc, sink)
		dst = encw
	}
	bp := t.e.bufs.Get().(*[]byte)
	defer t.e.bufs.Put(bp)
	buf := *bp
	for {
		n, rerr := resp.Body.Read(buf)
		if n > 0 {
			if _, err := dst.Write(buf[:n]); err != nil {
				return // viewer gone, nobody waiting: not cached (§4.10)
			}
		}
		if rerr == io.EOF {
			break
		}
		if rerr != nil {
			if sink.gone {
				return
			}
			t.originBodyFailed(rerr)
			return
		}
	}
	if encw != nil {
		if err := encw.Close(); err != nil {
			return
		}
	}
	if sink.keep {
		body := sink.buf.Bytes()
		if cap(body) > len(body)+len(body)/4 {
			// A body of unknown length grew by doubling: keep only what
			// the budget accounts for.
			body = bytes.Clone(body)
		}
		t.store(resp.StatusCode, storedHeader(h, cc), body, secs, isErr, vary)
	}
}

// originAge implements the age rule kumo follows (RFC 9111 §4.2.3, as the
// reference leaves origin-supplied Age UNCONFIRMED for CloudFront): an
// origin response that is already Age seconds old is stored as if it had
// been stored Age seconds ago, so it expires Age seconds sooner and hits
// report Age including it. An Age that is present but not one non-negative
// integer (two field lines, a list, a sign, a fraction, parameters) makes
// the response stale on arrival (RFC 9111 §5.1 "SHOULD consider stale").
func originAge(h http.Header) int64 {
	vs := h["Age"]
	if len(vs) == 0 {
		return 0
	}
	v := strings.TrimSpace(vs[0])
	n, err := strconv.ParseInt(v, 10, 64)
	if len(vs) > 1 || err != nil || n < 0 || v == "" || v[0] < '0' || v[0] > '9' {
		return maxOriginAge
	}
	return min(n, maxOriginAge)
}

// viewerHungUpRequest reports whether the viewer stopped while sending its
// request body (cloudfront.md §1.6 ClientHungUpRequest): reading it failed,
// or it ended before its Content-Length.
func (t *txn) viewerHungUpRequest() bool {
	b := t.reqBody
	if b == nil {
		return false
	}
	return b.readErr() != nil || (t.r.ContentLength > 0 && b.count() < t.r.ContentLength && t.r.Context().Err() != nil)
}

// originContentRangeOK implements the OriginContentRangeLengthError check
// (cloudfront.md §1.6): an origin 206 whose Content-Length is not the
// length of its Content-Range is refused.
func originContentRangeOK(resp *http.Response) bool {
	if resp.StatusCode != http.StatusPartialContent || resp.ContentLength < 0 {
		return true
	}
	cr := resp.Header.Get("Content-Range")
	if cr == "" {
		return true // multipart/byteranges
	}
	start, end := parseContentRange(cr)
	return start < 0 || end-start+1 == resp.ContentLength
}
