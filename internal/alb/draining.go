package alb

import (
	"errors"
	"sync"
	"time"
)

// Target health reason of a draining target (alb.md §6.3).
const ReasonDeregistrationInProgress = "Target.DeregistrationInProgress"

// FailureDeregistrationDelayExpired: the target was deregistered by a
// reload and the request was still in flight when the deregistration
// delay expired → 502 (alb.md §6.6, §2.1).
const FailureDeregistrationDelayExpired Failure = "DeregistrationDelayExpired"

// errDeregistrationDelayExpired is the cancel cause of such requests.
var errDeregistrationDelayExpired = errors.New("alb: deregistration delay expired")

// drainEntry is one target a reload removed, draining until its
// deregistration delay expires (alb.md §6.6).
type drainEntry struct {
	key   healthKey
	th    TargetHealth
	until time.Time
	timer *time.Timer // cancels the old target's in-flight requests at until
}

// drainSet holds a load balancer's draining targets.
type drainSet struct {
	mu      sync.Mutex
	entries []*drainEntry
}

// initDrain implements deregistration on reload (alb.md §6.6): every target
// of prev that lb no longer registers (same target group ARN and Addr)
// becomes draining for its group's deregistration_delay.timeout_seconds.
// The old instance, still serving its in-flight requests, takes no new ones
// (they reach lb); when the delay expires, requests still in flight to the
// target are cancelled (→ 502). Draining entries of prev are carried over
// until they expire; a target registered again stops draining. Slow-start
// state of targets present in both is carried over too.
func (lb *LoadBalancer) initDrain(prev *LoadBalancer) {
	if prev == nil {
		return
	}
	now := lb.now()
	present := map[healthKey]*target{}
	delays := map[string]time.Duration{}
	for _, tg := range lb.groupList {
		delays[tg.model.ARN] = tg.opts.deregDelay
		for _, t := range tg.targets {
			present[healthKey{tg.model.ARN, t.model.Addr}] = t
		}
	}
	prev.drain.mu.Lock()
	for _, e := range prev.drain.entries {
		if _, back := present[e.key]; back {
			e.timer.Stop()
			continue
		}
		if now.Before(e.until) {
			lb.drain.entries = append(lb.drain.entries, e)
		}
	}
	prev.drain.mu.Unlock()
	old := prev.health.report()
	for i, t := range prev.health.targets {
		key := healthKey{t.tg.model.ARN, t.model.Addr}
		if nt, ok := present[key]; ok {
			nt.ext.slowStartFrom.Store(t.ext.slowStartFrom.Load())
			continue
		}
		delay, ok := delays[key.tgARN]
		if !ok {
			delay = t.tg.opts.deregDelay
		}
		th := old[i]
		th.State, th.Reason, th.Description = StateDraining, ReasonDeregistrationInProgress, "Target deregistration is in progress"
		lb.drain.entries = append(lb.drain.entries, &drainEntry{
			key: key, th: th, until: now.Add(delay),
			timer: time.AfterFunc(delay, t.ext.expireDrain),
		})
	}
}

// drainingHealth reports the targets still draining at now.
func (lb *LoadBalancer) drainingHealth(now time.Time) []TargetHealth {
	lb.drain.mu.Lock()
	defer lb.drain.mu.Unlock()
	var out []TargetHealth
	for _, e := range lb.drain.entries {
		if now.Before(e.until) {
			out = append(out, e.th)
		}
	}
	return out
}

// DrainingUntil is when the last target a reload removed stops draining
// (the zero time when none is draining). The runtime must keep the local
// servers of removed targets (and the previous LoadBalancer's listeners'
// in-flight requests) alive until then (alb.md §6.6).
func (lb *LoadBalancer) DrainingUntil() time.Time {
	lb.drain.mu.Lock()
	defer lb.drain.mu.Unlock()
	var last time.Time
	for _, e := range lb.drain.entries {
		if e.until.After(last) {
			last = e.until
		}
	}
	return last
}
