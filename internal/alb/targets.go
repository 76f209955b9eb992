package alb

import (
	"fmt"
	"net"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"

	"github.com/kumo-dev/kumo/internal/model"
)

// Target health states (alb.md §6.3).
const (
	StateInitial     = "initial"
	StateHealthy     = "healthy"
	StateUnhealthy   = "unhealthy"
	StateDraining    = "draining"
	StateUnused      = "unused"
	StateUnavailable = "unavailable"
)

// Target health reason codes (alb.md §6.3).
const (
	ReasonInitialHealthChecking = "Elb.InitialHealthChecking"
	ReasonResponseCodeMismatch  = "Target.ResponseCodeMismatch"
	ReasonTimeout               = "Target.Timeout"
	ReasonFailedHealthChecks    = "Target.FailedHealthChecks"
	ReasonHealthCheckDisabled   = "Target.HealthCheckDisabled"
)

// TargetHealth is one target's health, as DescribeTargetHealth reports it.
type TargetHealth struct {
	// TargetGroupARN and TargetGroupName identify the target group.
	TargetGroupARN  string
	TargetGroupName string
	// TargetID is the registered id (instance id or IP); Addr is the modeled
	// ip:port and Local the address dialled ("" when Addr itself).
	TargetID string
	Addr     string
	Local    string
	// HealthCheckPort is the port health checks use.
	HealthCheckPort string
	// State is initial, healthy, unhealthy, draining, unused or unavailable.
	State string
	// Reason and Description are empty for healthy targets.
	Reason      string
	Description string
}

// targetGroup is a compiled target group with its balancing state.
type targetGroup struct {
	model   *model.TargetGroup
	https   bool
	targets []*target
	rr      atomic.Uint64
	opts    tgOptions // attributes and protocol version (tgoptions.go)
}

// target is one registered target and its health.
type target struct {
	tg    *targetGroup
	model *model.Target
	// dial is the address the proxy dials (Local, else Addr).
	dial string
	// host is the modeled IP, port the modeled (traffic) port.
	host string
	port int
	// healthy mirrors routableState(health.state) for the lock-free hot path.
	healthy atomic.Bool
	// ext is the balancing state: in-flight count, slow start, draining.
	ext targetExt

	mu     sync.Mutex
	health healthState
}

// healthState is the mutable health of a target (guarded by target.mu).
type healthState struct {
	state       string
	reason      string
	description string
	checked     bool
	passes      int // consecutive passes
	fails       int // consecutive failures
}

func newTargetGroup(m *model.TargetGroup) (*targetGroup, error) {
	tg := &targetGroup{model: m}
	switch m.Protocol {
	case "", "HTTP":
	case "HTTPS":
		tg.https = true
	default:
		return nil, fmt.Errorf("target group %s: unsupported protocol %q (want HTTP or HTTPS)", m.Name, m.Protocol)
	}
	if _, err := parseMatcher(m.HealthCheck.Matcher); err != nil {
		return nil, fmt.Errorf("target group %s: %w", m.Name, err)
	}
	var err error
	if tg.opts, err = parseTargetGroupOptions(m); err != nil {
		return nil, fmt.Errorf("target group %s: %w", m.Name, err)
	}
	for _, mt := range m.Targets {
		if mt == nil {
			return nil, fmt.Errorf("target group %s: nil target", m.Name)
		}
		host, portStr, err := net.SplitHostPort(mt.Addr)
		if err != nil {
			return nil, fmt.Errorf("target group %s: target %s: Addr %q is not ip:port: %w", m.Name, mt.ID, mt.Addr, err)
		}
		port, err := strconv.Atoi(portStr)
		if err != nil || port < 1 || port > 65535 {
			return nil, fmt.Errorf("target group %s: target %s: bad port in %q", m.Name, mt.ID, mt.Addr)
		}
		t := &target{tg: tg, model: mt, dial: mt.Addr, host: host, port: port}
		if mt.Local != "" {
			t.dial = mt.Local
		}
		t.health = initialHealth(m.HealthCheck)
		t.healthy.Store(routableState(t.health.state))
		tg.targets = append(tg.targets, t)
	}
	return tg, nil
}

// initialHealth is a newly registered target's state (alb.md §6.3): initial
// while the first checks run; unavailable when health checks are disabled.
func initialHealth(hc model.HealthCheck) healthState {
	if !hc.Enabled {
		return healthState{state: StateUnavailable, reason: ReasonHealthCheckDisabled,
			description: "Health checks are disabled", checked: true}
	}
	return healthState{state: StateInitial, reason: ReasonInitialHealthChecking,
		description: "Initial health checks in progress"}
}

// routable reports whether t takes new requests while the group has a
// routable target (see routableState); lock-free for the hot path.
func routable(t *target) bool {
	return t.healthy.Load()
}

// failOpenCandidate decides which targets take traffic when none is healthy.
// Unhealthy targets do (alb.md §2.2). UNCONFIRMED: targets still in
// `initial` (never checked) count as unhealthy here, so requests are served
// during start-up instead of failing (the reference does not say what a
// client gets when only initial targets exist). Draining and unused targets
// never do.
func failOpenCandidate(state string) bool {
	switch state {
	case StateUnhealthy, StateInitial, StateUnavailable:
		return true
	}
	return false
}

// healthCheckPort is the port health checks use: HealthCheck.Port, or the
// target's traffic port for "traffic-port" (alb.md §6.2).
func (t *target) healthCheckPort() (int, error) {
	p := t.tg.model.HealthCheck.Port
	if p == "" || p == "traffic-port" {
		return t.port, nil
	}
	n, err := strconv.Atoi(p)
	if err != nil || n < 1 || n > 65535 {
		return 0, fmt.Errorf("health check port %q: want traffic-port or 1-65535", p)
	}
	return n, nil
}

// healthCheckDialAddr is the local address a health check dials: the
// target's dial address when the check uses the traffic port; otherwise the
// health-check port on the dialled host (the model maps only the traffic
// port, so a distinct health-check port is assumed to sit next to it).
func (t *target) healthCheckDialAddr(hcPort int) string {
	if hcPort == t.port {
		return t.dial
	}
	host, _, err := net.SplitHostPort(t.dial)
	if err != nil {
		host = t.dial
	}
	return net.JoinHostPort(host, strconv.Itoa(hcPort))
}

// matcher is a compiled HttpCode matcher ("200", "200,202", "200-299").
type matcher [][2]int

// parseMatcher implements Matcher.HttpCode (alb.md §6.2): a code, a
// comma-separated list, or a range; "" means the default "200".
func parseMatcher(s string) (matcher, error) {
	if s == "" {
		s = "200"
	}
	var m matcher
	for _, part := range strings.Split(s, ",") {
		part = strings.TrimSpace(part)
		lo, hi, isRange := strings.Cut(part, "-")
		a, err := strconv.Atoi(lo)
		if err != nil {
			return nil, fmt.Errorf("health check matcher %q: %q is not a status code", s, part)
		}
		b := a
		if isRange {
			if b, err = strconv.Atoi(hi); err != nil || b < a {
				return nil, fmt.Errorf("health check matcher %q: bad range %q", s, part)
			}
		}
		if a < 100 || b > 599 {
			return nil, fmt.Errorf("health check matcher %q: codes must be 100-599", s)
		}
		m = append(m, [2]int{a, b})
	}
	return m, nil
}

func (m matcher) matches(code int) bool {
	for _, r := range m {
		if r[0] <= code && code <= r[1] {
			return true
		}
	}
	return false
}
