package edge

import (
	"context"
	"io"
	"net/http"
	"sync"
	"testing"
	"time"

	"github.com/kumo-dev/kumo/internal/model"
)

// gate is an origin handler that blocks every request until released.
type gate struct {
	release chan struct{}
	once    sync.Once
}

func newGate() *gate { return &gate{release: make(chan struct{})} }

func (g *gate) open() { g.once.Do(func() { close(g.release) }) }

// waitFor polls cond until it holds or 10 s passed.
func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(2 * time.Millisecond)
	}
}

// waiters is the number of requests waiting on flights of the edge.
func (ev *env) waiters() int {
	g := &ev.edge.flights
	g.mu.Lock()
	defer g.mu.Unlock()
	n := 0
	for _, f := range g.m {
		n += int(f.waiters.Load())
	}
	return n
}

func TestRequestCollapsing(t *testing.T) {
	g := newGate()
	t.Cleanup(g.open)
	org := startOrigin(t, func(w http.ResponseWriter, r *http.Request) {
		<-g.release
		w.Header().Set("Cache-Control", "max-age=600")
		_, _ = w.Write([]byte("collapsed"))
	}, nil)
	ev := newEnv(t, nil, testStack(testOrigin("origin.example.com", model.OriginHTTPOnly), policyBehavior(CachingOptimizedID, "")))
	ev.res.Set("origin.example.com", org.addr)
	const n = 5
	results := make(chan result, n)
	for range n {
		go func() {
			c := ev.client(true, false)
			results <- ev.do(c, "GET", "https://"+testDomain+"/c", nil)
		}()
	}
	waitFor(t, "one origin request and the other viewers waiting", func() bool {
		return org.hits.Load() == 1 && ev.waiters() == n-1
	})
	g.open()
	counts := map[string]int{}
	for range n {
		r := <-results
		if r.status != 200 || string(r.body) != "collapsed" {
			t.Errorf("response %d %q", r.status, r.body)
		}
		rec := ev.logs.wait(t, r.rid)
		counts[rec.ResultType]++
		if r.header.Get("X-Cache") != map[string]string{"Miss": xCacheMiss, "Hit": xCacheHit}[rec.ResultType] {
			t.Errorf("X-Cache %q with result %s", r.header.Get("X-Cache"), rec.ResultType)
		}
	}
	if counts["Miss"] != 1 || counts["Hit"] != n-1 {
		t.Errorf("results %v, want 1 Miss and %d Hit", counts, n-1)
	}
	if got := org.hits.Load(); got != 1 {
		t.Errorf("origin hits = %d, want 1", got)
	}
}

// TestNoCollapsingWhenNotCacheable: with MinTTL 0 a no-store response is not
// stored, so the waiters go to the origin themselves; with cookies forwarded
// requests never wait.
func TestNoCollapsingWhenNotCacheable(t *testing.T) {
	for _, tc := range []struct {
		name        string
		beh         *model.CacheBehavior
		cc          string
		wantWaiters int
	}{
		{"no-store with MinTTL 0", legacyBehavior(0, 0, 1000, "none"), "no-store", 2},
		{"max-age=0 with MinTTL 0", legacyBehavior(0, 100, 1000, "none"), "max-age=0", 2},
		{"cookies forwarded", legacyBehavior(0, 100, 1000, "all"), "max-age=600", 0},
	} {
		t.Run(tc.name, func(t *testing.T) {
			g := newGate()
			t.Cleanup(g.open)
			org := startOrigin(t, func(w http.ResponseWriter, r *http.Request) {
				<-g.release
				w.Header().Set("Cache-Control", tc.cc)
				_, _ = w.Write([]byte("x"))
			}, nil)
			ev := newEnv(t, nil, testStack(testOrigin("origin.example.com", model.OriginHTTPOnly), tc.beh))
			ev.res.Set("origin.example.com", org.addr)
			const n = 3
			results := make(chan result, n)
			for range n {
				go func() { results <- ev.do(ev.client(true, false), "GET", "https://"+testDomain+"/nc", nil) }()
			}
			waitFor(t, "viewers at the edge", func() bool {
				return int(org.hits.Load())+ev.waiters() == n && ev.waiters() == tc.wantWaiters
			})
			g.open()
			misses := 0
			for range n {
				r := <-results
				if rec := ev.logs.wait(t, r.rid); rec.ResultType == "Miss" {
					misses++
				}
			}
			if got := org.hits.Load(); got != n || misses != n {
				t.Errorf("origin hits %d, misses %d; want %d each", got, misses, n)
			}
		})
	}
}

// TestCollapsedLeaderDisconnect: the viewer whose request leads the fetch
// goes away; the fetch goes on for the waiting viewer.
func TestCollapsedLeaderDisconnect(t *testing.T) {
	g := newGate()
	t.Cleanup(g.open)
	org := startOrigin(t, func(w http.ResponseWriter, r *http.Request) {
		<-g.release
		w.Header().Set("Cache-Control", "max-age=600")
		_, _ = w.Write([]byte("survives"))
	}, nil)
	ev := newEnv(t, nil, testStack(testOrigin("origin.example.com", model.OriginHTTPOnly), policyBehavior(CachingOptimizedID, "")))
	ev.res.Set("origin.example.com", org.addr)
	url := "https://" + testDomain + "/d"
	ctx, cancel := context.WithCancel(context.Background())
	leaderDone := make(chan error, 1)
	go func() {
		req, _ := http.NewRequestWithContext(ctx, "GET", url, nil)
		resp, err := ev.client(true, false).Do(req)
		if err == nil {
			_, _ = io.Copy(io.Discard, resp.Body)
			resp.Body.Close()
		}
		leaderDone <- err
	}()
	waitFor(t, "the leader's origin request", func() bool { return org.hits.Load() == 1 })
	waiter := make(chan result, 1)
	go func() { waiter <- ev.do(ev.client(true, false), "GET", url, nil) }()
	waitFor(t, "the waiter", func() bool { return ev.waiters() == 1 })
	cancel()
	if err := <-leaderDone; err == nil {
		t.Fatal("leader request succeeded")
	}
	g.open()
	r := <-waiter
	if r.status != 200 || string(r.body) != "survives" || r.header.Get("X-Cache") != xCacheHit {
		t.Fatalf("waiter: %d %q %s", r.status, r.body, r.header.Get("X-Cache"))
	}
	if org.hits.Load() != 1 {
		t.Errorf("origin hits = %d, want 1", org.hits.Load())
	}
	if r := ev.do(ev.client(true, false), "GET", url, nil); r.header.Get("X-Cache") != xCacheHit {
		t.Errorf("object not cached after the leader left: %s", r.header.Get("X-Cache"))
	}
}
