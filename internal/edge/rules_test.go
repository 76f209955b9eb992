package edge

import (
	"crypto/x509"
	"crypto/x509/pkix"
	"errors"
	"flag"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"syscall"
	"testing"
	"time"

	"github.com/kumo-dev/kumo/internal/dns"
	"github.com/kumo-dev/kumo/internal/model"
)

var update = flag.Bool("update", false, "rewrite golden files")

// goldenRequestID is the seed log's request id (cloudfront.md §1.7).
const goldenRequestID = "zurs8x7CL4FSngdxjAkYoAE_dPTtiyGnS16GImPcfRwUl2eaHhfiBQ=="

func golden(t *testing.T, name string, got []byte) {
	t.Helper()
	path := filepath.Join("testdata", name)
	if *update {
		if err := os.WriteFile(path, got, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("%v (run with -update to create)", err)
	}
	if string(got) != string(want) {
		t.Errorf("%s differs:\n got %q\nwant %q", name, got, want)
	}
}

func TestErrorPageGolden(t *testing.T) {
	seen := map[string]bool{}
	for r := ReasonNone + 1; r < reasonCount; r++ {
		if r.Message() == "" {
			continue
		}
		name := fmt.Sprintf("errorpage-%d-%s.html", r.Status(), r.String())
		page := errorPage(nil, r.Status(), r.Message(), goldenRequestID)
		golden(t, name, page)
		seen[r.Message()] = true
	}
	// Sizes that independent captures confirm (cloudfront.md §5.12, §5.2).
	if n := len(errorPage(nil, 502, ReasonOriginRefused.Message(), goldenRequestID)); n != 951 {
		t.Errorf("OriginConnectError page is %d bytes, want 951", n)
	}
	if n := len(errorPage(nil, 403, ReasonMethodNotAllowed.Message(), goldenRequestID)); n != 1053 {
		t.Errorf("method page is %d bytes, want 1053", n)
	}
}

func TestRedirectBodyGolden(t *testing.T) {
	golden(t, "redirect-301.html", []byte(redirectBody301))
	golden(t, "redirect-307.html", []byte(redirectBody307))
	if len(redirectBody301) != 167 {
		t.Errorf("301 body is %d bytes, want 167", len(redirectBody301))
	}
}

func TestReasonsTable(t *testing.T) {
	for r := ReasonNone + 1; r < reasonCount; r++ {
		info := reasons[r]
		if info.name == "" || info.detailed == "" {
			t.Errorf("reason %d has no row", r)
		}
		if r != ReasonViewerGone && r != ReasonViewerHungUpRequest && (info.message == "" || info.status < 400) {
			t.Errorf("%s: status %d message %q", r, info.status, info.message)
		}
	}
	if got := Reason(99).String(); got != "Reason(99)" {
		t.Errorf("out-of-range reason = %q", got)
	}
}

func TestClassify(t *testing.T) {
	for _, tc := range []struct {
		err  error
		want Reason
	}{
		{nil, ReasonNone},
		{fmt.Errorf("x: %w", dns.ErrNotFound), ReasonOriginDNS},
		{fmt.Errorf("x: %w", dns.ErrLookupFailed), ReasonOriginDNS},
		{fmt.Errorf("x: %w", dns.ErrNoListener), ReasonOriginRefused},
		{fmt.Errorf("dial: %w", syscall.ECONNREFUSED), ReasonOriginRefused},
		{&FetchError{Reason: ReasonOriginTLSExpired, Err: errors.New("x")}, ReasonOriginTLSExpired},
		{fmt.Errorf("wrapped: %w", &FetchError{Reason: ReasonOriginConnectTimeout, Err: errors.New("x")}), ReasonOriginConnectTimeout},
		{errReadTimeout, ReasonOriginReadTimeout},
		{x509.HostnameError{Host: "a"}, ReasonOriginTLSNameMismatch},
		{x509.UnknownAuthorityError{}, ReasonOriginTLSUntrusted},
		{errors.New("tls: server selected unsupported protocol version 301"), ReasonOriginTLSProtocol},
		{errors.New("net/http: server response headers exceeded 32768 bytes; aborted"), ReasonOriginHeaderTooBig},
		{errors.New("malformed HTTP response \"x\""), ReasonOriginInvalidResponse},
		{errors.New("EOF"), ReasonOriginClosed},
	} {
		if got := Classify(tc.err); got != tc.want {
			t.Errorf("Classify(%v) = %s, want %s", tc.err, got, tc.want)
		}
	}
}

// TestTTL covers every branch of the §4.2 pseudo-code.
func TestTTL(t *testing.T) {
	now := time.Date(2023, 3, 17, 8, 0, 0, 0, time.UTC)
	h := func(kv ...string) http.Header {
		out := http.Header{}
		for i := 0; i < len(kv); i += 2 {
			out.Add(kv[i], kv[i+1])
		}
		return out
	}
	for _, tc := range []struct {
		name          string
		hdr           http.Header
		min, def, max int64
		want          int64
	}{
		{"no-cache with min 0", h("Cache-Control", "no-cache"), 0, 86400, 31536000, 0},
		{"no-store with min 60", h("Cache-Control", "no-store"), 60, 86400, 31536000, 60},
		{"private beats max-age", h("Cache-Control", "private, max-age=300"), 1, 86400, 31536000, 1},
		{"s-maxage beats max-age", h("Cache-Control", "max-age=10, s-maxage=500"), 0, 86400, 31536000, 500},
		{"max-age", h("Cache-Control", "max-age=300"), 0, 86400, 31536000, 300},
		{"max-age beats Expires", h("Cache-Control", "max-age=300", "Expires", now.Add(time.Hour).Format(http.TimeFormat)), 0, 86400, 31536000, 300},
		{"Expires", h("Expires", now.Add(time.Hour).Format(http.TimeFormat)), 0, 86400, 31536000, 3600},
		{"Expires in the past", h("Expires", now.Add(-time.Hour).Format(http.TimeFormat)), 0, 86400, 31536000, 0},
		{"invalid Expires", h("Expires", "0"), 0, 86400, 31536000, 0},
		{"no headers: default", h(), 0, 86400, 31536000, 86400},
		{"no headers: min above default", h(), 100, 50, 31536000, 100},
		{"below min clamps up", h("Cache-Control", "max-age=5"), 60, 86400, 31536000, 60},
		{"above max clamps down", h("Cache-Control", "max-age=999999"), 0, 86400, 600, 600},
		{"max-age=0", h("Cache-Control", "max-age=0"), 0, 86400, 31536000, 0},
		{"malformed max-age ignored", h("Cache-Control", "max-age=abc"), 0, 86400, 31536000, 86400},
		{"100-year cap", h("Cache-Control", "max-age=99999999999"), 0, 86400, 1 << 40, maxOriginAge},
		{"CachingDisabled", h("Cache-Control", "max-age=300"), 0, 0, 0, 0},
		{"split Cache-Control lines", h("Cache-Control", "public", "Cache-Control", "S-MAXAGE=42"), 0, 86400, 31536000, 42},
	} {
		if got := ttl(parseCacheControl(tc.hdr, now), tc.min, tc.def, tc.max); got != tc.want {
			t.Errorf("%s: ttl = %d, want %d", tc.name, got, tc.want)
		}
	}
}

// TestErrorTTL covers cloudfront.md §4.4.
func TestErrorTTL(t *testing.T) {
	none := cacheControl{sMaxAge: -1, maxAge: -1, expires: -1}
	withMaxAge := cacheControl{sMaxAge: -1, maxAge: 300, expires: -1}
	for _, tc := range []struct {
		status  int
		cc      cacheControl
		maxTTL  int64
		noCache bool
		want    int64
		ok      bool
	}{
		{404, none, 31536000, false, 10, true},
		{502, none, 31536000, false, 10, true},
		{504, none, 31536000, false, 10, true},
		{500, withMaxAge, 31536000, false, 300, true},
		{500, withMaxAge, 100, false, 100, true},
		{503, cacheControl{sMaxAge: 5, maxAge: -1, expires: -1}, 31536000, false, 10, true},
		{404, cacheControl{sMaxAge: -1, maxAge: -1, expires: 60}, 31536000, false, 60, true},
		{403, none, 31536000, false, 0, false},
		{403, withMaxAge, 31536000, false, 300, true},
		{416, withMaxAge, 31536000, false, 0, false},
		{401, withMaxAge, 31536000, false, 0, false},
		{404, none, 0, true, 0, false},
	} {
		got, ok := errorTTL(tc.status, tc.cc, tc.maxTTL, tc.noCache, defaultErrorCachingMinTTL)
		if got != tc.want || ok != tc.ok {
			t.Errorf("errorTTL(%d, %+v, %d, %v) = %d, %v; want %d, %v", tc.status, tc.cc, tc.maxTTL, tc.noCache, got, ok, tc.want, tc.ok)
		}
	}
}

func TestAgeSeconds(t *testing.T) {
	s := time.Unix(1000, 0)
	for _, tc := range []struct {
		now  time.Time
		want int64
	}{{s, 0}, {s.Add(999 * time.Millisecond), 0}, {s.Add(14 * time.Second), 14}, {s.Add(-time.Second), 0}} {
		if got := ageSeconds(s, tc.now); got != tc.want {
			t.Errorf("ageSeconds(+%s) = %d, want %d", tc.now.Sub(s), got, tc.want)
		}
	}
}

func TestMatchPathPattern(t *testing.T) {
	for _, tc := range []struct {
		pattern, path string
		want          bool
	}{
		{"/images/*.jpg", "/images/cat.jpg", true},
		{"images/*.jpg", "/images/cat.jpg", true},
		{"/images/*.jpg", "/images/a/b.jpg", true},
		{"a*.jpg", "/abra/cadabra/magic.jpg", true},
		{"/*product.jpg", "/x/product.jpg", true},
		{"*.jpg", "/LOGO.JPG", false},
		{"/images/?.jpg", "/images/a.jpg", true},
		{"/images/?.jpg", "/images/ab.jpg", false},
		{"/api/*", "/api", false},
		{"/api/*", "/api/", true},
		{"/a*", "/a/b/..", true},
		{"/a/b*", "/a/b/..", false},
		{"/a/b*", "/a//b/c", true},
		{"/exact.html", "/exact.html", true},
		{"/exact.html", "/exact.htm", false},
		{"*", "/anything", true},
	} {
		if got := matchPathPattern(tc.pattern, tc.path); got != tc.want {
			t.Errorf("matchPathPattern(%q, %q) = %v, want %v", tc.pattern, tc.path, got, tc.want)
		}
	}
}

func TestMatchCertificateName(t *testing.T) {
	cert := func(cn string, sans ...string) *x509.Certificate {
		return &x509.Certificate{Subject: pkix.Name{CommonName: cn}, DNSNames: sans}
	}
	for _, tc := range []struct {
		c    *x509.Certificate
		name string
		want bool
	}{
		{cert("alb.example.com", "alb.example.com"), "alb.example.com", true},
		{cert("alb.example.com", "alb.example.com"), "ALB.Example.COM", true},
		{cert("alb.example.com", "alb.example.com"), "alb-test-1234567890.ap-northeast-1.elb.amazonaws.com", false},
		{cert("", "*.example.com"), "a.example.com", true},
		{cert("", "*.example.com"), "example.com", false},
		{cert("", "*.example.com"), "a.b.example.com", false},
		{cert("", "a*.example.com"), "ab.example.com", false},
		{cert("", "*.com"), "example.com", false},
		{cert("cn-only.example.com"), "cn-only.example.com", true},
		{cert("cn.example.com", "san.example.com"), "cn.example.com", true},
		{cert("", "x.example.com"), "", false},
	} {
		if got := MatchCertificateName(tc.c, tc.name); got != tc.want {
			t.Errorf("match(CN=%q SAN=%v, %q) = %v, want %v", tc.c.Subject.CommonName, tc.c.DNSNames, tc.name, got, tc.want)
		}
	}
}

func TestOriginTLSVersions(t *testing.T) {
	for _, tc := range []struct {
		in     []string
		lo, hi uint16
		err    bool
	}{
		{nil, 0x0303, 0x0304, false},
		{[]string{"TLSv1.2"}, 0x0303, 0x0304, false},
		{[]string{"TLSv1", "TLSv1.1"}, 0x0301, 0x0304, false},
		{[]string{"SSLv3", "TLSv1.1"}, 0x0301, 0x0304, false},
		{[]string{"TLSv1.1"}, 0x0302, 0x0304, false},
		{[]string{"SSLv3"}, 0x0301, 0x0304, false},
		{[]string{"TLSv1.3"}, 0, 0, true},
	} {
		lo, hi, err := OriginTLSVersions(tc.in)
		if (err != nil) != tc.err || lo != tc.lo || hi != tc.hi {
			t.Errorf("OriginTLSVersions(%v) = %x, %x, %v", tc.in, lo, hi, err)
		}
	}
}

func TestNormalizeAcceptEncoding(t *testing.T) {
	for _, tc := range []struct {
		in           []string
		gz, br       bool
		major, minor int
		want         string
	}{
		{[]string{"gzip, deflate, br"}, true, true, 1, 1, "br,gzip"},
		{[]string{"gzip"}, true, true, 1, 1, "gzip"},
		{[]string{"br;q=1.0", "deflate"}, true, true, 2, 0, "br"},
		{[]string{"br, gzip"}, true, false, 1, 1, "gzip"},
		{[]string{"gzip;q=0, deflate"}, true, true, 1, 1, ""},
		{[]string{"gzip, br"}, true, true, 1, 0, ""},
		{nil, true, true, 1, 1, ""},
	} {
		if got := normalizeAcceptEncoding(tc.in, tc.gz, tc.br, tc.major, tc.minor); got != tc.want {
			t.Errorf("normalize(%v, gz=%v br=%v, %d.%d) = %q, want %q", tc.in, tc.gz, tc.br, tc.major, tc.minor, got, tc.want)
		}
	}
}

func TestRouteHost(t *testing.T) {
	a, b := &distribution{m: &model.Distribution{DomainName: "a"}}, &distribution{m: &model.Distribution{DomainName: "b"}}
	e := &Edge{exact: map[string]hostRoute{}, wild: map[string]hostRoute{}}
	for name, d := range map[string]*distribution{"www.example.com": a, "*.example.com": b, "*.deep.example.com": a} {
		if err := e.addHost(name, hostRoute{d: d, alias: true}); err != nil {
			t.Fatal(err)
		}
	}
	if err := e.addHost("www.example.com", hostRoute{d: b}); err == nil {
		t.Error("duplicate alias accepted")
	}
	if err := e.addHost("a*.example.com", hostRoute{d: b}); err == nil {
		t.Error("partial wildcard accepted")
	}
	for host, want := range map[string]*distribution{
		"www.example.com": a, "api.example.com": b, "x.y.example.com": b,
		"x.deep.example.com": a, "example.com": nil, "www.example.org": nil,
	} {
		r, ok := e.routeHost(host)
		if (want == nil) == ok || (ok && r.d != want) {
			t.Errorf("routeHost(%s) = %p %v, want %p", host, r.d, ok, want)
		}
	}
}
