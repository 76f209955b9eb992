// Package gctune owns kumo's garbage-collector setting: a floor under the
// heap goal, so that a server whose live heap is small (a few cached
// objects, a few connections) does not collect several times a second.
//
// With the default GOGC=100 the heap goal is twice the live heap; with 3 MB
// live, a cache serving 100,000 hits a second collects about three times a
// second, and each collection stops the world for a few milliseconds on one
// core: that is what the 99th percentile of latency then measures. Floor
// keeps GOGC=100 for a large heap and raises it for a small one, so that
// the goal is never below the floor. It reads the live heap after each
// collection (runtime/metrics) and sets GOGC for the next one. Untouched,
// the extra heap allowance is address space, not memory: the collector
// still runs once the floor is reached. A GOGC set in the environment
// wins: Floor then does nothing.
package gctune

import (
	"os"
	"runtime"
	"runtime/debug"
	"runtime/metrics"
	"sync/atomic"
)

// DefaultFloor is the heap goal kumo keeps at least (64 MiB).
const DefaultFloor = 64 << 20

// basePercent is GOGC above the floor: Go's default.
const basePercent = 100

// Floor keeps the heap goal at least floor bytes until stop is called. It
// returns a no-op stop when GOGC is set in the environment.
func Floor(floor uint64) (stop func()) {
	if os.Getenv("GOGC") != "" || floor == 0 {
		return func() {}
	}
	t := &tuner{floor: floor}
	t.tune()
	t.arm()
	return func() {
		if t.stopped.CompareAndSwap(false, true) {
			debug.SetGCPercent(basePercent)
		}
	}
}

type tuner struct {
	floor   uint64
	stopped atomic.Bool
}

// sentinel is garbage the collector finds once per cycle: its finalizer
// runs after each collection and arms the next.
type sentinel struct{ _ [16]byte }

func (t *tuner) arm() {
	s := new(sentinel)
	runtime.SetFinalizer(s, func(*sentinel) {
		if t.stopped.Load() {
			return
		}
		t.tune()
		t.arm()
	})
}

// tune sets GOGC so that the next goal is max(2 × live, floor).
func (t *tuner) tune() {
	debug.SetGCPercent(Percent(liveHeap(), t.floor))
}

// Percent is the GOGC that puts the heap goal at max(2 × live, floor) for
// a live heap of live bytes.
func Percent(live, floor uint64) int {
	if live == 0 || 2*live >= floor {
		return basePercent
	}
	return int(floor*100/live) - 100
}

// liveHeap is the heap the last collection marked live (the heap in use
// before the first collection).
func liveHeap() uint64 {
	s := []metrics.Sample{{Name: "/gc/heap/live:bytes"}, {Name: "/memory/classes/heap/objects:bytes"}}
	metrics.Read(s)
	for _, m := range s {
		if m.Value.Kind() == metrics.KindUint64 && m.Value.Uint64() > 0 {
			return m.Value.Uint64()
		}
	}
	return 0
}
