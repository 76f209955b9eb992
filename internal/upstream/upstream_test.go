package upstream_test

import (
	"bufio"
	"context"
	"errors"
	"io"
	"net"
	"net/http"
	"net/http/httptrace"
	"net/textproto"
	"net/url"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/kumo-dev/kumo/internal/upstream"
)

// rawServer accepts connections on loopback and answers each request head
// it reads with the next of its canned responses (cycling through them).
// It records every request head and counts connections.
type rawServer struct {
	ln        net.Listener
	responses []string
	conns     atomic.Int64
	// closed counts the connections that ended (the client closed them).
	closed atomic.Int64
	// closeAfter closes each connection after that many responses (0:
	// never).
	closeAfter int

	mu    sync.Mutex
	heads []string
	next  int
	wg    sync.WaitGroup
}

func newRawServer(t *testing.T, responses ...string) *rawServer {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	s := &rawServer{ln: ln, responses: responses}
	s.wg.Add(1)
	go s.serve()
	t.Cleanup(func() {
		ln.Close()
		s.wg.Wait()
	})
	return s
}

func (s *rawServer) serve() {
	defer s.wg.Done()
	for {
		c, err := s.ln.Accept()
		if err != nil {
			return
		}
		s.conns.Add(1)
		s.wg.Add(1)
		go func() {
			defer s.wg.Done()
			defer s.closed.Add(1)
			defer c.Close()
			br := bufio.NewReader(c)
			for n := 1; ; n++ {
				var head strings.Builder
				for {
					line, err := br.ReadString('\n')
					if err != nil {
						return
					}
					head.WriteString(line)
					if line == "\r\n" {
						break
					}
				}
				s.mu.Lock()
				s.heads = append(s.heads, head.String())
				resp := s.responses[s.next%len(s.responses)]
				s.next++
				s.mu.Unlock()
				if _, err := io.WriteString(c, resp); err != nil {
					return
				}
				if s.closeAfter > 0 && n >= s.closeAfter {
					return
				}
			}
		}()
	}
}

func (s *rawServer) lastHead() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	if len(s.heads) == 0 {
		return ""
	}
	return s.heads[len(s.heads)-1]
}

func newTransport() *upstream.Transport {
	d := &net.Dialer{Timeout: 5 * time.Second}
	return &upstream.Transport{Dial: d.DialContext, IdleTimeout: time.Minute, MaxResponseHeaderBytes: 1024}
}

func request(t *testing.T, method, addr string, h http.Header) *http.Request {
	t.Helper()
	req, err := http.NewRequest(method, "http://"+addr+"/p%20ath?q=1&r", nil)
	if err != nil {
		t.Fatal(err)
	}
	req.Header = h
	req.Host = "origin.example.com"
	return req
}

func readAll(t *testing.T, resp *http.Response) string {
	t.Helper()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatalf("body: %v", err)
	}
	resp.Body.Close()
	return string(b)
}

const ok5 = "HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\nhello"

// TestRequestBytesMatchNetHTTP: a target sees exactly the bytes net/http's
// Transport would have sent.
func TestRequestBytesMatchNetHTTP(t *testing.T) {
	headers := []http.Header{
		{},
		{"User-Agent": {""}, "X-Forwarded-For": {"192.0.2.1"}, "Accept": {"*/*", "text/html"}},
		{"User-Agent": {"curl/8"}, "X-Trim": {"  spaced\t"}, "X-Multi": {"a", "b"}},
		{"Bad Name": {"refused"}},
		{"X-Injected": {"a\r\nInjected: yes"}},
		{"Connection": {"keep-alive"}, "Content-Length": {"0"}, "Trailer": {"X"}, "Host": {"ignored"}},
	}
	for _, method := range []string{http.MethodGet, http.MethodHead, http.MethodOptions} {
		for i, h := range headers {
			srv := newRawServer(t, ok5)
			addr := srv.ln.Addr().String()
			ref := &http.Transport{DisableCompression: true}
			resp, err := ref.RoundTrip(request(t, method, addr, h.Clone()))
			if err != nil {
				// net/http refuses the request: so must the lean client,
				// before sending anything.
				if _, lerr := newTransport().RoundTrip(request(t, method, addr, h.Clone())); lerr == nil || lerr.Error() != err.Error() {
					t.Errorf("%s headers %d: net/http refused with %v; lean client: %v", method, i, err, lerr)
				}
				if srv.lastHead() != "" {
					t.Errorf("a refused request reached the target: %q", srv.lastHead())
				}
				continue
			}
			io.Copy(io.Discard, resp.Body)
			resp.Body.Close()
			ref.CloseIdleConnections()
			want := srv.lastHead()

			tr := newTransport()
			resp, err = tr.RoundTrip(request(t, method, addr, h.Clone()))
			if err != nil {
				t.Fatal(err)
			}
			readAll(t, resp)
			tr.Close()
			if got := srv.lastHead(); got != want {
				t.Errorf("%s headers %d: lean client sent\n%q\nnet/http sent\n%q", method, i, got, want)
			}
		}
	}
}

