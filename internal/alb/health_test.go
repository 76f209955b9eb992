package alb

import (
	"context"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/kumo-dev/kumo/internal/model"
)

func TestHealthStateTransitions(t *testing.T) {
	be := newBackend(t, "A", nil)
	tg := mkTG("alb-tg", be.target("10.0.4.254:80"))
	tg.HealthCheck.HealthyThreshold = 3
	l := httpListener(80, forward(tg))
	lb, err := New(Config{LB: loadBalancer(l)}, nil)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(lb.Close)
	ru := &running{lb: lb}
	if h := lb.Health()[0]; h.State != StateInitial || h.Reason != ReasonInitialHealthChecking {
		t.Fatalf("before checks: %+v", h)
	}
	ctx, cancel := context.WithCancel(context.Background())
	t.Cleanup(cancel)
	lb.Start(ctx)
	ru.waitChecked(t)
	ru.waitState(t, "10.0.4.254:80", StateHealthy) // one pass after registration

	r := be.healthChecks()[0]
	if r.Method != "GET" || r.URL.Path != "/health" || r.Host != "10.0.4.254:80" {
		t.Fatalf("health check request %s %s Host %q", r.Method, r.URL.Path, r.Host)
	}

	be.hcStatus.Store(502)
	h := ru.waitState(t, "10.0.4.254:80", StateUnhealthy)
	if h.Reason != ReasonResponseCodeMismatch || h.Description != "Health checks failed with these codes: [502]" {
		t.Fatalf("unhealthy: %+v", h)
	}
	be.hcStatus.Store(200)
	ru.waitState(t, "10.0.4.254:80", StateHealthy) // after HealthyThreshold passes

	be.hcBlock.Store(true)
	h = ru.waitState(t, "10.0.4.254:80", StateUnhealthy)
	if h.Reason != ReasonTimeout || h.Description != "Request timed out" {
		t.Fatalf("timeout: %+v", h)
	}
	be.hcBlock.Store(false)
	ru.waitState(t, "10.0.4.254:80", StateHealthy)

	be.srv.Close() // connection refused
	h = ru.waitState(t, "10.0.4.254:80", StateUnhealthy)
	if h.Reason != ReasonFailedHealthChecks {
		t.Fatalf("refused: %+v", h)
	}
}

func TestNextHealth(t *testing.T) {
	pass := checkResult{pass: true}
	fail := checkResult{reason: ReasonTimeout, description: "Request timed out"}
	run := func(start string, results ...checkResult) string {
		st := healthState{state: start}
		for _, r := range results {
			st = nextHealth(st, r, 3, 2)
		}
		return st.state
	}
	for _, tc := range []struct {
		name    string
		start   string
		results []checkResult
		want    string
	}{
		{"initial → healthy after one pass", StateInitial, []checkResult{pass}, StateHealthy},
		{"initial stays initial after one failure", StateInitial, []checkResult{fail}, StateInitial},
		{"initial → unhealthy after threshold failures", StateInitial, []checkResult{fail, fail}, StateUnhealthy},
		{"healthy survives one failure", StateHealthy, []checkResult{fail, pass, fail}, StateHealthy},
		{"healthy → unhealthy", StateHealthy, []checkResult{fail, fail}, StateUnhealthy},
		{"unhealthy needs threshold passes", StateUnhealthy, []checkResult{pass, pass}, StateUnhealthy},
		{"unhealthy → healthy", StateUnhealthy, []checkResult{pass, pass, pass}, StateHealthy},
		{"unhealthy streak resets", StateUnhealthy, []checkResult{pass, pass, fail, pass, pass}, StateUnhealthy},
	} {
		if got := run(tc.start, tc.results...); got != tc.want {
			t.Errorf("%s: got %s, want %s", tc.name, got, tc.want)
		}
	}
}

func TestReloadCarriesHealth(t *testing.T) {
	a, b := newBackend(t, "A", nil), newBackend(t, "B", nil)
	b.hcStatus.Store(500)
	mk := func() *model.LoadBalancer {
		return loadBalancer(httpListener(80, forward(mkTG("alb-tg", a.target("10.0.4.254:80"), b.target("10.0.4.253:80")))))
	}
	ru := start(t, Config{LB: mk()})
	ru.waitState(t, "10.0.4.254:80", StateHealthy)
	ru.waitState(t, "10.0.4.253:80", StateUnhealthy)

	// A new target in the reloaded model starts initial; the old ones keep state.
	c := newBackend(t, "C", nil)
	m := mk()
	tg := m.Listeners[0].DefaultActions[0].TargetGroups[0].TargetGroup
	tg.Targets = append(tg.Targets, c.target("10.0.4.252:80"))
	next, err := New(Config{LB: m}, ru.lb)
	if err != nil {
		t.Fatal(err)
	}
	defer next.Close()
	got := map[string]string{}
	for _, h := range next.Health() {
		got[h.Addr] = h.State
	}
	want := map[string]string{"10.0.4.254:80": StateHealthy, "10.0.4.253:80": StateUnhealthy, "10.0.4.252:80": StateInitial}
	for k, v := range want {
		if got[k] != v {
			t.Errorf("after reload %s is %s, want %s", k, got[k], v)
		}
	}
	// Routing uses the carried state before any check of the new instance.
	tgc := next.groupList[0]
	for i := 0; i < 4; i++ {
		if p := tgc.pickTarget(time.Now()); p.model.Addr != "10.0.4.254:80" {
			t.Fatalf("picked %s, want the carried-over healthy target", p.model.Addr)
		}
	}
}

func TestTraceHeader(t *testing.T) {
	created := time.Unix(0x6ab37c8e, 0)
	root := `Root=1-6ab37c8e-[0-9a-f]{24}`
	self := `Self=1-6ab37c8e-[0-9a-f]{24}`
	for _, tc := range []struct {
		in   []string
		size int64
		want string
	}{
		{nil, 100, "^" + root + "$"},
		{[]string{"Root=1-67891233-abcdef012345678912345678"}, 100, "^" + self + ";Root=1-67891233-abcdef012345678912345678$"},
		{[]string{"Self=1-11111111-aaaaaaaaaaaaaaaaaaaaaaaa;Root=1-67891233-abcdef012345678912345678;CalledFrom=app"}, 100,
			"^" + self + ";Root=1-67891233-abcdef012345678912345678;CalledFrom=app$"},
		{[]string{"Root=1-67891233-abcdef012345678912345678"}, 8 << 10, "^" + root + "$"},
		{[]string{"CalledFrom=app"}, 100, "^" + root + ";CalledFrom=app$"},
	} {
		got := traceHeader(tc.in, created, tc.size)
		if !regexp.MustCompile(tc.want).MatchString(got) {
			t.Errorf("traceHeader(%v) = %q, want %s", tc.in, got, tc.want)
		}
	}
	if a, b := newTraceID(created), newTraceID(created); a == b || !strings.HasPrefix(a, "1-6ab37c8e-") {
		t.Errorf("trace ids %q %q", a, b)
	}
}

func TestMatcher(t *testing.T) {
	m, err := parseMatcher("200,202,300-399")
	if err != nil {
		t.Fatal(err)
	}
	for code, want := range map[int]bool{200: true, 201: false, 202: true, 302: true, 400: false} {
		if m.matches(code) != want {
			t.Errorf("matches(%d) != %v", code, want)
		}
	}
	for _, bad := range []string{"abc", "300-200", "99", "200-"} {
		if _, err := parseMatcher(bad); err == nil {
			t.Errorf("parseMatcher(%q) accepted", bad)
		}
	}
}
