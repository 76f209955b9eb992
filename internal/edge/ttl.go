package edge

import (
	"net/http"
	"strconv"
	"strings"
	"time"
)

// maxOriginAge caps max-age/s-maxage values: CloudFront accepts 0 … 100
// years (cloudfront.md §4.2).
const maxOriginAge = 100 * 365 * 24 * 3600

// cacheControl is the part of an origin's Cache-Control and Expires that the
// TTL rules read.
type cacheControl struct {
	noCache, noStore, private bool
	sMaxAge, maxAge           int64 // -1 when absent
	expires                   int64 // seconds from now; -1 when absent
	// noCacheFields are the field names of a qualified no-cache
	// (no-cache="Set-Cookie"): the response is cached without them.
	noCacheFields []string
	// staleWhileRevalidate and staleIfError are the directives' seconds
	// (-1 when absent), cloudfront.md §4.3.
	staleWhileRevalidate, staleIfError int64
	// mustRevalidate: must-revalidate or proxy-revalidate (RFC 9111
	// §5.2.2.2, §5.2.2.8): never served stale.
	mustRevalidate bool
}

// parseCacheControl reads Cache-Control (all field lines) and Expires.
// Malformed max-age/s-maxage values are ignored; a malformed Expires means
// "already expired" (RFC 9111 §5.3).
func parseCacheControl(h http.Header, now time.Time) cacheControl {
	cc := cacheControl{sMaxAge: -1, maxAge: -1, expires: -1, staleWhileRevalidate: -1, staleIfError: -1}
	for _, line := range h.Values("Cache-Control") {
		for _, d := range splitDirectives(line) {
			d = strings.TrimSpace(d)
			name, val, hasVal := strings.Cut(d, "=")
			name = strings.ToLower(strings.TrimSpace(name))
			switch name {
			case "no-cache":
				fields := strings.Trim(strings.TrimSpace(val), `"`)
				if !hasVal || strings.TrimSpace(fields) == "" {
					cc.noCache = true
					continue
				}
				for f := range strings.SplitSeq(fields, ",") {
					if f = strings.TrimSpace(f); f != "" {
						cc.noCacheFields = append(cc.noCacheFields, http.CanonicalHeaderKey(f))
					}
				}
			case "must-revalidate", "proxy-revalidate":
				cc.mustRevalidate = true
			case "stale-while-revalidate", "stale-if-error":
				n, err := strconv.ParseInt(strings.Trim(strings.TrimSpace(val), `"`), 10, 64)
				if !hasVal || err != nil || n < 0 {
					continue
				}
				if name == "stale-if-error" {
					cc.staleIfError = min(n, maxOriginAge)
				} else {
					cc.staleWhileRevalidate = min(n, maxOriginAge)
				}
			case "no-store":
				cc.noStore = true
			case "private":
				cc.private = true
			case "s-maxage", "max-age":
				if !hasVal {
					continue
				}
				n, err := strconv.ParseInt(strings.Trim(strings.TrimSpace(val), `"`), 10, 64)
				if err != nil || n < 0 {
					continue
				}
				n = min(n, maxOriginAge)
				if name == "s-maxage" {
					cc.sMaxAge = n
				} else {
					cc.maxAge = n
				}
			}
		}
	}
	if vs := h.Values("Expires"); len(vs) > 0 {
		t, err := http.ParseTime(vs[0])
		if err != nil {
			cc.expires = 0
		} else {
			cc.expires = max(0, int64(t.Sub(expiresBase(h, now))/time.Second))
		}
	}
	return cc
}

// ttl implements cloudfront.md §4.2: the seconds an origin response may be
// cached under a policy's MinTTL, DefaultTTL and MaxTTL. 0 means "not
// cached".
func ttl(cc cacheControl, minTTL, defaultTTL, maxTTL int64) int64 {
	if cc.noCache || cc.noStore || cc.private {
		return minTTL
	}
	origin := int64(-1)
	switch {
	case cc.sMaxAge >= 0:
		origin = cc.sMaxAge
	case cc.maxAge >= 0:
		origin = cc.maxAge
	case cc.expires >= 0:
		origin = cc.expires // negative Expires-now was already made 0 (UNCONFIRMED)
	}
	if origin < 0 {
		return max(minTTL, defaultTTL)
	}
	return min(max(origin, minTTL), maxTTL)
}

