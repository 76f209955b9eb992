package logs

import (
	"bytes"
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestDetectKind detects each format from one real line of the samples.
func TestDetectKind(t *testing.T) {
	cases := []struct {
		line string
		want Kind
	}{
		{"2023-03-17\t08:37:50\tNRT57-P3\t1194", KindCloudFront},
		{strings.TrimSuffix(seedALBLine, "\n"), KindALB},
		{`h2 2026-02-01T19:40:27.217624Z app/alb-new-gis-prod/51fa1287639c83c0 88.89.241.253:54514 - -1 -1 -1 400 - 0 0`, KindALB},
		{`2023-10-04T17:05:15.514108Z 203.0.113.1 36280 443 TLSv1.2 ECDHE-RSA-AES128-GCM-SHA256 4.036 "-" - - Success TID_3180a73013c8ca4bac2f731159d4b0fe`, KindALBConnection},
		{`http 2025-10-31T12:44:58.901409Z 1.121980746 172.31.31.9:80 HCLogsTestIPs FAIL 502 TargetError`, KindALBHealthCheck},
		{`Enable AccessLog for ELB: alb-test at 2023-03-17T00:00:00.000Z`, KindALB}, // the ALB's S3 test file: the ALB parser rejects it
		{`x`, KindUnknown},
	}
	for _, c := range cases {
		if got := DetectKind([]byte(c.line)); got != c.want {
			t.Errorf("DetectKind(%.40q) = %v, want %v", c.line, got, c.want)
		}
	}
}

// collect reads an input and returns "source:no:kind" per line.
func collect(t *testing.T, in Input) ([]string, error) {
	t.Helper()
	var out []string
	err := ReadLines(context.Background(), in, func(l *Line) error {
		out = append(out, filepath.Base(l.Source)+":"+string(rune('0'+l.No))+":"+l.Kind.String())
		return nil
	})
	return out, err
}

// TestReadLines covers stdin, gzip by content (whatever the name), CRLF,
// a missing final newline, comments, hidden files, and errors.
func TestReadLines(t *testing.T) {
	dir := t.TempDir()
	cf := "#Version: 1.0\r\n\r\n2023-03-17\t08:37:50\tx\r\n"
	writeGzip(t, filepath.Join(dir, "a", "E1.2023-03-17-08.X.gz"), []byte(cf))
	writeGzip(t, filepath.Join(dir, "a", "no-suffix"), []byte(seedALBLine)) // gzip without .gz
	if err := os.WriteFile(filepath.Join(dir, "a", "plain.log"), []byte("# c\n"+strings.TrimSuffix(seedALBLine, "\n")), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "a", ".hidden"), []byte(seedALBLine), 0o644); err != nil {
		t.Fatal(err)
	}
	got, err := collect(t, Input{Paths: []string{filepath.Join(dir, "a"), "-"}, Stdin: strings.NewReader("2023-03-17\t1\n")})
	if err != nil {
		t.Fatal(err)
	}
	want := "E1.2023-03-17-08.X.gz:3:cloudfront no-suffix:1:alb plain.log:2:alb -:1:cloudfront"
	if strings.Join(got, " ") != want {
		t.Errorf("lines %q, want %q", strings.Join(got, " "), want)
	}
	// The line handed over has no line ending.
	_ = ReadLines(context.Background(), Input{Paths: []string{"-"}, Stdin: strings.NewReader("a b c\r\n")}, func(l *Line) error {
		if l.Text() != "a b c" {
			t.Errorf("line %q", l.Text())
		}
		return nil
	})
	errCases := []struct {
		name string
		in   Input
		want string
	}{
		{"no paths", Input{}, "no input"},
		{"missing file", Input{Paths: []string{filepath.Join(dir, "nope")}}, "no such file"},
		{"bad gzip", Input{Paths: []string{"-"}, Stdin: bytes.NewReader([]byte{0x1f, 0x8b, 0, 0})}, "input -"},
		{"line too long", Input{Paths: []string{"-"}, Stdin: strings.NewReader(strings.Repeat("x", maxLineBytes+10))}, "longer than"},
	}
	for _, c := range errCases {
		if _, err := collect(t, c.in); err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%s: error %v, want %q", c.name, err, c.want)
		}
	}
	// A LineFunc error stops the reading and is returned.
	stop := errors.New("stop")
	if err := ReadLines(context.Background(), Input{Paths: []string{"-"}, Stdin: strings.NewReader("a\nb\n")}, func(*Line) error { return stop }); !errors.Is(err, stop) {
		t.Errorf("error %v, want stop", err)
	}
}

// TestProgressBar draws only for large input and ends with a newline.
func TestProgressBar(t *testing.T) {
	var b bytes.Buffer
	p := ProgressBar(&b)
	p(10, 100, false)
	if b.Len() != 0 {
		t.Errorf("small input drew %q", b.String())
	}
	p(largeInput/2, 2*largeInput, false)
	p(2*largeInput, 2*largeInput, true)
	out := b.String()
	if !strings.Contains(out, " 25.0% ") || !strings.Contains(out, "100.0% 128.0 MiB / 128.0 MiB") || !strings.HasSuffix(out, "\n") {
		t.Errorf("bar %q", out)
	}
	b.Reset()
	p = ProgressBar(&b)
	p(largeInput+1, 0, false)
	if !strings.Contains(b.String(), "read 64.0 MiB") {
		t.Errorf("stdin bar %q", b.String())
	}
}
