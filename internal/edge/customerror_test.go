package edge

import (
	"net/http"
	"testing"
	"time"

	"github.com/kumo-dev/kumo/internal/model"
)

// TestCustomErrorResponses implements cloudfront.md §5.5 and §4.4: an
// error status with a ResponsePagePath is replaced by that page, fetched
// through the behavior matching the page and cached by it, with
// ResponseCode; the log keeps the Error result with the rewritten status;
// a page that cannot be fetched gives the viewer the page fetch's status;
// ErrorCachingMinTTL sets how long the error stays cached.
func TestCustomErrorResponses(t *testing.T) {
	site := startOrigin(t, func(w http.ResponseWriter, r *http.Request) {
		switch r.URL.Path {
		case "/boom":
			w.WriteHeader(http.StatusServiceUnavailable)
		case "/e500":
			w.WriteHeader(http.StatusInternalServerError)
		default:
			w.WriteHeader(http.StatusNotFound)
		}
		_, _ = w.Write([]byte("site error"))
	}, nil)
	pages := startOrigin(t, func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path != "/errors/404.html" {
			w.WriteHeader(http.StatusNotFound)
			_, _ = w.Write([]byte("no such page"))
			return
		}
		w.Header().Set("Content-Type", "text/html")
		w.Header().Set("Cache-Control", "max-age=3600")
		_, _ = w.Write([]byte("<p>custom page</p>"))
	}, nil)
	o2 := testOrigin("pages.example.com", model.OriginHTTPOnly)
	o2.ID = "o2"
	errs := policyBehavior(CachingOptimizedID, "")
	errs.PathPattern = "/errors/*"
	errs.TargetOriginID = "o2"
	st := testStack(testOrigin("site.example.com", model.OriginHTTPOnly), policyBehavior(CachingOptimizedID, ""), func(d *model.Distribution) {
		d.Origins = append(d.Origins, o2)
		d.Behaviors = []*model.CacheBehavior{errs}
		d.CustomErrorResponses = []*model.CustomErrorResponse{
			{ErrorCode: 404, ResponsePagePath: "/errors/404.html", ResponseCode: 200, ErrorCachingMinTTL: 30 * time.Second},
			{ErrorCode: 503, ResponsePagePath: "/errors/missing.html", ResponseCode: 503, ErrorCachingMinTTL: 10 * time.Second},
			{ErrorCode: 500, ErrorCachingMinTTL: 0},
		}
	})
	ev := newEnv(t, nil, st)
	ev.res.Set("site.example.com", site.addr)
	ev.res.Set("pages.example.com", pages.addr)
	c := ev.client(false, false)

	r := ev.do(c, http.MethodGet, "http://"+testDomain+"/missing", nil)
	if r.status != 200 || string(r.body) != "<p>custom page</p>" || r.header.Get("Content-Type") != "text/html" || r.header.Get("X-Cache") != "Error from cloudfront" {
		t.Fatalf("custom 404: %d %q %q %q", r.status, r.body, r.header.Get("Content-Type"), r.header.Get("X-Cache"))
	}
	rec := ev.logs.wait(t, r.rid)
	if rec.Status != 200 || rec.ResultType != "Error" || rec.ContentLen != int64(len("<p>custom page</p>")) {
		t.Errorf("log: %d %s len %d", rec.Status, rec.ResultType, rec.ContentLen)
	}
	// The error and the page are both cached: within ErrorCachingMinTTL
	// (30 s, more than the 10 s default) neither origin is asked again.
	ev.clock.Advance(20 * time.Second)
	siteHits, pageHits := site.hits.Load(), pages.hits.Load()
	r = ev.do(c, http.MethodGet, "http://"+testDomain+"/missing", nil)
	if r.status != 200 || string(r.body) != "<p>custom page</p>" {
		t.Errorf("cached custom 404: %d %q", r.status, r.body)
	}
	if site.hits.Load() != siteHits || pages.hits.Load() != pageHits {
		t.Errorf("origins asked again within ErrorCachingMinTTL: site %d→%d, pages %d→%d", siteHits, site.hits.Load(), pageHits, pages.hits.Load())
	}
	ev.clock.Advance(11 * time.Second)
	ev.do(c, http.MethodGet, "http://"+testDomain+"/missing", nil)
	if site.hits.Load() != siteHits+1 {
		t.Errorf("after ErrorCachingMinTTL the site was not asked again")
	}

	// A page that cannot be fetched: the viewer gets the fetch's status.
	r = ev.do(c, http.MethodGet, "http://"+testDomain+"/boom", nil)
	if r.status != 404 || string(r.body) != "no such page" {
		t.Errorf("unfetchable page: %d %q", r.status, r.body)
	}
	// HEAD gets the page's status and headers without a body.
	r = ev.do(c, http.MethodHead, "http://"+testDomain+"/missing2", nil)
	if r.status != 200 || len(r.body) != 0 {
		t.Errorf("HEAD: %d %q", r.status, r.body)
	}
	// ErrorCachingMinTTL 0 without a page: the 500 is passed through and
	// not cached.
	siteHits = site.hits.Load()
	for i := 0; i < 2; i++ {
		r = ev.do(c, http.MethodGet, "http://"+testDomain+"/e500", nil)
		if r.status != 500 || string(r.body) != "site error" {
			t.Errorf("500: %d %q", r.status, r.body)
		}
	}
	if n := site.hits.Load(); n != siteHits+2 {
		t.Errorf("a 500 with ErrorCachingMinTTL 0 was cached (site hits %d)", n)
	}
}
