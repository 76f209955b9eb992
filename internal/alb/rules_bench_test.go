package alb

import (
	"net/http/httptest"
	"testing"

	"github.com/kumo-dev/kumo/internal/model"
)

// BenchmarkMatchRule: listener rule evaluation (alb.md §5.1, issue 6 item
// 2) over TestRuleMatching's seven rules, for a request that reaches the
// default rule after every rule failed, and for two that match.
func BenchmarkMatchRule(b *testing.B) {
	rules := []*model.Rule{
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
		b.Fatal(err)
	}
	b.Cleanup(lb.Close)
	l := lb.listeners[lb.lb.Listeners[0]]
	for _, tc := range []struct {
		name, host, target string
		want               int
	}{
		{"default after 7 rules", "www.example.org", "/index.html?a=b", 0},
		{"host and path rule", "api.example.com", "/api/v1/users", 10},
		{"query rule", "x.test", "/?a=b&version=v1", 40},
	} {
		b.Run(tc.name, func(b *testing.B) {
			r := httptest.NewRequest("GET", "http://placeholder"+tc.target, nil)
			r.Host = tc.host
			r.RemoteAddr = "127.0.0.1:5"
			r.Header.Set("User-Agent", "curl/8.0")
			peer := peerAddrPort(r, nil).Addr()
			if got := l.matchRule(r, peer).priority; got != tc.want {
				b.Fatalf("matched priority %d, want %d", got, tc.want)
			}
			b.ReportAllocs()
			for b.Loop() {
				l.matchRule(r, peer)
			}
		})
	}
}
