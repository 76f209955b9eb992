package alb

import (
	"bufio"
	"context"
	"errors"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/kumo-dev/kumo/internal/nettest"

	"github.com/kumo-dev/kumo/internal/accesslog"
	"github.com/kumo-dev/kumo/internal/model"
)

func TestRoundRobinAcrossHealthyTargets(t *testing.T) {
	a, b := newBackend(t, "A", nil), newBackend(t, "B", nil)
	l := httpListener(80, forward(mkTG("alb-tg", a.target("10.0.4.254:80"), b.target("10.0.4.253:80"))))
	ru := start(t, Config{LB: loadBalancer(l)})
	ru.waitChecked(t)
	ru.waitState(t, "10.0.4.254:80", StateHealthy)
	ru.waitState(t, "10.0.4.253:80", StateHealthy)
	c := noRedirectClient()
	var seq []string
	for i := 0; i < 6; i++ {
		_, body := get(t, c, "http://"+ru.addrs[l]+"/", nil)
		seq = append(seq, body)
	}
	for i := 1; i < len(seq); i++ {
		if seq[i] == seq[i-1] {
			t.Fatalf("not round robin: %v", seq)
		}
	}
}

func TestUnhealthyTargetSkippedAndFailOpen(t *testing.T) {
	a, b := newBackend(t, "A", nil), newBackend(t, "B", nil)
	b.hcStatus.Store(500)
	l := httpListener(80, forward(mkTG("alb-tg", a.target("10.0.4.254:80"), b.target("10.0.4.253:80"))))
	ru := start(t, Config{LB: loadBalancer(l)})
	ru.waitState(t, "10.0.4.254:80", StateHealthy)
	h := ru.waitState(t, "10.0.4.253:80", StateUnhealthy)
	if h.Reason != ReasonResponseCodeMismatch || h.Description != "Health checks failed with these codes: [500]" {
		t.Fatalf("unhealthy reason = %q %q", h.Reason, h.Description)
	}
	c := noRedirectClient()
	for i := 0; i < 4; i++ {
		if _, body := get(t, c, "http://"+ru.addrs[l]+"/", nil); body != "A" {
			t.Fatalf("request %d went to %q, want only the healthy target A", i, body)
		}
	}

	// All unhealthy: fail open, both still served.
	a.hcStatus.Store(503)
	ru.waitState(t, "10.0.4.254:80", StateUnhealthy)
	seen := map[string]bool{}
	for i := 0; i < 4; i++ {
		resp, body := get(t, c, "http://"+ru.addrs[l]+"/", nil)
		if resp.StatusCode != 200 {
			t.Fatalf("fail-open request: status %d", resp.StatusCode)
		}
		seen[body] = true
	}
	if !seen["A"] || !seen["B"] {
		t.Fatalf("fail open should route over all targets, saw %v", seen)
	}
}

func TestNoRegisteredTargets503(t *testing.T) {
	l := httpListener(80, forward(mkTG("alb-tg")))
	ru := start(t, Config{LB: loadBalancer(l)})
	resp, body := get(t, noRedirectClient(), "http://"+ru.addrs[l]+"/x?y=1", map[string]string{"User-Agent": "curl/8.5.0"})
	if resp.StatusCode != 503 {
		t.Fatalf("status %d, want 503", resp.StatusCode)
	}
	want, err := os.ReadFile("testdata/503.html")
	if err != nil {
		t.Fatal(err)
	}
	if body != string(want) || len(body) != 162 {
		t.Fatalf("503 body (%d bytes) differs from golden:\n%q", len(body), body)
	}
	for k, v := range map[string]string{"Server": "awselb/2.0", "Content-Type": "text/html", "Content-Length": "162"} {
		if got := resp.Header.Get(k); got != v {
			t.Errorf("%s = %q, want %q", k, got, v)
		}
	}
	rec := ru.sink.wait(t, 1)[0]
	checkRecord(t, rec, accesslog.ALBRecord{
		Type: "http", ELB: testLBFullName, Target: "",
		RequestProcessingTime: -1, TargetProcessingTime: -1, ResponseProcessingTime: -1,
		ELBStatus: 503, TargetStatus: 0,
		Request: "GET http://127.0.0.1:80/x?y=1 HTTP/1.1", UserAgent: "curl/8.5.0",
		TargetGroupARN: testTGARN, MatchedRulePriority: 0, ActionsExecuted: "forward",
	})
	// sent bytes: status line + headers + 162-byte body, counted as HTTP/1.1.
	if rec.SentBytes <= 162 {
		t.Errorf("SentBytes = %d, want headers + 162", rec.SentBytes)
	}
}

