package edge

import (
	"net/http"
	"strings"
	"testing"

	"github.com/kumo-dev/kumo/internal/model"
	"github.com/kumo-dev/kumo/internal/stack"
)

func items(behavior string, names ...string) model.PolicyItems {
	return model.PolicyItems{Behavior: behavior, Items: names}
}

// policyEnv serves one behavior with the given policies from an origin that
// records requests and answers with hdr.
func policyEnv(t *testing.T, b *model.CacheBehavior, hdr http.Header) (*env, *originServer) {
	t.Helper()
	origin := startOrigin(t, func(w http.ResponseWriter, r *http.Request) {
		for k, v := range hdr {
			w.Header()[k] = v
		}
		w.Header().Set("Cache-Control", "max-age=3600")
		_, _ = w.Write([]byte("ok " + r.URL.RawQuery))
	}, nil)
	ev := newEnv(t, nil, testStack(testOrigin("origin.example.com", model.OriginHTTPOnly), b))
	ev.res.Set("origin.example.com", origin.addr)
	return ev, origin
}

func customCachePolicy(query, cookies, headers model.PolicyItems) *model.CachePolicy {
	return &model.CachePolicy{ID: "aaaaaaaa-0000-4000-8000-000000000001", Name: "custom", MinTTL: 0, DefaultTTL: 86400, MaxTTL: 31536000,
		Headers: headers, Cookies: cookies, Query: query}
}

// TestCachePolicyAllExceptQueryStrings implements cloudfront.md §4.5 for a
// stack-defined cache policy: allExcept keeps every query string but the
// listed ones in the key and in the origin request.
func TestCachePolicyAllExceptQueryStrings(t *testing.T) {
	cp := customCachePolicy(items(model.PolicyAllExcept, "utm"), items(model.PolicyNone), items(model.PolicyNone))
	b := policyBehavior(cp.ID, "")
	b.CachePolicy = cp
	ev, origin := policyEnv(t, b, nil)
	c := ev.client(false, false)
	for i, tc := range []struct{ query, want string }{
		{"a=1&utm=x", "Miss"},
		{"a=1&utm=y", "Hit"}, // utm is not in the key
		{"a=2&utm=x", "Miss"},
		{"utm=z&a=1", "Hit"},
	} {
		r := ev.do(c, http.MethodGet, "http://"+testDomain+"/p?"+tc.query, nil)
		if got := strings.TrimSuffix(r.header.Get("X-Cache"), " from cloudfront"); got != tc.want {
			t.Errorf("%d: ?%s is %s, want %s", i, tc.query, got, tc.want)
		}
	}
	if q := origin.lastRequest().URL.RawQuery; q != "a=2" {
		t.Errorf("origin query %q, want a=2 (utm removed)", q)
	}
}

// TestCachePolicyCookieModes implements the cookie modes of cloudfront.md
// §4.5: whitelist and allExcept select the cookies in the key and sent to
// the origin.
func TestCachePolicyCookieModes(t *testing.T) {
	for _, tc := range []struct {
		name    string
		cookies model.PolicyItems
		want    string
	}{
		{"whitelist", items(model.PolicyWhitelist, "session"), "session=1"},
		{"allExcept", items(model.PolicyAllExcept, "session"), "a=2; z=3"},
		{"all", items(model.PolicyAll), "a=2; session=1; z=3"},
		{"none", items(model.PolicyNone), ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			cp := customCachePolicy(items(model.PolicyNone), tc.cookies, items(model.PolicyNone))
			b := policyBehavior(cp.ID, "")
			b.CachePolicy = cp
			ev, origin := policyEnv(t, b, nil)
			ev.do(ev.client(false, false), http.MethodGet, "http://"+testDomain+"/c", http.Header{"Cookie": {"z=3; session=1; a=2"}})
			if got := origin.lastRequest().Header.Get("Cookie"); got != tc.want {
				t.Errorf("origin Cookie %q, want %q", got, tc.want)
			}
		})
	}
}

