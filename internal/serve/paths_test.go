package serve_test

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/kumo-dev/kumo/internal/serve"
)

// tlsClient is an HTTPS client for addr whose connections are reused (h2:
// HTTP/2 via ALPN, else HTTP/1.1 only).
func tlsClient(t *testing.T, addr string, h2 bool) *http.Client {
	t.Helper()
	tr := &http.Transport{
		DialContext: func(ctx context.Context, n, _ string) (net.Conn, error) {
			return (&net.Dialer{}).DialContext(ctx, n, addr)
		},
		TLSClientConfig:   &tls.Config{InsecureSkipVerify: true, ServerName: "svc.example.com"},
		ForceAttemptHTTP2: h2,
	}
	if !h2 {
		tr.TLSNextProto = map[string]func(string, *tls.Conn) http.RoundTripper{}
		tr.TLSClientConfig.NextProtos = []string{"http/1.1"}
	}
	t.Cleanup(tr.CloseIdleConnections)
	return &http.Client{Transport: tr, Timeout: 10 * time.Second}
}

func fetch(c *http.Client, path string) (string, *http.Response, error) {
	resp, err := c.Get("https://svc.example.com" + path)
	if err != nil {
		return "", nil, err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	return string(b), resp, err
}

// describe answers with what the handler saw of the connection.
var describe = http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
	ci := serve.ConnInfoFrom(r.Context())
	if ci == nil || r.TLS == nil {
		http.Error(w, "no ConnInfo or no TLS state", 500)
		return
	}
	fmt.Fprintf(w, "%s %s %s %x %s %v", r.Proto, r.TLS.ServerName, r.TLS.NegotiatedProtocol, r.TLS.Version, ci.TraceID, ci.Remote != nil)
})

// TestTLSPathsSeeTheConnection: over HTTP/1.1 (through serve's plaintext
// wrapper) and HTTP/2, a TLS request carries its TLS state and ConnInfo;
// each connection has its own trace id, kept across its requests.
func TestTLSPathsSeeTheConnection(t *testing.T) {
	s := listen(t, serve.Plane{Handler: describe, TLS: tlsPlane(t, nil).TLS}, serve.Options{HTTP2: true})
	for _, tc := range []struct {
		h2    bool
		proto string
	}{{false, "HTTP/1.1 svc.example.com http/1.1 304"}, {true, "HTTP/2.0 svc.example.com h2 304"}} {
		c := tlsClient(t, s.Addr(), tc.h2)
		var first string
		for i := range 2 {
			body, resp, err := fetch(c, "/")
			if err != nil || resp.StatusCode != 200 {
				t.Fatalf("h2=%v: %v %v", tc.h2, resp, err)
			}
			var proto, sni, alpn, version, trace, remote string
			if _, err := fmt.Sscan(body, &proto, &sni, &alpn, &version, &trace, &remote); err != nil {
				t.Fatalf("h2=%v: body %q: %v", tc.h2, body, err)
			}
			if got := proto + " " + sni + " " + alpn + " " + version; got != tc.proto || !traceRE.MatchString(trace) || remote != "true" {
				t.Errorf("h2=%v: %q", tc.h2, body)
			}
			if i == 0 {
				first = trace
			} else if trace != first {
				t.Errorf("h2=%v: one connection, two trace ids %s %s", tc.h2, first, trace)
			}
		}
	}
}

// blocker is a handler whose requests wait for release; started reports
// each arrival.
type blocker struct {
	started chan struct{}
	release chan struct{}
	body    string
}

func newBlocker(body string) *blocker {
	return &blocker{started: make(chan struct{}, 16), release: make(chan struct{}), body: body}
}

func (b *blocker) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	b.started <- struct{}{}
	select {
	case <-b.release:
		io.WriteString(w, b.body)
	case <-r.Context().Done():
	}
}

func waitStarted(t *testing.T, b *blocker) {
	t.Helper()
	select {
	case <-b.started:
	case <-time.After(10 * time.Second):
		t.Fatal("the request never reached the handler")
	}
}

type outcome struct {
	body string
	err  error
}