// defaultErrorCachingMinTTL is ErrorCachingMinTTL when no custom error
// response sets it: 10 s (cloudfront.md §4.4, §5.5).
const defaultErrorCachingMinTTL = 10

// errorTTL implements cloudfront.md §4.4 (error caching): whether an error
// status from the origin — or one the edge generated (502/504, treated as
// origin 5xx) — is cached, and for how many seconds. noCache is the
// behavior's "caching disabled" (CachingDisabled caches no errors);
// minErr is the ErrorCachingMinTTL for the status (txn.errorCachingMinTTL).
// Statuses other than the listed ones (401, 429, ...) are not error-cached
// (UNCONFIRMED).
func errorTTL(status int, cc cacheControl, maxTTL int64, noCache bool, minErr int64) (int64, bool) {
	if noCache {
		return 0, false
	}
	origin := int64(-1)
	switch {
	case cc.sMaxAge >= 0:
		origin = cc.sMaxAge
	case cc.maxAge >= 0:
		origin = cc.maxAge
	}
	switch status {
	case 404, 414, 500, 501, 502, 503, 504:
		if origin < 0 && cc.expires >= 0 {
			origin = cc.expires
		}
	case 400, 403, 405, 412, 415:
		if origin < 0 {
			return 0, false
		}
	default:
		return 0, false
	}
	t := minErr
	if origin >= 0 {
		t = max(t, min(origin, maxTTL))
	}
	return t, t > 0
}

// isErrorStatus reports whether status is an error (4xx/5xx) that the error
// caching rules (not the TTL rules) govern.
func isErrorStatus(status int) bool { return status >= 400 }

// ageSeconds is the Age header value of a cache hit: whole seconds since the
// object was stored at this edge (backdated by the origin's Age, see
// originAge) or last revalidated (UNCONFIRMED, cloudfront.md §3.10).
func ageSeconds(stored, now time.Time) int64 {
	if now.Before(stored) {
		return 0
	}
	return int64(now.Sub(stored) / time.Second)
}

// normalizeAcceptEncoding implements cloudfront.md §4.11: with gzip and/or br
// enabled, the viewer's Accept-Encoding becomes "br,gzip", "br", "gzip" or
// "" (neither; the origin then gets "identity"). HTTP/1.0 viewers get "".
func normalizeAcceptEncoding(values []string, gzipOn, brOn bool, protoMajor, protoMinor int) string {
	if protoMajor == 1 && protoMinor == 0 {
		return ""
	}
	var gz, br bool
	for _, v := range values {
		for tok := range strings.SplitSeq(v, ",") {
			tok, params, _ := strings.Cut(strings.TrimSpace(tok), ";")
			if q, ok := strings.CutPrefix(strings.TrimSpace(params), "q="); ok {
				if f, err := strconv.ParseFloat(strings.TrimSpace(q), 64); err == nil && f == 0 {
					continue
				}
			}
			switch strings.ToLower(strings.TrimSpace(tok)) {
			case "gzip":
				gz = true
			case "br":
				br = true
			}
		}
	}
	gz, br = gz && gzipOn, br && brOn
	switch {
	case gz && br:
		return "br,gzip"
	case br:
		return "br"
	case gz:
		return "gzip"
	}
	return ""
}

// splitDirectives splits a Cache-Control field value at the commas that are
// not inside a quoted string (no-cache="Set-Cookie, X-Foo" is one
// directive).
func splitDirectives(v string) []string {
	var out []string
	quoted, start := false, 0
	for i := 0; i < len(v); i++ {
		switch v[i] {
		case '"':
			quoted = !quoted
		case ',':
			if !quoted {
				out = append(out, v[start:i])
				start = i + 1
			}
		}
	}
	return append(out, v[start:])
}

// expiresBase is what an Expires time is measured from: the origin's Date
// when it has a valid one (RFC 9111 §4.2.1: freshness_lifetime = Expires -
// Date; cloudfront.md §4.2 does not say, UNCONFIRMED), else now.
func expiresBase(h http.Header, now time.Time) time.Time {
	if vs := h["Date"]; len(vs) > 0 {
		if d, err := http.ParseTime(vs[0]); err == nil {
			return d
		}
	}
	return now
}
