package edge

import (
	"context"
	"crypto/tls"
	"io"
	"log/slog"
	"net/http"
	"strconv"
	"testing"
	"time"

	"github.com/quic-go/quic-go"
	"github.com/quic-go/quic-go/http3"

	"github.com/kumo-dev/kumo/internal/model"
	"github.com/kumo-dev/kumo/internal/serve"
)

// TestHTTP3 implements HttpVersion http3/http2and3 (cloudfront.md §5.8,
// §3.10): HTTPS responses of such a distribution advertise
// Alt-Svc: h3=":<port>"; ma=86400, HTTP/3 requests over QUIC are served and
// logged as HTTP/3.0, and a distribution without HTTP/3 refuses the QUIC
// handshake and sends no Alt-Svc.
func TestHTTP3(t *testing.T) {
	origin := startOrigin(t, func(w http.ResponseWriter, r *http.Request) { _, _ = w.Write([]byte("over h3")) }, nil)
	ca := newCA(t)
	h3 := startHTTP3(t)
	st := testStack(testOrigin("origin.example.com", model.OriginHTTPOnly), policyBehavior(CachingDisabledID, ""),
		func(d *model.Distribution) { d.HTTPVersion = "http2and3" })
	plain := testStack(testOrigin("origin.example.com", model.OriginHTTPOnly), policyBehavior(CachingDisabledID, "")).Distributions[0]
	plain.DomainName, plain.ID, plain.LogicalID = "d222222abcdef8.cloudfront.net", "E2222222222222", "Plain"
	st.Distributions = append(st.Distributions, plain)
	res := &testResolver{addrs: map[string]string{"origin.example.com": origin.addr}}
	logs := &logSink{}
	e, err := New(Config{Stack: st, Certs: ca, Resolver: res, OriginRoots: ca.Pool(), Log: logs.log,
		Logger: slog.New(slog.NewTextHandler(io.Discard, nil)), HTTP3Port: h3.Port()}, nil)
	if err != nil {
		t.Fatal(err)
	}
	h3.Swap(e)
	httpsSrv, err := serve.Listen("127.0.0.1:0", e.Plane(true), serve.Options{HTTP2: true})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		_ = httpsSrv.Shutdown(ctx)
	})
	ev := &env{t: t, ca: ca, httpsSrv: httpsSrv, httpSrv: httpsSrv, logs: logs, edge: e}
	c := ev.client(true, true)
	want := `h3=":` + strconv.Itoa(h3.Port()) + `"; ma=86400`
	if got := ev.do(c, http.MethodGet, "https://"+testDomain+"/", nil).header.Get("Alt-Svc"); got != want {
		t.Errorf("Alt-Svc %q, want %q", got, want)
	}
	if got := ev.do(c, http.MethodGet, "https://"+plain.DomainName+"/", nil).header.Get("Alt-Svc"); got != "" {
		t.Errorf("a distribution without HTTP/3 sends Alt-Svc %q", got)
	}

	tr := &http3.Transport{
		TLSClientConfig: &tls.Config{RootCAs: ca.Pool()},
		Dial: func(ctx context.Context, _ string, tlsCfg *tls.Config, cfg *quic.Config) (*quic.Conn, error) {
			return quic.DialAddrEarly(ctx, h3.Addr(), tlsCfg, cfg)
		},
	}
	t.Cleanup(func() { _ = tr.Close() })
	h3c := &http.Client{Transport: tr, Timeout: 10 * time.Second}
	resp, err := h3c.Get("https://" + testDomain + "/h3")
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != 200 || string(body) != "over h3" || resp.ProtoMajor != 3 {
		t.Fatalf("HTTP/3: %d %q %s", resp.StatusCode, body, resp.Proto)
	}
	rec := logs.wait(t, resp.Header.Get("X-Amz-Cf-Id"))
	if rec.ProtocolVersion != "HTTP/3.0" || rec.Protocol != "https" || rec.SSLProtocol != "TLSv1.3" {
		t.Errorf("log: %s %s %s", rec.ProtocolVersion, rec.Protocol, rec.SSLProtocol)
	}
	if _, err := h3c.Get("https://" + plain.DomainName + "/h3"); err == nil {
		t.Errorf("a distribution without HTTP/3 accepted a QUIC handshake")
	}
}

// startHTTP3 binds an HTTP/3 listener on a free loopback UDP port, shut
// down when the test ends.
func startHTTP3(t testing.TB) *HTTP3Server {
	h3, err := ListenHTTP3("127.0.0.1:0", slog.New(slog.NewTextHandler(io.Discard, nil)))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		_ = h3.Shutdown(ctx)
	})
	return h3
}
