package logs

import (
	"math/bits"
	"time"
)

// Log-bucket histogram parameters. Values are whole microseconds; below
// histSubBuckets each value has its own bucket (exact); above, each power of
// two is split into histSubBuckets equal buckets, so a bucket spans at most
// 1/histSubBuckets of its lower bound. Reporting the bucket midpoint makes
// every quantile correct to within ±1/(2·histSubBuckets) = ±0.39 % relative
// (plus the input's own precision: CloudFront and ALB log milliseconds).
const (
	histSubBits    = 7
	histSubBuckets = 1 << histSubBits
	histBuckets    = histSubBuckets + (64-histSubBits)*histSubBuckets
)

// QuantileRelativeError is the documented worst-case relative error of the
// streaming quantile estimator (the bucket half-width).
const QuantileRelativeError = 1.0 / (2 * histSubBuckets)

// LogHistogram is a fixed-size streaming quantile estimator: ~58 KB
// whatever the number of values, O(1) per value, no allocation.
type LogHistogram struct {
	counts [histBuckets]int64
	n      int64
	max    uint64
}

// histIndex returns the bucket of v.
func histIndex(v uint64) int {
	if v < histSubBuckets {
		return int(v)
	}
	e := bits.Len64(v) - histSubBits - 1 // v>>e is in [128, 256)
	return histSubBuckets + e*histSubBuckets + int(v>>uint(e)) - histSubBuckets
}

// histBounds returns the inclusive lower bound and the width of bucket i.
func histBounds(i int) (lo, width uint64) {
	if i < histSubBuckets {
		return uint64(i), 1
	}
	e := (i - histSubBuckets) / histSubBuckets
	m := uint64((i-histSubBuckets)%histSubBuckets + histSubBuckets)
	return m << uint(e), 1 << uint(e)
}

// Add records one duration; negative durations (not measured) are ignored.
func (h *LogHistogram) Add(d time.Duration) {
	if d < 0 {
		return
	}
	v := uint64(d / time.Microsecond)
	h.counts[histIndex(v)]++
	h.n++
	if v > h.max {
		h.max = v
	}
}

// Count is the number of values recorded.
func (h *LogHistogram) Count() int64 { return h.n }

// Quantile returns the q-quantile (0 < q ≤ 1): the midpoint of the bucket
// holding the value of rank ceil(q·n); 0 when empty.
func (h *LogHistogram) Quantile(q float64) time.Duration {
	if h.n == 0 {
		return 0
	}
	rank := int64(q*float64(h.n) + 0.999999999)
	if rank < 1 {
		rank = 1
	}
	var seen int64
	for i, c := range h.counts {
		seen += c
		if seen >= rank {
			lo, w := histBounds(i)
			mid := lo + (w-1)/2
			if mid > h.max {
				mid = h.max
			}
			return time.Duration(mid) * time.Microsecond
		}
	}
	return time.Duration(h.max) * time.Microsecond
}

// Max is the largest value recorded.
func (h *LogHistogram) Max() time.Duration { return time.Duration(h.max) * time.Microsecond }
