package main

import (
	"bufio"
	"bytes"
	"context"
	"crypto/tls"
	"crypto/x509"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/kumo-dev/kumo/internal/accesslog"
	"github.com/kumo-dev/kumo/internal/runtime"
	"github.com/kumo-dev/kumo/internal/stack"
)

// The test binary doubles as the kumo binary: with KUMO_TEST_MAIN=1 it runs
// main, so tests can send it real signals.
func TestMain(m *testing.M) {
	if os.Getenv("KUMO_TEST_MAIN") == "1" {
		main()
		return
	}
	os.Exit(m.Run())
}

func TestDemo(t *testing.T) {
	var out bytes.Buffer
	code := run(context.Background(), []string{"demo", "--state-dir", t.TempDir()}, &out, &out)
	t.Logf("kumo demo:\n%s", out.String())
	if code != 0 {
		t.Fatalf("kumo demo exited %d", code)
	}
	text := out.String()
	for _, want := range []string{"502", "Error from cloudfront", "OriginConnectError", "(no line", "Miss from cloudfront", "Hit from cloudfront", "ALB log"} {
		if !strings.Contains(text, want) {
			t.Errorf("demo output lacks %q", want)
		}
	}
	// One screen: at most 50 lines of at most 110 columns.
	lines := strings.Split(strings.TrimRight(text, "\n"), "\n")
	if len(lines) > 50 {
		t.Errorf("demo prints %d lines, more than one screen", len(lines))
	}
	for _, l := range lines {
		if n := len([]rune(l)); n > 110 {
			t.Errorf("demo line of %d columns: %q", n, l)
		}
	}
}

func TestInit(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "stack.yaml")
	var out bytes.Buffer
	if code := run(context.Background(), []string{"init", path}, &out, &out); code != 0 {
		t.Fatalf("init exited %d: %s", code, out.String())
	}
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(b, stack.DefaultTemplate()) {
		t.Fatal("init wrote something other than the default template")
	}
	if _, err := stack.Load(path, stack.Options{}); err != nil {
		t.Fatalf("the written template does not load: %v", err)
	}
	out.Reset()
	if code := run(context.Background(), []string{"init", path}, &out, &out); code == 0 || !strings.Contains(out.String(), "already exists") {
		t.Fatalf("init over an existing file: exit %d, %q", code, out.String())
	}
}

func TestBadTemplateError(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "stack.yaml")
	bad := bytes.Replace(stack.DefaultTemplate(), []byte("OriginProtocolPolicy: https-only"), []byte("OriginProtocolPolicy: https"), 1)
	if err := os.WriteFile(path, bad, 0o644); err != nil {
		t.Fatal(err)
	}
	var out bytes.Buffer
	code := run(context.Background(), []string{"up", "-f", path, "--state-dir", t.TempDir(), "--https", "127.0.0.1:0", "--http", "127.0.0.1:0", "--ephemeral-ports"}, &out, &out)
	if code == 0 {
		t.Fatal("kumo up accepted a bad template")
	}
	msg := out.String()
	if !strings.Contains(msg, "stack.yaml:") || !strings.Contains(msg, "OriginProtocolPolicy: \"https\" is not one of http-only, https-only, match-viewer") {
		t.Fatalf("error does not name the line and the field: %s", msg)
	}
}

// proc is a kumo process started by a test.
type proc struct {
	cmd  *exec.Cmd
	mu   sync.Mutex
	out  bytes.Buffer
	done chan error
}

func (p *proc) output() string {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.out.String()
}

func startKumo(t *testing.T, args ...string) *proc {
	t.Helper()
	cmd := exec.Command(os.Args[0], args...)
	cmd.Env = append(os.Environ(), "KUMO_TEST_MAIN=1")
	p := &proc{cmd: cmd, done: make(chan error, 1)}
	pr, pw := io.Pipe()
	cmd.Stdout = pw
	cmd.Stderr = pw
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	go func() {
		sc := bufio.NewScanner(pr)
		for sc.Scan() {
			p.mu.Lock()
			p.out.WriteString(sc.Text() + "\n")
			p.mu.Unlock()
		}
	}()
	go func() { err := cmd.Wait(); pw.Close(); p.done <- err }()
	t.Cleanup(func() {
		if cmd.ProcessState == nil {
			cmd.Process.Kill()
			<-p.done
		}
	})
	return p
}

