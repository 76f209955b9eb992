package accesslog

import (
	"errors"
	"flag"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"
	"unsafe"
)

var update = flag.Bool("update", false, "rewrite the golden files under testdata/")

// checkGolden compares got with testdata/name byte for byte (or rewrites it
// under -update).
func checkGolden(t *testing.T, name string, got []byte) {
	t.Helper()
	path := filepath.Join("testdata", name)
	if *update {
		if err := os.WriteFile(path, got, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("read golden (run with -update to create): %v", err)
	}
	if string(got) != string(want) {
		t.Errorf("%s mismatch\n got: %q\nwant: %q", name, got, want)
	}
}

// seedCloudFront502 is the 502 OriginConnectError seed line of cloudfront.md
// §1.7 as a record.
func seedCloudFront502() *CloudFrontRecord {
	return &CloudFrontRecord{
		Time:         time.Date(2023, 3, 17, 8, 37, 50, 0, time.UTC),
		EdgeLocation: "NRT57-P3", SCBytes: 1194, ClientIP: "xxx.xxx.xxx.xxx", Method: "GET",
		Host: "dpekz4s0xzujc.cloudfront.net", URIStem: "/", Status: 502,
		UserAgent:  "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/111.0.0.0 Safari/537.36",
		ResultType: "Error", RequestID: "zurs8x7CL4FSngdxjAkYoAE_dPTtiyGnS16GImPcfRwUl2eaHhfiBQ==",
		HostHeader: "dpekz4s0xzujc.cloudfront.net", Protocol: "https", CSBytes: 457,
		TimeTaken: 11 * time.Millisecond, SSLProtocol: "TLSv1.3", SSLCipher: "TLS_AES_128_GCM_SHA256",
		ResponseResultType: "Error", ProtocolVersion: "HTTP/2.0", FLEEncryptedFields: -1,
		ClientPort: 62612, TimeToFirstByte: 11 * time.Millisecond, DetailedResultType: "OriginConnectError",
		ContentType: "text/html", ContentLen: 951, RangeStart: -1, RangeEnd: -1,
	}
}

// seedCloudFrontMiss is the 200 Miss seed line of cloudfront.md §1.7.
func seedCloudFrontMiss() *CloudFrontRecord {
	return &CloudFrontRecord{
		Time:         time.Date(2023, 3, 17, 9, 27, 13, 0, time.UTC),
		EdgeLocation: "NRT57-C3", SCBytes: 4549, ClientIP: "xxx.xxx.xxx.xxx", Method: "GET",
		Host: "dpekz4s0xzujc.cloudfront.net", URIStem: "/icons/apache_pb2.gif", Status: 200,
		Referer: "https://dpekz4s0xzujc.cloudfront.net/", UserAgent: "Mozilla/5.0 (...)",
		ResultType: "Miss", RequestID: "nMAoqyTzFb1QlZL4XRhDbONVlqOX90hIkkMh97FpdfPGeFdhlokn1A==",
		HostHeader: "dpekz4s0xzujc.cloudfront.net", Protocol: "https", CSBytes: 141,
		TimeTaken: 22 * time.Millisecond, SSLProtocol: "TLSv1.3", SSLCipher: "TLS_AES_128_GCM_SHA256",
		ResponseResultType: "Miss", ProtocolVersion: "HTTP/2.0", FLEEncryptedFields: -1,
		ClientPort: 64277, TimeToFirstByte: 22 * time.Millisecond, DetailedResultType: "Miss",
		ContentType: "image/gif", ContentLen: 4234, RangeStart: -1, RangeEnd: -1,
	}
}

// trickyCloudFront returns a record with values that need escaping.
func trickyCloudFront() *CloudFrontRecord {
	r := seedCloudFrontMiss()
	r.Time = time.Date(2024, 2, 29, 23, 59, 59, 0, time.UTC)
	r.ClientIP = "2001:db8::8a2e:370:7334"
	r.URIStem = "/日本語/a b%20c\"d'<x>#{|}\\^~[]`.txt"
	r.URIQuery = "q=caf%C3%A9&x=a b"
	r.UserAgent = "Mozilla/5.0 \"quoted\"\tTAB\nNL\r\x00\x7f\xff"
	r.Cookie = "session=abc; theme=dark"
	r.ForwardedFor = "203.0.113.1, 198.51.100.2"
	r.Status = 206
	r.RangeStart, r.RangeEnd, r.ContentLen = 0, 1023, 1024
	return r
}

func TestCloudFrontHeader(t *testing.T) {
	lines := strings.Split(CloudFrontHeader, "\n")
	if len(lines) != 3 || lines[2] != "" || lines[0] != "#Version: 1.0" {
		t.Fatalf("header %q", CloudFrontHeader)
	}
	if n := len(strings.Fields(strings.TrimPrefix(lines[1], "#Fields: "))); n != 33 {
		t.Fatalf("header has %d field names, want 33", n)
	}
	sample, err := os.ReadFile(filepath.Join("testdata", "samples", "cloudfront-logs", "04-task-seed-2023-nrt57.txt"))
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(string(sample), CloudFrontHeader) {
		t.Error("CloudFrontHeader differs from the header of the real sample file")
	}
}

func TestEscapeCloudFront(t *testing.T) {
	tests := []struct{ in, want string }{
		{"", "-"},
		{"-", "-"},
		{"abc", "abc"},
		{"a b", "a%20b"},
		{"<>\"#%{}|\\^~[]`' ", "%3C%3E%22%23%25%7B%7D%7C%5C%5E%7E%5B%5D%60%27%20"},
		{"()/;,:=&?.-_+@*!$", "()/;,:=&?.-_+@*!$"},
		{"\x00\x01\t\n\r\x1f\x20", "%00%01%09%0A%0D%1F%20"},
		{"\x7f\x80\xff", "%7F%80%FF"},
		{"あ", "%E3%81%82"},
		{"%20", "%2520"},
		{"Mozilla/5.0 (Windows NT 10.0; Win64; x64)", "Mozilla/5.0%20(Windows%20NT%2010.0;%20Win64;%20x64)"},
	}
	for _, tt := range tests {
		if got := string(EscapeCloudFront(nil, tt.in)); got != tt.want {
			t.Errorf("EscapeCloudFront(%q) = %q, want %q", tt.in, got, tt.want)
		}
	}
	// Every byte: escaped exactly when §1.4 says so.
	for c := 0; c < 256; c++ {
		got := string(EscapeCloudFront(nil, string([]byte{byte(c)})))
		escaped := strings.HasPrefix(got, "%")
		want := c <= 0x20 || c >= 0x7f || strings.IndexByte("<>\"#%{}|\\^~[]`'", byte(c)) >= 0
		if escaped != want {
			t.Errorf("byte %#x: escaped=%v, want %v", c, escaped, want)
		}
	}
}

func TestUnescapeCloudFront(t *testing.T) {
	tests := []struct{ in, want string }{
		{"-", ""},
		{"a%20b", "a b"},
		{"%2520", "%20"}, // pre-2020 double encoding decodes once
		{"%e3%81%82", "あ"},
		{"100%", "100%"},
		{"%zz%4", "%zz%4"},
		{`24.62.90.247,\x2010.89.113.224`, `24.62.90.247,\x2010.89.113.224`}, // community \x20 kept as written
	}
	for _, tt := range tests {
		if got := UnescapeCloudFront(tt.in); got != tt.want {
			t.Errorf("UnescapeCloudFront(%q) = %q, want %q", tt.in, got, tt.want)
		}
	}
}

func TestCloudFrontGolden(t *testing.T) {
	var b []byte
	b = append(b, CloudFrontHeader...)
	b = seedCloudFront502().AppendLine(b)
	b = seedCloudFrontMiss().AppendLine(b)
	b = trickyCloudFront().AppendLine(b)
	checkGolden(t, "cloudfront.golden", b)

	// The two seed records must reproduce the real seed lines byte for byte.
	sample, err := os.ReadFile(filepath.Join("testdata", "samples", "cloudfront-logs", "04-task-seed-2023-nrt57.txt"))
	if err != nil {
		t.Fatal(err)
	}
	for _, r := range []*CloudFrontRecord{seedCloudFront502(), seedCloudFrontMiss()} {
		line := string(r.AppendLine(nil))
		if !strings.Contains(string(sample), line) {
			t.Errorf("line %q is not in the real seed file", line)
		}
	}
}

func TestCloudFrontAppendLineShape(t *testing.T) {
	for _, r := range []*CloudFrontRecord{seedCloudFront502(), trickyCloudFront(), {}} {
		line := string(r.AppendLine(nil))
		if !strings.HasSuffix(line, "\n") || strings.Count(line, "\n") != 1 {
			t.Fatalf("line %q: want exactly one trailing newline", line)
		}
		if n := len(strings.Split(strings.TrimSuffix(line, "\n"), "\t")); n != 33 {
			t.Fatalf("line %q has %d fields", line, n)
		}
	}
	zero := string((&CloudFrontRecord{Status: 0, CSBytes: -1, ContentLen: -1, RangeStart: -1, RangeEnd: -1, FLEEncryptedFields: -1}).AppendLine(nil))
	f := strings.Split(strings.TrimSuffix(zero, "\n"), "\t")
	for i, want := range map[int]string{8: "000", 17: "-", 18: "0.000", 25: "-", 30: "-", 31: "-", 32: "-", 2: "-"} {
		if f[i] != want {
			t.Errorf("field %d (%s) = %q, want %q", i+1, cloudFrontFieldName(i+1), f[i], want)
		}
	}
	r := seedCloudFrontMiss()
	r.TimeTaken = 30014*time.Millisecond + 400*time.Microsecond
	r.TimeToFirstByte = 1500 * time.Microsecond
	f = strings.Split(string(r.AppendLine(nil)), "\t")
	if f[18] != "30.014" || f[27] != "0.002" {
		t.Errorf("time-taken %q time-to-first-byte %q, want 30.014 and 0.002", f[18], f[27])
	}
}

func TestCloudFrontRoundTrip(t *testing.T) {
	base := seedCloudFrontMiss
	tests := []struct {
		name string
		mod  func(r *CloudFrontRecord)
	}{
		{"seed 502", func(r *CloudFrontRecord) { *r = *seedCloudFront502() }},
		{"seed miss", func(r *CloudFrontRecord) {}},
		{"tricky", func(r *CloudFrontRecord) { *r = *trickyCloudFront() }},
		{"utf8 path", func(r *CloudFrontRecord) { r.URIStem = "/ファイル/über.html" }},
		{"spaces and percent", func(r *CloudFrontRecord) { r.URIQuery = "a=100% b&c=%41" }},
		{"quotes", func(r *CloudFrontRecord) { r.UserAgent = `say "hi" it's` }},
		{"tabs newlines", func(r *CloudFrontRecord) { r.Referer = "a\tb\nc\r\n" }},
		{"ipv6 client", func(r *CloudFrontRecord) { r.ClientIP = "2a02:cf40:add:4002:91f2:a9b2:e09a:6fc6" }},
		{"000 status", func(r *CloudFrontRecord) { r.Status = 0; r.ResultType = "Error" }},
		{"dash content length", func(r *CloudFrontRecord) { r.ContentLen = -1; r.ContentType = "" }},
		{"range", func(r *CloudFrontRecord) { r.Status = 206; r.RangeStart = 100; r.RangeEnd = 199 }},
		{"fle", func(r *CloudFrontRecord) { r.FLEStatus = "Processed"; r.FLEEncryptedFields = 3 }},
		{"cs-bytes dash", func(r *CloudFrontRecord) { r.CSBytes = -1 }},
		{"xff list", func(r *CloudFrontRecord) { r.ForwardedFor = "81.2.69.142, 216.160.83.56" }},
		{"long time", func(r *CloudFrontRecord) { r.TimeTaken = 30014 * time.Millisecond }},
		{"all bytes", func(r *CloudFrontRecord) {
			var b []byte
			for c := 0; c < 256; c++ {
				b = append(b, byte(c))
			}
			r.Cookie = string(b)
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := base()
			tt.mod(r)
			line := string(r.AppendLine(nil))
			got, n, err := ParseCloudFrontLineFields(line)
			if err != nil {
				t.Fatalf("parse %q: %v", line, err)
			}
			if n != 33 {
				t.Errorf("fields = %d", n)
			}
			if !reflect.DeepEqual(got, r) {
				t.Errorf("round trip\n got %+v\nwant %+v", got, r)
			}
		})
	}
}

func TestParseCloudFrontErrors(t *testing.T) {
	good := strings.TrimSuffix(string(seedCloudFront502().AppendLine(nil)), "\n")
	set := func(i int, v string) string {
		f := strings.Split(good, "\t")
		f[i-1] = v
		return strings.Join(f, "\t")
	}
	tests := []struct{ line, want string }{
		{"", "cloudfront log: 1 fields, want 18, 19, 23, 24, 26 or ≥33"},
		{strings.Join(strings.Split(good, "\t")[:31], "\t"), "cloudfront log: 31 fields, want 18, 19, 23, 24, 26 or ≥33"},
		{set(1, "2023-13-01"), `cloudfront log: field 1 date: "2023-13-01" is not a date`},
		{set(2, "25:00:00"), `cloudfront log: field 2 time: "25:00:00" is not a time`},
		{set(4, "12a"), `cloudfront log: field 4 sc-bytes: "12a" is not an unsigned integer`},
		{set(9, "abc"), `cloudfront log: field 9 sc-status: "abc" is not a 3-digit status code`},
		{set(9, "-"), `field 9 sc-status: "-"`},
		{set(18, "x"), `cloudfront log: field 18 cs-bytes: "x" is neither an unsigned integer nor "-"`},
		{set(19, "0.0111"), `cloudfront log: field 19 time-taken: "0.0111" is not seconds with at most 3 decimals`},
		{set(27, "70000"), `field 27 c-port: "70000" is not a port`},
		{set(31, "-5"), `field 31 sc-content-len: "-5"`},
	}
	for _, tt := range tests {
		_, err := ParseCloudFrontLine(tt.line)
		var pe *ParseError
		if err == nil || !errors.As(err, &pe) || !strings.Contains(err.Error(), tt.want) {
			t.Errorf("ParseCloudFrontLine(%q) error %v, want %q", tt.line, err, tt.want)
		}
	}
	// Trailing TAB and v2 extra fields are accepted.
	for _, line := range []string{good + "\t", good + "\ttenant-1\tconn-2", good + "\r\n"} {
		if _, _, err := ParseCloudFrontLineFields(line); err != nil {
			t.Errorf("%q: %v", line, err)
		}
	}
}

func TestParseCloudFrontStreamLineNumbers(t *testing.T) {
	in := CloudFrontHeader + string(seedCloudFront502().AppendLine(nil)) + "\n" + "2023-03-17\tbad\n"
	recs, err := ParseCloudFront(strings.NewReader(in))
	if len(recs) != 1 {
		t.Errorf("records before the error: %d, want 1", len(recs))
	}
	if err == nil || !strings.Contains(err.Error(), "cloudfront log: line 5: 2 fields") {
		t.Errorf("error %v, want it to name line 5", err)
	}
}

func BenchmarkCloudFrontAppendLine(b *testing.B) {
	tricky := trickyCloudFront()
	tricky.UserAgent = "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/111.0.0.0 Safari/537.36"
	for _, bc := range []struct {
		name string
		r    *CloudFrontRecord
	}{{"typical", seedCloudFrontMiss()}, {"escaped", tricky}} {
		b.Run(bc.name, func(b *testing.B) {
			buf := make([]byte, 0, 1024)
			b.ReportAllocs()
			for b.Loop() {
				buf = bc.r.AppendLine(buf[:0])
			}
			b.SetBytes(int64(len(buf)))
		})
	}
}

// BenchmarkCloudFrontLineCache formats the lines of one object's hits from
// changing clients, as the edge's log does: the cache reuses the runs of
// fields that repeat.
func BenchmarkCloudFrontLineCache(b *testing.B) {
	r := seedCloudFrontMiss()
	r.UserAgent = "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/111.0.0.0 Safari/537.36"
	var c CloudFrontLineCache
	buf := make([]byte, 0, 1024)
	b.ReportAllocs()
	i := 0
	for b.Loop() {
		i++
		r.ClientPort = 40000 + i%64
		r.TimeTaken = time.Duration(i%7) * time.Millisecond
		buf = c.Append(buf[:0], r)
	}
	b.SetBytes(int64(len(buf)))
}

// TestCloudFrontLineCacheKeepsCopies: a run is reused only for the values
// it was written from, even when the record's strings point into a buffer
// that is rewritten between two lines (as the edge's request id and the
// lean engine's header values may).
func TestCloudFrontLineCacheKeepsCopies(t *testing.T) {
	var c CloudFrontLineCache
	ua := []byte("agent-one")
	r := seedCloudFrontMiss()
	r.UserAgent = unsafe.String(&ua[0], len(ua))
	first := string(c.Append(nil, r))
	if want := string(r.AppendLine(nil)); first != want {
		t.Fatalf("first line\n%q\nwant\n%q", first, want)
	}
	copy(ua, "agent-two") // the same string header, other bytes
	second := string(c.Append(nil, r))
	if want := string(r.AppendLine(nil)); second != want {
		t.Fatalf("after the buffer changed\n%q\nwant\n%q", second, want)
	}
	if !strings.Contains(second, "agent-two") {
		t.Fatalf("the line kept the old user agent: %q", second)
	}
	buf := make([]byte, 0, 2048)
	if n := testing.AllocsPerRun(100, func() { buf = c.Append(buf[:0], r) }); n != 0 {
		t.Errorf("Append allocates %v times per line, want 0", n)
	}
}

func TestCloudFrontAppendLineNoAllocs(t *testing.T) {
	r := trickyCloudFront()
	buf := make([]byte, 0, 2048)
	if n := testing.AllocsPerRun(100, func() { buf = r.AppendLine(buf[:0]) }); n != 0 {
		t.Errorf("AppendLine allocates %v times per line, want 0", n)
	}
}

// TestCleanPrefix checks the eight-bytes-a-step scan against each escape
// table: every byte value at every position of the unrolled and the
// tail loops.
func TestCleanPrefix(t *testing.T) {
	for name, table := range map[string]string{"cloudfront": cloudFrontEscapeTable,
		"alb quoted": albQuotedEscapeTable, "alb bare": albBareEscapeTable} {
		for c := 0; c < 256; c++ {
			for n := 1; n <= 19; n++ {
				for p := 0; p < n; p++ {
					b := []byte(strings.Repeat("a", n))
					b[p] = byte(c)
					want := n
					if table[c] == '1' {
						want = p
					}
					if got := cleanPrefix(string(b), table); got != want {
						t.Fatalf("%s: byte %#x at %d of %d: clean prefix %d, want %d", name, c, p, n, got, want)
					}
				}
			}
		}
	}
}
