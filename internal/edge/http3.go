package edge

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"strconv"
	"strings"
	"sync/atomic"

	"github.com/quic-go/quic-go/http3"

	"github.com/kumo-dev/kumo/internal/serve"
)

// http3Enabled implements HttpVersion for HTTP/3 (cloudfront.md §5.8):
// http3 and http2and3 serve HTTP/3.
func http3Enabled(httpVersion string) bool {
	return httpVersion == "http3" || httpVersion == "http2and3"
}

// altSvcValue is the Alt-Svc header CloudFront sends on HTTPS responses of
// HTTP/3 distributions (cloudfront.md §3.10), with the local UDP port.
func altSvcValue(port int) string {
	return `h3=":` + strconv.Itoa(port) + `"; ma=86400`
}

// addAltSvc advertises HTTP/3 on a response of an HTTP/3 distribution.
func (t *txn) addAltSvc() {
	if t.https && t.d != nil && t.e.altSvc != nil && http3Enabled(t.d.m.HTTPVersion) {
		t.w.Header()["Alt-Svc"] = t.e.altSvc
	}
}

// viewerTLS3 picks the TLS configuration of an HTTP/3 (QUIC) handshake:
// the one viewerTLS picks, with TLS 1.3 (HTTP/3 requires it, §5.8); a
// distribution that does not serve HTTP/3 refuses the handshake.
func (e *Edge) viewerTLS3(hello *tls.ClientHelloInfo) (*tls.Config, error) {
	r, ok := e.routeHost(strings.TrimSuffix(strings.ToLower(hello.ServerName), "."))
	if !ok || !http3Enabled(r.d.m.HTTPVersion) {
		return nil, fmt.Errorf("HTTP/3 is not enabled for %q", hello.ServerName)
	}
	base := r.d.domainTLS
	if r.alias {
		base = r.d.aliasTLS
	}
	cfg := base.Clone()
	cfg.MinVersion = tls.VersionTLS13
	return cfg, nil
}

// HTTP3Server is the viewer HTTP/3 listener: QUIC on a UDP socket, serving
// the Edge last given to Swap. The runtime binds it on the UDP port of the
// viewer HTTPS listener.
type HTTP3Server struct {
	pc   net.PacketConn
	srv  *http3.Server
	edge atomic.Pointer[Edge]
	done chan error
	// stacks runs the handlers: quic-go starts each request on a new
	// goroutine, whose stack the edge would grow again every time.
	stacks serve.StackPool
}

// ListenHTTP3 binds addr (UDP) and serves HTTP/3 on it. Until Swap, every
// handshake is refused.
func ListenHTTP3(addr string, logger *slog.Logger) (*HTTP3Server, error) {
	if logger == nil {
		logger = slog.Default()
	}
	pc, err := net.ListenPacket("udp", addr)
	if err != nil {
		return nil, fmt.Errorf("viewer HTTP/3 listener: %w", err)
	}
	s := &HTTP3Server{pc: pc, done: make(chan error, 1)}
	s.srv = &http3.Server{
		Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			e := s.edge.Load()
			if e == nil {
				http.Error(w, "kumo is starting", http.StatusServiceUnavailable)
				return
			}
			s.stacks.Run(func() { e.serve(w, r, true, false) })
		}),
		TLSConfig: &tls.Config{MinVersion: tls.VersionTLS13, GetConfigForClient: func(hello *tls.ClientHelloInfo) (*tls.Config, error) {
			e := s.edge.Load()
			if e == nil {
				return nil, errors.New("kumo is starting")
			}
			return e.viewerTLS3(hello)
		}},
		Logger: logger,
	}
	go func() { s.done <- s.srv.Serve(pc) }()
	return s, nil
}

// Addr is the bound UDP address.
func (s *HTTP3Server) Addr() string { return s.pc.LocalAddr().String() }

// Port is the bound UDP port.
func (s *HTTP3Server) Port() int { return s.pc.LocalAddr().(*net.UDPAddr).Port }

// Swap makes e serve the following HTTP/3 requests.
func (s *HTTP3Server) Swap(e *Edge) { s.edge.Store(e) }

// Shutdown stops accepting, lets requests in flight finish until ctx ends,
// and closes the socket.
func (s *HTTP3Server) Shutdown(ctx context.Context) error {
	err := s.srv.Shutdown(ctx)
	if err != nil {
		_ = s.srv.Close()
	}
	_ = s.pc.Close()
	s.stacks.Close()
	if serr := <-s.done; serr != nil && !errors.Is(serr, http.ErrServerClosed) && !errors.Is(serr, net.ErrClosed) && err == nil && !strings.Contains(serr.Error(), "closed") {
		err = serr
	}
	return err
}
