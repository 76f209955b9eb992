package serve_test

import (
	"bufio"
	"context"
	"crypto/tls"
	"fmt"
	"io"
	"net"
	"net/http"
	"regexp"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/kumo-dev/kumo/internal/pki"
	"github.com/kumo-dev/kumo/internal/serve"
)

func text(s string) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		ci := serve.ConnInfoFrom(r.Context())
		if ci == nil {
			http.Error(w, "no ConnInfo", 500)
			return
		}
		w.Header().Set("X-Trace", ci.TraceID)
		w.Header().Set("X-Proto", r.Proto)
		io.WriteString(w, s)
	})
}

func tlsPlane(t *testing.T, h http.Handler) serve.Plane {
	t.Helper()
	ca, err := pki.Open(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	cert, err := ca.Issue([]string{"svc.example.com"})
	if err != nil {
		t.Fatal(err)
	}
	return serve.Plane{Handler: h, TLS: func(*tls.ClientHelloInfo) (*tls.Config, error) {
		return &tls.Config{Certificates: []tls.Certificate{*cert}}, nil
	}}
}

type result struct {
	body, trace, proto string
}

func get(t *testing.T, addr string, useTLS, h2 bool) result {
	t.Helper()
	scheme := "http"
	tr := &http.Transport{
		DialContext: func(ctx context.Context, n, _ string) (net.Conn, error) {
			return (&net.Dialer{}).DialContext(ctx, n, addr)
		},
	}
	if useTLS {
		scheme = "https"
		tr.TLSClientConfig = &tls.Config{InsecureSkipVerify: true, ServerName: "svc.example.com"}
		tr.ForceAttemptHTTP2 = h2
	}
	defer tr.CloseIdleConnections()
	c := &http.Client{Transport: tr, Timeout: 10 * time.Second}
	resp, err := c.Get(scheme + "://svc.example.com/")
	if err != nil {
		t.Fatalf("GET via %s (tls %v): %v", addr, useTLS, err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	return result{string(b), resp.Header.Get("X-Trace"), resp.Header.Get("X-Proto")}
}

func listen(t *testing.T, p serve.Plane, opt serve.Options) *serve.Server {
	t.Helper()
	s, err := serve.Listen("127.0.0.1:0", p, opt)
	if err != nil {
		t.Fatal(err)
	}
	shutdownAtEnd(t, s)
	return s
}

// shutdownAtEnd shuts s down when the test ends.
func shutdownAtEnd(t *testing.T, s *serve.Server) {
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		s.Shutdown(ctx)
	})
}

var traceRE = regexp.MustCompile(`^TID_[0-9a-f]{32}$`)

// TestSwapKeepsTheSocket: a swap changes what new requests get, on the same
// address, and can turn TLS on and off.
func TestSwapKeepsTheSocket(t *testing.T) {
	s := listen(t, serve.Plane{Handler: text("one")}, serve.Options{HTTP2: true})
	addr := s.Addr()
	if r := get(t, addr, false, false); r.body != "one" || !traceRE.MatchString(r.trace) || r.proto != "HTTP/1.1" {
		t.Fatalf("plain: %+v", r)
	}
	s.Swap(tlsPlane(t, text("two")))
	if !s.TLS() {
		t.Fatal("TLS() is false after swapping in a TLS plane")
	}
	if r := get(t, addr, true, true); r.body != "two" || r.proto != "HTTP/2.0" {
		t.Fatalf("after swap to TLS (h2): %+v", r)
	}
	if r := get(t, addr, true, false); r.body != "two" || r.proto != "HTTP/1.1" {
		t.Fatalf("after swap to TLS (HTTP/1.1): %+v", r)
	}
	s.Swap(serve.Plane{Handler: text("three")})
	if r := get(t, addr, false, false); r.body != "three" || s.Addr() != addr {
		t.Fatalf("after swap back to plain: %+v at %s", r, s.Addr())
	}
}

// TestInFlightFinishesOnOldPlane: a request that started before a swap is
// answered by the plane it started on; Shutdown waits for it.
func TestInFlightFinishesOnOldPlane(t *testing.T) {
	started := make(chan struct{})
	release := make(chan struct{})
	slow := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		close(started)
		<-release
		io.WriteString(w, "old")
	})
	s := listen(t, serve.Plane{Handler: slow}, serve.Options{})
	done := make(chan result, 1)
	go func() { done <- get(t, s.Addr(), false, false) }()
	<-started
	s.Swap(serve.Plane{Handler: text("new")})
	if r := get(t, s.Addr(), false, false); r.body != "new" {
		t.Fatalf("new request: %+v", r)
	}
	shut := make(chan error, 1)
	go func() {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		shut <- s.Shutdown(ctx)
	}()
	close(release)
	if r := <-done; r.body != "old" {
		t.Fatalf("in-flight request: %+v", r)
	}
	if err := <-shut; err != nil {
		t.Fatalf("Shutdown: %v", err)
	}
	if _, err := net.DialTimeout("tcp", s.Addr(), time.Second); err == nil {
		t.Fatal("the socket still accepts after Shutdown")
	}
}

