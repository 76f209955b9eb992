package edge

import (
	"context"
	"crypto/tls"
	"fmt"
	"io"
	"log"
	"log/slog"
	"net"
	"net/http"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/kumo-dev/kumo/internal/accesslog"
	"github.com/kumo-dev/kumo/internal/dns"
	"github.com/kumo-dev/kumo/internal/model"
	"github.com/kumo-dev/kumo/internal/pki"
	"github.com/kumo-dev/kumo/internal/serve"
)

const testDomain = "d111111abcdef8.cloudfront.net"

// fakeClock is a settable clock that starts at the real time.
type fakeClock struct {
	mu  sync.Mutex
	now time.Time
}

func (c *fakeClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.now
}

func (c *fakeClock) Advance(d time.Duration) {
	c.mu.Lock()
	c.now = c.now.Add(d)
	c.mu.Unlock()
}

// testResolver maps origin names to local addresses.
type testResolver struct {
	mu    sync.Mutex
	addrs map[string]string
	calls atomic.Int64
}

func (r *testResolver) Set(name, addr string) {
	r.mu.Lock()
	r.addrs[name] = addr
	r.mu.Unlock()
}

func (r *testResolver) Resolve(_ context.Context, host string, port int) (dns.Answer, error) {
	r.calls.Add(1)
	r.mu.Lock()
	defer r.mu.Unlock()
	a, ok := r.addrs[host]
	if !ok {
		return dns.Answer{}, fmt.Errorf("resolve %s: %w", host, dns.ErrNotFound)
	}
	if a == "nolistener" {
		return dns.Answer{}, fmt.Errorf("%s:%d: %w", host, port, dns.ErrNoListener)
	}
	return dns.Answer{Dial: a, Name: host}, nil
}

// logSink collects log records.
type logSink struct {
	mu   sync.Mutex
	recs []accesslog.CloudFrontRecord
	dist []*model.Distribution
}

func (l *logSink) log(d *model.Distribution, rec *accesslog.CloudFrontRecord) {
	l.mu.Lock()
	kept := *rec
	kept.RequestID = strings.Clone(rec.RequestID) // Config.Log: not ours after the call
	l.recs = append(l.recs, kept)
	l.dist = append(l.dist, d)
	l.mu.Unlock()
}

// wait polls for the record of request id rid.
func (l *logSink) wait(t testing.TB, rid string) accesslog.CloudFrontRecord {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for time.Now().Before(deadline) {
		l.mu.Lock()
		for _, r := range l.recs {
			if r.RequestID == rid {
				l.mu.Unlock()
				return r
			}
		}
		l.mu.Unlock()
		time.Sleep(5 * time.Millisecond)
	}
	t.Fatalf("no log record for request id %q", rid)
	return accesslog.CloudFrontRecord{}
}

type env struct {
	t        testing.TB
	ca       *pki.CA
	clock    *fakeClock
	res      *testResolver
	logs     *logSink
	edge     *Edge
	httpsSrv *serve.Server
	httpSrv  *serve.Server
}

