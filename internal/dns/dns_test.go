package dns

import (
	"context"
	"errors"
	"net"
	"slices"
	"strings"
	"sync"
	"testing"

	"github.com/kumo-dev/kumo/internal/model"
)

const (
	albName  = "alb-test-1234567890.ap-northeast-1.elb.amazonaws.com"
	distName = "dpekz4s0xzujc.cloudfront.net"
	bareLB   = "bare-1111111111.ap-northeast-1.elb.amazonaws.com"
)

// fakeSystem is a SystemResolver with a fixed table; it records the names
// it was asked.
type fakeSystem struct {
	mu    sync.Mutex
	hosts map[string][]string
	fail  map[string]error
	asked []string
}

func (f *fakeSystem) LookupHost(ctx context.Context, host string) ([]string, error) {
	f.mu.Lock()
	f.asked = append(f.asked, host)
	f.mu.Unlock()
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	if err, ok := f.fail[host]; ok {
		return nil, err
	}
	if a, ok := f.hosts[host]; ok {
		return a, nil
	}
	return nil, &net.DNSError{Err: "no such host", Name: host, IsNotFound: true}
}

func testStack() *model.Stack {
	return &model.Stack{
		LoadBalancers: []*model.LoadBalancer{
			{Name: "alb-test", DNSName: albName},
			{Name: "bare", DNSName: bareLB},
		},
		Distributions: []*model.Distribution{{ID: "E1ABCDEFGHIJKL", DomainName: distName}},
		Records: []*model.Record{
			{LogicalID: "AlbAlias", Name: "alb.example.com", Zone: "example.com", Type: "A", AliasTarget: "dualstack." + strings.ToUpper(albName) + "."},
			{LogicalID: "AlbAlias6", Name: "alb.example.com", Zone: "example.com", Type: "AAAA", AliasTarget: "dualstack." + albName},
			{LogicalID: "CdnAlias", Name: "www.example.com", Zone: "example.com", Type: "A", AliasTarget: distName},
			{LogicalID: "Cname", Name: "origin.example.com", Zone: "example.com", Type: "CNAME", Values: []string{"alb.example.com."}},
			{LogicalID: "Cname2", Name: "deep.example.com", Zone: "example.com", Type: "CNAME", Values: []string{"origin.example.com"}},
			{LogicalID: "Loop1", Name: "loop1.example.com", Zone: "example.com", Type: "CNAME", Values: []string{"loop2.example.com"}},
			{LogicalID: "Loop2", Name: "loop2.example.com", Zone: "example.com", Type: "CNAME", Values: []string{"loop1.example.com"}},
			{LogicalID: "Local", Name: "local.example.com", Zone: "example.com", Type: "A", Values: []string{"127.0.0.5"}},
			{LogicalID: "Local6", Name: "local6.example.com", Zone: "example.com", Type: "AAAA", Values: []string{"::1"}},
			{LogicalID: "Web", Name: "web.example.com", Zone: "example.com", Type: "A", Values: []string{"10.0.4.254", "10.0.4.253"}},
			{LogicalID: "Real", Name: "real.example.com", Zone: "example.com", Type: "A", Values: []string{"203.0.113.7"}},
			{LogicalID: "Bad", Name: "bad.example.com", Zone: "example.com", Type: "A", Values: []string{"not-an-ip"}},
			{LogicalID: "ToReal", Name: "ext.example.com", Zone: "example.com", Type: "CNAME", Values: []string{"origin.example.org"}},
			{LogicalID: "ToBare", Name: "bare.example.com", Zone: "example.com", Type: "A", AliasTarget: bareLB},
			// No Zone: the parent domain (corp.test) becomes a modeled zone.
			{LogicalID: "NoZone", Name: "api.corp.test", Type: "A", Values: []string{"127.0.0.9"}},
			// An apex record without Zone must not claim the whole TLD.
			{LogicalID: "Apex", Name: "apex.test", Type: "A", Values: []string{"127.0.0.10"}},
		},
	}
}

