package alb

import (
	"io"
	"net/http"
	"net/http/httptest"
	"sync/atomic"
	"testing"
	"time"

	"github.com/kumo-dev/kumo/internal/model"
)

// hcStep is the scripted answer to one health check.
type hcStep int

const (
	stepPass  hcStep = 200
	stepFail  hcStep = 500
	stepHang  hcStep = -1 // never answer: the check times out
	stepReset hcStep = -2 // close the connection: a failed check
)

// scriptedTarget is a target whose health checks are answered one at a
// time by the test: each check waits for the next step, so the test knows
// exactly which check produced which state.
type scriptedTarget struct {
	srv     *httptest.Server
	steps   chan hcStep
	arrived chan struct{} // one token per health check that arrived
	hits    atomic.Int32
}

func newScriptedTarget(t *testing.T, name string) *scriptedTarget {
	t.Helper()
	st := &scriptedTarget{steps: make(chan hcStep), arrived: make(chan struct{}, 64)}
	done := make(chan struct{})
	st.srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Header.Get("User-Agent") != HealthCheckUserAgent {
			st.hits.Add(1)
			_, _ = io.WriteString(w, name)
			return
		}
		st.arrived <- struct{}{}
		var s hcStep
		select {
		case s = <-st.steps:
		case <-done:
			return
		case <-r.Context().Done():
			return
		}
		switch s {
		case stepHang:
			select {
			case <-r.Context().Done():
			case <-done:
			}
		case stepReset:
			if c, _, err := http.NewResponseController(w).Hijack(); err == nil {
				c.Close()
			}
		default:
			w.WriteHeader(int(s))
		}
	}))
	t.Cleanup(func() { close(done); st.srv.Close() })
	return st
}

// answer waits for the next health check, answers it with s, and waits for
// the check after it to arrive — by then the load balancer has recorded s.
func (st *scriptedTarget) answer(t *testing.T, s hcStep) {
	t.Helper()
	st.wait(t)
	select {
	case st.steps <- s:
	case <-time.After(10 * time.Second):
		t.Fatal("health check did not take its step")
	}
	st.wait(t)
	// Put the token back: answer consumes it on its next call.
	st.arrived <- struct{}{}
}

func (st *scriptedTarget) wait(t *testing.T) {
	t.Helper()
	select {
	case <-st.arrived:
	case <-time.After(10 * time.Second):
		t.Fatal("no health check arrived")
	}
}

func healthOf(lb *LoadBalancer, addr string) TargetHealth {
	for _, h := range lb.Health() {
		if h.Addr == addr {
			return h
		}
	}
	return TargetHealth{}
}

// TestHealthStateMachineFlappingTarget drives a target healthy → failing →
// healthy check by check and checks every state against the thresholds
// (alb.md §6.2–6.3: one pass after registration makes it healthy,
// UnhealthyThreshold consecutive failures make it unhealthy,
// HealthyThreshold consecutive passes bring it back), the reasons, and that
// no request reaches it while it is unhealthy and another target is
// healthy.
func TestHealthStateMachineFlappingTarget(t *testing.T) {
	flap := newScriptedTarget(t, "flap")
	stable := newBackend(t, "stable", nil)
	tg := mkTG("alb-tg",
		&model.Target{ID: "10.0.4.10", Addr: "10.0.4.10:80", Local: flap.srv.Listener.Addr().String()},
		stable.target("10.0.4.11:80"))
	tg.HealthCheck.HealthyThreshold, tg.HealthCheck.UnhealthyThreshold = 3, 2
	tg.HealthCheck.Timeout = 200 * time.Millisecond
	l := httpListener(80, forward(tg))
	ru := start(t, Config{LB: loadBalancer(l)})
	ru.waitState(t, "10.0.4.11:80", StateHealthy)
	c := noRedirectClient()
	url := "http://" + ru.addrs[l] + "/"

	type want struct {
		state, reason, desc string
	}
	unhealthy500 := want{StateUnhealthy, ReasonResponseCodeMismatch, "Health checks failed with these codes: [500]"}
	if h := healthOf(ru.lb, "10.0.4.10:80"); h.State != StateInitial || h.Reason != ReasonInitialHealthChecking {
		t.Fatalf("before the first check: %+v", h)
	}
	script := []struct {
		step hcStep
		want want
	}{
		{stepPass, want{StateHealthy, "", ""}}, // initial → healthy after one pass
		{stepFail, want{StateHealthy, "", ""}}, // 1 of 2 failures
		{stepFail, unhealthy500},               // 2 of 2 → unhealthy
		{stepPass, unhealthy500},               // 1 of 3 passes
		{stepHang, want{StateUnhealthy, ReasonTimeout, "Request timed out"}},
		{stepPass, want{StateUnhealthy, ReasonTimeout, "Request timed out"}}, // the count restarts
		{stepPass, want{StateUnhealthy, ReasonTimeout, "Request timed out"}},
		{stepPass, want{StateHealthy, "", ""}}, // 3 of 3 → healthy
		{stepReset, want{StateHealthy, "", ""}},
		{stepReset, want{StateUnhealthy, ReasonFailedHealthChecks, "Health checks failed"}},
		{stepPass, want{StateUnhealthy, ReasonFailedHealthChecks, "Health checks failed"}},
		{stepPass, want{StateUnhealthy, ReasonFailedHealthChecks, "Health checks failed"}},
		{stepPass, want{StateHealthy, "", ""}},
	}
	for i, s := range script {
		flap.answer(t, s.step)
		h := healthOf(ru.lb, "10.0.4.10:80")
		if h.State != s.want.state || h.Reason != s.want.reason || h.Description != s.want.desc {
			t.Fatalf("after check %d (%d): %s %q %q, want %+v", i+1, s.step, h.State, h.Reason, h.Description, s.want)
		}
		// Traffic follows the state: while unhealthy (and the stable target
		// is healthy) no request reaches the flapping target.
		before := flap.hits.Load()
		for j := 0; j < 4; j++ {
			if resp, _ := get(t, c, url, nil); resp.StatusCode != 200 {
				t.Fatalf("status %d", resp.StatusCode)
			}
		}
		got := flap.hits.Load() - before
		if h.State == StateUnhealthy && got != 0 {
			t.Fatalf("after check %d: %d requests reached the unhealthy target", i+1, got)
		}
		if h.State == StateHealthy && got != 2 {
			t.Fatalf("after check %d: the healthy target got %d of 4 round-robin requests, want 2", i+1, got)
		}
	}
}
