package edge

import (
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/kumo-dev/kumo/internal/model"
)

// legacyBehavior is a ForwardedValues behavior with the given TTLs,
// cookie forwarding ("none", "all") and forwarded headers.
func legacyBehavior(minTTL, defTTL, maxTTL int64, cookies string, headers ...string) *model.CacheBehavior {
	return &model.CacheBehavior{TargetOriginID: "o1", ViewerProtocolPolicy: "allow-all",
		AllowedMethods: []string{"GET", "HEAD"}, CachedMethods: []string{"GET", "HEAD"},
		ForwardedValues: &model.ForwardedValues{CookiesForward: cookies, Headers: headers},
		MinTTL:          minTTL, DefaultTTL: defTTL, MaxTTL: maxTTL}
}

// versioned is an origin whose object changes version on demand and
// answers conditional requests with 304 while the version is unchanged.
type versioned struct {
	mu      sync.Mutex
	version string
	cc      string
	status  int // non-zero: answer every request with this status; -1: close the connection
	extra   http.Header
	inm     []string // If-None-Match values received ("" when absent)
	ims     []string
}

func (v *versioned) set(f func(v *versioned)) {
	v.mu.Lock()
	f(v)
	v.mu.Unlock()
}

func (v *versioned) conditionals() ([]string, []string) {
	v.mu.Lock()
	defer v.mu.Unlock()
	return append([]string(nil), v.inm...), append([]string(nil), v.ims...)
}

func (v *versioned) handler(w http.ResponseWriter, r *http.Request) {
	v.mu.Lock()
	ver, cc, status, extra := v.version, v.cc, v.status, v.extra
	v.inm = append(v.inm, r.Header.Get("If-None-Match"))
	v.ims = append(v.ims, r.Header.Get("If-Modified-Since"))
	v.mu.Unlock()
	h := w.Header()
	for k, vs := range extra {
		h[k] = vs
	}
	if status < 0 { // the origin drops the connection
		c, _, err := http.NewResponseController(w).Hijack()
		if err == nil {
			_ = c.Close()
		}
		return
	}
	if status != 0 {
		w.WriteHeader(status)
		_, _ = w.Write([]byte("origin error"))
		return
	}
	h.Set("Cache-Control", cc)
	h.Set("ETag", `"`+ver+`"`)
	h.Set("Last-Modified", "Mon, 02 Jan 2006 15:04:05 GMT")
	if r.Header.Get("If-None-Match") == `"`+ver+`"` {
		w.WriteHeader(http.StatusNotModified)
		return
	}
	h.Set("Content-Type", "text/plain")
	_, _ = w.Write([]byte("body " + ver))
}

func TestRevalidationRefreshHit(t *testing.T) {
	v := &versioned{version: "v1", cc: "max-age=10"}
	org := startOrigin(t, v.handler, nil)
	ev := newEnv(t, nil, testStack(testOrigin("origin.example.com", model.OriginHTTPOnly), policyBehavior(CachingOptimizedID, "")))
	ev.res.Set("origin.example.com", org.addr)
	c := ev.client(true, false)
	url := "https://" + testDomain + "/r"
	ev.do(c, "GET", url, nil)
	ev.clock.Advance(8 * time.Second)
	if r := ev.do(c, "GET", url, nil); r.header.Get("Age") != "8" {
		t.Fatalf("Age before expiry = %q", r.header.Get("Age"))
	}
	ev.clock.Advance(3 * time.Second)
	v.set(func(v *versioned) { v.extra = http.Header{"X-Updated": {"yes"}}; v.cc = "max-age=20" })
	r := ev.do(c, "GET", url, nil)
	if r.status != 200 || string(r.body) != "body v1" {
		t.Fatalf("refresh: %d %q", r.status, r.body)
	}
	checkEdgeHeaders(t, r, "RefreshHit from cloudfront")
	checkResult(t, ev.logs.wait(t, r.rid), "RefreshHit", "RefreshHit", "RefreshHit")
	if r.header.Get("Age") != "0" || r.header.Get("X-Updated") != "yes" || r.header.Get("Cache-Control") != "max-age=20" {
		t.Errorf("refreshed headers: Age %q X-Updated %q Cache-Control %q", r.header.Get("Age"), r.header.Get("X-Updated"), r.header.Get("Cache-Control"))
	}
	inm, ims := v.conditionals()
	if inm[1] != `"v1"` || ims[1] != "Mon, 02 Jan 2006 15:04:05 GMT" {
		t.Errorf("revalidation sent If-None-Match %q If-Modified-Since %q", inm[1], ims[1])
	}
	// The refreshed object is fresh for its new max-age.
	ev.clock.Advance(15 * time.Second)
	if r := ev.do(c, "GET", url, nil); r.header.Get("X-Cache") != xCacheHit || r.header.Get("Age") != "15" {
		t.Errorf("after refresh: %s Age %s", r.header.Get("X-Cache"), r.header.Get("Age"))
	}
	// A changed object is a Miss and replaces the cached one.
	ev.clock.Advance(10 * time.Second)
	v.set(func(v *versioned) { v.version = "v2" })
	r = ev.do(c, "GET", url, nil)
	if string(r.body) != "body v2" {
		t.Fatalf("changed: %q", r.body)
	}
	checkResult(t, ev.logs.wait(t, r.rid), "Miss", "Miss", "Miss")
	if r := ev.do(c, "GET", url, nil); string(r.body) != "body v2" || r.header.Get("X-Cache") != xCacheHit {
		t.Errorf("after change: %q %s", r.body, r.header.Get("X-Cache"))
	}
}