// TestConnectionReuse: sequential requests share one connection once their
// bodies are read; a body closed early costs its connection.
func TestConnectionReuse(t *testing.T) {
	srv := newRawServer(t, ok5, "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nabc\r\n0\r\nX-T: 1\r\n\r\n",
		"HTTP/1.1 204 No Content\r\n\r\n", "HTTP/1.1 304 Not Modified\r\nEtag: \"x\"\r\n\r\n")
	tr := newTransport()
	defer tr.Close()
	addr := srv.ln.Addr().String()
	want := []string{"hello", "abc", "", ""}
	for i := range 8 {
		resp, err := tr.RoundTrip(request(t, http.MethodGet, addr, http.Header{}))
		if err != nil {
			t.Fatalf("request %d: %v", i, err)
		}
		if got := readAll(t, resp); got != want[i%4] {
			t.Fatalf("request %d: body %q, want %q", i, got, want[i%4])
		}
		if i%4 == 1 && resp.Trailer.Get("X-T") != "1" {
			t.Errorf("trailer: %v", resp.Trailer)
		}
	}
	if n := srv.conns.Load(); n != 1 {
		t.Errorf("%d connections for 8 requests; want 1", n)
	}
	resp, err := tr.RoundTrip(request(t, http.MethodGet, addr, http.Header{}))
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close() // unread: the connection cannot be reused
	resp, err = tr.RoundTrip(request(t, http.MethodGet, addr, http.Header{}))
	if err != nil {
		t.Fatal(err)
	}
	readAll(t, resp)
	if n := srv.conns.Load(); n != 2 {
		t.Errorf("%d connections after an unread body; want 2", n)
	}
}

// TestStaleConnectionRetried: a pooled connection the target closed is
// replaced once, without an error to the caller.
func TestStaleConnectionRetried(t *testing.T) {
	srv := newRawServer(t, ok5)
	srv.closeAfter = 1
	tr := newTransport()
	defer tr.Close()
	addr := srv.ln.Addr().String()
	for i := range 3 {
		resp, err := tr.RoundTrip(request(t, http.MethodGet, addr, http.Header{}))
		if err != nil {
			t.Fatalf("request %d: %v", i, err)
		}
		readAll(t, resp)
	}
	if n := srv.conns.Load(); n != 3 {
		t.Errorf("%d connections; want 3 (one per request)", n)
	}
}