// TestOriginRequestPolicyHeaderModes implements cloudfront.md §3.3-§3.6
// for stack-defined origin request policies: allExcept forwards every
// viewer header but the listed ones (Host included unless listed);
// allViewerAndWhitelistCloudFront adds only the listed CloudFront-*
// headers; whitelist forwards only the listed ones.
func TestOriginRequestPolicyHeaderModes(t *testing.T) {
	viewer := http.Header{"X-Keep": {"1"}, "X-Secret": {"s"}, "Accept-Language": {"ja"}}
	for _, tc := range []struct {
		name     string
		headers  model.PolicyItems
		present  []string
		absent   []string
		wantHost string
	}{
		{"allExcept", items(model.PolicyAllExcept, "X-Secret"), []string{"X-Keep", "Accept-Language"}, []string{"X-Secret", "Cloudfront-Forwarded-Proto"}, testDomain},
		{"allExcept Host", items(model.PolicyAllExcept, "Host"), []string{"X-Keep", "X-Secret"}, nil, "origin.example.com"},
		{"allViewerAndWhitelistCloudFront", items(model.PolicyAllViewerAndWhitelistCloudFront, "CloudFront-Forwarded-Proto"),
			[]string{"X-Keep", "X-Secret", "Cloudfront-Forwarded-Proto"}, []string{"Cloudfront-Viewer-Address"}, testDomain},
		{"whitelist", items(model.PolicyWhitelist, "x-keep"), []string{"X-Keep"}, []string{"X-Secret", "Accept-Language"}, "origin.example.com"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			orp := &model.OriginRequestPolicy{ID: "bbbbbbbb-0000-4000-8000-000000000001", Name: "orp", Headers: tc.headers,
				Cookies: items(model.PolicyNone), Query: items(model.PolicyNone)}
			b := policyBehavior(CachingDisabledID, orp.ID)
			b.OriginRequestPolicy = orp
			ev, origin := policyEnv(t, b, nil)
			ev.do(ev.client(false, false), http.MethodGet, "http://"+testDomain+"/h", viewer)
			req := origin.lastRequest()
			for _, h := range tc.present {
				if req.Header.Get(h) == "" {
					t.Errorf("%s not forwarded", h)
				}
			}
			for _, h := range tc.absent {
				if v := req.Header.Get(h); v != "" {
					t.Errorf("%s forwarded (%q)", h, v)
				}
			}
			if req.Host != tc.wantHost {
				t.Errorf("Host %q, want %q", req.Host, tc.wantHost)
			}
			if got := req.Header.Get("Cloudfront-Forwarded-Proto"); got != "" && got != "http" {
				t.Errorf("CloudFront-Forwarded-Proto %q", got)
			}
		})
	}
}

func rhpBehavior(p *model.ResponseHeadersPolicy, methods ...string) *model.CacheBehavior {
	b := policyBehavior(CachingOptimizedID, "")
	b.ResponseHeadersPolicyID = p.ID
	b.ResponseHeadersPolicy = p
	if len(methods) > 0 {
		b.AllowedMethods = methods
	}
	return b
}

// TestResponseHeadersPolicySecurityAndCustomHeaders implements the
// security, custom and removed headers of a response headers policy, with
// Override semantics, on a miss and on a hit.
func TestResponseHeadersPolicySecurityAndCustomHeaders(t *testing.T) {
	p := &model.ResponseHeadersPolicy{ID: "cccccccc-0000-4000-8000-000000000001", Name: "sec",
		SecurityHeaders: []model.ResponseHeader{
			{Name: "X-Frame-Options", Value: "DENY", Override: false},
			{Name: "Referrer-Policy", Value: "no-referrer", Override: true},
			{Name: "Strict-Transport-Security", Value: "max-age=63072000; includeSubDomains; preload"},
		},
		CustomHeaders: []model.ResponseHeader{{Name: "X-Custom", Value: "kumo", Override: true}},
		RemoveHeaders: []string{"X-Powered-By"},
	}
	origin := http.Header{"X-Frame-Options": {"SAMEORIGIN"}, "Referrer-Policy": {"unsafe-url"}, "X-Powered-By": {"PHP"}}
	ev, _ := policyEnv(t, rhpBehavior(p), origin)
	c := ev.client(false, false)
	for _, want := range []string{"Miss from cloudfront", "Hit from cloudfront"} {
		r := ev.do(c, http.MethodGet, "http://"+testDomain+"/s", nil)
		if r.header.Get("X-Cache") != want {
			t.Fatalf("X-Cache %q, want %q", r.header.Get("X-Cache"), want)
		}
		for name, v := range map[string]string{
			"X-Frame-Options":           "SAMEORIGIN", // origin's kept: Override false
			"Referrer-Policy":           "no-referrer",
			"Strict-Transport-Security": "max-age=63072000; includeSubDomains; preload",
			"X-Custom":                  "kumo",
			"X-Powered-By":              "",
		} {
			if got := r.header.Get(name); got != v {
				t.Errorf("%s: %s = %q, want %q", want, name, got, v)
			}
		}
	}
}

