package edge

import (
	"io"
	"log"
	"net"
	"net/http"
	"sync"
	"testing"
	"time"

	"github.com/kumo-dev/kumo/internal/model"
)

// TestOriginKeepalive implements cloudfront.md §3.8: consecutive origin
// requests reuse one idle connection, and the edge closes it once it has
// been idle for OriginKeepaliveTimeout; the next request opens a new one.
func TestOriginKeepalive(t *testing.T) {
	var mu sync.Mutex
	states := map[net.Conn]http.ConnState{}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	srv := &http.Server{
		Handler:     http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { _, _ = w.Write([]byte("ok")) }),
		IdleTimeout: time.Hour, // the origin would keep it: only the edge may close it
		ErrorLog:    log.New(io.Discard, "", 0),
		ConnState: func(c net.Conn, s http.ConnState) {
			mu.Lock()
			states[c] = s
			mu.Unlock()
		},
	}
	go func() { _ = srv.Serve(ln) }()
	t.Cleanup(func() { _ = srv.Close() })
	count := func() (conns, closed int) {
		mu.Lock()
		defer mu.Unlock()
		for _, s := range states {
			conns++
			if s == http.StateClosed {
				closed++
			}
		}
		return
	}
	o := testOrigin("origin.example.com", model.OriginHTTPOnly)
	o.Custom.KeepaliveTimeout = time.Second
	ev := newEnv(t, nil, testStack(o, policyBehavior(CachingDisabledID, "")))
	ev.res.Set("origin.example.com", ln.Addr().String())
	c := ev.client(false, false)
	for i := 0; i < 3; i++ {
		if r := ev.do(c, http.MethodGet, "http://"+testDomain+"/k", nil); r.status != 200 {
			t.Fatalf("status %d", r.status)
		}
	}
	if conns, _ := count(); conns != 1 {
		t.Fatalf("3 requests used %d origin connections, want 1 (keep-alive)", conns)
	}
	deadline := time.Now().Add(10 * time.Second)
	for {
		if _, closed := count(); closed == 1 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("the idle origin connection was not closed after OriginKeepaliveTimeout")
		}
		time.Sleep(20 * time.Millisecond)
	}
	if r := ev.do(c, http.MethodGet, "http://"+testDomain+"/k", nil); r.status != 200 {
		t.Fatalf("status %d", r.status)
	}
	if conns, _ := count(); conns != 2 {
		t.Errorf("after the keep-alive timeout: %d connections, want 2", conns)
	}
}
