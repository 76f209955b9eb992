//go:build linux

package serve

import (
	"math/rand/v2"
	"net"
	"slices"
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

	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
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
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
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

// tcpPair dials ln and returns both ends, closed when the test ends.
func tcpPair(t *testing.T, ln net.Listener) (client, server net.Conn) {
	t.Helper()
	c, err := net.Dial("tcp", ln.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	sc, err := ln.Accept()
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { sc.Close() })
	return c, sc
}