// TestResponseShapes: interim responses are skipped, HEAD has no body, a
// close-delimited body ends the connection, an oversized head fails with
// "headers exceeded", a malformed one with "malformed".
func TestResponseShapes(t *testing.T) {
	cases := []struct {
		name, resp, method, body, errWant string
	}{
		{"interim", "HTTP/1.1 103 Early Hints\r\nLink: </a>\r\n\r\n" + ok5, http.MethodGet, "hello", ""},
		{"head", "HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\n", http.MethodHead, "", ""},
		{"close-delimited", "HTTP/1.1 200 OK\r\nConnection: close\r\n\r\nuntil close", http.MethodGet, "until close", ""},
		{"too-large", "HTTP/1.1 200 OK\r\nX-Big: " + strings.Repeat("b", 2000) + "\r\nContent-Length: 0\r\n\r\n", http.MethodGet, "", "headers exceeded"},
		{"malformed", "HTTP/1.1 2x0 OK\r\n\r\n", http.MethodGet, "", "malformed"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			srv := newRawServer(t, c.resp)
			if c.name == "close-delimited" {
				srv.closeAfter = 1
			}
			tr := newTransport()
			defer tr.Close()
			var got1xx atomic.Int64
			req := request(t, c.method, srv.ln.Addr().String(), http.Header{})
			req = req.WithContext(httptrace.WithClientTrace(req.Context(), &httptrace.ClientTrace{
				Got1xxResponse: func(int, textproto.MIMEHeader) error { got1xx.Add(1); return nil },
			}))
			resp, err := tr.RoundTrip(req)
			if c.errWant != "" {
				if err == nil || !strings.Contains(err.Error(), c.errWant) {
					t.Fatalf("err = %v, want one saying %q", err, c.errWant)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if got := readAll(t, resp); got != c.body {
				t.Errorf("body %q, want %q", got, c.body)
			}
			if c.name == "interim" && got1xx.Load() != 1 {
				t.Errorf("Got1xxResponse called %d times", got1xx.Load())
			}
		})
	}
}

// TestCancelClosesConnection: a context that ends while the target is
// silent fails the round trip with the context's cause.
func TestCancelClosesConnection(t *testing.T) {
	addr, accepted := silentTarget(t)
	tr := newTransport()
	defer tr.Close()
	cause := errors.New("idle timeout")
	ctx, cancel := context.WithCancelCause(context.Background())
	req := request(t, http.MethodGet, addr, http.Header{}).WithContext(ctx)
	done := make(chan error, 1)
	go func() {
		_, err := tr.RoundTrip(req)
		done <- err
	}()
	c := <-accepted
	defer c.Close()
	cancel(cause)
	select {
	case err := <-done:
		if !errors.Is(err, cause) {
			t.Fatalf("err = %v, want the cause", err)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("RoundTrip did not return after the context ended")
	}
	expectClosed(t, c)
}

// silentTarget listens on loopback and hands over the first connection it
// accepts, to which it never answers.
func silentTarget(t *testing.T) (addr string, accepted <-chan net.Conn) {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ln.Close() })
	ch := make(chan net.Conn, 1)
	go func() {
		if c, err := ln.Accept(); err == nil {
			ch <- c
		}
	}()
	return ln.Addr().String(), ch
}

// expectClosed fails t unless the peer of c closes the connection.
func expectClosed(t *testing.T, c net.Conn) {
	t.Helper()
	_ = c.SetReadDeadline(time.Now().Add(10 * time.Second))
	if _, err := io.ReadAll(c); err != nil {
		t.Fatalf("the target's side did not see the connection close: %v", err)
	}
}

// TestSupported: what goes to net/http's Transport instead.
func TestSupported(t *testing.T) {
	get := func(u string) *http.Request {
		r, _ := http.NewRequest(http.MethodGet, u, nil)
		return r
	}
	withBody, _ := http.NewRequest(http.MethodPost, "http://a/", strings.NewReader("x"))
	upgrade := get("http://a/")
	upgrade.Header.Set("Upgrade", "websocket")
	closing := get("http://a/")
	closing.Close = true
	for _, c := range []struct {
		r    *http.Request
		want bool
	}{
		{get("http://a/"), true},
		{get("https://a/"), false},
		{withBody, false},
		{upgrade, false},
		{closing, false},
		{&http.Request{Method: "GET", URL: &url.URL{Scheme: "http"}}, false},
	} {
		if got := upstream.Supported(c.r); got != c.want {
			t.Errorf("Supported(%s %v) = %v, want %v", c.r.Method, c.r.URL, got, c.want)
		}
	}
	if _, err := newTransport().RoundTrip(withBody); !errors.Is(err, upstream.ErrNotSupported) {
		t.Errorf("RoundTrip with a body: %v, want ErrNotSupported", err)
	}
}

// BenchmarkRoundTrip: a GET over a pooled connection to a loopback target
// answering 5 bytes, body read to its end.
func BenchmarkRoundTrip(b *testing.B) {
	benchmarkRoundTrip(b, false)
}

