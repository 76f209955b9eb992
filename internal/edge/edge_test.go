package edge

import (
	"bytes"
	"crypto/tls"
	"net/http"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/kumo-dev/kumo/internal/nettest"

	"github.com/kumo-dev/kumo/internal/accesslog"
	"github.com/kumo-dev/kumo/internal/model"
	"github.com/kumo-dev/kumo/internal/pki"
)

var (
	viaRE       = regexp.MustCompile(`^1\.1 [0-9a-f]{32}\.cloudfront\.net \(CloudFront\)$`)
	originViaRE = regexp.MustCompile(`^(1\.1|2\.0) [0-9a-f]{32}\.cloudfront\.net \(CloudFront\)$`)
	ridRE       = regexp.MustCompile(`^[A-Za-z0-9_-]{54}==$`)
)

func checkEdgeHeaders(t *testing.T, r result, xCache string) {
	t.Helper()
	if got := r.header.Get("X-Cache"); got != xCache {
		t.Errorf("X-Cache = %q, want %q", got, xCache)
	}
	if got := r.header.Get("Via"); !viaRE.MatchString(got) {
		t.Errorf("Via = %q", got)
	}
	if got := r.header.Get("X-Amz-Cf-Pop"); got != DefaultEdgeLocation {
		t.Errorf("X-Amz-Cf-Pop = %q", got)
	}
	if !ridRE.MatchString(r.rid) {
		t.Errorf("X-Amz-Cf-Id = %q", r.rid)
	}
}

func checkResult(t *testing.T, rec accesslog.CloudFrontRecord, result, response, detailed string) {
	t.Helper()
	if rec.ResultType != result || rec.ResponseResultType != response || rec.DetailedResultType != detailed {
		t.Errorf("result types = %s/%s/%s, want %s/%s/%s", rec.ResultType, rec.ResponseResultType, rec.DetailedResultType, result, response, detailed)
	}
}

func okHandler(body, cacheControl string) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/plain")
		if cacheControl != "" {
			w.Header().Set("Cache-Control", cacheControl)
		}
		w.Header().Set("ETag", `"v1"`)
		_, _ = w.Write([]byte(body))
	}
}

func TestMissThenHit(t *testing.T) {
	ca := newCA(t)
	cert, err := ca.Issue([]string{"origin.example.com"})
	if err != nil {
		t.Fatal(err)
	}
	org := startOrigin(t, okHandler("hello world", "max-age=60"), cert)
	ev := newEnv(t, ca, testStack(testOrigin("origin.example.com", model.OriginHTTPSOnly), policyBehavior(CachingOptimizedID, "")))
	ev.res.Set("origin.example.com", org.addr)
	c := ev.client(true, false)
	url := "https://" + testDomain + "/index.html"

	miss := ev.do(c, "GET", url, nil)
	if miss.status != 200 || string(miss.body) != "hello world" {
		t.Fatalf("miss: %d %q", miss.status, miss.body)
	}
	checkEdgeHeaders(t, miss, "Miss from cloudfront")
	if miss.header.Get("Age") != "" {
		t.Errorf("miss has Age %q", miss.header.Get("Age"))
	}
	rec := ev.logs.wait(t, miss.rid)
	checkResult(t, rec, "Miss", "Miss", "Miss")
	for name, pair := range map[string][2]any{
		"Host":            {rec.Host, testDomain},
		"HostHeader":      {rec.HostHeader, testDomain},
		"Protocol":        {rec.Protocol, "https"},
		"SSLProtocol":     {rec.SSLProtocol, "TLSv1.3"},
		"SSLCipher":       {rec.SSLCipher, "TLS_AES_128_GCM_SHA256"},
		"ProtocolVersion": {rec.ProtocolVersion, "HTTP/1.1"},
		"Status":          {rec.Status, 200},
		"URIStem":         {rec.URIStem, "/index.html"},
		"ContentType":     {rec.ContentType, "text/plain"},
		"ContentLen":      {rec.ContentLen, int64(11)},
		"EdgeLocation":    {rec.EdgeLocation, DefaultEdgeLocation},
		"ClientIP":        {rec.ClientIP, "127.0.0.1"},
		"RangeStart":      {rec.RangeStart, int64(-1)},
		"FLEEncrypted":    {rec.FLEEncryptedFields, -1},
	} {
		if pair[0] != pair[1] {
			t.Errorf("log %s = %v, want %v", name, pair[0], pair[1])
		}
	}
	if rec.SCBytes <= 11 || rec.CSBytes <= 0 || rec.ClientPort == 0 {
		t.Errorf("log bytes/port: sc %d cs %d port %d", rec.SCBytes, rec.CSBytes, rec.ClientPort)
	}

	ev.clock.Advance(5 * time.Second)
	hit := ev.do(c, "GET", url, nil)
	if hit.status != 200 || string(hit.body) != "hello world" {
		t.Fatalf("hit: %d %q", hit.status, hit.body)
	}
	checkEdgeHeaders(t, hit, "Hit from cloudfront")
	if got := hit.header.Get("Age"); got != "5" {
		t.Errorf("Age = %q, want 5", got)
	}
	if hit.rid == miss.rid {
		t.Error("request id reused")
	}
	checkResult(t, ev.logs.wait(t, hit.rid), "Hit", "Hit", "Hit")
	if n := org.hits.Load(); n != 1 {
		t.Errorf("origin hits = %d, want 1", n)
	}

	// HEAD is served from the cached GET; a viewer conditional gets 304.
	head := ev.do(c, "HEAD", url, http.Header{"Accept-Encoding": {"gzip"}}) // as Go's client sent on the GET
	if head.status != 200 || head.header.Get("Content-Length") != "11" || head.header.Get("X-Cache") != "Hit from cloudfront" {
		t.Errorf("HEAD: %d %v", head.status, head.header)
	}
	nm := ev.do(c, "GET", url, http.Header{"If-None-Match": {`"v1"`}})
	if nm.status != 304 || len(nm.body) != 0 || nm.header.Get("X-Cache") != "Hit from cloudfront" {
		t.Errorf("conditional: %d %v", nm.status, nm.header)
	}
	if rec := ev.logs.wait(t, nm.rid); rec.Status != 304 || rec.ResultType != "Hit" {
		t.Errorf("conditional log: %d %s", rec.Status, rec.ResultType)
	}
	if n := org.hits.Load(); n != 1 {
		t.Errorf("origin hits = %d, want 1", n)
	}

	// After max-age the object is fetched again.
	ev.clock.Advance(60 * time.Second)
	if r := ev.do(c, "GET", url, nil); r.header.Get("X-Cache") != "Miss from cloudfront" || org.hits.Load() != 2 {
		t.Errorf("after expiry: %s, origin hits %d", r.header.Get("X-Cache"), org.hits.Load())
	}
}

