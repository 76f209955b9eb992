package alb

import (
	"io"
	"net/http"
	"sync/atomic"
	"testing"
	"time"

	"github.com/kumo-dev/kumo/internal/accesslog"
)

// BenchmarkForward measures one keep-alive HTTP/1.1 request through the ALB
// to a target (client → ALB → target), access-log callback included.
func BenchmarkForward(b *testing.B) {
	body := make([]byte, 1024)
	be := newBackend(b, "A", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/octet-stream")
		_, _ = w.Write(body)
	})
	tg := mkTG("alb-tg", be.target("10.0.4.254:80"))
	tg.HealthCheck.Enabled = false
	l := httpListener(80, forward(tg))
	var logged atomic.Int64
	ru := start(b, Config{LB: loadBalancer(l), Log: func(*accesslog.ALBRecord) { logged.Add(1) }})
	tr := &http.Transport{MaxIdleConnsPerHost: 4}
	b.Cleanup(tr.CloseIdleConnections)
	c := &http.Client{Transport: tr, Timeout: 10 * time.Second}
	url := "http://" + ru.addrs[l] + "/bench"
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		resp, err := c.Get(url)
		if err != nil {
			b.Fatal(err)
		}
		n, _ := io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
		if resp.StatusCode != 200 || n != int64(len(body)) {
			b.Fatalf("status %d, %d bytes", resp.StatusCode, n)
		}
	}
}

// BenchmarkDirect is BenchmarkForward's baseline: the same client and target
// without the ALB in between.
func BenchmarkDirect(b *testing.B) {
	body := make([]byte, 1024)
	be := newBackend(b, "A", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/octet-stream")
		_, _ = w.Write(body)
	})
	tr := &http.Transport{MaxIdleConnsPerHost: 4}
	b.Cleanup(tr.CloseIdleConnections)
	c := &http.Client{Transport: tr, Timeout: 10 * time.Second}
	url := "http://" + be.addr() + "/bench"
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		resp, err := c.Get(url)
		if err != nil {
			b.Fatal(err)
		}
		_, _ = io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
	}
}