func testEndpoints() Endpoints {
	return Endpoints{
		Hosts: map[string]map[int]string{
			albName:                   {443: "127.0.0.1:9443", 80: "127.0.0.1:9080"},
			strings.ToUpper(distName): {443: "127.0.0.1:8443", 80: "127.0.0.1:8080"},
		},
		Addrs: map[string]string{
			"10.0.4.254:80": "127.0.0.1:7001",
			"203.0.113.7:8": "127.0.0.1:7002",
		},
	}
}

func TestResolve(t *testing.T) {
	sys := &fakeSystem{
		hosts: map[string][]string{
			"origin.example.org": {"2001:db8::5", "192.0.2.10"},
			"v6only.example.org": {"2001:db8::6"},
		},
		fail: map[string]error{
			"servfail.example.org": &net.DNSError{Err: "server misbehaving", Name: "servfail.example.org", IsTemporary: true},
		},
	}
	r := New(testStack(), testEndpoints(), Options{System: sys})
	tests := []struct {
		name      string
		host      string
		port      int
		dial      string
		canonical string
		chain     []string
		wantErr   error
		errText   string
	}{
		{name: "LB name", host: albName, port: 443, dial: "127.0.0.1:9443", canonical: albName, chain: []string{albName}},
		{name: "LB name upper case trailing dot", host: strings.ToUpper(albName) + ".", port: 80, dial: "127.0.0.1:9080", canonical: albName, chain: []string{albName}},
		{name: "LB dualstack", host: "dualstack." + albName, port: 443, dial: "127.0.0.1:9443", canonical: albName, chain: []string{"dualstack." + albName, albName}},
		{name: "LB no listener", host: albName, port: 8443, wantErr: ErrNoListener, errText: "dial " + albName + ":8443: connection refused"},
		{name: "LB without any listener", host: "bare.example.com", port: 443, wantErr: ErrNoListener},
		{name: "alias to LB", host: "alb.example.com", port: 443, dial: "127.0.0.1:9443", canonical: albName, chain: []string{"alb.example.com", "dualstack." + albName, albName}},
		{name: "alias to distribution", host: "WWW.Example.COM", port: 80, dial: "127.0.0.1:8080", canonical: distName, chain: []string{"www.example.com", distName}},
		{name: "distribution", host: distName, port: 443, dial: "127.0.0.1:8443", canonical: distName, chain: []string{distName}},
		{name: "CNAME chain", host: "deep.example.com", port: 443, dial: "127.0.0.1:9443", canonical: albName, chain: []string{"deep.example.com", "origin.example.com", "alb.example.com", "dualstack." + albName, albName}},
		{name: "CNAME loop", host: "loop1.example.com", port: 80, wantErr: ErrLookupFailed, errText: "loop1.example.com -> loop2.example.com -> loop1.example.com"},
		{name: "A loopback", host: "local.example.com", port: 8000, dial: "127.0.0.5:8000", canonical: "local.example.com", chain: []string{"local.example.com"}},
		{name: "AAAA loopback", host: "local6.example.com", port: 8000, dial: "[::1]:8000", canonical: "local6.example.com", chain: []string{"local6.example.com"}},
		{name: "A mapped", host: "web.example.com", port: 80, dial: "127.0.0.1:7001", canonical: "web.example.com", chain: []string{"web.example.com"}},
		{name: "A unmapped port", host: "web.example.com", port: 81, dial: "10.0.4.254:81", canonical: "web.example.com", chain: []string{"web.example.com"}},
		{name: "A real address", host: "real.example.com", port: 443, dial: "203.0.113.7:443", canonical: "real.example.com", chain: []string{"real.example.com"}},
		{name: "A bad value", host: "bad.example.com", port: 80, wantErr: ErrLookupFailed, errText: "Bad"},
		{name: "modeled zone, no record", host: "nope.example.com", port: 443, wantErr: ErrNotFound, errText: "lookup nope.example.com: no such host"},
		{name: "unknown cloudfront name", host: "d1111111111111.cloudfront.net", port: 443, wantErr: ErrNotFound},
		{name: "unknown ELB name", host: "other-1.us-east-1.elb.amazonaws.com", port: 443, wantErr: ErrNotFound},
		{name: "unknown dualstack ELB name", host: "dualstack.other-1.us-east-1.elb.amazonaws.com", port: 443, wantErr: ErrNotFound},
		{name: "zone from parent domain", host: "api.corp.test", port: 80, dial: "127.0.0.9:80", canonical: "api.corp.test", chain: []string{"api.corp.test"}},
		{name: "zone from parent domain, no record", host: "x.corp.test", port: 80, wantErr: ErrNotFound},
		{name: "apex without zone", host: "apex.test", port: 80, dial: "127.0.0.10:80", canonical: "apex.test", chain: []string{"apex.test"}},
		{name: "IP literal loopback", host: "127.0.0.1", port: 9000, dial: "127.0.0.1:9000", canonical: "127.0.0.1", chain: []string{"127.0.0.1"}},
		{name: "IP literal v6 brackets", host: "[::1]", port: 9000, dial: "[::1]:9000", canonical: "::1", chain: []string{"::1"}},
		{name: "IP literal mapped", host: "10.0.4.254", port: 80, dial: "127.0.0.1:7001", canonical: "10.0.4.254", chain: []string{"10.0.4.254"}},
		{name: "IP literal v4-in-v6 mapped", host: "::ffff:10.0.4.254", port: 80, dial: "127.0.0.1:7001", canonical: "10.0.4.254", chain: []string{"::ffff:10.0.4.254"}},
		{name: "IP literal real", host: "198.51.100.1", port: 80, dial: "198.51.100.1:80", canonical: "198.51.100.1", chain: []string{"198.51.100.1"}},
		{name: "system name prefers IPv4", host: "Origin.Example.org", port: 443, dial: "192.0.2.10:443", canonical: "origin.example.org", chain: []string{"origin.example.org"}},
		{name: "system name IPv6", host: "v6only.example.org", port: 443, dial: "[2001:db8::6]:443", canonical: "v6only.example.org", chain: []string{"v6only.example.org"}},
		{name: "CNAME out of the model", host: "ext.example.com", port: 443, dial: "192.0.2.10:443", canonical: "origin.example.org", chain: []string{"ext.example.com", "origin.example.org"}},
		{name: "system NXDOMAIN", host: "missing.example.org", port: 443, wantErr: ErrNotFound, errText: "lookup missing.example.org: no such host"},
		{name: "system SERVFAIL", host: "servfail.example.org", port: 443, wantErr: ErrLookupFailed, errText: "server misbehaving"},
		{name: "bad port", host: albName, port: 0, errText: "invalid port 0"},
		{name: "empty host", host: " ", port: 80, errText: "empty host"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ans, err := r.Resolve(context.Background(), tt.host, tt.port)
			if tt.wantErr != nil || tt.errText != "" {
				if err == nil {
					t.Fatalf("Resolve = %+v, want error", ans)
				}
				if tt.wantErr != nil && !errors.Is(err, tt.wantErr) {
					t.Errorf("err = %v, want wrapping %v", err, tt.wantErr)
				}
				if !strings.Contains(err.Error(), tt.errText) {
					t.Errorf("err = %q, want containing %q", err, tt.errText)
				}
				if errors.Is(err, ErrNotFound) && errors.Is(err, ErrNoListener) {
					t.Errorf("err %v wraps both ErrNotFound and ErrNoListener", err)
				}
				return
			}
			if err != nil {
				t.Fatalf("Resolve: %v", err)
			}
			if ans.Dial != tt.dial || ans.Name != tt.canonical || !slices.Equal(ans.Chain, tt.chain) {
				t.Errorf("Resolve = %+v, want Dial %q Name %q Chain %q", ans, tt.dial, tt.canonical, tt.chain)
			}
		})
	}
	// Modeled names never reach the system resolver.
	for _, asked := range sys.asked {
		if IsModeled(asked, testStack()) {
			t.Errorf("system resolver was asked for modeled name %q", asked)
		}
	}
}

