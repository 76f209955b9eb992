package alb

import (
	"encoding/hex"
	"math/rand/v2"
	"strings"
	"time"
)

// traceHeaderLimit is the total request-header size above which the trace
// header is replaced by a fresh Root (alb.md §4.4: "larger than 7 KB").
const traceHeaderLimit = 7 << 10

// traceHeader implements X-Amzn-Trace-Id (alb.md §4.4): with no header (or
// no Root field) the LB adds Root=1-<8 hex epoch>-<24 hex random>; with a
// Root it inserts Self=1-… in front, or replaces an existing Self value,
// keeping the other fields in place; when the request headers exceed 7 KB
// the header becomes a fresh Root alone. The epoch is the request's
// creation time in seconds. A header without Root gets the Root prepended
// (UNCONFIRMED: not described).
func traceHeader(existing []string, created time.Time, headerBytes int64) string {
	if len(existing) == 0 || headerBytes > traceHeaderLimit {
		var b [len("Root=") + traceIDLen]byte
		copy(b[:], "Root=")
		putTraceID(b[len("Root="):], created)
		return string(b[:])
	}
	id := newTraceID(created)
	cur := strings.Join(existing, ",")
	fields := strings.Split(cur, ";")
	hasRoot, selfAt := false, -1
	for i, f := range fields {
		k, _, _ := strings.Cut(strings.TrimSpace(f), "=")
		switch k {
		case "Root":
			hasRoot = true
		case "Self":
			selfAt = i
		}
	}
	if !hasRoot {
		return "Root=" + id + ";" + cur
	}
	if selfAt >= 0 {
		fields[selfAt] = "Self=" + id
		return strings.Join(fields, ";")
	}
	return "Self=" + id + ";" + cur
}

// newTraceID returns 1-<8 hex epoch seconds>-<24 lowercase hex random>.
func newTraceID(created time.Time) string {
	var b [traceIDLen]byte
	putTraceID(b[:], created)
	return string(b[:])
}

// traceIDLen is the length of a trace id: 1-<8 hex>-<24 hex>.
const traceIDLen = 35

// putTraceID writes newTraceID's id into b (traceIDLen bytes).
func putTraceID(b []byte, created time.Time) {
	b[0], b[1] = '1', '-'
	e := uint32(created.Unix())
	hex.Encode(b[2:10], []byte{byte(e >> 24), byte(e >> 16), byte(e >> 8), byte(e)})
	b[10] = '-'
	var r [12]byte
	x, y := rand.Uint64(), rand.Uint32()
	for i := 0; i < 8; i++ {
		r[i] = byte(x >> (8 * i))
	}
	for i := 0; i < 4; i++ {
		r[8+i] = byte(y >> (8 * i))
	}
	hex.Encode(b[11:], r[:])
}
