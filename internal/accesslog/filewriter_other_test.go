//go:build !linux

package accesslog

import "testing"

// probeRing: io_uring is Linux's; the ring mode's tests skip elsewhere.
func probeRing(t *testing.T) {
	t.Helper()
	t.Skip("io_uring: Linux only")
}
