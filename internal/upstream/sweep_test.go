package upstream

import (
	"io"
	"net"
	"testing"
	"time"
)

// TestSweepIdle: the pool's sweep closes the connections idle for the idle
// timeout, keeps the others, and comes again when the first of those
// reaches it.
func TestSweepIdle(t *testing.T) {
	tr := &Transport{IdleTimeout: 100 * time.Millisecond}
	now := time.Now()
	type idleConn struct {
		pc   *pconn
		peer net.Conn
	}
	mk := func(addr string, idleFor time.Duration) idleConn {
		c, peer := net.Pipe()
		t.Cleanup(func() { c.Close(); peer.Close() })
		pc := &pconn{t: tr, addr: addr, conn: c, idleAt: now.Add(-idleFor)}
		return idleConn{pc, peer}
	}
	x1, x2, y1 := mk("x", 150*time.Millisecond), mk("x", 40*time.Millisecond), mk("y", 120*time.Millisecond)
	closed := func(ic idleConn) bool {
		_ = ic.peer.SetReadDeadline(time.Now().Add(time.Millisecond))
		_, err := ic.peer.Read(make([]byte, 1))
		return err == io.EOF
	}
	tr.mu.Lock()
	tr.idle = map[string][]*pconn{"x": {x1.pc, x2.pc}, "y": {y1.pc}}
	tr.sweeping = true
	tr.sweep = time.AfterFunc(time.Hour, tr.sweepIdle)
	tr.mu.Unlock()
	defer tr.sweep.Stop()

	tr.sweepIdle()
	if !closed(x1) || !closed(y1) {
		t.Fatal("a connection idle past the timeout is open")
	}
	if closed(x2) {
		t.Fatal("a connection idle for less than the timeout was closed")
	}
	tr.mu.Lock()
	if got := tr.idle["x"]; len(got) != 1 || got[0] != x2.pc || len(tr.idle) != 1 || !tr.sweeping {
		t.Fatalf("after the sweep: %v, sweeping %v", tr.idle, tr.sweeping)
	}
	tr.mu.Unlock()
	for deadline := time.Now().Add(10 * time.Second); !closed(x2); {
		if time.Now().After(deadline) {
			t.Fatal("the sweep did not come again for the connection left idle")
		}
	}
	tr.mu.Lock()
	defer tr.mu.Unlock()
	if len(tr.idle) != 0 || tr.sweeping {
		t.Fatalf("after the last sweep: %v, sweeping %v", tr.idle, tr.sweeping)
	}
}
