package alb

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"
)

// TestRecycledExchangesKeepRequestsApart: exchanges are recycled from one
// request to the next (newExchange), so many keep-alive clients at once,
// among them clients that go away mid-request (460), must each get their
// own response and their own access-log record, with nothing carried over
// from the request the exchange served before.
func TestRecycledExchangesKeepRequestsApart(t *testing.T) {
	arrived := make(chan struct{}, 1)
	be := newBackend(t, "A", func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/wait" {
			arrived <- struct{}{}
			<-r.Context().Done()
			return
		}
		w.Header().Set("X-Path", r.URL.Path)
		_, _ = io.WriteString(w, r.URL.Path)
	})
	tg := mkTG("alb-tg", be.target("10.0.4.254:80"))
	tg.HealthCheck.Enabled = false
	l := httpListener(80, forward(tg))
	ru := start(t, Config{LB: loadBalancer(l)})
	base := "http://" + ru.addrs[l]

	const clients, each, gone = 6, 40, 5
	var wg sync.WaitGroup
	errs := make(chan error, clients+1)
	for c := range clients {
		wg.Add(1)
		go func() {
			defer wg.Done()
			hc := &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: 1}, Timeout: 20 * time.Second}
			defer hc.CloseIdleConnections()
			for i := range each {
				path := fmt.Sprintf("/c%d/r%d", c, i)
				resp, err := hc.Get(base + path)
				if err != nil {
					errs <- err
					return
				}
				body, err := io.ReadAll(resp.Body)
				resp.Body.Close()
				if err != nil || string(body) != path || resp.Header.Get("X-Path") != path {
					errs <- fmt.Errorf("%s: got %q (X-Path %q), %v", path, body, resp.Header.Get("X-Path"), err)
					return
				}
			}
		}()
	}
	wg.Add(1)
	go func() { // clients that go away while their request is at the target
		defer wg.Done()
		for range gone {
			ctx, cancel := context.WithCancel(context.Background())
			req, _ := http.NewRequestWithContext(ctx, http.MethodGet, base+"/wait", nil)
			done := doAsync(req)
			select {
			case <-arrived:
			case <-time.After(10 * time.Second):
				cancel()
				errs <- errors.New("/wait never reached the target")
				return
			}
			cancel()
			if err := <-done; !errors.Is(err, context.Canceled) {
				errs <- fmt.Errorf("/wait: client error %v", err)
				return
			}
		}
	}()
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}

	recs := ru.sink.wait(t, clients*each+gone)
	seen := map[string]bool{}
	waits := 0
	for _, rec := range recs {
		path := strings.TrimSuffix(strings.TrimPrefix(rec.Request, "GET http://127.0.0.1:80"), " HTTP/1.1")
		if path == "/wait" {
			waits++
			if rec.ELBStatus != StatusClientClosed || rec.TargetStatus != 0 || rec.SentBytes != 0 || rec.TargetProcessingTime != notMeasured {
				t.Errorf("/wait record: elb %d target %d sent %d target time %v; want 460, none, 0, -1", rec.ELBStatus, rec.TargetStatus, rec.SentBytes, rec.TargetProcessingTime)
			}
			continue
		}
		if seen[path] {
			t.Errorf("two records for %s", path)
		}
		seen[path] = true
		if rec.ELBStatus != 200 || rec.TargetStatus != 200 || rec.TargetStatusCodeList != "200" || rec.ErrorReason != "" || rec.Target != "10.0.4.254:80" || rec.TargetProcessingTime < 0 {
			t.Errorf("%s record: %+v", path, *rec)
		}
	}
	if len(seen) != clients*each || waits != gone {
		t.Errorf("%d records of distinct requests and %d of /wait; want %d and %d", len(seen), waits, clients*each, gone)
	}
}

type ctxKey struct{}

// TestDetachedCtx: the lean client's context keeps the client's values and
// none of its cancellation, as context.WithoutCancel's does.
func TestDetachedCtx(t *testing.T) {
	parent, cancel := context.WithCancel(context.WithValue(context.Background(), ctxKey{}, "v"))
	cancel()
	d := &detachedCtx{parent: parent}
	if got := d.Value(ctxKey{}); got != "v" {
		t.Errorf("Value = %v, want the parent's", got)
	}
	if d.Done() != nil || d.Err() != nil || context.Cause(d) != nil {
		t.Errorf("Done %v, Err %v, Cause %v: want none, the parent's cancellation is not the exchange's", d.Done(), d.Err(), context.Cause(d))
	}
	if _, ok := d.Deadline(); ok {
		t.Error("a deadline")
	}
}
