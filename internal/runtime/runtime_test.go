package runtime_test

import (
	"bytes"
	"context"
	"crypto/tls"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/kumo-dev/kumo/internal/nettest"

	"github.com/kumo-dev/kumo/internal/accesslog"
	"github.com/kumo-dev/kumo/internal/model"
	"github.com/kumo-dev/kumo/internal/pki"
	"github.com/kumo-dev/kumo/internal/runtime"
	"github.com/kumo-dev/kumo/internal/stack"
)

// env is one running stack under test.
type env struct {
	t        *testing.T
	rt       *runtime.Runtime
	stateDir string
	stack    *model.Stack
	log      *testWriter // kumo's own log
}

func testLogger(t *testing.T) *slog.Logger {
	return slog.New(slog.NewTextHandler(&testWriter{t: t}, &slog.HandlerOptions{Level: slog.LevelInfo}))
}

// testWriter sends kumo's own log to the test log and keeps it for
// assertions.
type testWriter struct {
	t   *testing.T
	mu  sync.Mutex
	buf strings.Builder
}

func (w *testWriter) Write(p []byte) (int, error) {
	w.t.Helper()
	w.mu.Lock()
	w.buf.Write(p)
	w.mu.Unlock()
	w.t.Log(strings.TrimRight(string(p), "\n"))
	return len(p), nil
}

func (w *testWriter) String() string {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.buf.String()
}

func parse(t *testing.T, src []byte) *model.Stack {
	t.Helper()
	st, err := stack.Parse("stack.yaml", src, stack.Options{Logger: testLogger(t)})
	if err != nil {
		t.Fatalf("parsing the test template: %v", err)
	}
	return st
}

// start serves the template src with a fresh state directory.
func start(t *testing.T, src []byte) *env {
	t.Helper()
	return startIn(t, t.TempDir(), src)
}

func startIn(t *testing.T, stateDir string, src []byte) *env {
	t.Helper()
	st := parse(t, src)
	lw := &testWriter{t: t}
	rt, err := runtime.Start(context.Background(), st, runtime.Options{
		StateDir:    stateDir,
		ViewerHTTPS: "127.0.0.1:0",
		ViewerHTTP:  "127.0.0.1:0",
		Ephemeral:   true,
		Logger:      slog.New(slog.NewTextHandler(lw, &slog.HandlerOptions{Level: slog.LevelInfo})),
	})
	if err != nil {
		t.Fatalf("runtime.Start: %v", err)
	}
	e := &env{t: t, rt: rt, stateDir: stateDir, stack: st, log: lw}
	t.Cleanup(func() { e.shutdown() })
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if err := rt.WaitHealthChecked(ctx); err != nil {
		t.Fatalf("health checks: %v", err)
	}
	return e
}

func (e *env) shutdown() {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if err := e.rt.Shutdown(ctx); err != nil {
		e.t.Errorf("Shutdown: %v", err)
	}
}

type result struct {
	status int
	header http.Header
	body   []byte
	proto  string
}

// viewer sends a request to the edge for host, over HTTPS with SNI host (or
// plain HTTP), as `curl --resolve` would.
func (e *env) viewer(method, scheme, host, path string, hdr http.Header) result {
	e.t.Helper()
	ep := e.rt.Endpoints()
	addr := ep.Viewer.HTTPS
	if scheme == "http" {
		addr = ep.Viewer.HTTP
	}
	return do(e.t, addr, e.rt.CA(), method, scheme, host, path, hdr, true)
}

// alb sends a request straight to the first HTTPS listener of the first load
// balancer, with SNI sni.
func (e *env) alb(sni, path string) result {
	e.t.Helper()
	for _, lb := range e.rt.Endpoints().LoadBalancers {
		for _, l := range lb.Listeners {
			if l.Protocol == "HTTPS" {
				return do(e.t, l.Local, nil, http.MethodGet, "https", sni, path, nil, false)
			}
		}
	}
	e.t.Fatal("no HTTPS listener")
	return result{}
}

