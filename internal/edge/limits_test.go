package edge

import (
	"net/http"
	"strings"
	"testing"

	"github.com/kumo-dev/kumo/internal/model"
)

// TestRequestLimits implements cloudfront.md §5.9: a URL over 8,192 bytes
// gets 414, request headers over 32,768 bytes get 494 with the connection
// closed, and neither is logged; requests just under the limits are served.
func TestRequestLimits(t *testing.T) {
	origin := startOrigin(t, func(w http.ResponseWriter, r *http.Request) { _, _ = w.Write([]byte("ok")) }, nil)
	ev := newEnv(t, nil, testStack(testOrigin("origin.example.com", model.OriginHTTPOnly), policyBehavior(CachingDisabledID, "")))
	ev.res.Set("origin.example.com", origin.addr)
	c := ev.client(false, false)
	base := "http://" + testDomain
	urlRoom := maxViewerURL - len(base)
	for _, tc := range []struct {
		name   string
		path   string
		hdr    http.Header
		status int
	}{
		{"URL at the limit", "/" + strings.Repeat("a", urlRoom-1), nil, 200},
		{"URL over the limit", "/" + strings.Repeat("a", urlRoom), nil, 414},
		{"headers over the limit", "/h", http.Header{"X-Big": {strings.Repeat("b", maxViewerRequestHeader)}}, 494},
		{"headers under the limit", "/h", http.Header{"X-Big": {strings.Repeat("b", maxViewerRequestHeader-400)}}, 200},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r := ev.do(c, http.MethodGet, base+tc.path, tc.hdr)
			if r.status != tc.status {
				t.Fatalf("status %d, want %d", r.status, tc.status)
			}
			if tc.status == 200 {
				ev.logs.wait(t, r.rid)
				return
			}
			if r.header.Get("X-Cache") != "Error from cloudfront" || !strings.Contains(string(r.body), "<H1>"+http.StatusText(tc.status)) && !strings.Contains(string(r.body), "ERROR</H1>") {
				t.Errorf("not CloudFront's error page: %q %q", r.header.Get("X-Cache"), r.body)
			}
			// A following request is logged; the refused one never is.
			next := ev.do(c, http.MethodGet, base+"/next", nil)
			ev.logs.wait(t, next.rid)
			ev.logs.mu.Lock()
			defer ev.logs.mu.Unlock()
			for _, rec := range ev.logs.recs {
				if rec.RequestID == r.rid {
					t.Errorf("the %d request was logged", tc.status)
				}
			}
		})
	}
}
