package logs

import (
	"bufio"
	"bytes"
	"compress/gzip"
	"context"
	"encoding/json"
	"flag"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/kumo-dev/kumo/internal/accesslog"
)

var update = flag.Bool("update", false, "rewrite golden files")

// repoRoot finds the directory holding go.mod.
func repoRoot(t testing.TB) string {
	t.Helper()
	dir, err := filepath.Abs(".")
	if err != nil {
		t.Fatal(err)
	}
	for {
		if _, err := os.Stat(filepath.Join(dir, "go.mod")); err == nil {
			return dir
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			t.Fatal("no go.mod above the test directory")
		}
		dir = parent
	}
}

// sampleRoots returns the in-repo copy of the real-log samples and, when
// present, the shared testdata beside the repository it was copied from.
func sampleRoots(t testing.TB) []string {
	root := repoRoot(t)
	roots := []string{filepath.Join(root, "internal", "accesslog", "testdata", "samples")}
	shared := filepath.Join(filepath.Dir(root), "shared", "testdata")
	if st, err := os.Stat(shared); err == nil && st.IsDir() {
		roots = append(roots, shared)
	} else {
		t.Log("no ../shared/testdata beside the repository; using the in-repo copy only")
	}
	return roots
}

// seedFile is the seed's two real CloudFront lines (cloudfront.md §1.7).
func seedFile(t testing.TB) string {
	return filepath.Join(repoRoot(t), "internal", "accesslog", "testdata", "samples", "cloudfront-logs", "04-task-seed-2023-nrt57.txt")
}

// seedALBLine is the real ALB line of alb.md §1.10 (same distribution, same
// minute as the seed's 200 Miss).
const seedALBLine = `https 2023-03-17T09:27:13.101083Z app/alb-test/96e12a2c8669fbe5 70.132.40.151:63288 10.0.4.254:80 0.000 0.002 0.000 200 200 804 4483 "GET https://dpekz4s0xzujc.cloudfront.net:443/icons/apache_pb2.gif HTTP/1.1" "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/111.0.0.0 Safari/537.36" ECDHE-RSA-AES128-GCM-SHA256 TLSv1.2 arn:aws:elasticloadbalancing:ap-northeast-1:XXXXXXXXXXXX:targetgroup/alb-tg/d3bb7ccab2dace96 "Root=1-XXXXXXX-2xxxxaf0e4752d74ebca925" "dpekz4s0xzujc.cloudfront.net" "arn:aws:acm:ap-northeast-1:XXXXXXXXXXXXX:certificate/ae66ff29-9f0c-4f59-bbfb-473a03b7df43" 0 2023-03-17T09:27:13.098000Z "forward" "-" "-" "10.0.4.254:80" "200" "-" "-"` + "\n"

func explainPaths(t *testing.T, paths ...string) *Report {
	t.Helper()
	rep, err := Explain(context.Background(), ExplainConfig{Input: Input{Paths: paths}})
	if err != nil {
		t.Fatal(err)
	}
	return rep
}

// TestExplainSeed: on the seed's two real lines, explain names the origin
// TLS-or-connection cause of the 502 and suggests kumo probe; the text
// output is compared byte for byte with a golden file.
func TestExplainSeed(t *testing.T) {
	rep := explainPaths(t, seedFile(t))
	if rep.Lines["cloudfront"] != 2 || rep.ErrorLines != 1 || len(rep.Groups) != 1 || rep.Unreadable != 0 {
		t.Fatalf("report %+v, want 2 CloudFront lines and one error group", rep)
	}
	g := rep.Groups[0]
	if g.Status != 502 || g.DetailedResultType != "OriginConnectError" || g.Count != 1 ||
		g.SampleIDs[0] != "zurs8x7CL4FSngdxjAkYoAE_dPTtiyGnS16GImPcfRwUl2eaHhfiBQ==" ||
		!g.First.Equal(time.Date(2023, 3, 17, 8, 37, 50, 0, time.UTC)) {
		t.Fatalf("group %+v", g)
	}
	for _, want := range []string{"TLS handshake", "TCP connection", "certificate does not cover the origin domain"} {
		if !strings.Contains(g.Explanation.Cause, want) {
			t.Errorf("cause %q does not say %q", g.Explanation.Cause, want)
		}
	}
	if !strings.Contains(g.Explanation.Next, "kumo probe") {
		t.Errorf("next %q does not suggest kumo probe", g.Explanation.Next)
	}
	if g.Correlation == nil || g.Correlation.ALBLogs {
		t.Errorf("correlation %+v, want ALB logs absent", g.Correlation)
	}
	var buf bytes.Buffer
	if err := rep.Write(&buf, FormatText); err != nil {
		t.Fatal(err)
	}
	golden(t, "explain-seed.golden", buf.Bytes())
}