// TestConnInfoPerConnection: one trace id per client connection.
func TestConnInfoPerConnection(t *testing.T) {
	s := listen(t, serve.Plane{Handler: text("x")}, serve.Options{})
	tr := &http.Transport{}
	defer tr.CloseIdleConnections()
	c := &http.Client{Transport: tr}
	var traces []string
	for range 3 {
		resp, err := c.Get("http://" + s.Addr() + "/")
		if err != nil {
			t.Fatal(err)
		}
		io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
		traces = append(traces, resp.Header.Get("X-Trace"))
	}
	if traces[0] != traces[1] || traces[1] != traces[2] {
		t.Errorf("one keep-alive connection, several trace ids: %v", traces)
	}
	if r := get(t, s.Addr(), false, false); r.trace == traces[0] {
		t.Errorf("a new connection reused trace id %s", r.trace)
	}
}

// TestShutdownEndsHijackedHandlers: a handler that took over its connection
// (a WebSocket relay) is told to finish when Shutdown has drained ordinary
// requests, and Shutdown waits for it, so its log line is written.
func TestShutdownEndsHijackedHandlers(t *testing.T) {
	hijacked := make(chan struct{})
	var finished atomic.Bool
	h := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		c, _, err := http.NewResponseController(w).Hijack()
		if err != nil {
			t.Error(err)
			return
		}
		defer c.Close()
		close(hijacked)
		<-r.Context().Done() // a relay watches its request context
		finished.Store(true)
	})
	s, err := serve.Listen("127.0.0.1:0", serve.Plane{Handler: h}, serve.Options{})
	if err != nil {
		t.Fatal(err)
	}
	c := dialServer(t, s.Addr())
	if _, err := io.WriteString(c, "GET /ws HTTP/1.1\r\nHost: x\r\nConnection: Upgrade\r\nUpgrade: websocket\r\n\r\n"); err != nil {
		t.Fatal(err)
	}
	<-hijacked
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := s.Shutdown(ctx); err != nil {
		t.Fatalf("Shutdown: %v", err)
	}
	if !finished.Load() {
		t.Fatal("Shutdown returned before the hijacked handler finished")
	}
}

