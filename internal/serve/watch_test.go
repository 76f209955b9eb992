package serve_test

import (
	"bufio"
	"context"
	"errors"
	"io"
	"net"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/kumo-dev/kumo/internal/serve"
)

// watcher is a FastHandler that watches the client and reports what
// became of each request's watch context: "/wait" waits for the context
// to end (or for hold to pass), anything else answers at once.
type watcher struct {
	hold    time.Duration
	entered chan struct{}
	ended   chan error // the context's cause, or nil: still live at the end
}

func (h *watcher) ServeHTTP(w http.ResponseWriter, r *http.Request) { http.NotFound(w, r) }

func (h *watcher) ServeFast(w http.ResponseWriter, r *http.Request) bool {
	ctx := serve.WatchClient(r)
	if r.URL.Path == "/wait" {
		h.entered <- struct{}{}
		select {
		case <-ctx.Done():
		case <-time.After(h.hold):
		}
	}
	h.ended <- context.Cause(ctx)
	_, _ = io.WriteString(w, "ok")
	return true
}

func newWatcher(hold time.Duration) *watcher {
	return &watcher{hold: hold, entered: make(chan struct{}, 8), ended: make(chan error, 8)}
}

// TestWatchClientGone: a watched request's context ends with ErrClientGone
// when the client closes, also on a connection's later requests (whose
// watch read began as the previous request's).
func TestWatchClientGone(t *testing.T) {
	watchModes(t, func(t *testing.T, listen listenFunc) {
		h := newWatcher(time.Hour)
		s := listen(t, serve.Plane{Handler: h}, serve.Options{})
		c := dialServer(t, s.Addr())
		br := bufio.NewReader(c)
		for i := 0; i < 3; i++ {
			if _, err := io.WriteString(c, get1("/now")); err != nil {
				t.Fatal(err)
			}
			resp, err := http.ReadResponse(br, nil)
			if err != nil {
				t.Fatalf("request %d: %v", i, err)
			}
			b, _ := io.ReadAll(resp.Body)
			if string(b) != "ok" {
				t.Fatalf("request %d: %q", i, b)
			}
			if cause := serve.WaitFor(t, h.ended, "the handler"); cause != nil {
				t.Fatalf("request %d: watch ended with %v while the client stayed", i, cause)
			}
		}
		if _, err := io.WriteString(c, get1("/wait")); err != nil {
			t.Fatal(err)
		}
		serve.WaitFor(t, h.entered, "the waiting request")
		c.Close()
		if cause := serve.WaitFor(t, h.ended, "the watch to end"); !errors.Is(cause, serve.ErrClientGone) {
			t.Fatalf("cause %v, want ErrClientGone", cause)
		}
	})
}

// TestWatchOutlivesReadTimeouts: the read deadlines that bound the wait for
// a request (header and idle timeouts) do not end its watch.
func TestWatchOutlivesReadTimeouts(t *testing.T) {
	watchModes(t, func(t *testing.T, listen listenFunc) {
		const timeout = 50 * time.Millisecond
		h := newWatcher(4 * timeout)
		s := listen(t, serve.Plane{Handler: h}, serve.Options{ReadHeaderTimeout: timeout, IdleTimeout: timeout})
		c := dialServer(t, s.Addr())
		br := bufio.NewReader(c)
		// The first request waits under the header timeout, the next ones
		// under the idle timeout, the last one with the previous watch's read.
		for i := 0; i < 3; i++ {
			if _, err := io.WriteString(c, get1("/wait")); err != nil {
				t.Fatal(err)
			}
			serve.WaitFor(t, h.entered, "the request")
			if cause := serve.WaitFor(t, h.ended, "the handler"); cause != nil {
				t.Fatalf("request %d: watch ended with %v", i, cause)
			}
			resp, err := http.ReadResponse(br, nil)
			if err != nil {
				t.Fatalf("request %d: %v", i, err)
			}
			_, _ = io.Copy(io.Discard, resp.Body)
		}
	})
}

