package accesslog

import (
	"fmt"
	"math"
	"math/rand/v2"
	"testing"
	"time"
)

// TestAppendSeconds3 checks the seconds-with-three-decimals writer against
// d.Round(time.Millisecond) printed with %.3f: the edges of each rounding
// step, the fast and the long form, the largest durations, and random ones.
func TestAppendSeconds3(t *testing.T) {
	ref := func(d time.Duration) string {
		ms := int64(d.Round(time.Millisecond) / time.Millisecond)
		return fmt.Sprintf("%d.%03d", ms/1000, ms%1000)
	}
	ds := []time.Duration{0, 1, 499_999, 500_000, 500_001, 999_999, time.Millisecond,
		1_499_999, 1_500_000, 9_999_499_999, 9_999_500_000, 10 * time.Second,
		time.Hour + 123_456_789, math.MaxInt64 - time.Millisecond/2, math.MaxInt64 - time.Millisecond/2 + 1, math.MaxInt64}
	r := rand.New(rand.NewPCG(1, 2))
	for range 10000 {
		ds = append(ds, time.Duration(r.Int64N(int64(20*time.Second))), time.Duration(r.Int64()))
	}
	for _, d := range ds {
		if got, want := string(appendSeconds3(nil, d)), ref(d); got != want {
			t.Fatalf("appendSeconds3(%d) = %s, want %s", d, got, want)
		}
	}
}