func do(t *testing.T, addr string, ca *pki.CA, method, scheme, host, path string, hdr http.Header, h2 bool) result {
	t.Helper()
	tlsCfg := &tls.Config{ServerName: host, InsecureSkipVerify: ca == nil}
	if ca != nil {
		tlsCfg.RootCAs = ca.Pool()
	}
	tr := &http.Transport{
		DialContext: func(ctx context.Context, network, _ string) (net.Conn, error) {
			return (&net.Dialer{}).DialContext(ctx, network, addr)
		},
		TLSClientConfig:   tlsCfg,
		ForceAttemptHTTP2: h2,
	}
	defer tr.CloseIdleConnections()
	req, err := http.NewRequest(method, scheme+"://"+host+path, nil)
	if err != nil {
		t.Fatal(err)
	}
	for k, vs := range hdr {
		req.Header[k] = vs
	}
	req.Header.Set("User-Agent", "kumo-test/1.0 (runtime)")
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	resp, err := (&http.Client{Transport: tr, CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}).Do(req.WithContext(ctx))
	if err != nil {
		t.Fatalf("%s %s://%s%s via %s: %v", method, scheme, host, path, addr, err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatalf("reading body: %v", err)
	}
	return result{status: resp.StatusCode, header: resp.Header, body: body, proto: resp.Proto}
}

// waitCF polls the distribution's CloudFront log until it has n lines.
func (e *env) waitCF(d *model.Distribution, n int) []*accesslog.CloudFrontRecord {
	e.t.Helper()
	var recs []*accesslog.CloudFrontRecord
	poll(e.t, fmt.Sprintf("%d CloudFront log lines", n), func() bool {
		var err error
		recs, err = accesslog.ReadCloudFrontLogs(runtime.CloudFrontDir(e.stateDir), d.ID)
		return err == nil && len(recs) >= n
	})
	if len(recs) != n {
		e.t.Fatalf("CloudFront log has %d lines, want %d", len(recs), n)
	}
	return recs
}

// waitALB polls the ALB log until it has n lines.
func (e *env) waitALB(n int) []*accesslog.ALBRecord {
	e.t.Helper()
	var recs []*accesslog.ALBRecord
	poll(e.t, fmt.Sprintf("%d ALB log lines", n), func() bool {
		var err error
		recs, err = accesslog.ReadALBLogs(runtime.ALBDir(e.stateDir))
		return err == nil && len(recs) >= n
	})
	if len(recs) != n {
		e.t.Fatalf("ALB log has %d lines, want %d", len(recs), n)
	}
	return recs
}

// poll waits, with a deadline, until cond holds.
func poll(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

func brokenTemplate(t *testing.T) []byte {
	t.Helper()
	fixed := stack.DefaultTemplate()
	broken := bytes.Replace(fixed, []byte(stack.DefaultOriginLine), []byte(stack.BrokenOriginLine), 1)
	if bytes.Equal(broken, fixed) {
		t.Fatalf("default template lacks %q", stack.DefaultOriginLine)
	}
	return broken
}

const connectMessage = "CloudFront wasn't able to connect to the origin."

// TestBrokenSeedStack is the reference case: the origin is the ALB's
// generated name, the ALB's certificate is for alb.example.com.
func TestBrokenSeedStack(t *testing.T) {
	e := start(t, brokenTemplate(t))
	d := e.stack.Distributions[0]

	res := e.viewer(http.MethodGet, "https", d.DomainName, "/", nil)
	if res.status != http.StatusBadGateway {
		t.Fatalf("status %d, want 502; body %q", res.status, res.body)
	}
	if got := res.header.Get("X-Cache"); got != "Error from cloudfront" {
		t.Errorf("X-Cache %q", got)
	}
	if !bytes.Contains(res.body, []byte("\n"+connectMessage+"\n")) || !bytes.HasPrefix(res.body, []byte("<!DOCTYPE HTML PUBLIC")) {
		t.Errorf("body is not the §5.12 page with %q:\n%s", connectMessage, res.body)
	}
	if len(res.body) != 951 {
		t.Errorf("page is %d bytes, want 951 (the seed's sc-content-len)", len(res.body))
	}
	rec := e.waitCF(d, 1)[0]
	if rec.Status != 502 || rec.ResultType != "Error" || rec.ResponseResultType != "Error" || rec.DetailedResultType != "OriginConnectError" {
		t.Errorf("log: %d %s/%s/%s", rec.Status, rec.ResultType, rec.ResponseResultType, rec.DetailedResultType)
	}
	if rec.ContentType != "text/html" || rec.ContentLen != int64(len(res.body)) {
		t.Errorf("log content %q %d, want text/html %d", rec.ContentType, rec.ContentLen, len(res.body))
	}
	if rec.Host != d.DomainName || rec.RequestID != res.header.Get("X-Amz-Cf-Id") {
		t.Errorf("log host %q id %q; response id %q", rec.Host, rec.RequestID, res.header.Get("X-Amz-Cf-Id"))
	}
	// The ALB never saw a request: a direct request to it is its first line.
	if r := e.alb("alb.example.com", "/"); r.status != http.StatusOK {
		t.Fatalf("direct ALB request: %d", r.status)
	}
	albRecs := e.waitALB(1)
	if ua := albRecs[0].UserAgent; !strings.Contains(ua, "runtime") {
		t.Errorf("the ALB's only line is not the direct request: UA %q", ua)
	}
}

// TestFixedStack: origin alb.example.com (a Route 53 alias to the ALB).
func TestFixedStack(t *testing.T) {
	e := start(t, stack.DefaultTemplate())
	d := e.stack.Distributions[0]
	lb := e.stack.LoadBalancers[0]

	first := e.viewer(http.MethodGet, "https", d.DomainName, "/", nil)
	if first.status != 200 || first.header.Get("X-Cache") != "Miss from cloudfront" {
		t.Fatalf("first: %d %q", first.status, first.header.Get("X-Cache"))
	}
	second := e.viewer(http.MethodGet, "https", d.DomainName, "/", nil)
	if second.status != 200 || second.header.Get("X-Cache") != "Hit from cloudfront" {
		t.Fatalf("second: %d %q", second.status, second.header.Get("X-Cache"))
	}
	if second.header.Get("Age") == "" {
		t.Errorf("a hit has no Age header")
	}
	if !bytes.Equal(first.body, second.body) {
		t.Errorf("the hit's body differs from the miss's")
	}
	for _, h := range []string{"Via", "X-Amz-Cf-Pop", "X-Amz-Cf-Id"} {
		if second.header.Get(h) == "" {
			t.Errorf("no %s header", h)
		}
	}
	cf := e.waitCF(d, 2)
	if cf[0].ResultType != "Miss" || cf[1].ResultType != "Hit" {
		t.Errorf("CloudFront log result types %s, %s", cf[0].ResultType, cf[1].ResultType)
	}
	if cf[0].ProtocolVersion != "HTTP/2.0" || cf[0].SSLProtocol == "" {
		t.Errorf("CloudFront log protocol %s %s", cf[0].ProtocolVersion, cf[0].SSLProtocol)
	}
	recs := e.waitALB(1)
	rec := recs[0]
	https := lb.Listeners[0]
	for _, l := range lb.Listeners {
		if l.Protocol == "HTTPS" {
			https = l
		}
	}
	if rec.ChosenCertARN != https.Certificates[0].ARN {
		t.Errorf("chosen_cert_arn %q, want %q", rec.ChosenCertARN, https.Certificates[0].ARN)
	}
	if rec.DomainName != "alb.example.com" {
		t.Errorf("domain_name %q, want the SNI alb.example.com", rec.DomainName)
	}
	registered := map[string]bool{}
	for _, tg := range e.stack.TargetGroups {
		for _, tt := range tg.Targets {
			registered[tt.Addr] = true
		}
	}
	if !registered[rec.Target] || !strings.HasPrefix(rec.Target, "10.0.") {
		t.Errorf("target %q is not a registered target %v", rec.Target, registered)
	}
	if rec.ELBStatus != 200 || rec.TargetStatus != 200 || rec.ActionsExecuted != "forward" || rec.ELB != lb.FullName {
		t.Errorf("ALB record %+v", rec)
	}
}

// originTemplate is a distribution whose origin origin.example.com resolves
// to 127.0.0.1 on port.
func originTemplate(name string, port int, extraOrigin, extraBehavior string) []byte {
	return []byte(fmt.Sprintf(`AWSTemplateFormatVersion: "2010-09-09"
Resources:
  Anchor:
    Type: AWS::Route53::RecordSet
    Properties:
      HostedZoneName: example.com.
      Name: anchor.example.com
      Type: A
      TTL: "60"
      ResourceRecords: [127.0.0.1]
  Origin:
    Type: AWS::Route53::RecordSet
    Properties:
      HostedZoneName: example.com.
      Name: origin.example.com
      Type: A
      TTL: "60"
      ResourceRecords: [127.0.0.1]
  CDN:
    Type: AWS::CloudFront::Distribution
    Properties:
      DistributionConfig:
        Enabled: true
        Origins:
          - Id: o
            DomainName: %s
            ConnectionAttempts: 1
            ConnectionTimeout: 1
            CustomOriginConfig:
              OriginProtocolPolicy: https-only
              HTTPSPort: %d
              OriginReadTimeout: 1
%s
        DefaultCacheBehavior:
          TargetOriginId: o
          ViewerProtocolPolicy: allow-all
          CachePolicyId: 4135ea2d-6df8-44a3-9df3-4b5a84be39ad
%s
`, name, port, extraOrigin, extraBehavior))
}

// tlsOrigin serves 200 "origin ok" with cert on a loopback port.
func tlsOrigin(t *testing.T, cert *tls.Certificate) int {
	t.Helper()
	ln, err := tls.Listen("tcp", "127.0.0.1:0", &tls.Config{Certificates: []tls.Certificate{*cert}})
	if err != nil {
		t.Fatal(err)
	}
	srv := &http.Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		io.WriteString(w, "origin ok")
	})}
	go srv.Serve(ln)
	t.Cleanup(func() { srv.Close() })
	return ln.Addr().(*net.TCPAddr).Port
}

