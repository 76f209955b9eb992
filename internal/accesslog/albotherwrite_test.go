package accesslog

import (
	"bufio"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"
)

// sampleLines returns the non-comment lines of a testdata/samples/alb-logs file.
func sampleLines(t *testing.T, name string) []string {
	t.Helper()
	f, err := os.Open(filepath.Join("testdata", "samples", "alb-logs", name))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	var out []string
	sc := bufio.NewScanner(f)
	sc.Buffer(make([]byte, 1<<20), 1<<20)
	for sc.Scan() {
		if l := sc.Text(); l != "" && !strings.HasPrefix(l, "#") {
			out = append(out, l)
		}
	}
	return out
}

// TestALBConnectionLineRoundTrip checks the connection-log writer against
// AWS's lines (alb.md §1.12): every sample parses and is written back byte
// for byte — 15-field lines exactly, older 11/12-field lines with the
// missing trailing fields as "-".
func TestALBConnectionLineRoundTrip(t *testing.T) {
	lines := sampleLines(t, "connection-logs.log")
	if len(lines) < 5 {
		t.Fatalf("only %d sample lines", len(lines))
	}
	for _, line := range lines {
		r, err := ParseALBConnectionLine(line)
		if err != nil {
			t.Fatalf("%q: %v", line, err)
		}
		want := line
		if f := tokenCount(t, line); f < 15 {
			want += strings.Repeat(" -", 15-f)
		}
		if got := string(r.AppendLine(nil)); got != want+"\n" {
			t.Errorf("round trip\n got %q\nwant %q", got, want+"\n")
		}
	}
}

func tokenCount(t *testing.T, line string) int {
	t.Helper()
	toks, err := tokenizeALB(kindALBConnection, line, nil)
	if err != nil {
		t.Fatal(err)
	}
	return len(toks)
}

// TestALBHealthCheckLineRoundTrip checks the health-check-log writer
// against AWS's examples (alb.md §1.13): written back with elb and
// ip_address ("-" when absent), and a full record survives a round trip.
func TestALBHealthCheckLineRoundTrip(t *testing.T) {
	for _, line := range sampleLines(t, "health-check-logs.log") {
		r, err := ParseALBHealthCheckLine(line)
		if err != nil {
			t.Fatalf("%q: %v", line, err)
		}
		if got, want := string(r.AppendLine(nil)), line+" - -\n"; got != want {
			t.Errorf("round trip\n got %q\nwant %q", got, want)
		}
	}
	rec := &ALBHealthCheckRecord{Type: "https", Time: time.Date(2026, 11, 28, 21, 0, 1, 123456789, time.UTC),
		Latency: 1121980746 * time.Nanosecond, TargetAddr: "10.0.1.10:443", TargetGroupID: "alb-tg",
		Status: "FAIL", ReasonCode: "TimedOut", ELB: "app/alb-test/96e12a2c8669fbe5", IPAddress: "127.0.0.1"}
	line := string(rec.AppendLine(nil))
	const want = "https 2026-11-28T21:00:01.123456Z 1.121980746 10.0.1.10:443 alb-tg FAIL - TimedOut app/alb-test/96e12a2c8669fbe5 127.0.0.1\n"
	if line != want {
		t.Fatalf("line %q, want %q", line, want)
	}
	back, err := ParseALBHealthCheckLine(line)
	if err != nil {
		t.Fatal(err)
	}
	rec.Time = rec.Time.Truncate(time.Microsecond)
	if back.Type != rec.Type || !back.Time.Equal(rec.Time) || back.Latency != rec.Latency || back.ReasonCode != rec.ReasonCode ||
		back.StatusCode != 0 || back.ELB != rec.ELB || back.IPAddress != rec.IPAddress {
		t.Errorf("parsed back %+v, want %+v", back, rec)
	}
}