func TestCachingDisabledAlwaysMiss(t *testing.T) {
	org := startOrigin(t, okHandler("x", "max-age=600"), nil)
	ev := newEnv(t, nil, testStack(testOrigin("origin.example.com", model.OriginHTTPOnly), policyBehavior(CachingDisabledID, "")))
	ev.res.Set("origin.example.com", org.addr)
	c := ev.client(true, false)
	for i := range 3 {
		r := ev.do(c, "GET", "https://"+testDomain+"/a", nil)
		checkEdgeHeaders(t, r, "Miss from cloudfront")
		checkResult(t, ev.logs.wait(t, r.rid), "Miss", "Miss", "Miss")
		if n := org.hits.Load(); n != int64(i+1) {
			t.Fatalf("origin hits = %d, want %d", n, i+1)
		}
	}
}

func TestLegacyForwardedValuesTTL(t *testing.T) {
	cases := []struct {
		name             string
		min, def, max    int64
		cacheControl     string
		advance          time.Duration
		wantSecondXCache string
	}{
		{"default ttl applies", 0, 100, 1000, "", 50 * time.Second, "Hit from cloudfront"},
		{"default ttl expired", 0, 100, 1000, "", 101 * time.Second, "Miss from cloudfront"},
		{"max-age under max", 0, 100, 1000, "max-age=10", 5 * time.Second, "Hit from cloudfront"},
		{"max-age expired", 0, 100, 1000, "max-age=10", 11 * time.Second, "Miss from cloudfront"},
		{"max-age clamped to max", 0, 10, 20, "max-age=1000", 21 * time.Second, "Miss from cloudfront"},
		{"no-store with min 0", 0, 100, 1000, "no-store", time.Second, "Miss from cloudfront"},
		{"no-store with min 30", 30, 100, 1000, "no-store", 20 * time.Second, "Hit from cloudfront"},
		{"all zero", 0, 0, 0, "max-age=100", time.Second, "Miss from cloudfront"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			org := startOrigin(t, okHandler("legacy", tc.cacheControl), nil)
			b := &model.CacheBehavior{TargetOriginID: "o1", ViewerProtocolPolicy: "allow-all",
				ForwardedValues: &model.ForwardedValues{CookiesForward: "none"}, MinTTL: tc.min, DefaultTTL: tc.def, MaxTTL: tc.max}
			ev := newEnv(t, nil, testStack(testOrigin("origin.example.com", model.OriginHTTPOnly), b))
			ev.res.Set("origin.example.com", org.addr)
			c := ev.client(true, false)
			if r := ev.do(c, "GET", "https://"+testDomain+"/obj", nil); r.header.Get("X-Cache") != "Miss from cloudfront" {
				t.Fatalf("first X-Cache = %q", r.header.Get("X-Cache"))
			}
			ev.clock.Advance(tc.advance)
			if r := ev.do(c, "GET", "https://"+testDomain+"/obj", nil); r.header.Get("X-Cache") != tc.wantSecondXCache {
				t.Errorf("second X-Cache = %q, want %q", r.header.Get("X-Cache"), tc.wantSecondXCache)
			}
		})
	}
}