func TestRevalidationNotSent(t *testing.T) {
	for _, tc := range []struct {
		name string
		beh  *model.CacheBehavior
		vary string
	}{
		{"cookies forwarded", legacyBehavior(0, 0, 100, "all"), ""},
		{"Vary * with MinTTL 0", legacyBehavior(0, 0, 100, "none"), "*"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			v := &versioned{version: "v1", cc: "max-age=10"}
			if tc.vary != "" {
				v.extra = http.Header{"Vary": {tc.vary}}
			}
			org := startOrigin(t, v.handler, nil)
			ev := newEnv(t, nil, testStack(testOrigin("origin.example.com", model.OriginHTTPOnly), tc.beh))
			ev.res.Set("origin.example.com", org.addr)
			c := ev.client(true, false)
			url := "https://" + testDomain + "/r"
			ev.do(c, "GET", url, nil)
			ev.clock.Advance(11 * time.Second)
			r := ev.do(c, "GET", url, nil)
			if r.status != 200 || r.header.Get("X-Cache") != xCacheMiss {
				t.Errorf("second: %d %s", r.status, r.header.Get("X-Cache"))
			}
			if inm, ims := v.conditionals(); len(inm) != 2 || inm[1] != "" || ims[1] != "" {
				t.Errorf("origin got conditionals %q %q", inm, ims)
			}
		})
	}
}

func TestVaryStarMinTTL0AlwaysOrigin(t *testing.T) {
	v := &versioned{version: "v1", cc: "max-age=600", extra: http.Header{"Vary": {"*"}}}
	org := startOrigin(t, v.handler, nil)
	ev := newEnv(t, nil, testStack(testOrigin("origin.example.com", model.OriginHTTPOnly), legacyBehavior(0, 0, 1000, "none")))
	ev.res.Set("origin.example.com", org.addr)
	c := ev.client(true, false)
	for i := range 3 {
		r := ev.do(c, "GET", "https://"+testDomain+"/v", nil)
		if r.header.Get("X-Cache") != xCacheMiss || r.header.Get("Vary") != "*" || org.hits.Load() != int64(i+1) {
			t.Fatalf("request %d: %s Vary %q origin hits %d", i, r.header.Get("X-Cache"), r.header.Get("Vary"), org.hits.Load())
		}
	}
}

