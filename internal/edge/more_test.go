package edge

import (
	"context"
	"crypto/tls"
	"io"
	"log"
	"net"
	"net/http"
	"testing"
	"time"

	"github.com/kumo-dev/kumo/internal/nettest"

	"github.com/kumo-dev/kumo/internal/model"
)

// TestOriginNoCommonTLSVersion: the origin speaks only TLS 1.3 while the
// origin's OriginSslProtocols allow only TLSv1.1.
func TestOriginNoCommonTLSVersion(t *testing.T) {
	ca := newCA(t)
	cert, err := ca.Issue([]string{"origin.example.com"})
	if err != nil {
		t.Fatal(err)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	srv := &http.Server{Handler: okHandler("x", ""), ErrorLog: log.New(io.Discard, "", 0),
		TLSConfig: &tls.Config{Certificates: []tls.Certificate{*cert}, MinVersion: tls.VersionTLS10, MaxVersion: tls.VersionTLS11}}
	go func() { _ = srv.ServeTLS(ln, "", "") }()
	t.Cleanup(func() { _ = srv.Close() })
	o := testOrigin("origin.example.com", model.OriginHTTPSOnly)
	// The list is a minimum: TLSv1.2 and up, and the origin stops at TLS 1.1.
	o.Custom.SSLProtocols = []string{"TLSv1.2"}
	ev := newEnv(t, ca, testStack(o, policyBehavior(CachingDisabledID, "")))
	ev.res.Set("origin.example.com", ln.Addr().String())
	r := ev.do(ev.client(true, false), "GET", "https://"+testDomain+"/", nil)
	if r.status != 502 || len(r.body) != 951 {
		t.Fatalf("status %d, %d bytes", r.status, len(r.body))
	}
	checkResult(t, ev.logs.wait(t, r.rid), "Error", "Error", "OriginConnectError")
	if got := ev.dialReason(true); got != ReasonOriginTLSProtocol {
		t.Errorf("reason = %s, want OriginTLSProtocol", got)
	}
}

// TestViewerGoneBeforeResponse: the viewer cancels while the origin is
// silent; the record says 000 and the origin fetch is abandoned.
func TestViewerGoneBeforeResponse(t *testing.T) {
	addr := nettest.SilentAddr(t)
	o := testOrigin("origin.example.com", model.OriginHTTPOnly)
	o.Custom.ReadTimeout = 60 * time.Second
	ev := newEnv(t, nil, testStack(o, policyBehavior(CachingOptimizedID, "")))
	ev.res.Set("origin.example.com", addr)
	ctx, cancel := context.WithCancel(context.Background())
	req, _ := http.NewRequestWithContext(ctx, "GET", "https://"+testDomain+"/slow", nil)
	done := make(chan error, 1)
	go func() {
		resp, err := ev.client(true, false).Do(req)
		if err == nil {
			resp.Body.Close()
		}
		done <- err
	}()
	// Wait until the edge has asked the origin, then go away.
	deadline := time.Now().Add(10 * time.Second)
	for ev.res.calls.Load() == 0 && time.Now().Before(deadline) {
		time.Sleep(5 * time.Millisecond)
	}
	cancel()
	if err := <-done; err == nil {
		t.Fatal("request succeeded")
	}
	deadline = time.Now().Add(10 * time.Second)
	for time.Now().Before(deadline) {
		ev.logs.mu.Lock()
		n := len(ev.logs.recs)
		var rec = func() *struct {
			status  int
			rt, det string
		} {
			if n == 0 {
				return nil
			}
			r := ev.logs.recs[0]
			return &struct {
				status  int
				rt, det string
			}{r.Status, r.ResultType, r.DetailedResultType}
		}()
		ev.logs.mu.Unlock()
		if rec != nil {
			if rec.status != 0 || rec.rt != "Error" || rec.det != "ClientCommError" {
				t.Errorf("record %+v", *rec)
			}
			return
		}
		time.Sleep(5 * time.Millisecond)
	}
	t.Fatal("no record for the abandoned request")
}

// TestOriginClosesMidBody: the origin promises 100 bytes, sends 10 and
// closes; the viewer's response is aborted, nothing is cached and the log
// says Error over Miss with OriginReadError.
func TestOriginClosesMidBody(t *testing.T) {
	org := startOrigin(t, func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Length", "100")
		w.Header().Set("Cache-Control", "max-age=600")
		w.WriteHeader(200)
		_, _ = w.Write([]byte("0123456789"))
		w.(http.Flusher).Flush()
		c, _, err := http.NewResponseController(w).Hijack()
		if err == nil {
			_ = c.Close()
		}
	}, nil)
	ev := newEnv(t, nil, testStack(testOrigin("origin.example.com", model.OriginHTTPOnly), policyBehavior(CachingOptimizedID, "")))
	ev.res.Set("origin.example.com", org.addr)
	c := ev.client(true, false)
	for i := 1; i <= 2; i++ {
		resp, err := c.Get("https://" + testDomain + "/cut")
		if err != nil {
			t.Fatal(err)
		}
		_, err = io.ReadAll(resp.Body)
		resp.Body.Close()
		if err == nil {
			t.Fatal("truncated body read without error")
		}
		rec := ev.logs.wait(t, resp.Header.Get("X-Amz-Cf-Id"))
		checkResult(t, rec, "Error", "Miss", "OriginReadError")
		if n := org.hits.Load(); n != int64(i) {
			t.Fatalf("origin hits %d, want %d (truncated object must not be cached)", n, i)
		}
	}
}