// golden compares got with testdata/name (rewritten with -update).
func golden(t *testing.T, name string, got []byte) {
	t.Helper()
	path := filepath.Join("testdata", name)
	if *update {
		if err := os.WriteFile(path, got, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(got, want) {
		t.Errorf("output differs from %s:\n--- got\n%s\n--- want\n%s", path, got, want)
	}
}

// writeGzip writes data gzipped to path, creating its directories.
func writeGzip(t *testing.T, path string, data []byte) {
	t.Helper()
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		t.Fatal(err)
	}
	var b bytes.Buffer
	zw := gzip.NewWriter(&b)
	zw.Write(data)
	if err := zw.Close(); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, b.Bytes(), 0o644); err != nil {
		t.Fatal(err)
	}
}

// s3Tree lays the seed out as AWS delivers it to S3: the CloudFront file
// under its prefix, the ALB file under AWSLogs/<acct>/elasticloadbalancing/…,
// both gzipped; extraCF lines are appended to the CloudFront file.
func s3Tree(t *testing.T, extraCF string) string {
	seed, err := os.ReadFile(seedFile(t))
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	writeGzip(t, filepath.Join(dir, "cf", "E2SEEDEXAMPLE.2023-03-17-08.RT4KCN4SGK9.gz"), append(seed, extraCF...))
	writeGzip(t, filepath.Join(dir, "alb", "AWSLogs", "123456789012", "elasticloadbalancing", "ap-northeast-1", "2023", "03", "17",
		"123456789012_elasticloadbalancing_ap-northeast-1_app.alb-test.96e12a2c8669fbe5_20230317T0930Z_10.0.4.10_5m9zb7ux.log.gz"), []byte(seedALBLine))
	return dir
}