// TestResponseHeadersPolicyCORS implements CorsConfig: allowed origins get
// Access-Control-Allow-Origin (and the credentials and expose headers),
// other origins and requests without Origin get none, and the origin's own
// CORS headers win unless OriginOverride.
func TestResponseHeadersPolicyCORS(t *testing.T) {
	for _, override := range []bool{false, true} {
		p := &model.ResponseHeadersPolicy{ID: "cccccccc-0000-4000-8000-000000000002", Name: "cors",
			CORS: &model.CORSConfig{AllowCredentials: true, AllowHeaders: []string{"X-Req"}, AllowMethods: []string{"GET", "PUT"},
				AllowOrigins: []string{"https://app.example.com", "https://*.example.org"}, ExposeHeaders: []string{"X-Exp"}, MaxAgeSec: 600, OriginOverride: override}}
		ev, _ := policyEnv(t, rhpBehavior(p), nil)
		c := ev.client(false, false)
		for _, tc := range []struct {
			origin, want string
		}{
			{"https://app.example.com", "https://app.example.com"},
			{"https://x.example.org", "https://x.example.org"},
			{"https://evil.example.net", ""},
			{"", ""},
		} {
			h := http.Header{}
			if tc.origin != "" {
				h.Set("Origin", tc.origin)
			}
			r := ev.do(c, http.MethodGet, "http://"+testDomain+"/cors", h)
			if got := r.header.Get("Access-Control-Allow-Origin"); got != tc.want {
				t.Errorf("override=%v Origin %q: Allow-Origin %q, want %q", override, tc.origin, got, tc.want)
			}
			if tc.want != "" && (r.header.Get("Access-Control-Allow-Credentials") != "true" || r.header.Get("Access-Control-Expose-Headers") != "X-Exp") {
				t.Errorf("Origin %q: credentials %q expose %q", tc.origin, r.header.Get("Access-Control-Allow-Credentials"), r.header.Get("Access-Control-Expose-Headers"))
			}
		}
		// An origin that sends its own CORS header.
		ev2, _ := policyEnv(t, rhpBehavior(p), http.Header{"Access-Control-Allow-Origin": {"https://origin-says.example"}})
		r := ev2.do(ev2.client(false, false), http.MethodGet, "http://"+testDomain+"/cors", http.Header{"Origin": {"https://app.example.com"}})
		want := "https://origin-says.example"
		if override {
			want = "https://app.example.com"
		}
		if got := r.header.Get("Access-Control-Allow-Origin"); got != want {
			t.Errorf("override=%v: Allow-Origin %q, want %q", override, got, want)
		}
	}
}

// TestResponseHeadersPolicyCORSPreflightAtEdge: a preflight to a behavior
// that allows OPTIONS is answered by the edge from the policy, without the
// origin.
func TestResponseHeadersPolicyCORSPreflightAtEdge(t *testing.T) {
	b := policyBehavior(CachingOptimizedID, "")
	b.ResponseHeadersPolicyID = CORSWithPreflightID
	b.AllowedMethods = []string{"GET", "HEAD", "OPTIONS"}
	ev, origin := policyEnv(t, b, nil)
	r := ev.do(ev.client(false, false), http.MethodOptions, "http://"+testDomain+"/api",
		http.Header{"Origin": {"https://app.example.com"}, "Access-Control-Request-Method": {"PUT"}})
	if r.status != http.StatusOK || len(r.body) != 0 {
		t.Fatalf("preflight: %d %q", r.status, r.body)
	}
	for name, want := range map[string]string{
		"Access-Control-Allow-Origin":  "*",
		"Access-Control-Allow-Methods": "DELETE, GET, HEAD, OPTIONS, PATCH, POST, PUT",
		"Access-Control-Allow-Headers": "*",
	} {
		if got := r.header.Get(name); got != want {
			t.Errorf("%s = %q, want %q", name, got, want)
		}
	}
	if n := origin.hits.Load(); n != 0 {
		t.Errorf("the origin got %d requests", n)
	}
	rec := ev.logs.wait(t, r.rid)
	if rec.Status != 200 || rec.Method != http.MethodOptions {
		t.Errorf("log: %d %s", rec.Status, rec.Method)
	}
	// Without OPTIONS in AllowedMethods the preflight is refused as usual.
	b2 := policyBehavior(CachingOptimizedID, "")
	b2.ResponseHeadersPolicyID = CORSWithPreflightID
	ev2, _ := policyEnv(t, b2, nil)
	r = ev2.do(ev2.client(false, false), http.MethodOptions, "http://"+testDomain+"/api",
		http.Header{"Origin": {"https://app.example.com"}, "Access-Control-Request-Method": {"PUT"}})
	if r.status != http.StatusForbidden {
		t.Errorf("preflight to a GET/HEAD behavior: %d, want 403", r.status)
	}
}