func TestErrorCachingOrigin404(t *testing.T) {
	org := startOrigin(t, func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/plain")
		w.WriteHeader(404)
		_, _ = w.Write([]byte("not here"))
	}, nil)
	ev := newEnv(t, nil, testStack(testOrigin("origin.example.com", model.OriginHTTPOnly), policyBehavior(CachingOptimizedID, "")))
	ev.res.Set("origin.example.com", org.addr)
	c := ev.client(true, false)
	url := "https://" + testDomain + "/missing"
	first := ev.do(c, "GET", url, nil)
	if first.status != 404 || string(first.body) != "not here" {
		t.Fatalf("first: %d %q", first.status, first.body)
	}
	checkEdgeHeaders(t, first, "Error from cloudfront")
	checkResult(t, ev.logs.wait(t, first.rid), "Error", "Error", "Error")
	ev.clock.Advance(9 * time.Second)
	second := ev.do(c, "GET", url, nil)
	if second.status != 404 || string(second.body) != "not here" || org.hits.Load() != 1 {
		t.Fatalf("second: %d %q, origin hits %d", second.status, second.body, org.hits.Load())
	}
	checkEdgeHeaders(t, second, "Error from cloudfront")
	checkResult(t, ev.logs.wait(t, second.rid), "Error", "Error", "Error")
	ev.clock.Advance(2 * time.Second) // past ErrorCachingMinTTL (10 s)
	ev.do(c, "GET", url, nil)
	if n := org.hits.Load(); n != 2 {
		t.Errorf("origin hits after error TTL = %d, want 2", n)
	}
}

func TestErrorCachingGenerated502(t *testing.T) {
	for _, tc := range []struct {
		policy     string
		wantCached bool
	}{{CachingOptimizedID, true}, {CachingDisabledID, false}} {
		t.Run(tc.policy, func(t *testing.T) {
			ev := newEnv(t, nil, testStack(testOrigin("nowhere.example.com", model.OriginHTTPOnly), policyBehavior(tc.policy, "")))
			c := ev.client(true, false)
			first := ev.do(c, "GET", "https://"+testDomain+"/", nil)
			if first.status != 502 {
				t.Fatalf("status %d", first.status)
			}
			checkResult(t, ev.logs.wait(t, first.rid), "Error", "Error", "OriginDnsError")
			second := ev.do(c, "GET", "https://"+testDomain+"/", nil)
			checkEdgeHeaders(t, second, "Error from cloudfront")
			rec := ev.logs.wait(t, second.rid)
			if tc.wantCached {
				checkResult(t, rec, "Error", "Error", "Error")
				if !bytes.Equal(second.body, first.body) || ev.res.calls.Load() != 1 {
					t.Errorf("cached page differs or origin resolved again (%d)", ev.res.calls.Load())
				}
			} else {
				checkResult(t, rec, "Error", "Error", "OriginDnsError")
				if ev.res.calls.Load() != 2 {
					t.Errorf("resolver calls = %d, want 2", ev.res.calls.Load())
				}
			}
		})
	}
}

// TestOriginFailures checks each way an origin fetch fails: status, page
// bytes, X-Cache and the log record.
func TestOriginFailures(t *testing.T) {
	ca := newCA(t)
	const name = "origin.example.com"
	issue := func(names ...string) *tls.Certificate {
		c, err := ca.Issue(names)
		if err != nil {
			t.Fatal(err)
		}
		return c
	}
	expired, err := ca.IssueWith([]string{name}, time.Now().Add(-48*time.Hour), time.Now().Add(-24*time.Hour))
	if err != nil {
		t.Fatal(err)
	}
	self, err := pki.SelfSigned([]string{name}, time.Now().Add(-time.Hour), time.Now().Add(24*time.Hour))
	if err != nil {
		t.Fatal(err)
	}
	ok := okHandler("ok", "")
	cases := []struct {
		name     string
		policy   string
		addr     func(t *testing.T) string // "" = name does not resolve
		status   int
		reason   Reason
		detailed string
		pageLen  int
	}{
		{"name mismatch", model.OriginHTTPSOnly, func(t *testing.T) string { return startOrigin(t, ok, issue("alb.example.com")).addr }, 502, ReasonOriginTLSNameMismatch, "OriginConnectError", 951},
		{"self-signed", model.OriginHTTPSOnly, func(t *testing.T) string { return startOrigin(t, ok, self).addr }, 502, ReasonOriginTLSUntrusted, "OriginConnectError", 951},
		{"expired", model.OriginHTTPSOnly, func(t *testing.T) string { return startOrigin(t, ok, expired).addr }, 502, ReasonOriginTLSExpired, "OriginConnectError", 951},
		{"unknown name", model.OriginHTTPSOnly, nil, 502, ReasonOriginDNS, "OriginDnsError", 0},
		{"refused", model.OriginHTTPOnly, func(t *testing.T) string { return nettest.RefusedAddr(t) }, 502, ReasonOriginRefused, "OriginConnectError", 951},
		{"no listener", model.OriginHTTPOnly, func(t *testing.T) string { return "nolistener" }, 502, ReasonOriginRefused, "OriginConnectError", 951},
		{"read timeout", model.OriginHTTPOnly, func(t *testing.T) string { return nettest.SilentAddr(t) }, 504, ReasonOriginReadTimeout, "OriginCommError", 0},
		{"connect timeout", model.OriginHTTPOnly, func(t *testing.T) string { return nettest.SYNDroppingAddr(t) }, 504, ReasonOriginConnectTimeout, "OriginCommError", 0},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			o := testOrigin(name, tc.policy)
			o.Custom.ReadTimeout = time.Second
			ev := newEnv(t, ca, testStack(o, policyBehavior(CachingDisabledID, "")))
			if tc.addr != nil {
				ev.res.Set(name, tc.addr(t))
			}
			r := ev.do(ev.client(true, false), "GET", "https://"+testDomain+"/", nil)
			if r.status != tc.status {
				t.Fatalf("status = %d, want %d", r.status, tc.status)
			}
			want := errorPage(nil, tc.status, tc.reason.Message(), r.rid)
			if !bytes.Equal(r.body, want) {
				t.Errorf("page = %q\nwant %q", r.body, want)
			}
			if tc.pageLen != 0 && len(r.body) != tc.pageLen {
				t.Errorf("page is %d bytes, want %d", len(r.body), tc.pageLen)
			}
			checkEdgeHeaders(t, r, "Error from cloudfront")
			if r.header.Get("Server") != "CloudFront" || r.header.Get("Content-Type") != "text/html" {
				t.Errorf("headers %v", r.header)
			}
			rec := ev.logs.wait(t, r.rid)
			checkResult(t, rec, "Error", "Error", tc.detailed)
			if tc.reason != ReasonOriginReadTimeout {
				if got := ev.dialReason(tc.policy == model.OriginHTTPSOnly); got != tc.reason {
					t.Errorf("dial reason = %s, want %s", got, tc.reason)
				}
			}
			if rec.Status != tc.status || rec.ContentType != "text/html" || rec.ContentLen != int64(len(r.body)) {
				t.Errorf("log status %d type %q len %d (body %d)", rec.Status, rec.ContentType, rec.ContentLen, len(r.body))
			}
		})
	}
}

