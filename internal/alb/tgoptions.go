package alb

import (
	"fmt"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/kumo-dev/kumo/internal/model"
)

// Load-balancing algorithms (load_balancing.algorithm.type, alb.md §6.4).
const (
	AlgorithmRoundRobin               = "round_robin"
	AlgorithmLeastOutstandingRequests = "least_outstanding_requests"
	AlgorithmWeightedRandom           = "weighted_random"
)

// Stickiness types (stickiness.type, alb.md §6.7).
const (
	StickinessLBCookie  = "lb_cookie"
	StickinessAppCookie = "app_cookie"
)

// Target-group protocol versions (alb.md §4.2, §6.1).
const (
	ProtocolVersionHTTP1 = "HTTP1"
	ProtocolVersionHTTP2 = "HTTP2"
	ProtocolVersionGRPC  = "GRPC"
)

// defaultDeregistrationDelay is deregistration_delay.timeout_seconds when
// not set (alb.md §6.6).
const defaultDeregistrationDelay = 300 * time.Second

// defaultStickinessDuration is stickiness.*.duration_seconds when not set
// (alb.md §6.7).
const defaultStickinessDuration = 86400 * time.Second

// tgOptions are a target group's attributes and protocol version, parsed
// once when the load balancer is built.
type tgOptions struct {
	algorithm       string
	slowStart       time.Duration
	minHealthyCount int // 0 = off
	minHealthyPct   int // 0 = off
	sticky          string
	stickyDuration  time.Duration
	appCookie       string
	deregDelay      time.Duration
	protocolVersion string
	grpcMatcher     matcher
}

// targetExt is the per-target balancing state kept beside target.health.
type targetExt struct {
	// inflight counts requests sent to the target and not finished
	// (least_outstanding_requests; draining).
	inflight atomic.Int64
	// slowStartFrom is when the target entered slow start (unix nanos), 0
	// when it is not in slow start.
	slowStartFrom atomic.Int64
	// The exchanges in flight to the target (a list through
	// exchange.drainPrev/drainNext), so that the end of its deregistration
	// delay after a reload removed it can end them: they get 502. drained
	// is set then. Both under drainMu.
	drainMu   sync.Mutex
	exchanges *exchange
	drained   bool
	// sweep ends the exchanges in flight that moved nothing for their idle
	// timeout (sweepIdle); it is armed (swept) while any is in flight.
	// One timer per target replaces one per exchange, which cost a timer
	// start and stop on every request. Under drainMu.
	sweep *time.Timer
	swept bool
}

// track adds ex to the exchanges in flight; it reports false, adding
// nothing, when the target's deregistration delay has already expired.
func (x *targetExt) track(ex *exchange) bool {
	x.drainMu.Lock()
	defer x.drainMu.Unlock()
	if x.drained {
		return false
	}
	ex.drainPrev, ex.drainNext = nil, x.exchanges
	if x.exchanges != nil {
		x.exchanges.drainPrev = ex
	}
	x.exchanges = ex
	if !x.swept {
		// No exchange in flight has a deadline before ex's.
		x.swept = true
		if x.sweep == nil {
			x.sweep = time.AfterFunc(ex.idleTimeout, x.sweepIdle)
		} else {
			x.sweep.Reset(ex.idleTimeout)
		}
	}
	return true
}

// sweepIdle ends every exchange in flight that moved nothing for its idle
// timeout (idleTimedOut; alb.md §2.4), and arms the sweep again for the
// first of the others to come due, or leaves it unarmed if there is none.
// An exchange thus ends exactly at its timeout, as with a timer of its own.
func (x *targetExt) sweepIdle() {
	x.drainMu.Lock()
	defer x.drainMu.Unlock()
	now := time.Now()
	next := time.Duration(-1)
	for ex := x.exchanges; ex != nil; ex = ex.drainNext {
		if ex.relaying.Load() {
			continue
		}
		left := ex.idleTimeout - ex.moved.idleFor(now)
		if left <= 0 {
			ex.idleTimedOut() // once ended, ending again does nothing
			continue
		}
		if next < 0 || left < next {
			next = left
		}
	}
	if x.swept = next >= 0; x.swept {
		x.sweep.Reset(next)
	}
}

