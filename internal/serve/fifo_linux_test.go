//go:build linux

package serve

import (
	"bufio"
	"context"
	"errors"
	"io"
	"math/rand/v2"
	"net"
	"net/http"
	"slices"
	"sync/atomic"
	"syscall"
	"testing"
	"time"
)

// TestFIFOWakerOrder: the waker reports the connections whose bytes
// arrived in the order they arrived (the kernel's), which is what the
// runtime's own poller does not keep; bytes already there when a
// connection joins are reported too; a connection that left is not.
func TestFIFOWakerOrder(t *testing.T) {
	w, err := newFIFOWaker()
	if err != nil {
		t.Fatal(err)
	}
	defer w.close()
	var order []*leanConn
	w.mu.Lock()
	w.onReport = func(lc *leanConn) { order = append(order, lc) }
	w.mu.Unlock()
	reported := func() []*leanConn {
		w.mu.Lock()
		defer w.mu.Unlock()
		return slices.Clone(order)
	}

	ln := loopbackListener(t)
	const n = 40
	clients := make([]net.Conn, n)
	lcs := make([]*leanConn, n)
	for i := range n {
		c, sc := tcpPair(t, ln)
		clients[i] = c
		if i == 0 {
			// Bytes before joining: reported when it joins.
			if _, err := c.Write([]byte("x")); err != nil {
				t.Fatal(err)
			}
			waitBytes(t, sc.(*net.TCPConn))
		}
		rc, err := sc.(*net.TCPConn).SyscallConn()
		if err != nil {
			t.Fatal(err)
		}
		lcs[i] = &leanConn{ready: make(chan struct{}, 1)}
		if !w.add(lcs[i], rc) {
			t.Fatalf("add %d failed", i)
		}
	}
	waitReports(t, reported, 1)
	if got := reported(); got[0] != lcs[0] {
		t.Fatal("the connection with bytes before it joined was not the one reported")
	}
	<-lcs[0].ready

	w.remove(lcs[n-1]) // left: its bytes are not reported
	perm := rand.Perm(n - 1)
	// The waker blocks on mu while the bytes arrive, so that they come to
	// it in batches: the order within a batch is what is tested.
	w.mu.Lock()
	for _, i := range perm {
		if _, err := clients[i].Write([]byte("y")); err != nil {
			w.mu.Unlock()
			t.Fatal(err)
		}
	}
	w.mu.Unlock()
	if _, err := clients[n-1].Write([]byte("z")); err != nil {
		t.Fatal(err)
	}
	got := waitReports(t, reported, 1+len(perm))[1:]
	for k, i := range perm {
		if got[k] != lcs[i] {
			t.Fatalf("report %d is connection %d's, want %d's (bytes arrived in the order %v)", k, slices.Index(lcs, got[k]), i, perm)
		}
	}
	for _, i := range perm {
		select {
		case <-lcs[i].ready:
		default:
			t.Fatalf("connection %d has no report on its channel", i)
		}
	}
	select {
	case <-lcs[n-1].ready:
		t.Fatal("a connection that left was reported")
	default:
	}
}

// waitBytes polls until c has bytes to read (without reading them).
func waitBytes(t *testing.T, c *net.TCPConn) {
	t.Helper()
	rc, _ := c.SyscallConn()
	deadline := time.Now().Add(10 * time.Second)
	for time.Now().Before(deadline) {
		var b [1]byte
		n := 0
		_ = rc.Control(func(fd uintptr) { n, _, _ = recvPeek(int(fd), b[:]) })
		if n > 0 {
			return
		}
		time.Sleep(time.Millisecond)
	}
	t.Fatal("bytes never arrived")
}

// waitReports polls until at least n reports were made, and returns them.
func waitReports(t *testing.T, reported func() []*leanConn, n int) []*leanConn {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for time.Now().Before(deadline) {
		if got := reported(); len(got) >= n {
			return got
		}
		time.Sleep(time.Millisecond)
	}
	t.Fatalf("fewer than %d reports: %d", n, len(reported()))
	return nil
}

// recvPeek peeks at fd's bytes without waiting.
func recvPeek(fd int, b []byte) (int, syscall.Sockaddr, error) {
	return syscall.Recvfrom(fd, b, syscall.MSG_PEEK|syscall.MSG_DONTWAIT)
}

// TestFIFOWakerStop: when the waker's goroutine ends, every connection in
// its set gets a report (whoever waits goes on to read), and the waker
// says it stopped.
func TestFIFOWakerStop(t *testing.T) {
	w, err := newFIFOWaker()
	if err != nil {
		t.Fatal(err)
	}
	ln := loopbackListener(t)
	_, sc := tcpPair(t, ln)
	rc, err := sc.(*net.TCPConn).SyscallConn()
	if err != nil {
		t.Fatal(err)
	}
	lc := &leanConn{ready: make(chan struct{}, 1)}
	if !w.add(lc, rc) {
		t.Fatal("add failed")
	}
	w.close()
	select {
	case <-lc.ready:
	case <-time.After(10 * time.Second):
		t.Fatal("no report when the waker stopped")
	}
	if !w.stopped.Load() {
		t.Fatal("the waker does not say it stopped")
	}
}