func TestAllViewerSNI(t *testing.T) {
	ca := newCA(t)
	const originName = "alb-test-1234567890.ap-northeast-1.elb.amazonaws.com"
	const viewerHost = "www.example.com"
	vc := &model.Certificate{LogicalID: "Cert", DomainName: viewerHost}
	for _, tc := range []struct {
		name       string
		certNames  []string
		wantStatus int
	}{
		{"cert for origin domain only fails", []string{originName}, 502},
		{"cert for viewer host succeeds", []string{viewerHost}, 200},
	} {
		t.Run(tc.name, func(t *testing.T) {
			cert, err := ca.Issue(tc.certNames)
			if err != nil {
				t.Fatal(err)
			}
			org := startOrigin(t, okHandler("via alb", ""), cert)
			ev := newEnv(t, ca, testStack(testOrigin(originName, model.OriginHTTPSOnly), policyBehavior(CachingDisabledID, AllViewerID),
				func(d *model.Distribution) {
					d.Aliases = []string{viewerHost}
					d.ViewerCertificate = vc
					d.MinimumProtocolVersion = "TLSv1.2_2021"
				}))
			ev.res.Set(originName, org.addr)
			r := ev.do(ev.client(true, false), "GET", "https://"+viewerHost+"/", nil)
			if r.status != tc.wantStatus {
				t.Fatalf("status %d, want %d: %s", r.status, tc.wantStatus, r.body)
			}
			if got := org.lastSNI(); got != viewerHost {
				t.Errorf("origin saw SNI %q, want %q", got, viewerHost)
			}
			if tc.wantStatus == 200 {
				if req := org.lastRequest(); req.Host != viewerHost {
					t.Errorf("origin Host = %q", req.Host)
				}
			} else {
				checkResult(t, ev.logs.wait(t, r.rid), "Error", "Error", "OriginConnectError")
			}
		})
	}
}

func TestHostRouting(t *testing.T) {
	org := startOrigin(t, okHandler("routed", ""), nil)
	ev := newEnv(t, nil, testStack(testOrigin("origin.example.com", model.OriginHTTPOnly), policyBehavior(CachingDisabledID, ""),
		func(d *model.Distribution) { d.Aliases = []string{"www.example.com", "*.example.org"} }))
	ev.res.Set("origin.example.com", org.addr)
	c := ev.client(false, false)
	for _, tc := range []struct {
		host   string
		status int
	}{
		{testDomain, 200},
		{testDomain + ":8080", 200},
		{"WWW.Example.com", 200},
		{"a.example.org", 200},
		{"a.b.example.org", 200},
		{"example.org", 403},
		{"other.example.com", 403},
		{"d222222abcdef8.cloudfront.net", 403},
	} {
		r := ev.do(c, "GET", "http://"+tc.host+"/", http.Header{"Host": {tc.host}})
		if r.status != tc.status {
			t.Errorf("Host %s: status %d, want %d", tc.host, r.status, tc.status)
			continue
		}
		if tc.status == 403 {
			if want := errorPage(nil, 403, "Bad request.", r.rid); !bytes.Equal(r.body, want) {
				t.Errorf("Host %s: page %q", tc.host, r.body)
			}
			checkEdgeHeaders(t, r, "Error from cloudfront")
			continue
		}
		rec := ev.logs.wait(t, r.rid)
		if rec.Host != testDomain || rec.HostHeader != tc.host || rec.Protocol != "http" || rec.SSLProtocol != "" {
			t.Errorf("Host %s: log host %q header %q proto %q ssl %q", tc.host, rec.Host, rec.HostHeader, rec.Protocol, rec.SSLProtocol)
		}
	}
}

