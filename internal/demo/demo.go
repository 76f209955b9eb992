// Package demo tells kumo's founding story on one screen, with the real
// runtime: CloudFront pointed at an ALB's generated *.elb.amazonaws.com name
// over HTTPS fails with a 502, and pointing it at a Route 53 name that the
// ALB's certificate covers fixes it.
package demo

import (
	"bytes"
	"context"
	"crypto/tls"
	"crypto/x509"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/kumo-dev/kumo/internal/accesslog"
	"github.com/kumo-dev/kumo/internal/model"
	"github.com/kumo-dev/kumo/internal/runtime"
	"github.com/kumo-dev/kumo/internal/stack"
)

// logWait bounds how long the demo waits for a log line to appear.
const logWait = 5 * time.Second

// Options configure a demo run.
type Options struct {
	// StateDir holds the demo's stack file, CA and logs.
	StateDir string
	// Out receives the story.
	Out    io.Writer
	Logger *slog.Logger
}

// Run tells the story and returns nil when every step behaved as AWS does.
func Run(ctx context.Context, opt Options) error {
	if opt.Logger == nil {
		opt.Logger = slog.New(slog.NewTextHandler(io.Discard, nil))
	}
	out := opt.Out
	dir := opt.StateDir
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return fmt.Errorf("demo directory: %w", err)
	}
	fixed := stack.DefaultTemplate()
	broken := bytes.Replace(fixed, []byte(stack.DefaultOriginLine), []byte(stack.BrokenOriginLine), 1)
	if bytes.Equal(broken, fixed) {
		return fmt.Errorf("demo: the default template has no line %q to break", stack.DefaultOriginLine)
	}
	path := filepath.Join(dir, "stack.yaml")
	if err := os.WriteFile(path, broken, 0o644); err != nil {
		return fmt.Errorf("demo: writing %s: %w", path, err)
	}
	st, err := stack.Load(path, stack.Options{Logger: opt.Logger})
	if err != nil {
		return fmt.Errorf("demo: %w", err)
	}
	rt, err := runtime.Start(ctx, st, runtime.Options{
		StateDir:    opt.StateDir,
		ViewerHTTPS: "127.0.0.1:0",
		ViewerHTTP:  "127.0.0.1:0",
		Ephemeral:   true,
		Logger:      opt.Logger,
	})
	if err != nil {
		return fmt.Errorf("demo: starting the stack: %w", err)
	}
	defer func() {
		sctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		rt.Shutdown(sctx)
	}()
	if err := rt.WaitHealthChecked(ctx); err != nil {
		return err
	}
	ep := rt.Endpoints()
	d := st.Distributions[0]
	lb := st.LoadBalancers[0]
	origin := d.Origins[0]
	v := &viewer{client: newClient(ep.Viewer.HTTPS, rt.CA().Pool(), d.DomainName), url: "https://" + d.DomainName + "/"}
	cfDir := runtime.CloudFrontDir(opt.StateDir)
	albDir := runtime.ALBDir(opt.StateDir)
	cert := lb.Listeners[0].Certificates
	certName := "?"
	if len(cert) > 0 {
		certName = strings.Join(cert[0].Names(), ", ")
	}

	fmt.Fprintf(out, "kumo demo — CloudFront → ALB over HTTPS, on this machine\n\n")
	fmt.Fprintf(out, "1. The broken stack: the origin is the ALB's generated name\n")
	fmt.Fprintf(out, "   origin           %s (%s)\n", origin.DomainName, origin.Custom.ProtocolPolicy)
	fmt.Fprintf(out, "   ALB certificate  %s\n\n", certName)

	cfBefore, _ := accesslog.ReadCloudFrontLogs(cfDir, d.ID)
	albBefore, _ := accesslog.ReadALBLogs(albDir)
	res, err := v.get(ctx)
	if err != nil {
		return err
	}
	fmt.Fprintf(out, "   $ curl %s\n", v.url)
	fmt.Fprintf(out, "   %s %d   X-Cache: %s\n", res.proto, res.status, res.xcache)
	fmt.Fprintf(out, "   %s\n\n", pageMessage(res.body))
	if res.status != http.StatusBadGateway {
		return fmt.Errorf("demo: the broken stack answered %d, want 502", res.status)
	}
	cfRecs, err := waitRecords(ctx, func() (int, error) { r, err := accesslog.ReadCloudFrontLogs(cfDir, d.ID); return len(r), err }, len(cfBefore)+1)
	if err != nil {
		return err
	}
	recs, _ := accesslog.ReadCloudFrontLogs(cfDir, d.ID)
	cf := recs[cfRecs-1]
	fmt.Fprintf(out, "   CloudFront log  %s\n", cfSummary(cf))
	albNow, _ := accesslog.ReadALBLogs(albDir)
	if len(albNow) != len(albBefore) {
		return fmt.Errorf("demo: the ALB logged %d line(s) for a request whose TLS handshake failed", len(albNow)-len(albBefore))
	}
	fmt.Fprintf(out, "   ALB log         (no line: the TLS handshake never completed)\n\n")
	fmt.Fprintf(out, "%s\n\n", wrap(explanation(origin.DomainName, certName), 96, "   "))

	// The fix, applied as a reload of the same file.
	if err := os.WriteFile(path, fixed, 0o644); err != nil {
		return fmt.Errorf("demo: writing the fix: %w", err)
	}
	fixedStack, err := stack.Load(path, stack.Options{Logger: opt.Logger})
	if err != nil {
		return fmt.Errorf("demo: %w", err)
	}
	start := time.Now()
	if err := rt.Reload(ctx, fixedStack); err != nil {
		return fmt.Errorf("demo: reloading the fix: %w", err)
	}
	took := time.Since(start)
	fixedOrigin := fixedStack.Distributions[0].Origins[0].DomainName
	fmt.Fprintf(out, "2. The fix: a Route 53 name that the certificate covers\n")
	fmt.Fprintf(out, "   - %s\n   + %s\n", strings.TrimSpace(stack.BrokenOriginLine), strings.TrimSpace(stack.DefaultOriginLine))
	fmt.Fprintf(out, "   %s → ALIAS %s; reloaded in %s\n\n", fixedOrigin, recordAlias(fixedStack, fixedOrigin), took.Round(time.Millisecond))

	for i, want := range []string{"Miss", "Hit"} {
		res, err := v.get(ctx)
		if err != nil {
			return err
		}
		age := ""
		if res.age != "" {
			age = "   Age: " + res.age
		}
		fmt.Fprintf(out, "   $ curl %s\n   %s %d   X-Cache: %s%s\n", v.url, res.proto, res.status, res.xcache, age)
		if res.status != http.StatusOK || !strings.HasPrefix(res.xcache, want) {
			return fmt.Errorf("demo: request %d after the fix: %d %q, want 200 %s", i+1, res.status, res.xcache, want)
		}
	}
	n, err := waitRecords(ctx, func() (int, error) { r, err := accesslog.ReadCloudFrontLogs(cfDir, d.ID); return len(r), err }, cfRecs+2)
	if err != nil {
		return err
	}
	recs, _ = accesslog.ReadCloudFrontLogs(cfDir, d.ID)
	fmt.Fprintf(out, "\n   CloudFront log  %s\n", cfSummary(recs[n-2]))
	fmt.Fprintf(out, "                   %s\n", cfSummary(recs[n-1]))
	m, err := waitRecords(ctx, func() (int, error) { r, err := accesslog.ReadALBLogs(albDir); return len(r), err }, len(albNow)+1)
	if err != nil {
		return err
	}
	albRecs, _ := accesslog.ReadALBLogs(albDir)
	if m != len(albNow)+1 {
		return fmt.Errorf("demo: the ALB logged %d lines for one miss, want 1", m-len(albNow))
	}
	fmt.Fprintf(out, "   ALB log         %s\n", albSummary(albRecs[m-1]))
	fmt.Fprintf(out, "\nFull lines: %s and %s\n", cfDir, albDir)
	return nil
}

