package serve_test

import (
	"bufio"
	"bytes"
	"context"
	"crypto/tls"
	"fmt"
	"io"
	"net"
	"net/http"
	"regexp"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/kumo-dev/kumo/internal/serve"
)

// twin answers every request identically through ServeHTTP (net/http) and
// ServeFast (the lean engine); ServeFast declines paths under /slow/, which
// then reach ServeHTTP through the lean engine's hand-off. With watch set,
// ServeFast first asks for serve.WatchClient (as the load balancer does),
// declined requests included.
type twin struct {
	fast, slow atomic.Int64
	watch      bool
}

func (h *twin) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	h.slow.Add(1)
	respond(w, r)
}

func (h *twin) ServeFast(w http.ResponseWriter, r *http.Request) bool {
	if h.watch {
		r = serve.WatchClientRequest(r)
	}
	if strings.HasPrefix(r.URL.Path, "/slow/") {
		return false
	}
	h.fast.Add(1)
	respond(w, r)
	return true
}

// netHTTPOnly hides ServeFast: a server with it serves every request with
// net/http alone, the reference the lean engine must match.
type netHTTPOnly struct{ h http.Handler }

func (n netHTTPOnly) ServeHTTP(w http.ResponseWriter, r *http.Request) { n.h.ServeHTTP(w, r) }

// respond is the handler both paths run: one case per response-writing
// rule of net/http.
func respond(w http.ResponseWriter, r *http.Request) {
	p := strings.TrimPrefix(r.URL.Path, "/slow")
	if r.ContentLength > 0 {
		b, _ := io.ReadAll(r.Body)
		w.Header().Set("X-Body", string(b))
	}
	w.Header().Set("X-Query", r.URL.RawQuery)
	w.Header().Set("X-Host", r.Host)
	w.Header().Set("X-Agent", r.Header.Get("User-Agent"))
	switch p {
	case "/plain": // small, no Content-Length: net/http computes it
		w.Header().Set("Content-Type", "text/plain")
		io.WriteString(w, "hello")
	case "/empty": // nothing written: Content-Length: 0
	case "/big": // over the chunking threshold, no Content-Length
		// (one Write: net/http's io.WriteString goes through its 2 KiB
		// buffer and chunks at other boundaries, equally valid)
		w.Header().Set("Content-Type", "text/plain")
		w.Write([]byte(strings.Repeat("x", 5000)))
	case "/cl":
		w.Header().Set("Content-Length", "3")
		w.Header().Set("Content-Type", "text/plain")
		io.WriteString(w, "abc")
	case "/short": // promises more than it writes: the connection closes
		w.Header().Set("Content-Length", "10")
		io.WriteString(w, "abc")
	case "/long": // writes more than it promised
		w.Header().Set("Content-Length", "2")
		_, err := io.WriteString(w, "abc")
		w.Header().Set("X-Late", fmt.Sprint(err != nil))
	case "/badcl":
		w.Header().Set("Content-Length", "x1")
		io.WriteString(w, "abc")
	case "/nocontent":
		w.Header().Set("Content-Length", "0")
		w.WriteHeader(http.StatusNoContent)
	case "/notmod":
		w.Header().Set("Content-Type", "text/html")
		w.Header().Set("Content-Length", "100")
		w.Header().Set("Etag", `"v1"`)
		w.WriteHeader(http.StatusNotModified)
	case "/sniff":
		io.WriteString(w, "<!DOCTYPE html><html><body>hi</body></html>")
	case "/flush":
		io.WriteString(w, "a")
		w.(http.Flusher).Flush()
		io.WriteString(w, "b")
	case "/close":
		w.Header().Set("Connection", "close")
		io.WriteString(w, "bye")
	case "/early":
		w.Header().Set("Link", "</style.css>; rel=preload")
		w.WriteHeader(http.StatusEarlyHints)
		io.WriteString(w, "after hints")
	case "/status":
		w.WriteHeader(599)
		io.WriteString(w, "odd")
	case "/crlf":
		w.Header()["X-Bad"] = []string{"a\r\nInjected: yes"}
		w.Header()["Bad Name"] = []string{"v"}
		io.WriteString(w, "ok")
	case "/trailers":
		w.Header().Set("Trailer", "X-Sum, X-Unset")
		io.WriteString(w, "body")
		w.Header().Set("X-Sum", "42")
		w.Header().Set(http.TrailerPrefix+"X-Late", "late")
	case "/trailers-cl":
		w.Header().Set("Content-Length", "4")
		io.WriteString(w, "body")
		w.Header().Set(http.TrailerPrefix+"X-Late", "ignored")
	case "/abort":
		io.WriteString(w, "partial")
		panic(http.ErrAbortHandler)
	default:
		w.Header().Set("Content-Type", "text/plain; charset=utf-8")
		w.WriteHeader(http.StatusNotFound)
		io.WriteString(w, "404 page not found\n")
	}
}

