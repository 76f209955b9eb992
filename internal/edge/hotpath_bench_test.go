package edge

import (
	"net/http/httptest"
	"testing"

	"github.com/kumo-dev/kumo/internal/model"
)

// benchPatterns are ten CacheBehavior path patterns of a typical site.
var benchPatterns = []string{"/api/*", "/img/*.jpg", "/img/*.png", "/static/*", "/assets/v?/*",
	"/video/*", "/downloads/*.zip", "*.css", "*.js", "/admin*"}

// benchStack is a CachingOptimized distribution with benchPatterns as its
// CacheBehaviors (all CachingOptimized too).
func benchStack() *model.Stack {
	return testStack(testOrigin("origin.example.com", model.OriginHTTPOnly), policyBehavior(CachingOptimizedID, ""),
		func(d *model.Distribution) {
			for _, p := range benchPatterns {
				b := policyBehavior(CachingOptimizedID, "")
				b.PathPattern = p
				d.Behaviors = append(d.Behaviors, b)
			}
		})
}

// BenchmarkMatchBehavior: cloudfront.md §5.3 (issue 6 item 2) with ten path
// patterns, for a path the first pattern takes, one the last takes, and one
// that falls through to the default behavior.
func BenchmarkMatchBehavior(b *testing.B) {
	ev := newEnv(b, nil, benchStack())
	d := ev.edge.dists[0]
	for _, tc := range []struct {
		name, path string
		want       int // index into benchPatterns, -1 for the default behavior
	}{
		{"first pattern", "/api/v1/users", 0},
		{"last pattern", "/admin/login", 9},
		{"default after 10 patterns", "/index.html", -1},
	} {
		b.Run(tc.name, func(b *testing.B) {
			got := d.matchBehavior(tc.path)
			if want := d.behaviors[len(d.behaviors)-1]; tc.want >= 0 {
				want = d.behaviors[tc.want]
				if got != want {
					b.Fatalf("matched behavior %q, want %q", got.pattern, want.pattern)
				}
			} else if got != want {
				b.Fatalf("matched behavior %q, want the default", got.pattern)
			}
			b.ReportAllocs()
			for b.Loop() {
				d.matchBehavior(tc.path)
			}
		})
	}
}

// BenchmarkCacheKey: cloudfront.md §4.5 (issue 6 item 2), the key of a
// CachingOptimized request (path, behavior, normalised Accept-Encoding),
// without and with a query string in the policy.
func BenchmarkCacheKey(b *testing.B) {
	for _, tc := range []struct {
		name, policy, target string
	}{
		{"CachingOptimized", CachingOptimizedID, "/img/logo.png"},
		{"query string in key (UseOriginCacheControlHeaders-QueryStrings)", UseOriginCacheControlHeadersQueryStringsID, "/search?q=kumo&page=2"},
	} {
		b.Run(tc.name, func(b *testing.B) {
			ev := newEnv(b, nil, testStack(testOrigin("origin.example.com", model.OriginHTTPOnly), policyBehavior(tc.policy, "")))
			r := httptest.NewRequest("GET", "https://"+testDomain+tc.target, nil)
			r.Header.Set("Accept-Encoding", "gzip, deflate, br")
			t := &txn{e: ev.edge, r: r, https: true, host: testDomain, d: ev.edge.dists[0]}
			t.beh = t.d.matchBehavior(r.URL.Path)
			p := requestPath(r)
			key := string(t.appendCacheKey(nil, p))
			if len(key) <= len(p) || key[:len(p)] != p {
				b.Fatalf("key %q does not start with the path", key)
			}
			b.SetBytes(int64(len(key)))
			b.ReportAllocs()
			for b.Loop() {
				t.appendCacheKey(t.keyBuf[:0], p) // as lookup builds it
			}
		})
	}
}