func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// TestUpReloadAndSignal runs `kumo up -f` as a process: it serves, rejects a
// bad edit while still serving, applies a good edit, and on SIGTERM drains,
// flushes every log line and exits 0.
func TestUpReloadAndSignal(t *testing.T) {
	dir := t.TempDir()
	stateDir := filepath.Join(dir, "state")
	path := filepath.Join(dir, "stack.yaml")
	if err := os.WriteFile(path, stack.DefaultTemplate(), 0o644); err != nil {
		t.Fatal(err)
	}
	p := startKumo(t, "up", "-f", path, "--state-dir", stateDir, "--https", "127.0.0.1:0", "--http", "127.0.0.1:0", "--ephemeral-ports")
	var ep *runtime.Endpoints
	waitFor(t, "endpoints.json", func() bool {
		var err error
		ep, err = runtime.ReadEndpoints(stateDir)
		return err == nil
	})
	out := p.output()
	for _, want := range []string{"dpekz4s0xzujc.cloudfront.net", "alb-test-1234567890.ap-northeast-1.elb.amazonaws.com", "curl -i --resolve", "--cacert", "10.0.4.254:80"} {
		if !strings.Contains(out, want) {
			t.Errorf("kumo up output lacks %q:\n%s", want, out)
		}
	}
	get := func() (int, string) {
		t.Helper()
		caPEM, err := os.ReadFile(ep.CAFile)
		if err != nil {
			t.Fatal(err)
		}
		pool := x509.NewCertPool()
		pool.AppendCertsFromPEM(caPEM)
		d := ep.Distributions[0]
		tr := &http.Transport{
			TLSClientConfig: &tls.Config{RootCAs: pool, ServerName: d.DomainName},
			DialContext: func(ctx context.Context, n, _ string) (net.Conn, error) {
				return (&net.Dialer{}).DialContext(ctx, n, ep.Viewer.HTTPS)
			},
		}
		defer tr.CloseIdleConnections()
		resp, err := (&http.Client{Transport: tr, Timeout: 30 * time.Second}).Get(d.URL)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		io.Copy(io.Discard, resp.Body)
		return resp.StatusCode, resp.Header.Get("X-Cache")
	}
	if code, xc := get(); code != 200 {
		t.Fatalf("first request: %d %s", code, xc)
	}
	// `kumo status` finds the running kumo through the state directory.
	var status bytes.Buffer
	if code := run(context.Background(), []string{"status", "--state-dir", stateDir}, &status, &status); code != 0 {
		t.Fatalf("kumo status exited %d: %s", code, status.String())
	}
	for _, want := range []string{"dpekz4s0xzujc.cloudfront.net", "10.0.4.254:80", "healthy"} {
		if !strings.Contains(status.String(), want) {
			t.Errorf("kumo status lacks %q:\n%s", want, status.String())
		}
	}

	// A bad edit is rejected; the stack keeps serving.
	bad := bytes.Replace(stack.DefaultTemplate(), []byte("OriginProtocolPolicy: https-only"), []byte("OriginProtocolPolicy: https"), 1)
	if err := os.WriteFile(path, bad, 0o644); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "the bad edit to be rejected", func() bool { return strings.Contains(p.output(), "reload rejected") })
	if !strings.Contains(p.output(), "is not one of http-only, https-only, match-viewer") {
		t.Errorf("rejection does not say why:\n%s", p.output())
	}
	if code, _ := get(); code != 200 {
		t.Fatalf("after a bad edit: %d", code)
	}
	// A good edit applies.
	good := bytes.Replace(stack.DefaultTemplate(), []byte(stack.DefaultOriginLine), []byte(stack.BrokenOriginLine), 1)
	if err := os.WriteFile(path, good, 0o644); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "the edit to apply", func() bool { return strings.Contains(p.output(), "reloaded stack.yaml") })
	if code, xc := get(); code != 502 || xc != "Error from cloudfront" {
		t.Fatalf("after pointing the origin at the ALB name: %d %s", code, xc)
	}

	if err := p.cmd.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	select {
	case err := <-p.done:
		if err != nil {
			t.Fatalf("kumo up exited with %v:\n%s", err, p.output())
		}
	case <-time.After(60 * time.Second):
		t.Fatal("kumo up did not exit after SIGTERM")
	}
	recs, err := accesslog.ReadCloudFrontLogs(runtime.CloudFrontDir(stateDir), ep.Distributions[0].ID)
	if err != nil || len(recs) != 3 {
		t.Fatalf("CloudFront log after SIGTERM: %d lines, %v", len(recs), err)
	}
	if _, err := os.Stat(filepath.Join(stateDir, runtime.EndpointsFile)); !os.IsNotExist(err) {
		t.Errorf("endpoints.json survives shutdown: %v", err)
	}
}