func newCA(t testing.TB) *pki.CA {
	t.Helper()
	ca, err := pki.Open(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	return ca
}

// newEnv starts an edge for stack on two loopback listeners.
func newEnv(t testing.TB, ca *pki.CA, stack *model.Stack) *env {
	t.Helper()
	if ca == nil {
		ca = newCA(t)
	}
	ev := &env{t: t, ca: ca, clock: &fakeClock{now: time.Now()}, res: &testResolver{addrs: map[string]string{}}, logs: &logSink{}}
	e, err := New(Config{Stack: stack, Certs: ca, Resolver: ev.res, OriginRoots: ca.Pool(), Log: ev.logs.log,
		Logger: slog.New(slog.NewTextHandler(io.Discard, nil)), Now: ev.clock.Now, HTTPSPort: 8443}, nil)
	if err != nil {
		t.Fatal(err)
	}
	ev.edge = e
	ev.httpsSrv, err = serve.Listen("127.0.0.1:0", e.Plane(true), serve.Options{HTTP2: true})
	if err != nil {
		t.Fatal(err)
	}
	ev.httpSrv, err = serve.Listen("127.0.0.1:0", e.Plane(false), serve.Options{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		_ = ev.httpsSrv.Shutdown(ctx)
		_ = ev.httpSrv.Shutdown(ctx)
		e.Close()
	})
	return ev
}

// client returns a viewer client that connects to the edge's HTTPS (or HTTP)
// listener whatever the URL's host, trusting the kumo CA.
func (ev *env) client(https, h2 bool) *http.Client {
	addr := ev.httpSrv.Addr()
	if https {
		addr = ev.httpsSrv.Addr()
	}
	tr := &http.Transport{
		DialContext: func(ctx context.Context, _, _ string) (net.Conn, error) {
			var d net.Dialer
			return d.DialContext(ctx, "tcp", addr)
		},
		TLSClientConfig:   &tls.Config{RootCAs: ev.ca.Pool()},
		ForceAttemptHTTP2: h2,
	}
	if !h2 {
		tr.TLSNextProto = map[string]func(string, *tls.Conn) http.RoundTripper{}
	}
	ev.t.Cleanup(tr.CloseIdleConnections)
	return &http.Client{Transport: tr, CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
}

type result struct {
	status int
	header http.Header
	body   []byte
	rid    string
}

func (ev *env) do(c *http.Client, method, url string, hdr http.Header) result {
	ev.t.Helper()
	req, err := http.NewRequest(method, url, nil)
	if err != nil {
		ev.t.Fatal(err)
	}
	for k, v := range hdr {
		req.Header[k] = v
	}
	if h := hdr.Get("Host"); h != "" {
		req.Host = h
	}
	resp, err := c.Do(req)
	if err != nil {
		ev.t.Fatalf("%s %s: %v", method, url, err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		ev.t.Fatalf("%s %s: read body: %v", method, url, err)
	}
	return result{status: resp.StatusCode, header: resp.Header, body: body, rid: resp.Header.Get("X-Amz-Cf-Id")}
}

// originServer is a test origin on 127.0.0.1:0.
type originServer struct {
	addr string
	hits atomic.Int64
	mu   sync.Mutex
	sni  []string
	reqs []*http.Request
}

func (o *originServer) lastRequest() *http.Request {
	o.mu.Lock()
	defer o.mu.Unlock()
	if len(o.reqs) == 0 {
		return nil
	}
	return o.reqs[len(o.reqs)-1]
}

func (o *originServer) lastSNI() string {
	o.mu.Lock()
	defer o.mu.Unlock()
	if len(o.sni) == 0 {
		return ""
	}
	return o.sni[len(o.sni)-1]
}

// startOrigin serves h, over TLS with cert when cert is non-nil.
func startOrigin(t testing.TB, h http.HandlerFunc, cert *tls.Certificate) *originServer {
	t.Helper()
	o := &originServer{}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	o.addr = ln.Addr().String()
	srv := &http.Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		o.hits.Add(1)
		o.mu.Lock()
		o.reqs = append(o.reqs, r)
		o.mu.Unlock()
		h(w, r)
	}), ErrorLog: log.New(io.Discard, "", 0)}
	if cert != nil {
		base := &tls.Config{Certificates: []tls.Certificate{*cert}}
		srv.TLSConfig = &tls.Config{GetConfigForClient: func(hello *tls.ClientHelloInfo) (*tls.Config, error) {
			o.mu.Lock()
			o.sni = append(o.sni, hello.ServerName)
			o.mu.Unlock()
			return base, nil
		}}
		go func() { _ = srv.ServeTLS(ln, "", "") }()
	} else {
		go func() { _ = srv.Serve(ln) }()
	}
	t.Cleanup(func() { _ = srv.Close() })
	return o
}

// testOrigin is a custom origin on the modeled ports.
func testOrigin(domain, policy string) *model.Origin {
	return &model.Origin{ID: "o1", DomainName: domain, ConnectionAttempts: 1, ConnectionTimeout: time.Second,
		Custom: model.CustomOriginConfig{HTTPPort: 80, HTTPSPort: 443, ProtocolPolicy: policy,
			SSLProtocols: []string{"TLSv1.2"}, ReadTimeout: 5 * time.Second, KeepaliveTimeout: 5 * time.Second}}
}

func policyBehavior(cachePolicy, orp string) *model.CacheBehavior {
	return &model.CacheBehavior{TargetOriginID: "o1", ViewerProtocolPolicy: "allow-all",
		AllowedMethods: []string{"GET", "HEAD"}, CachedMethods: []string{"GET", "HEAD"},
		CachePolicyID: cachePolicy, OriginRequestPolicyID: orp}
}

func testStack(o *model.Origin, b *model.CacheBehavior, mod ...func(*model.Distribution)) *model.Stack {
	d := &model.Distribution{LogicalID: "Dist", ID: "E1UOOOPI28P7FY", DomainName: testDomain, Enabled: true,
		HTTPVersion: "http2", Origins: []*model.Origin{o}, DefaultBehavior: b}
	for _, m := range mod {
		m(d)
	}
	return &model.Stack{Distributions: []*model.Distribution{d}}
}

// dialReason dials the environment's only origin the way a fetch does and
// classifies the failure (nil error = ReasonNone).
func (ev *env) dialReason(https bool) Reason {
	o := ev.edge.dists[0].origins["o1"]
	_, port := o.portFor(https)
	addr := net.JoinHostPort(o.m.DomainName, fmt.Sprint(port))
	var c net.Conn
	var err error
	if https {
		c, err = o.dialTLS(context.Background(), "tcp", addr)
	} else {
		c, err = o.dialTCP(context.Background(), addr)
	}
	if err == nil {
		_ = c.Close()
	}
	return Classify(err)
}

// The real implementations satisfy the edge's interfaces.
var (
	_ Resolver = (*dns.Resolver)(nil)
	_ Certs    = (*pki.CA)(nil)
)