func TestDisabledDistribution(t *testing.T) {
	ev := newEnv(t, nil, testStack(testOrigin("origin.example.com", model.OriginHTTPOnly), policyBehavior(CachingDisabledID, ""),
		func(d *model.Distribution) { d.Enabled = false }))
	r := ev.do(ev.client(true, false), "GET", "https://"+testDomain+"/", nil)
	if r.status != 403 || !bytes.Equal(r.body, errorPage(nil, 403, ReasonDistributionDisabled.Message(), r.rid)) {
		t.Fatalf("%d %q", r.status, r.body)
	}
	checkResult(t, ev.logs.wait(t, r.rid), "Error", "Error", "InvalidRequest")
}

func TestBehaviorRouting(t *testing.T) {
	api := startOrigin(t, okHandler("api", ""), nil)
	web := startOrigin(t, okHandler("web", ""), nil)
	apiOrigin := testOrigin("api.example.com", model.OriginHTTPOnly)
	apiOrigin.ID = "api"
	apiBeh := policyBehavior(CachingDisabledID, "")
	apiBeh.PathPattern = "/api/*"
	apiBeh.TargetOriginID = "api"
	ev := newEnv(t, nil, testStack(testOrigin("web.example.com", model.OriginHTTPOnly), policyBehavior(CachingDisabledID, ""),
		func(d *model.Distribution) {
			d.Origins = append(d.Origins, apiOrigin)
			d.Behaviors = []*model.CacheBehavior{apiBeh}
		}))
	ev.res.Set("api.example.com", api.addr)
	ev.res.Set("web.example.com", web.addr)
	c := ev.client(true, false)
	for path, want := range map[string]string{"/api/v1/users": "api", "/index.html": "web", "/API/x": "web", "/x/../api/y": "api"} {
		if r := ev.do(c, "GET", "https://"+testDomain+path, nil); string(r.body) != want {
			t.Errorf("%s → %q, want %q", path, r.body, want)
		}
	}
}

func TestViewerProtocolPolicy(t *testing.T) {
	org := startOrigin(t, okHandler("x", ""), nil)
	redirect := policyBehavior(CachingDisabledID, "")
	redirect.ViewerProtocolPolicy = "redirect-to-https"
	redirect.AllowedMethods = []string{"GET", "HEAD", "OPTIONS", "PUT", "POST", "PATCH", "DELETE"}
	httpsOnly := policyBehavior(CachingDisabledID, "")
	httpsOnly.ViewerProtocolPolicy = "https-only"
	httpsOnly.PathPattern = "/secure/*"
	ev := newEnv(t, nil, testStack(testOrigin("origin.example.com", model.OriginHTTPOnly), redirect,
		func(d *model.Distribution) { d.Behaviors = []*model.CacheBehavior{httpsOnly} }))
	ev.res.Set("origin.example.com", org.addr)
	c := ev.client(false, false)

	r := ev.do(c, "GET", "http://"+testDomain+"/a/b?x=1&y=2", nil)
	if r.status != 301 || string(r.body) != redirectBody301 || len(r.body) != 167 {
		t.Fatalf("301: %d %d bytes %q", r.status, len(r.body), r.body)
	}
	if loc := r.header.Get("Location"); loc != "https://"+testDomain+"/a/b?x=1&y=2" {
		t.Errorf("Location = %q", loc)
	}
	checkEdgeHeaders(t, r, "Redirect from cloudfront")
	if r.header.Get("Server") != "CloudFront" || r.header.Get("Content-Type") != "text/html" {
		t.Errorf("redirect headers %v", r.header)
	}
	checkResult(t, ev.logs.wait(t, r.rid), "Redirect", "Redirect", "Redirect")

	r = ev.do(c, "GET", "http://"+testDomain+":8080/p", http.Header{"Host": {testDomain + ":8080"}})
	if loc := r.header.Get("Location"); loc != "https://"+testDomain+":8443/p" {
		t.Errorf("Location with port = %q", loc)
	}
	r = ev.do(c, "POST", "http://"+testDomain+"/form", nil)
	if r.status != 307 || string(r.body) != redirectBody307 {
		t.Errorf("307: %d %q", r.status, r.body)
	}
	r = ev.do(c, "GET", "http://"+testDomain+"/secure/x", nil)
	if r.status != 403 || !bytes.Equal(r.body, errorPage(nil, 403, ReasonHTTPSOnly.Message(), r.rid)) {
		t.Errorf("https-only: %d %q", r.status, r.body)
	}
	if org.hits.Load() != 0 {
		t.Errorf("origin was contacted %d times", org.hits.Load())
	}
}

func TestMethodNotAllowed(t *testing.T) {
	ev := newEnv(t, nil, testStack(testOrigin("origin.example.com", model.OriginHTTPOnly), policyBehavior(CachingOptimizedID, "")))
	r := ev.do(ev.client(true, false), "POST", "https://"+testDomain+"/form", nil)
	if r.status != 403 || len(r.body) != 1053 {
		t.Fatalf("status %d, %d bytes", r.status, len(r.body))
	}
	if !bytes.Equal(r.body, errorPage(nil, 403, msgMethod, r.rid)) {
		t.Errorf("page %q", r.body)
	}
	rec := ev.logs.wait(t, r.rid)
	checkResult(t, rec, "Error", "Error", "InvalidRequestMethod")
	if rec.ContentLen != 1053 || rec.Status != 403 {
		t.Errorf("log len %d status %d", rec.ContentLen, rec.Status)
	}
}