// TestALBConnectionLineEscapes: a hostile value cannot add a field or a line.
func TestALBConnectionLineEscapes(t *testing.T) {
	rec := &ALBConnectionRecord{Time: time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC), ClientIP: "127.0.0.1", ClientPort: 1,
		ListenerPort: 443, TLSHandshakeLatency: -1, LeafClientCertSubject: "CN=a \"b\"\nc", TLSVerifyStatus: "Failed:x y",
		ConnTraceID: "TID_0"}
	line := string(rec.AppendLine(nil))
	const want = "2026-01-02T03:04:05.000000Z 127.0.0.1 1 443 - - - \"CN=a \\\"b\\\"\\x0ac\" - - Failed:x\\x20y TID_0 - - -\n"
	if line != want {
		t.Fatalf("line %q, want %q", line, want)
	}
	back, err := ParseALBConnectionLine(line)
	if err != nil {
		t.Fatal(err)
	}
	if back.LeafClientCertSubject != rec.LeafClientCertSubject || back.TLSHandshakeLatency != ALBTimingNotMeasured {
		t.Errorf("parsed back %+v", back)
	}
}

// TestALBOtherLogFiles checks the file names, rotation and gzip of the
// connection and health-check logs (alb.md §1.12, §1.13: the access log's
// key with the conn_log_ / health_check_log_ prefix, 5-minute intervals).
func TestALBOtherLogFiles(t *testing.T) {
	dir := t.TempDir()
	clock := &fakeClock{t: time.Date(2026, 9, 23, 7, 11, 27, 0, time.UTC)}
	opt := LogOptions{Now: clock.Now, FlushInterval: 10 * time.Millisecond}
	cl, err := OpenALBConnectionLog(dir, testALBIdentity, opt)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { cl.Close() })
	hl, err := OpenALBHealthCheckLog(dir, testALBIdentity, opt)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { hl.Close() })
	conn := &ALBConnectionRecord{Time: clock.Now(), ClientIP: "127.0.0.1", ClientPort: 5000, ListenerPort: 80,
		TLSHandshakeLatency: -1, ConnTraceID: "TID_1"}
	hc := &ALBHealthCheckRecord{Type: "http", Time: clock.Now(), TargetAddr: "10.0.0.1:80", TargetGroupID: "tg", Status: "PASS", StatusCode: 200}
	if err := cl.Write(conn); err != nil {
		t.Fatal(err)
	}
	if err := hl.Write(hc); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "live lines", func() bool {
		c, err1 := ReadALBConnectionLogs(dir)
		h, err2 := ReadALBHealthCheckLogs(dir)
		return err1 == nil && err2 == nil && len(c) == 1 && len(h) == 1
	})
	if recs, err := ReadALBLogs(dir); err != nil || len(recs) != 0 {
		t.Errorf("access-log reader saw %d records, err %v: the other logs must not look like access logs", len(recs), err)
	}
	clock.Set(time.Date(2026, 9, 23, 7, 15, 0, 0, time.UTC))
	waitFor(t, "interval gzip", func() bool {
		f := listFiles(t, dir)
		return len(f) == 2 && strings.HasSuffix(f[0], ".log.gz") && strings.HasSuffix(f[1], ".log.gz")
	})
	const tail = `123456789012_elasticloadbalancing_ap-northeast-1_app\.alb-test\.96e12a2c8669fbe5_20260923T0715Z_10\.0\.1\.5_[a-z0-9]{8}\.log\.gz$`
	re := regexp.MustCompile(`^AWSLogs/123456789012/elasticloadbalancing/ap-northeast-1/2026/09/23/(conn_log_|health_check_log_)` + tail)
	files := listFiles(t, dir)
	for _, f := range files {
		if !re.MatchString(f) {
			t.Errorf("file %q does not match %v", f, re)
		}
	}
	if err := cl.Close(); err != nil {
		t.Fatal(err)
	}
	if err := hl.Close(); err != nil {
		t.Fatal(err)
	}
	c, err := ReadALBConnectionLogs(dir)
	if err != nil || len(c) != 1 || c[0].ConnTraceID != "TID_1" {
		t.Fatalf("connection records %v, err %v", c, err)
	}
	h, err := ReadALBHealthCheckLogs(dir)
	if err != nil || len(h) != 1 || h[0].StatusCode != 200 {
		t.Fatalf("health records %v, err %v", h, err)
	}
	if err := cl.Write(conn); err == nil {
		t.Error("Write after Close succeeded")
	}
}