// explanation is the paragraph that says why the broken stack fails.
func explanation(originName, certName string) string {
	return fmt.Sprintf("Why: CloudFront connects to an HTTPS origin with SNI %s and accepts only a "+
		"certificate whose names cover that origin domain. The ALB presents its ACM certificate for %s; "+
		"nobody can get a certificate for an AWS-owned *.elb.amazonaws.com name. So the handshake fails, "+
		"CloudFront answers 502 (OriginConnectError), and the request never reaches the ALB, whose log stays "+
		"empty. Fix: point the origin at a name the certificate covers, a Route 53 alias to the ALB.",
		originName, certName)
}

type viewer struct {
	client *http.Client
	url    string
}

type response struct {
	proto  string
	status int
	xcache string
	age    string
	body   []byte
}

func (v *viewer) get(ctx context.Context) (*response, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, v.url, nil)
	if err != nil {
		return nil, err
	}
	req.Header.Set("User-Agent", "curl/8.5.0")
	resp, err := v.client.Do(req)
	if err != nil {
		return nil, fmt.Errorf("demo: GET %s: %w", v.url, err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		return nil, fmt.Errorf("demo: reading %s: %w", v.url, err)
	}
	return &response{proto: resp.Proto, status: resp.StatusCode, xcache: resp.Header.Get("X-Cache"), age: resp.Header.Get("Age"), body: body}, nil
}

