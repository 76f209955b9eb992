package alb

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/kumo-dev/kumo/internal/accesslog"
	"github.com/kumo-dev/kumo/internal/model"
	"github.com/kumo-dev/kumo/internal/pki"
	"github.com/kumo-dev/kumo/internal/serve"
)

const (
	testLBFullName = "app/alb-test/96e12a2c8669fbe5"
	testTGARN      = "arn:aws:elasticloadbalancing:ap-northeast-1:123456789012:targetgroup/alb-tg/d3bb7ccab2dace96"
	testCertA      = "arn:aws:acm:ap-northeast-1:123456789012:certificate/ae66ff29-9f0c-4f59-bbfb-473a03b7df43"
	testCertB      = "arn:aws:acm:ap-northeast-1:123456789012:certificate/0b1c2d3e-0000-4000-8000-000000000002"
)

// logSink collects access-log records.
type logSink struct {
	mu   sync.Mutex
	recs []*accesslog.ALBRecord
}

// log keeps a copy of r: the record is valid only during the call
// (Config.Log).
func (s *logSink) log(r *accesslog.ALBRecord) {
	c := *r
	s.mu.Lock()
	s.recs = append(s.recs, &c)
	s.mu.Unlock()
}

// wait polls until n records arrived (deadline 10 s) and returns them.
func (s *logSink) wait(t *testing.T, n int) []*accesslog.ALBRecord {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for {
		s.mu.Lock()
		got := append([]*accesslog.ALBRecord(nil), s.recs...)
		s.mu.Unlock()
		if len(got) >= n {
			return got
		}
		if time.Now().After(deadline) {
			t.Fatalf("waited for %d access-log records, have %d", n, len(got))
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// healthCheck is a fast health-check configuration for tests.
func healthCheck() model.HealthCheck {
	return model.HealthCheck{
		Enabled: true, Protocol: "HTTP", Port: "traffic-port", Path: "/health",
		Interval: 30 * time.Millisecond, Timeout: 500 * time.Millisecond,
		HealthyThreshold: 2, UnhealthyThreshold: 2, Matcher: "200",
	}
}

func mkTG(name string, targets ...*model.Target) *model.TargetGroup {
	arn := testTGARN
	if name != "alb-tg" {
		arn = "arn:aws:elasticloadbalancing:ap-northeast-1:123456789012:targetgroup/" + name + "/0000000000000001"
	}
	return &model.TargetGroup{
		Name: name, ARN: arn, FullName: "targetgroup/" + name, Protocol: "HTTP", Port: 80,
		TargetType: "ip", HealthCheck: healthCheck(), Targets: targets,
	}
}

func forward(tgs ...*model.TargetGroup) []*model.Action {
	a := &model.Action{Type: model.ActionForward, Order: 1}
	for _, tg := range tgs {
		a.TargetGroups = append(a.TargetGroups, model.WeightedTargetGroup{TargetGroup: tg, Weight: 1})
	}
	return []*model.Action{a}
}

func httpListener(port int, actions []*model.Action, rules ...*model.Rule) *model.Listener {
	return &model.Listener{
		ARN:      "arn:aws:elasticloadbalancing:ap-northeast-1:123456789012:listener/app/alb-test/96e12a2c8669fbe5/" + string(rune('a'+port%26)),
		Protocol: "HTTP", Port: port, DefaultActions: actions, Rules: rules,
	}
}

func loadBalancer(listeners ...*model.Listener) *model.LoadBalancer {
	return &model.LoadBalancer{
		Name: "alb-test", ID: "96e12a2c8669fbe5", FullName: testLBFullName,
		ARN:       "arn:aws:elasticloadbalancing:ap-northeast-1:123456789012:loadbalancer/" + testLBFullName,
		DNSName:   "alb-test-1234567890.ap-northeast-1.elb.amazonaws.com",
		Listeners: listeners, Attributes: map[string]string{},
	}
}

// running is a started load balancer with its bound listeners.
type running struct {
	lb    *LoadBalancer
	sink  *logSink
	addrs map[*model.Listener]string
}

// start builds the LB, binds every listener on 127.0.0.1:0 and starts health
// checks; everything is cleaned up with t.Cleanup.
func start(t testing.TB, cfg Config) *running {
	t.Helper()
	sink := &logSink{}
	if cfg.Log == nil {
		cfg.Log = sink.log
	}
	lb, err := New(cfg, nil)
	if err != nil {
		t.Fatalf("New: %v", err)
	}
	t.Cleanup(lb.Close)
	ru := &running{lb: lb, sink: sink, addrs: map[*model.Listener]string{}}
	for _, l := range cfg.LB.Listeners {
		srv, err := serve.Listen("127.0.0.1:0", lb.Plane(l), serve.Options{HTTP2: true})
		if err != nil {
			t.Fatalf("serve.Listen: %v", err)
		}
		t.Cleanup(func() {
			ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
			defer cancel()
			_ = srv.Shutdown(ctx)
		})
		ru.addrs[l] = srv.Addr()
	}
	ctx, cancel := context.WithCancel(context.Background())
	t.Cleanup(cancel)
	lb.Start(ctx)
	return ru
}

func (ru *running) waitChecked(t *testing.T) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := ru.lb.WaitChecked(ctx); err != nil {
		t.Fatal(err)
	}
}

// waitState polls Health until the target at addr is in state.
func (ru *running) waitState(t *testing.T, addr, state string) TargetHealth {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for {
		for _, h := range ru.lb.Health() {
			if h.Addr == addr && h.State == state {
				return h
			}
		}
		if time.Now().After(deadline) {
			t.Fatalf("target %s never reached %s: %+v", addr, state, ru.lb.Health())
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// backend is a target web server whose health-check answers are controlled.
type backend struct {
	name     string
	srv      *httptest.Server
	hcStatus atomic.Int32
	hcBlock  atomic.Bool
	hits     atomic.Int32

	mu     sync.Mutex
	hcReqs []*http.Request
}

func (b *backend) healthChecks() []*http.Request {
	b.mu.Lock()
	defer b.mu.Unlock()
	return append([]*http.Request(nil), b.hcReqs...)
}

func newBackend(t testing.TB, name string, fn http.HandlerFunc) *backend {
	t.Helper()
	b := &backend{name: name}
	b.hcStatus.Store(200)
	if fn == nil {
		fn = func(w http.ResponseWriter, r *http.Request) {
			w.Header().Set("Content-Type", "text/plain")
			_, _ = io.WriteString(w, name)
		}
	}
	b.srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Header.Get("User-Agent") == HealthCheckUserAgent {
			b.mu.Lock()
			b.hcReqs = append(b.hcReqs, r)
			b.mu.Unlock()
			if b.hcBlock.Load() {
				<-r.Context().Done()
				return
			}
			w.WriteHeader(int(b.hcStatus.Load()))
			return
		}
		b.hits.Add(1)
		fn(w, r)
	}))
	t.Cleanup(b.srv.Close)
	return b
}

func (b *backend) addr() string { return b.srv.Listener.Addr().String() }

func (b *backend) target(modeled string) *model.Target {
	host, _, _ := net.SplitHostPort(modeled)
	return &model.Target{ID: host, Addr: modeled, Local: b.addr()}
}

// get sends one HTTP/1.1 request and returns status, headers and body.
func get(t *testing.T, c *http.Client, url string, hdr map[string]string) (*http.Response, string) {
	t.Helper()
	req, err := http.NewRequest(http.MethodGet, url, nil)
	if err != nil {
		t.Fatal(err)
	}
	for k, v := range hdr {
		if k == "Host" {
			req.Host = v
			continue
		}
		req.Header.Set(k, v)
	}
	resp, err := c.Do(req)
	if err != nil {
		t.Fatalf("GET %s: %v", url, err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatalf("read body: %v", err)
	}
	return resp, string(body)
}

// doAsync sends req with noRedirectClient from another goroutine and
// reports its error once it is answered (the body closed) or fails.
func doAsync(req *http.Request) <-chan error {
	errc := make(chan error, 1)
	go func() {
		resp, err := noRedirectClient().Do(req)
		if err == nil {
			resp.Body.Close()
		}
		errc <- err
	}()
	return errc
}

func noRedirectClient() *http.Client {
	return &http.Client{
		Transport:     &http.Transport{},
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
		Timeout:       20 * time.Second,
	}
}

// testCA opens a throwaway local CA.
func testCA(t *testing.T) *pki.CA {
	t.Helper()
	ca, err := pki.Open(t.TempDir())
	if err != nil {
		t.Fatalf("pki.Open: %v", err)
	}
	return ca
}

func tlsClient(pool *x509.CertPool, serverName string, h2 bool) *http.Client {
	tr := &http.Transport{TLSClientConfig: &tls.Config{RootCAs: pool, ServerName: serverName}}
	if h2 {
		tr.ForceAttemptHTTP2 = true
	} else {
		tr.TLSNextProto = map[string]func(string, *tls.Conn) http.RoundTripper{}
	}
	return &http.Client{Transport: tr, Timeout: 20 * time.Second}
}

// rawTarget accepts connections and hands each to fn.
func rawTarget(t *testing.T, fn func(net.Conn)) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	var wg sync.WaitGroup
	done := make(chan struct{})
	t.Cleanup(func() { close(done); ln.Close(); wg.Wait() })
	wg.Add(1)
	go func() {
		defer wg.Done()
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			wg.Add(1)
			go func() {
				defer wg.Done()
				defer c.Close()
				go func() { <-done; c.Close() }()
				fn(c)
			}()
		}
	}()
	return ln.Addr().String()
}