// checkRecord compares the deterministic fields and checks the shape of the
// rest (times, trace ids, byte counts).
func checkRecord(t *testing.T, got *accesslog.ALBRecord, want accesslog.ALBRecord) {
	t.Helper()
	if got.Type != want.Type || got.ELB != want.ELB || got.Target != want.Target ||
		got.ELBStatus != want.ELBStatus || got.TargetStatus != want.TargetStatus ||
		got.Request != want.Request || got.UserAgent != want.UserAgent ||
		got.SSLCipher != want.SSLCipher || got.SSLProtocol != want.SSLProtocol ||
		got.TargetGroupARN != want.TargetGroupARN || got.DomainName != want.DomainName ||
		got.ChosenCertARN != want.ChosenCertARN || got.MatchedRulePriority != want.MatchedRulePriority ||
		got.ActionsExecuted != want.ActionsExecuted || got.RedirectURL != want.RedirectURL ||
		got.ErrorReason != want.ErrorReason || got.Classification != "" || got.ClassificationReason != "" {
		t.Errorf("record mismatch:\n got %+v\nwant %+v", *got, want)
	}
	for i, pair := range [][2]time.Duration{
		{got.RequestProcessingTime, want.RequestProcessingTime},
		{got.TargetProcessingTime, want.TargetProcessingTime},
		{got.ResponseProcessingTime, want.ResponseProcessingTime},
	} {
		if (pair[0] < 0) != (pair[1] < 0) || (pair[0] < 0 && pair[0] != -1) {
			t.Errorf("timing %d = %v, want %s", i+1, pair[0], map[bool]string{true: "-1", false: "measured"}[pair[1] < 0])
		}
	}
	if got.TargetPortList != got.Target {
		t.Errorf("TargetPortList %q != Target %q", got.TargetPortList, got.Target)
	}
	wantCodes := ""
	if got.TargetStatus > 0 {
		wantCodes = strconv.Itoa(got.TargetStatus)
	}
	if got.TargetStatusCodeList != wantCodes {
		t.Errorf("TargetStatusCodeList = %q, want %q", got.TargetStatusCodeList, wantCodes)
	}
	if !regexp.MustCompile(`^127\.0\.0\.1:\d+$`).MatchString(got.Client) {
		t.Errorf("Client = %q", got.Client)
	}
	if !regexp.MustCompile(`^TID_[0-9a-f]{32}$`).MatchString(got.ConnTraceID) {
		t.Errorf("ConnTraceID = %q", got.ConnTraceID)
	}
	if !regexp.MustCompile(`^Root=1-[0-9a-f]{8}-[0-9a-f]{24}$`).MatchString(got.TraceID) {
		t.Errorf("TraceID = %q", got.TraceID)
	}
	if got.RequestCreationTime.IsZero() || got.Time.Before(got.RequestCreationTime) {
		t.Errorf("times: created %v, time %v", got.RequestCreationTime, got.Time)
	}
	if got.ReceivedBytes <= 0 {
		t.Errorf("ReceivedBytes = %d", got.ReceivedBytes)
	}
	if got.ELBStatus == StatusClientClosed {
		if got.SentBytes != 0 {
			t.Errorf("460 SentBytes = %d, want 0", got.SentBytes)
		}
	} else if got.SentBytes <= 0 {
		t.Errorf("SentBytes = %d", got.SentBytes)
	}
}