// untrack removes ex, added by track.
func (x *targetExt) untrack(ex *exchange) {
	x.drainMu.Lock()
	if ex.drainPrev != nil {
		ex.drainPrev.drainNext = ex.drainNext
	} else if x.exchanges == ex {
		x.exchanges = ex.drainNext
	}
	if ex.drainNext != nil {
		ex.drainNext.drainPrev = ex.drainPrev
	}
	ex.drainPrev, ex.drainNext = nil, nil
	x.drainMu.Unlock()
}

// expireDrain ends the deregistration delay: every exchange in flight ends
// (deregistrationDelayExpired), and so does every later one at once.
func (x *targetExt) expireDrain() {
	x.drainMu.Lock()
	defer x.drainMu.Unlock()
	x.drained = true
	for ex := x.exchanges; ex != nil; ex = ex.drainNext {
		ex.deregistrationDelayExpired()
	}
}

// attrInt reads an integer attribute; ok is false when it is absent.
func attrInt(attrs map[string]string, key string, lo, hi int) (n int, ok bool, err error) {
	v, present := attrs[key]
	if !present || v == "" {
		return 0, false, nil
	}
	n, err = strconv.Atoi(v)
	if err != nil || n < lo || n > hi {
		return 0, false, fmt.Errorf("attribute %s=%q: want an integer %d-%d", key, v, lo, hi)
	}
	return n, true, nil
}

// parseTargetGroupOptions implements the target-group attributes of
// alb.md §2.2 and §6.4–6.7 and ProtocolVersion (§4.2): defaults for absent
// keys, an error for values kumo cannot honour.
func parseTargetGroupOptions(m *model.TargetGroup) (tgOptions, error) {
	a := m.Attributes
	o := tgOptions{algorithm: AlgorithmRoundRobin, minHealthyCount: 1,
		deregDelay: defaultDeregistrationDelay, stickyDuration: defaultStickinessDuration}
	switch v := a["load_balancing.algorithm.type"]; v {
	case "":
	case AlgorithmRoundRobin, AlgorithmLeastOutstandingRequests, AlgorithmWeightedRandom:
		o.algorithm = v
	default:
		return o, fmt.Errorf("attribute load_balancing.algorithm.type=%q: want round_robin, least_outstanding_requests or weighted_random", v)
	}
	switch v := a["load_balancing.algorithm.anomaly_mitigation"]; v {
	case "", "off":
	case "on":
		return o, fmt.Errorf("attribute load_balancing.algorithm.anomaly_mitigation=on is not emulated by kumo (AWS's anomaly thresholds are not published); use off")
	default:
		return o, fmt.Errorf("attribute load_balancing.algorithm.anomaly_mitigation=%q: want on or off", v)
	}
	if n, ok, err := attrInt(a, "slow_start.duration_seconds", 0, 900); err != nil {
		return o, err
	} else if ok && n != 0 {
		if n < 30 {
			return o, fmt.Errorf("attribute slow_start.duration_seconds=%d: want 0 (off) or 30-900", n)
		}
		o.slowStart = time.Duration(n) * time.Second
	}
	if o.slowStart > 0 && o.algorithm == AlgorithmLeastOutstandingRequests {
		return o, fmt.Errorf("slow start cannot be combined with least_outstanding_requests (alb.md §6.4)")
	}
	if err := parseMinHealthy(a, &o); err != nil {
		return o, err
	}
	if n, ok, err := attrInt(a, "deregistration_delay.timeout_seconds", 0, 3600); err != nil {
		return o, err
	} else if ok {
		o.deregDelay = time.Duration(n) * time.Second
	}
	if err := parseStickiness(a, &o); err != nil {
		return o, err
	}
	switch m.ProtocolVersion {
	case "", ProtocolVersionHTTP1:
		o.protocolVersion = ProtocolVersionHTTP1
	case ProtocolVersionHTTP2, ProtocolVersionGRPC:
		o.protocolVersion = m.ProtocolVersion
	default:
		return o, fmt.Errorf("ProtocolVersion %q: want HTTP1, HTTP2 or GRPC", m.ProtocolVersion)
	}
	if o.protocolVersion == ProtocolVersionGRPC {
		gm := m.HealthCheck.GrpcMatcher
		if gm == "" {
			gm = "12" // alb.md §6.2 default GrpcCode
		}
		var err error
		if o.grpcMatcher, err = parseCodeList(gm, 0, 99); err != nil {
			return o, fmt.Errorf("health check GrpcCode: %w", err)
		}
	}
	return o, nil
}

