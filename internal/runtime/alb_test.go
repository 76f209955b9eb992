package runtime_test

import (
	"bytes"
	"compress/gzip"
	"context"
	"crypto/tls"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/kumo-dev/kumo/internal/accesslog"
	"github.com/kumo-dev/kumo/internal/runtime"
	"github.com/kumo-dev/kumo/internal/stack"
	"github.com/kumo-dev/kumo/internal/tooltest"
)

// albStack is a CloudFront → ALB → EC2 template with knobs.
type albStack struct {
	albSANs        string // SubjectAlternativeNames of the ALB certificate
	originRequest  string // OriginRequestPolicyId ("" for none)
	cachePolicy    string
	healthPath     string
	targets        string // TargetGroup Targets
	upstream       string // Metadata.Kumo.Upstream of the instances ("" for the built-in web server)
	comment        string
	listenerListen string // Metadata.Kumo.Listen of the HTTPS listener
}

func (s albStack) render() []byte {
	if s.albSANs == "" {
		s.albSANs = "[]"
	}
	if s.cachePolicy == "" {
		s.cachePolicy = "658327ea-f89d-4fab-a63d-7e88639e58f6"
	}
	if s.healthPath == "" {
		s.healthPath = "/"
	}
	if s.targets == "" {
		s.targets = "[{Id: !Ref Web1, Port: 80}, {Id: !Ref Web2, Port: 80}]"
	}
	orp := ""
	if s.originRequest != "" {
		orp = "          OriginRequestPolicyId: " + s.originRequest
	}
	instMeta := ""
	if s.upstream != "" {
		instMeta = fmt.Sprintf("    Metadata:\n      Kumo:\n        Upstream: %q\n", s.upstream)
	}
	listen := ""
	if s.listenerListen != "" {
		listen = fmt.Sprintf("    Metadata:\n      Kumo:\n        Listen: %q\n", s.listenerListen)
	}
	if s.comment == "" {
		s.comment = "test"
	}
	return []byte(fmt.Sprintf(`AWSTemplateFormatVersion: "2010-09-09"
Metadata:
  Kumo:
    # CloudFront takes viewer certificates from us-east-1 only.
    Region: us-east-1
Resources:
  AlbCertificate:
    Type: AWS::CertificateManager::Certificate
    Properties:
      DomainName: alb.example.com
      SubjectAlternativeNames: %s
  WwwCertificate:
    Type: AWS::CertificateManager::Certificate
    Properties:
      DomainName: www.example.com
  LoadBalancer:
    Type: AWS::ElasticLoadBalancingV2::LoadBalancer
    Properties:
      Name: alb-test
  HttpsListener:
    Type: AWS::ElasticLoadBalancingV2::Listener
%s    Properties:
      LoadBalancerArn: !Ref LoadBalancer
      Protocol: HTTPS
      Port: 443
      Certificates:
        - CertificateArn: !Ref AlbCertificate
      DefaultActions:
        - Type: forward
          TargetGroupArn: !Ref WebTargetGroup
  WebTargetGroup:
    Type: AWS::ElasticLoadBalancingV2::TargetGroup
    Properties:
      Name: alb-tg
      Protocol: HTTP
      Port: 80
      TargetType: instance
      HealthCheckPath: %s
      HealthCheckIntervalSeconds: 5
      HealthCheckTimeoutSeconds: 2
      UnhealthyThresholdCount: 2
      Targets: %s
  Web1:
    Type: AWS::EC2::Instance
%s    Properties:
      ImageId: ami-0123456789abcdef0
      PrivateIpAddress: 10.0.4.254
  Web2:
    Type: AWS::EC2::Instance
%s    Properties:
      ImageId: ami-0123456789abcdef0
      PrivateIpAddress: 10.0.5.23
  AlbRecord:
    Type: AWS::Route53::RecordSet
    Properties:
      HostedZoneName: example.com.
      Name: alb.example.com
      Type: A
      AliasTarget:
        DNSName: !GetAtt LoadBalancer.DNSName
        HostedZoneId: !GetAtt LoadBalancer.CanonicalHostedZoneID
  Distribution:
    Type: AWS::CloudFront::Distribution
    Properties:
      DistributionConfig:
        Enabled: true
        Comment: %s
        Aliases: [www.example.com]
        ViewerCertificate:
          AcmCertificateArn: !Ref WwwCertificate
          SslSupportMethod: sni-only
          MinimumProtocolVersion: TLSv1.2_2021
        Origins:
          - Id: alb
            DomainName: alb.example.com
            CustomOriginConfig:
              OriginProtocolPolicy: https-only
        DefaultCacheBehavior:
          TargetOriginId: alb
          ViewerProtocolPolicy: allow-all
          CachePolicyId: %s
%s
`, s.albSANs, listen, s.healthPath, s.targets, instMeta, instMeta, s.comment, s.cachePolicy, orp))
}

