package runtime_test

import (
	"bytes"
	"context"
	"io"
	"io/fs"
	"log/slog"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/kumo-dev/kumo/internal/accesslog"
	"github.com/kumo-dev/kumo/internal/admin"
	"github.com/kumo-dev/kumo/internal/runtime"
	"github.com/kumo-dev/kumo/internal/stack"
)

// startOpts is startIn with the Pprof and NoAccessLogs options.
func startOpts(t *testing.T, pprof, noLogs bool) *env {
	t.Helper()
	stateDir := t.TempDir()
	st := parse(t, stack.DefaultTemplate())
	lw := &testWriter{t: t}
	rt, err := runtime.Start(context.Background(), st, runtime.Options{
		StateDir:     stateDir,
		ViewerHTTPS:  "127.0.0.1:0",
		ViewerHTTP:   "127.0.0.1:0",
		ViewerHTTP3:  "off",
		Ephemeral:    true,
		Pprof:        pprof,
		NoAccessLogs: noLogs,
		Logger:       slog.New(slog.NewTextHandler(lw, &slog.HandlerOptions{Level: slog.LevelInfo})),
	})
	if err != nil {
		t.Fatalf("runtime.Start: %v", err)
	}
	e := &env{t: t, rt: rt, stateDir: stateDir, stack: st, log: lw}
	t.Cleanup(func() { e.shutdown() })
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if err := rt.WaitHealthChecked(ctx); err != nil {
		t.Fatalf("health checks: %v", err)
	}
	return e
}

// adminGet does GET path on the admin endpoint, with the token when
// withToken.
func adminGet(t *testing.T, e *env, path string, withToken bool) (int, []byte) {
	t.Helper()
	req, err := http.NewRequest(http.MethodGet, "http://"+e.rt.Endpoints().Admin+path, nil)
	if err != nil {
		t.Fatal(err)
	}
	if withToken {
		tok, err := os.ReadFile(filepath.Join(e.stateDir, admin.TokenFile))
		if err != nil {
			t.Fatal(err)
		}
		req.Header.Set("Authorization", "Bearer "+strings.TrimSpace(string(tok)))
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatalf("GET %s: %v", path, err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatalf("GET %s: %v", path, err)
	}
	return resp.StatusCode, b
}

// TestAdminPprof: /debug/pprof is 404 unless Options.Pprof, and then serves
// real profiles, still only with the admin token.
func TestAdminPprof(t *testing.T) {
	for _, tc := range []struct {
		name  string
		pprof bool
	}{{"off by default", false}, {"on", true}} {
		t.Run(tc.name, func(t *testing.T) {
			e := startOpts(t, tc.pprof, false)
			if code, _ := adminGet(t, e, "/debug/pprof/", false); code != http.StatusUnauthorized {
				t.Fatalf("without the token: status %d, want 401", code)
			}
			for _, path := range []string{"/debug/pprof/", "/debug/pprof/profile?seconds=1", "/debug/pprof/heap"} {
				code, body := adminGet(t, e, path, true)
				if !tc.pprof {
					if code != http.StatusNotFound {
						t.Errorf("GET %s with pprof off: status %d, want 404", path, code)
					}
					continue
				}
				if code != http.StatusOK {
					t.Fatalf("GET %s: status %d: %s", path, code, body)
				}
				if strings.HasPrefix(path, "/debug/pprof/?") || path == "/debug/pprof/" {
					if !bytes.Contains(body, []byte("goroutine")) {
						t.Errorf("index lacks the goroutine profile: %.200s", body)
					}
					continue
				}
				// A profile is a gzipped protocol buffer.
				if len(body) < 2 || body[0] != 0x1f || body[1] != 0x8b {
					t.Errorf("GET %s: not a gzipped profile: % x", path, body[:min(len(body), 8)])
				}
			}
		})
	}
}

// TestNoAccessLogs: with Options.NoAccessLogs a served request leaves no
// CloudFront log file; without it the line is written.
func TestNoAccessLogs(t *testing.T) {
	for _, tc := range []struct {
		name   string
		noLogs bool
	}{{"logs on", false}, {"logs off", true}} {
		t.Run(tc.name, func(t *testing.T) {
			e := startOpts(t, false, tc.noLogs)
			d := e.stack.Distributions[0]
			if r := e.viewer(http.MethodGet, "https", d.DomainName, "/", nil); r.status != http.StatusOK {
				t.Fatalf("status %d", r.status)
			}
			e.shutdown() // flushes every log
			recs, err := accesslog.ReadCloudFrontLogs(runtime.CloudFrontDir(e.stateDir), d.ID)
			if err != nil && !tc.noLogs {
				t.Fatalf("reading the CloudFront log: %v", err)
			}
			if !tc.noLogs && len(recs) != 1 {
				t.Fatalf("%d CloudFront log lines, want 1", len(recs))
			}
			if tc.noLogs {
				var files []string
				_ = filepath.WalkDir(filepath.Join(e.stateDir, "logs"), func(p string, de fs.DirEntry, err error) error {
					if err == nil && !de.IsDir() && !strings.Contains(p, "health") {
						files = append(files, p)
					}
					return nil
				})
				if len(recs) != 0 || len(files) != 0 {
					t.Fatalf("logs off, yet %d CloudFront lines and access-log files %v", len(recs), files)
				}
			}
		})
	}
}