func fetchAsync(c *http.Client, path string) <-chan outcome {
	ch := make(chan outcome, 1)
	go func() {
		body, _, err := fetch(c, path)
		ch <- outcome{body, err}
	}()
	return ch
}

// TestSwapInFlightOverTLS: on both TLS paths, a request in flight when the
// plane is swapped finishes on the old plane, and the next request on the
// same connection gets the new one.
func TestSwapInFlightOverTLS(t *testing.T) {
	for _, h2 := range []bool{false, true} {
		t.Run(fmt.Sprintf("h2=%v", h2), func(t *testing.T) {
			old := newBlocker("old")
			tlsFn := tlsPlane(t, nil).TLS
			s := listen(t, serve.Plane{Handler: old, TLS: tlsFn}, serve.Options{HTTP2: true})
			c := tlsClient(t, s.Addr(), h2)
			inflight := fetchAsync(c, "/slow")
			waitStarted(t, old)
			s.Swap(serve.Plane{Handler: text("new"), TLS: tlsFn})
			if h2 {
				// A new stream on the same HTTP/2 connection.
				if body, _, err := fetch(c, "/"); err != nil || body != "new" {
					t.Fatalf("request after the swap: %q %v", body, err)
				}
			}
			close(old.release)
			if o := <-inflight; o.err != nil || o.body != "old" {
				t.Fatalf("in-flight request: %+v", o)
			}
			if body, _, err := fetch(c, "/"); err != nil || body != "new" {
				t.Fatalf("request after the swap: %q %v", body, err)
			}
		})
	}
}

// TestShutdownDrainsTLS: on both TLS paths, Shutdown stops accepting at
// once, lets an in-flight request (HTTP/1.1) or stream (HTTP/2) finish,
// then returns.
func TestShutdownDrainsTLS(t *testing.T) {
	for _, h2 := range []bool{false, true} {
		t.Run(fmt.Sprintf("h2=%v", h2), func(t *testing.T) { shutdownDrains(t, h2) })
	}
}

func shutdownDrains(t *testing.T, h2 bool) {
	b := newBlocker("drained")
	s, err := serve.Listen("127.0.0.1:0", serve.Plane{Handler: b, TLS: tlsPlane(t, nil).TLS}, serve.Options{HTTP2: true})
	if err != nil {
		t.Fatal(err)
	}
	c := tlsClient(t, s.Addr(), h2)
	inflight := fetchAsync(c, "/slow")
	waitStarted(t, b)
	shut := make(chan error, 1)
	go func() {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		shut <- s.Shutdown(ctx)
	}()
	deadline := time.Now().Add(10 * time.Second)
	for {
		d, err := net.DialTimeout("tcp", s.Addr(), time.Second)
		if err != nil {
			break
		}
		d.Close()
		if time.Now().After(deadline) {
			t.Fatal("the socket still accepts after Shutdown started")
		}
		time.Sleep(5 * time.Millisecond)
	}
	select {
	case err := <-shut:
		t.Fatalf("Shutdown returned (%v) while a request was in flight", err)
	default:
	}
	close(b.release)
	if o := <-inflight; o.err != nil || o.body != "drained" {
		t.Fatalf("in-flight request: %+v", o)
	}
	if err := <-shut; err != nil {
		t.Fatalf("Shutdown: %v", err)
	}
}

// TestShutdownDeadlineClosesHTTP2: when ctx ends before a stream does,
// Shutdown closes the HTTP/2 connection and returns ctx's error.
func TestShutdownDeadlineClosesHTTP2(t *testing.T) {
	b := newBlocker("never")
	s, err := serve.Listen("127.0.0.1:0", serve.Plane{Handler: b, TLS: tlsPlane(t, nil).TLS}, serve.Options{HTTP2: true})
	if err != nil {
		t.Fatal(err)
	}
	c := tlsClient(t, s.Addr(), true)
	inflight := fetchAsync(c, "/slow")
	waitStarted(t, b)
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if err := s.Shutdown(ctx); !errors.Is(err, context.Canceled) {
		t.Fatalf("Shutdown with an ended ctx: %v", err)
	}
	if o := <-inflight; o.err == nil {
		t.Fatalf("the in-flight stream got %q from a closed connection", o.body)
	}
}