func TestStaleWhileRevalidate(t *testing.T) {
	v := &versioned{version: "v1", cc: "max-age=10, stale-while-revalidate=60"}
	org := startOrigin(t, v.handler, nil)
	ev := newEnv(t, nil, testStack(testOrigin("origin.example.com", model.OriginHTTPOnly), policyBehavior(CachingOptimizedID, "")))
	ev.res.Set("origin.example.com", org.addr)
	c := ev.client(true, false)
	url := "https://" + testDomain + "/swr"
	ev.do(c, "GET", url, nil)
	ev.clock.Advance(30 * time.Second)
	v.set(func(v *versioned) { v.version = "v2" })
	r := ev.do(c, "GET", url, nil)
	if string(r.body) != "body v1" || r.header.Get("X-Cache") != xCacheHit || r.header.Get("Age") != "30" {
		t.Fatalf("within stale-while-revalidate: %q %s Age %s", r.body, r.header.Get("X-Cache"), r.header.Get("Age"))
	}
	checkResult(t, ev.logs.wait(t, r.rid), "Hit", "Hit", "Hit")
	// The refresh happens in the background: poll until the new version is served.
	deadline := time.Now().Add(10 * time.Second)
	for {
		r = ev.do(c, "GET", url, nil)
		if string(r.body) == "body v2" {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("background refresh never landed (origin hits %d)", org.hits.Load())
		}
		time.Sleep(5 * time.Millisecond)
	}
	if r.header.Get("X-Cache") != xCacheHit || r.header.Get("Age") != "0" {
		t.Errorf("after refresh: %s Age %s", r.header.Get("X-Cache"), r.header.Get("Age"))
	}
	if inm, _ := v.conditionals(); inm[1] != `"v1"` {
		t.Errorf("background refresh was not conditional: %q", inm)
	}
	// Past max-age + stale-while-revalidate the viewer waits for the origin.
	ev.clock.Advance(71 * time.Second)
	v.set(func(v *versioned) { v.version = "v3" })
	if r := ev.do(c, "GET", url, nil); string(r.body) != "body v3" || r.header.Get("X-Cache") != xCacheMiss {
		t.Errorf("past the window: %q %s", r.body, r.header.Get("X-Cache"))
	}
}

func TestStaleIfError(t *testing.T) {
	for _, tc := range []struct {
		name      string
		cc        string
		originErr int // -1: the origin closes the connection; -2: it is unreachable
		advance   time.Duration
		wantStale bool
	}{
		{"stale-if-error within window", "max-age=10, stale-if-error=60", 500, 30 * time.Second, true},
		{"stale-if-error past window", "max-age=10, stale-if-error=60", 500, 71 * time.Second, false},
		{"stale-if-error=0 disables", "max-age=10, stale-if-error=0", 503, 11 * time.Second, false},
		{"default serves stale on 5xx", "max-age=10", 503, time.Hour, true},
		{"default serves stale when the origin fails", "max-age=10", -1, time.Hour, true},
		{"default serves stale when the origin is unreachable", "max-age=10", -2, time.Hour, true},
		{"4xx is returned, not stale", "max-age=10", 404, 11 * time.Second, false},
		{"must-revalidate is never stale", "max-age=10, must-revalidate", 502, 11 * time.Second, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			v := &versioned{version: "v1", cc: tc.cc}
			org := startOrigin(t, v.handler, nil)
			ev := newEnv(t, nil, testStack(testOrigin("origin.example.com", model.OriginHTTPOnly), policyBehavior(CachingOptimizedID, "")))
			ev.res.Set("origin.example.com", org.addr)
			c := ev.client(true, false)
			url := "https://" + testDomain + "/sie"
			ev.do(c, "GET", url, nil)
			ev.clock.Advance(tc.advance)
			if tc.originErr == -2 {
				ev.res.Set("origin.example.com", "nolistener")
				ev.edge.dists[0].origins["o1"].closeIdle()
			} else {
				v.set(func(v *versioned) { v.status = tc.originErr })
			}
			r := ev.do(c, "GET", url, nil)
			if tc.wantStale {
				if r.status != 200 || string(r.body) != "body v1" || r.header.Get("X-Cache") != xCacheHit {
					t.Fatalf("want stale: %d %q %s", r.status, r.body, r.header.Get("X-Cache"))
				}
				checkResult(t, ev.logs.wait(t, r.rid), "Hit", "Hit", "Hit")
			} else if r.status < 400 {
				t.Fatalf("want the error, got %d %q", r.status, r.body)
			}
		})
	}
}

// TestServeStaleHoldsForErrorCachingMinTTL: after an origin 5xx the stale
// object is served without asking the origin for ErrorCachingMinTTL.
func TestServeStaleHoldsForErrorCachingMinTTL(t *testing.T) {
	v := &versioned{version: "v1", cc: "max-age=10"}
	org := startOrigin(t, v.handler, nil)
	ev := newEnv(t, nil, testStack(testOrigin("origin.example.com", model.OriginHTTPOnly), policyBehavior(CachingOptimizedID, "")))
	ev.res.Set("origin.example.com", org.addr)
	c := ev.client(true, false)
	url := "https://" + testDomain + "/hold"
	ev.do(c, "GET", url, nil)
	ev.clock.Advance(20 * time.Second)
	v.set(func(v *versioned) { v.status = 503 })
	if r := ev.do(c, "GET", url, nil); string(r.body) != "body v1" || org.hits.Load() != 2 {
		t.Fatalf("stale on 503: %q, origin hits %d", r.body, org.hits.Load())
	}
	ev.clock.Advance(9 * time.Second)
	if r := ev.do(c, "GET", url, nil); string(r.body) != "body v1" || org.hits.Load() != 2 {
		t.Fatalf("held: %q, origin hits %d", r.body, org.hits.Load())
	}
	ev.clock.Advance(2 * time.Second)
	v.set(func(v *versioned) { v.status = 0; v.version = "v2" })
	if r := ev.do(c, "GET", url, nil); string(r.body) != "body v2" || org.hits.Load() != 3 {
		t.Fatalf("after hold: %q, origin hits %d", r.body, org.hits.Load())
	}
}

