package main

import (
	"bytes"
	"context"
	"crypto/tls"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"sync/atomic"
	"testing"
	"time"

	"github.com/kumo-dev/kumo/internal/runtime"
	"github.com/kumo-dev/kumo/internal/stack"
)

// scriptedUpstream stands in for an instance: each health check (/health)
// waits for the test's next answer; every other request is counted.
type scriptedUpstream struct {
	addr    string
	arrived chan struct{}
	answers chan int
	hits    atomic.Int64
}

func newScriptedUpstream(t *testing.T) *scriptedUpstream {
	t.Helper()
	u := &scriptedUpstream{arrived: make(chan struct{}, 64), answers: make(chan int)}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	done := make(chan struct{})
	srv := &http.Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path != "/health" {
			u.hits.Add(1)
			io.WriteString(w, "flap")
			return
		}
		u.arrived <- struct{}{}
		select {
		case code := <-u.answers:
			w.WriteHeader(code)
		case <-done:
		}
	})}
	go srv.Serve(ln)
	t.Cleanup(func() {
		close(done)
		srv.Close()
	})
	u.addr = ln.Addr().String()
	return u
}

// next waits for the health check in flight and answers it with code, then
// waits until the following check arrives: checks of one target run one at
// a time, so the answered check's result has then been applied.
func (u *scriptedUpstream) next(t *testing.T, code int) {
	t.Helper()
	for _, what := range []string{"the health check to answer", "the next health check"} {
		select {
		case <-u.arrived:
		case <-time.After(30 * time.Second):
			t.Fatalf("timed out waiting for %s", what)
		}
		if what == "the health check to answer" {
			u.answers <- code
		}
	}
	// Put the next check's arrival back for the following step.
	u.arrived <- struct{}{}
}

// TestTargetsFlappingTarget is the scripted flapping target: healthy, then
// failing, then healthy again. After every health check `kumo targets`
// shows the state, reason and description of alb.md §6.3 that the
// thresholds call for, and while the target is unhealthy (and the other one
// healthy) no request reaches it.
func TestTargetsFlappingTarget(t *testing.T) {
	flap := newScriptedUpstream(t)
	stable := &http.Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) { io.WriteString(w, "stable") })}
	sln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	go stable.Serve(sln)
	t.Cleanup(func() { stable.Close() })

	src := stack.DefaultTemplate()
	for name, addr := range map[string]string{"Web1": flap.addr, "Web2": sln.Addr().String()} {
		old := []byte("  " + name + ":\n    Type: AWS::EC2::Instance\n")
		next := bytes.Replace(src, old, fmt.Appendf(nil, "%s    Metadata:\n      Kumo:\n        Upstream: %q\n", old, addr), 1)
		if bytes.Equal(next, src) {
			t.Fatalf("default template has no %s instance", name)
		}
		src = next
	}
	src = bytes.Replace(src, []byte("      HealthCheckIntervalSeconds: 5\n"), []byte("      HealthCheckIntervalSeconds: 5\n      HealthCheckPath: /health\n      HealthyThresholdCount: 3\n"), 1)
	st, err := stack.Parse("stack.yaml", src, stack.Options{})
	if err != nil {
		t.Fatal(err)
	}
	// Check continuously; every check waits for the script anyway.
	hc := &st.TargetGroups[0].HealthCheck
	hc.Interval, hc.Timeout = 10*time.Millisecond, time.Minute

	stateDir := t.TempDir()
	rt, err := runtime.Start(context.Background(), st, runtime.Options{StateDir: stateDir,
		ViewerHTTPS: "127.0.0.1:0", ViewerHTTP: "127.0.0.1:0", Ephemeral: true, Logger: slog.New(slog.NewTextHandler(io.Discard, nil))})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		rt.Shutdown(ctx)
	})
	if err := rt.WriteEndpoints(); err != nil {
		t.Fatal(err)
	}
	ep := rt.Endpoints()
	var albAddr string
	for _, l := range ep.LoadBalancers[0].Listeners {
		if l.Protocol == "HTTPS" {
			albAddr = l.Local
		}
	}
	client := &http.Client{Timeout: 30 * time.Second, Transport: &http.Transport{
		TLSClientConfig: &tls.Config{RootCAs: rt.CA().Pool(), ServerName: "alb.example.com"},
		DialContext: func(ctx context.Context, n, _ string) (net.Conn, error) {
			return (&net.Dialer{}).DialContext(ctx, n, albAddr)
		},
	}}
	flapID := st.Instances[0].ID

	type health struct{ State, Reason, Description string }
	shown := func() health {
		t.Helper()
		out, err := runCapture("targets", "--state-dir", stateDir, "--output", "json", "--target-group", "alb-tg")
		if err != nil {
			t.Fatalf("kumo targets: %v", err)
		}
		var got struct {
			TargetHealthDescriptions []struct {
				Target       struct{ Id string }
				TargetHealth health
			}
		}
		if err := json.Unmarshal([]byte(out), &got); err != nil {
			t.Fatalf("kumo targets output %s: %v", out, err)
		}
		for _, d := range got.TargetHealthDescriptions {
			if d.Target.Id == flapID {
				return d.TargetHealth
			}
		}
		t.Fatalf("kumo targets does not list %s: %s", flapID, out)
		return health{}
	}

	if h := shown(); h.State != "initial" || h.Reason != "Elb.InitialHealthChecking" {
		t.Fatalf("before the first check: %+v", h)
	}
	healthy := health{"healthy", "", ""}
	failing := health{"unhealthy", "Target.ResponseCodeMismatch", "Health checks failed with these codes: [500]"}
	script := []struct {
		code int
		want health
	}{
		{200, healthy}, // initial → healthy after one pass
		{500, healthy}, // 1 of 2 failures
		{500, failing}, // 2 of 2 → unhealthy
		{200, failing}, // 1 of 3 passes
		{200, failing}, // 2 of 3
		{500, failing}, // a failure restarts the count
		{200, failing},
		{200, failing},
		{200, healthy}, // 3 of 3 → healthy again
	}
	for i, s := range script {
		flap.next(t, s.code)
		if h := shown(); h != s.want {
			t.Fatalf("after check %d (%d): kumo targets shows %+v, want %+v", i+1, s.code, h, s.want)
		}
		before := flap.hits.Load()
		for range 4 {
			resp, err := client.Get("https://alb.example.com/")
			if err != nil {
				t.Fatal(err)
			}
			io.Copy(io.Discard, resp.Body)
			resp.Body.Close()
			if resp.StatusCode != 200 {
				t.Fatalf("status %d", resp.StatusCode)
			}
		}
		got := flap.hits.Load() - before
		if s.want.State == "unhealthy" && got != 0 {
			t.Fatalf("after check %d: %d requests reached the unhealthy target", i+1, got)
		}
		if s.want.State == "healthy" && got == 0 {
			t.Fatalf("after check %d: the healthy target got none of 4 requests", i+1)
		}
	}
}
