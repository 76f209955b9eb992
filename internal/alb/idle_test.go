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

// TestIdleSweep: the target's one sweep timer ends an exchange in flight
// that moved nothing for its idle timeout, no sooner, and not one that
// keeps moving or is relaying a WebSocket; with nothing left to watch it
// disarms, and the next exchange tracked arms it again.
func TestIdleSweep(t *testing.T) {
	const timeout = 100 * time.Millisecond
	var x targetExt
	track := func() *exchange {
		ex := &exchange{idleTimeout: timeout}
		ex.moved.begin(time.Now())
		if !x.track(ex) {
			t.Fatal("track refused an exchange")
		}
		return ex
	}
	ended := func(ex *exchange) bool { return ex.abort.Cause() != nil }
	// waitEnd touches each of moving until ex ends, and says when it did
	// and when it last touched them (at most when they last moved).
	var lastTouch time.Time
	waitEnd := func(ex *exchange, moving ...*exchange) time.Time {
		t.Helper()
		for deadline := time.Now().Add(10 * time.Second); !ended(ex); time.Sleep(timeout / 20) {
			if time.Now().After(deadline) {
				t.Fatal("an idle exchange was never ended")
			}
			lastTouch = time.Now()
			for _, m := range moving {
				m.moved.touch()
			}
		}
		return time.Now()
	}

	start := time.Now()
	idle, busy, relay := track(), track(), track()
	relay.relaying.Store(true)
	if at := waitEnd(idle, busy); at.Sub(start) < timeout {
		t.Fatalf("ended after %v, before the idle timeout", at.Sub(start))
	}
	if cause := idle.abort.Cause(); cause != errIdleTimeout {
		t.Fatalf("ended for %v, want the idle timeout", cause)
	}
	if ended(busy) || ended(relay) {
		t.Fatal("an exchange that moved, or a relay, was ended")
	}
	stopped := lastTouch
	if at := waitEnd(busy); at.Sub(stopped) < timeout {
		t.Fatalf("the busy exchange ended %v after it last moved, before the idle timeout", at.Sub(stopped))
	}
	for _, ex := range []*exchange{idle, busy, relay} {
		x.untrack(ex)
	}
	for deadline := time.Now().Add(10 * time.Second); ; time.Sleep(timeout / 20) {
		x.drainMu.Lock()
		swept := x.swept
		x.drainMu.Unlock()
		if !swept {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("the sweep stayed armed with nothing in flight")
		}
	}
	if ended(relay) {
		t.Fatal("the relay was ended")
	}
	again := track()
	waitEnd(again)
	x.untrack(again)
}