var dateLine = regexp.MustCompile(`(?m)^Date: [^\r\n]*\r\n`)

// exchange sends raw on a new connection to addr, half-closes, and returns
// everything the server sent until it closed, Date lines masked.
func exchange(t testing.TB, addr, raw string) string {
	t.Helper()
	c, err := net.DialTimeout("tcp", addr, 5*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	_ = c.SetDeadline(time.Now().Add(10 * time.Second))
	if _, err := io.WriteString(c, raw); err != nil && !isReset(err) {
		t.Fatal(err)
	}
	_ = c.(*net.TCPConn).CloseWrite()
	got, err := io.ReadAll(c)
	if err != nil && !isReset(err) {
		t.Fatalf("read: %v", err)
	}
	return dateLine.ReplaceAllString(string(got), "Date: *\r\n")
}

func isReset(err error) bool {
	return strings.Contains(err.Error(), "connection reset")
}

// leanPair starts a lean server (twin, watching the client when watch is
// set) and a net/http-only one.
func leanPair(t testing.TB, watch bool) (lean, ref string, h *twin) {
	h = &twin{watch: watch}
	opt := serve.Options{ReadHeaderTimeout: 2 * time.Second, IdleTimeout: 2 * time.Second}
	ls, err := serve.Listen("127.0.0.1:0", serve.Plane{Handler: h}, opt)
	if err != nil {
		t.Fatal(err)
	}
	rs, err := serve.Listen("127.0.0.1:0", serve.Plane{Handler: netHTTPOnly{&twin{}}}, opt)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		_ = ls.Shutdown(ctx)
		_ = rs.Shutdown(ctx)
	})
	return ls.Addr(), rs.Addr(), h
}

func get1(path string, extra ...string) string {
	return "GET " + path + " HTTP/1.1\r\nHost: svc.example.com\r\nUser-Agent: t\r\n" + strings.Join(extra, "") + "\r\n"
}

const lastReq = "GET /plain HTTP/1.1\r\nHost: svc.example.com\r\nConnection: close\r\n\r\n"

// TestLeanMatchesNetHTTP sends the same bytes to the lean engine and to
// net/http alone and requires the same bytes back (Date aside): response
// framing, header order and sanitising, Content-Length, chunking, sniffing,
// interim responses, keep-alive and close, pipelining, and every request the
// lean parser leaves to net/http.
func TestLeanMatchesNetHTTP(t *testing.T) {
	for _, watch := range []bool{false, true} {
		t.Run(fmt.Sprint("watch=", watch), func(t *testing.T) { testLeanMatchesNetHTTP(t, watch) })
	}
}

