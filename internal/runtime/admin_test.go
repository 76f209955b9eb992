package runtime_test

import (
	"context"
	"net/http"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/kumo-dev/kumo/internal/admin"
	"github.com/kumo-dev/kumo/internal/runtime"
	"github.com/kumo-dev/kumo/internal/stack"
)

var invalidationIDRe = regexp.MustCompile(`^I[A-Z0-9]{13}$`)

// TestInvalidationThroughAdminEndpoint implements cloudfront.md §4.9
// through the real runtime: a cached object is a Hit; after an invalidation
// created on the admin endpoint completes, the next request is a Miss.
func TestInvalidationThroughAdminEndpoint(t *testing.T) {
	e := start(t, stack.DefaultTemplate())
	d := e.stack.Distributions[0]
	xcache := func() string {
		t.Helper()
		r := e.viewer(http.MethodGet, "https", d.DomainName, "/", nil)
		if r.status != http.StatusOK {
			t.Fatalf("status %d", r.status)
		}
		return r.header.Get("X-Cache")
	}
	if got := xcache(); got != "Miss from cloudfront" {
		t.Fatalf("first request: %q", got)
	}
	if got := xcache(); got != "Hit from cloudfront" {
		t.Fatalf("second request: %q", got)
	}
	c, err := admin.NewClient(e.rt.Endpoints().Admin, e.stateDir)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()

	// Rejected batches (cloudfront.md §4.9) and unknown distributions.
	for _, tc := range []struct {
		dist  string
		paths []string
		want  string
	}{
		{d.ID, []string{"images/*"}, "must start with /"},
		{d.ID, []string{"/a*b"}, "only allowed as the last character"},
		{d.ID, []string{"/caf\u00e9"}, "URL-encoded"},
		{d.ID, nil, "at least one path"},
		{"E0000000000000", []string{"/*"}, "NoSuchDistribution"},
	} {
		var out runtime.InvalidationOutput
		err := c.Do(ctx, http.MethodPost, "/v1/distributions/"+tc.dist+"/invalidations", runtime.CreateInvalidationInput{Paths: tc.paths}, &out)
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("paths %q on %s: error %v, want one containing %q", tc.paths, tc.dist, err, tc.want)
		}
	}

	var out runtime.InvalidationOutput
	in := runtime.CreateInvalidationInput{Paths: []string{"/*"}, CallerReference: "test-1"}
	if err := c.Do(ctx, http.MethodPost, "/v1/distributions/"+d.ID+"/invalidations", in, &out); err != nil {
		t.Fatal(err)
	}
	inv := out.Invalidation
	if !invalidationIDRe.MatchString(inv.ID) {
		t.Errorf("invalidation ID %q is not I + 13 uppercase alphanumerics", inv.ID)
	}
	if inv.Status != runtime.InvalidationInProgress && inv.Status != runtime.InvalidationCompleted {
		t.Errorf("status %q", inv.Status)
	}
	if inv.InvalidationBatch.CallerReference != "test-1" || inv.InvalidationBatch.Paths.Quantity != 1 {
		t.Errorf("batch %+v", inv.InvalidationBatch)
	}
	done, err := runtime.WaitInvalidation(ctx, c, d.ID, inv.ID)
	if err != nil {
		t.Fatal(err)
	}
	if done.Invalidation.Status != runtime.InvalidationCompleted || done.Invalidation.ID != inv.ID {
		t.Errorf("after waiting: %+v", done.Invalidation)
	}
	if got := xcache(); got != "Miss from cloudfront" {
		t.Errorf("after the invalidation: %q, want a Miss", got)
	}
	var list runtime.InvalidationList
	if err := c.Do(ctx, http.MethodGet, "/v1/distributions/"+d.ID+"/invalidations", nil, &list); err != nil {
		t.Fatal(err)
	}
	if len(list.Items) != 1 || list.Items[0].ID != inv.ID {
		t.Errorf("list %+v", list.Items)
	}
	if err := c.Do(ctx, http.MethodGet, "/v1/distributions/"+d.ID+"/invalidations/INOPE", nil, nil); err == nil || !strings.Contains(err.Error(), "NoSuchInvalidation") {
		t.Errorf("unknown invalidation: %v", err)
	}
}

// TestViewerHTTP3Listener: the runtime binds the viewer HTTP/3 listener on
// the HTTPS listener's port (over UDP) and an http2and3 distribution
// advertises it (cloudfront.md §5.8, §3.10).
func TestViewerHTTP3Listener(t *testing.T) {
	src := strings.Replace(string(stack.DefaultTemplate()), "HttpVersion: http2\n", "HttpVersion: http2and3\n", 1)
	if !strings.Contains(src, "http2and3") {
		t.Fatal("default template has no HttpVersion: http2")
	}
	e := start(t, []byte(src))
	d := e.stack.Distributions[0]
	_, port, _ := strings.Cut(e.rt.Endpoints().Viewer.HTTPS, "127.0.0.1:")
	r := e.viewer(http.MethodGet, "https", d.DomainName, "/", nil)
	if want := `h3=":` + port + `"; ma=86400`; r.header.Get("Alt-Svc") != want {
		t.Errorf("Alt-Svc %q, want %q", r.header.Get("Alt-Svc"), want)
	}
}
