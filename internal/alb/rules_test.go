package alb

import (
	"net"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"os"
	"testing"

	"github.com/kumo-dev/kumo/internal/accesslog"
	"github.com/kumo-dev/kumo/internal/model"
	"github.com/kumo-dev/kumo/internal/serve"
)

func fixed(status int, body string) []*model.Action {
	return []*model.Action{{Type: model.ActionFixedResponse, Order: 1,
		FixedResponse: &model.FixedResponseConfig{StatusCode: status, ContentType: "text/plain", MessageBody: body}}}
}

func cond(field string, values ...string) *model.Condition {
	return &model.Condition{Field: field, Values: values}
}

func TestRuleMatching(t *testing.T) {
	rules := []*model.Rule{
		// deliberately out of order: evaluation is by priority
		{Priority: 50, Conditions: []*model.Condition{cond("path-pattern", "/img/*")}, Actions: fixed(200, "50")},
		{Priority: 10, Conditions: []*model.Condition{cond("host-header", "*.example.com"), cond("path-pattern", "/api/v?/*")}, Actions: fixed(200, "10")},
		{Priority: 20, Conditions: []*model.Condition{cond("http-request-method", "POST", "PUT")}, Actions: fixed(200, "20")},
		{Priority: 30, Conditions: []*model.Condition{{Field: "http-header", HTTPHeaderName: "user-agent", Values: []string{"*Chrome*", "*Safari*"}}}, Actions: fixed(200, "30")},
		{Priority: 40, Conditions: []*model.Condition{{Field: "query-string", QueryStrings: []model.KeyValue{{Key: "version", Value: "v1"}, {Value: "*exa\\*mple*"}}}}, Actions: fixed(200, "40")},
		{Priority: 45, Conditions: []*model.Condition{cond("source-ip", "192.0.2.0/24", "2001:db8::/32")}, Actions: fixed(200, "45")},
		{Priority: 5, Conditions: []*model.Condition{cond("host-header", "exact.example.net")}, Actions: fixed(200, "5")},
	}
	lb, err := New(Config{LB: loadBalancer(httpListener(80, fixed(404, "default"), rules...))}, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer lb.Close()
	l := lb.listeners[lb.lb.Listeners[0]]
	for _, tc := range []struct {
		name, method, host, target, remote string
		hdr                                map[string]string
		want                               int
	}{
		{"default", "GET", "www.example.org", "/", "127.0.0.1:5", nil, 0},
		{"host wildcard + path ?", "GET", "API.Example.COM:8080", "/api/v1/users", "127.0.0.1:5", nil, 10},
		{"wildcard needs a label", "GET", "example.com", "/api/v1/users", "127.0.0.1:5", nil, 0},
		{"path is case-sensitive", "GET", "a.example.com", "/API/v1/users", "127.0.0.1:5", nil, 0},
		{"? is exactly one char", "GET", "a.example.com", "/api/v10/users", "127.0.0.1:5", nil, 0},
		{"exact host beats later rules", "POST", "exact.example.net", "/img/a", "127.0.0.1:5", nil, 5},
		{"method", "PUT", "x.test", "/", "127.0.0.1:5", nil, 20},
		{"method is case-sensitive", "put", "x.test", "/", "127.0.0.1:5", nil, 0},
		{"header value wildcard, case-insensitive", "GET", "x.test", "/", "127.0.0.1:5", map[string]string{"User-Agent": "Mozilla CHROME/111"}, 30},
		{"query key=value", "GET", "x.test", "/?a=b&VERSION=V1", "127.0.0.1:5", nil, 40},
		{"query value any key, escaped *", "GET", "x.test", "/?q=my-exa*mple-x", "127.0.0.1:5", nil, 40},
		{"query escaped * is literal", "GET", "x.test", "/?q=my-exaZmple-x", "127.0.0.1:5", nil, 0},
		{"query percent-decoded", "GET", "x.test", "/?version=%76%31", "127.0.0.1:5", nil, 40},
		{"source ip v4", "GET", "x.test", "/", "192.0.2.77:4000", nil, 45},
		{"source ip v6", "GET", "x.test", "/", "[2001:db8::1]:4000", nil, 45},
		{"source ip not XFF", "GET", "x.test", "/", "127.0.0.1:5", map[string]string{"X-Forwarded-For": "192.0.2.1"}, 0},
		{"path * spans slashes", "GET", "x.test", "/img/a/b/c.jpg", "127.0.0.1:5", nil, 50},
		{"path is whole-path", "GET", "x.test", "/static/img/a", "127.0.0.1:5", nil, 0},
		{"path excludes query", "GET", "x.test", "/img?x=/img/", "127.0.0.1:5", nil, 0},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r := httptest.NewRequest(tc.method, "http://placeholder"+tc.target, nil)
			r.Host = tc.host
			r.RemoteAddr = tc.remote
			for k, v := range tc.hdr {
				r.Header.Set(k, v)
			}
			got := l.matchRule(r, peerAddrPort(r, nil).Addr()).priority
			if got != tc.want {
				t.Fatalf("matched priority %d, want %d", got, tc.want)
			}
		})
	}
}

