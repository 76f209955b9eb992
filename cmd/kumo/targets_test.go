package main

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/kumo-dev/kumo/internal/runtime"
	"github.com/kumo-dev/kumo/internal/stack"
)

// TestTargetsCommand runs `kumo targets` against a running runtime whose
// health check path is missing on the web servers: the table shows the
// targets going from initial to unhealthy with the reason and description
// of alb.md §6.3, and --output json --target-group prints the
// describe-target-health shape of §7.6.
func TestTargetsCommand(t *testing.T) {
	stateDir := t.TempDir()
	src := bytes.Replace(stack.DefaultTemplate(), []byte("      HealthCheckIntervalSeconds: 5\n"),
		[]byte("      HealthCheckIntervalSeconds: 5\n      HealthCheckPath: /missing\n"), 1)
	if bytes.Equal(src, stack.DefaultTemplate()) {
		t.Fatal("default template has no HealthCheckIntervalSeconds: 5 line")
	}
	st, err := stack.Parse("stack.yaml", src, stack.Options{})
	if err != nil {
		t.Fatal(err)
	}
	rt, err := runtime.Start(context.Background(), st, runtime.Options{StateDir: stateDir,
		ViewerHTTPS: "127.0.0.1:0", ViewerHTTP: "127.0.0.1:0", Ephemeral: true, Logger: slog.New(slog.NewTextHandler(io.Discard, nil))})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		if err := rt.Shutdown(ctx); err != nil {
			t.Errorf("Shutdown: %v", err)
		}
	})
	if err := rt.WriteEndpoints(); err != nil {
		t.Fatal(err)
	}
	targets := func(args ...string) string {
		t.Helper()
		var out bytes.Buffer
		if code := run(context.Background(), append([]string{"targets", "--state-dir", stateDir}, args...), &out, &out); code != 0 {
			t.Fatalf("kumo targets %v exited %d: %s", args, code, out.String())
		}
		return out.String()
	}
	row := regexp.MustCompile(`(?m)^alb-tg +i-[0-9a-f]{17} +80 +80 +unhealthy +Target\.ResponseCodeMismatch +Health checks failed with these codes: \[404\]$`)
	var table string
	waitFor(t, "both targets unhealthy in `kumo targets`", func() bool {
		table = targets()
		return len(row.FindAllString(table, -1)) == 2
	})
	if !strings.HasPrefix(table, "TARGET GROUP  TARGET  ") {
		t.Errorf("table header:\n%s", table)
	}

	js := targets("--output", "json", "--target-group", "alb-tg")
	var got struct {
		TargetHealthDescriptions []map[string]json.RawMessage
	}
	dec := json.NewDecoder(strings.NewReader(js))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&got); err != nil {
		t.Fatalf("json output %s: %v", js, err)
	}
	if len(got.TargetHealthDescriptions) != 2 {
		t.Fatalf("json output %s", js)
	}
	for _, d := range got.TargetHealthDescriptions {
		if len(d) != 3 || !regexp.MustCompile(`^\{"Id":"i-[0-9a-f]{17}","Port":80\}$`).Match(compact(t, d["Target"])) ||
			string(d["HealthCheckPort"]) != `"80"` ||
			string(compact(t, d["TargetHealth"])) != `{"State":"unhealthy","Reason":"Target.ResponseCodeMismatch","Description":"Health checks failed with these codes: [404]"}` {
			t.Errorf("description %s", js)
		}
	}
	if _, err := runCapture("targets", "--state-dir", stateDir, "--target-group", "nope"); err == nil || !strings.Contains(err.Error(), `no target group "nope"`) {
		t.Errorf("unknown target group: %v", err)
	}
}

func compact(t *testing.T, b []byte) []byte {
	t.Helper()
	var out bytes.Buffer
	if err := json.Compact(&out, b); err != nil {
		t.Fatal(err)
	}
	return out.Bytes()
}

// runCapture runs kumo and returns its output, and an error carrying the
// output when it exits non-zero.
func runCapture(args ...string) (string, error) {
	var out bytes.Buffer
	if code := run(context.Background(), args, &out, &out); code != 0 {
		return out.String(), &exitError{code: code, out: out.String()}
	}
	return out.String(), nil
}

type exitError struct {
	code int
	out  string
}

func (e *exitError) Error() string { return e.out }
