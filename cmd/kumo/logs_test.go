package main

import (
	"bytes"
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/kumo-dev/kumo/internal/diagnose/logs"
)

// seedCloudFrontLog is the seed's two real CloudFront lines (in-repo copy).
const seedCloudFrontLog = "../../internal/accesslog/testdata/samples/cloudfront-logs/04-task-seed-2023-nrt57.txt"

// TestLogsExplainSeed: `kumo logs explain` on the seed's real lines names
// the origin TLS-or-connection cause.
func TestLogsExplainSeed(t *testing.T) {
	var out, errb bytes.Buffer
	if code := run(context.Background(), []string{"logs", "explain", seedCloudFrontLog}, &out, &errb); code != 0 {
		t.Fatalf("exit %d: %s", code, errb.String())
	}
	for _, want := range []string{"CloudFront 502 Error/OriginConnectError", "TLS handshake", "TCP connection", "kumo probe", "zurs8x7CL4FSngdxjAkYoAE_dPTtiyGnS16GImPcfRwUl2eaHhfiBQ=="} {
		if !strings.Contains(out.String(), want) {
			t.Errorf("output lacks %q:\n%s", want, out.String())
		}
	}
}

// TestLogsExplainDemo runs the demo (broken origin, then the fix) and
// explains kumo's own CloudFront and ALB logs: the 502 never reached the
// ALB's access log, and the ALB's connection log shows the failed handshake.
func TestLogsExplainDemo(t *testing.T) {
	state := t.TempDir()
	var out bytes.Buffer
	if code := run(context.Background(), []string{"demo", "--state-dir", state}, &out, &out); code != 0 {
		t.Fatalf("kumo demo exited %d:\n%s", code, out.String())
	}
	out.Reset()
	var errb bytes.Buffer
	args := []string{"logs", "explain", "--format", "json", "--origin-domain", "alb-test-1234567890.ap-northeast-1.elb.amazonaws.com", filepath.Join(state, "demo", "logs")}
	if code := run(context.Background(), args, &out, &errb); code != 0 {
		t.Fatalf("exit %d: %s", code, errb.String())
	}
	var rep logs.Report
	if err := json.Unmarshal(out.Bytes(), &rep); err != nil {
		t.Fatalf("%v\n%s", err, out.String())
	}
	if rep.Lines["cloudfront"] == 0 || rep.Lines["alb"] == 0 || rep.Unreadable != 0 {
		t.Fatalf("lines %v unreadable %d %v", rep.Lines, rep.Unreadable, rep.UnreadableSamples)
	}
	var g *logs.Group
	for _, x := range rep.Groups {
		if x.DetailedResultType == "OriginConnectError" {
			g = x
		}
	}
	if g == nil || g.Status != 502 || g.Correlation == nil {
		t.Fatalf("no correlated 502 OriginConnectError group: %s", out.String())
	}
	c := g.Correlation
	if c.WithALB != 0 || c.WithoutALB != g.Count || c.FailedHandshakes != g.Count || !strings.Contains(c.Note, "failed before the ALB") {
		t.Errorf("correlation %+v", c)
	}
}

// TestLogsStatsStdin feeds the seed to `kumo logs stats -` through stdin.
func TestLogsStatsStdin(t *testing.T) {
	seed, err := os.ReadFile(seedCloudFrontLog)
	if err != nil {
		t.Fatal(err)
	}
	var out, errb bytes.Buffer
	root := newRoot(&out, &errb)
	root.SetIn(bytes.NewReader(seed))
	root.SetArgs([]string{"logs", "stats", "--format", "json", "-"})
	if err := root.ExecuteContext(context.Background()); err != nil {
		t.Fatal(err)
	}
	var st logs.Stats
	if err := json.Unmarshal(out.Bytes(), &st); err != nil || st.CloudFront == nil || st.CloudFront.Requests != 2 || st.CloudFront.BytesSent != 1194+4549 {
		t.Fatalf("%v: %s", err, out.String())
	}
	if errb.Len() != 0 {
		t.Errorf("stderr %q: no progress bar when stderr is not a terminal", errb.String())
	}
}

// TestLogsErrors: bad flags and inputs give clear errors.
func TestLogsErrors(t *testing.T) {
	cases := []struct {
		args []string
		want string
	}{
		{[]string{"logs", "explain", "--format", "yaml", seedCloudFrontLog}, `--format "yaml"`},
		{[]string{"logs", "stats", "--format", "xml", seedCloudFrontLog}, `--format "xml"`},
		{[]string{"logs", "explain", "/nonexistent/kumo-logs"}, "no such file"},
		{[]string{"logs", "stats"}, "requires at least 1 arg"},
		{[]string{"logs", "stats", "--top", "0", seedCloudFrontLog}, "--top 0"},
		{[]string{"logs", "explain", "--window", "-1s", seedCloudFrontLog}, "--window"},
	}
	for _, c := range cases {
		var out, errb bytes.Buffer
		if code := run(context.Background(), c.args, &out, &errb); code == 0 || !strings.Contains(errb.String(), c.want) {
			t.Errorf("%v: exit %d stderr %q, want an error with %q", c.args, code, errb.String(), c.want)
		}
	}
}
