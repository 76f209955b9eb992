package alb

import (
	"bufio"
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"net"
	"net/http"
	"strconv"
	"sync"
	"time"
)

// HealthCheckUserAgent is the User-Agent of health-check requests (alb.md §6.2).
const HealthCheckUserAgent = "ELB-HealthChecker/2.0"

// healthRunner runs the active health checks of one LoadBalancer.
type healthRunner struct {
	lb      *LoadBalancer
	targets []*target // every target of every target group, in model order

	mu       sync.Mutex
	started  bool
	cancel   context.CancelFunc
	wg       sync.WaitGroup
	pending  int           // targets not yet checked
	allDone  chan struct{} // closed when pending reaches 0
	stopping bool
}

func (h *healthRunner) init(lb *LoadBalancer, prev *LoadBalancer) {
	h.lb = lb
	h.allDone = make(chan struct{})
	var old map[healthKey]healthState
	if prev != nil {
		old = prev.health.snapshot()
	}
	for _, tg := range lb.groupList {
		for _, t := range tg.targets {
			if st, ok := old[healthKey{tg.model.ARN, t.model.Addr}]; ok && tg.model.HealthCheck.Enabled {
				carryOverHealth(t, st)
			}
			h.targets = append(h.targets, t)
			if !t.health.checked {
				h.pending++
			}
		}
	}
	if h.pending == 0 {
		close(h.allDone)
	}
}

// healthKey identifies a target across reloads.
type healthKey struct{ tgARN, addr string }

func (h *healthRunner) snapshot() map[healthKey]healthState {
	m := make(map[healthKey]healthState, len(h.targets))
	for _, t := range h.targets {
		t.mu.Lock()
		m[healthKey{t.tg.model.ARN, t.model.Addr}] = t.health
		t.mu.Unlock()
	}
	return m
}

// carryOverHealth keeps a target's health across a reload (the target is the
// same registration: same target group ARN and Addr).
func carryOverHealth(t *target, st healthState) {
	t.health = st
	t.healthy.Store(routableState(st.state))
}

func (h *healthRunner) start(ctx context.Context) {
	h.mu.Lock()
	defer h.mu.Unlock()
	if h.started || h.stopping {
		return
	}
	h.started = true
	ctx, h.cancel = context.WithCancel(ctx)
	for _, t := range h.targets {
		if !t.tg.model.HealthCheck.Enabled {
			continue
		}
		h.wg.Add(1)
		go h.loop(ctx, t)
	}
}

func (h *healthRunner) stop() {
	h.mu.Lock()
	h.stopping = true
	cancel := h.cancel
	h.mu.Unlock()
	if cancel != nil {
		cancel()
	}
	h.wg.Wait()
}

func (h *healthRunner) wait(ctx context.Context) error {
	select {
	case <-h.allDone:
		return nil
	case <-ctx.Done():
		return fmt.Errorf("alb: waiting for the first health checks: %w", ctx.Err())
	}
}

// loop checks one target: at once, then every Interval.
func (h *healthRunner) loop(ctx context.Context, t *target) {
	defer h.wg.Done()
	hc := t.tg.model.HealthCheck
	interval := hc.Interval
	if interval <= 0 {
		interval = 30 * time.Second // alb.md §6.2 default
	}
	timer := time.NewTimer(0)
	defer timer.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-timer.C:
		}
		start := h.lb.now()
		res := checkTarget(ctx, t)
		if ctx.Err() != nil {
			return
		}
		h.lb.logHealthCheck(t, start, res)
		first := h.record(t, res)
		if first {
			h.mu.Lock()
			h.pending--
			if h.pending == 0 {
				close(h.allDone)
			}
			h.mu.Unlock()
		}
		timer.Reset(interval)
	}
}

// record applies one check result and reports whether it was the target's
// first check.
func (h *healthRunner) record(t *target, res checkResult) bool {
	t.mu.Lock()
	before := t.health.state
	first := !t.health.checked
	t.health = nextHealth(t.health, res, t.tg.model.HealthCheck.HealthyThreshold, t.tg.model.HealthCheck.UnhealthyThreshold)
	t.healthy.Store(routableState(t.health.state))
	after := t.health.state
	t.mu.Unlock()
	t.tg.slowStartTransition(t, before, after, h.lb.now())
	if before != after {
		h.lb.log.Info("alb: target health changed", "target_group", t.tg.model.Name,
			"target", t.model.Addr, "from", before, "to", after, "reason", t.health.reason)
	}
	return first
}

// checkResult is the outcome of one health check.
type checkResult struct {
	pass        bool
	reason      string // for failures
	description string
	status      int // the target's status; 0 when none was read
}

