package alb

import (
	"math/rand/v2"
	"time"
)

// pickTarget chooses the target for a new request (alb.md §2.2, §6.4,
// §6.5): the candidates are the routable targets, or, when the group is
// below its minimum healthy targets (failOpen), every target that may take
// traffic then; the group's algorithm picks among them, with targets in
// slow start weighted by their ramp. It returns nil when no target can take
// the request (→ 503).
func (tg *targetGroup) pickTarget(now time.Time) *target {
	n := len(tg.targets)
	if n == 0 {
		return nil
	}
	healthy := 0
	for _, t := range tg.targets {
		if routable(t) {
			healthy++
		}
	}
	var buf [32]*target
	cands := buf[:0]
	open := tg.opts.failOpen(healthy, n)
	for _, t := range tg.targets {
		if routable(t) || (open && t.failOpenNow()) {
			cands = append(cands, t)
		}
	}
	if len(cands) == 0 {
		return nil
	}
	seq := tg.rr.Add(1) - 1
	switch tg.opts.algorithm {
	case AlgorithmLeastOutstandingRequests:
		return leastOutstanding(cands, seq)
	case AlgorithmWeightedRandom:
		return weightedRandom(cands, now, tg.opts.slowStart)
	}
	if tg.opts.slowStart > 0 && anyInSlowStart(cands, now, tg.opts.slowStart) {
		return weightedRandom(cands, now, tg.opts.slowStart)
	}
	return roundRobin(cands, seq)
}

// failOpen implements the fail-open rule and the unhealthy-state routing
// thresholds (alb.md §2.2): with no healthy target, or fewer healthy
// targets than minimum_healthy_targets.count, or a healthy share below
// minimum_healthy_targets.percentage of the registered targets (either
// threshold breached), traffic goes to all targets, unhealthy ones included.
func (o *tgOptions) failOpen(healthy, registered int) bool {
	if healthy == 0 {
		return true
	}
	if o.minHealthyCount > 0 && healthy < o.minHealthyCount {
		return true
	}
	return o.minHealthyPct > 0 && healthy*100 < o.minHealthyPct*registered
}

// failOpenNow reports whether t takes traffic while its group fails open
// (see failOpenCandidate).
func (t *target) failOpenNow() bool {
	t.mu.Lock()
	ok := failOpenCandidate(t.health.state)
	t.mu.Unlock()
	return ok
}

// roundRobin implements round_robin (alb.md §6.4): the candidates in turn.
func roundRobin(cands []*target, seq uint64) *target {
	return cands[int(seq%uint64(len(cands)))]
}

// leastOutstanding implements least_outstanding_requests (alb.md §6.4): the
// candidate with the fewest requests in flight; ties go round robin.
func leastOutstanding(cands []*target, seq uint64) *target {
	start := int(seq % uint64(len(cands)))
	best := cands[start]
	min := best.ext.inflight.Load()
	for i := 1; i < len(cands); i++ {
		t := cands[(start+i)%len(cands)]
		if n := t.ext.inflight.Load(); n < min {
			best, min = t, n
		}
	}
	return best
}

// weightedRandom implements weighted_random (alb.md §6.4) with anomaly
// mitigation off: a random candidate, each weighted 1, or by its slow-start
// ramp (§6.5) while in slow start.
func weightedRandom(cands []*target, now time.Time, slowStart time.Duration) *target {
	var wbuf [32]float64
	ws := wbuf[:0]
	total := 0.0
	for _, t := range cands {
		w := slowStartWeight(t, now, slowStart)
		ws = append(ws, w)
		total += w
	}
	if total <= 0 {
		return cands[rand.IntN(len(cands))]
	}
	x := rand.Float64() * total
	for i, w := range ws {
		if x < w {
			return cands[i]
		}
		x -= w
	}
	return cands[len(cands)-1]
}