// newClient returns a viewer that reaches domain at the edge's local address,
// trusting the local CA, as `curl --resolve … --cacert …` does.
func newClient(edgeAddr string, roots *x509.CertPool, domain string) *http.Client {
	cfg := &tls.Config{RootCAs: roots, ServerName: domain, MinVersion: tls.VersionTLS12}
	dialer := &net.Dialer{Timeout: 5 * time.Second}
	tr := &http.Transport{
		DialContext: func(ctx context.Context, network, _ string) (net.Conn, error) {
			return dialer.DialContext(ctx, network, edgeAddr)
		},
		TLSClientConfig:   cfg,
		ForceAttemptHTTP2: true,
	}
	return &http.Client{Transport: tr, Timeout: 60 * time.Second}
}

// waitRecords polls count until it reaches want or logWait passes.
func waitRecords(ctx context.Context, count func() (int, error), want int) (int, error) {
	deadline := time.Now().Add(logWait)
	tick := time.NewTicker(20 * time.Millisecond)
	defer tick.Stop()
	for {
		n, err := count()
		if err == nil && n >= want {
			return n, nil
		}
		if time.Now().After(deadline) {
			if err != nil {
				return n, fmt.Errorf("demo: reading logs: %w", err)
			}
			return n, fmt.Errorf("demo: %d log line(s) after %s, want %d", n, logWait, want)
		}
		select {
		case <-ctx.Done():
			return n, ctx.Err()
		case <-tick.C:
		}
	}
}

func cfSummary(r *accesslog.CloudFrontRecord) string {
	ct, cl := r.ContentType, "-"
	if r.ContentLen >= 0 {
		cl = fmt.Sprint(r.ContentLen)
	}
	return fmt.Sprintf("%03d %s %s %s %s %s", r.Status, r.ResultType, r.DetailedResultType, r.URIStem, ct, cl)
}

func albSummary(r *accesslog.ALBRecord) string {
	return fmt.Sprintf("%s %d  target %s  SNI %s  cert …%s", r.Type, r.ELBStatus, r.Target, r.DomainName, tail(r.ChosenCertARN, 13))
}

// tail returns the last n bytes of s.
func tail(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return s[len(s)-n:]
}

// pageMessage returns the message line of a CloudFront error page.
func pageMessage(body []byte) string {
	lines := strings.Split(string(body), "\n")
	for i, l := range lines {
		if strings.HasPrefix(l, "<HR") && i+1 < len(lines) {
			return fmt.Sprintf("%q", lines[i+1])
		}
	}
	return fmt.Sprintf("%d-byte body", len(body))
}

func recordAlias(st *model.Stack, name string) string {
	for _, r := range st.Records {
		if r.Name == name {
			if r.AliasTarget != "" {
				return r.AliasTarget
			}
			return strings.Join(r.Values, ",")
		}
	}
	return "?"
}

// wrap folds s at width columns, each line prefixed.
func wrap(s string, width int, prefix string) string {
	var b strings.Builder
	line := prefix
	for _, w := range strings.Fields(s) {
		if len(line)+1+len(w) > width && line != prefix {
			b.WriteString(line + "\n")
			line = prefix
		}
		if line != prefix {
			line += " "
		}
		line += w
	}
	b.WriteString(line)
	return b.String()
}