func TestGETWithBody(t *testing.T) {
	ev := newEnv(t, nil, testStack(testOrigin("origin.example.com", model.OriginHTTPOnly), policyBehavior(CachingOptimizedID, "")))
	req, _ := http.NewRequest("GET", "https://"+testDomain+"/", strings.NewReader("body"))
	resp, err := ev.client(true, false).Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != 403 {
		t.Fatalf("status %d", resp.StatusCode)
	}
}

func TestOriginRequestHeaders(t *testing.T) {
	org := startOrigin(t, okHandler("x", ""), nil)
	o := testOrigin("origin.example.com", model.OriginHTTPOnly)
	o.OriginPath = "/production"
	o.CustomHeaders = []model.Header{{Name: "X-Origin-Verify", Value: "s3cr3t"}, {Name: "X-Custom", Value: "edge"}}
	ev := newEnv(t, nil, testStack(o, policyBehavior(CachingOptimizedID, ""),
		func(d *model.Distribution) { d.DefaultRootObject = "index.html" }))
	ev.res.Set("origin.example.com", org.addr)
	c := ev.client(true, false)
	r := ev.do(c, "GET", "https://"+testDomain+"/?q=1", http.Header{
		"X-Forwarded-For": {"192.0.2.4,192.0.2.3"}, "User-Agent": {"viewer-agent/1.0"},
		"Accept-Language": {"ja"}, "Referer": {"https://ref.example/"}, "Cookie": {"session=abc"},
		"Authorization": {"Bearer t"}, "X-Custom": {"viewer"}, "Accept-Encoding": {"gzip, deflate, br"},
		"If-None-Match": {`"zzz"`},
	})
	if r.status != 200 {
		t.Fatalf("status %d", r.status)
	}
	req := org.lastRequest()
	checks := map[string][2]string{
		"path":            {req.RequestURI, "/production/index.html"},
		"Host":            {req.Host, "origin.example.com"},
		"User-Agent":      {req.Header.Get("User-Agent"), "Amazon CloudFront"},
		"X-Forwarded-For": {req.Header.Get("X-Forwarded-For"), "192.0.2.4,192.0.2.3,127.0.0.1"},
		"X-Amz-Cf-Id":     {req.Header.Get("X-Amz-Cf-Id"), r.rid},
		"X-Origin-Verify": {req.Header.Get("X-Origin-Verify"), "s3cr3t"},
		"X-Custom":        {req.Header.Get("X-Custom"), "edge"},
		"Accept-Encoding": {req.Header.Get("Accept-Encoding"), "br,gzip"},
		"If-None-Match":   {req.Header.Get("If-None-Match"), `"zzz"`},
		"Connection":      {req.Header.Get("Connection"), "Keep-Alive"},
		"Proto":           {req.Proto, "HTTP/1.1"},
	}
	for name, p := range checks {
		if p[0] != p[1] {
			t.Errorf("origin %s = %q, want %q", name, p[0], p[1])
		}
	}
	if !originViaRE.MatchString(req.Header.Get("Via")) || !strings.HasPrefix(req.Header.Get("Via"), "1.1 ") {
		t.Errorf("origin Via = %q", req.Header.Get("Via"))
	}
	for _, h := range []string{"Accept-Language", "Referer", "Cookie", "Authorization"} {
		if v := req.Header.Get(h); v != "" {
			t.Errorf("origin got %s: %q", h, v)
		}
	}
	rec := ev.logs.wait(t, r.rid)
	if rec.URIStem != "/" || rec.URIQuery != "q=1" || rec.UserAgent != "viewer-agent/1.0" || rec.ForwardedFor != "192.0.2.4,192.0.2.3" || rec.Cookie != "" {
		t.Errorf("log stem %q query %q ua %q xff %q cookie %q", rec.URIStem, rec.URIQuery, rec.UserAgent, rec.ForwardedFor, rec.Cookie)
	}
}

func TestOriginRequestHeadersAllViewerLegacy(t *testing.T) {
	org := startOrigin(t, okHandler("x", ""), nil)
	b := &model.CacheBehavior{TargetOriginID: "o1", ViewerProtocolPolicy: "allow-all",
		ForwardedValues: &model.ForwardedValues{QueryString: true, CookiesForward: "whitelist", WhitelistedNames: []string{"sess*"}, Headers: []string{"Host", "Accept-Language"}},
		MinTTL:          0, DefaultTTL: 86400, MaxTTL: 31536000}
	ev := newEnv(t, nil, testStack(testOrigin("origin.example.com", model.OriginHTTPOnly), b,
		func(d *model.Distribution) {
			d.Aliases = []string{"www.example.com"}
			d.ViewerCertificate = &model.Certificate{DomainName: "www.example.com"}
			d.Logging.IncludeCookies = true
		}))
	ev.res.Set("origin.example.com", org.addr)
	r := ev.do(ev.client(true, false), "GET", "https://www.example.com/p?b=2&a=1", http.Header{
		"Cookie": {"zeta=1; session=abc; other=2; sessid=9"}, "Accept-Language": {"ja"}, "X-Other": {"kept"}})
	if r.status != 200 {
		t.Fatalf("status %d", r.status)
	}
	req := org.lastRequest()
	for name, p := range map[string][2]string{
		"Host":            {req.Host, "www.example.com"},
		"query":           {req.URL.RawQuery, "b=2&a=1"},
		"Cookie":          {req.Header.Get("Cookie"), "sessid=9; session=abc"},
		"Accept-Language": {req.Header.Get("Accept-Language"), "ja"},
		"X-Other":         {req.Header.Get("X-Other"), "kept"},
	} {
		if p[0] != p[1] {
			t.Errorf("origin %s = %q, want %q", name, p[0], p[1])
		}
	}
	if rec := ev.logs.wait(t, r.rid); rec.Cookie != "zeta=1; session=abc; other=2; sessid=9" {
		t.Errorf("log cookie %q", rec.Cookie)
	}
}