func TestWildcardMatch(t *testing.T) {
	for _, tc := range []struct {
		p, s          string
		fold, escapes bool
		want          bool
	}{
		{"*", "", false, false, true},
		{"/a*", "/a/b/c", false, false, true},
		{"/a?c", "/abc", false, false, true},
		{"/a?c", "/ac", false, false, false},
		{"*.example.com", "x.example.com", true, false, true},
		{"*.example.com", "X.EXAMPLE.COM", true, false, true},
		{"*.example.com", "X.EXAMPLE.COM", false, false, false},
		{"a*b*c", "aXbYbZc", false, false, true},
		{"a*b*c", "aXbYbZ", false, false, false},
		{`a\*`, "a*", false, true, true},
		{`a\*`, "ab", false, true, false},
		{`a\?`, "a?", false, true, true},
	} {
		if got := wildcardMatch(tc.p, tc.s, tc.fold, tc.escapes); got != tc.want {
			t.Errorf("wildcardMatch(%q, %q) = %v, want %v", tc.p, tc.s, got, tc.want)
		}
	}
}

func TestRedirectAndFixedResponse(t *testing.T) {
	rules := []*model.Rule{
		{Priority: 1, Conditions: []*model.Condition{cond("path-pattern", "/old/*")}, Actions: []*model.Action{{
			Type: model.ActionRedirect, Order: 1,
			Redirect: &model.RedirectConfig{Protocol: "HTTPS", Port: "443", Host: "#{host}", Path: "/new/#{path}", Query: "#{query}&from=#{port}", StatusCode: "HTTP_301"},
		}}},
		{Priority: 2, Conditions: []*model.Condition{cond("path-pattern", "/temp")}, Actions: []*model.Action{{
			Type: model.ActionRedirect, Order: 1, Redirect: &model.RedirectConfig{Host: "elsewhere.example", StatusCode: "HTTP_302"},
		}}},
		{Priority: 3, Conditions: []*model.Condition{cond("path-pattern", "/fixed")}, Actions: fixed(418, "I'm a teapot")},
	}
	l := httpListener(80, fixed(404, "not here"), rules...)
	ru := start(t, Config{LB: loadBalancer(l)})
	c := noRedirectClient()

	resp, body := get(t, c, "http://"+ru.addrs[l]+"/old/a/b?x=1", map[string]string{"Host": "web.example.com", "User-Agent": "ua"})
	golden(t, resp, body, 301, "testdata/301.html")
	if loc := resp.Header.Get("Location"); loc != "https://web.example.com:443/new/old/a/b?x=1&from=80" {
		t.Fatalf("Location = %q", loc)
	}
	if len(body) != 134 {
		t.Fatalf("301 body is %d bytes, want 134", len(body))
	}
	rec := ru.sink.wait(t, 1)[0]
	checkRecord(t, rec, accesslog.ALBRecord{
		Type: "http", ELB: testLBFullName, RequestProcessingTime: -1, TargetProcessingTime: -1, ResponseProcessingTime: -1,
		ELBStatus: 301, Request: "GET http://web.example.com:80/old/a/b?x=1 HTTP/1.1", UserAgent: "ua",
		MatchedRulePriority: 1, ActionsExecuted: "redirect", RedirectURL: "https://web.example.com:443/new/old/a/b?x=1&from=80",
	})

	resp, body = get(t, c, "http://"+ru.addrs[l]+"/temp", map[string]string{"Host": "web.example.com"})
	golden(t, resp, body, 302, "testdata/302.html")
	if loc := resp.Header.Get("Location"); loc != "http://elsewhere.example:80/temp" {
		t.Fatalf("Location = %q", loc)
	}

	resp, body = get(t, c, "http://"+ru.addrs[l]+"/fixed", nil)
	if resp.StatusCode != 418 || body != "I'm a teapot" || resp.Header.Get("Content-Type") != "text/plain" || resp.Header.Get("Server") != ServerHeader {
		t.Fatalf("fixed-response: %d %q %v", resp.StatusCode, body, resp.Header)
	}
	resp, body = get(t, c, "http://"+ru.addrs[l]+"/other", nil)
	if resp.StatusCode != 404 || body != "not here" {
		t.Fatalf("default fixed-response: %d %q", resp.StatusCode, body)
	}
	recs := ru.sink.wait(t, 4)
	if r := recs[2]; r.ActionsExecuted != "fixed-response" || r.MatchedRulePriority != 3 || r.ELBStatus != 418 || r.TargetGroupARN != "" || r.Target != "" {
		t.Fatalf("fixed-response record %+v", r)
	}
	if r := recs[3]; r.MatchedRulePriority != 0 {
		t.Fatalf("default rule priority %d", r.MatchedRulePriority)
	}
}

func TestLBPagesGolden(t *testing.T) {
	for _, tc := range []struct {
		status int
		size   int
	}{{503, 162}, {502, 122}, {504, 132}, {301, 134}, {302, 110}} {
		want, err := os.ReadFile("testdata/" + itoaStatus(tc.status) + ".html")
		if err != nil {
			t.Fatal(err)
		}
		got := lbPageBody(tc.status)
		if got != string(want) || len(got) != tc.size {
			t.Errorf("%d page: %d bytes, differs from golden: %q", tc.status, len(got), got)
		}
	}
}