// TestWatchIdleRules: after a watched request, a connection that sends
// fewer than 4 bytes before idling out is closed without an answer, as
// net/http does, and pipelined requests are all answered.
func TestWatchIdleRules(t *testing.T) {
	watchModes(t, func(t *testing.T, listen listenFunc) {
		h := newWatcher(time.Hour)
		s := listen(t, serve.Plane{Handler: h}, serve.Options{IdleTimeout: 100 * time.Millisecond})
		c := dialServer(t, s.Addr())
		_ = c.SetDeadline(time.Now().Add(10 * time.Second))
		if _, err := io.WriteString(c, get1("/a")+get1("/b")); err != nil {
			t.Fatal(err)
		}
		br := bufio.NewReader(c)
		for i := 0; i < 2; i++ {
			resp, err := http.ReadResponse(br, nil)
			if err != nil {
				t.Fatalf("pipelined request %d: %v", i, err)
			}
			_, _ = io.Copy(io.Discard, resp.Body)
		}
		if _, err := io.WriteString(c, "GE"); err != nil {
			t.Fatal(err)
		}
		rest, err := io.ReadAll(br)
		if err != nil && !isReset(err) {
			t.Fatal(err)
		}
		if len(rest) != 0 {
			t.Fatalf("answer to a 2-byte request start: %q", rest)
		}
		if n := len(h.ended); n != 2 {
			t.Fatalf("%d requests served, want 2", n)
		}
		for range 2 {
			if cause := <-h.ended; cause != nil {
				t.Fatalf("watch ended with %v", cause)
			}
		}
	})
}

// TestWatchShutdown: Shutdown closes a connection whose next request the
// watcher's read is waiting for, and waits for a watched request in flight.
func TestWatchShutdown(t *testing.T) {
	watchModes(t, func(t *testing.T, listen listenFunc) {
		h := newWatcher(time.Hour)
		s, err := serve.Listen("127.0.0.1:0", serve.Plane{Handler: h}, serve.Options{})
		if err != nil {
			t.Fatal(err)
		}
		idle := dialServer(t, s.Addr())
		_ = idle.SetDeadline(time.Now().Add(10 * time.Second))
		if _, err := io.WriteString(idle, get1("/now")); err != nil {
			t.Fatal(err)
		}
		br := bufio.NewReader(idle)
		resp, err := http.ReadResponse(br, nil)
		if err != nil {
			t.Fatal(err)
		}
		_, _ = io.Copy(io.Discard, resp.Body)
		serve.WaitFor(t, h.ended, "the first request")
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		if err := s.Shutdown(ctx); err != nil {
			t.Fatalf("Shutdown: %v", err)
		}
		if rest, err := io.ReadAll(br); (err != nil && !isReset(err)) || len(rest) != 0 {
			t.Fatalf("idle connection after Shutdown: %q, %v; want a quiet close", rest, err)
		}
		if !strings.Contains(resp.Status, "200") {
			t.Fatalf("status %s", resp.Status)
		}
	})
}

// dialServer connects to addr, closing the connection when the test ends.
func dialServer(t testing.TB, addr string) net.Conn {
	t.Helper()
	c, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	return c
}

// goneWatcher is a FastHandler that watches the client with
// WatchClientFunc: "/wait" waits for gone (or for hold to pass).
type goneWatcher struct {
	hold    time.Duration
	gone    chan error    // gone's causes
	served  chan bool     // WatchClientFunc's result, at the end of each request
	entered chan struct{} // "/wait" is watched and waiting
}

func (h *goneWatcher) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	h.served <- serve.WatchClientFunc(r, func(cause error) { h.gone <- cause })
	_, _ = io.WriteString(w, "net/http")
}

func (h *goneWatcher) ServeFast(w http.ResponseWriter, r *http.Request) bool {
	called := make(chan error, 1)
	ok := serve.WatchClientFunc(r, func(cause error) { called <- cause; h.gone <- cause })
	if r.URL.Path == "/wait" {
		h.entered <- struct{}{}
		select {
		case <-called:
		case <-time.After(h.hold):
		}
	}
	h.served <- ok
	_, _ = io.WriteString(w, "ok")
	return true
}

