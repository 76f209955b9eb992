package edge

import (
	"crypto/rand"
	"encoding/hex"
	"net/http"
	"strconv"
	"strings"

	"github.com/kumo-dev/kumo/internal/cache"
)

// serveCached answers from a cache entry with the given X-Cache value and
// result type (cloudfront.md §3.10): a viewer conditional request that the
// object satisfies gets 304 (§4.6), a Range request on a whole object gets
// 206 (§4.7), anything else the object.
func (t *txn) serveCached(ent *cache.Entry, xCache, result string) {
	if t.serveReady(ent, xCache) {
		return
	}
	h := t.w.Header()
	for k, v := range ent.Header {
		h[k] = v
	}
	if ent.Error {
		xCache, result = xCacheError, resultError
	}
	t.setEdgeHeaders(xCache)
	h["Age"] = t.e.hv.ageValue(ageSeconds(ent.Stored, t.start))
	t.result, t.respResult, t.detailed = result, result, result
	if !ent.Error && ent.Status == http.StatusOK {
		if notModified(t.r, ent.Header) {
			delete(h, "Content-Length")
			delete(h, "Content-Type")
			t.writeHeader(http.StatusNotModified)
			return
		}
		if rh := t.r.Header.Get("Range"); rh != "" && t.r.Method == http.MethodGet && ifRangeMatches(t.r, ent.Header) {
			if t.serveRange(ent, rh) {
				return
			}
		}
	}
	if _, ok := ent.Header["Content-Length"]; !ok { // set by txn.store
		h["Content-Length"] = []string{strconv.Itoa(len(ent.Body))}
	}
	t.writeHeader(ent.Status)
	if t.r.Method != http.MethodHead && !t.write(ent.Body) {
		t.viewerGoneMidBody()
	}
}

// byteRange is one satisfiable range [start, end] of an object.
type byteRange struct{ start, end int64 }

// rangeOutcome is how a Range header applies to an object.
type rangeOutcome int

const (
	// rangeIgnore: malformed, overlapping or out of order — the whole
	// object with 200 (cloudfront.md §4.7).
	rangeIgnore rangeOutcome = iota
	// rangeSatisfiable: one or more ranges to send with 206.
	rangeSatisfiable
	// rangeUnsatisfiable: no range overlaps the object — 416.
	rangeUnsatisfiable
)

// parseRange implements the range rules of cloudfront.md §4.7 for an object
// of size bytes (RFC 9110 §14.1.2 syntax): "bytes=a-b", "a-" and "-n",
// comma-separated. Multiple ranges must be ascending and not overlap;
// otherwise, or when the header is malformed, the whole object is sent.
func parseRange(v string, size int64) ([]byteRange, rangeOutcome) {
	spec, ok := strings.CutPrefix(strings.TrimSpace(v), "bytes=")
	if !ok {
		return nil, rangeIgnore
	}
	var out []byteRange
	unsatisfiable := 0
	n := 0
	for part := range strings.SplitSeq(spec, ",") {
		part = strings.TrimSpace(part)
		if part == "" {
			continue
		}
		n++
		a, b, ok := strings.Cut(part, "-")
		if !ok {
			return nil, rangeIgnore
		}
		a, b = strings.TrimSpace(a), strings.TrimSpace(b)
		var r byteRange
		switch {
		case a == "":
			suffix, err := strconv.ParseInt(b, 10, 64)
			if err != nil || suffix < 0 {
				return nil, rangeIgnore
			}
			if suffix == 0 || size == 0 {
				unsatisfiable++
				continue
			}
			r = byteRange{max(0, size-suffix), size - 1}
		default:
			start, err := strconv.ParseInt(a, 10, 64)
			if err != nil || start < 0 {
				return nil, rangeIgnore
			}
			end := size - 1
			if b != "" {
				if end, err = strconv.ParseInt(b, 10, 64); err != nil || end < start {
					return nil, rangeIgnore
				}
				end = min(end, size-1)
			}
			if start >= size {
				unsatisfiable++
				continue
			}
			r = byteRange{start, end}
		}
		if len(out) > 0 && r.start <= out[len(out)-1].end {
			return nil, rangeIgnore // overlapping or not ascending
		}
		out = append(out, r)
	}
	switch {
	case n == 0:
		return nil, rangeIgnore
	case len(out) == 0:
		return nil, rangeUnsatisfiable
	}
	return out, rangeSatisfiable
}

// ifRangeMatches implements If-Range (RFC 9110 §13.1.5): the range applies
// only if the validator (a strong ETag, or the exact Last-Modified date)
// matches the cached object; without If-Range it always applies.
func ifRangeMatches(r *http.Request, h http.Header) bool {
	ir := r.Header.Get("If-Range")
	if ir == "" {
		return true
	}
	if strings.HasPrefix(ir, `"`) {
		etag := h.Get("Etag")
		return etag != "" && !strings.HasPrefix(etag, "W/") && etag == ir
	}
	return ir == h.Get("Last-Modified")
}

