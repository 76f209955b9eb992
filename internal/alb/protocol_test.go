package alb

import (
	"bytes"
	"io"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/kumo-dev/kumo/internal/model"
)

// newH2Backend is an HTTPS target that speaks HTTP/2 (ALPN h2) and answers
// gRPC health checks and calls: grpc-status 12 for /AWS.ALB/healthcheck,
// 0 with a trailer for other gRPC calls, and its protocol for plain requests.
func newH2Backend(t *testing.T) *httptest.Server {
	t.Helper()
	srv := httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Header.Get("Content-Type") == "application/grpc" {
			_, _ = io.Copy(io.Discard, r.Body)
			w.Header().Set("Content-Type", "application/grpc")
			w.Header().Set("Trailer", "Grpc-Status")
			if r.URL.Path == grpcHealthCheckPath {
				w.Header().Set("Grpc-Status", "12")
				return
			}
			_, _ = w.Write([]byte{0, 0, 0, 0, 2, 'o', 'k'})
			w.Header().Set("Grpc-Status", "0")
			return
		}
		_, _ = io.WriteString(w, r.Proto)
	}))
	srv.EnableHTTP2 = true
	srv.StartTLS()
	t.Cleanup(srv.Close)
	return srv
}

// TestTargetGroupProtocolVersions checks HTTP2 and GRPC target groups
// (alb.md §4.2, §6.1–6.2): HTTP/2 to the target over TLS, gRPC calls with
// their trailers, gRPC health checks matched on GrpcCode, the grpcs log
// type, and 464 for every incompatible request.
func TestTargetGroupProtocolVersions(t *testing.T) {
	ca := testCA(t)
	be := newH2Backend(t)
	addr := be.Listener.Addr().String()
	mkVersion := func(name, version string) *model.TargetGroup {
		tg := mkTG(name, &model.Target{ID: "10.0.5.1", Addr: "10.0.5.1:443", Local: addr})
		tg.Protocol, tg.HealthCheck.Protocol, tg.ProtocolVersion = "HTTPS", "HTTPS", version
		if version == ProtocolVersionGRPC {
			tg.HealthCheck.Path, tg.HealthCheck.GrpcMatcher = "", "12"
		}
		if version == ProtocolVersionHTTP1 {
			tg.HealthCheck.Enabled = false
		}
		return tg
	}
	h2tg, grpctg, h1tg := mkVersion("tg-h2", ProtocolVersionHTTP2), mkVersion("tg-grpc", ProtocolVersionGRPC), mkVersion("tg-h1", ProtocolVersionHTTP1)
	rules := []*model.Rule{
		{Priority: 1, Conditions: []*model.Condition{{Field: "path-pattern", Values: []string{"/h2/*"}}}, Actions: forward(h2tg)},
		{Priority: 2, Conditions: []*model.Condition{{Field: "path-pattern", Values: []string{"/pkg.Svc/*", "/AWS.ALB/*"}}}, Actions: forward(grpctg)},
	}
	l := httpsListener("", forward(h1tg), &model.Certificate{ARN: testCertA, DomainName: "alb.example.com"})
	l.Rules = rules
	ru := start(t, Config{LB: loadBalancer(l), Certs: ca})
	// Both groups' checks pass (HTTP 200 over h2 / grpc-status 12).
	deadline := time.Now().Add(10 * time.Second)
	for {
		ok := 0
		for _, h := range ru.lb.Health() {
			if h.State == StateHealthy && h.TargetGroupName != "tg-h1" {
				ok++
			}
		}
		if ok == 2 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("health %+v", ru.lb.Health())
		}
		time.Sleep(5 * time.Millisecond)
	}
	base := "https://" + ru.addrs[l]
	h2 := tlsClient(ca.Pool(), "alb.example.com", true)
	h1 := tlsClient(ca.Pool(), "alb.example.com", false)

	// HTTP/2 client → HTTP2 group: HTTP/2 all the way.
	resp, body := get(t, h2, base+"/h2/x", nil)
	if resp.StatusCode != 200 || body != "HTTP/2.0" {
		t.Fatalf("h2 → HTTP2 group: %d %q", resp.StatusCode, body)
	}
	// HTTP/2 client → HTTP1 group: converted to HTTP/1.1.
	if resp, body := get(t, h2, base+"/other", nil); resp.StatusCode != 200 || body != "HTTP/1.1" {
		t.Fatalf("h2 → HTTP1 group: %d %q", resp.StatusCode, body)
	}
	// gRPC call → GRPC group, trailers passed back.
	req, _ := http.NewRequest(http.MethodPost, base+"/pkg.Svc/Call", bytes.NewReader([]byte{0, 0, 0, 0, 0}))
	req.Header.Set("Content-Type", "application/grpc")
	req.Header.Set("Te", "trailers")
	gr, err := h2.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	gbody, _ := io.ReadAll(gr.Body)
	gr.Body.Close()
	if gr.StatusCode != 200 || string(gbody) != "\x00\x00\x00\x00\x02ok" || gr.Trailer.Get("Grpc-Status") != "0" {
		t.Fatalf("gRPC call: %d %q trailer %v", gr.StatusCode, gbody, gr.Trailer)
	}

	// A gRPC call whose target is down: 502 with grpc-status 14.
	be.Close()
	req, _ = http.NewRequest(http.MethodPost, base+"/pkg.Svc/Call", bytes.NewReader([]byte{0, 0, 0, 0, 0}))
	req.Header.Set("Content-Type", "application/grpc")
	gr, err = h2.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	gr.Body.Close()
	if gr.StatusCode != 502 || gr.Header.Get("Grpc-Status") != "14" || gr.Header.Get("Grpc-Message") != "unavailable" || gr.Header.Get("Server") != ServerHeader {
		t.Fatalf("gRPC call to a closed target: %d %v", gr.StatusCode, gr.Header)
	}

	// Incompatible requests: 464 with the LB page.
	for _, tc := range []struct {
		name   string
		c      *http.Client
		method string
		path   string
		grpc   bool
	}{
		{"HTTP/1.1 to HTTP2 group", h1, http.MethodGet, "/h2/x", false},
		{"HTTP/1.1 to GRPC group", h1, http.MethodPost, "/pkg.Svc/Call", true},
		{"non-POST HTTP/2 to GRPC group", h2, http.MethodGet, "/pkg.Svc/Call", false},
		{"gRPC to HTTP1 group", h2, http.MethodPost, "/other", true},
	} {
		req, _ := http.NewRequest(tc.method, base+tc.path, nil)
		if tc.grpc {
			req.Header.Set("Content-Type", "application/grpc")
		}
		resp, err := tc.c.Do(req)
		if err != nil {
			t.Fatalf("%s: %v", tc.name, err)
		}
		body, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.StatusCode != StatusIncompatibleProtocol || string(body) != lbPageBody(StatusIncompatibleProtocol) || resp.Header.Get("Server") != ServerHeader {
			t.Errorf("%s: %d %q", tc.name, resp.StatusCode, body)
		}
	}
	recs := ru.sink.wait(t, 8)
	types := map[string]int{}
	for _, r := range recs {
		types[r.Type]++
	}
	if types["grpcs"] != 2 || types["h2"] != 4 || types["https"] != 2 {
		t.Errorf("log types %v, want grpcs 2 (the gRPC calls to the GRPC group), h2 4, https 2", types)
	}
}
