package alb

import (
	"bufio"
	"fmt"
	"io"
	"net"
	"net/http"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/kumo-dev/kumo/internal/model"
)

// TestIdleTimer: activity keeps the timer from calling its function; once
// nothing moves, it calls it no sooner than the timeout after the last
// activity; after stop it does not call it.
func TestIdleTimer(t *testing.T) {
	const timeout = 200 * time.Millisecond
	var fired atomic.Int64 // unix nanos of the call
	it := newIdleTimer(timeout, func() { fired.Store(time.Now().UnixNano()) })
	defer it.stop()
	var last time.Time
	for end := time.Now().Add(3 * timeout); time.Now().Before(end); time.Sleep(timeout / 10) {
		last = time.Now()
		it.touch()
		if fired.Load() != 0 {
			t.Fatal("called while there was activity")
		}
	}
	for deadline := time.Now().Add(10 * time.Second); fired.Load() == 0; time.Sleep(time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatal("never called once activity stopped")
		}
	}
	if after := time.Unix(0, fired.Load()).Sub(last); after < timeout {
		t.Fatalf("called %v after the last activity, before the %v timeout", after, timeout)
	}

	stopped := make(chan struct{}, 1)
	it2 := newIdleTimer(timeout, func() { stopped <- struct{}{} })
	it2.stop()
	// A timer that was stopped is not in the runtime's heap: firing it by
	// hand (as a late timer would) must not call the function either.
	it2.fire()
	select {
	case <-stopped:
		t.Fatal("called after stop")
	default:
	}
}

// TestTargetTrickleOutlivesIdleTimeout: a target that sends its body
// slowly, each byte well within the idle timeout but the whole longer
// than it, gets the whole body to the client (bytes moving is activity).
func TestTargetTrickleOutlivesIdleTimeout(t *testing.T) {
	const idle = 300 * time.Millisecond
	const n = 6
	local := rawTarget(t, func(c net.Conn) {
		if _, err := http.ReadRequest(bufio.NewReader(c)); err != nil {
			return
		}
		if _, err := fmt.Fprintf(c, "HTTP/1.1 200 OK\r\nContent-Length: %d\r\n\r\n", n); err != nil {
			return
		}
		for range n {
			time.Sleep(idle / 4) // the trickle itself
			if _, err := io.WriteString(c, "x"); err != nil {
				return
			}
		}
	})
	tg := mkTG("alb-tg", &model.Target{ID: "10.0.4.254", Addr: "10.0.4.254:80", Local: local})
	tg.HealthCheck.Enabled = false
	l := httpListener(80, forward(tg))
	ru := start(t, Config{LB: loadBalancer(l), idleTimeout: idle})
	resp, body := get(t, noRedirectClient(), "http://"+ru.addrs[l]+"/trickle", nil)
	if resp.StatusCode != 200 || body != strings.Repeat("x", n) {
		t.Fatalf("status %d, body %q; want 200 and %d bytes", resp.StatusCode, body, n)
	}
}