// serveRange implements "206 from the cached whole object" (cloudfront.md
// §4.7): one range as a 206 with Content-Range, several as
// multipart/byteranges; none satisfiable is 416. It reports false when the
// whole object must be sent instead.
func (t *txn) serveRange(ent *cache.Entry, spec string) bool {
	size := int64(len(ent.Body))
	ranges, outcome := parseRange(spec, size)
	h := t.w.Header()
	total := strconv.FormatInt(size, 10)
	switch outcome {
	case rangeIgnore:
		return false
	case rangeUnsatisfiable:
		// UNCONFIRMED: a 416 from the cache is logged Error (a 4xx).
		for _, k := range []string{"Content-Type", "Etag", "Last-Modified", "Content-Encoding"} {
			delete(h, k)
		}
		h["Content-Range"] = []string{"bytes */" + total}
		h["Content-Length"] = []string{"0"}
		t.result, t.respResult, t.detailed = resultError, resultError, resultError
		t.writeHeader(http.StatusRequestedRangeNotSatisfiable)
		return true
	}
	if len(ranges) == 1 {
		r := ranges[0]
		h["Content-Range"] = []string{"bytes " + strconv.FormatInt(r.start, 10) + "-" + strconv.FormatInt(r.end, 10) + "/" + total}
		h["Content-Length"] = []string{strconv.FormatInt(r.end-r.start+1, 10)}
		t.writeHeader(http.StatusPartialContent)
		if !t.write(ent.Body[r.start : r.end+1]) {
			t.viewerGoneMidBody()
		}
		return true
	}
	var b [12]byte
	_, _ = rand.Read(b[:])
	boundary := hex.EncodeToString(b[:])
	ctype := ent.Header.Get("Content-Type")
	var body []byte
	for _, r := range ranges {
		body = append(body, "\r\n--"+boundary+"\r\n"...)
		if ctype != "" {
			body = append(body, "Content-Type: "+ctype+"\r\n"...)
		}
		body = append(body, "Content-Range: bytes "+strconv.FormatInt(r.start, 10)+"-"+strconv.FormatInt(r.end, 10)+"/"+total+"\r\n\r\n"...)
		body = append(body, ent.Body[r.start:r.end+1]...)
	}
	body = append(body, "\r\n--"+boundary+"--\r\n"...)
	h["Content-Type"] = []string{"multipart/byteranges; boundary=" + boundary}
	h["Content-Length"] = []string{strconv.Itoa(len(body))}
	t.writeHeader(http.StatusPartialContent)
	if !t.write(body) {
		t.viewerGoneMidBody()
	}
	return true
}

// maxSharedAge is the largest Age whose header value is shared rather than
// formatted per hit.
const maxSharedAge = 3600

// newAgeValues builds the shared Age header values 0 … maxSharedAge (each
// with cap 1, so an append copies).
func newAgeValues() [][]string {
	out := make([][]string, maxSharedAge+1)
	for i := range out {
		out[i] = []string{strconv.Itoa(i)}
	}
	return out
}

// ageValue is the Age header value for secs, shared when it is small.
func (hv *headerValues) ageValue(secs int64) []string {
	if secs >= 0 && secs < int64(len(hv.ages)) {
		return hv.ages[secs]
	}
	return []string{strconv.FormatInt(secs, 10)}
}

// rangeKey is the cache key of one range of an object as the origin sent
// it (a 206), cached on its own (cloudfront.md §4.7): the object's key and
// the viewer's Range header.
func (t *txn) rangeKey() string {
	return t.c.key + "\x00range=" + strings.TrimSpace(t.r.Header.Get("Range"))
}

// rangeTTL implements "origin supports ranges ⇒ serve and cache the range"
// (cloudfront.md §4.7): an origin 206 with one Content-Range that matches
// its Content-Length is cached by the TTL rules (§4.2) under rangeKey, so
// the same range is then a hit. Multipart 206 responses are not cached
// (UNCONFIRMED). It switches the request's key to the range's.
func (t *txn) rangeTTL(resp *http.Response, cc cacheControl) (int64, bool) {
	if t.r.Header.Get("Range") == "" || resp.Header.Get("Content-Range") == "" || resp.ContentLength < 0 {
		return 0, false
	}
	b := t.beh
	secs := ttl(cc, b.cp.minTTL, b.cp.defTTL, b.cp.maxTTL)
	if secs <= 0 {
		return 0, false
	}
	t.c.key = t.rangeKey()
	return secs, true
}

// serveCachedRange answers a Range request from a cached range when the
// whole object is not cached (or is stale): a fresh copy of the same range
// is a Hit (cloudfront.md §4.7). It reports whether it answered.
func (t *txn) serveCachedRange() bool {
	if t.r.Method != http.MethodGet || t.r.Header.Get("Range") == "" {
		return false
	}
	ent, ok := t.d.store.Get(t.rangeKey())
	if !ok || ent.Status != http.StatusPartialContent || !ent.Fresh(t.start) {
		return false
	}
	t.serveHit(ent)
	return true
}