func benchmarkRoundTrip(b *testing.B, reuse bool) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		b.Fatal(err)
	}
	defer ln.Close()
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			go func() {
				defer c.Close()
				br := bufio.NewReader(c)
				for {
					for {
						line, err := br.ReadSlice('\n')
						if err != nil {
							return
						}
						if len(line) == 2 {
							break
						}
					}
					if _, err := io.WriteString(c, ok5); err != nil {
						return
					}
				}
			}()
		}
	}()
	tr := newTransport()
	tr.ReuseResponses = reuse
	defer tr.Close()
	req, _ := http.NewRequest(http.MethodGet, "http://"+ln.Addr().String()+"/", nil)
	b.ReportAllocs()
	for b.Loop() {
		resp, err := tr.RoundTrip(req)
		if err != nil {
			b.Fatal(err)
		}
		io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
	}
}

// wroteCounter counts RoundTripObserved's WroteHeaders calls.
type wroteCounter struct{ n int }

func (w *wroteCounter) WroteHeaders() { w.n++ }

// observedRoundTrips makes n round trips to addr through tr, with header h,
// each answered "hello", and checks that the observer hears of the
// written head once per round trip; after, when set, checks more after
// round trip i.
func observedRoundTrips(t *testing.T, tr *upstream.Transport, addr string, h http.Header, n int, after func(i int)) {
	t.Helper()
	var o wroteCounter
	for i := range n {
		resp, err := tr.RoundTripObserved(request(t, http.MethodGet, addr, h), &o)
		if err != nil {
			t.Fatalf("request %d: %v", i, err)
		}
		if got := readAll(t, resp); got != "hello" {
			t.Fatalf("request %d: body %q", i, got)
		}
		if o.n != i+1 {
			t.Fatalf("after request %d: %d WroteHeaders calls", i, o.n)
		}
		if after != nil {
			after(i)
		}
	}
}

// TestRoundTripObserved: the observer hears of the written head once per
// round trip, on a new connection and on a reused one, as the request's
// context is unused (it never ends).
func TestRoundTripObserved(t *testing.T) {
	srv := newRawServer(t, ok5)
	tr := newTransport()
	defer tr.Close()
	observedRoundTrips(t, tr, srv.ln.Addr().String(), http.Header{}, 3, nil)
	if n := srv.conns.Load(); n != 1 {
		t.Errorf("%d connections for 3 requests; want 1", n)
	}
}

// TestReuseResponses: with ReuseResponses, a connection fills the same
// Response again once its Body is closed, and only then goes back to the
// pool; the header values handed out earlier stay intact.
func TestReuseResponses(t *testing.T) {
	srv := newRawServer(t,
		"HTTP/1.1 200 OK\r\nX-N: 1\r\nContent-Length: 5\r\n\r\nhello",
		"HTTP/1.1 204 No Content\r\nX-N: 2\r\n\r\n",
		"HTTP/1.1 200 OK\r\nX-N: 3\r\nX-Only-Here: yes\r\nContent-Length: 3\r\n\r\nabc")
	tr := newTransport()
	tr.ReuseResponses = true
	defer tr.Close()
	addr := srv.ln.Addr().String()
	var first *http.Response
	var kept [][]string
	for i, want := range []struct{ n, body string }{{"1", "hello"}, {"2", ""}, {"3", "abc"}, {"1", "hello"}} {
		resp, err := tr.RoundTrip(request(t, http.MethodGet, addr, http.Header{}))
		if err != nil {
			t.Fatalf("request %d: %v", i, err)
		}
		if first == nil {
			first = resp
		} else if resp != first {
			t.Errorf("request %d: a new Response; want the connection's one again", i)
		}
		if got := resp.Header.Get("X-N"); got != want.n {
			t.Errorf("request %d: X-N %q, want %q", i, got, want.n)
		}
		if _, ok := resp.Header["X-Only-Here"]; ok != (want.n == "3") {
			t.Errorf("request %d: a header left from an earlier response: %v", i, resp.Header)
		}
		kept = append(kept, resp.Header["X-N"])
		b, err := io.ReadAll(resp.Body)
		if err != nil || string(b) != want.body {
			t.Fatalf("request %d: body %q (%v), want %q", i, b, err, want.body)
		}
		resp.Body.Close()
	}
	for i, vv := range kept {
		if want := []string{"1", "2", "3", "1"}[i]; len(vv) != 1 || vv[0] != want {
			t.Errorf("values of response %d now %q, want [%s]", i, vv, want)
		}
	}
	if n := srv.conns.Load(); n != 1 {
		t.Errorf("%d connections for 4 requests; want 1", n)
	}

	// A body read to its end but not closed keeps its connection.
	resp, err := tr.RoundTrip(request(t, http.MethodGet, addr, http.Header{}))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := io.ReadAll(resp.Body); err != nil {
		t.Fatal(err)
	}
	resp2, err := tr.RoundTrip(request(t, http.MethodGet, addr, http.Header{}))
	if err != nil {
		t.Fatal(err)
	}
	if resp2 == resp {
		t.Fatal("a Response not yet closed was filled again")
	}
	readAll(t, resp2)
	resp.Body.Close()
	if n := srv.conns.Load(); n != 2 {
		t.Errorf("%d connections; want 2 (the unclosed body kept the first)", n)
	}
}

