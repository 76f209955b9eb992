package edge

import (
	"bytes"
	"fmt"
	"io"
	"mime"
	"mime/multipart"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/kumo-dev/kumo/internal/model"
)

const digits = "0123456789abcdefghijklmnopqrstuvwxyz"

func TestRangeFromCachedObject(t *testing.T) {
	org := startOrigin(t, func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Cache-Control", "max-age=600")
		w.Header().Set("Content-Type", "text/plain")
		w.Header().Set("ETag", `"r1"`)
		_, _ = w.Write([]byte(digits)) // ignores Range
	}, nil)
	ev := newEnv(t, nil, testStack(testOrigin("origin.example.com", model.OriginHTTPOnly), policyBehavior(CachingOptimizedID, "")))
	ev.res.Set("origin.example.com", org.addr)
	c := ev.client(true, false)
	url := "https://" + testDomain + "/digits"
	// A miss whose origin ignores Range: the whole object, 200, cached.
	first := ev.do(c, "GET", url, http.Header{"Range": {"bytes=0-4"}})
	if first.status != 200 || string(first.body) != digits || first.header.Get("X-Cache") != xCacheMiss {
		t.Fatalf("origin ignoring Range: %d %q %s", first.status, first.body, first.header.Get("X-Cache"))
	}
	for _, tc := range []struct {
		name, rng    string
		status       int
		body         string
		contentRange string
		start, end   int64
	}{
		{"single", "bytes=0-4", 206, "01234", "bytes 0-4/36", 0, 4},
		{"open end", "bytes=30-", 206, "uvwxyz", "bytes 30-35/36", 30, 35},
		{"suffix", "bytes=-3", 206, "xyz", "bytes 33-35/36", 33, 35},
		{"end past size", "bytes=34-100", 206, "yz", "bytes 34-35/36", 34, 35},
		{"overlapping multi-range", "bytes=0-5,3-8", 200, digits, "", -1, -1},
		{"descending multi-range", "bytes=10-12,0-2", 200, digits, "", -1, -1},
		{"malformed", "bytes=a-b", 200, digits, "", -1, -1},
		{"not bytes", "items=0-1", 200, digits, "", -1, -1},
		{"unsatisfiable", "bytes=100-200", 416, "", "bytes */36", -1, -1},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r := ev.do(c, "GET", url, http.Header{"Range": {tc.rng}})
			if r.status != tc.status || string(r.body) != tc.body || r.header.Get("Content-Range") != tc.contentRange {
				t.Fatalf("%d %q Content-Range %q", r.status, r.body, r.header.Get("Content-Range"))
			}
			rec := ev.logs.wait(t, r.rid)
			if rec.RangeStart != tc.start || rec.RangeEnd != tc.end || rec.Status != tc.status {
				t.Errorf("log status %d range %d-%d, want %d %d-%d", rec.Status, rec.RangeStart, rec.RangeEnd, tc.status, tc.start, tc.end)
			}
		})
	}
	// Several ascending ranges: multipart/byteranges.
	r := ev.do(c, "GET", url, http.Header{"Range": {"bytes=0-1, 10-11"}})
	mt, params, err := mime.ParseMediaType(r.header.Get("Content-Type"))
	if r.status != 206 || err != nil || mt != "multipart/byteranges" {
		t.Fatalf("multi-range: %d %q %v", r.status, r.header.Get("Content-Type"), err)
	}
	mr := multipart.NewReader(bytes.NewReader(r.body), params["boundary"])
	var parts []string
	for {
		p, err := mr.NextPart()
		if err == io.EOF {
			break
		}
		if err != nil {
			t.Fatal(err)
		}
		b, _ := io.ReadAll(p)
		parts = append(parts, p.Header.Get("Content-Range")+"="+string(b)+";"+p.Header.Get("Content-Type"))
	}
	if got := strings.Join(parts, " "); got != "bytes 0-1/36=01;text/plain bytes 10-11/36=ab;text/plain" {
		t.Errorf("parts: %s", got)
	}
	// If-Range with a different validator: the whole object.
	if r := ev.do(c, "GET", url, http.Header{"Range": {"bytes=0-1"}, "If-Range": {`"other"`}}); r.status != 200 || string(r.body) != digits {
		t.Errorf("If-Range mismatch: %d %q", r.status, r.body)
	}
	if r := ev.do(c, "GET", url, http.Header{"Range": {"bytes=0-1"}, "If-Range": {`"r1"`}}); r.status != 206 || string(r.body) != "01" {
		t.Errorf("If-Range match: %d %q", r.status, r.body)
	}
	if n := org.hits.Load(); n != 1 {
		t.Errorf("origin hits = %d, want 1", n)
	}
}

