package alb

import (
	"sync/atomic"
	"time"
)

// idleTimer calls its function when nothing moved for the timeout: the
// load balancer's idle timeout over one exchange with a target, or over a
// WebSocket relay (alb.md §2.4). Activity (touch) only records the time on
// the monotonic clock; the timer, when it fires, looks at that time and
// waits again for the rest. An exchange that moves bytes thus pays no
// timer reset per read, only one timer for its whole life.
type idleTimer struct {
	timeout time.Duration
	start   time.Time    // the monotonic origin of last
	last    atomic.Int64 // nanoseconds from start to the last activity
	stopped atomic.Bool
	fn      func()
	// t is the timer; atomic because fire, on the timer's goroutine, may
	// in principle run before begin has stored it.
	t atomic.Pointer[time.Timer]
}

// newIdleTimer starts an idle timer that calls fn after timeout without
// activity, unless stopped first.
func newIdleTimer(timeout time.Duration, fn func()) *idleTimer {
	it := new(idleTimer)
	it.begin(timeout, fn)
	return it
}

// begin starts the zero idleTimer it (one kept in a larger struct, which
// spares an allocation), as newIdleTimer does.
func (it *idleTimer) begin(timeout time.Duration, fn func()) {
	it.timeout, it.start, it.fn = timeout, time.Now(), fn
	it.t.Store(time.AfterFunc(timeout, it.fire))
}

// touch records activity now: the timeout counts again from here.
func (it *idleTimer) touch() { it.last.Store(int64(time.Since(it.start))) }

// stop stops the timer: fn is not called after stop returns, unless it
// had started already.
func (it *idleTimer) stop() {
	it.stopped.Store(true)
	it.t.Load().Stop()
}

// fire calls fn if the timeout passed since the last activity, and waits
// for the rest otherwise.
func (it *idleTimer) fire() {
	if it.stopped.Load() {
		return
	}
	if idle := time.Since(it.start) - time.Duration(it.last.Load()); idle < it.timeout {
		if t := it.t.Load(); t != nil {
			t.Reset(it.timeout - idle)
			return
		}
	}
	it.fn()
}
