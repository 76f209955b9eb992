package probe_test

import (
	"bytes"
	"context"
	"crypto/tls"
	"encoding/json"
	"fmt"
	"net"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/kumo-dev/kumo/internal/diagnose/probe"
	"github.com/kumo-dev/kumo/internal/nettest"
)

const (
	connectMsg = "CloudFront wasn't able to connect to the origin."
	dnsMsg     = "CloudFront wasn't able to resolve the origin domain name."
	commMsg    = "CloudFront attempted to establish a connection with the origin, but either the attempt failed or the origin closed the connection."
	elbName    = "alb-test-1234567890.ap-northeast-1.elb.amazonaws.com"
)

// TestProbe runs the probe against real loopback origins, one per way an
// origin connection can fail, and checks every failing check and the answer
// CloudFront would give.
func TestProbe(t *testing.T) {
	pk := newTestPKI(t)
	good := pk.leaf(leafOpts{names: []string{"origin.example.com"}})
	tests := []struct {
		name     string
		cert     *tls.Certificate
		server   serverOpts
		addr     func(t testing.TB) string // overrides the test origin
		urlHost  string                    // default origin.example.com
		cfg      func(c *probe.Config)
		dns      bool // resolve through the NXDOMAIN resolver, no --resolve
		status   int
		detailed string
		reason   string
		message  string
		failing  []string
		// summaries holds a substring each named check's summary must contain.
		summaries map[string]string
	}{
		{name: "ok", cert: chain(good, pk.inter), status: 200, reason: "None"},
		{name: "wildcard", cert: chain(pk.leaf(leafOpts{names: []string{"*.example.com"}}), pk.inter), status: 200, reason: "None"},
		{name: "expired", cert: chain(pk.leaf(leafOpts{names: []string{"origin.example.com"}, expired: true}), pk.inter),
			status: 502, detailed: "OriginConnectError", reason: "OriginTLSExpired", message: connectMsg, failing: []string{"expiry"}},
		{name: "self-signed", cert: chain(pk.leaf(leafOpts{names: []string{"origin.example.com"}, selfSigned: true})),
			status: 502, detailed: "OriginConnectError", reason: "OriginTLSUntrusted", message: connectMsg, failing: []string{"trust"},
			summaries: map[string]string{"trust": "is self-signed", "chain-complete": "ends at the self-signed"}},
		{name: "wrong name", cert: chain(pk.leaf(leafOpts{names: []string{"alb.example.com"}}), pk.inter),
			status: 502, detailed: "OriginConnectError", reason: "OriginTLSNameMismatch", message: connectMsg, failing: []string{"name-origin-domain"}},
		{name: "wildcard covers one label only", cert: chain(pk.leaf(leafOpts{names: []string{"*.example.com"}}), pk.inter), urlHost: "a.origin.example.com",
			status: 502, detailed: "OriginConnectError", reason: "OriginTLSNameMismatch", message: connectMsg, failing: []string{"name-origin-domain"}},
		{name: "missing intermediate", cert: chain(good),
			status: 502, detailed: "OriginConnectError", reason: "OriginTLSUntrusted", message: connectMsg, failing: []string{"chain-complete", "trust"},
			summaries: map[string]string{"chain-complete": `issued by "CN=probe test intermediate,O=probe test", which the origin did not send`}},
		{name: "misordered chain", cert: chain(good, pk.root, pk.inter),
			status: 502, detailed: "OriginConnectError", reason: "OriginTLSUntrusted", message: connectMsg, failing: []string{"chain-order"},
			summaries: map[string]string{"chain-order": "#1 (CN=\"probe test root\"", "trust": "chains to the trusted root"}},
		{name: "every certificate failure at once", cert: chain(pk.leaf(leafOpts{names: []string{"alb.example.com"}, expired: true, selfSigned: true})),
			status: 502, detailed: "OriginConnectError", reason: "OriginTLSExpired", message: connectMsg, failing: []string{"expiry", "trust", "name-origin-domain"}},
		{name: "TLS too old for the list", cert: chain(good, pk.inter), server: serverOpts{minTLS: tls.VersionTLS10, maxTLS: tls.VersionTLS11},
			status: 502, detailed: "OriginConnectError", reason: "OriginTLSProtocol", message: connectMsg, failing: []string{"tls"},
			summaries: map[string]string{"tls": "the server accepts only TLSv1, TLSv1.1; CloudFront offers TLSv1.2, TLSv1.3", "expiry": "not checked"}},
		{name: "client certificate demanded", cert: chain(good, pk.inter), server: serverOpts{clientAuth: true},
			status: 502, detailed: "OriginConnectError", reason: "OriginTLSHandshake", message: connectMsg, failing: []string{"client-certificate"}},
		{name: "TLSv1.1 in the list reaches a TLS 1.1 origin", cert: chain(good, pk.inter), server: serverOpts{minTLS: tls.VersionTLS10, maxTLS: tls.VersionTLS11},
			cfg: func(c *probe.Config) { c.SSLProtocols = []string{"TLSv1.1"} }, status: 200, reason: "None"},
		{name: "forwarded Host covered", cert: chain(pk.leaf(leafOpts{names: []string{"www.example.com"}}), pk.inter), urlHost: elbName,
			cfg: func(c *probe.Config) { c.Host = "www.example.com" }, status: 200, reason: "None"},
		{name: "forwarded Host not covered", cert: chain(pk.leaf(leafOpts{names: []string{"alb.example.com"}}), pk.inter), urlHost: elbName,
			cfg:    func(c *probe.Config) { c.Host = "www.example.com" },
			status: 502, detailed: "OriginConnectError", reason: "OriginTLSNameMismatch", message: connectMsg, failing: []string{"name-host"}},
		{name: "origin domain flag", cert: chain(good, pk.inter), urlHost: elbName,
			cfg: func(c *probe.Config) { c.OriginDomain = "origin.example.com" }, status: 200, reason: "None"},
		{name: "SNI override is reported", cert: chain(good, pk.inter), cfg: func(c *probe.Config) { c.SNI = "other.example.com" },
			status: 200, reason: "None", summaries: map[string]string{"sni": `CloudFront would send "origin.example.com"`}},
		{name: "refused", addr: nettest.RefusedAddr,
			status: 502, detailed: "OriginConnectError", reason: "OriginRefused", message: connectMsg, failing: []string{"tcp"}},
		{name: "connect timeout", addr: nettest.SYNDroppingAddr, cfg: func(c *probe.Config) { c.ConnectTimeout = 300 * time.Millisecond },
			status: 504, detailed: "OriginCommError", reason: "OriginConnectTimeout", message: commMsg, failing: []string{"tcp"}},
		{name: "DNS failure", dns: true, urlHost: "nx.example.com",
			status: 502, detailed: "OriginDnsError", reason: "OriginDNS", message: dnsMsg, failing: []string{"dns"}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			host := tc.urlHost
			if host == "" {
				host = "origin.example.com"
			}
			var addr string
			switch {
			case tc.addr != nil:
				addr = tc.addr(t)
			case tc.cert != nil:
				addr = startOrigin(t, tc.cert, tc.server)
			default:
				addr = "127.0.0.1:9" // not dialled: DNS fails first
			}
			ip, port, err := net.SplitHostPort(addr)
			if err != nil {
				t.Fatal(err)
			}
			cfg := probe.Config{URL: "https://" + net.JoinHostPort(host, port), Roots: pk.roots(), Trust: "the test root"}
			if tc.dns {
				cfg.Resolver = nxdomainResolver(t)
			} else {
				cfg.Resolve = []string{host + ":" + port + ":" + ip}
			}
			if tc.cfg != nil {
				tc.cfg(&cfg)
			}
			ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
			defer cancel()
			rep, err := probe.Run(ctx, cfg)
			if err != nil {
				t.Fatalf("Run: %v", err)
			}
			o := rep.Outcome
			if o.Status != tc.status || o.DetailedResultType != tc.detailed || o.Reason != tc.reason || o.Message != tc.message {
				t.Errorf("outcome %d %q %s %q, want %d %q %s %q", o.Status, o.DetailedResultType, o.Reason, o.Message,
					tc.status, tc.detailed, tc.reason, tc.message)
			}
			if got := rep.Failing(); !slices.Equal(got, tc.failing) {
				t.Errorf("failing checks %q, want %q", got, tc.failing)
			}
			if rep.Failed() != (tc.status != 200) || o.WouldConnect == rep.Failed() {
				t.Errorf("Failed() = %v, WouldConnect %v for status %d", rep.Failed(), o.WouldConnect, tc.status)
			}
			for id, want := range tc.summaries {
				if c := rep.Check(id); c == nil || !strings.Contains(c.Summary, want) {
					t.Errorf("check %s = %+v, want a summary containing %q", id, c, want)
				}
			}
			var text bytes.Buffer
			if err := rep.WriteText(&text); err != nil {
				t.Fatal(err)
			}
			if tc.status == 200 {
				if !strings.Contains(text.String(), "CloudFront would connect to the origin") {
					t.Errorf("text output lacks the success verdict:\n%s", text.String())
				}
			} else if !strings.Contains(text.String(), "CloudFront would answer "+fmt.Sprintf("%d %s", tc.status, tc.detailed)) || !strings.Contains(text.String(), tc.message) {
				t.Errorf("text output lacks the verdict %q:\n%s", fmt.Sprintf("%d %s", tc.status, tc.detailed), text.String())
			}
			var js bytes.Buffer
			if err := rep.WriteJSON(&js); err != nil {
				t.Fatal(err)
			}
			var back probe.Report
			if err := json.Unmarshal(js.Bytes(), &back); err != nil {
				t.Fatalf("JSON output: %v", err)
			}
			if back.Outcome != rep.Outcome || len(back.Checks) != len(rep.Checks) {
				t.Errorf("JSON round trip: outcome %+v checks %d, want %+v %d", back.Outcome, len(back.Checks), rep.Outcome, len(rep.Checks))
			}
			if t.Failed() {
				t.Logf("report:\n%s", text.String())
			}
		})
	}
}