// BenchmarkRoundTripReuse is BenchmarkRoundTrip with ReuseResponses.
func BenchmarkRoundTripReuse(b *testing.B) {
	benchmarkRoundTrip(b, true)
}

// TestAbort: an Abort cuts off a round trip waiting on a silent target, a
// dial, and one not yet started, the error wrapping its cause; the end of
// the request's context is recorded in it as a cause; the first cause wins.
func TestAbort(t *testing.T) {
	cause := errors.New("deregistration delay expired")
	cases := []struct {
		name string
		// dialBlocks makes the dial wait for its context to end.
		dialBlocks bool
		// early aborts before the round trip starts.
		early bool
		// viaCtx ends the request's context instead of calling Abort.
		viaCtx bool
	}{
		{name: "silent-target"},
		{name: "dial", dialBlocks: true},
		{name: "before", early: true},
		{name: "request-context", viaCtx: true},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			addr, accepted := silentTarget(t)
			tr := newTransport()
			defer tr.Close()
			dialing := make(chan struct{}, 1)
			if c.dialBlocks {
				tr.Dial = func(ctx context.Context, _, _ string) (net.Conn, error) {
					dialing <- struct{}{}
					<-ctx.Done()
					return nil, ctx.Err()
				}
			}
			ctx, cancel := context.WithCancelCause(context.Background())
			defer cancel(nil)
			var a upstream.Abort
			if c.early {
				a.Abort(cause)
			}
			req := request(t, http.MethodGet, addr, http.Header{}).WithContext(ctx)
			done := make(chan error, 1)
			go func() {
				_, err := tr.RoundTripAbortable(req, nil, &a)
				done <- err
			}()
			var target net.Conn
			switch {
			case c.early:
			case c.dialBlocks:
				<-dialing
			default:
				target = <-accepted
				defer target.Close()
				// Wait for the request head: the round trip is reading.
				if _, err := bufio.NewReader(target).ReadString('\n'); err != nil {
					t.Fatal(err)
				}
			}
			if c.viaCtx {
				cancel(cause)
			} else if !c.early {
				a.Abort(cause)
			}
			select {
			case err := <-done:
				if !errors.Is(err, cause) {
					t.Fatalf("err = %v, want the cause", err)
				}
			case <-time.After(10 * time.Second):
				t.Fatal("RoundTripAbortable did not return after the abort")
			}
			if got := a.Cause(); got != cause {
				t.Errorf("Cause() = %v, want %v", got, cause)
			}
			if a.Abort(errors.New("later")) || a.Cause() != cause {
				t.Error("a later cause replaced the first")
			}
			if target != nil {
				expectClosed(t, target)
			}
		})
	}
}