// nextHealth implements the health-state machine of alb.md §6.2–6.3: one
// passing check after registration makes a target healthy; from unhealthy
// it takes HealthyThreshold consecutive passes; UnhealthyThreshold
// consecutive failures make an initial or healthy target unhealthy.
func nextHealth(cur healthState, res checkResult, healthyThreshold, unhealthyThreshold int) healthState {
	if healthyThreshold < 1 {
		healthyThreshold = 1
	}
	if unhealthyThreshold < 1 {
		unhealthyThreshold = 1
	}
	next := cur
	next.checked = true
	if res.pass {
		next.passes++
		next.fails = 0
		if cur.state == StateInitial || next.passes >= healthyThreshold {
			next.state, next.reason, next.description = StateHealthy, "", ""
		}
		return next
	}
	next.fails++
	next.passes = 0
	if cur.state == StateUnhealthy || next.fails >= unhealthyThreshold {
		next.state, next.reason, next.description = StateUnhealthy, res.reason, res.description
	}
	return next
}

// routableState reports whether a target in state takes new requests while
// some target is routable: healthy targets, and targets whose health checks
// are disabled (UNCONFIRMED: alb.md §6.3 lists `unavailable` as routed for
// Lambda; kumo routes them so a target group without health checks serves).
func routableState(state string) bool {
	return state == StateHealthy || state == StateUnavailable
}

// checkTarget runs one health check (alb.md §6.2): GET HealthCheck.Path on
// a fresh connection that is closed afterwards, User-Agent
// ELB-HealthChecker/2.0, Host <target ip>:<port>, within Timeout; the
// status must match the Matcher.
func checkTarget(ctx context.Context, t *target) checkResult {
	hc := t.tg.model.HealthCheck
	timeout := hc.Timeout
	if timeout <= 0 {
		timeout = 5 * time.Second // alb.md §6.2 default
	}
	port, err := t.healthCheckPort()
	if err != nil {
		return checkResult{reason: ReasonFailedHealthChecks, description: err.Error()}
	}
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	if t.tg.opts.protocolVersion != ProtocolVersionHTTP1 {
		return checkTargetH2(ctx, t, port)
	}
	status, err := healthCheckRequest(ctx, t, port)
	if err != nil {
		if errors.Is(err, context.DeadlineExceeded) || isTimeout(err) {
			return checkResult{reason: ReasonTimeout, description: "Request timed out"}
		}
		return checkResult{reason: ReasonFailedHealthChecks, description: "Health checks failed"}
	}
	m, _ := parseMatcher(hc.Matcher) // validated in newTargetGroup
	if !m.matches(status) {
		return checkResult{reason: ReasonResponseCodeMismatch,
			description: "Health checks failed with these codes: [" + strconv.Itoa(status) + "]", status: status}
	}
	return checkResult{pass: true, status: status}
}

func isTimeout(err error) bool {
	var ne net.Error
	return errors.As(err, &ne) && ne.Timeout()
}

// healthCheckRequest sends one health-check request and returns the status.
func healthCheckRequest(ctx context.Context, t *target, port int) (int, error) {
	hc := t.tg.model.HealthCheck
	var d net.Dialer
	conn, err := d.DialContext(ctx, "tcp", t.healthCheckDialAddr(port))
	if err != nil {
		return 0, fmt.Errorf("health check connect: %w", err)
	}
	defer conn.Close()
	if dl, ok := ctx.Deadline(); ok {
		_ = conn.SetDeadline(dl)
	}
	stop := context.AfterFunc(ctx, func() { _ = conn.SetDeadline(time.Unix(1, 0)) })
	defer stop()
	if hc.Protocol == "HTTPS" {
		tc := tls.Client(conn, targetTLSConfig())
		if err := tc.HandshakeContext(ctx); err != nil {
			return 0, fmt.Errorf("health check TLS handshake: %w", err)
		}
		conn = tc
	}
	path := hc.Path
	if path == "" {
		path = "/"
	}
	host := net.JoinHostPort(t.host, strconv.Itoa(port))
	req := "GET " + path + " HTTP/1.1\r\nHost: " + host + "\r\nUser-Agent: " + HealthCheckUserAgent +
		"\r\nConnection: close\r\n\r\n"
	if _, err := conn.Write([]byte(req)); err != nil {
		return 0, fmt.Errorf("health check write: %w", err)
	}
	resp, err := http.ReadResponse(bufio.NewReader(conn), nil)
	if err != nil {
		if ctx.Err() != nil {
			return 0, ctx.Err()
		}
		return 0, fmt.Errorf("health check response: %w", err)
	}
	_ = resp.Body.Close()
	return resp.StatusCode, nil
}

// report builds the Health table.
func (h *healthRunner) report() []TargetHealth {
	out := make([]TargetHealth, 0, len(h.targets))
	for _, t := range h.targets {
		port, err := t.healthCheckPort()
		hcPort := strconv.Itoa(port)
		if err != nil {
			hcPort = t.tg.model.HealthCheck.Port
		}
		t.mu.Lock()
		st := t.health
		t.mu.Unlock()
		out = append(out, TargetHealth{
			TargetGroupARN:  t.tg.model.ARN,
			TargetGroupName: t.tg.model.Name,
			TargetID:        t.model.ID,
			Addr:            t.model.Addr,
			Local:           t.model.Local,
			HealthCheckPort: hcPort,
			State:           st.state,
			Reason:          st.reason,
			Description:     st.description,
		})
	}
	return append(out, h.lb.drainingHealth(h.lb.now())...)
}