// TestResponseHeadersPolicyServerTiming: with SamplingRate 100 every
// response carries Server-Timing with the cache status, the POP and the
// request ID; with 0 only a viewer's Pragma: server-timing asks for it.
func TestResponseHeadersPolicyServerTiming(t *testing.T) {
	p := &model.ResponseHeadersPolicy{ID: "cccccccc-0000-4000-8000-000000000003", Name: "st", ServerTiming: &model.ServerTimingConfig{SamplingRate: 100}}
	ev, _ := policyEnv(t, rhpBehavior(p), nil)
	c := ev.client(false, false)
	miss := ev.do(c, http.MethodGet, "http://"+testDomain+"/t", nil)
	hit := ev.do(c, http.MethodGet, "http://"+testDomain+"/t", nil)
	for _, tc := range []struct {
		r    result
		want string
	}{{miss, "cdn-cache-miss"}, {hit, "cdn-cache-hit"}} {
		st := tc.r.header.Get("Server-Timing")
		for _, part := range []string{tc.want, `cdn-pop;desc="` + DefaultEdgeLocation + `"`, `cdn-rid;desc="` + tc.r.rid + `"`} {
			if !strings.Contains(st, part) {
				t.Errorf("Server-Timing %q lacks %q", st, part)
			}
		}
	}
	p0 := &model.ResponseHeadersPolicy{ID: "cccccccc-0000-4000-8000-000000000004", Name: "st0", ServerTiming: &model.ServerTimingConfig{SamplingRate: 0}}
	ev0, _ := policyEnv(t, rhpBehavior(p0), nil)
	c0 := ev0.client(false, false)
	if st := ev0.do(c0, http.MethodGet, "http://"+testDomain+"/t", nil).header.Get("Server-Timing"); st != "" {
		t.Errorf("rate 0 sent Server-Timing %q", st)
	}
	if st := ev0.do(c0, http.MethodGet, "http://"+testDomain+"/t", http.Header{"Pragma": {"server-timing"}}).header.Get("Server-Timing"); !strings.Contains(st, "cdn-cache-hit") {
		t.Errorf("Pragma: server-timing got %q", st)
	}
}

// TestManagedResponseHeadersPolicies checks each managed response headers
// policy by ID.
func TestManagedResponseHeadersPolicies(t *testing.T) {
	for _, tc := range []struct {
		id   string
		want map[string]string
	}{
		{SecurityHeadersPolicyID, map[string]string{"X-Frame-Options": "SAMEORIGIN", "Strict-Transport-Security": "max-age=31536000",
			"X-Content-Type-Options": "nosniff", "Referrer-Policy": "strict-origin-when-cross-origin", "X-Xss-Protection": "1; mode=block", "Access-Control-Allow-Origin": ""}},
		{SimpleCORSID, map[string]string{"Access-Control-Allow-Origin": "*", "X-Frame-Options": ""}},
		{CORSAndSecurityHeadersPolicyID, map[string]string{"Access-Control-Allow-Origin": "*", "X-Frame-Options": "SAMEORIGIN"}},
		{CORSWithPreflightID, map[string]string{"Access-Control-Allow-Origin": "*", "Access-Control-Expose-Headers": "*"}},
		{CORSWithPreflightAndSecurityHeadersPolicy, map[string]string{"Access-Control-Allow-Origin": "*", "X-Content-Type-Options": "nosniff"}},
	} {
		b := policyBehavior(CachingOptimizedID, "")
		b.ResponseHeadersPolicyID = tc.id
		ev, _ := policyEnv(t, b, nil)
		r := ev.do(ev.client(false, false), http.MethodGet, "http://"+testDomain+"/m", http.Header{"Origin": {"https://a.example"}})
		for name, want := range tc.want {
			if got := r.header.Get(name); got != want {
				t.Errorf("%s: %s = %q, want %q", tc.id, name, got, want)
			}
		}
	}
}

