package serve

import (
	"strings"
	"testing"
	"unsafe"
)

// TestHeadLines: a connection's heads split into lines as a plain split
// would, whatever the previous head was; lines that repeat the previous
// head's line at the same position reuse its string, and a head that
// repeats the previous one whole allocates nothing.
func TestHeadLines(t *testing.T) {
	heads := []string{
		"GET / HTTP/1.1\r\nHost: a\r\nUser-Agent: x\r\n\r\n",
		"GET / HTTP/1.1\r\nHost: a\r\nUser-Agent: x\r\n\r\n",      // all repeat
		"GET /b HTTP/1.1\r\nHost: a\r\nUser-Agent: x\r\n\r\n",     // the first differs
		"GET /b HTTP/1.1\r\nUser-Agent: x\r\nHost: a\r\n\r\n",     // moved lines do not repeat
		"GET /b HTTP/1.1\r\nUser-Agent: x\r\n\r\n",                // fewer lines
		"GET /b HTTP/1.1\r\nUser-Agent: x\r\nA: \r\nB: 1\r\n\r\n", // more lines
		"GET /b HTTP/1.1\r\n\r\n",
		"\r\n\r\n",
		"GET /c HTTP/1.1\r\nX: a\rb\r\nY: a\nb\r\n\r\n", // stray CR and LF stay in their lines
		"GET /c HTTP/1.1\r\nX: a\rb\r\nY: a\nb\r\n\r\n",
	}
	lc := &leanConn{}
	var kept [][]string
	for i, h := range heads {
		got := lc.headLines([]byte(h))
		want := strings.Split(strings.TrimSuffix(h, "\r\n\r\n"), "\r\n")
		if strings.Join(got, "|") != strings.Join(want, "|") || len(got) != len(want) {
			t.Fatalf("head %d: lines %q, want %q", i, got, want)
		}
		kept = append(kept, append([]string(nil), got...))
	}
	// What an earlier request's strings say has not changed.
	for i, h := range heads {
		want := strings.Split(strings.TrimSuffix(h, "\r\n\r\n"), "\r\n")
		if strings.Join(kept[i], "|") != strings.Join(want, "|") {
			t.Fatalf("head %d changed after later heads: %q", i, kept[i])
		}
	}
	// Reuse: the same backing bytes for a repeated line.
	if a, b := kept[0][1], kept[1][1]; !sameString(a, b) {
		t.Errorf("a repeated Host line was copied again")
	}
	if a, b := kept[1][0], kept[2][0]; sameString(a, b) {
		t.Errorf("a changed request line shares the old string")
	}

	raw := []byte(heads[0])
	lc = &leanConn{}
	lc.headLines(raw)
	lc.headLines(raw)
	if n := testing.AllocsPerRun(100, func() { lc.headLines(raw) }); n != 0 {
		t.Errorf("a repeated head: %v allocations, want 0", n)
	}
	other := []byte(heads[2])
	if n := testing.AllocsPerRun(100, func() { lc.headLines(raw); lc.headLines(other) }); n != 2 {
		t.Errorf("two heads that differ in one line, alternating: %v allocations, want 2 (one per head)", n)
	}
}

// sameString reports whether a and b share their bytes.
func sameString(a, b string) bool {
	return len(a) > 0 && len(a) == len(b) && unsafe.StringData(a) == unsafe.StringData(b)
}
