package main

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"net"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/kumo-dev/kumo/internal/diagnose/probe"
	"github.com/kumo-dev/kumo/internal/runtime"
	"github.com/kumo-dev/kumo/internal/stack"
)

// TestProbeCommand runs `kumo probe` against the default stack's ALB
// listener: through the ALB's generated name it exits non-zero and predicts
// 502 OriginConnectError; through alb.example.com it exits 0. Without a kumo
// CA in the state directory it trusts the system roots only, says so, and
// creates no CA.
func TestProbeCommand(t *testing.T) {
	logger := slog.New(slog.NewTextHandler(io.Discard, nil))
	st, err := stack.Parse(stack.DefaultTemplateName, stack.DefaultTemplate(), stack.Options{Logger: logger})
	if err != nil {
		t.Fatal(err)
	}
	stateDir := t.TempDir()
	rt, err := runtime.Start(context.Background(), st, runtime.Options{StateDir: stateDir, ViewerHTTPS: "127.0.0.1:0",
		ViewerHTTP: "127.0.0.1:0", ViewerHTTP3: "off", Ephemeral: true, Logger: logger})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		_ = rt.Shutdown(ctx)
	})
	elb := st.LoadBalancers[0].DNSName
	var listener string
	for _, l := range rt.Endpoints().LoadBalancers[0].Listeners {
		if l.Protocol == "HTTPS" {
			listener = l.Local
		}
	}
	ip, port, err := net.SplitHostPort(listener)
	if err != nil {
		t.Fatalf("HTTPS listener %q: %v", listener, err)
	}
	emptyState := t.TempDir()
	tests := []struct {
		name     string
		host     string
		stateDir string
		format   string
		code     int
		want     []string
	}{
		{"generated name", elb, stateDir, "text", 1, []string{"FAIL  name-origin-domain", "CloudFront would answer 502 OriginConnectError", "error page: CloudFront wasn't able to connect to the origin.", "kumo: probe: CloudFront would answer 502"}},
		{"generated name json", elb, stateDir, "json", 1, nil},
		{"alb.example.com", "alb.example.com", stateDir, "text", 0, []string{"CloudFront would connect to the origin", "system roots + kumo CA"}},
		{"no kumo CA", "alb.example.com", emptyState, "text", 1, []string{"system roots only (no kumo CA in " + emptyState, "FAIL  trust"}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			var out bytes.Buffer
			code := run(context.Background(), []string{"probe", "https://" + net.JoinHostPort(tc.host, port),
				"--resolve", tc.host + ":" + port + ":" + ip, "--state-dir", tc.stateDir, "--format", tc.format}, &out, &out)
			if code != tc.code {
				t.Errorf("exit %d, want %d:\n%s", code, tc.code, out.String())
			}
			for _, w := range tc.want {
				if !strings.Contains(out.String(), w) {
					t.Errorf("output lacks %q:\n%s", w, out.String())
				}
			}
			if tc.format == "json" {
				var rep probe.Report
				dec := json.NewDecoder(&out)
				if err := dec.Decode(&rep); err != nil {
					t.Fatalf("JSON: %v", err)
				}
				if rep.Outcome.Status != 502 || rep.Outcome.DetailedResultType != "OriginConnectError" || rep.Outcome.Reason != "OriginTLSNameMismatch" {
					t.Errorf("JSON outcome %+v", rep.Outcome)
				}
			}
		})
	}
	if _, err := os.Stat(filepath.Join(emptyState, "pki")); !os.IsNotExist(err) {
		t.Errorf("kumo probe created a CA in an empty state directory (stat: %v)", err)
	}
}

// TestProbeCommandBadInput: bad flags and URLs are clear errors.
func TestProbeCommandBadInput(t *testing.T) {
	for _, tc := range []struct {
		args []string
		want string
	}{
		{[]string{"probe", "http://example.com"}, "the scheme must be https"},
		{[]string{"probe", "https://127.0.0.1:8443"}, "is an IP address"},
		{[]string{"probe", "https://a.example.com", "--resolve", "b.example.com:443:127.0.0.1"}, "does not match the URL's a.example.com:443"},
		{[]string{"probe", "https://a.example.com", "--resolve", "a.example.com:443:nowhere"}, `"nowhere" is not an IP address`},
		{[]string{"probe", "https://a.example.com", "--origin-ssl-protocols", "TLSv1.3"}, `unknown protocol "TLSv1.3"`},
		{[]string{"probe", "https://a.example.com", "--format", "yaml"}, `--format "yaml"`},
	} {
		var out bytes.Buffer
		args := append(tc.args, "--state-dir", t.TempDir())
		if code := run(context.Background(), args, &out, &out); code == 0 || !strings.Contains(out.String(), tc.want) {
			t.Errorf("%q: exit %d, output %q; want an error containing %q", tc.args, code, out.String(), tc.want)
		}
	}
}
