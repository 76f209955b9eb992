package alb

import (
	"context"
	"io"
	"net/http"
	"sync"
	"testing"
	"time"

	"github.com/kumo-dev/kumo/internal/model"
	"github.com/kumo-dev/kumo/internal/serve"
)

// TestLeastOutstandingRequests checks least_outstanding_requests (alb.md
// §6.4): while one target holds a request, new requests go to the other.
func TestLeastOutstandingRequests(t *testing.T) {
	release := make(chan struct{})
	arrived := make(chan string, 1)
	h := func(name string) http.HandlerFunc {
		return func(w http.ResponseWriter, r *http.Request) {
			if r.URL.Path == "/hold" {
				arrived <- name
				<-release
			}
			_, _ = io.WriteString(w, name)
		}
	}
	a, b := newBackend(t, "A", h("A")), newBackend(t, "B", h("B"))
	tg := noHealthCheck(mkTG("alb-tg", a.target("10.0.4.1:80"), b.target("10.0.4.2:80")))
	tg.Attributes = map[string]string{"load_balancing.algorithm.type": AlgorithmLeastOutstandingRequests}
	l := httpListener(80, forward(tg))
	ru := start(t, Config{LB: loadBalancer(l)})
	url := "http://" + ru.addrs[l]
	done := make(chan struct{})
	go func() {
		defer close(done)
		resp, err := noRedirectClient().Get(url + "/hold")
		if err == nil {
			resp.Body.Close()
		}
	}()
	busy := <-arrived
	c := noRedirectClient()
	for i := 0; i < 6; i++ {
		if _, got := get(t, c, url+"/", nil); got == busy {
			t.Fatalf("request %d went to %s, which has a request outstanding", i, busy)
		}
	}
	close(release)
	<-done
}

// TestWeightedRandomAlgorithm checks weighted_random (alb.md §6.4): with
// anomaly mitigation off every target is equally likely.
func TestWeightedRandomAlgorithm(t *testing.T) {
	a, b := newBackend(t, "A", nil), newBackend(t, "B", nil)
	tg := noHealthCheck(mkTG("alb-tg", a.target("10.0.4.1:80"), b.target("10.0.4.2:80")))
	tg.Attributes = map[string]string{"load_balancing.algorithm.type": AlgorithmWeightedRandom}
	l := httpListener(80, forward(tg))
	ru := start(t, Config{LB: loadBalancer(l)})
	c := noRedirectClient()
	n := map[string]int{}
	for i := 0; i < 400; i++ {
		_, got := get(t, c, "http://"+ru.addrs[l]+"/", nil)
		n[got]++
	}
	if n["A"] < 140 || n["B"] < 140 {
		t.Fatalf("weighted_random split %v, want about 200 each", n)
	}
	// Random, not round robin: over 400 picks some target repeats in a row.
	if tg := ru.lb.groupList[0]; tg.opts.algorithm != AlgorithmWeightedRandom {
		t.Fatalf("algorithm %q", tg.opts.algorithm)
	}
}

// TestUnhealthyStateRoutingThresholds checks target_group_health.
// unhealthy_state_routing.minimum_healthy_targets (alb.md §2.2): below the
// count or percentage, traffic goes to all targets, unhealthy included;
// with the defaults only a group with no healthy target fails open.
func TestUnhealthyStateRoutingThresholds(t *testing.T) {
	for _, tc := range []struct {
		name     string
		attrs    map[string]string
		failOpen bool
	}{
		{"default count 1", nil, false},
		{"count 3", map[string]string{"target_group_health.unhealthy_state_routing.minimum_healthy_targets.count": "3"}, true},
		{"count 2", map[string]string{"target_group_health.unhealthy_state_routing.minimum_healthy_targets.count": "2"}, false},
		{"percentage 100", map[string]string{"target_group_health.unhealthy_state_routing.minimum_healthy_targets.percentage": "100"}, true},
		{"percentage 60", map[string]string{"target_group_health.unhealthy_state_routing.minimum_healthy_targets.percentage": "60"}, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			a, b, sick := newBackend(t, "A", nil), newBackend(t, "B", nil), newBackend(t, "C", nil)
			sick.hcStatus.Store(503)
			tg := mkTG("alb-tg", a.target("10.0.4.1:80"), b.target("10.0.4.2:80"), sick.target("10.0.4.3:80"))
			tg.Attributes = tc.attrs
			l := httpListener(80, forward(tg))
			ru := start(t, Config{LB: loadBalancer(l)})
			ru.waitState(t, "10.0.4.1:80", StateHealthy)
			ru.waitState(t, "10.0.4.2:80", StateHealthy)
			ru.waitState(t, "10.0.4.3:80", StateUnhealthy)
			c := noRedirectClient()
			for i := 0; i < 9; i++ {
				get(t, c, "http://"+ru.addrs[l]+"/", nil)
			}
			if got := sick.hits.Load() > 0; got != tc.failOpen {
				t.Fatalf("unhealthy target got %d of 9 requests; fail open = %v, want %v", sick.hits.Load(), got, tc.failOpen)
			}
		})
	}
}