// TestExplainCorrelation: with the ALB logs in the input, the seed's 502
// has no ALB entry in its window — the TCP/TLS failure happened before the
// ALB — while an origin error next to a logged ALB request is seen to have
// reached it.
func TestExplainCorrelation(t *testing.T) {
	// An OriginReadError 7 s after the ALB's logged request, same host.
	readErr := "2023-03-17\t09:27:20\tNRT57-C3\t500\t192.0.2.1\tGET\tdpekz4s0xzujc.cloudfront.net\t/big\t502\t-\tcurl\t-\t-\tError\tREADERRxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx==\tdpekz4s0xzujc.cloudfront.net\thttps\t100\t0.500\t-\tTLSv1.3\tTLS_AES_128_GCM_SHA256\tError\tHTTP/2.0\t-\t-\t5000\t0.500\tOriginReadError\ttext/html\t951\t-\t-\n"
	dir := s3Tree(t, readErr)
	cases := []struct {
		name    string
		window  time.Duration
		origins []string
		detail  string
		with    int64
		note    string
	}{
		{"seed 502 never reached the ALB", 0, nil, "OriginConnectError", 0, "the TCP connection or the TLS handshake failed before the ALB"},
		{"read error next to an ALB request", 0, nil, "OriginReadError", 1, "have ALB entries"},
		{"read error outside a 5s window", 5 * time.Second, nil, "OriginReadError", 0, "did not reach this ALB"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			rep, err := Explain(context.Background(), ExplainConfig{Input: Input{Paths: []string{filepath.Join(dir, "cf"), filepath.Join(dir, "alb")}}, Window: c.window, OriginDomains: c.origins})
			if err != nil {
				t.Fatal(err)
			}
			if rep.Lines["alb"] != 1 || rep.Lines["cloudfront"] != 3 {
				t.Fatalf("lines %v, want 1 alb and 3 cloudfront", rep.Lines)
			}
			var g *Group
			for _, x := range rep.Groups {
				if x.DetailedResultType == c.detail {
					g = x
				}
			}
			if g == nil || g.Correlation == nil {
				t.Fatalf("no correlated %s group in %+v", c.detail, rep.Groups)
			}
			cor := g.Correlation
			if !cor.ALBLogs || !cor.HostSeen || cor.WithALB != c.with || cor.WithALB+cor.WithoutALB != g.Count {
				t.Errorf("correlation %+v, want with_alb %d", cor, c.with)
			}
			if !strings.Contains(cor.Note, c.note) {
				t.Errorf("note %q, want it to contain %q", cor.Note, c.note)
			}
		})
	}
	// An ALB that never logs the distribution's host: says so, and
	// --origin-domain does not invent entries.
	rep, err := Explain(context.Background(), ExplainConfig{Input: Input{Paths: []string{filepath.Join(dir, "cf"), filepath.Join(repoRoot(t), "internal", "accesslog", "testdata", "samples", "alb-logs", "coralogix-grpcs.log")}}})
	if err != nil {
		t.Fatal(err)
	}
	for _, g := range rep.Groups {
		if g.Correlation != nil && (g.Correlation.HostSeen || g.Correlation.MatchedOn != "time" || !strings.Contains(g.Correlation.Note, "--origin-domain")) {
			t.Errorf("group %s: correlation %+v, want host never seen, matched on time", g.DetailedResultType, g.Correlation)
		}
	}
	// A failed handshake in the ALB connection log next to the 502 (the
	// ALB logs the aborted TLS handshake, alb.md §1.12): TLS, not TCP. With
	// --origin-domain naming the ELB name, the match is on host.
	conn := "2023-03-17T08:37:50.012000Z 70.132.40.151 62612 443 - - - \"-\" - - Failed:UnmappedConnectionError TID_0118b1007ae46080c9ed23796083647d\n"
	connPath := filepath.Join(dir, "alb", "AWSLogs", "123456789012", "elasticloadbalancing", "ap-northeast-1", "2023", "03", "17",
		"conn_log_123456789012_elasticloadbalancing_ap-northeast-1_app.alb-test.96e12a2c8669fbe5_20230317T0840Z_10.0.4.10_1a2b3c4d.log")
	if err := os.WriteFile(connPath, []byte(conn), 0o644); err != nil {
		t.Fatal(err)
	}
	rep, err = Explain(context.Background(), ExplainConfig{Input: Input{Paths: []string{dir}}, OriginDomains: []string{"alb-test-1234567890.ap-northeast-1.elb.amazonaws.com"}})
	if err != nil {
		t.Fatal(err)
	}
	var found bool
	for _, g := range rep.Groups {
		switch g.DetailedResultType {
		case "OriginConnectError":
			found = true
			c := g.Correlation
			if c.FailedHandshakes != 1 || c.WithALB != 0 || c.MatchedOn != "host" || !strings.Contains(c.Note, "the TLS handshake failed") {
				t.Errorf("correlation %+v", c)
			}
		case "OriginReadError":
			if g.Correlation.FailedHandshakes != 0 || strings.Contains(g.Correlation.Note, "TLS handshake failed") {
				t.Errorf("read error correlated with a handshake 50 minutes earlier: %+v", g.Correlation)
			}
		}
		if g.Log == "alb connection" && g.Explanation.ID != "ALB-CONN-UnmappedConnectionError" {
			t.Errorf("connection group %+v", g.Explanation)
		}
	}
	if !found {
		t.Error("no OriginConnectError group")
	}
}