const allViewer = "216adef6-5c7f-47e4-b989-5492eafa07d3"
const cachingDisabled = "4135ea2d-6df8-44a3-9df3-4b5a84be39ad"

// TestAllViewerForwardsHost: with the viewer's Host forwarded, the SNI the
// ALB sees is the viewer's host, and the origin certificate must cover it
// (cloudfront.md §2.2–2.3).
func TestAllViewerForwardsHost(t *testing.T) {
	t.Run("certificate lacks the viewer host", func(t *testing.T) {
		e := start(t, albStack{originRequest: allViewer}.render())
		d := e.stack.Distributions[0]
		res := e.viewer(http.MethodGet, "https", "www.example.com", "/", nil)
		if res.status != http.StatusBadGateway || !bytes.Contains(res.body, []byte(connectMessage)) {
			t.Fatalf("status %d, want 502 %q; body %s", res.status, connectMessage, res.body)
		}
		rec := e.waitCF(d, 1)[0]
		if rec.DetailedResultType != "OriginConnectError" || rec.HostHeader != "www.example.com" || rec.Host != d.DomainName {
			t.Errorf("log %s host %q x-host-header %q", rec.DetailedResultType, rec.Host, rec.HostHeader)
		}
	})
	t.Run("certificate covers the viewer host", func(t *testing.T) {
		e := start(t, albStack{originRequest: allViewer, albSANs: "[www.example.com]"}.render())
		res := e.viewer(http.MethodGet, "https", "www.example.com", "/", nil)
		if res.status != http.StatusOK {
			t.Fatalf("status %d, want 200; body %s", res.status, res.body)
		}
		rec := e.waitALB(1)[0]
		if rec.DomainName != "www.example.com" {
			t.Errorf("SNI at the ALB %q, want the viewer's host www.example.com", rec.DomainName)
		}
		if !strings.Contains(rec.Request, "://www.example.com:443/") {
			t.Errorf("the ALB saw request %q, want Host www.example.com", rec.Request)
		}
	})
	t.Run("without AllViewer the SNI is the origin domain", func(t *testing.T) {
		e := start(t, albStack{}.render())
		res := e.viewer(http.MethodGet, "https", "www.example.com", "/", nil)
		if res.status != http.StatusOK {
			t.Fatalf("status %d; body %s", res.status, res.body)
		}
		if rec := e.waitALB(1)[0]; rec.DomainName != "alb.example.com" {
			t.Errorf("SNI at the ALB %q, want alb.example.com", rec.DomainName)
		}
	})
}

// healthUpstream answers 500 on /health and 200 elsewhere: every health
// check fails, every request succeeds.
func healthUpstream(t *testing.T) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	srv := &http.Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/health" {
			http.Error(w, "sick", http.StatusInternalServerError)
			return
		}
		io.WriteString(w, "served anyway")
	})}
	go srv.Serve(ln)
	t.Cleanup(func() { srv.Close() })
	return ln.Addr().String()
}

// TestFailOpen: every target unhealthy → the ALB routes to all of them
// (alb.md §2.2).
func TestFailOpen(t *testing.T) {
	e := start(t, albStack{healthPath: "/health", upstream: healthUpstream(t)}.render())
	poll(t, "both targets unhealthy", func() bool {
		n := 0
		for _, lb := range e.rt.Endpoints().LoadBalancers {
			for _, tg := range lb.Targets {
				if tg.State == "unhealthy" {
					n++
				}
			}
		}
		return n == 2
	})
	res := e.alb("alb.example.com", "/")
	if res.status != http.StatusOK || string(res.body) != "served anyway" {
		t.Fatalf("fail-open: %d %q", res.status, res.body)
	}
}

// TestNoTargets: a target group with no registered targets → 503.
func TestNoTargets(t *testing.T) {
	e := start(t, albStack{targets: "[]"}.render())
	res := e.alb("alb.example.com", "/")
	want := "<html>\r\n<head><title>503 Service Temporarily Unavailable</title></head>\r\n<body>\r\n<center><h1>503 Service Temporarily Unavailable</h1></center>\r\n</body>\r\n</html>\r\n"
	if res.status != http.StatusServiceUnavailable || string(res.body) != want {
		t.Fatalf("status %d body %q", res.status, res.body)
	}
	if res.header.Get("Server") != "awselb/2.0" {
		t.Errorf("Server %q", res.header.Get("Server"))
	}
	rec := e.waitALB(1)[0]
	if rec.ELBStatus != 503 || rec.Target != "" || rec.TargetGroupARN == "" {
		t.Errorf("log %+v", rec)
	}
}

