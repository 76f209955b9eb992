package main

import (
	"bytes"
	"context"
	"crypto/tls"
	"encoding/json"
	"io"
	"log/slog"
	"net"
	"net/http"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/kumo-dev/kumo/internal/runtime"
	"github.com/kumo-dev/kumo/internal/stack"
)

// TestInvalidateCommand runs `kumo invalidate` against a running runtime:
// the cached object is a Miss again afterwards, and the output is
// CloudFront's create-invalidation output (cloudfront.md §4.9).
func TestInvalidateCommand(t *testing.T) {
	stateDir := t.TempDir()
	st, err := stack.Parse("stack.yaml", stack.DefaultTemplate(), stack.Options{})
	if err != nil {
		t.Fatal(err)
	}
	rt, err := runtime.Start(context.Background(), st, runtime.Options{StateDir: stateDir, ViewerHTTPS: "127.0.0.1:0",
		ViewerHTTP: "127.0.0.1:0", Ephemeral: true, Logger: slog.New(slog.NewTextHandler(io.Discard, nil))})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		_ = rt.Shutdown(ctx)
	})
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if err := rt.WaitHealthChecked(ctx); err != nil {
		t.Fatal(err)
	}
	if err := rt.WriteEndpoints(); err != nil {
		t.Fatal(err)
	}
	d := st.Distributions[0]
	ep := rt.Endpoints()
	tr := &http.Transport{
		TLSClientConfig: &tls.Config{RootCAs: rt.CA().Pool(), ServerName: d.DomainName},
		DialContext: func(ctx context.Context, n, _ string) (net.Conn, error) {
			return (&net.Dialer{}).DialContext(ctx, n, ep.Viewer.HTTPS)
		},
	}
	defer tr.CloseIdleConnections()
	get := func() string {
		t.Helper()
		resp, err := (&http.Client{Transport: tr, Timeout: 30 * time.Second}).Get("https://" + d.DomainName + "/")
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		_, _ = io.Copy(io.Discard, resp.Body)
		return resp.Header.Get("X-Cache")
	}
	get()
	if xc := get(); xc != "Hit from cloudfront" {
		t.Fatalf("second request: %q", xc)
	}

	var out, errb bytes.Buffer
	if code := run(ctx, []string{"invalidate", "--state-dir", stateDir, "--distribution", d.ID, "--wait", "/*"}, &out, &errb); code != 0 {
		t.Fatalf("kumo invalidate exited %d: %s", code, errb.String())
	}
	var res struct {
		Location     string
		Invalidation struct {
			Id                string
			Status            string
			InvalidationBatch struct {
				Paths struct {
					Quantity int
					Items    []string
				}
			}
		}
	}
	if err := json.Unmarshal(out.Bytes(), &res); err != nil {
		t.Fatalf("output is not JSON: %v\n%s", err, out.String())
	}
	if !regexp.MustCompile(`^I[A-Z0-9]{13}$`).MatchString(res.Invalidation.Id) || res.Invalidation.Status != "Completed" ||
		res.Invalidation.InvalidationBatch.Paths.Quantity != 1 || !strings.Contains(res.Location, res.Invalidation.Id) {
		t.Errorf("output:\n%s", out.String())
	}
	if xc := get(); xc != "Miss from cloudfront" {
		t.Errorf("after kumo invalidate: %q, want a Miss", xc)
	}

	// The distribution can be named by its domain; bad paths are refused.
	errb.Reset()
	if code := run(ctx, []string{"invalidate", "--state-dir", stateDir, "--distribution", d.DomainName, "images/*"}, &out, &errb); code == 0 || !strings.Contains(errb.String(), "must start with /") {
		t.Errorf("bad path: exit %d, %s", code, errb.String())
	}
	errb.Reset()
	if code := run(ctx, []string{"invalidate", "--state-dir", stateDir, "--distribution", "ENOPE", "/*"}, &out, &errb); code == 0 || !strings.Contains(errb.String(), "no distribution") {
		t.Errorf("unknown distribution: exit %d, %s", code, errb.String())
	}
}
