package accesslog

import (
	"context"
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/kumo-dev/kumo/internal/tooltest"
)

// goaccessGeneral runs goaccess on file with the given preset and returns
// general.total_requests and general.failed_requests from its JSON report.
// By hand (GoAccess 1.7): the CLOUDFRONT preset skips the #Version/#Fields
// header lines, and it cannot read a .gz file ("Token for '%d' specifier is
// NULL"), so it is given the live plain file.
func goaccessGeneral(t *testing.T, file, preset string) (total, failed int) {
	t.Helper()
	bin := tooltest.Require(t, "goaccess")
	dir := t.TempDir()
	out := filepath.Join(dir, "out.json")
	invalid := filepath.Join(dir, "invalid.log")
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, bin, file, "--log-format="+preset, "--no-global-config",
		"-o", out, "--invalid-requests="+invalid)
	cmd.Dir = dir
	if b, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("goaccess: %v\n%s", err, b)
	}
	b, err := os.ReadFile(out)
	if err != nil {
		t.Fatal(err)
	}
	var report struct {
		General struct {
			Total  int `json:"total_requests"`
			Failed int `json:"failed_requests"`
		} `json:"general"`
	}
	if err := json.Unmarshal(b, &report); err != nil {
		t.Fatalf("goaccess JSON: %v", err)
	}
	if inv, _ := os.ReadFile(invalid); len(inv) > 0 {
		t.Logf("goaccess invalid requests:\n%s", inv)
	}
	return report.General.Total, report.General.Failed
}

func TestGoAccessCloudFront(t *testing.T) {
	dir := t.TempDir()
	l, err := OpenCloudFrontLog(dir, testDist, LogOptions{FlushInterval: -1})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { l.Close() })
	at := time.Date(2023, 3, 17, 8, 0, 0, 0, time.UTC)
	miss := seedCloudFrontMiss()
	hit := seedCloudFrontMiss()
	hit.ResultType, hit.ResponseResultType, hit.DetailedResultType = "Hit", "Hit", "Hit"
	redirect := seedCloudFrontMiss()
	redirect.Status, redirect.Protocol, redirect.SSLProtocol, redirect.SSLCipher = 301, "http", "", ""
	redirect.ResultType, redirect.ResponseResultType, redirect.DetailedResultType = "Redirect", "Redirect", "Redirect"
	ipv6 := seedCloudFrontMiss()
	ipv6.ClientIP = "2001:db8:85a3::8a2e:370:7334"
	utf8 := seedCloudFrontMiss()
	utf8.URIStem, utf8.URIQuery = "/日本語/ファイル.html", "q=über x"
	quotes := seedCloudFrontMiss()
	quotes.UserAgent = `Mozilla/5.0 "quoted" 'single' \back`
	chunked := seedCloudFrontMiss()
	chunked.ContentLen = -1
	// Not included: sc-status 000 (viewer left before a response,
	// cloudfront.md §1.3 #9). GoAccess 1.7 counts a 000 line as a failed
	// request, for AWS's own logs too (checked by hand with sample 09).
	recs := []*CloudFrontRecord{miss, hit, seedCloudFront502(), redirect, ipv6, utf8, quotes, chunked}
	for i, r := range recs {
		r.Time = at.Add(time.Duration(i) * time.Minute)
		if r.ClientIP == "xxx.xxx.xxx.xxx" {
			r.ClientIP = "192.0.2.10"
		}
		if err := l.Write(r); err != nil {
			t.Fatal(err)
		}
	}
	files, _ := filepath.Glob(filepath.Join(dir, testDist+".*"))
	if len(files) != 1 || strings.HasSuffix(files[0], ".gz") {
		t.Fatalf("want one live plain file, have %q", files)
	}
	total, failed := goaccessGeneral(t, files[0], "CLOUDFRONT")
	if failed != 0 || total != len(recs) {
		t.Errorf("goaccess: total_requests %d failed_requests %d, want %d and 0", total, failed, len(recs))
	}
}

func TestGoAccessALB(t *testing.T) {
	dir := t.TempDir()
	clock := &fakeClock{t: time.Date(2023, 3, 17, 9, 27, 13, 0, time.UTC)}
	l, err := OpenALBLog(dir, testALBIdentity, LogOptions{Now: clock.Now, FlushInterval: -1})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { l.Close() })
	ok := seedALB()
	bad := seedALB()
	bad.ELBStatus, bad.TargetStatus, bad.TargetStatusCodeList = 502, 0, ""
	bad.ResponseProcessingTime = ALBTimingNotMeasured
	redirect := seedALB()
	redirect.ELBStatus, redirect.TargetStatus, redirect.Target, redirect.TargetGroupARN = 301, 0, "", ""
	redirect.ActionsExecuted, redirect.RedirectURL, redirect.TargetPortList, redirect.TargetStatusCodeList = "redirect", "https://alb.example.com:443/", "", ""
	gone := albMalformed400()
	utf8 := seedALB()
	utf8.Request = "GET https://alb.example.com:443/日本語?q=über HTTP/1.1"
	quotes := seedALB()
	quotes.UserAgent = `Mozilla/5.0 "quoted" \back` + "\nnewline"
	// GoAccess 1.7's AWSALB preset reads client:port as %h:%^ and so rejects
	// the unbracketed IPv6 client AWS writes (alb.md §1.3 #4); IPv6 clients
	// are covered by the round-trip tests instead.
	recs := []*ALBRecord{ok, bad, redirect, gone, utf8, quotes}
	for _, r := range recs {
		if err := l.Write(r); err != nil {
			t.Fatal(err)
		}
	}
	var live []string
	filepath.WalkDir(dir, func(p string, d os.DirEntry, err error) error {
		if err == nil && !d.IsDir() {
			live = append(live, p)
		}
		return nil
	})
	if len(live) != 1 || !strings.HasSuffix(live[0], ".log") {
		t.Fatalf("want one live .log file, have %q", live)
	}
	total, failed := goaccessGeneral(t, live[0], "AWSALB")
	if failed != 0 || total != len(recs) {
		t.Errorf("goaccess: total_requests %d failed_requests %d, want %d and 0", total, failed, len(recs))
	}
}
