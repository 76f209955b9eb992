package alb

import (
	"context"
	"crypto/tls"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/kumo-dev/kumo/internal/nettest"

	"github.com/kumo-dev/kumo/internal/accesslog"
	"github.com/kumo-dev/kumo/internal/metrics"
	"github.com/kumo-dev/kumo/internal/model"
	"github.com/kumo-dev/kumo/internal/serve"
)

// sinkOf collects records of any kind.
type sinkOf[T any] struct {
	mu   sync.Mutex
	recs []*T
}

// add keeps a copy of r: an access-log record is valid only during the
// Log call (Config.Log).
func (s *sinkOf[T]) add(r *T) { c := *r; s.mu.Lock(); s.recs = append(s.recs, &c); s.mu.Unlock() }

func (s *sinkOf[T]) snapshot() []*T {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]*T(nil), s.recs...)
}

// waitFor polls until cond holds on the records (deadline 10 s).
func (s *sinkOf[T]) waitFor(t *testing.T, what string, cond func([]*T) bool) []*T {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for {
		got := s.snapshot()
		if cond(got) {
			return got
		}
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s; have %d records", what, len(got))
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// startTracked is start with every listener bound through a ConnListener,
// as the runtime binds them.
func startTracked(t *testing.T, cfg Config) *running {
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
		ln, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		cl := NewConnListener(ln)
		cl.Attach(lb, l)
		srv := serve.Serve(cl, lb.Plane(l), serve.Options{HTTP2: true})
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

// TestConnectionLogOneLinePerConnection checks alb.md §1.12: one line per
// client connection (not per request) whose conn_trace_id is the access
// log's; a completed handshake logs Success with its protocol, cipher,
// latency and key exchange; a handshake the client abandons (it rejects
// the certificate for the LB's generated name — the foundation's 502 case
// seen from the ALB) logs Failed with "-" latency, under TLS 1.2 and 1.3.
func TestConnectionLogOneLinePerConnection(t *testing.T) {
	for _, tc := range []struct {
		policy, proto string
	}{
		{"ELBSecurityPolicy-2016-08", "TLSv1.2"},
		{"ELBSecurityPolicy-TLS13-1-2-2021-06", "TLSv1.3"},
	} {
		t.Run(tc.policy, func(t *testing.T) {
			ca := testCA(t)
			be := newBackend(t, "A", nil)
			tg := mkTG("alb-tg", be.target("10.0.4.254:80"))
			tg.HealthCheck.Enabled = false
			l := httpsListener(tc.policy, forward(tg), &model.Certificate{ARN: testCertA, DomainName: "alb.example.com"})
			conns := &sinkOf[accesslog.ALBConnectionRecord]{}
			reg := metrics.New()
			ru := startTracked(t, Config{LB: loadBalancer(l), Certs: ca, ConnLog: conns.add, Metrics: reg})
			addr := ru.addrs[l]

			// Two requests on one keep-alive connection: one line.
			c := tlsClient(ca.Pool(), "alb.example.com", false)
			get(t, c, "https://"+addr+"/a", nil)
			get(t, c, "https://"+addr+"/b", nil)
			recs := ru.sink.wait(t, 2)
			if recs[0].ConnTraceID != recs[1].ConnTraceID {
				t.Fatalf("keep-alive requests on two connections: %s %s", recs[0].ConnTraceID, recs[1].ConnTraceID)
			}
			ok := conns.waitFor(t, "success line", func(r []*accesslog.ALBConnectionRecord) bool { return len(r) >= 1 })[0]
			if ok.TLSVerifyStatus != "Success" || ok.TLSProtocol != tc.proto || ok.TLSCipher != recs[0].SSLCipher ||
				ok.TLSHandshakeLatency < 0 || ok.ConnTraceID != recs[0].ConnTraceID || ok.ListenerPort != 443 ||
				ok.ClientIP != "127.0.0.1" || ok.ClientPort == 0 || ok.ELB != testLBFullName || ok.TLSKeyExchange == "" {
				t.Errorf("success line %+v (access log %s %s)", ok, recs[0].SSLCipher, recs[0].ConnTraceID)
			}

			// The client verifies the LB's generated name against a
			// certificate for alb.example.com and abandons the handshake.
			raw, err := tls.Dial("tcp", addr, &tls.Config{RootCAs: ca.Pool(), ServerName: "alb-test-1234567890.ap-northeast-1.elb.amazonaws.com"})
			if err == nil {
				raw.Close()
				t.Fatal("handshake with the generated name succeeded")
			}
			all := conns.waitFor(t, "failure line", func(r []*accesslog.ALBConnectionRecord) bool { return len(r) >= 2 })
			bad := all[1]
			if bad.TLSVerifyStatus != "Failed:UnmappedConnectionError" || bad.TLSHandshakeLatency != accesslog.ALBTimingNotMeasured ||
				!strings.HasPrefix(bad.ConnTraceID, "TID_") || bad.ConnTraceID == ok.ConnTraceID {
				t.Errorf("failure line %+v", bad)
			}
			if n := len(ru.sink.snapshot()); n != 2 {
				t.Errorf("the failed handshake reached the access log (%d records)", n)
			}
			line := string(bad.AppendLine(nil))
			if _, err := accesslog.ParseALBConnectionLine(line); err != nil {
				t.Errorf("written line %q does not parse: %v", line, err)
			}
			waitMetric(t, reg, "aws_alb_ClientTLSNegotiationErrorCount", map[string]string{"LoadBalancer": testLBFullName}, 1)
			waitMetric(t, reg, "aws_alb_NewConnectionCount", map[string]string{"LoadBalancer": testLBFullName}, 2)
		})
	}
}

// TestConnectionLogPlainHTTP: a plain-HTTP connection gets one line with
// "-" TLS fields, the access log's conn_trace_id; a connection that sends
// nothing still gets its line, with its own trace id, when it closes.
func TestConnectionLogPlainHTTP(t *testing.T) {
	be := newBackend(t, "A", nil)
	tg := mkTG("alb-tg", be.target("10.0.4.254:80"))
	tg.HealthCheck.Enabled = false
	l := httpListener(80, forward(tg))
	conns := &sinkOf[accesslog.ALBConnectionRecord]{}
	ru := startTracked(t, Config{LB: loadBalancer(l), ConnLog: conns.add})
	c := &http.Client{Transport: &http.Transport{}, Timeout: 10 * time.Second}
	get(t, c, "http://"+ru.addrs[l]+"/", nil)
	get(t, c, "http://"+ru.addrs[l]+"/", nil)
	rec := ru.sink.wait(t, 2)[0]
	line := conns.waitFor(t, "plain line", func(r []*accesslog.ALBConnectionRecord) bool { return len(r) >= 1 })[0]
	want := accesslog.ALBConnectionRecord{Time: line.Time, ClientIP: "127.0.0.1", ClientPort: line.ClientPort, ListenerPort: 80,
		TLSHandshakeLatency: accesslog.ALBTimingNotMeasured, ConnTraceID: rec.ConnTraceID, ELB: testLBFullName}
	if line.ClientPort == 0 || string(line.AppendLine(nil)) != string(want.AppendLine(nil)) {
		t.Errorf("line %q, want %q", line.AppendLine(nil), want.AppendLine(nil))
	}
	idle, err := net.Dial("tcp", ru.addrs[l])
	if err != nil {
		t.Fatal(err)
	}
	idle.Close()
	got := conns.waitFor(t, "idle connection line", func(r []*accesslog.ALBConnectionRecord) bool { return len(r) >= 2 })
	// The trace id is the connection's from the accept on (serve.ConnObserver).
	if got[1].TLSVerifyStatus != "" || !strings.HasPrefix(got[1].ConnTraceID, "TID_") || got[1].ConnTraceID == rec.ConnTraceID {
		t.Errorf("idle connection line %+v", got[1])
	}
	if len(got) != 2 {
		t.Errorf("%d lines for two connections", len(got))
	}
}

// TestHealthCheckLogLines checks alb.md §1.13: one line per check, PASS with
// the status, FAIL with the reason code (TargetError for 5xx,
// ResponseCodeMismatch otherwise, ConnectionReset when nothing listens).
func TestHealthCheckLogLines(t *testing.T) {
	be := newBackend(t, "A", nil)
	tg := mkTG("alb-tg", be.target("10.0.4.254:80"), &model.Target{ID: "10.0.4.9", Addr: "10.0.4.9:80", Local: nettest.RefusedAddr(t)})
	l := httpListener(80, forward(tg))
	hl := &sinkOf[accesslog.ALBHealthCheckRecord]{}
	startTracked(t, Config{LB: loadBalancer(l), HealthLog: hl.add})
	find := func(r []*accesslog.ALBHealthCheckRecord, addr, status string, code int, reason string) bool {
		for _, x := range r {
			if x.TargetAddr == addr && x.Status == status && x.StatusCode == code && x.ReasonCode == reason {
				return true
			}
		}
		return false
	}
	hl.waitFor(t, "PASS 200", func(r []*accesslog.ALBHealthCheckRecord) bool { return find(r, "10.0.4.254:80", "PASS", 200, "") })
	hl.waitFor(t, "FAIL ConnectionReset", func(r []*accesslog.ALBHealthCheckRecord) bool {
		return find(r, "10.0.4.9:80", "FAIL", 0, "ConnectionReset")
	})
	be.hcStatus.Store(502)
	hl.waitFor(t, "FAIL 502 TargetError", func(r []*accesslog.ALBHealthCheckRecord) bool {
		return find(r, "10.0.4.254:80", "FAIL", 502, "TargetError")
	})
	be.hcStatus.Store(404)
	recs := hl.waitFor(t, "FAIL 404 ResponseCodeMismatch", func(r []*accesslog.ALBHealthCheckRecord) bool {
		return find(r, "10.0.4.254:80", "FAIL", 404, "ResponseCodeMismatch")
	})
	for _, r := range recs {
		if r.Type != "http" || r.TargetGroupID != "alb-tg" || r.ELB != testLBFullName || r.Latency < 0 {
			t.Fatalf("record %+v", r)
		}
		if _, err := accesslog.ParseALBHealthCheckLine(string(r.AppendLine(nil))); err != nil {
			t.Fatal(err)
		}
	}
}

// TestMetricsNamedAfterCloudWatch scrapes /metrics after real requests:
// RequestCount and HTTPCode_Target_2XX_Count by target group,
// HTTPCode_ELB_503_Count for an empty target group, HealthyHostCount.
func TestMetricsNamedAfterCloudWatch(t *testing.T) {
	be := newBackend(t, "A", nil)
	tg := mkTG("alb-tg", be.target("10.0.4.254:80"))
	empty := mkTG("empty-tg")
	l := httpListener(80, forward(tg), &model.Rule{Priority: 1, Conditions: []*model.Condition{{Field: "path-pattern", Values: []string{"/empty"}}},
		Actions: forward(empty)})
	reg := metrics.New()
	ru := startTracked(t, Config{LB: loadBalancer(l), Metrics: reg})
	ru.waitChecked(t)
	ru.waitState(t, "10.0.4.254:80", StateHealthy)
	c := &http.Client{Transport: &http.Transport{}, Timeout: 10 * time.Second}
	get(t, c, "http://"+ru.addrs[l]+"/", nil)
	get(t, c, "http://"+ru.addrs[l]+"/", nil)
	get(t, c, "http://"+ru.addrs[l]+"/empty", nil)
	ru.sink.wait(t, 3)
	srv := httptest.NewServer(reg.Handler())
	t.Cleanup(srv.Close)
	resp, err := http.Get(srv.URL)
	if err != nil {
		t.Fatal(err)
	}
	b, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	text := string(b)
	for _, want := range []string{
		`aws_alb_RequestCount{LoadBalancer="app/alb-test/96e12a2c8669fbe5",TargetGroup="targetgroup/alb-tg/d3bb7ccab2dace96"} 2`,
		`aws_alb_HTTPCode_Target_2XX_Count{LoadBalancer="app/alb-test/96e12a2c8669fbe5",TargetGroup="targetgroup/alb-tg/d3bb7ccab2dace96"} 2`,
		`aws_alb_HTTPCode_ELB_503_Count{LoadBalancer="app/alb-test/96e12a2c8669fbe5"} 1`,
		`aws_alb_HTTPCode_ELB_5XX_Count{LoadBalancer="app/alb-test/96e12a2c8669fbe5"} 1`,
		`aws_alb_HealthyHostCount{LoadBalancer="app/alb-test/96e12a2c8669fbe5",TargetGroup="targetgroup/alb-tg/d3bb7ccab2dace96"} 1`,
		`aws_alb_UnHealthyHostCount{LoadBalancer="app/alb-test/96e12a2c8669fbe5",TargetGroup="targetgroup/alb-tg/d3bb7ccab2dace96"} 0`,
		`aws_alb_TargetResponseTime_count{LoadBalancer="app/alb-test/96e12a2c8669fbe5",TargetGroup="targetgroup/alb-tg/d3bb7ccab2dace96"} 2`,
		`aws_alb_ActiveConnectionCount{LoadBalancer="app/alb-test/96e12a2c8669fbe5"} 1`,
	} {
		if !strings.Contains(text, want+"\n") {
			t.Errorf("/metrics lacks %s", want)
		}
	}
	if t.Failed() {
		t.Logf("/metrics:\n%s", text)
	}
}

// waitMetric polls the registry until the metric with labels has value want.
func waitMetric(t *testing.T, reg *metrics.Registry, name string, labels map[string]string, want float64) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	var last float64
	for time.Now().Before(deadline) {
		fams, err := reg.Gatherer().Gather()
		if err != nil {
			t.Fatal(err)
		}
		for _, f := range fams {
			if f.GetName() != name {
				continue
			}
			for _, m := range f.GetMetric() {
				match := true
				for _, lp := range m.GetLabel() {
					if v, ok := labels[lp.GetName()]; ok && v != lp.GetValue() {
						match = false
					}
				}
				if !match {
					continue
				}
				switch {
				case m.GetCounter() != nil:
					last = m.GetCounter().GetValue()
				case m.GetGauge() != nil:
					last = m.GetGauge().GetValue()
				}
				if last == want {
					return
				}
			}
		}
		time.Sleep(5 * time.Millisecond)
	}
	t.Fatalf("metric %s%v = %v, want %v", name, labels, last, want)
}
