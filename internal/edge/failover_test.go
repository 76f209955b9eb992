package edge

import (
	"net/http"
	"strings"
	"testing"

	"github.com/kumo-dev/kumo/internal/nettest"

	"github.com/kumo-dev/kumo/internal/model"
)

// TestOriginGroupFailover implements cloudfront.md §3.2: GET/HEAD/OPTIONS
// go to the primary first and fail over to the secondary on a configured
// status code or when the primary cannot be reached; other statuses and
// other methods never fail over.
func TestOriginGroupFailover(t *testing.T) {
	primary := startOrigin(t, func(w http.ResponseWriter, r *http.Request) {
		switch {
		case strings.HasPrefix(r.URL.Path, "/503"):
			w.WriteHeader(http.StatusServiceUnavailable)
		case strings.HasPrefix(r.URL.Path, "/404"):
			w.WriteHeader(http.StatusNotFound)
		}
		_, _ = w.Write([]byte("primary"))
	}, nil)
	secondary := startOrigin(t, func(w http.ResponseWriter, r *http.Request) { _, _ = w.Write([]byte("secondary")) }, nil)
	dead := nettest.RefusedAddr(t) // a port that refuses connections

	o1 := testOrigin("primary.example.com", model.OriginHTTPOnly)
	o2 := testOrigin("secondary.example.com", model.OriginHTTPOnly)
	o2.ID = "o2"
	o3 := testOrigin("dead.example.com", model.OriginHTTPOnly)
	o3.ID = "o3"
	b := policyBehavior(CachingDisabledID, "")
	b.TargetOriginID = "g1"
	b.AllowedMethods = []string{"GET", "HEAD", "OPTIONS", "PUT", "POST", "PATCH", "DELETE"}
	dead1 := policyBehavior(CachingDisabledID, "")
	dead1.PathPattern = "/dead/*"
	dead1.TargetOriginID = "g2"
	dead1.AllowedMethods = b.AllowedMethods
	st := testStack(o1, b, func(d *model.Distribution) {
		d.Origins = append(d.Origins, o2, o3)
		d.Behaviors = []*model.CacheBehavior{dead1}
		d.OriginGroups = []*model.OriginGroup{
			{ID: "g1", Primary: "o1", Secondary: "o2", FailoverStatusCodes: []int{500, 503}},
			{ID: "g2", Primary: "o3", Secondary: "o2", FailoverStatusCodes: []int{500}},
		}
	})
	ev := newEnv(t, nil, st)
	ev.res.Set("primary.example.com", primary.addr)
	ev.res.Set("secondary.example.com", secondary.addr)
	ev.res.Set("dead.example.com", dead)
	c := ev.client(false, false)
	for _, tc := range []struct {
		method, path string
		status       int
		body         string
	}{
		{"GET", "/ok", 200, "primary"},
		{"GET", "/503", 200, "secondary"},
		{"HEAD", "/503", 200, ""},
		{"OPTIONS", "/503", 200, "secondary"},
		{"GET", "/404", 404, "primary"},
		{"POST", "/503", 503, "primary"},
		{"GET", "/dead/x", 200, "secondary"},
		{"DELETE", "/dead/x", 502, ""},
	} {
		before := secondary.hits.Load()
		r := ev.do(c, tc.method, "http://"+testDomain+tc.path, nil)
		if r.status != tc.status || (tc.body != "" && string(r.body) != tc.body) {
			t.Errorf("%s %s: %d %q, want %d %q", tc.method, tc.path, r.status, r.body, tc.status, tc.body)
		}
		wantSecondary := tc.body == "secondary" || (tc.method == "HEAD" && tc.status == 200)
		if got := secondary.hits.Load() - before; (got == 1) != wantSecondary {
			t.Errorf("%s %s: the secondary got %d requests", tc.method, tc.path, got)
		}
	}
}