// blockingUpstream holds /slow until release is closed.
func blockingUpstream(t *testing.T) (addr string, arrived <-chan struct{}, release chan struct{}) {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	got := make(chan struct{}, 16)
	rel := make(chan struct{})
	srv := &http.Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/slow" {
			got <- struct{}{}
			<-rel
		}
		io.WriteString(w, "done "+r.URL.Path)
	})}
	go srv.Serve(ln)
	t.Cleanup(func() {
		select {
		case <-rel:
		default:
			close(rel)
		}
		srv.Close()
	})
	return ln.Addr().String(), got, rel
}

// TestReloadKeepsInFlight: a request in flight during a reload finishes, and
// is logged.
func TestReloadKeepsInFlight(t *testing.T) {
	up, arrived, release := blockingUpstream(t)
	base := albStack{upstream: up, cachePolicy: cachingDisabled}
	e := start(t, base.render())
	d := e.stack.Distributions[0]

	done := make(chan result, 1)
	go func() { done <- e.viewer(http.MethodGet, "https", d.DomainName, "/slow", nil) }()
	select {
	case <-arrived:
	case <-time.After(30 * time.Second):
		t.Fatal("the slow request never reached the upstream")
	}
	next := base
	next.comment = "reloaded"
	if err := e.rt.Reload(context.Background(), parse(t, next.render())); err != nil {
		t.Fatalf("Reload: %v", err)
	}
	if got := e.rt.Stack().Distributions[0].Comment; got != "reloaded" {
		t.Fatalf("the reload did not apply: comment %q", got)
	}
	after := e.viewer(http.MethodGet, "https", d.DomainName, "/after", nil)
	if after.status != 200 {
		t.Fatalf("request after the reload: %d", after.status)
	}
	close(release)
	res := <-done
	if res.status != 200 || string(res.body) != "done /slow" {
		t.Fatalf("in-flight request: %d %q", res.status, res.body)
	}
	e.waitCF(d, 2)
	e.waitALB(2)
}

// TestBadReloadKeepsStack: a reload that cannot apply (its listener address is
// taken) leaves the running stack serving.
func TestBadReloadKeepsStack(t *testing.T) {
	// Not Ephemeral: the bad stack's explicit Listen address must be bound
	// as written. The running stack's listener has none (a free port).
	st := parse(t, albStack{}.render())
	rt, err := runtime.Start(context.Background(), st, runtime.Options{
		StateDir: t.TempDir(), ViewerHTTPS: "127.0.0.1:0", ViewerHTTP: "127.0.0.1:0", Logger: testLogger(t),
	})
	if err != nil {
		t.Fatal(err)
	}
	e := &env{t: t, rt: rt, stack: st}
	t.Cleanup(e.shutdown)
	before := rt.Endpoints()

	taken, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer taken.Close()
	bad := parse(t, albStack{listenerListen: taken.Addr().String(), comment: "bad"}.render())
	if err := rt.Reload(context.Background(), bad); err == nil {
		t.Fatal("a reload onto a taken address succeeded")
	}
	if rt.Stack() != st {
		t.Fatal("the failed reload replaced the running stack")
	}
	after := rt.Endpoints()
	if after.LoadBalancers[0].Listeners[0].Local != before.LoadBalancers[0].Listeners[0].Local {
		t.Fatalf("listener moved: %v → %v", before.LoadBalancers[0].Listeners, after.LoadBalancers[0].Listeners)
	}
	if res := e.alb("alb.example.com", "/"); res.status != 200 {
		t.Fatalf("after the failed reload the ALB answers %d", res.status)
	}
}

