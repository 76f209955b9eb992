package edge

import (
	"bytes"
	"net"
	"runtime"
	"testing"
	"time"

	"github.com/kumo-dev/kumo/internal/accesslog"
	"github.com/kumo-dev/kumo/internal/model"
)

// TestLeanHitAllocatesNothing: a keep-alive viewer repeating a cached GET
// over the HTTP listener costs the edge no allocation per request (serve's
// lean engine, the cache key and lookup, the ready response, the request id
// and the log line formatted into a reused buffer). With nothing allocated
// the collector does not run during a stream of hits, and its pauses stay
// out of their latency.
func TestLeanHitAllocatesNothing(t *testing.T) {
	if raceEnabled {
		t.Skip("the race detector makes sync.Pool drop what is put back")
	}
	org := startOrigin(t, okHandler(kib, "max-age=3600"), nil)
	ev := newEnv(t, nil, testStack(testOrigin("origin.example.com", model.OriginHTTPOnly), policyBehavior(CachingOptimizedID, "")))
	ev.res.Set("origin.example.com", org.addr)
	var line []byte
	lines := 0
	ev.edge.cfg.Log = func(_ *model.Distribution, rec *accesslog.CloudFrontRecord) {
		line = rec.AppendLine(line[:0]) // what the runtime's log writer does
		lines++
	}

	c, err := net.Dial("tcp", ev.httpSrv.Addr())
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	req := []byte("GET /hit HTTP/1.1\r\nHost: " + testDomain + "\r\nUser-Agent: alloc-test\r\nAccept-Encoding: gzip\r\n\r\n")
	buf := make([]byte, 16<<10)
	exchange := func() (head []byte) {
		if _, err := c.Write(req); err != nil {
			t.Fatal(err)
		}
		_ = c.SetReadDeadline(time.Now().Add(10 * time.Second))
		n := 0
		for {
			m, err := c.Read(buf[n:])
			if err != nil {
				t.Fatalf("read: %v (after %q)", err, buf[:n])
			}
			n += m
			end := bytes.Index(buf[:n], []byte("\r\n\r\n"))
			if end < 0 {
				continue
			}
			i := bytes.Index(buf[:end], []byte("\r\nContent-Length: "))
			if i < 0 {
				t.Fatalf("no Content-Length in %q", buf[:end])
			}
			j := i + len("\r\nContent-Length: ")
			cl := 0
			for ; buf[j] >= '0' && buf[j] <= '9'; j++ {
				cl = cl*10 + int(buf[j]-'0')
			}
			if n == end+4+cl {
				return buf[:end]
			}
		}
	}
	for i, want := range []string{"X-Cache: Miss from cloudfront", "X-Cache: Hit from cloudfront", "X-Cache: Hit from cloudfront"} {
		if head := exchange(); !bytes.Contains(head, []byte(want)) {
			t.Fatalf("request %d: want %q in\n%s", i, want, head)
		}
	}

	const n = 2000
	before := lines
	var m0, m1 runtime.MemStats
	runtime.ReadMemStats(&m0)
	for range n {
		exchange()
	}
	runtime.ReadMemStats(&m1)
	if lines-before != n {
		t.Fatalf("%d log records for %d requests", lines-before, n)
	}
	// A little slack for what runs beside the requests (the runtime's own
	// bookkeeping, a timer); a per-request allocation would be >= n.
	got := m1.Mallocs - m0.Mallocs
	t.Logf("%d allocations for %d hits", got, n)
	if got > n/100 {
		t.Errorf("%d allocations for %d hits (%.2f per hit), want none per hit", got, n, float64(got)/n)
	}
	if !bytes.Contains(line, []byte("\tHit\t")) {
		t.Errorf("last log line %q is not a Hit", line)
	}
}