func TestForwardRecordAndHeaders(t *testing.T) {
	seen := make(chan http.Header, 1)
	var seenHost string
	be := newBackend(t, "A", func(w http.ResponseWriter, r *http.Request) {
		h := r.Header.Clone()
		seenHost = r.Host
		seen <- h
		w.Header().Set("Content-Type", "text/plain")
		w.Header().Set("Keep-Alive", "timeout=5")
		_, _ = io.WriteString(w, "hello")
	})
	tg := mkTG("alb-tg", be.target("10.0.4.254:80"))
	tg.HealthCheck.Enabled = false
	l := httpListener(80, forward(tg))
	ru := start(t, Config{LB: loadBalancer(l)})
	resp, body := get(t, noRedirectClient(), "http://"+ru.addrs[l]+"/icons/a.gif?x=1", map[string]string{
		"Host":             "www.example.com:80",
		"User-Agent":       "Mozilla/5.0 test",
		"X-Forwarded-For":  "203.0.113.9",
		"X-Forwarded-Port": "9999",
		"Connection":       "X-Secret",
		"X-Secret":         "hop",
		"X-Amzn-Trace-Id":  "Root=1-67891233-abcdef012345678912345678;CalledFrom=app",
	})
	if resp.StatusCode != 200 || body != "hello" {
		t.Fatalf("got %d %q", resp.StatusCode, body)
	}
	if resp.Header.Get("Keep-Alive") != "" {
		t.Errorf("hop-by-hop Keep-Alive passed to the client")
	}
	h := <-seen
	if got := h.Get("X-Forwarded-For"); got != "203.0.113.9, 127.0.0.1" {
		t.Errorf("X-Forwarded-For = %q", got)
	}
	if h.Get("X-Forwarded-Proto") != "http" || h.Get("X-Forwarded-Port") != "80" {
		t.Errorf("X-Forwarded-Proto/Port = %q/%q", h.Get("X-Forwarded-Proto"), h.Get("X-Forwarded-Port"))
	}
	if h.Get("X-Secret") != "" {
		t.Errorf("header named in Connection was forwarded")
	}
	if seenHost != "www.example.com" {
		t.Errorf("Host at target = %q, want port stripped", seenHost)
	}
	trace := h.Get("X-Amzn-Trace-Id")
	if !regexp.MustCompile(`^Self=1-[0-9a-f]{8}-[0-9a-f]{24};Root=1-67891233-abcdef012345678912345678;CalledFrom=app$`).MatchString(trace) {
		t.Errorf("X-Amzn-Trace-Id = %q", trace)
	}
	rec := ru.sink.wait(t, 1)[0]
	if rec.TraceID != trace {
		t.Errorf("logged trace %q != sent %q", rec.TraceID, trace)
	}
	rec.TraceID = "Root=1-00000000-000000000000000000000000" // shape checked above
	checkRecord(t, rec, accesslog.ALBRecord{
		Type: "http", ELB: testLBFullName, Target: "10.0.4.254:80",
		ELBStatus: 200, TargetStatus: 200,
		Request: "GET http://www.example.com:80/icons/a.gif?x=1 HTTP/1.1", UserAgent: "Mozilla/5.0 test",
		TargetGroupARN: testTGARN, MatchedRulePriority: 0, ActionsExecuted: "forward",
	})
}

func TestTargetRefused502(t *testing.T) {
	tg := mkTG("alb-tg", &model.Target{ID: "10.0.4.254", Addr: "10.0.4.254:80", Local: nettest.RefusedAddr(t)})
	tg.HealthCheck.Enabled = false
	l := httpListener(80, forward(tg))
	ru := start(t, Config{LB: loadBalancer(l)})
	resp, body := get(t, noRedirectClient(), "http://"+ru.addrs[l]+"/", map[string]string{"User-Agent": "ua"})
	golden(t, resp, body, 502, "testdata/502.html")
	checkRecord(t, ru.sink.wait(t, 1)[0], accesslog.ALBRecord{
		Type: "http", ELB: testLBFullName, Target: "10.0.4.254:80",
		RequestProcessingTime: -1, TargetProcessingTime: -1, ResponseProcessingTime: -1,
		ELBStatus: 502, Request: "GET http://" + hostOnly(ru.addrs[l]) + ":80/ HTTP/1.1", UserAgent: "ua",
		TargetGroupARN: testTGARN, ActionsExecuted: "forward",
	})
}

