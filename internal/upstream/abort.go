package upstream

import (
	"context"
	"fmt"
	"net"
	"net/http"
	"sync"
)

// Abort cuts an exchange (a round trip and the reading of its body) off
// from outside, as the end of a context derived from the request's would,
// without the derived context: a caller with several reasons to end an
// exchange (timers, other contexts) calls Abort with each reason instead
// of cancelling a context made for the purpose, and the round trip closes
// its connection. The request's own context still ends the exchange, its
// end recorded in the Abort as one more reason. The first reason wins.
//
// The zero value is ready for use. An Abort serves one exchange; it is
// safe for concurrent use.
type Abort struct {
	mu    sync.Mutex
	cause error
	// closeFn cuts off the exchange in flight: closes its connection, or
	// cancels its dial; nil between them and after it.
	closeFn func()
}

// Abort ends the exchange with cause (context.Canceled if nil) unless it
// has ended already, closing the connection in flight; a round trip not
// yet started fails at once. It reports whether cause is the one recorded.
func (a *Abort) Abort(cause error) bool {
	if cause == nil {
		cause = context.Canceled
	}
	a.mu.Lock()
	if a.cause != nil {
		a.mu.Unlock()
		return false
	}
	a.cause = cause
	f := a.closeFn
	a.closeFn = nil
	a.mu.Unlock()
	if f != nil {
		f()
	}
	return true
}

// Cause is the reason the exchange was aborted with, or nil.
func (a *Abort) Cause() error {
	a.mu.Lock()
	defer a.mu.Unlock()
	return a.cause
}

// attach makes f what Abort calls. It reports false, not calling f, when
// the exchange was aborted already.
func (a *Abort) attach(f func()) bool {
	a.mu.Lock()
	defer a.mu.Unlock()
	if a.cause != nil {
		return false
	}
	a.closeFn = f
	return true
}

// detach undoes attach. It reports whether the exchange is still whole:
// false when it was aborted (and what was attached then, called).
func (a *Abort) detach() bool {
	a.mu.Lock()
	defer a.mu.Unlock()
	a.closeFn = nil
	return a.cause == nil
}

// RoundTripAbortable is RoundTripObserved for an exchange that a can cut
// off (a nil a: RoundTripObserved). An error of a round trip aborted
// wraps the Abort's cause.
func (t *Transport) RoundTripAbortable(req *http.Request, o Observer, a *Abort) (*http.Response, error) {
	return t.roundTrip(req, o, a)
}

// watch makes the end of ctx end the exchange: the returned stop, called
// when the exchange is over, reports false if ctx ended first (and closed
// the connection). With an Abort, ctx's end is recorded in it as one more
// reason; without, it closes the connection.
func watch(ctx context.Context, pc *pconn, a *Abort) (stop func() bool) {
	if ctx.Done() == nil {
		return noStop
	}
	if a == nil {
		return context.AfterFunc(ctx, pc.closeConn)
	}
	return context.AfterFunc(ctx, func() { a.Abort(context.Cause(ctx)) })
}

// noStop is the stop function of a round trip whose context never ends.
func noStop() bool { return true }

// dialAbortable is t.Dial with a context a can cancel too.
func (t *Transport) dialAbortable(ctx context.Context, addr string, a *Abort) (c net.Conn, err error) {
	if a == nil {
		return t.Dial(ctx, "tcp", addr)
	}
	dctx, cancel := context.WithCancelCause(ctx)
	defer cancel(nil)
	if !a.attach(func() { cancel(a.Cause()) }) {
		cancel(a.Cause())
	}
	c, err = t.Dial(dctx, "tcp", addr)
	a.detach()
	return c, err
}

// ended is err wrapped with the reason the exchange was cut off, or nil
// when it was not (the error is the round trip's own).
func ended(ctx context.Context, a *Abort, err error) error {
	if a != nil {
		if cause := a.Cause(); cause != nil {
			return fmt.Errorf("upstream: %w (%w)", cause, err)
		}
	}
	if ctx.Err() != nil {
		return fmt.Errorf("upstream: %w (%w)", context.Cause(ctx), err)
	}
	return nil
}