// TestShutdownFlushesLogs: every answered request is in the gzipped logs
// after Shutdown, and GoAccess's presets parse both logs with no failures.
func TestShutdownFlushesLogs(t *testing.T) {
	stateDir := t.TempDir()
	st := parse(t, albStack{cachePolicy: cachingDisabled}.render())
	rt, err := runtime.Start(context.Background(), st, runtime.Options{
		StateDir: stateDir, ViewerHTTPS: "127.0.0.1:0", ViewerHTTP: "127.0.0.1:0", Ephemeral: true, Logger: testLogger(t),
	})
	if err != nil {
		t.Fatal(err)
	}
	e := &env{t: t, rt: rt, stateDir: stateDir, stack: st}
	t.Cleanup(e.shutdown)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if err := rt.WaitHealthChecked(ctx); err != nil {
		t.Fatal(err)
	}
	d := st.Distributions[0]
	const n = 12
	var wg sync.WaitGroup
	for i := 0; i < n; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			path := fmt.Sprintf("/page-%d?q=%d", i, i)
			if i%3 == 0 {
				path = "/icons/apache_pb2.gif"
			}
			e.viewer(http.MethodGet, "https", d.DomainName, path, http.Header{"Referer": {"https://www.example.com/é \"x\""}})
		}()
	}
	wg.Wait()
	if err := rt.Shutdown(ctx); err != nil {
		t.Fatalf("Shutdown: %v", err)
	}
	cfFiles := gzFiles(t, runtime.CloudFrontDir(stateDir))
	// The access-log files only: the connection and health-check logs
	// share the AWSLogs tree under their own prefixes (alb.md §1.12, §1.13).
	albFiles := accessLogFiles(gzFiles(t, runtime.ALBDir(stateDir)))
	if len(cfFiles) == 0 || len(albFiles) == 0 {
		t.Fatalf("no gzipped logs after shutdown: %v %v", cfFiles, albFiles)
	}
	cfText := gunzipAll(t, cfFiles)
	albText := gunzipAll(t, albFiles)
	if got := countLines(cfText, true); got != n {
		t.Errorf("CloudFront log has %d lines, want %d", got, n)
	}
	if got := countLines(albText, false); got != n {
		t.Errorf("ALB log has %d lines, want %d", got, n)
	}

	goaccess := tooltest.Require(t, "goaccess")
	for _, c := range []struct{ format, text string }{{"CLOUDFRONT", cfText}, {"AWSALB", albText}} {
		dir := t.TempDir()
		in := filepath.Join(dir, "in.log")
		if err := os.WriteFile(in, []byte(c.text), 0o644); err != nil {
			t.Fatal(err)
		}
		out := filepath.Join(dir, "out.json")
		cmd := exec.Command(goaccess, in, "--log-format="+c.format, "--no-global-config", "-o", out, "--invalid-requests="+filepath.Join(dir, "invalid.log"))
		if b, err := cmd.CombinedOutput(); err != nil {
			t.Fatalf("goaccess %s: %v\n%s", c.format, err, b)
		}
		b, err := os.ReadFile(out)
		if err != nil {
			t.Fatal(err)
		}
		if !bytes.Contains(b, []byte(`"failed_requests": 0`)) || !bytes.Contains(b, []byte(fmt.Sprintf(`"total_requests": %d`, n))) {
			invalid, _ := os.ReadFile(filepath.Join(dir, "invalid.log"))
			t.Errorf("goaccess %s did not parse every line:\n%s\ninvalid:\n%s", c.format, firstLines(b, 12), invalid)
		}
	}
}

// accessLogFiles keeps the ALB access-log files: the connection and
// health-check logs share the AWSLogs tree under their own prefixes
// (alb.md §1.12, §1.13).
func accessLogFiles(files []string) []string {
	var out []string
	for _, f := range files {
		base := filepath.Base(f)
		if !strings.HasPrefix(base, accesslog.ALBConnectionLogPrefix) && !strings.HasPrefix(base, accesslog.ALBHealthCheckLogPrefix) {
			out = append(out, f)
		}
	}
	return out
}

