package serve

import (
	"bytes"
	"crypto/tls"
	"errors"
	"io"
	"net"
	"runtime"
	"testing"
	"time"
)

// tlsConnPair returns a handshaken TLS connection over loopback TCP: the
// server side, which h2Conn wraps, and the client side, both closed when
// the test ends.
func tlsConnPair(t *testing.T) (server *tls.Conn, client *tls.Conn) {
	t.Helper()
	cfg, err := internalTLSConfig(t)(nil)
	if err != nil {
		t.Fatal(err)
	}
	ln := loopbackListener(t)
	c, sc := tcpPair(t, ln)
	server = tls.Server(sc, cfg)
	client = tls.Client(c, &tls.Config{InsecureSkipVerify: true, ServerName: "svc.example.com"})
	errc := make(chan error, 1)
	go func() { errc <- server.Handshake() }()
	if err := client.Handshake(); err != nil {
		t.Fatal(err)
	}
	if err := <-errc; err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { server.Close(); client.Close() })
	return server, client
}

// TestH2ConnKeepsOrder: what is written arrives whole and in order, for
// small writes that are gathered, writes that go through (past
// h2WriteMax) between them, and the bytes Close sends.
func TestH2ConnKeepsOrder(t *testing.T) {
	server, client := tlsConnPair(t)
	hc := newH2Conn(server, new(h2Bufs))
	var want bytes.Buffer
	got := make(chan []byte, 1)
	go func() {
		b, _ := io.ReadAll(client) // to close_notify
		got <- b
	}()
	large := bytes.Repeat([]byte("L"), h2WriteMax+1)
	for i := range 2000 {
		p := []byte{byte('a' + i%26), byte('0' + i%10), '\n'}
		if i%500 == 250 {
			p = large
		}
		if i%300 == 100 {
			p = bytes.Repeat([]byte{byte('A' + i%26)}, 40<<10) // fills the buffer: the next write goes through
		}
		if _, err := hc.Write(p); err != nil {
			t.Fatalf("write %d: %v", i, err)
		}
		want.Write(p)
	}
	if _, err := hc.Write([]byte("last, sent by Close")); err != nil {
		t.Fatal(err)
	}
	want.WriteString("last, sent by Close")
	if err := hc.Close(); err != nil {
		t.Fatalf("close: %v", err)
	}
	if b := WaitFor(t, got, "the client to read to the end"); !bytes.Equal(b, want.Bytes()) {
		t.Fatalf("received %d bytes, not the %d written in order", len(b), want.Len())
	}
	if _, err := hc.Write([]byte("x")); !errors.Is(err, net.ErrClosed) {
		t.Fatalf("write after Close: %v, want net.ErrClosed", err)
	}
	if err := hc.Close(); err != nil {
		t.Fatalf("second Close: %v", err)
	}
}

// TestH2ConnWriteError: once a write fails (the peer is gone), later
// Writes fail too, and the connection is closed, which ends a read.
func TestH2ConnWriteError(t *testing.T) {
	server, client := tlsConnPair(t)
	hc := newH2Conn(server, new(h2Bufs))
	defer hc.Close()
	readDone := make(chan error, 1)
	go func() {
		_, err := hc.Read(make([]byte, 1))
		readDone <- err
	}()
	// Reset the client's side: the server's writes then fail.
	if tc, ok := client.NetConn().(*net.TCPConn); ok {
		_ = tc.SetLinger(0)
	}
	client.NetConn().Close()
	deadline := time.Now().Add(10 * time.Second)
	var err error
	for err == nil && time.Now().Before(deadline) {
		_, err = hc.Write(bytes.Repeat([]byte("x"), 1024))
		if err == nil {
			// Give the flusher its turn to write (and fail).
			_, err = hc.writeThrough(nil)
		}
	}
	if err == nil {
		t.Fatal("writes to a reset connection kept succeeding")
	}
	if _, err2 := hc.Write([]byte("y")); err2 == nil {
		t.Fatal("a write after the failed one succeeded")
	}
	if rerr := WaitFor(t, readDone, "the pending read to end after the write error"); rerr == nil {
		t.Fatal("the pending read ended without an error")
	}
}

// TestH2ConnCloseNotStuck: Close returns even when the peer reads nothing
// and a write is blocked, after at most closeFlush.
func TestH2ConnCloseNotStuck(t *testing.T) {
	server, client := tlsConnPair(t)
	// Small socket buffers: a 4 MiB write cannot complete unread.
	_ = server.NetConn().(*net.TCPConn).SetWriteBuffer(4 << 10)
	_ = client.NetConn().(*net.TCPConn).SetReadBuffer(4 << 10)
	hc := newH2Conn(server, new(h2Bufs))
	hc.closeFlush = 50 * time.Millisecond
	writing := make(chan error, 1)
	go func() {
		_, err := hc.Write(bytes.Repeat([]byte("b"), 4<<20)) // written through
		writing <- err
	}()
	// Wait until the write holds wmu (it is writing, and blocks there).
	deadline := time.Now().Add(10 * time.Second)
	for hc.wmu.TryLock() {
		hc.wmu.Unlock()
		if time.Now().After(deadline) {
			t.Fatal("the write never started")
		}
		runtime.Gosched()
	}
	closed := make(chan error, 1)
	go func() { closed <- hc.Close() }()
	WaitFor(t, closed, "Close to return with the peer not reading")
	if err := WaitFor(t, writing, "the blocked write to end after Close"); err == nil {
		t.Fatal("the blocked write succeeded")
	}
}

// loopbackListener listens on an ephemeral loopback port until the test
// ends.
func loopbackListener(t *testing.T) net.Listener {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ln.Close() })
	return ln
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

// TestH2ConnIdleHoldsNoBuffer: once what a connection kept is sent, its
// buffer is back in the pool: an idle connection holds none.
func TestH2ConnIdleHoldsNoBuffer(t *testing.T) {
	server, client := tlsConnPair(t)
	hc := newH2Conn(server, new(h2Bufs))
	defer hc.Close()
	// Several rounds: a buffer kept from one round for the next would show
	// from the second on.
	for range 3 {
		if _, err := hc.Write([]byte("frame")); err != nil {
			t.Fatal(err)
		}
		got := make([]byte, len("frame"))
		if _, err := io.ReadFull(client, got); err != nil || string(got) != "frame" {
			t.Fatalf("read %q, %v", got, err)
		}
	}
	// The client has the bytes: the flusher sent them. It gives the buffer
	// back just after the write returns.
	deadline := time.Now().Add(10 * time.Second)
	for {
		hc.wmu.Lock() // the flusher holds it until the buffer is back
		hc.mu.Lock()
		held := hc.pending != nil
		hc.mu.Unlock()
		hc.wmu.Unlock()
		if !held {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("an idle connection still holds a buffer")
		}
		runtime.Gosched()
	}
}