func TestResolveLongChain(t *testing.T) {
	st := &model.Stack{}
	names := []string{"c0.example.com", "c1.example.com", "c2.example.com", "c3.example.com", "c4.example.com", "c5.example.com", "c6.example.com", "c7.example.com", "c8.example.com", "c9.example.com"}
	for i := 0; i+1 < len(names); i++ {
		st.Records = append(st.Records, &model.Record{Name: names[i], Zone: "example.com", Type: "CNAME", Values: []string{names[i+1]}})
	}
	st.Records = append(st.Records, &model.Record{Name: names[len(names)-1], Zone: "example.com", Type: "A", Values: []string{"127.0.0.1"}})
	r := New(st, Endpoints{}, Options{System: &fakeSystem{}})
	_, err := r.Resolve(context.Background(), names[0], 80)
	if !errors.Is(err, ErrLookupFailed) || !strings.Contains(err.Error(), "more than 8") {
		t.Fatalf("err = %v, want chain-too-long", err)
	}
	// Eight names are fine.
	ans, err := r.Resolve(context.Background(), names[2], 80)
	if err != nil || ans.Dial != "127.0.0.1:80" || len(ans.Chain) != 8 {
		t.Fatalf("Resolve = %+v, %v", ans, err)
	}
}

func TestResolveContextCanceled(t *testing.T) {
	r := New(testStack(), testEndpoints(), Options{System: &fakeSystem{hosts: map[string][]string{"origin.example.org": {"192.0.2.10"}}}})
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	_, err := r.Resolve(ctx, "origin.example.org", 443)
	if !errors.Is(err, context.Canceled) || errors.Is(err, ErrNotFound) {
		t.Fatalf("err = %v, want context.Canceled, not ErrNotFound", err)
	}
}