func TestHTTP2Viewer(t *testing.T) {
	org := startOrigin(t, okHandler("h2", "max-age=60"), nil)
	ev := newEnv(t, nil, testStack(testOrigin("origin.example.com", model.OriginMatchViewer), policyBehavior(CachingOptimizedID, "")))
	ev.res.Set("origin.example.com", org.addr)
	c := ev.client(true, true)
	req, _ := http.NewRequest("GET", "https://"+testDomain+"/h2", nil)
	resp, err := c.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.ProtoMajor != 2 {
		t.Fatalf("viewer protocol %s", resp.Proto)
	}
	_ = org // match-viewer + https viewer → https origin port; the origin here is plain HTTP
	rec := ev.logs.wait(t, resp.Header.Get("X-Amz-Cf-Id"))
	if rec.ProtocolVersion != "HTTP/2.0" {
		t.Errorf("log protocol version %q", rec.ProtocolVersion)
	}
}

func TestHTTP2ViewerOriginVia(t *testing.T) {
	ca := newCA(t)
	cert, _ := ca.Issue([]string{"origin.example.com"})
	org := startOrigin(t, okHandler("h2", ""), cert)
	ev := newEnv(t, ca, testStack(testOrigin("origin.example.com", model.OriginHTTPSOnly), policyBehavior(CachingDisabledID, "")))
	ev.res.Set("origin.example.com", org.addr)
	req, _ := http.NewRequest("GET", "https://"+testDomain+"/v", nil)
	resp, err := ev.client(true, true).Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != 200 || resp.ProtoMajor != 2 {
		t.Fatalf("%d %s", resp.StatusCode, resp.Proto)
	}
	if via := org.lastRequest().Header.Get("Via"); !strings.HasPrefix(via, "2.0 ") || !originViaRE.MatchString(via) {
		t.Errorf("origin Via = %q", via)
	}
	if rec := ev.logs.wait(t, resp.Header.Get("X-Amz-Cf-Id")); rec.ProtocolVersion != "HTTP/2.0" || rec.ResultType != "Miss" {
		t.Errorf("log %s %s", rec.ProtocolVersion, rec.ResultType)
	}
}

func TestReloadKeepsUnchangedCache(t *testing.T) {
	org := startOrigin(t, okHandler("v", "max-age=600"), nil)
	stack := testStack(testOrigin("origin.example.com", model.OriginHTTPOnly), policyBehavior(CachingOptimizedID, ""))
	ev := newEnv(t, nil, stack)
	ev.res.Set("origin.example.com", org.addr)
	ev.do(ev.client(true, false), "GET", "https://"+testDomain+"/k", nil)
	cfg := ev.edge.cfg
	same, err := New(cfg, ev.edge)
	if err != nil {
		t.Fatal(err)
	}
	ev.httpsSrv.Swap(same.Plane(true))
	if r := ev.do(ev.client(true, false), "GET", "https://"+testDomain+"/k", nil); r.header.Get("X-Cache") != "Hit from cloudfront" {
		t.Errorf("unchanged reload: %s", r.header.Get("X-Cache"))
	}
	changed := *stack.Distributions[0]
	changed.Comment = "changed"
	cfg.Stack = &model.Stack{Distributions: []*model.Distribution{&changed}}
	next, err := New(cfg, same)
	if err != nil {
		t.Fatal(err)
	}
	ev.httpsSrv.Swap(next.Plane(true))
	if r := ev.do(ev.client(true, false), "GET", "https://"+testDomain+"/k", nil); r.header.Get("X-Cache") != "Miss from cloudfront" {
		t.Errorf("changed reload: %s", r.header.Get("X-Cache"))
	}
}

