package edge

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/kumo-dev/kumo/internal/model"
	"github.com/kumo-dev/kumo/internal/serve"
)

// TestCacheMemoryBound: two distributions share one edge-wide budget;
// writing far more distinct objects than fit through real sockets keeps the
// store's accounted bytes within Config.CacheBytes after every response,
// and a frequently requested object stays cached (W-TinyLFU).
func TestCacheMemoryBound(t *testing.T) {
	const budget = 128 << 10
	body := strings.Repeat("b", 2000)
	org := startOrigin(t, okHandler(body, "max-age=3600"), nil)
	ca := newCA(t)
	res := &testResolver{addrs: map[string]string{"origin.example.com": org.addr}}
	stack := testStack(testOrigin("origin.example.com", model.OriginHTTPOnly), policyBehavior(CachingOptimizedID, ""))
	second := *stack.Distributions[0]
	second.ID, second.LogicalID, second.DomainName = "E2SECOND", "Dist2", "d222222abcdef8.cloudfront.net"
	stack.Distributions = append(stack.Distributions, &second)
	e, err := New(Config{Stack: stack, Certs: ca, Resolver: res, OriginRoots: ca.Pool(), CacheBytes: budget,
		Logger: slog.New(slog.NewTextHandler(io.Discard, nil))}, nil)
	if err != nil {
		t.Fatal(err)
	}
	srv, err := serve.Listen("127.0.0.1:0", e.Plane(false), serve.Options{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		_ = srv.Shutdown(ctx)
		e.Close()
	})
	c := &http.Client{}
	get := func(host, p string) string {
		req, _ := http.NewRequest("GET", "http://"+srv.Addr()+p, nil)
		req.Host = host
		resp, err := c.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		if b, _ := io.ReadAll(resp.Body); len(b) != len(body) {
			t.Fatalf("%s%s: %d bytes", host, p, len(b))
		}
		return resp.Header.Get("X-Cache")
	}
	get(testDomain, "/hot")
	const objects = 400 // ~800 KB, over six times the budget
	for i := range objects {
		for range 2 {
			get(testDomain, "/hot")
		}
		get([]string{testDomain, second.DomainName}[i%2], fmt.Sprintf("/obj/%d", i))
		if n := e.store.Bytes(); n > budget {
			t.Fatalf("after %d objects the store accounts %d bytes, budget %d", i+1, n, budget)
		}
	}
	if n := e.store.Bytes(); n < budget/2 {
		t.Errorf("store holds only %d bytes of %d", n, budget)
	}
	if d0, d1 := e.dists[0].store.Len(), e.dists[1].store.Len(); d0 == 0 || d1 == 0 {
		t.Errorf("per-distribution entries %d and %d: the budget is not shared", d0, d1)
	}
	if x := get(testDomain, "/hot"); x != xCacheHit {
		t.Errorf("hot object: %s", x)
	}
	if got := int64(DefaultCacheBytes); got != 256<<20 {
		t.Errorf("DefaultCacheBytes = %d", got)
	}
}

// TestReloadDropsReplacedDistributionCache: the objects of a distribution
// that a reload replaced are dropped when the old edge closes; an unchanged
// one keeps its objects.
func TestReloadDropsReplacedDistributionCache(t *testing.T) {
	org := startOrigin(t, okHandler("v", "max-age=600"), nil)
	stack := testStack(testOrigin("origin.example.com", model.OriginHTTPOnly), policyBehavior(CachingOptimizedID, ""))
	ev := newEnv(t, nil, stack)
	ev.res.Set("origin.example.com", org.addr)
	ev.do(ev.client(true, false), "GET", "https://"+testDomain+"/k", nil)
	old := ev.edge
	same, err := New(old.cfg, old)
	if err != nil {
		t.Fatal(err)
	}
	old.Close()
	if same.store != old.store || same.dists[0].store.Len() != 1 {
		t.Fatalf("unchanged reload lost the cache (%d entries)", same.dists[0].store.Len())
	}
	changed := *stack.Distributions[0]
	changed.Comment = "changed"
	cfg := same.cfg
	cfg.Stack = &model.Stack{Distributions: []*model.Distribution{&changed}}
	next, err := New(cfg, same)
	if err != nil {
		t.Fatal(err)
	}
	same.Close()
	if next.store.Len() != 0 {
		t.Errorf("replaced distribution's objects still stored: %d", next.store.Len())
	}
	next.Close()
}