func TestIsModeled(t *testing.T) {
	st := testStack()
	tests := []struct {
		name string
		want bool
	}{
		{distName, true},
		{"D1111111111111.CloudFront.net.", true},
		{"cloudfront.net", true},
		{"notcloudfront.net", false},
		{albName, true},
		{"dualstack." + albName, true},
		{"alb.example.com", true},
		{"nope.example.com", true},
		{"example.com", true},
		{"example.org", false},
		{"myexample.com", false},
		{"api.corp.test", true},
		{"other.corp.test", true},
		{"apex.test", true},
		{"other.test", false},
		{"127.0.0.1", false},
		{"", false},
	}
	for _, tt := range tests {
		if got := IsModeled(tt.name, st); got != tt.want {
			t.Errorf("IsModeled(%q) = %v, want %v", tt.name, got, tt.want)
		}
	}
	if !IsModeled(distName, nil) || IsModeled("example.com", nil) {
		t.Error("IsModeled with nil stack")
	}
}

func TestNewDefaults(t *testing.T) {
	r := New(nil, Endpoints{Addrs: map[string]string{"bogus": "x"}}, Options{})
	if r.sys != net.DefaultResolver || r.log == nil {
		t.Fatal("defaults not applied")
	}
	// A literal loopback address needs no lookup.
	ans, err := r.Resolve(context.Background(), "127.0.0.1", 80)
	if err != nil || ans.Dial != "127.0.0.1:80" {
		t.Fatalf("Resolve = %+v, %v", ans, err)
	}
}

func TestResolveConcurrent(t *testing.T) {
	r := New(testStack(), testEndpoints(), Options{System: &fakeSystem{}})
	var wg sync.WaitGroup
	for range 8 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for range 50 {
				ans, err := r.Resolve(context.Background(), "alb.example.com", 443)
				if err != nil || ans.Dial != "127.0.0.1:9443" {
					t.Errorf("Resolve = %+v, %v", ans, err)
					return
				}
			}
		}()
	}
	wg.Wait()
}