func hostOnly(a string) string { h, _, _ := net.SplitHostPort(a); return h }

func golden(t *testing.T, resp *http.Response, body string, status int, file string) {
	t.Helper()
	if resp.StatusCode != status {
		t.Fatalf("status %d, want %d", resp.StatusCode, status)
	}
	want, err := os.ReadFile(file)
	if err != nil {
		t.Fatal(err)
	}
	if body != string(want) {
		t.Fatalf("body differs from %s:\n%q", file, body)
	}
	if resp.Header.Get("Server") != ServerHeader || resp.Header.Get("Content-Type") != "text/html" {
		t.Errorf("headers: %v", resp.Header)
	}
}

func TestTargetSilent504(t *testing.T) {
	local := rawTarget(t, func(c net.Conn) { _, _ = io.Copy(io.Discard, c) })
	tg := mkTG("alb-tg", &model.Target{ID: "10.0.4.254", Addr: "10.0.4.254:80", Local: local})
	tg.HealthCheck.Enabled = false
	l := httpListener(80, forward(tg))
	ru := start(t, Config{LB: loadBalancer(l), idleTimeout: 200 * time.Millisecond})
	resp, body := get(t, noRedirectClient(), "http://"+ru.addrs[l]+"/slow", map[string]string{"User-Agent": "ua"})
	golden(t, resp, body, 504, "testdata/504.html")
	checkRecord(t, ru.sink.wait(t, 1)[0], accesslog.ALBRecord{
		Type: "http", ELB: testLBFullName, Target: "10.0.4.254:80",
		RequestProcessingTime: -1, TargetProcessingTime: -1, ResponseProcessingTime: -1,
		ELBStatus: 504, Request: "GET http://127.0.0.1:80/slow HTTP/1.1", UserAgent: "ua",
		TargetGroupARN: testTGARN, ActionsExecuted: "forward",
	})
}

func TestTargetClosesMidRequest502(t *testing.T) {
	local := rawTarget(t, func(c net.Conn) {
		br := bufio.NewReader(c)
		if _, err := http.ReadRequest(br); err != nil {
			return
		}
		// request fully received; close without answering
	})
	tg := mkTG("alb-tg", &model.Target{ID: "10.0.4.254", Addr: "10.0.4.254:80", Local: local})
	tg.HealthCheck.Enabled = false
	l := httpListener(80, forward(tg))
	ru := start(t, Config{LB: loadBalancer(l)})
	req, _ := http.NewRequest(http.MethodPost, "http://"+ru.addrs[l]+"/post", strings.NewReader("payload"))
	req.Header.Set("User-Agent", "ua")
	resp, err := noRedirectClient().Do(req)
	if err != nil {
		t.Fatal(err)
	}
	b, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	golden(t, resp, string(b), 502, "testdata/502.html")
	rec := ru.sink.wait(t, 1)[0]
	checkRecord(t, rec, accesslog.ALBRecord{
		Type: "http", ELB: testLBFullName, Target: "10.0.4.254:80",
		RequestProcessingTime: 0, TargetProcessingTime: 0, ResponseProcessingTime: -1,
		ELBStatus: 502, Request: "POST http://127.0.0.1:80/post HTTP/1.1", UserAgent: "ua",
		TargetGroupARN: testTGARN, ActionsExecuted: "forward",
	})
}

func TestMalformedTargetResponse502(t *testing.T) {
	local := rawTarget(t, func(c net.Conn) {
		if _, err := http.ReadRequest(bufio.NewReader(c)); err != nil {
			return
		}
		_, _ = io.WriteString(c, "NOT HTTP AT ALL\r\n\r\n")
	})
	tg := mkTG("alb-tg", &model.Target{ID: "10.0.4.254", Addr: "10.0.4.254:80", Local: local})
	tg.HealthCheck.Enabled = false
	l := httpListener(80, forward(tg))
	ru := start(t, Config{LB: loadBalancer(l)})
	resp, body := get(t, noRedirectClient(), "http://"+ru.addrs[l]+"/", nil)
	golden(t, resp, body, 502, "testdata/502.html")
	if rec := ru.sink.wait(t, 1)[0]; rec.ELBStatus != 502 || rec.TargetStatus != 0 || rec.ResponseProcessingTime != -1 {
		t.Fatalf("record %+v", rec)
	}
}