func TestNewRejectsBadConfig(t *testing.T) {
	ca := newCA(t)
	for name, mod := range map[string]func(d *model.Distribution){
		"unknown cache policy":          func(d *model.Distribution) { d.DefaultBehavior.CachePolicyID = "00000000-0000-0000-0000-000000000000" },
		"unknown origin request policy": func(d *model.Distribution) { d.DefaultBehavior.OriginRequestPolicyID = "nope" },
		"unknown origin":                func(d *model.Distribution) { d.DefaultBehavior.TargetOriginID = "missing" },
		"ip origin":                     func(d *model.Distribution) { d.Origins[0].DomainName = "192.0.2.1" },
		"bad tls policy": func(d *model.Distribution) {
			d.ViewerCertificate = &model.Certificate{DomainName: "a.example.com"}
			d.MinimumProtocolVersion = "TLSv9"
		},
		"bad http version":        func(d *model.Distribution) { d.HTTPVersion = "http9" },
		"bad origin ssl protocol": func(d *model.Distribution) { d.Origins[0].Custom.SSLProtocols = []string{"TLSv1.9"} },
	} {
		stack := testStack(testOrigin("origin.example.com", model.OriginHTTPOnly), policyBehavior(CachingOptimizedID, ""), mod)
		if _, err := New(Config{Stack: stack, Certs: ca, Resolver: &testResolver{}, OriginRoots: ca.Pool()}, nil); err == nil {
			t.Errorf("%s: New succeeded", name)
		}
	}
	if _, err := New(Config{Stack: &model.Stack{}, Certs: ca, Resolver: &testResolver{}, OriginRoots: ca.Pool(), EdgeLocation: "nrt57"}, nil); err == nil {
		t.Error("bad edge location accepted")
	}
}

func TestViewerTLSPolicy(t *testing.T) {
	ev := newEnv(t, nil, testStack(testOrigin("origin.example.com", model.OriginHTTPOnly), policyBehavior(CachingOptimizedID, ""),
		func(d *model.Distribution) {
			d.Aliases = []string{"www.example.com"}
			d.ViewerCertificate = &model.Certificate{DomainName: "www.example.com"}
			d.MinimumProtocolVersion = "TLSv1.2_2021"
			d.HTTPVersion = "http1.1"
		}))
	for _, tc := range []struct {
		sni      string
		max      uint16
		wantErr  bool
		wantALPN string
	}{
		{"www.example.com", tls.VersionTLS11, true, ""},
		{"www.example.com", tls.VersionTLS13, false, "http/1.1"},
		{testDomain, tls.VersionTLS11, false, "http/1.1"},
		{"unknown.example.net", tls.VersionTLS13, false, "h2"},
	} {
		conn, err := tls.Dial("tcp", ev.httpsSrv.Addr(), &tls.Config{ServerName: tc.sni, RootCAs: ev.ca.Pool(), InsecureSkipVerify: tc.sni == "unknown.example.net", MinVersion: tls.VersionTLS10, MaxVersion: tc.max, NextProtos: []string{"h2", "http/1.1"}})
		if (err != nil) != tc.wantErr {
			t.Errorf("%s max %x: err %v", tc.sni, tc.max, err)
			continue
		}
		if err == nil {
			if got := conn.ConnectionState().NegotiatedProtocol; got != tc.wantALPN {
				t.Errorf("%s: ALPN %q, want %q", tc.sni, got, tc.wantALPN)
			}
			conn.Close()
		}
	}
}

// TestRequestIDFormat: ids from fresh generators and from one edge across
// many of its batches are well formed and never repeat.
func TestRequestIDFormat(t *testing.T) {
	seen := map[string]bool{}
	check := func(id string) {
		t.Helper()
		if !ridRE.MatchString(id) || seen[id] {
			t.Fatalf("bad or repeated id %q", id)
		}
		seen[id] = true
	}
	var id [ridLen]byte
	for range 100 {
		(&Edge{}).newRequestID(&id)
		check(string(id[:]))
	}
	e := &Edge{}
	for range 10 * ridBatch {
		e.newRequestID(&id)
		check(string(id[:]))
	}
	if n := testing.AllocsPerRun(1000, func() { e.newRequestID(&id) }); n != 0 {
		t.Errorf("newRequestID: %v allocations, want 0", n)
	}
	_ = strconv.Itoa
}

// TestAuthorizationNeedsTheCacheKey: an origin request policy, even
// AllViewer, never forwards Authorization on a GET; a cache policy that keys
// on it does; a POST keeps it (cloudfront.md §3.4).
func TestAuthorizationNeedsTheCacheKey(t *testing.T) {
	for _, tc := range []struct {
		name, cachePolicy, orp, method string
		forwarded                      bool
	}{
		{"AllViewer GET", CachingOptimizedID, AllViewerID, "GET", false},
		{"AllViewer POST", CachingDisabledID, AllViewerID, "POST", true},
		{"cache key GET", "2e54312d-136d-493c-8eb9-b001f22f67d2", "", "GET", true}, // Amplify keys on Authorization
	} {
		t.Run(tc.name, func(t *testing.T) {
			org := startOrigin(t, okHandler("x", ""), nil)
			b := policyBehavior(tc.cachePolicy, tc.orp)
			b.AllowedMethods = []string{"GET", "HEAD", "OPTIONS", "PUT", "POST", "PATCH", "DELETE"}
			ev := newEnv(t, nil, testStack(testOrigin("origin.example.com", model.OriginHTTPOnly), b))
			ev.res.Set("origin.example.com", org.addr)
			r := ev.do(ev.client(true, false), tc.method, "https://"+testDomain+"/auth", http.Header{"Authorization": {"Bearer secret"}})
			if r.status != 200 {
				t.Fatalf("status %d", r.status)
			}
			if got := org.lastRequest().Header.Get("Authorization") != ""; got != tc.forwarded {
				t.Errorf("Authorization forwarded = %v, want %v", got, tc.forwarded)
			}
		})
	}
}