func itoaStatus(s int) string {
	return string(rune('0'+s/100)) + string(rune('0'+s/10%10)) + string(rune('0'+s%10))
}

func TestForwardedHost(t *testing.T) {
	for _, tc := range []struct {
		host     string
		port     int
		preserve bool
		want     string
	}{
		{"example.com:80", 80, false, "example.com"},
		{"example.com:8443", 443, false, "example.com"},
		{"example.com", 8080, false, "example.com:8080"},
		{"example.com:9000", 8080, false, "example.com:9000"},
		{"example.com:80", 80, true, "example.com:80"},
		{"[2001:db8::1]:80", 80, false, "[2001:db8::1]"},
	} {
		if got := forwardedHost(tc.host, tc.port, tc.preserve); got != tc.want {
			t.Errorf("forwardedHost(%q, %d, %v) = %q, want %q", tc.host, tc.port, tc.preserve, got, tc.want)
		}
	}
}

func TestForwardedFor(t *testing.T) {
	peer := "198.51.100.7"
	for _, tc := range []struct {
		mode  string
		prior []string
		want  string
		ok    bool
	}{
		{"append", nil, "198.51.100.7", true},
		{"append", []string{"1.1.1.1, 2.2.2.2"}, "1.1.1.1, 2.2.2.2, 198.51.100.7", true},
		{"preserve", nil, "", false},
		{"preserve", []string{"1.1.1.1"}, "1.1.1.1", true},
		{"remove", []string{"1.1.1.1"}, "", false},
	} {
		got, ok := forwardedFor(tc.mode, tc.prior, peer)
		if got != tc.want || ok != tc.ok {
			t.Errorf("forwardedFor(%s, %v) = %q %v", tc.mode, tc.prior, got, ok)
		}
	}
}

func TestRequestSizes(t *testing.T) {
	// The real 2019 capture logs 125 received bytes for this curl request
	// (alb-logs/elastic-beats-filebeat-alb.log).
	r := httptest.NewRequest("GET", "/", nil)
	r.Host = "filebeat-aws-elb-test-12030537.eu-central-1.elb.amazonaws.com"
	r.Header = http.Header{"User-Agent": {"curl/7.58.0"}, "Accept": {"*/*"}}
	if got := requestHeaderBytes(r); got != 125 {
		t.Fatalf("requestHeaderBytes = %d, want 125", got)
	}
}

// TestPeerAddrPort: the address taken from the connection's ConnInfo is
// the one RemoteAddr parses to, for an IPv4 peer in Go's 16-byte form, an
// IPv6 peer and one with a zone.
func TestPeerAddrPort(t *testing.T) {
	for _, a := range []*net.TCPAddr{
		{IP: net.ParseIP("192.0.2.7"), Port: 50123},
		{IP: net.ParseIP("192.0.2.7").To4(), Port: 1},
		{IP: net.ParseIP("2001:db8::1"), Port: 443},
		{IP: net.ParseIP("fe80::1"), Port: 8080, Zone: "eth0"},
	} {
		r := httptest.NewRequest("GET", "/", nil)
		r.RemoteAddr = a.String()
		want := peerAddrPort(r, nil)
		if !want.IsValid() {
			t.Fatalf("%s: RemoteAddr does not parse", a)
		}
		if got := peerAddrPort(r, &serve.ConnInfo{Remote: a}); got != want {
			t.Errorf("%s: from ConnInfo %v, from RemoteAddr %v", a, got, want)
		}
	}
}

// TestClientField: access-log field 4 and the X-Forwarded-For ip, for each
// shape of RemoteAddr; an IPv4 client's RemoteAddr is used as it is.
func TestClientField(t *testing.T) {
	for _, tc := range []struct{ remote, client, ip string }{
		{"198.51.100.7:41234", "198.51.100.7:41234", "198.51.100.7"},
		{"[::ffff:198.51.100.7]:80", "198.51.100.7:80", "198.51.100.7"},
		{"[2001:db8::1]:443", "2001:db8::1:443", "2001:db8::1"},
		{"198.51.100.7:080", "198.51.100.7:80", "198.51.100.7"},
		{"pipe", "pipe", ""},
	} {
		ap, _ := netip.ParseAddrPort(tc.remote)
		client := clientField(tc.remote, ap)
		if client != tc.client {
			t.Errorf("clientField(%q) = %q, want %q", tc.remote, client, tc.client)
		}
		if ip := clientIP(client, ap); ip != tc.ip {
			t.Errorf("clientIP(%q) = %q, want %q", client, ip, tc.ip)
		}
	}
	remote := "198.51.100.7:41234"
	ap := netip.MustParseAddrPort(remote)
	if n := testing.AllocsPerRun(100, func() { _ = clientIP(clientField(remote, ap), ap) }); n != 0 {
		t.Errorf("an IPv4 client costs %v allocations, want 0", n)
	}
}