// TestRangeCachedIndividually: an origin that answers a Range miss with 206
// is relayed, and that range is cached on its own (the same range is then a
// Hit), not as the whole object.
func TestRangeCachedIndividually(t *testing.T) {
	org := startOrigin(t, func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Cache-Control", "max-age=600")
		http.ServeContent(w, r, "x.txt", time.Unix(1e9, 0), strings.NewReader(digits))
	}, nil)
	ev := newEnv(t, nil, testStack(testOrigin("origin.example.com", model.OriginHTTPOnly), policyBehavior(CachingOptimizedID, "")))
	ev.res.Set("origin.example.com", org.addr)
	c := ev.client(true, false)
	url := "https://" + testDomain + "/p"
	r := ev.do(c, "GET", url, http.Header{"Range": {"bytes=2-3"}})
	if r.status != 206 || string(r.body) != "23" || r.header.Get("X-Cache") != xCacheMiss {
		t.Fatalf("partial miss: %d %q %s", r.status, r.body, r.header.Get("X-Cache"))
	}
	if rec := ev.logs.wait(t, r.rid); rec.RangeStart != 2 || rec.RangeEnd != 3 {
		t.Errorf("log range %d-%d", rec.RangeStart, rec.RangeEnd)
	}
	hit := ev.do(c, "GET", url, http.Header{"Range": {"bytes=2-3"}})
	if hit.status != 206 || string(hit.body) != "23" || hit.header.Get("X-Cache") != xCacheHit ||
		hit.header.Get("Content-Range") != "bytes 2-3/36" || hit.header.Get("Content-Length") != "2" {
		t.Errorf("same range again: %d %q %v", hit.status, hit.body, hit.header)
	}
	checkResult(t, ev.logs.wait(t, hit.rid), "Hit", "Hit", "Hit")
	if r := ev.do(c, "GET", url, http.Header{"Range": {"bytes=4-5"}}); r.status != 206 || string(r.body) != "45" || r.header.Get("X-Cache") != xCacheMiss {
		t.Errorf("another range: %d %q %s", r.status, r.body, r.header.Get("X-Cache"))
	}
	if r := ev.do(c, "GET", url, nil); r.status != 200 || string(r.body) != digits || r.header.Get("X-Cache") != xCacheMiss {
		t.Errorf("whole object after a partial: %d %q %s", r.status, r.body, r.header.Get("X-Cache"))
	}
	if r := ev.do(c, "GET", url, http.Header{"Range": {"bytes=4-5"}}); r.status != 206 || string(r.body) != "45" || r.header.Get("X-Cache") != xCacheHit {
		t.Errorf("range of the cached whole object: %d %q %s", r.status, r.body, r.header.Get("X-Cache"))
	}
	if n := org.hits.Load(); n != 3 {
		t.Errorf("origin hits = %d, want 3", n)
	}
}

func TestParseRange(t *testing.T) {
	for _, tc := range []struct {
		in   string
		size int64
		want string
		out  rangeOutcome
	}{
		{"bytes=0-0", 10, "[{0 0}]", rangeSatisfiable},
		{"bytes=0-1,2-3", 10, "[{0 1} {2 3}]", rangeSatisfiable},
		{"bytes=0-1,1-3", 10, "[]", rangeIgnore},
		{"bytes=5-1", 10, "[]", rangeIgnore},
		{"bytes=", 10, "[]", rangeIgnore},
		{"bytes=-0", 10, "[]", rangeUnsatisfiable},
		{"bytes=10-", 10, "[]", rangeUnsatisfiable},
		{"bytes=0-", 0, "[]", rangeUnsatisfiable},
		{"bytes=20-30,0-1", 10, "[{0 1}]", rangeSatisfiable},
	} {
		got, out := parseRange(tc.in, tc.size)
		s := fmt.Sprint(got)
		if s != tc.want || out != tc.out {
			t.Errorf("parseRange(%q, %d) = %s %d, want %s %d", tc.in, tc.size, s, out, tc.want, tc.out)
		}
	}
}