// TestPeekGone: a peek says the client went away for the end of the
// stream and for a reset, and not for nothing yet, for bytes (the next
// request), or for a connection closed on this side.
func TestPeekGone(t *testing.T) {
	ln := loopbackListener(t)
	rawOf := func(c net.Conn) syscall.RawConn {
		rc, err := c.(*net.TCPConn).SyscallConn()
		if err != nil {
			t.Fatal(err)
		}
		return rc
	}
	// until polls peekGone(rc) until it is want, or fails after 10 s.
	until := func(rc syscall.RawConn, want bool, what string) {
		t.Helper()
		for deadline := time.Now().Add(10 * time.Second); time.Now().Before(deadline); time.Sleep(time.Millisecond) {
			if peekGone(rc) == want {
				return
			}
		}
		t.Fatalf("%s: peekGone never became %v", what, want)
	}

	c, sc := tcpPair(t, ln)
	rc := rawOf(sc)
	if peekGone(rc) {
		t.Fatal("nothing yet: gone")
	}
	if _, err := c.Write([]byte("GET")); err != nil {
		t.Fatal(err)
	}
	waitBytes(t, sc.(*net.TCPConn))
	c.Close() // bytes, then the end of the stream: the bytes come first
	if peekGone(rc) {
		t.Fatal("bytes waiting: gone")
	}
	if b, err := io.ReadAll(sc); err != nil || string(b) != "GET" {
		t.Fatalf("read %q, %v", b, err)
	}
	until(rc, true, "end of stream")

	c, sc = tcpPair(t, ln)
	rc = rawOf(sc)
	_ = c.(*net.TCPConn).SetLinger(0)
	c.Close() // a reset
	until(rc, true, "reset")

	_, sc = tcpPair(t, ln)
	rc = rawOf(sc)
	sc.Close()
	if peekGone(rc) {
		t.Fatal("closed on this side: gone")
	}
}

// endBeforeWatch is a FastHandler whose second request waits for goAhead
// before it asks WatchClientFunc to watch it, and for release before it
// answers (gone is not called once it returned).
type endBeforeWatch struct {
	entered, goAhead, release chan struct{}
	gone                      chan error
	n                         int
}

func (h *endBeforeWatch) ServeHTTP(w http.ResponseWriter, r *http.Request) { http.NotFound(w, r) }

func (h *endBeforeWatch) ServeFast(w http.ResponseWriter, r *http.Request) bool {
	h.n++
	if h.n == 2 {
		h.entered <- struct{}{}
		<-h.goAhead
	}
	WatchClientFunc(r, func(cause error) { h.gone <- cause })
	if h.n == 2 {
		<-h.release
	}
	_, _ = io.WriteString(w, "ok")
	return true
}

// TestWatchSeesAnEndBeforeIt: a client that goes away after its request
// came but before the handler asked to watch it is seen going away through
// the FIFO waker, whose report of that end came before the watch began
// (and no other comes after it).
func TestWatchSeesAnEndBeforeIt(t *testing.T) {
	h := &endBeforeWatch{entered: make(chan struct{}, 1), goAhead: make(chan struct{}),
		release: make(chan struct{}), gone: make(chan error, 2)}
	s, err := Listen("127.0.0.1:0", Plane{Handler: h}, Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer func() {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		s.Shutdown(ctx)
	}()
	defer close(h.release) // before the Shutdown, which waits for the handler
	c, err := net.Dial("tcp", s.Addr())
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	br := bufio.NewReader(c)
	get := "GET / HTTP/1.1\r\nHost: a\r\n\r\n"
	if _, err := io.WriteString(c, get); err != nil {
		t.Fatal(err)
	}
	resp, err := http.ReadResponse(br, nil)
	if err != nil {
		t.Fatal(err)
	}
	_, _ = io.Copy(io.Discard, resp.Body)

	s.mu.Lock()
	w := s.fifo
	s.mu.Unlock()
	if w == nil {
		t.Fatal("the watched connection did not join the FIFO waker")
	}
	var reports atomic.Int32
	w.mu.Lock()
	w.onReport = func(*leanConn) { reports.Add(1) }
	w.mu.Unlock()
	if _, err := io.WriteString(c, get); err != nil {
		t.Fatal(err)
	}
	<-h.entered
	before := reports.Load()
	c.Close()
	for deadline := time.Now().Add(10 * time.Second); reports.Load() == before; time.Sleep(time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatal("the end of the stream was never reported")
		}
	}
	close(h.goAhead)
	select {
	case cause := <-h.gone:
		if !errors.Is(cause, ErrClientGone) {
			t.Fatalf("gone(%v), want ErrClientGone", cause)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("the client's end before the watch was not seen")
	}
}