func testLeanMatchesNetHTTP(t *testing.T, watch bool) {
	lean, ref, h := leanPair(t, watch)
	paths := []string{"/plain", "/empty", "/big", "/cl", "/short", "/long", "/badcl", "/nocontent", "/notmod",
		"/sniff", "/flush", "/close", "/early", "/status", "/crlf", "/abort", "/trailers", "/trailers-cl", "/missing", "/plain?a=1&b=%zz", "/p%41th", "/plain?"}
	var cases []string
	for _, p := range paths {
		for _, slow := range []string{"", "/slow"} {
			cases = append(cases,
				get1(slow+p)+lastReq,
				strings.Replace(get1(slow+p), "GET", "HEAD", 1)+lastReq,
				get1(slow+p, "Connection: close\r\n"),
			)
		}
	}
	cases = append(cases,
		// Pipelined: fast, slow with a body, fast, slow, fast.
		get1("/cl")+"POST /slow/plain HTTP/1.1\r\nHost: a\r\nContent-Length: 5\r\n\r\nhello"+get1("/big")+get1("/slow/cl")+lastReq,
		// A fast-looking request with a body goes to net/http, and the
		// connection comes back.
		"POST /plain HTTP/1.1\r\nHost: a\r\nContent-Length: 3\r\n\r\nabc"+lastReq,
		"GET /plain HTTP/1.1\r\nHost: a\r\nContent-Length: 3\r\n\r\nabc"+lastReq,
		"POST /plain HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nabc\r\n0\r\n\r\n"+lastReq,
		"POST /plain HTTP/1.1\r\nHost: a\r\nContent-Length: 3\r\nExpect: 100-continue\r\n\r\nabc"+lastReq,
		// What the lean parser does not take, net/http judges.
		"GET /plain HTTP/1.1\nHost: a\n\n"+lastReq,
		"GET /plain HTTP/1.1\r\nHost: a\r\n folded\r\n\r\n"+lastReq,
		"GET /plain HTTP/1.1\r\n\r\n"+lastReq,
		"GET /plain HTTP/1.1\r\nHost: a\r\nHost: b\r\n\r\n"+lastReq,
		"GET /plain HTTP/1.1\r\nHost: a b\r\n\r\n"+lastReq,
		"GET /plain HTTP/1.1\r\nHost: a\r\nBad Name: v\r\n\r\n"+lastReq,
		"GET /plain HTTP/1.1\r\nHost: a\r\nX: a\x01b\r\n\r\n"+lastReq,
		"GET /plain HTTP/1.0\r\nHost: a\r\n\r\n",
		"GET /plain HTTP/1.0\r\nHost: a\r\nConnection: keep-alive\r\n\r\n"+lastReq,
		"GET /plain HTTP/2.0\r\nHost: a\r\n\r\n",
		"GET http://a/plain HTTP/1.1\r\nHost: a\r\n\r\n"+lastReq,
		"GET * HTTP/1.1\r\nHost: a\r\n\r\n"+lastReq,
		"G@T /plain HTTP/1.1\r\nHost: a\r\n\r\n"+lastReq,
		"GET /plain HTTP/1.1\r\nHost: a\r\nContent-Length: -1\r\n\r\n"+lastReq,
		"GET /plain HTTP/1.1\r\nHost: a\r\nContent-Length: 1\r\nContent-Length: 2\r\n\r\nabc"+lastReq,
		"GET /plain HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: gzip\r\n\r\n"+lastReq,
		"GET /plain HTTP/1.1\r\nHost: a\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\r\n"+lastReq,
		"GET /plain HTTP/1.1\r\nHost: a\r\nPragma: no-cache\r\n\r\n"+lastReq,
		"GET /plain HTTP/1.1\r\nHost: a\r\nX-Long: "+strings.Repeat("v", 20000)+"\r\n\r\n"+lastReq,
		"\r\nGET /plain HTTP/1.1\r\nHost: a\r\n\r\n"+lastReq,
		"GET /plain HTTP/1.1\r\nHost: a\r\n\r\n"+"GARBAGE\r\n\r\n",
		"GET /plain HTTP/1.1\r\nhost: a\r\nuser-agent: lower\r\n\r\n"+lastReq,
		"GET /plain HTTP/1.1\r\nHost: a\r\n", // cut short
	)
	for i, raw := range cases {
		want := exchange(t, ref, raw)
		got := exchange(t, lean, raw)
		if got != want {
			t.Errorf("case %d %q:\nlean engine sent\n%q\nnet/http sent\n%q", i, raw, got, want)
		}
	}
	if h.fast.Load() == 0 || h.slow.Load() == 0 {
		t.Errorf("requests served: %d by ServeFast, %d by ServeHTTP; want both used", h.fast.Load(), h.slow.Load())
	}
}