func TestVaryVariants(t *testing.T) {
	org := startOrigin(t, func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Cache-Control", "max-age=600")
		w.Header().Set("Vary", "User-Agent, X-Not-Forwarded")
		_, _ = w.Write([]byte("for " + r.Header.Get("User-Agent")))
	}, nil)
	ev := newEnv(t, nil, testStack(testOrigin("origin.example.com", model.OriginHTTPOnly), policyBehavior(CachingOptimizedID, UserAgentRefererHeadersID)))
	ev.res.Set("origin.example.com", org.addr)
	c := ev.client(true, false)
	url := "https://" + testDomain + "/vary"
	for i, tc := range []struct{ ua, xcache string }{
		{"a", xCacheMiss}, {"b", xCacheMiss}, {"a", xCacheHit}, {"b", xCacheHit},
	} {
		r := ev.do(c, "GET", url, http.Header{"User-Agent": {tc.ua}})
		if string(r.body) != "for "+tc.ua || r.header.Get("X-Cache") != tc.xcache {
			t.Errorf("request %d (UA %s): %q %s", i, tc.ua, r.body, r.header.Get("X-Cache"))
		}
		if got := r.header.Get("Vary"); got != "User-Agent" {
			t.Errorf("request %d: Vary = %q, want only the forwarded header", i, got)
		}
	}
	if n := org.hits.Load(); n != 2 {
		t.Errorf("origin hits = %d, want 2", n)
	}
}

func TestSetCookieHandling(t *testing.T) {
	for _, tc := range []struct {
		name        string
		beh         *model.CacheBehavior
		cc          string
		wantOnMiss  bool
		wantOnHit   bool
		wantCachedN int64 // origin hits after two requests
	}{
		{"cookies not forwarded: removed", legacyBehavior(0, 100, 1000, "none"), "max-age=60", false, false, 1},
		{"cookies forwarded: cached and replayed", legacyBehavior(0, 100, 1000, "all"), "max-age=60", true, true, 1},
		{"no-cache=Set-Cookie: cached without it", legacyBehavior(0, 100, 1000, "all"), `max-age=60, no-cache="Set-Cookie"`, true, false, 1},
	} {
		t.Run(tc.name, func(t *testing.T) {
			org := startOrigin(t, func(w http.ResponseWriter, r *http.Request) {
				w.Header().Set("Cache-Control", tc.cc)
				w.Header().Set("Set-Cookie", "session=abc")
				_, _ = w.Write([]byte("cookie"))
			}, nil)
			ev := newEnv(t, nil, testStack(testOrigin("origin.example.com", model.OriginHTTPOnly), tc.beh))
			ev.res.Set("origin.example.com", org.addr)
			c := ev.client(true, false)
			url := "https://" + testDomain + "/c"
			miss := ev.do(c, "GET", url, nil)
			hit := ev.do(c, "GET", url, nil)
			if got := miss.header.Get("Set-Cookie") != ""; got != tc.wantOnMiss {
				t.Errorf("Set-Cookie on miss: %v", got)
			}
			if got := hit.header.Get("Set-Cookie") != ""; got != tc.wantOnHit {
				t.Errorf("Set-Cookie on hit: %v", got)
			}
			if hit.header.Get("X-Cache") != xCacheHit || org.hits.Load() != tc.wantCachedN {
				t.Errorf("second: %s, origin hits %d", hit.header.Get("X-Cache"), org.hits.Load())
			}
		})
	}
}

