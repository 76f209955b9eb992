package edge

import (
	"net/http"
	"testing"
	"time"

	"github.com/kumo-dev/kumo/internal/model"
)

// TestOriginReadTimeoutRetriesPerMethod implements cloudfront.md §3.1: on
// OriginReadTimeout a GET or HEAD is retried up to ConnectionAttempts
// times; DELETE, OPTIONS, PATCH, PUT and POST are not retried.
func TestOriginReadTimeoutRetriesPerMethod(t *testing.T) {
	origin := startOrigin(t, func(w http.ResponseWriter, r *http.Request) {
		select { // never answers; returns when the edge drops the connection
		case <-r.Context().Done():
		case <-time.After(30 * time.Second):
		}
	}, nil)
	o := testOrigin("origin.example.com", model.OriginHTTPOnly)
	o.ConnectionAttempts = 2
	o.Custom.ReadTimeout = time.Second
	b := policyBehavior(CachingDisabledID, "")
	b.AllowedMethods = []string{"GET", "HEAD", "OPTIONS", "PUT", "POST", "PATCH", "DELETE"}
	ev := newEnv(t, nil, testStack(o, b))
	ev.res.Set("origin.example.com", origin.addr)
	c := ev.client(false, false)
	for _, tc := range []struct {
		method string
		tries  int64
	}{
		{http.MethodGet, 2},
		{http.MethodPost, 1},
		{http.MethodOptions, 1},
	} {
		before := origin.hits.Load()
		r := ev.do(c, tc.method, "http://"+testDomain+"/slow", nil)
		if r.status != http.StatusGatewayTimeout {
			t.Errorf("%s: status %d, want 504", tc.method, r.status)
		}
		if got := origin.hits.Load() - before; got != tc.tries {
			t.Errorf("%s: %d origin attempts, want %d", tc.method, got, tc.tries)
		}
	}
}