// TestWatchClientFunc: on the lean engine gone is called with
// ErrClientGone when the client closes during the request, and not for a
// client that closes after its request ended; a request net/http serves
// gets false and no call.
func TestWatchClientFunc(t *testing.T) {
	watchModes(t, func(t *testing.T, listen listenFunc) {
		h := &goneWatcher{hold: time.Hour, gone: make(chan error, 8), served: make(chan bool, 8), entered: make(chan struct{}, 8)}
		s := listen(t, serve.Plane{Handler: h}, serve.Options{})

		// Answered, then the client closes: gone is not called.
		c := dialServer(t, s.Addr())
		br := bufio.NewReader(c)
		for range 2 {
			if _, err := io.WriteString(c, get1("/now")); err != nil {
				t.Fatal(err)
			}
			resp, err := http.ReadResponse(br, nil)
			if err != nil {
				t.Fatal(err)
			}
			_, _ = io.Copy(io.Discard, resp.Body)
			if !serve.WaitFor(t, h.served, "the handler") {
				t.Fatal("WatchClientFunc reported false on the lean engine")
			}
		}
		c.Close()

		// Gone during the request.
		c = dialServer(t, s.Addr())
		if _, err := io.WriteString(c, get1("/wait")); err != nil {
			t.Fatal(err)
		}
		serve.WaitFor(t, h.entered, "the request to be watched")
		c.Close()
		if cause := serve.WaitFor(t, h.gone, "gone"); !errors.Is(cause, serve.ErrClientGone) {
			t.Fatalf("gone(%v), want ErrClientGone", cause)
		}
		if !serve.WaitFor(t, h.served, "the handler") {
			t.Fatal("WatchClientFunc reported false on the lean engine")
		}
		select {
		case cause := <-h.gone:
			t.Fatalf("gone called again (%v), or for the answered connection", cause)
		default:
		}

		// net/http's request (a body hands it over): false, so nothing was
		// arranged (its own context is what ends).
		c = dialServer(t, s.Addr())
		if _, err := io.WriteString(c, "POST /x HTTP/1.1\r\nHost: a\r\nContent-Length: 2\r\n\r\nab"); err != nil {
			t.Fatal(err)
		}
		if serve.WaitFor(t, h.served, "the net/http handler") {
			t.Fatal("WatchClientFunc reported true for a request net/http serves")
		}
	})
}

// listenFunc starts a server for a test (listen, listenWrapped).
type listenFunc func(t *testing.T, p serve.Plane, opt serve.Options) *serve.Server

// watchModes runs f with each way the lean engine watches a client: on
// Linux, a plain TCP connection through the FIFO waker, and a wrapped one
// (which the waker does not take) with a background read.
func watchModes(t *testing.T, f func(t *testing.T, listen listenFunc)) {
	t.Run("plain", func(t *testing.T) { f(t, listen) })
	t.Run("wrapped", func(t *testing.T) { f(t, listenWrapped) })
}

// listenWrapped is listen with every accepted connection wrapped in a type
// that is not a serve.PassThroughConn.
func listenWrapped(t *testing.T, p serve.Plane, opt serve.Options) *serve.Server {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	s := serve.Serve(opaqueListener{ln}, p, opt)
	shutdownAtEnd(t, s)
	return s
}

// opaqueListener wraps each connection it accepts in an opaqueConn.
type opaqueListener struct{ net.Listener }

func (l opaqueListener) Accept() (net.Conn, error) {
	c, err := l.Listener.Accept()
	if err != nil {
		return nil, err
	}
	return opaqueConn{c}, nil
}

// opaqueConn hides the *net.TCPConn it wraps.
type opaqueConn struct{ net.Conn }

// stoppedWatcher is a FastHandler that arranges gone with WatchClientFunc,
// takes it back with StopWatchingClient, and waits, through WatchClient's
// context, for the client to go: it reports what went wrong ("" if
// nothing).
type stoppedWatcher struct {
	entered chan struct{}
	called  chan string
}

func (h *stoppedWatcher) ServeHTTP(w http.ResponseWriter, r *http.Request) {}

func (h *stoppedWatcher) ServeFast(w http.ResponseWriter, r *http.Request) bool {
	gone := make(chan error, 1)
	serve.WatchClientFunc(r, func(cause error) { gone <- cause })
	serve.StopWatchingClient(r)
	ctx := serve.WatchClient(r)
	h.entered <- struct{}{}
	select {
	case <-ctx.Done():
	case <-time.After(10 * time.Second):
		h.called <- "the watch's context did not end when the client went"
		return true
	}
	// One end of the watch ends the context and calls gone, gone first:
	// a gone still arranged would be in the channel now.
	select {
	case <-gone:
		h.called <- "gone was called after StopWatchingClient"
	default:
		h.called <- ""
	}
	_, _ = io.WriteString(w, "ok")
	return true
}

// TestStopWatchingClient: once StopWatchingClient returned, the client
// going away calls no gone (the watch's context still ends).
func TestStopWatchingClient(t *testing.T) {
	watchModes(t, func(t *testing.T, listen listenFunc) {
		h := &stoppedWatcher{entered: make(chan struct{}, 1), called: make(chan string, 1)}
		s := listen(t, serve.Plane{Handler: h}, serve.Options{})
		c := dialServer(t, s.Addr())
		if _, err := io.WriteString(c, get1("/stop")); err != nil {
			t.Fatal(err)
		}
		serve.WaitFor(t, h.entered, "the request to be watched")
		c.Close()
		if problem := serve.WaitFor(t, h.called, "the handler"); problem != "" {
			t.Fatal(problem)
		}
	})
}
