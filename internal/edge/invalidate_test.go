package edge

import (
	"errors"
	"net/http"
	"strings"
	"testing"

	"github.com/kumo-dev/kumo/internal/model"
)

func TestInvalidationPath(t *testing.T) {
	for _, tc := range []struct {
		path string
		ok   bool
	}{
		{"/images/*", true},
		{"/images/image*", true},
		{"/*", true},
		{"/file.jpg*", true},
		{"/a%20b.jpg", true},
		{"/a.jpg?v=1", true},
		{"", false},
		{"images/*", false},
		{"/a*/b", false},
		{"/**", false},
		{"/a b", false},
		{"/caf\u00e9", false},
		{"/" + strings.Repeat("a", 4000), false},
		{"/" + strings.Repeat("a", 3999), true},
	} {
		if err := InvalidationPath(tc.path); (err == nil) != tc.ok {
			t.Errorf("InvalidationPath(%.40q) = %v, want ok=%v", tc.path, err, tc.ok)
		}
	}
}

// TestInvalidationRemovesEveryVariant implements cloudfront.md §4.9 through
// real requests: a wildcard removes every object under the prefix with all
// its variants (here, Accept-Encoding), paths are case-sensitive, and for a
// query-keyed object the query must be named or wildcarded.
func TestInvalidationRemovesEveryVariant(t *testing.T) {
	origin := startOrigin(t, func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Cache-Control", "max-age=3600")
		w.Header().Set("Content-Type", "text/plain")
		_, _ = w.Write([]byte(r.URL.RequestURI()))
	}, nil)
	cp := &model.CachePolicy{ID: "11111111-2222-4333-8444-555555555555", Name: "keyed", MinTTL: 0, DefaultTTL: 86400, MaxTTL: 31536000,
		Gzip: true, Headers: model.PolicyItems{Behavior: model.PolicyNone}, Cookies: model.PolicyItems{Behavior: model.PolicyNone},
		Query: model.PolicyItems{Behavior: model.PolicyWhitelist, Items: []string{"v"}}}
	b := policyBehavior(cp.ID, "")
	b.CachePolicy = cp
	ev := newEnv(t, nil, testStack(testOrigin("origin.example.com", model.OriginHTTPOnly), b))
	ev.res.Set("origin.example.com", origin.addr)
	c := ev.client(false, false)
	get := func(path string, gzip bool) string {
		t.Helper()
		h := http.Header{"Accept-Encoding": {"identity"}}
		if gzip {
			h.Set("Accept-Encoding", "gzip")
		}
		r := ev.do(c, http.MethodGet, "http://"+testDomain+path, h)
		if r.status != 200 {
			t.Fatalf("GET %s: %d", path, r.status)
		}
		return strings.TrimSuffix(r.header.Get("X-Cache"), " from cloudfront")
	}
	paths := []string{"/images/a.jpg", "/images/b.jpg", "/Images/c.jpg", "/index.html", "/q.jpg?v=1", "/q.jpg?v=2"}
	for _, p := range paths {
		get(p, false)
		if got := get(p, false); got != "Hit" {
			t.Fatalf("%s second request: %s", p, got)
		}
	}
	get("/images/a.jpg", true)
	if got := get("/images/a.jpg", true); got != "Hit" {
		t.Fatalf("gzip variant second request: %s", got)
	}
	inv := func(paths ...string) {
		t.Helper()
		if _, err := ev.edge.Invalidate("E1UOOOPI28P7FY", paths); err != nil {
			t.Fatal(err)
		}
	}
	inv("/images/*")
	for _, tc := range []struct {
		path string
		gzip bool
		want string
	}{
		{"/images/a.jpg", false, "Miss"},
		{"/images/a.jpg", true, "Miss"}, // every variant
		{"/images/b.jpg", false, "Miss"},
		{"/Images/c.jpg", false, "Hit"}, // case-sensitive
		{"/index.html", false, "Hit"},
	} {
		if got := get(tc.path, tc.gzip); got != tc.want {
			t.Errorf("after /images/*: %s (gzip %v) is %s, want %s", tc.path, tc.gzip, got, tc.want)
		}
	}
	inv("/q.jpg")
	if got := get("/q.jpg?v=1", false); got != "Hit" {
		t.Errorf("/q.jpg without its query removed the query-keyed object: %s", got)
	}
	inv("/q.jpg?v=1")
	if got1, got2 := get("/q.jpg?v=1", false), get("/q.jpg?v=2", false); got1 != "Miss" || got2 != "Hit" {
		t.Errorf("after /q.jpg?v=1: v=1 %s (want Miss), v=2 %s (want Hit)", got1, got2)
	}
	inv("/q.jpg*")
	if got := get("/q.jpg?v=2", false); got != "Miss" {
		t.Errorf("after /q.jpg*: v=2 %s, want Miss", got)
	}
	if _, err := ev.edge.Invalidate("ENOPE", []string{"/*"}); !errors.Is(err, ErrNoSuchDistribution) {
		t.Errorf("unknown distribution: %v", err)
	}
	if _, err := ev.edge.Invalidate("E1UOOOPI28P7FY", []string{"/a*b"}); err == nil {
		t.Errorf("an invalid path was accepted")
	}
}