// TestSlowStartLinearRamp checks slow start (alb.md §6.5): a target that
// becomes healthy beside a healthy target gets a share that grows linearly
// over slow_start.duration_seconds (weight elapsed/duration), then a full
// share. The load balancer's clock is the test's.
func TestSlowStartLinearRamp(t *testing.T) {
	a, b := newBackend(t, "A", nil), newBackend(t, "B", nil)
	b.hcStatus.Store(500)
	tg := mkTG("alb-tg", a.target("10.0.4.1:80"), b.target("10.0.4.2:80"))
	tg.Attributes = map[string]string{"slow_start.duration_seconds": "30"}
	l := httpListener(80, forward(tg))
	clock := newFixedClock()
	ru := start(t, Config{LB: loadBalancer(l), Now: clock.Now})
	ru.waitState(t, "10.0.4.1:80", StateHealthy)
	ru.waitState(t, "10.0.4.2:80", StateUnhealthy)
	b.hcStatus.Store(200)
	ru.waitState(t, "10.0.4.2:80", StateHealthy) // enters slow start at the clock's time
	c := noRedirectClient()
	share := func(n int) float64 {
		before := b.hits.Load()
		for i := 0; i < n; i++ {
			get(t, c, "http://"+ru.addrs[l]+"/", nil)
		}
		return float64(b.hits.Load()-before) / float64(n)
	}
	if s := share(100); s != 0 {
		t.Fatalf("at the start of slow start the new target got %.2f of the requests, want 0", s)
	}
	clock.Advance(15 * time.Second) // weight 0.5 → share 0.5/1.5
	if s := share(600); s < 0.25 || s > 0.42 {
		t.Fatalf("half way through slow start the share is %.2f, want about 0.33", s)
	}
	clock.Advance(15 * time.Second) // window over: round robin again
	if s := share(100); s != 0.5 {
		t.Fatalf("after slow start the share is %.2f, want 0.5 (round robin)", s)
	}
}

// TestSlowStartNotEnteredWithoutAHealthyPeer checks the exception of
// alb.md §6.5: targets of an empty group that become healthy together do
// not enter slow start.
func TestSlowStartNotEnteredWithoutAHealthyPeer(t *testing.T) {
	a, b := newBackend(t, "A", nil), newBackend(t, "B", nil)
	tg := mkTG("alb-tg", a.target("10.0.4.1:80"))
	tg.Attributes = map[string]string{"slow_start.duration_seconds": "30"}
	_ = b
	l := httpListener(80, forward(tg))
	ru := start(t, Config{LB: loadBalancer(l), Now: newFixedClock().Now})
	ru.waitState(t, "10.0.4.1:80", StateHealthy)
	if from := ru.lb.groupList[0].targets[0].ext.slowStartFrom.Load(); from != 0 {
		t.Fatalf("the only target entered slow start")
	}
}

