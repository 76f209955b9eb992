package runtime_test

import (
	"bytes"
	"context"
	"crypto/tls"
	"io"
	"log/slog"
	"net"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/kumo-dev/kumo/internal/runtime"
	"github.com/kumo-dev/kumo/internal/stack"
)

// lockedBuffer collects kumo's own log across goroutines.
type lockedBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (l *lockedBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func (l *lockedBuffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}

// FuzzViewerRequest sends arbitrary bytes, as a viewer would, to the edge's
// plain-HTTP listener of a whole stack (edge → ALB → web servers). Whatever
// arrives, no handler on the path may panic: net/http would recover the
// panic and log it, so the test reads kumo's own log for it.
func FuzzViewerRequest(f *testing.F) {
	for _, seed := range []string{
		"GET / HTTP/1.1\r\nHost: www.example.com\r\n\r\n",
		"GET /icons/apache_pb2.gif HTTP/1.1\r\nHost: www.example.com\r\nRange: bytes=0-10,5-1,-3\r\n\r\n",
		"GET /?a=1&a=2&%zz HTTP/1.1\r\nHost: WWW.EXAMPLE.COM.:80\r\nCookie: a=1; ;=; b\r\nAccept-Encoding: br;q=0, gzip;q=x\r\n\r\n",
		"HEAD //../a/./b%2f..%00 HTTP/1.0\r\nHost: www.example.com\r\nIf-None-Match: W/\"x\", *\r\nIf-Modified-Since: yesterday\r\n\r\n",
		"POST / HTTP/1.1\r\nHost: www.example.com\r\nContent-Length: 5\r\nX-Forwarded-For: ,,::1,unknown\r\n\r\nhello",
		"GET / HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: Upgrade\r\nUpgrade: websocket\r\n\r\n",
		"OPTIONS * HTTP/1.1\r\nHost: www.example.com\r\nOrigin: null\r\nAccess-Control-Request-Method: PUT\r\n\r\n",
		"GET / HTTP/1.1\r\nHost: d" + strings.Repeat("a", 300) + ".cloudfront.net\r\nX-Amzn-Trace-Id: Self=1-;Root=\r\n\r\n",
		"\x00\x01\x02 garbage\r\n\r\n",
	} {
		f.Add([]byte(seed))
	}
	rt, logBuf := fuzzStack(f)
	addr := rt.Endpoints().Viewer.HTTP
	f.Fuzz(func(t *testing.T, raw []byte) {
		c, err := net.Dial("tcp", addr)
		if err != nil {
			t.Fatal(err)
		}
		defer c.Close()
		_ = c.SetDeadline(time.Now().Add(10 * time.Second))
		_, _ = c.Write(raw)
		_ = c.(*net.TCPConn).CloseWrite() // the request ends here
		_, _ = io.Copy(io.Discard, c)
		noPanic(t, logBuf, raw)
	})
}

// FuzzALBRequest sends arbitrary bytes, over TLS, straight to the load
// balancer's HTTPS listener.
func FuzzALBRequest(f *testing.F) {
	for _, seed := range []string{
		"GET / HTTP/1.1\r\nHost: alb.example.com\r\n\r\n",
		"GET /a?b=%zz HTTP/1.1\r\nHost: alb.example.com:443\r\nX-Forwarded-For: " + strings.Repeat("1.2.3.4,", 40) + "\r\n\r\n",
		"TRACE / HTTP/1.1\r\nHost: alb.example.com\r\n\r\n",
		"POST / HTTP/1.1\r\nHost: alb.example.com\r\nTransfer-Encoding: gzip, chunked\r\n\r\n0\r\n\r\n",
		"GET / HTTP/1.1\r\nHost: alb.example.com\r\nContent-Length: 0\r\nContent_Length: 1\r\n\r\n",
		"GET / HTTP/2.0\r\n\r\n",
	} {
		f.Add([]byte(seed))
	}
	rt, logBuf := fuzzStack(f)
	var addr string
	for _, l := range rt.Endpoints().LoadBalancers[0].Listeners {
		if l.Protocol == "HTTPS" {
			addr = l.Local
		}
	}
	cfg := &tls.Config{RootCAs: rt.CA().Pool(), ServerName: "alb.example.com", NextProtos: []string{"http/1.1"}}
	f.Fuzz(func(t *testing.T, raw []byte) {
		c, err := tls.Dial("tcp", addr, cfg)
		if err != nil {
			t.Fatal(err)
		}
		defer c.Close()
		_ = c.SetDeadline(time.Now().Add(10 * time.Second))
		_, _ = c.Write(raw)
		_ = c.CloseWrite()
		_, _ = io.Copy(io.Discard, c)
		noPanic(t, logBuf, raw)
	})
}

// fuzzStack starts the CloudFront → ALB → EC2 stack, with viewers allowed
// over plain HTTP so that fuzzed requests reach every layer, and returns it
// with kumo's own log.
func fuzzStack(f *testing.F) (*runtime.Runtime, *lockedBuffer) {
	f.Helper()
	logBuf := &lockedBuffer{}
	st, err := stack.Parse("stack.yaml", albStack{}.render(), stack.Options{Logger: slog.New(slog.NewTextHandler(io.Discard, nil))})
	if err != nil {
		f.Fatal(err)
	}
	rt, err := runtime.Start(context.Background(), st, runtime.Options{
		StateDir: f.TempDir(), ViewerHTTPS: "127.0.0.1:0", ViewerHTTP: "127.0.0.1:0", Ephemeral: true,
		Logger: slog.New(slog.NewTextHandler(logBuf, &slog.HandlerOptions{Level: slog.LevelDebug})),
	})
	if err != nil {
		f.Fatal(err)
	}
	f.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		rt.Shutdown(ctx)
	})
	return rt, logBuf
}

// noPanic fails when kumo's own log shows a recovered handler panic: net/http
// recovers a panicking handler and logs "http: panic serving …".
func noPanic(t *testing.T, logBuf *lockedBuffer, raw []byte) {
	t.Helper()
	if log := logBuf.String(); strings.Contains(log, "http: panic serving") {
		t.Fatalf("a handler panicked on %q:\n%s", raw, log)
	}
}