func gzFiles(t *testing.T, dir string) []string {
	t.Helper()
	var out []string
	err := filepath.WalkDir(dir, func(p string, de os.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if !de.IsDir() {
			if !strings.HasSuffix(p, ".gz") {
				return fmt.Errorf("a live (not gzipped) log remains after shutdown: %s", p)
			}
			out = append(out, p)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return out
}

func gunzipAll(t *testing.T, files []string) string {
	t.Helper()
	var b strings.Builder
	for _, f := range files {
		fh, err := os.Open(f)
		if err != nil {
			t.Fatal(err)
		}
		zr, err := gzip.NewReader(fh)
		if err != nil {
			t.Fatalf("%s: %v", f, err)
		}
		if _, err := io.Copy(&b, zr); err != nil {
			t.Fatalf("%s: %v", f, err)
		}
		fh.Close()
	}
	return b.String()
}

func countLines(s string, skipComments bool) int {
	n := 0
	for _, l := range strings.Split(s, "\n") {
		if l == "" || (skipComments && strings.HasPrefix(l, "#")) {
			continue
		}
		n++
	}
	return n
}

func firstLines(b []byte, n int) string {
	lines := strings.SplitN(string(b), "\n", n+1)
	if len(lines) > n {
		lines = lines[:n]
	}
	return strings.Join(lines, "\n")
}

// TestCurl drives the default stack with the curl lines `kumo up` prints.
func TestCurl(t *testing.T) {
	curl := tooltest.Require(t, "curl")
	e := start(t, stack.DefaultTemplate())
	ep := e.rt.Endpoints()
	d := ep.Distributions[0]
	var xcache []string
	for i := 0; i < 2; i++ {
		out, err := exec.Command(curl, "-sS", "-i", "--http2", "--resolve", d.Resolve, "--cacert", ep.CAFile, d.URL).CombinedOutput()
		if err != nil {
			t.Fatalf("curl: %v\n%s", err, out)
		}
		head, _, _ := strings.Cut(string(out), "\r\n\r\n")
		if !strings.HasPrefix(head, "HTTP/2 200") {
			t.Fatalf("curl got:\n%s", head)
		}
		for _, l := range strings.Split(head, "\r\n") {
			if k, v, ok := strings.Cut(l, ": "); ok && strings.EqualFold(k, "x-cache") {
				xcache = append(xcache, v)
			}
		}
	}
	if strings.Join(xcache, ",") != "Miss from cloudfront,Hit from cloudfront" {
		t.Fatalf("X-Cache over two curls: %v", xcache)
	}
}

// wsUpstream accepts a WebSocket upgrade and then echoes until closed.
func wsUpstream(t *testing.T) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	srv := &http.Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Header.Get("Upgrade") == "" {
			io.WriteString(w, "ok")
			return
		}
		c, brw, err := http.NewResponseController(w).Hijack()
		if err != nil {
			return
		}
		defer c.Close()
		io.WriteString(c, "HTTP/1.1 101 Switching Protocols\r\nConnection: Upgrade\r\nUpgrade: websocket\r\n\r\n")
		io.Copy(c, brw)
	})}
	go srv.Serve(ln)
	t.Cleanup(func() { srv.Close() })
	return ln.Addr().String()
}

// TestShutdownLogsOpenWebSocket: a WebSocket still open at shutdown is
// closed by kumo and still gets its ALB access-log line (type wss).
func TestShutdownLogsOpenWebSocket(t *testing.T) {
	stateDir := t.TempDir()
	st := parse(t, albStack{upstream: wsUpstream(t)}.render())
	rt, err := runtime.Start(context.Background(), st, runtime.Options{
		StateDir: stateDir, ViewerHTTPS: "127.0.0.1:0", ViewerHTTP: "127.0.0.1:0", Ephemeral: true, Logger: testLogger(t),
	})
	if err != nil {
		t.Fatal(err)
	}
	e := &env{t: t, rt: rt, stateDir: stateDir, stack: st}
	t.Cleanup(e.shutdown)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if err := rt.WaitHealthChecked(ctx); err != nil {
		t.Fatal(err)
	}
	var addr string
	for _, l := range rt.Endpoints().LoadBalancers[0].Listeners {
		if l.Protocol == "HTTPS" {
			addr = l.Local
		}
	}
	c, err := tls.Dial("tcp", addr, &tls.Config{RootCAs: rt.CA().Pool(), ServerName: "alb.example.com", NextProtos: []string{"http/1.1"}})
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	io.WriteString(c, "GET /ws HTTP/1.1\r\nHost: alb.example.com\r\nConnection: Upgrade\r\nUpgrade: websocket\r\nSec-WebSocket-Version: 13\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n\r\n")
	head := make([]byte, 12)
	if _, err := io.ReadFull(c, head); err != nil || string(head) != "HTTP/1.1 101" {
		t.Fatalf("upgrade: %q %v", head, err)
	}
	io.WriteString(c, "ping")
	if err := rt.Shutdown(ctx); err != nil {
		t.Fatalf("Shutdown: %v", err)
	}
	albText := gunzipAll(t, accessLogFiles(gzFiles(t, runtime.ALBDir(stateDir))))
	if !strings.Contains(albText, "wss ") || !strings.Contains(albText, "GET https://alb.example.com:443/ws HTTP/1.1") {
		t.Fatalf("no wss line for the WebSocket open at shutdown:\n%s", albText)
	}
}