// TestManagedPoliciesMatchStack: every managed policy ID the stack accepts
// is one the edge knows (and the other way round).
func TestManagedPoliciesMatchStack(t *testing.T) {
	for id, name := range stack.ManagedPolicies(stack.KindCachePolicy) {
		if cp, ok := managedCachePolicy(id); !ok || cp.name != name {
			t.Errorf("cache policy %s (%s): edge has %q, %v", id, name, cp.name, ok)
		}
	}
	for id, name := range stack.ManagedPolicies(stack.KindOriginRequestPolicy) {
		if orp, ok := managedOriginRequestPolicy(id); !ok || orp.name != name {
			t.Errorf("origin request policy %s (%s): edge has %q, %v", id, name, orp.name, ok)
		}
	}
	for id, name := range stack.ManagedPolicies(stack.KindResponseHeadersPolicy) {
		if p, ok := managedResponseHeadersPolicy(id); !ok || p.Name != name {
			t.Errorf("response headers policy %s (%s): edge has %v", id, name, ok)
		}
	}
}

// TestUseOriginCacheControlHeaders: the managed policy caches by the
// origin's Cache-Control only (DefaultTTL 0) and keys on Host.
func TestUseOriginCacheControlHeaders(t *testing.T) {
	ev, origin := policyEnv(t, policyBehavior(UseOriginCacheControlHeadersID, ""), nil)
	c := ev.client(false, false)
	ev.do(c, http.MethodGet, "http://"+testDomain+"/u", nil)
	if r := ev.do(c, http.MethodGet, "http://"+testDomain+"/u", nil); r.header.Get("X-Cache") != "Hit from cloudfront" {
		t.Errorf("max-age=3600 object not cached: %q", r.header.Get("X-Cache"))
	}
	if req := origin.lastRequest(); req.Host != testDomain {
		t.Errorf("Host %q: the policy keys on (and forwards) Host", req.Host)
	}
}

// TestCachePolicyCloudFrontHeaderInKey: a CloudFront-* header in a cache
// policy's key is the edge's generated value (never the viewer's copy) and
// is sent to the origin (cloudfront.md §3.4, §4.5).
func TestCachePolicyCloudFrontHeaderInKey(t *testing.T) {
	cp := customCachePolicy(items(model.PolicyNone), items(model.PolicyNone), items(model.PolicyWhitelist, "CloudFront-Forwarded-Proto"))
	b := policyBehavior(cp.ID, "")
	b.CachePolicy = cp
	ev, origin := policyEnv(t, b, nil)
	spoof := http.Header{"Cloudfront-Forwarded-Proto": {"https"}}
	for i, tc := range []struct {
		https bool
		hdr   http.Header
		want  string
	}{
		{false, nil, "Miss"},
		{false, spoof, "Hit"}, // the viewer's copy is not the key
		{true, nil, "Miss"},
		{true, nil, "Hit"},
	} {
		scheme := "http"
		if tc.https {
			scheme = "https"
		}
		r := ev.do(ev.client(tc.https, false), http.MethodGet, scheme+"://"+testDomain+"/cf", tc.hdr)
		if got := strings.TrimSuffix(r.header.Get("X-Cache"), " from cloudfront"); got != tc.want {
			t.Errorf("%d: %s is %s, want %s", i, scheme, got, tc.want)
		}
	}
	if got := origin.lastRequest().Header.Get("Cloudfront-Forwarded-Proto"); got != "https" {
		t.Errorf("origin CloudFront-Forwarded-Proto %q, want https", got)
	}
}

// TestSelectionUnion: what reaches the origin is the union of the cache
// key and the origin request policy (cloudfront.md §3.6), for every pair
// of modes.
func TestSelectionUnion(t *testing.T) {
	none := selection{}
	all := selection{mode: selectAll}
	list := func(n ...string) selection { return selection{mode: selectList, names: n} }
	except := func(n ...string) selection { return selection{mode: selectAllExcept, names: n} }
	for i, tc := range []struct {
		a, b      selection
		in, notIn []string
	}{
		{none, none, nil, []string{"a"}},
		{list("a"), none, []string{"a"}, []string{"b"}},
		{list("a"), list("b"), []string{"a", "b"}, []string{"c"}},
		{except("a", "b"), list("a"), []string{"a", "c"}, []string{"b"}},
		{except("a", "b"), except("b", "c"), []string{"a", "c", "d"}, []string{"b"}},
		{except("a"), list("a"), []string{"a", "z"}, nil},
		{except("a"), all, []string{"a"}, nil},
		{none, except("a"), []string{"b"}, []string{"a"}},
	} {
		for _, u := range []selection{tc.a.union(tc.b), tc.b.union(tc.a)} {
			for _, n := range tc.in {
				if !u.has(n) {
					t.Errorf("%d: %q not selected by %+v", i, n, u)
				}
			}
			for _, n := range tc.notIn {
				if u.has(n) {
					t.Errorf("%d: %q selected by %+v", i, n, u)
				}
			}
		}
	}
}