// TestIdleConnectionsExpire: a connection idle in the pool for the idle
// timeout is closed, and one that was busy when the pool's sweep closed
// another is closed when its own timeout comes (the sweep comes again for
// it); the next request dials anew.
func TestIdleConnectionsExpire(t *testing.T) {
	const ok = "HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok"
	a, b := newRawServer(t, ok), newRawServer(t, ok)
	tr := newTransport()
	tr.IdleTimeout = 100 * time.Millisecond
	defer tr.Close()
	get := func(s *rawServer) {
		t.Helper()
		resp, err := tr.RoundTrip(request(t, "GET", s.ln.Addr().String(), nil))
		if err != nil {
			t.Fatal(err)
		}
		if got := readAll(t, resp); got != "ok" {
			t.Fatalf("body %q", got)
		}
	}
	// a's connection goes idle; b's stays in use until a's is closed.
	get(a)
	for deadline := time.Now().Add(10 * time.Second); a.closed.Load() == 0; {
		if time.Now().After(deadline) {
			t.Fatal("the idle connection was never closed")
		}
		get(b)
	}
	if n := b.closed.Load(); n != 0 {
		t.Fatalf("the connection in use was closed (%d)", n)
	}
	for deadline := time.Now().Add(10 * time.Second); b.closed.Load() == 0; time.Sleep(time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatal("the connection idle since was never closed")
		}
	}
	get(a)
	if n := a.conns.Load(); n != 2 {
		t.Fatalf("%d connections after the idle one closed, want 2", n)
	}
	if n := b.conns.Load(); n != 1 {
		t.Fatalf("%d connections to the server used throughout, want 1", n)
	}
}

// TestRequestHeadLargerThanTheSocketBuffers: a request head the socket
// cannot take at once (tiny buffers on both sides, a 1 MiB header) is
// written whole, WroteHeaders is told once, and the response is read.
func TestRequestHeadLargerThanTheSocketBuffers(t *testing.T) {
	srv := newRawServer(t, ok5)
	d := &net.Dialer{Timeout: 5 * time.Second}
	tr := &upstream.Transport{
		Dial: func(ctx context.Context, network, addr string) (net.Conn, error) {
			c, err := d.DialContext(ctx, network, addr)
			if err == nil {
				_ = c.(*net.TCPConn).SetWriteBuffer(4096)
			}
			return c, err
		},
		IdleTimeout: time.Minute,
	}
	defer tr.Close()
	big := strings.Repeat("x", 1<<20)
	observedRoundTrips(t, tr, srv.ln.Addr().String(), http.Header{"X-Big": {big}}, 2, func(i int) {
		if head := srv.lastHead(); !strings.Contains(head, "X-Big: "+big+"\r\n") {
			t.Fatalf("request %d: the target got a head of %d bytes without the whole header", i, len(head))
		}
	})
}

// signalWrote closes ch at its first WroteHeaders.
type signalWrote struct {
	once sync.Once
	ch   chan struct{}
}

func (s *signalWrote) WroteHeaders() { s.once.Do(func() { close(s.ch) }) }

// TestWroteHeadersBeforeTheResponse: WroteHeaders is told once the request
// is written, while the round trip waits for the response (the load
// balancer times the target from then): the target here answers only
// after it.
func TestWroteHeadersBeforeTheResponse(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	o := &signalWrote{ch: make(chan struct{})}
	served := make(chan error, 1)
	go func() {
		c, err := ln.Accept()
		if err != nil {
			served <- err
			return
		}
		defer c.Close()
		br := bufio.NewReader(c)
		for {
			line, err := br.ReadString('\n')
			if err != nil {
				served <- err
				return
			}
			if line == "\r\n" {
				break
			}
		}
		select {
		case <-o.ch:
		case <-time.After(10 * time.Second):
			served <- errors.New("no WroteHeaders before the response")
			return
		}
		_, err = io.WriteString(c, ok5)
		served <- err
	}()
	tr := newTransport()
	defer tr.Close()
	resp, err := tr.RoundTripObserved(request(t, http.MethodGet, ln.Addr().String(), http.Header{}), o)
	if err != nil {
		t.Fatal(err)
	}
	if got := readAll(t, resp); got != "hello" {
		t.Fatalf("body %q", got)
	}
	if err := <-served; err != nil {
		t.Fatal(err)
	}
}
