package alb

import (
	"strings"
	"time"

	"github.com/kumo-dev/kumo/internal/accesslog"
	"github.com/kumo-dev/kumo/internal/metrics"
)

// opsState is the load balancer's operations side: the listener-side
// attributes and the metrics registration.
type opsState struct {
	// unregister removes the HealthyHostCount source.
	unregister func()
	// opts are the listener-side load-balancer attributes.
	opts listenerOptions
}

// initOps reads the listener-side attributes and registers the load
// balancer's health with the metrics registry.
func (lb *LoadBalancer) initOps() error {
	opts, err := parseListenerOptions(lb.lb.Attributes)
	if err != nil {
		return err
	}
	lb.ops.opts = opts
	listenerPages(lb.pages)
	lb.ops.unregister = lb.cfg.Metrics.SetHealthSource(lb.lb.FullName, lb.hostCounts)
	return nil
}

// closeOps undoes initOps.
func (lb *LoadBalancer) closeOps() {
	if lb.ops.unregister != nil {
		lb.ops.unregister()
	}
}

// hostCounts implements HealthyHostCount / UnHealthyHostCount per target
// group: targets in state healthy, and in state unhealthy (initial,
// draining, unused and unavailable targets count in neither).
func (lb *LoadBalancer) hostCounts() []metrics.HostCount {
	out := make([]metrics.HostCount, 0, len(lb.groupList))
	for _, tg := range lb.groupList {
		hc := metrics.HostCount{TargetGroup: metrics.TargetGroupDimension(tg.model.ARN)}
		for _, t := range tg.targets {
			t.mu.Lock()
			switch t.health.state {
			case StateHealthy:
				hc.Healthy++
			case StateUnhealthy:
				hc.Unhealthy++
			}
			t.mu.Unlock()
		}
		out = append(out, hc)
	}
	return out
}

// observeRequest records a finished request in the metrics (alb.md §2.1:
// LB-generated statuses are HTTPCode_ELB_*, targets' HTTPCode_Target_*).
func (lb *LoadBalancer) observeRequest(rec *accesslog.ALBRecord, f Failure) {
	m := lb.cfg.Metrics
	if m == nil {
		return
	}
	q := metrics.Request{
		LoadBalancer:       rec.ELB,
		TargetGroup:        metrics.TargetGroupDimension(rec.TargetGroupARN),
		ELBStatus:          rec.ELBStatus,
		TargetStatus:       rec.TargetStatus,
		Bytes:              rec.ReceivedBytes + rec.SentBytes,
		TargetConnectError: f == FailureUpstreamConnectionFailure || f == FailureUpstreamConnectTimeout,
		NonCompliant:       rec.Classification != "",
	}
	if rec.TargetStatus > 0 && rec.TargetProcessingTime >= 0 {
		q.HasTargetTime = true
		q.TargetResponseTime = rec.TargetProcessingTime.Seconds()
	}
	m.ObserveRequest(q)
}

// logHealthCheck writes one health-check-log line (alb.md §1.13).
func (lb *LoadBalancer) logHealthCheck(t *target, start time.Time, res checkResult) {
	if lb.cfg.HealthLog == nil {
		return
	}
	rec := &accesslog.ALBHealthCheckRecord{
		Type:          healthLogType(t.tg.model.HealthCheck.Protocol),
		Time:          start,
		Latency:       nonNegative(lb.now().Sub(start)),
		TargetAddr:    t.model.Addr,
		TargetGroupID: t.tg.model.Name,
		Status:        "PASS",
		StatusCode:    res.status,
		ELB:           lb.lb.FullName,
	}
	if !res.pass {
		rec.Status = "FAIL"
		rec.ReasonCode = healthLogReason(res)
	}
	lb.cfg.HealthLog(rec)
}

// healthLogType implements health-check-log field 1 (alb.md §1.13): the
// check's protocol, http or https.
func healthLogType(protocol string) string {
	if protocol == "" {
		return "http"
	}
	return strings.ToLower(protocol)
}

// healthLogReason implements health-check-log field 8 (alb.md §1.13) from a
// failed check: a timeout is TimedOut; a matcher mismatch is TargetError
// when the target answered 5xx (AWS's example: FAIL 502 TargetError), else
// ResponseCodeMismatch; a connection that failed or broke is
// ConnectionReset. UNCONFIRMED: which code AWS writes for a refused
// connection or a malformed response (kumo: ConnectionReset).
func healthLogReason(res checkResult) string {
	switch res.reason {
	case ReasonTimeout:
		return "TimedOut"
	case ReasonResponseCodeMismatch:
		if res.status >= 500 {
			return "TargetError"
		}
		return "ResponseCodeMismatch"
	}
	return "ConnectionReset"
}