// TestLeanKeepsConnection: fast requests and handed-off ones share one
// keep-alive connection, over TLS too.
func TestLeanKeepsConnection(t *testing.T) {
	for _, useTLS := range []bool{false, true} {
		t.Run(fmt.Sprint("tls=", useTLS), func(t *testing.T) {
			h := &twin{}
			p := serve.Plane{Handler: h}
			if useTLS {
				p = tlsPlane(t, h)
			}
			s := listen(t, p, serve.Options{})
			var dials atomic.Int64
			tr := &http.Transport{
				DialContext: func(ctx context.Context, n, _ string) (net.Conn, error) {
					dials.Add(1)
					return (&net.Dialer{}).DialContext(ctx, n, s.Addr())
				},
				TLSClientConfig: &tls.Config{InsecureSkipVerify: true, ServerName: "svc.example.com"},
			}
			defer tr.CloseIdleConnections()
			c := &http.Client{Transport: tr, Timeout: 10 * time.Second}
			scheme := map[bool]string{false: "http", true: "https"}[useTLS]
			for i, p := range []string{"/plain", "/slow/plain", "/big", "/slow/big", "/cl", "/plain"} {
				resp, err := c.Get(scheme + "://svc.example.com" + p)
				if err != nil {
					t.Fatalf("request %d %s: %v", i, p, err)
				}
				b, _ := io.ReadAll(resp.Body)
				resp.Body.Close()
				if resp.StatusCode != 200 || len(b) == 0 {
					t.Fatalf("request %d %s: %d %q", i, p, resp.StatusCode, b)
				}
				if useTLS && resp.TLS == nil {
					t.Fatal("no TLS")
				}
			}
			if dials.Load() != 1 {
				t.Errorf("%d connections for 6 requests; want 1", dials.Load())
			}
			if h.fast.Load() != 4 || h.slow.Load() != 2 {
				t.Errorf("served %d fast, %d through net/http; want 4 and 2", h.fast.Load(), h.slow.Load())
			}
		})
	}
}

// TestLeanHandoffSeesClientGone: a request handed to net/http still gets
// its context cancelled when the client goes away.
func TestLeanHandoffSeesClientGone(t *testing.T) {
	started := make(chan struct{})
	cancelled := make(chan struct{})
	h := &blocking{started: started, cancelled: cancelled}
	s := listen(t, serve.Plane{Handler: h}, serve.Options{})
	c, err := net.Dial("tcp", s.Addr())
	if err != nil {
		t.Fatal(err)
	}
	if _, err := io.WriteString(c, get1("/slow/wait")); err != nil {
		t.Fatal(err)
	}
	select {
	case <-started:
	case <-time.After(10 * time.Second):
		t.Fatal("handler never started")
	}
	c.Close()
	select {
	case <-cancelled:
	case <-time.After(10 * time.Second):
		t.Fatal("the handler's context was not cancelled when the client left")
	}
}

type blocking struct{ started, cancelled chan struct{} }

func (b *blocking) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	close(b.started)
	<-r.Context().Done()
	close(b.cancelled)
}

func (b *blocking) ServeFast(http.ResponseWriter, *http.Request) bool { return false }

// TestLeanShutdown: Shutdown closes idle lean connections and lets a fast
// request in flight finish.
func TestLeanShutdown(t *testing.T) {
	release := make(chan struct{})
	entered := make(chan struct{}, 1)
	h := &slowFast{entered: entered, release: release}
	s, err := serve.Listen("127.0.0.1:0", serve.Plane{Handler: h}, serve.Options{})
	if err != nil {
		t.Fatal(err)
	}
	idle := dialServer(t, s.Addr())
	busy := dialServer(t, s.Addr())
	io.WriteString(busy, get1("/x"))
	<-entered
	done := make(chan error, 1)
	go func() {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		done <- s.Shutdown(ctx)
	}()
	// The idle connection is closed without a response.
	_ = idle.SetReadDeadline(time.Now().Add(10 * time.Second))
	if b, err := io.ReadAll(idle); err != nil || len(b) != 0 {
		t.Fatalf("idle connection: %q, %v; want a quiet close", b, err)
	}
	close(release)
	_ = busy.SetReadDeadline(time.Now().Add(10 * time.Second))
	b, _ := io.ReadAll(busy)
	if !bytes.HasPrefix(b, []byte("HTTP/1.1 200 OK\r\n")) || !bytes.HasSuffix(b, []byte("done")) {
		t.Fatalf("in-flight request: %q", b)
	}
	if err := <-done; err != nil {
		t.Fatalf("Shutdown: %v", err)
	}
}

