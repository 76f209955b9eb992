package probe_test

import (
	"context"
	"io"
	"log/slog"
	"net"
	"os/exec"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/kumo-dev/kumo/internal/diagnose/probe"
	"github.com/kumo-dev/kumo/internal/runtime"
	"github.com/kumo-dev/kumo/internal/stack"
	"github.com/kumo-dev/kumo/internal/tooltest"
)

// defaultStack serves kumo's default stack (ALB certificate for
// alb.example.com, ALB name elbName) on ephemeral ports and returns the state
// directory, the kumo CA's certificate file and the local address of the
// ALB's HTTPS listener.
func defaultStack(t *testing.T) (stateDir, caFile, listener string) {
	t.Helper()
	logger := slog.New(slog.NewTextHandler(io.Discard, nil))
	st, err := stack.Parse(stack.DefaultTemplateName, stack.DefaultTemplate(), stack.Options{Logger: logger})
	if err != nil {
		t.Fatalf("parsing the default template: %v", err)
	}
	stateDir = t.TempDir()
	rt, err := runtime.Start(context.Background(), st, runtime.Options{
		StateDir: stateDir, ViewerHTTPS: "127.0.0.1:0", ViewerHTTP: "127.0.0.1:0", ViewerHTTP3: "off",
		Ephemeral: true, Logger: logger,
	})
	if err != nil {
		t.Fatalf("runtime.Start: %v", err)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		if err := rt.Shutdown(ctx); err != nil {
			t.Errorf("Shutdown: %v", err)
		}
	})
	for _, lb := range rt.Endpoints().LoadBalancers {
		if lb.DNSName != elbName {
			continue
		}
		for _, l := range lb.Listeners {
			if l.Protocol == "HTTPS" {
				return stateDir, rt.CA().CertFile(), l.Local
			}
		}
	}
	t.Fatalf("the default stack has no HTTPS listener on %s", elbName)
	return "", "", ""
}

// TestProbeKumoALB probes kumo's own ALB listener the way the reference case's
// CloudFront reaches it: through the ALB's generated name (the certificate
// is for alb.example.com: 502 OriginConnectError) and through
// alb.example.com (CloudFront would connect).
func TestProbeKumoALB(t *testing.T) {
	stateDir, _, listener := defaultStack(t)
	ip, port, err := net.SplitHostPort(listener)
	if err != nil {
		t.Fatal(err)
	}
	roots, trust, err := probe.OriginTrust(stateDir)
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(trust, "kumo CA") {
		t.Errorf("trust %q does not name the kumo CA", trust)
	}
	tests := []struct {
		host    string
		status  int
		reason  string
		failing []string
	}{
		{host: elbName, status: 502, reason: "OriginTLSNameMismatch", failing: []string{probe.CheckNameOrigin}},
		{host: "alb.example.com", status: 200, reason: "None"},
	}
	for _, tc := range tests {
		t.Run(tc.host, func(t *testing.T) {
			ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
			defer cancel()
			rep, err := probe.Run(ctx, probe.Config{
				URL:     "https://" + net.JoinHostPort(tc.host, port),
				Resolve: []string{tc.host + ":" + port + ":" + ip},
				Roots:   roots, Trust: trust,
			})
			if err != nil {
				t.Fatalf("Run: %v", err)
			}
			o := rep.Outcome
			if o.Status != tc.status || o.Reason != tc.reason {
				t.Errorf("outcome %d %s, want %d %s", o.Status, o.Reason, tc.status, tc.reason)
			}
			if got := rep.Failing(); !slices.Equal(got, tc.failing) {
				t.Errorf("failing %q, want %q", got, tc.failing)
			}
			if tc.status == 502 {
				if o.DetailedResultType != "OriginConnectError" || o.Message != connectMsg || o.XCache != "Error from cloudfront" {
					t.Errorf("outcome %+v, want OriginConnectError %q", o, connectMsg)
				}
				name := rep.Check(probe.CheckNameOrigin).Summary
				if !strings.Contains(name, `"alb.example.com"`) || !strings.Contains(name, elbName) {
					t.Errorf("name finding %q does not show the certificate's name and the origin domain", name)
				}
			} else if !o.WouldConnect {
				t.Errorf("outcome %+v, want would connect", o)
			}
			if c := rep.Check(probe.CheckTrust); c == nil || c.Status != probe.StatusOK {
				t.Errorf("trust check %+v: kumo's certificate must be trusted with the kumo CA", c)
			}
		})
	}
}

// TestOpenSSLConfirmsMismatch checks the same listener independently with
// openssl s_client: the certificate fails hostname verification for the
// ALB's generated name and passes for alb.example.com.
func TestOpenSSLConfirmsMismatch(t *testing.T) {
	openssl := tooltest.Require(t, "openssl")
	_, caFile, listener := defaultStack(t)
	for _, tc := range []struct{ name, want string }{
		{elbName, "Verify return code: 62 (hostname mismatch)"},
		{"alb.example.com", "Verify return code: 0 (ok)"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
			defer cancel()
			cmd := exec.CommandContext(ctx, openssl, "s_client", "-connect", listener,
				"-servername", tc.name, "-verify_hostname", tc.name, "-CAfile", caFile)
			cmd.Stdin = strings.NewReader("")
			out, err := cmd.CombinedOutput()
			if err != nil {
				t.Fatalf("openssl s_client: %v\n%s", err, out)
			}
			if !strings.Contains(string(out), tc.want) {
				t.Errorf("openssl s_client for %s: no %q in\n%s", tc.name, tc.want, out)
			}
		})
	}
}
