package gctune

import (
	"runtime"
	"runtime/debug"
	"testing"
	"time"
)

func TestPercent(t *testing.T) {
	for _, c := range []struct {
		live, floor uint64
		want        int
	}{
		{0, 64 << 20, 100},
		{3 << 20, 64 << 20, 2033},  // goal 64 MiB (rounded down)
		{32 << 20, 64 << 20, 100},  // 2 × live reaches the floor
		{100 << 20, 64 << 20, 100}, // large heap: Go's default
		{16 << 20, 64 << 20, 300},  // goal exactly 64 MiB
		{1, 1 << 30, 107374182300}, // tiny live heap, big floor
	} {
		if got := Percent(c.live, c.floor); got != c.want {
			t.Errorf("Percent(%d, %d) = %d, want %d", c.live, c.floor, got, c.want)
		}
	}
}

// TestFloorFollowsCollections: after a collection the tuner has set GOGC
// for the live heap it found, and stop puts Go's default back.
func TestFloorFollowsCollections(t *testing.T) {
	t.Setenv("GOGC", "")
	stop := Floor(1 << 40) // far above any live heap: GOGC goes up
	defer stop()
	deadline := time.Now().Add(10 * time.Second)
	for {
		runtime.GC()
		cur := debug.SetGCPercent(100)
		debug.SetGCPercent(cur)
		if cur > 1000 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("GOGC is %d after collections; want it raised toward the floor", cur)
		}
		time.Sleep(time.Millisecond)
	}
	stop()
	if cur := debug.SetGCPercent(100); cur != 100 {
		t.Errorf("after stop GOGC is %d, want 100", cur)
	}
}