type slowFast struct {
	entered chan struct{}
	release chan struct{}
}

func (h *slowFast) ServeHTTP(w http.ResponseWriter, r *http.Request) { http.NotFound(w, r) }

func (h *slowFast) ServeFast(w http.ResponseWriter, r *http.Request) bool {
	h.entered <- struct{}{}
	<-h.release
	io.WriteString(w, "done")
	return true
}

// FuzzLeanRequest sends arbitrary bytes to the lean engine and to net/http
// alone: the lean engine must never fail where net/http does not, and must
// answer byte for byte as net/http does.
func FuzzLeanRequest(f *testing.F) {
	for _, seed := range []string{
		get1("/plain") + lastReq,
		get1("/slow/cl") + get1("/big") + lastReq,
		"HEAD /sniff HTTP/1.1\r\nHost: a\r\nConnection: close\r\n\r\n",
		"GET /plain HTTP/1.1\r\nHost: a\r\nX: \xff\r\n\r\n" + lastReq,
		"GET /%zz HTTP/1.1\r\nHost: a\r\n\r\n" + lastReq,
		"GET /plain?x=%00 HTTP/1.1\r\nHost: a\r\n\r\n" + lastReq,
		"POST /plain HTTP/1.1\r\nHost: a\r\nContent-Length: 2\r\n\r\nab" + lastReq,
	} {
		f.Add(seed)
	}
	lean, ref, _ := leanPair(f, false)
	watching, _, _ := leanPair(f, true)
	f.Fuzz(func(t *testing.T, raw string) {
		if strings.Contains(raw, "/slow/wait") || strings.Contains(strings.ToLower(raw), "expect") {
			return // a blocking handler, or a client that waits for 100 Continue
		}
		want := exchange(t, ref, raw)
		if got := exchange(t, lean, raw); got != want {
			t.Errorf("lean engine sent\n%q\nnet/http sent\n%q", got, want)
		}
		if got := exchange(t, watching, raw); got != want {
			t.Errorf("lean engine (watching) sent\n%q\nnet/http sent\n%q", got, want)
		}
	})
}

// TestLeanIdleTimeout: a keep-alive connection of the lean engine (whose
// wait for the next request goes through the FIFO waker on Linux) is
// closed once idle for IdleTimeout, and so is one that sends fewer than 4
// bytes of its next request, without an answer, as net/http does.
func TestLeanIdleTimeout(t *testing.T) {
	const idle = 150 * time.Millisecond
	h := &twin{}
	s := listen(t, serve.Plane{Handler: h}, serve.Options{ReadHeaderTimeout: 5 * time.Second, IdleTimeout: idle})
	for _, tail := range []string{"", "GE"} {
		c := dialServer(t, s.Addr())
		_ = c.SetDeadline(time.Now().Add(10 * time.Second))
		br := bufio.NewReader(c)
		for i := range 2 {
			if _, err := io.WriteString(c, get1("/plain")); err != nil {
				t.Fatal(err)
			}
			resp, err := http.ReadResponse(br, nil)
			if err != nil {
				t.Fatalf("request %d: %v", i, err)
			}
			_, _ = io.Copy(io.Discard, resp.Body)
		}
		start := time.Now()
		if _, err := io.WriteString(c, tail); err != nil {
			t.Fatal(err)
		}
		rest, err := io.ReadAll(br)
		if err != nil && !isReset(err) {
			t.Fatalf("tail %q: %v", tail, err)
		}
		if len(rest) != 0 {
			t.Fatalf("tail %q: answered %q", tail, rest)
		}
		if waited := time.Since(start); waited < idle {
			t.Fatalf("tail %q: closed after %v, before the idle timeout", tail, waited)
		}
	}
	if h.fast.Load() != 4 {
		t.Fatalf("%d requests served, want 4", h.fast.Load())
	}
}
