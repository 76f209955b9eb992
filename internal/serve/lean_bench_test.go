package serve_test

import (
	"bufio"
	"io"
	"net"
	"net/http"
	"testing"

	"github.com/kumo-dev/kumo/internal/serve"
)

// readyHandler answers every request from ready bytes (serve.ReadyWriter),
// as the edge answers a cache hit.
type readyHandler struct{ head, body []byte }

func (h readyHandler) ServeHTTP(w http.ResponseWriter, r *http.Request) { w.Write(h.body) }

func (h readyHandler) ServeFast(w http.ResponseWriter, r *http.Request) bool {
	_, _ = w.(serve.ReadyWriter).WriteReady(http.StatusOK, h.head, nil, true, h.body)
	return true
}

// BenchmarkLeanReadyHit: one keep-alive client connection, one 1 KiB
// response from ready bytes per request, through the lean engine's parser,
// writer and loopback sockets. The allocations are the server's and the
// client's together (the client reads with http.ReadResponse).
func BenchmarkLeanReadyHit(b *testing.B) {
	body := make([]byte, 1024)
	hdr := http.Header{"Content-Type": {"text/plain"}, "Content-Length": {"1024"}, "X-Cache": {"Hit from cloudfront"}}
	h := readyHandler{head: serve.AppendHead(nil, http.StatusOK, hdr), body: body}
	s, err := serve.Listen("127.0.0.1:0", serve.Plane{Handler: h}, serve.Options{})
	if err != nil {
		b.Fatal(err)
	}
	defer s.Shutdown(b.Context())
	c, err := net.Dial("tcp", s.Addr())
	if err != nil {
		b.Fatal(err)
	}
	defer c.Close()
	br := bufio.NewReader(c)
	req := []byte("GET /1k HTTP/1.1\r\nHost: bench.example.com\r\nUser-Agent: bench\r\n\r\n")
	b.ReportAllocs()
	b.ResetTimer()
	for b.Loop() {
		if _, err := c.Write(req); err != nil {
			b.Fatal(err)
		}
		resp, err := http.ReadResponse(br, nil)
		if err != nil {
			b.Fatal(err)
		}
		if _, err := io.Copy(io.Discard, resp.Body); err != nil {
			b.Fatal(err)
		}
		resp.Body.Close()
	}
}
