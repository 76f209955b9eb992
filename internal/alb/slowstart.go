package alb

import "time"

// slowStartWeight implements the slow-start ramp (alb.md §6.5): a target
// that entered slow start d ago gets weight elapsed/d, growing linearly to
// 1 (full share) at the end of the window; other targets weigh 1.
func slowStartWeight(t *target, now time.Time, d time.Duration) float64 {
	from := t.ext.slowStartFrom.Load()
	if from == 0 || d <= 0 {
		return 1
	}
	el := now.Sub(time.Unix(0, from))
	if el >= d {
		t.ext.slowStartFrom.CompareAndSwap(from, 0) // window over
		return 1
	}
	if el < 0 {
		return 0
	}
	return float64(el) / float64(d)
}

// anyInSlowStart reports whether a candidate is still ramping up at now.
func anyInSlowStart(cands []*target, now time.Time, d time.Duration) bool {
	for _, t := range cands {
		if t.ext.slowStartFrom.Load() != 0 && slowStartWeight(t, now, d) < 1 {
			return true
		}
	}
	return false
}

// slowStartTransition implements slow-start entry and exit (alb.md §6.5):
// a target that becomes healthy enters slow start when the group has slow
// start on and at least one other healthy target not in slow start (so
// neither the targets of an empty group registered together nor targets
// already healthy enter it); a target that leaves healthy exits it.
func (tg *targetGroup) slowStartTransition(t *target, before, after string, now time.Time) {
	if after != StateHealthy {
		t.ext.slowStartFrom.Store(0)
		return
	}
	if before == StateHealthy || tg.opts.slowStart <= 0 {
		return
	}
	for _, o := range tg.targets {
		if o != t && routable(o) && o.ext.slowStartFrom.Load() == 0 {
			t.ext.slowStartFrom.Store(now.UnixNano())
			return
		}
	}
}
