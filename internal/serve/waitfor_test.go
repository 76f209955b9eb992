package serve

import (
	"testing"
	"time"
)

// WaitFor returns the next value from ch, failing the test when none
// comes within 10 s. It is in package serve, not serve_test, so that the
// tests of both packages wait the same way.
func WaitFor[T any](t *testing.T, ch <-chan T, what string) T {
	t.Helper()
	select {
	case v := <-ch:
		return v
	case <-time.After(10 * time.Second):
		t.Fatalf("timed out waiting for %s", what)
	}
	var zero T
	return zero
}