// isErrorLine is the test's own, independent definition of an error line:
// status ≥ 400 or 000, an Error result type, a failed health check or a
// failed mTLS verification.
func isErrorLine(kind, line string) (bool, error) {
	switch kind {
	case "cloudfront":
		r, err := accesslog.ParseCloudFrontLine(line)
		if err != nil {
			return false, err
		}
		return r.Status >= 400 || r.Status == 0 || r.ResultType == "Error" || r.ResultType == "LimitExceeded" || r.ResultType == "CapacityExceeded" || r.ResultType == "LambdaExecutionError", nil
	case "connection":
		r, err := accesslog.ParseALBConnectionLine(line)
		if err != nil {
			return false, err
		}
		return strings.HasPrefix(r.TLSVerifyStatus, "Failed"), nil
	case "health":
		r, err := accesslog.ParseALBHealthCheckLine(line)
		if err != nil {
			return false, err
		}
		return r.Status == "FAIL", nil
	}
	r, err := accesslog.ParseALBLine(line)
	if err != nil {
		return false, err
	}
	return r.ELBStatus >= 400 || r.ELBStatus == 0 || r.ErrorReason != "", nil
}

// TestExplainEverySample walks every real-log sample (the in-repo copy and
// ../shared/testdata) like accesslog's samples test: explain runs on each
// file without error, every error line lands in a group, and every group has
// a specific explanation (never the generic fallback). The only unreadable
// line is the one the samples mark as truncated.
func TestExplainEverySample(t *testing.T) {
	for _, root := range sampleRoots(t) {
		var totalErr, unreadable int64
		for _, dir := range []string{"cloudfront-logs", "alb-logs"} {
			paths, err := filepath.Glob(filepath.Join(root, dir, "*"))
			if err != nil || len(paths) == 0 {
				t.Fatalf("no samples in %s/%s: %v", root, dir, err)
			}
			for _, path := range paths {
				name := filepath.Base(path)
				kind := "alb"
				switch {
				case dir == "cloudfront-logs":
					kind = "cloudfront"
				case name == "connection-logs.log":
					kind = "connection"
				case name == "health-check-logs.log":
					kind = "health"
				}
				var want, bad int64
				f, err := os.Open(path)
				if err != nil {
					t.Fatal(err)
				}
				sc := bufio.NewScanner(f)
				for sc.Scan() {
					line := sc.Text()
					if strings.TrimSpace(line) == "" || strings.HasPrefix(line, "#") {
						continue
					}
					isErr, err := isErrorLine(kind, line)
					if err != nil {
						bad++
						continue
					}
					if isErr {
						want++
					}
				}
				f.Close()
				rep := explainPaths(t, path)
				if rep.ErrorLines != want || rep.Unreadable != bad {
					t.Errorf("%s: error lines %d unreadable %d, want %d and %d", path, rep.ErrorLines, rep.Unreadable, want, bad)
				}
				var grouped int64
				for _, g := range rep.Groups {
					grouped += g.Count
					e := g.Explanation
					if e.IsFallback() || e.ID == "" || e.Cause == "" || e.Next == "" || e.Ref == "" {
						t.Errorf("%s: group %s has no specific explanation: %+v", path, g.title(), e)
					}
					if g.First.IsZero() || g.Last.Before(g.First) {
						t.Errorf("%s: group %s first/last %v %v", path, g.title(), g.First, g.Last)
					}
				}
				if grouped != rep.ErrorLines {
					t.Errorf("%s: groups hold %d lines, report says %d", path, grouped, rep.ErrorLines)
				}
				totalErr += rep.ErrorLines
				unreadable += rep.Unreadable
			}
		}
		t.Logf("%s: %d error lines explained, %d unreadable", root, totalErr, unreadable)
		if totalErr < 25 || unreadable != 1 {
			t.Errorf("%s: %d error lines, %d unreadable; want ≥ 25 and exactly the 1 truncated line", root, totalErr, unreadable)
		}
		// The whole tree at once, as a folder argument, in JSON.
		rep := explainPaths(t, root)
		var buf bytes.Buffer
		if err := rep.Write(&buf, FormatJSON); err != nil {
			t.Fatal(err)
		}
		var back Report
		if err := json.Unmarshal(buf.Bytes(), &back); err != nil || back.ErrorLines != totalErr || len(back.Groups) != len(rep.Groups) {
			t.Errorf("JSON round trip: %v, error lines %d groups %d; want %d, %d", err, back.ErrorLines, len(back.Groups), totalErr, len(rep.Groups))
		}
	}
}

