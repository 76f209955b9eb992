package edge

import (
	"fmt"
	"io"
	"net"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/kumo-dev/kumo/internal/model"
)

// TestClientHungUpRequest: a viewer that stops while sending its request
// body is logged 000 Error with ClientHungUpRequest.
func TestClientHungUpRequest(t *testing.T) {
	org := startOrigin(t, func(w http.ResponseWriter, r *http.Request) {
		_, _ = io.Copy(io.Discard, r.Body)
		_, _ = w.Write([]byte("ok"))
	}, nil)
	beh := policyBehavior(CachingDisabledID, "")
	beh.AllowedMethods = []string{"GET", "HEAD", "OPTIONS", "PUT", "PATCH", "POST", "DELETE"}
	ev := newEnv(t, nil, testStack(testOrigin("origin.example.com", model.OriginHTTPOnly), beh))
	ev.res.Set("origin.example.com", org.addr)
	c, err := net.Dial("tcp", ev.httpSrv.Addr())
	if err != nil {
		t.Fatal(err)
	}
	fmt.Fprintf(c, "POST /upload HTTP/1.1\r\nHost: %s\r\nContent-Length: 100000\r\n\r\n%s", testDomain, strings.Repeat("x", 10))
	waitFor(t, "the origin request", func() bool { return org.hits.Load() == 1 })
	_ = c.Close()
	deadline := time.Now().Add(10 * time.Second)
	for {
		ev.logs.mu.Lock()
		n := len(ev.logs.recs)
		var status int
		var rt, det string
		if n > 0 {
			r := ev.logs.recs[0]
			status, rt, det = r.Status, r.ResultType, r.DetailedResultType
		}
		ev.logs.mu.Unlock()
		if n > 0 {
			if status != 0 || rt != "Error" || det != "ClientHungUpRequest" {
				t.Errorf("record: %d %s %s", status, rt, det)
			}
			return
		}
		if time.Now().After(deadline) {
			t.Fatal("no record")
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// TestOriginContentRangeLengthError: an origin 206 whose Content-Length
// disagrees with its Content-Range is a 502 OriginContentRangeLengthError.
func TestOriginContentRangeLengthError(t *testing.T) {
	org := startOrigin(t, func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Range", "bytes 0-9/100")
		w.Header().Set("Content-Length", "5")
		w.WriteHeader(http.StatusPartialContent)
		_, _ = w.Write([]byte("01234"))
	}, nil)
	ev := newEnv(t, nil, testStack(testOrigin("origin.example.com", model.OriginHTTPOnly), policyBehavior(CachingOptimizedID, "")))
	ev.res.Set("origin.example.com", org.addr)
	r := ev.do(ev.client(true, false), "GET", "https://"+testDomain+"/cr", http.Header{"Range": {"bytes=0-9"}})
	if r.status != 502 || !strings.Contains(string(r.body), msgComm) {
		t.Fatalf("%d %q", r.status, r.body)
	}
	checkEdgeHeaders(t, r, xCacheError)
	checkResult(t, ev.logs.wait(t, r.rid), "Error", "Error", "OriginContentRangeLengthError")
}

// TestViewerGoneMidBodyOnHit: a viewer that hangs up while a cached object
// is being sent is logged Error over Hit with ClientCommError (§1.6).
func TestViewerGoneMidBodyOnHit(t *testing.T) {
	big := strings.Repeat("z", 16<<20)
	org := startOrigin(t, okHandler(big, "max-age=600"), nil)
	ev := newEnv(t, nil, testStack(testOrigin("origin.example.com", model.OriginHTTPOnly), policyBehavior(CachingOptimizedID, "")))
	ev.res.Set("origin.example.com", org.addr)
	url := "https://" + testDomain + "/big"
	if r := ev.do(ev.client(true, false), "GET", url, nil); len(r.body) != len(big) {
		t.Fatalf("prime: %d bytes", len(r.body))
	}
	resp, err := ev.client(true, false).Get(url)
	if err != nil {
		t.Fatal(err)
	}
	rid := resp.Header.Get("X-Amz-Cf-Id")
	if _, err := io.ReadFull(resp.Body, make([]byte, 1024)); err != nil {
		t.Fatal(err)
	}
	resp.Body.Close() // closes the connection before the body is read
	rec := ev.logs.wait(t, rid)
	if rec.Status != 200 || rec.ResultType != "Error" || rec.ResponseResultType != "Hit" || rec.DetailedResultType != "ClientCommError" {
		t.Errorf("record: %d %s/%s/%s", rec.Status, rec.ResultType, rec.ResponseResultType, rec.DetailedResultType)
	}
	if rec.SCBytes >= int64(len(big)) {
		t.Errorf("sc-bytes %d: the whole object was sent", rec.SCBytes)
	}
}