// parseMinHealthy implements target_group_health.unhealthy_state_routing.
// minimum_healthy_targets.count (1 or more, or "off"; default 1) and
// .percentage (1-100 or "off", the default) (alb.md §2.2).
func parseMinHealthy(a map[string]string, o *tgOptions) error {
	const countKey = "target_group_health.unhealthy_state_routing.minimum_healthy_targets.count"
	const pctKey = "target_group_health.unhealthy_state_routing.minimum_healthy_targets.percentage"
	if v := a[countKey]; v == "off" {
		o.minHealthyCount = 0
	} else if n, ok, err := attrInt(a, countKey, 1, 1000); err != nil {
		return err
	} else if ok {
		o.minHealthyCount = n
	}
	if v := a[pctKey]; v != "off" {
		n, ok, err := attrInt(a, pctKey, 1, 100)
		if err != nil {
			return err
		}
		if ok {
			o.minHealthyPct = n
		}
	}
	return nil
}

// parseStickiness implements the stickiness.* attributes (alb.md §6.7).
func parseStickiness(a map[string]string, o *tgOptions) error {
	switch v := a["stickiness.enabled"]; v {
	case "", "false":
		return nil
	case "true":
	default:
		return fmt.Errorf("attribute stickiness.enabled=%q: want true or false", v)
	}
	o.sticky = a["stickiness.type"]
	switch o.sticky {
	case "":
		o.sticky = StickinessLBCookie
		fallthrough
	case StickinessLBCookie:
		if n, ok, err := attrInt(a, "stickiness.lb_cookie.duration_seconds", 1, 604800); err != nil {
			return err
		} else if ok {
			o.stickyDuration = time.Duration(n) * time.Second
		}
	case StickinessAppCookie:
		o.appCookie = a["stickiness.app_cookie.cookie_name"]
		if o.appCookie == "" {
			return fmt.Errorf("app_cookie stickiness needs stickiness.app_cookie.cookie_name")
		}
		if n, ok, err := attrInt(a, "stickiness.app_cookie.duration_seconds", 1, 604800); err != nil {
			return err
		} else if ok {
			o.stickyDuration = time.Duration(n) * time.Second
		}
	default:
		return fmt.Errorf("attribute stickiness.type=%q: want lb_cookie or app_cookie", o.sticky)
	}
	return nil
}

// parseCodeList parses a code, a comma-separated list or a range within
// lo-hi (GrpcCode, alb.md §6.2).
func parseCodeList(s string, lo, hi int) (matcher, error) {
	var m matcher
	start := 0
	for i := 0; i <= len(s); i++ {
		if i < len(s) && s[i] != ',' {
			continue
		}
		part := s[start:i]
		start = i + 1
		a, b := part, part
		for j := 0; j < len(part); j++ {
			if part[j] == '-' {
				a, b = part[:j], part[j+1:]
				break
			}
		}
		x, err1 := strconv.Atoi(a)
		y, err2 := strconv.Atoi(b)
		if err1 != nil || err2 != nil || x < lo || y > hi || x > y {
			return nil, fmt.Errorf("%q: want codes %d-%d as a code, list or range", s, lo, hi)
		}
		m = append(m, [2]int{x, y})
	}
	return m, nil
}