// referenceNames extracts the back-quoted names in the first column of the
// markdown table under heading in a reference file.
func referenceNames(t *testing.T, file, heading, after string) []string {
	t.Helper()
	path := filepath.Join(filepath.Dir(repoRoot(t)), "shared", "reference", file)
	b, err := os.ReadFile(path)
	if err != nil {
		t.Skipf("reference %s not available: %v", path, err)
	}
	s := string(b)
	i := strings.Index(s, heading)
	if i < 0 {
		t.Fatalf("%s: no heading %q", file, heading)
	}
	s = s[i:]
	if j := strings.Index(s, after); j >= 0 {
		s = s[j:]
	}
	var out []string
	re := regexp.MustCompile("^\\| `([A-Za-z]+)` \\|")
	started := false
	for _, line := range strings.Split(s, "\n") {
		if m := re.FindStringSubmatch(line); m != nil {
			out = append(out, m[1])
			started = true
		} else if started && !strings.HasPrefix(line, "|") {
			break
		}
	}
	return out
}

// TestEveryReferenceErrorExplained: every error type the references list
// has its own explanation — the detailed result types of cloudfront.md §1.6
// (read from the reference itself when present, and listed here), the ALB
// statuses of alb.md §2.1 with the §1.11 shapes, the error_reason codes of
// §1.7, the health-check reasons of §1.13 and the mTLS codes of §1.12.
func TestEveryReferenceErrorExplained(t *testing.T) {
	detailed := []string{"AbortedOrigin", "ClientCommError", "ClientGeoBlocked", "ClientHungUpRequest", "InvalidRequest",
		"InvalidRequestBlocked", "InvalidRequestCertificate", "InvalidRequestHeader", "InvalidRequestMethod", "OriginCommError",
		"OriginConnectError", "OriginContentRangeLengthError", "OriginDnsError", "OriginError", "OriginHeaderTooBigError",
		"OriginInvalidResponseError", "OriginReadError", "OriginWriteError", "OriginZeroSizeObjectError", "SlowReaderOriginError"}
	t.Run("reference lists the same detailed types", func(t *testing.T) {
		got := referenceNames(t, "cloudfront.md", "### 1.6 Result types", "| Detailed value |")
		var ref []string
		for _, n := range got {
			if n != "Error" {
				ref = append(ref, n)
			}
		}
		if strings.Join(ref, ",") != strings.Join(detailed, ",") {
			t.Errorf("cloudfront.md §1.6 lists %v, the test %v", ref, detailed)
		}
	})
	for _, d := range detailed {
		if e := explainCloudFront(502, "Error", "Error", d); e.ID != "CF-"+d || e.Cause == "" || e.Next == "" {
			t.Errorf("detailed %s: %+v", d, e)
		}
	}
	for _, r := range []string{"LimitExceeded", "CapacityExceeded", "LambdaExecutionError"} {
		if e := explainCloudFront(503, r, r, ""); e.ID != "CF-"+r {
			t.Errorf("result %s: %+v", r, e)
		}
	}
	cf := []struct {
		status                     int
		result, response, detailed string
		id                         string
	}{
		{502, "Error", "Error", "Error", "CF-502"},
		{502, "Error", "", "", "CF-502"},
		{504, "Error", "Error", "Error", "CF-504"},
		{503, "Error", "Error", "Error", "CF-503"},
		{404, "Error", "Error", "Error", "CF-404"},
		{403, "Error", "Error", "Error", "CF-403"},
		{400, "Error", "Error", "Error", "CF-400"},
		{500, "Error", "Error", "Error", "CF-ORIGIN-5XX"},
		{410, "Error", "Error", "Error", "CF-ORIGIN-4XX"},
		{404, "Hit", "Hit", "Hit", "CF-CACHED-ERROR"},
		{404, "Miss", "Miss", "Miss", "CF-404"},
		{200, "Error", "Error", "Error", "CF-Error-VIEWER-DISCONNECT"},
		{0, "Miss", "Miss", "Miss", "CF-000"},
	}
	for _, c := range cf {
		if e := explainCloudFront(c.status, c.result, c.response, c.detailed); e.ID != c.id {
			t.Errorf("CloudFront %d %s/%s: %s, want %s", c.status, c.result, c.detailed, e.ID, c.id)
		}
	}
	alb := []struct {
		elb, target     int
		reason, actions string
		hasTarget       bool
		shape           string
		wait            float64
		id              string
	}{
		{502, 0, "", "forward", true, ShapeNoResponse, 4.2, "ALB-502-TARGET-CLOSED"},
		{502, 0, "", "forward", true, ShapeNone, 0.01, "ALB-502-CONNECT"},
		{502, 0, "", "forward", true, ShapeComplete, 0.01, "ALB-502-BAD-RESPONSE"},
		{502, 0, "", "forward", false, ShapeComplete, 0.01, "ALB-502-NO-TARGET"},
		{502, 0, "LambdaUnhandled", "forward", false, ShapeComplete, 0.01, "ALB-502-REASON-LambdaUnhandled"},
		{503, 0, "", "forward", false, ShapeNone, 0, "ALB-503-NO-TARGETS"},
		{504, 0, "", "forward", true, ShapeNone, 10.0, "ALB-504-CONNECT-TIMEOUT"},
		{504, 0, "", "forward", true, ShapeNone, 60.0, "ALB-504-TIMEOUT"},
		{460, 0, "", "forward", true, ShapeNone, 3, "ALB-460"},
		{404, 0, "", "fixed-response", false, ShapeNone, 0, "ALB-FIXED-RESPONSE"},
		{502, 502, "", "forward", true, ShapeComplete, 0, "ALB-TARGET-5XX"},
		{404, 404, "", "forward", true, ShapeComplete, 0, "ALB-TARGET-4XX"},
		{500, 0, "WAFConnectionTimeout", "waf", false, ShapeNone, 0, "ALB-500-REASON-WAFConnectionTimeout"},
		{401, 0, "AuthInvalidIdToken", "authenticate", false, ShapeNone, 0, "ALB-401-REASON-AuthInvalidIdToken"},
		{429, 0, "", "waf", false, ShapeNone, 0, "ALB-WAF-CUSTOM"},
	}
	for _, c := range alb {
		if e := explainALB(c.elb, c.target, c.reason, c.actions, c.hasTarget, c.shape, c.wait); e.ID != c.id {
			t.Errorf("ALB %d %s %s: %s, want %s", c.elb, c.reason, c.shape, e.ID, c.id)
		}
	}
	// Every LB-generated status of alb.md §2.1.
	for _, st := range []int{400, 401, 403, 405, 408, 413, 414, 460, 463, 464, 500, 501, 502, 503, 504, 505, 561, 0} {
		if e := explainALB(st, 0, "", "forward", true, ShapeNone, 0); e.IsFallback() || e.Cause == "" || e.Next == "" {
			t.Errorf("ALB status %d: %+v", st, e)
		}
	}
	reasons := []string{"AuthInvalidCookie", "AuthInvalidGrantError", "AuthInvalidIdToken", "AuthInvalidStateParam", "AuthInvalidTokenResponse",
		"AuthInvalidUserinfoResponse", "AuthMissingCodeParam", "AuthMissingHostHeader", "AuthMissingStateParam", "AuthTokenEpRequestFailed",
		"AuthTokenEpRequestTimeout", "AuthUnhandledException", "AuthUserinfoEpRequestFailed", "AuthUserinfoEpRequestTimeout",
		"AuthUserinfoResponseSizeExceeded", "AWSALBTGCookieInvalid", "WeightedTargetGroupsUnhandledException", "LambdaAccessDenied",
		"LambdaBadRequest", "LambdaConnectionError", "LambdaConnectionTimeout", "LambdaEC2AccessDeniedException", "LambdaEC2ThrottledException",
		"LambdaEC2UnexpectedException", "LambdaENILimitReachedException", "LambdaInvalidResponse", "LambdaInvalidRuntimeException",
		"LambdaInvalidSecurityGroupIDException", "LambdaInvalidSubnetIDException", "LambdaInvalidZipFileException", "LambdaKMSAccessDeniedException",
		"LambdaKMSDisabledException", "LambdaKMSInvalidStateException", "LambdaKMSNotFoundException", "LambdaRequestTooLarge",
		"LambdaResourceNotFound", "LambdaResponseTooLarge", "LambdaServiceException", "LambdaSubnetIPAddressLimitReachedException",
		"LambdaThrottling", "LambdaUnhandled", "LambdaUnhandledException", "LambdaWebsocketNotSupported", "WAFConnectionError",
		"WAFConnectionTimeout", "WAFResponseReadTimeout", "WAFServiceError", "WAFUnhandledException"}
	for _, r := range reasons {
		if _, ok := albErrorReasonExplanation(r); !ok {
			t.Errorf("error_reason %s has no explanation", r)
		}
	}
	if _, ok := albErrorReasonExplanation("TargetNotFound"); ok {
		t.Error("TargetNotFound (not an AWS code, alb.md §1.7) got an error_reason explanation")
	}
	for _, r := range []string{"TimedOut", "ConnectionReset", "ResponseCodeMismatch", "ResponseStringMismatch", "InternalError", "TargetError", "GRPCStatusHeaderEmpty", "GRPCUnexpectedStatus"} {
		if e := healthCheckExplanation(r, 500); e.IsFallback() {
			t.Errorf("health-check reason %s: fallback", r)
		}
	}
	for _, c := range []string{"ClientCertMaxChainDepthExceeded", "ClientCertMaxSizeExceeded", "ClientCertCrlHit", "ClientCertCrlProcessingError",
		"ClientCertUntrusted", "ClientCertNotYetValid", "ClientCertExpired", "ClientCertTypeUnsupported", "ClientCertInvalid",
		"ClientCertPurposeInvalid", "ClientCertRejected", "UnmappedConnectionError", "ClientCertIncompatible"} {
		if e := connectionExplanation("Failed:" + c); e.IsFallback() {
			t.Errorf("connection failure %s: fallback", c)
		}
	}
}

// TestALBShape covers the timing shapes of alb.md §1.11.
func TestALBShape(t *testing.T) {
	for _, c := range []struct {
		req, tgt, resp int64
		want           string
	}{
		{-1, -1, -1, ShapeNone}, {1, 4205, -1, ShapeNoResponse}, {0, 2, 0, ShapeComplete}, {-1, 3, 0, ShapeOther},
	} {
		if got := ALBShape(c.req, c.tgt, c.resp); got != c.want {
			t.Errorf("ALBShape(%d,%d,%d) = %s, want %s", c.req, c.tgt, c.resp, got, c.want)
		}
	}
}