func TestClientGoesAway460(t *testing.T) {
	arrived := make(chan struct{})
	upstreamCanceled := make(chan struct{})
	be := newBackend(t, "A", func(w http.ResponseWriter, r *http.Request) {
		close(arrived)
		<-r.Context().Done()
		close(upstreamCanceled)
	})
	tg := mkTG("alb-tg", be.target("10.0.4.254:80"))
	tg.HealthCheck.Enabled = false
	l := httpListener(80, forward(tg))
	ru := start(t, Config{LB: loadBalancer(l)})
	ctx, cancel := context.WithCancel(context.Background())
	req, _ := http.NewRequestWithContext(ctx, http.MethodGet, "http://"+ru.addrs[l]+"/wait", nil)
	req.Header.Set("User-Agent", "ua")
	errc := doAsync(req)
	<-arrived
	cancel()
	if err := <-errc; !errors.Is(err, context.Canceled) {
		t.Fatalf("client error = %v", err)
	}
	select {
	case <-upstreamCanceled:
	case <-time.After(10 * time.Second):
		t.Fatal("upstream request was not canceled when the client went away")
	}
	checkRecord(t, ru.sink.wait(t, 1)[0], accesslog.ALBRecord{
		Type: "http", ELB: testLBFullName, Target: "10.0.4.254:80",
		RequestProcessingTime: -1, TargetProcessingTime: -1, ResponseProcessingTime: -1,
		ELBStatus: 460, Request: "GET http://127.0.0.1:80/wait HTTP/1.1", UserAgent: "ua",
		TargetGroupARN: testTGARN, ActionsExecuted: "forward",
	})
}

func TestHTTPSTargetGroupWithoutValidation(t *testing.T) {
	srv := newTLSBackend(t)
	tg := mkTG("alb-tg", &model.Target{ID: "10.0.4.254", Addr: "10.0.4.254:443", Local: srv})
	tg.Protocol = "HTTPS"
	tg.HealthCheck.Protocol = "HTTPS"
	l := httpListener(80, forward(tg))
	ru := start(t, Config{LB: loadBalancer(l)})
	ru.waitState(t, "10.0.4.254:443", StateHealthy)
	resp, body := get(t, noRedirectClient(), "http://"+ru.addrs[l]+"/", nil)
	if resp.StatusCode != 200 || body != "tls-target" {
		t.Fatalf("got %d %q", resp.StatusCode, body)
	}
}

// TestHTTPSTargetSessionResumption: the load balancer resumes its TLS
// session with an HTTPS target on a new connection (the target closes each
// one, so every request dials and handshakes again).
func TestHTTPSTargetSessionResumption(t *testing.T) {
	var mu sync.Mutex
	var resumed []bool
	srv := httptest.NewTLSServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		resumed = append(resumed, r.TLS != nil && r.TLS.DidResume)
		mu.Unlock()
		w.Header().Set("Connection", "close")
		_, _ = io.WriteString(w, "tls-target")
	}))
	t.Cleanup(srv.Close)
	tg := mkTG("alb-tg", &model.Target{ID: "10.0.4.254", Addr: "10.0.4.254:443", Local: srv.Listener.Addr().String()})
	tg.Protocol = "HTTPS"
	tg.HealthCheck.Enabled = false
	l := httpListener(80, forward(tg))
	ru := start(t, Config{LB: loadBalancer(l)})
	for i := range 3 {
		resp, body := get(t, noRedirectClient(), "http://"+ru.addrs[l]+"/", nil)
		if resp.StatusCode != 200 || body != "tls-target" {
			t.Fatalf("request %d: %d %q", i, resp.StatusCode, body)
		}
	}
	mu.Lock()
	defer mu.Unlock()
	if len(resumed) != 3 || resumed[0] || !resumed[1] || !resumed[2] {
		t.Errorf("target handshakes resumed: %v, want [false true true]", resumed)
	}
}