func TestErrorCachingMinTTLHook(t *testing.T) {
	ev := newEnv(t, nil, testStack(testOrigin("origin.example.com", model.OriginHTTPOnly), policyBehavior(CachingOptimizedID, "")))
	tx := &txn{e: ev.edge, d: ev.edge.dists[0], beh: ev.edge.dists[0].behaviors[0]}
	for _, status := range []int{404, 500, 502, 503, 504} {
		if got := tx.errorCachingMinTTL(status); got != 10 {
			t.Errorf("ErrorCachingMinTTL(%d) = %d, want the 10 s default", status, got)
		}
	}
}

func TestParseCacheControlStaleDirectives(t *testing.T) {
	now := time.Now()
	for _, tc := range []struct {
		in             string
		swr, sie       int64
		noCache, mustR bool
		fields         string
	}{
		{"max-age=1, stale-while-revalidate=30", 30, -1, false, false, ""},
		{"stale-if-error=0", -1, 0, false, false, ""},
		{`no-cache="Set-Cookie, X-Foo"`, -1, -1, false, false, "Set-Cookie,X-Foo"},
		{"no-cache", -1, -1, true, false, ""},
		{"proxy-revalidate, stale-if-error=x", -1, -1, false, true, ""},
	} {
		cc := parseCacheControl(http.Header{"Cache-Control": {tc.in}}, now)
		if cc.staleWhileRevalidate != tc.swr || cc.staleIfError != tc.sie || cc.noCache != tc.noCache ||
			cc.mustRevalidate != tc.mustR || strings.Join(cc.noCacheFields, ",") != tc.fields {
			t.Errorf("%q: %+v", tc.in, cc)
		}
	}
}

// TestOriginAgeCounts: an origin response that is already Age seconds old
// expires that much sooner, and hits report the total age.
func TestOriginAgeCounts(t *testing.T) {
	org := startOrigin(t, func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Cache-Control", "max-age=60")
		w.Header().Set("Age", "50")
		_, _ = w.Write([]byte("aged"))
	}, nil)
	ev := newEnv(t, nil, testStack(testOrigin("origin.example.com", model.OriginHTTPOnly), policyBehavior(CachingOptimizedID, "")))
	ev.res.Set("origin.example.com", org.addr)
	c := ev.client(true, false)
	url := "https://" + testDomain + "/aged"
	ev.do(c, "GET", url, nil)
	ev.clock.Advance(5 * time.Second)
	if r := ev.do(c, "GET", url, nil); r.header.Get("X-Cache") != xCacheHit || r.header.Get("Age") != "55" {
		t.Fatalf("hit: %s Age %s", r.header.Get("X-Cache"), r.header.Get("Age"))
	}
	ev.clock.Advance(6 * time.Second)
	if r := ev.do(c, "GET", url, nil); r.header.Get("X-Cache") != xCacheMiss {
		t.Errorf("past max-age minus Age: %s", r.header.Get("X-Cache"))
	}
}

// TestErrorCachingMinTTLFromCustomErrorResponse: a custom error response's
// ErrorCachingMinTTL replaces the 10 s default for its status only.
func TestErrorCachingMinTTLFromCustomErrorResponse(t *testing.T) {
	org := startOrigin(t, func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Cache-Control", "max-age=2")
		w.WriteHeader(http.StatusNotFound)
		_, _ = w.Write([]byte("gone"))
	}, nil)
	ev := newEnv(t, nil, testStack(testOrigin("origin.example.com", model.OriginHTTPOnly), policyBehavior(CachingOptimizedID, ""),
		func(d *model.Distribution) {
			d.CustomErrorResponses = []*model.CustomErrorResponse{{ErrorCode: 404, ErrorCachingMinTTL: 0}}
		}))
	ev.res.Set("origin.example.com", org.addr)
	c := ev.client(true, false)
	url := "https://" + testDomain + "/gone"
	ev.do(c, "GET", url, nil)
	ev.clock.Advance(time.Second)
	if r := ev.do(c, "GET", url, nil); r.header.Get("X-Cache") != xCacheError || org.hits.Load() != 1 {
		t.Fatalf("within max-age: %s, origin hits %d", r.header.Get("X-Cache"), org.hits.Load())
	}
	ev.clock.Advance(2 * time.Second) // past max-age=2, well within the 10 s default
	ev.do(c, "GET", url, nil)
	if n := org.hits.Load(); n != 2 {
		t.Errorf("origin hits = %d, want 2 (ErrorCachingMinTTL 0 lets max-age=2 rule)", n)
	}
	tx := &txn{e: ev.edge, d: ev.edge.dists[0]}
	if got := tx.errorCachingMinTTL(503); got != 10 {
		t.Errorf("503 without a custom error response: %d", got)
	}
}