// TestOriginFailures: each way of failing to reach an origin gives the
// status, page and detailed result type of cloudfront.md §2.4.
func TestOriginFailures(t *testing.T) {
	const (
		dnsMsg     = "CloudFront wasn't able to resolve the origin domain name."
		timeoutMsg = "CloudFront attempted to establish a connection with the origin, but either the attempt failed or the origin closed the connection."
	)
	stateDir := t.TempDir()
	ca, err := pki.Open(stateDir)
	if err != nil {
		t.Fatal(err)
	}
	now := time.Now()
	selfSigned, err := pki.SelfSigned([]string{"origin.example.com"}, now.Add(-time.Hour), now.Add(24*time.Hour))
	if err != nil {
		t.Fatal(err)
	}
	expired, err := ca.IssueWith([]string{"origin.example.com"}, now.Add(-48*time.Hour), now.Add(-24*time.Hour))
	if err != nil {
		t.Fatal(err)
	}
	wrongName, err := ca.Issue([]string{"other.example.com"})
	if err != nil {
		t.Fatal(err)
	}
	cases := []struct {
		name     string
		origin   string
		port     func(t *testing.T) int
		status   int
		message  string
		detailed string
		reason   string // the edge's named reason, in kumo's own log
	}{
		{"self-signed", "origin.example.com", func(t *testing.T) int { return tlsOrigin(t, selfSigned) }, 502, connectMessage, "OriginConnectError", "OriginTLSUntrusted"},
		{"expired", "origin.example.com", func(t *testing.T) int { return tlsOrigin(t, expired) }, 502, connectMessage, "OriginConnectError", "OriginTLSExpired"},
		{"name mismatch", "origin.example.com", func(t *testing.T) int { return tlsOrigin(t, wrongName) }, 502, connectMessage, "OriginConnectError", "OriginTLSNameMismatch"},
		{"refused", "origin.example.com", port(nettest.RefusedAddr), 502, connectMessage, "OriginConnectError", "OriginRefused"},
		{"unknown name", "nope.example.com", port(nettest.RefusedAddr), 502, dnsMsg, "OriginDnsError", "OriginDNS"},
		{"read timeout", "origin.example.com", port(nettest.SilentAddr), 504, timeoutMsg, "OriginCommError", "OriginReadTimeout"},
		{"connect timeout", "origin.example.com", port(nettest.SYNDroppingAddr), 504, timeoutMsg, "OriginCommError", "OriginConnectTimeout"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			port := tc.port(t)
			dir := t.TempDir()
			// Share the CA that issued the test certificates.
			copyCA(t, stateDir, dir)
			e := startIn(t, dir, originTemplate(tc.origin, port, "", ""))
			d := e.stack.Distributions[0]
			res := e.viewer(http.MethodGet, "https", d.DomainName, "/x", nil)
			if res.status != tc.status {
				t.Fatalf("status %d, want %d; body:\n%s", res.status, tc.status, res.body)
			}
			if !bytes.Contains(res.body, []byte("\n"+tc.message+"\n")) {
				t.Errorf("page lacks %q:\n%s", tc.message, res.body)
			}
			if got := res.header.Get("X-Cache"); got != "Error from cloudfront" {
				t.Errorf("X-Cache %q", got)
			}
			rec := e.waitCF(d, 1)[0]
			if rec.Status != tc.status || rec.ResultType != "Error" || rec.DetailedResultType != tc.detailed || rec.ContentLen != int64(len(res.body)) {
				t.Errorf("log: %d %s %s len %d (body %d)", rec.Status, rec.ResultType, rec.DetailedResultType, rec.ContentLen, len(res.body))
			}
			if !strings.Contains(e.log.String(), "reason="+tc.reason+" ") {
				t.Errorf("kumo's log does not name the reason %s", tc.reason)
			}
		})
	}
}

// port adapts a nettest fixture to return its port.
func port(fixture func(testing.TB) string) func(*testing.T) int {
	return func(t *testing.T) int {
		_, p, err := net.SplitHostPort(fixture(t))
		if err != nil {
			t.Fatal(err)
		}
		n, err := strconv.Atoi(p)
		if err != nil {
			t.Fatal(err)
		}
		return n
	}
}

// copyCA makes dst use the CA in src.
func copyCA(t *testing.T, src, dst string) {
	t.Helper()
	ca, err := pki.Open(src)
	if err != nil {
		t.Fatal(err)
	}
	certPEM, err := os.ReadFile(ca.CertFile())
	if err != nil {
		t.Fatal(err)
	}
	keyPath := strings.TrimSuffix(ca.CertFile(), "ca.pem") + "ca-key.pem"
	keyPEM, err := os.ReadFile(keyPath)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.MkdirAll(dst+"/pki", 0o700); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(dst+"/pki/ca.pem", certPEM, 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(dst+"/pki/ca-key.pem", keyPEM, 0o600); err != nil {
		t.Fatal(err)
	}
}
