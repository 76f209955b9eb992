package alb

import (
	"sync/atomic"
	"time"
)

// activity is when bytes last moved, for an idle timeout (alb.md §2.4):
// touch only records the time on the monotonic clock, and whoever enforces
// the timeout (idleTimer, or the target's idle sweep for an exchange,
// targetExt.sweepIdle) looks at it when its timer fires.
type activity struct {
	start time.Time    // the monotonic origin of last
	last  atomic.Int64 // nanoseconds from start to the last activity
}

// begin starts counting from now (the zero activity, or one reused).
func (a *activity) begin(now time.Time) {
	a.start = now
	a.last.Store(0)
}

// touch records activity now: the timeout counts again from here.
func (a *activity) touch() { a.last.Store(int64(time.Since(a.start))) }

// idleFor is how long nothing has moved, at now.
func (a *activity) idleFor(now time.Time) time.Duration {
	return now.Sub(a.start) - time.Duration(a.last.Load())
}

// idleTimer calls its function when nothing moved for the timeout: the
// load balancer's idle timeout over a WebSocket relay (alb.md §2.4). The
// timer, when it fires, looks at the activity and waits again for the
// rest, so a relay that moves bytes pays no timer reset per read.
type idleTimer struct {
	activity
	timeout time.Duration
	stopped atomic.Bool
	fn      func()
	// t is the timer; atomic because fire, on the timer's goroutine, may
	// in principle run before begin has stored it.
	t atomic.Pointer[time.Timer]
}

// newIdleTimer starts an idle timer that calls fn after timeout without
// activity, unless stopped first.
func newIdleTimer(timeout time.Duration, fn func()) *idleTimer {
	it := &idleTimer{timeout: timeout, fn: fn}
	it.activity.begin(time.Now())
	it.t.Store(time.AfterFunc(timeout, it.fire))
	return it
}

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
	if idle := it.idleFor(time.Now()); idle < it.timeout {
		if t := it.t.Load(); t != nil {
			t.Reset(it.timeout - idle)
			return
		}
	}
	it.fn()
}
