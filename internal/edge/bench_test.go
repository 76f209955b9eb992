package edge

import (
	"context"
	"crypto/tls"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/quic-go/quic-go"
	"github.com/quic-go/quic-go/http3"

	"github.com/kumo-dev/kumo/internal/accesslog"
	"github.com/kumo-dev/kumo/internal/model"
)

var kib = strings.Repeat("k", 1024)

// BenchmarkHit: keep-alive HTTP/1.1 viewer over loopback TLS, 1 KiB cached object.
func BenchmarkHit(b *testing.B) {
	org := startOrigin(b, okHandler(kib, "max-age=3600"), nil)
	ev := newEnv(b, nil, testStack(testOrigin("origin.example.com", model.OriginHTTPOnly), policyBehavior(CachingOptimizedID, "")))
	ev.res.Set("origin.example.com", org.addr)
	c := ev.client(true, false)
	url := "https://" + testDomain + "/bench"
	if r := ev.do(c, "GET", url, nil); r.status != 200 {
		b.Fatalf("prime: %d", r.status)
	}
	req, _ := http.NewRequest("GET", url, nil)
	b.ReportAllocs()
	b.ResetTimer()
	for b.Loop() {
		resp, err := c.Do(req)
		if err != nil {
			b.Fatal(err)
		}
		n, _ := io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
		if n != 1024 || resp.Header.Get("X-Cache") != xCacheHit {
			b.Fatalf("got %d bytes, %s", n, resp.Header.Get("X-Cache"))
		}
	}
	b.StopTimer()
	if org.hits.Load() != 1 {
		b.Fatalf("origin hits %d", org.hits.Load())
	}
}

// discardWriter is a reusable ResponseWriter for the socket-less benchmark.
type discardWriter struct {
	h      http.Header
	status int
	n      int
}

func (w *discardWriter) Header() http.Header         { return w.h }
func (w *discardWriter) WriteHeader(s int)           { w.status = s }
func (w *discardWriter) Write(p []byte) (int, error) { w.n += len(p); return len(p), nil }

// BenchmarkHitPath: the edge's hit path without sockets (routing, behavior,
// cache key, lookup, headers, log record).
func BenchmarkHitPath(b *testing.B) {
	org := startOrigin(b, okHandler(kib, "max-age=3600"), nil)
	ev := newEnv(b, nil, testStack(testOrigin("origin.example.com", model.OriginHTTPOnly), policyBehavior(CachingOptimizedID, "")))
	ev.res.Set("origin.example.com", org.addr)
	req := httptest.NewRequest("GET", "https://"+testDomain+"/bench", nil)
	req.Header.Set("Accept-Encoding", "gzip")
	req.Header.Set("User-Agent", "bench")
	req.TLS.Version, req.TLS.CipherSuite = tls.VersionTLS13, tls.TLS_AES_128_GCM_SHA256
	req.RemoteAddr = "192.0.2.10:50000"
	ev.edge.cfg.Log = func(*model.Distribution, *accesslog.CloudFrontRecord) {}
	w := &discardWriter{h: http.Header{}}
	ev.edge.serve(w, req, true, false)
	if w.status != 200 {
		b.Fatalf("prime: %d", w.status)
	}
	b.ReportAllocs()
	b.ResetTimer()
	for b.Loop() {
		clear(w.h)
		w.n = 0
		ev.edge.serve(w, req, true, false)
		if w.n != 1024 {
			b.Fatalf("wrote %d", w.n)
		}
	}
}

// BenchmarkHitHTTP3: the same hit over HTTP/3 (QUIC on loopback UDP), one
// connection, 16 requests at a time per CPU.
func BenchmarkHitHTTP3(b *testing.B) {
	org := startOrigin(b, okHandler(kib, "max-age=3600"), nil)
	h3 := startHTTP3(b)
	ev := newEnv(b, nil, testStack(testOrigin("origin.example.com", model.OriginHTTPOnly), policyBehavior(CachingOptimizedID, ""),
		func(d *model.Distribution) { d.HTTPVersion = "http2and3" }))
	ev.res.Set("origin.example.com", org.addr)
	ev.edge.cfg.Log = func(*model.Distribution, *accesslog.CloudFrontRecord) {}
	h3.Swap(ev.edge)
	tr := &http3.Transport{
		TLSClientConfig: &tls.Config{RootCAs: ev.ca.Pool()},
		Dial: func(ctx context.Context, _ string, tlsCfg *tls.Config, cfg *quic.Config) (*quic.Conn, error) {
			return quic.DialAddrEarly(ctx, h3.Addr(), tlsCfg, cfg)
		},
	}
	b.Cleanup(func() { _ = tr.Close() })
	c := &http.Client{Transport: tr, Timeout: 10 * time.Second}
	req, _ := http.NewRequest("GET", "https://"+testDomain+"/bench", nil)
	get := func() error {
		resp, err := c.Do(req)
		if err != nil {
			return err
		}
		n, _ := io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
		if n != 1024 || resp.ProtoMajor != 3 {
			return fmt.Errorf("got %d bytes over %s", n, resp.Proto)
		}
		return nil
	}
	if err := get(); err != nil { // the miss that stores it
		b.Fatal(err)
	}
	b.ReportAllocs()
	b.SetParallelism(16)
	b.ResetTimer()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			if err := get(); err != nil {
				b.Error(err)
				return
			}
		}
	})
	b.StopTimer()
	if org.hits.Load() != 1 {
		b.Fatalf("origin hits %d", org.hits.Load())
	}
}