// observedConn records what serve reports through serve.ConnObserver.
type observedConn struct {
	net.Conn
	mu       sync.Mutex
	accepted *serve.ConnInfo
	state    *tls.ConnectionState
	hsErr    error
	hsCalls  int
	done     chan struct{}
}

func (c *observedConn) ConnAccepted(ci *serve.ConnInfo) {
	c.mu.Lock()
	c.accepted = ci
	c.mu.Unlock()
}

func (c *observedConn) TLSHandshakeDone(state *tls.ConnectionState, err error) {
	c.mu.Lock()
	c.state, c.hsErr = state, err
	c.hsCalls++
	c.mu.Unlock()
	close(c.done)
}

type observingListener struct {
	net.Listener
	conns chan *observedConn
}

func (l observingListener) Accept() (net.Conn, error) {
	c, err := l.Listener.Accept()
	if err != nil {
		return nil, err
	}
	oc := &observedConn{Conn: c, done: make(chan struct{})}
	l.conns <- oc
	return oc, nil
}

// TestConnObserver: serve tells an accepted connection its ConnInfo and
// how its TLS handshake ended — success with the state, or failure (the
// client rejects the certificate).
func TestConnObserver(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	ol := observingListener{Listener: ln, conns: make(chan *observedConn, 4)}
	s := serve.Serve(ol, serve.Plane{Handler: describe, TLS: tlsPlane(t, nil).TLS}, serve.Options{HTTP2: true})
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		s.Shutdown(ctx)
	})
	body, _, err := fetch(tlsClient(t, s.Addr(), true), "/")
	if err != nil {
		t.Fatal(err)
	}
	oc := <-ol.conns
	<-oc.done
	oc.mu.Lock()
	if oc.accepted == nil || oc.state == nil || oc.hsErr != nil || oc.hsCalls != 1 || oc.state.NegotiatedProtocol != "h2" {
		t.Errorf("successful handshake: accepted %+v state %v err %v calls %d", oc.accepted, oc.state != nil, oc.hsErr, oc.hsCalls)
	} else if want := oc.accepted.TraceID; !traceRE.MatchString(want) || !strings.Contains(body, want) {
		t.Errorf("ConnAccepted trace id %s, the request saw %q", want, body)
	}
	oc.mu.Unlock()

	strict := &http.Client{Transport: &http.Transport{
		DialContext: func(ctx context.Context, n, _ string) (net.Conn, error) {
			return (&net.Dialer{}).DialContext(ctx, n, s.Addr())
		},
		TLSClientConfig: &tls.Config{ServerName: "svc.example.com"}, // does not trust kumo's CA
	}, Timeout: 10 * time.Second}
	if _, err := strict.Get("https://svc.example.com/"); err == nil {
		t.Fatal("a client that does not trust the certificate got a response")
	}
	oc = <-ol.conns
	select {
	case <-oc.done:
	case <-time.After(10 * time.Second):
		t.Fatal("no TLSHandshakeDone for a failed handshake")
	}
	oc.mu.Lock()
	defer oc.mu.Unlock()
	if oc.state != nil || oc.hsErr == nil || oc.hsCalls != 1 {
		t.Errorf("failed handshake: state %v err %v calls %d", oc.state, oc.hsErr, oc.hsCalls)
	}
}

// TestHandshakeNeverBlocksAccept: a client that connects to a TLS listener
// and says nothing neither delays other clients nor stays forever: its
// connection closes at HandshakeTimeout.
func TestHandshakeNeverBlocksAccept(t *testing.T) {
	s := listen(t, serve.Plane{Handler: describe, TLS: tlsPlane(t, nil).TLS},
		serve.Options{HTTP2: true, HandshakeTimeout: 200 * time.Millisecond})
	silent := dialServer(t, s.Addr())
	if _, _, err := fetch(tlsClient(t, s.Addr(), false), "/"); err != nil {
		t.Fatalf("a client behind a silent one: %v", err)
	}
	_ = silent.SetReadDeadline(time.Now().Add(10 * time.Second))
	if n, err := silent.Read(make([]byte, 1)); err != io.EOF {
		t.Fatalf("silent client: read %d, %v; want EOF at the handshake timeout", n, err)
	}
}
