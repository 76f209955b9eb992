package edge

import (
	"context"
	"net/http"
	"sync"
	"sync/atomic"
)

// flight is an origin fetch in progress that requests for the same cache
// key wait for (cloudfront.md §4.8).
type flight struct {
	done    chan struct{}
	waiters atomic.Int32
}

// hasWaiters reports whether requests are waiting for the flight (false for
// no flight).
func (f *flight) hasWaiters() bool { return f != nil && f.waiters.Load() > 0 }

// flightKey names a flight: the distribution's partition and the key.
type flightKey struct {
	d   *distribution
	key string
}

// flightGroup holds an edge's flights.
type flightGroup struct {
	mu sync.Mutex
	m  map[flightKey]*flight
}

// lead registers a new flight for key and reports true, or returns the
// flight in progress and false.
func (g *flightGroup) lead(d *distribution, key string) (*flight, bool) {
	g.mu.Lock()
	defer g.mu.Unlock()
	k := flightKey{d, key}
	if f, ok := g.m[k]; ok {
		return f, false
	}
	if g.m == nil {
		g.m = map[flightKey]*flight{}
	}
	f := &flight{done: make(chan struct{})}
	g.m[k] = f
	return f, true
}

// join returns the flight in progress for key with the caller counted as a
// waiter, or nil.
func (g *flightGroup) join(d *distribution, key string) *flight {
	g.mu.Lock()
	defer g.mu.Unlock()
	f, ok := g.m[flightKey{d, key}]
	if !ok {
		return nil
	}
	f.waiters.Add(1)
	return f
}

// land ends a flight: its waiters wake up.
func (g *flightGroup) land(d *distribution, key string, f *flight) {
	g.mu.Lock()
	if g.m[flightKey{d, key}] == f {
		delete(g.m, flightKey{d, key})
	}
	g.mu.Unlock()
	close(f.done)
}

// collapses implements the exclusions of cloudfront.md §4.8: requests are
// not collapsed when caching is disabled (the caller only collapses
// cacheable requests) or when the behavior forwards cookies. Responses that
// turn out not to be cacheable (MinTTL 0 with private, no-store, no-cache,
// max-age=0 or s-maxage=0) are not stored, so their waiters go to the
// origin themselves.
func (t *txn) collapses() bool {
	return t.beh.fwdCookies.mode == selectNone
}

// collapse implements request collapsing (cloudfront.md §4.8): a cacheable
// GET miss with no fetch in flight for its key leads one; a request that
// finds one in flight waits for it and is answered from the object it
// stored (logged Hit), or, when nothing usable was stored, fetches for
// itself. It reports whether it answered the request; false means "fetch
// without collapsing".
func (t *txn) collapse(p string) bool {
	t.needsOrigin()
	if !t.collapses() {
		return false
	}
	r := t.r
	leads := r.Method == http.MethodGet && r.Header.Get("Range") == ""
	if !leads {
		if f := t.e.flights.join(t.d, t.c.key); f != nil {
			return t.wait(p, f)
		}
		return false
	}
	f, leader := t.e.flights.lead(t.d, t.c.key)
	if !leader {
		f.waiters.Add(1)
		return t.wait(p, f)
	}
	defer t.e.flights.land(t.d, t.c.key, f)
	t.c.flight = f
	t.fetch(p, t.c.key, true)
	return true
}

// wait waits for a flight as one of its waiters, then answers from the
// cache or fetches itself.
func (t *txn) wait(p string, f *flight) bool {
	select {
	case <-f.done:
		f.waiters.Add(-1)
	case <-t.r.Context().Done():
		f.waiters.Add(-1)
		t.fail(ReasonViewerGone, t.r.Context().Err())
		return true
	}
	t.c.stale = nil
	if ent, ok := t.getVariant(); ok {
		if t.freshness(ent) == stateFresh {
			t.serveHit(ent)
			return true
		}
		t.c.stale = ent
	}
	t.fetch(p, t.c.key, true)
	return true
}

// originContext is the context of the origin fetch: the viewer's, except
// for the leader of a collapsed fetch, whose fetch goes on after its own
// viewer went away as long as other requests wait for it (a viewer's
// disconnect never cancels a shared fetch).
func (t *txn) originContext() (context.Context, func()) {
	f := t.c.flight
	if f == nil || t.c.background {
		return t.r.Context(), func() {}
	}
	ctx, cancel := context.WithCancel(context.WithoutCancel(t.r.Context()))
	stop := context.AfterFunc(t.r.Context(), func() {
		if !f.hasWaiters() {
			cancel()
		}
	})
	return ctx, func() { stop(); cancel() }
}