// TestDeregistrationDrainingOnReload checks deregistration with draining
// (alb.md §6.6): a reload that removes a target shows it draining with
// Target.DeregistrationInProgress until the delay expires; its in-flight
// request finishes; new requests go to the remaining targets; a request
// still in flight when the delay expires gets 502.
func TestDeregistrationDrainingOnReload(t *testing.T) {
	release := make(chan struct{})
	arrived := make(chan struct{}, 2)
	old := newBackend(t, "OLD", func(w http.ResponseWriter, r *http.Request) {
		arrived <- struct{}{}
		if r.URL.Path == "/until-cancelled" {
			<-r.Context().Done()
			return
		}
		<-release
		_, _ = io.WriteString(w, "OLD")
	})
	keep := newBackend(t, "KEEP", nil)
	mk := func(delay string, targets ...*model.Target) *model.LoadBalancer {
		tg := noHealthCheck(mkTG("alb-tg", targets...))
		tg.Attributes = map[string]string{"deregistration_delay.timeout_seconds": delay}
		return loadBalancer(httpListener(80, forward(tg)))
	}
	m1 := mk("1", old.target("10.0.4.1:80"))
	ru := start(t, Config{LB: m1})
	url1 := "http://" + ru.addrs[m1.Listeners[0]]

	var wg sync.WaitGroup
	results := make(chan string, 2)
	for _, path := range []string{"/finishes", "/until-cancelled"} {
		wg.Add(1)
		go func() {
			defer wg.Done()
			resp, err := noRedirectClient().Get(url1 + path)
			if err != nil {
				results <- path + " error " + err.Error()
				return
			}
			body, _ := io.ReadAll(resp.Body)
			resp.Body.Close()
			results <- path + " " + resp.Status[:3] + " " + string(body[:min(len(body), 30)])
		}()
	}
	<-arrived
	<-arrived

	// Reload: OLD is gone, KEEP is new.
	m2 := mk("1", keep.target("10.0.4.2:80"))
	sink := &logSink{}
	next, err := New(Config{LB: m2, Log: sink.log}, ru.lb)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(next.Close)
	h := healthOf(next, "10.0.4.1:80")
	if h.State != StateDraining || h.Reason != ReasonDeregistrationInProgress || h.Description != "Target deregistration is in progress" {
		t.Fatalf("removed target: %+v", h)
	}
	if next.DrainingUntil().IsZero() {
		t.Fatal("DrainingUntil is zero while a target drains")
	}
	srv := serveLB(t, next, m2.Listeners[0])
	if _, got := get(t, noRedirectClient(), "http://"+srv+"/", nil); got != "KEEP" {
		t.Fatalf("new request went to %s, want KEEP", got)
	}
	close(release) // the in-flight request to the draining target finishes
	if r := <-results; r != "/finishes 200 OLD" {
		t.Fatalf("in-flight request: %s", r)
	}
	// The delay (1 s) expires: the request still in flight gets 502.
	if r := <-results; r[:len("/until-cancelled 502")] != "/until-cancelled 502" {
		t.Fatalf("request in flight past the delay: %s", r)
	}
	wg.Wait()
	deadline := time.Now().Add(10 * time.Second)
	for healthOf(next, "10.0.4.1:80").State != "" {
		if time.Now().After(deadline) {
			t.Fatal("the target still drains after the delay")
		}
		time.Sleep(10 * time.Millisecond)
	}
	recs := ru.sink.wait(t, 2)
	for _, rec := range recs {
		if rec.Request == "GET http://"+hostOnly(ru.addrs[m1.Listeners[0]])+":80/until-cancelled HTTP/1.1" &&
			(rec.ELBStatus != 502 || rec.Target != "10.0.4.1:80" || rec.ResponseProcessingTime != -1) {
			t.Errorf("record of the cancelled request: %+v", rec)
		}
	}
}

// serveLB binds one listener of lb on 127.0.0.1:0 and returns its address.
func serveLB(t *testing.T, lb *LoadBalancer, l *model.Listener) string {
	t.Helper()
	srv, err := serve.Listen("127.0.0.1:0", lb.Plane(l), serve.Options{HTTP2: true})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		_ = srv.Shutdown(ctx)
	})
	return srv.Addr()
}
