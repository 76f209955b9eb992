package edge

import (
	"net/http"
	"testing"

	"github.com/kumo-dev/kumo/internal/model"
)

// TestLocalDefaultRouting: with Metadata.Kumo.LocalDefault on one
// distribution, a viewer Host that is a loopback address or localhost (with
// or without a port) reaches that distribution; every other name keeps its
// CloudFront routing, and an unknown non-loopback Host is still 403.
func TestLocalDefaultRouting(t *testing.T) {
	const localDomain = "d222222abcdef8.cloudfront.net"
	originFor := func(name string) *originServer {
		return startOrigin(t, func(w http.ResponseWriter, r *http.Request) {
			w.Header().Set("Cache-Control", "no-store")
			_, _ = w.Write([]byte(name))
		}, nil)
	}
	mainOrigin, localOrigin := originFor("main"), originFor("local")
	stackWith := func(local bool) *model.Stack {
		st := testStack(testOrigin("main.example.com", model.OriginHTTPOnly), policyBehavior(CachingDisabledID, ""))
		o := testOrigin("local.example.com", model.OriginHTTPOnly)
		st.Distributions = append(st.Distributions, &model.Distribution{LogicalID: "Local", ID: "E2UOOOPI28P7FY",
			DomainName: localDomain, Enabled: true, HTTPVersion: "http2", Origins: []*model.Origin{o},
			DefaultBehavior: policyBehavior(CachingDisabledID, ""), LocalDefault: local})
		return st
	}

	cases := []struct {
		host  string
		local bool   // the stack sets LocalDefault
		want  string // body ("" = 403 UnknownHost, no origin request)
	}{
		{host: "127.0.0.1:8080", local: true, want: "local"},
		{host: "127.0.0.1", local: true, want: "local"},
		{host: "127.3.4.5:80", local: true, want: "local"},
		{host: "localhost:8080", local: true, want: "local"},
		{host: "LOCALHOST", local: true, want: "local"},
		{host: "[::1]:8080", local: true, want: "local"},
		{host: "[::1]", local: true, want: "local"},
		{host: testDomain, local: true, want: "main"},
		{host: localDomain, local: true, want: "local"},
		{host: "10.0.0.1:8080", local: true},
		{host: "[::2]:8080", local: true},
		{host: "www.example.org", local: true},
		{host: "127.0.0.1.example.org", local: true},
		{host: "localhost.example.org", local: true},
		{host: "127.0.0.1:8080", local: false},
		{host: "localhost", local: false},
		{host: testDomain, local: false, want: "main"},
	}
	envs := map[bool]*env{}
	for _, local := range []bool{false, true} {
		ev := newEnv(t, nil, stackWith(local))
		ev.res.Set("main.example.com", mainOrigin.addr)
		ev.res.Set("local.example.com", localOrigin.addr)
		envs[local] = ev
	}
	for _, c := range cases {
		t.Run(c.host, func(t *testing.T) {
			ev := envs[c.local]
			before := mainOrigin.hits.Load() + localOrigin.hits.Load()
			res := ev.do(ev.client(false, false), http.MethodGet, "http://kumo.test/x", http.Header{"Host": {c.host}})
			if c.want == "" {
				if res.status != http.StatusForbidden {
					t.Fatalf("status = %d, want 403", res.status)
				}
				if n := mainOrigin.hits.Load() + localOrigin.hits.Load(); n != before {
					t.Fatalf("an origin was called for an unknown host")
				}
				return
			}
			if res.status != http.StatusOK || string(res.body) != c.want {
				t.Fatalf("status %d body %q, want 200 %q", res.status, res.body, c.want)
			}
		})
	}
}

// TestLocalDefaultTwice: the edge refuses a stack in which two distributions
// claim the loopback hosts (package stack reports it first, with the line).
func TestLocalDefaultTwice(t *testing.T) {
	st := testStack(testOrigin("main.example.com", model.OriginHTTPOnly), policyBehavior(CachingDisabledID, ""),
		func(d *model.Distribution) { d.LocalDefault = true })
	st.Distributions = append(st.Distributions, &model.Distribution{LogicalID: "Other", ID: "E2UOOOPI28P7FY",
		DomainName: "d222222abcdef8.cloudfront.net", Enabled: true, HTTPVersion: "http2",
		Origins:         []*model.Origin{testOrigin("main.example.com", model.OriginHTTPOnly)},
		DefaultBehavior: policyBehavior(CachingDisabledID, ""), LocalDefault: true})
	ca := newCA(t)
	if _, err := New(Config{Stack: st, Certs: ca, Resolver: &testResolver{addrs: map[string]string{}}, OriginRoots: ca.Pool()}, nil); err == nil {
		t.Fatal("two LocalDefault distributions accepted")
	}
}

// TestLocalDefaultHost is the loopback-name rule itself.
func TestLocalDefaultHost(t *testing.T) {
	for host, want := range map[string]bool{
		"localhost": true, "127.0.0.1": true, "127.255.255.254": true, "::1": true, "[::1]": true,
		"::ffff:127.0.0.1": true, "[::ffff:127.0.0.1]": true,
		"10.0.0.1": false, "0.0.0.0": false, "::": false, "[::2]": false, "": false,
		"localhost.": false, "127.0.0.1.nip.io": false, "my-localhost": false, "128.0.0.1": false,
	} {
		if got := localDefaultHost(host); got != want {
			t.Errorf("localDefaultHost(%q) = %v, want %v", host, got, want)
		}
	}
}