// TestSessionResumption: a client resumes its TLS session on a new
// connection, even when the plane hands out a fresh configuration for every
// handshake (as the ALB does, to observe each one).
func TestSessionResumption(t *testing.T) {
	p := tlsPlane(t, text("hi"))
	base := p.TLS
	p.TLS = func(h *tls.ClientHelloInfo) (*tls.Config, error) {
		cfg, err := base(h)
		if err != nil {
			return nil, err
		}
		return cfg.Clone(), nil
	}
	s := listen(t, p, serve.Options{})
	cache := tls.NewLRUClientSessionCache(4)
	for i, wantResumed := range []bool{false, true, true} {
		c, err := tls.Dial("tcp", s.Addr(), &tls.Config{InsecureSkipVerify: true, ServerName: "svc.example.com",
			ClientSessionCache: cache, NextProtos: []string{"http/1.1"}})
		if err != nil {
			t.Fatal(err)
		}
		// Reading the response also reads the session ticket TLS 1.3
		// sends after the handshake.
		io.WriteString(c, "GET / HTTP/1.1\r\nHost: svc.example.com\r\nConnection: close\r\n\r\n")
		if _, err := io.ReadAll(c); err != nil {
			t.Fatal(err)
		}
		if got := c.ConnectionState().DidResume; got != wantResumed {
			t.Errorf("connection %d: resumed %v, want %v", i, got, wantResumed)
		}
		c.Close()
	}
}

// TestH2ManyStreams: on one HTTP/2 connection, concurrent requests each get
// their own whole response (whose frames serve gathers into shared
// writes), small and large; a streamed response arrives piece by piece as
// its handler flushes; a handler's http.ErrAbortHandler resets its stream
// and leaves the connection serving.
func TestH2ManyStreams(t *testing.T) {
	large := strings.Repeat("0123456789abcdef", 20<<10) // 320 KiB: writes go through
	streamAck := make(chan struct{})                    // paces the streamed response
	h := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		switch r.URL.Path {
		case "/large":
			io.WriteString(w, large)
		case "/abort":
			io.WriteString(w, "partial")
			w.(http.Flusher).Flush()
			panic(http.ErrAbortHandler)
		case "/stream":
			f := w.(http.Flusher)
			for i := range 3 {
				fmt.Fprintf(w, "part %d\n", i)
				f.Flush()
				// The next part only once the client saw this one.
				<-streamAck
			}
		default:
			io.WriteString(w, "echo "+r.URL.Path)
		}
	})
	s := listen(t, tlsPlane(t, h), serve.Options{HTTP2: true})
	tr := &http.Transport{
		DialContext: func(ctx context.Context, n, _ string) (net.Conn, error) {
			return (&net.Dialer{}).DialContext(ctx, n, s.Addr())
		},
		TLSClientConfig:   &tls.Config{InsecureSkipVerify: true, ServerName: "svc.example.com"},
		ForceAttemptHTTP2: true,
	}
	defer tr.CloseIdleConnections()
	c := &http.Client{Transport: tr, Timeout: 30 * time.Second}
	fetch := func(path string) (string, error) {
		resp, err := c.Get("https://svc.example.com" + path)
		if err != nil {
			return "", err
		}
		defer resp.Body.Close()
		if resp.ProtoMajor != 2 {
			return "", fmt.Errorf("%s over %s, want HTTP/2", path, resp.Proto)
		}
		b, err := io.ReadAll(resp.Body)
		return string(b), err
	}
	var wg sync.WaitGroup
	errs := make(chan error, 400)
	for i := range 400 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			path, want := fmt.Sprintf("/r%d", i), fmt.Sprintf("echo /r%d", i)
			if i%50 == 0 {
				path, want = "/large", large
			}
			got, err := fetch(path)
			if err == nil && got != want {
				err = fmt.Errorf("%s: got %d bytes, not the %d expected", path, len(got), len(want))
			}
			if err != nil {
				errs <- err
			}
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}

	if body, err := fetch("/abort"); err == nil {
		t.Fatalf("an aborted response read whole: %q", body)
	}
	if body, err := fetch("/after"); err != nil || body != "echo /after" {
		t.Fatalf("after an abort: %q, %v", body, err)
	}

	resp, err := c.Get("https://svc.example.com/stream")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	br := bufio.NewReader(resp.Body)
	for i := range 3 {
		line, err := br.ReadString('\n')
		if want := fmt.Sprintf("part %d\n", i); err != nil || line != want {
			t.Fatalf("streamed part %d: %q, %v", i, line, err)
		}
		streamAck <- struct{}{}
	}
}
