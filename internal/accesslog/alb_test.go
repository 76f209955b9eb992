package accesslog

import (
	"errors"
	"reflect"
	"strconv"
	"strings"
	"testing"
	"time"
)

// albSeedLine is the annotated seed line of alb.md §1.10 (29-field era).
const albSeedLine = `https 2023-03-17T09:27:13.101083Z app/alb-test/96e12a2c8669fbe5 70.132.40.151:63288 10.0.4.254:80 0.000 0.002 0.000 200 200 804 4483 "GET https://dpekz4s0xzujc.cloudfront.net:443/icons/apache_pb2.gif HTTP/1.1" "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/111.0.0.0 Safari/537.36" ECDHE-RSA-AES128-GCM-SHA256 TLSv1.2 arn:aws:elasticloadbalancing:ap-northeast-1:XXXXXXXXXXXX:targetgroup/alb-tg/d3bb7ccab2dace96 "Root=1-XXXXXXX-2xxxxaf0e4752d74ebca925" "dpekz4s0xzujc.cloudfront.net" "arn:aws:acm:ap-northeast-1:XXXXXXXXXXXXX:certificate/ae66ff29-9f0c-4f59-bbfb-473a03b7df43" 0 2023-03-17T09:27:13.098000Z "forward" "-" "-" "10.0.4.254:80" "200" "-" "-"`

// albSeedTID is the conn_trace_id kumo adds to write the seed in 30-field form.
const albSeedTID = "TID_3180a73013c8ca4bac2f731159d4b0fe"

// seedALB is the alb.md §1.10 seed line as a record, with a conn trace id.
func seedALB() *ALBRecord {
	return &ALBRecord{
		Type: "https", Time: time.Date(2023, 3, 17, 9, 27, 13, 101083000, time.UTC),
		ELB: "app/alb-test/96e12a2c8669fbe5", Client: "70.132.40.151:63288", Target: "10.0.4.254:80",
		RequestProcessingTime: 0, TargetProcessingTime: 2 * time.Millisecond, ResponseProcessingTime: 0,
		ELBStatus: 200, TargetStatus: 200, ReceivedBytes: 804, SentBytes: 4483,
		Request:   "GET https://dpekz4s0xzujc.cloudfront.net:443/icons/apache_pb2.gif HTTP/1.1",
		UserAgent: "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/111.0.0.0 Safari/537.36",
		SSLCipher: "ECDHE-RSA-AES128-GCM-SHA256", SSLProtocol: "TLSv1.2",
		TargetGroupARN: "arn:aws:elasticloadbalancing:ap-northeast-1:XXXXXXXXXXXX:targetgroup/alb-tg/d3bb7ccab2dace96",
		TraceID:        "Root=1-XXXXXXX-2xxxxaf0e4752d74ebca925", DomainName: "dpekz4s0xzujc.cloudfront.net",
		ChosenCertARN:       "arn:aws:acm:ap-northeast-1:XXXXXXXXXXXXX:certificate/ae66ff29-9f0c-4f59-bbfb-473a03b7df43",
		MatchedRulePriority: 0, RequestCreationTime: time.Date(2023, 3, 17, 9, 27, 13, 98000000, time.UTC),
		ActionsExecuted: "forward", TargetPortList: "10.0.4.254:80", TargetStatusCodeList: "200",
		ConnTraceID: albSeedTID,
	}
}

// albMalformed400 is a malformed-request line shape (alb.md §1.5, §1.11).
func albMalformed400() *ALBRecord {
	return &ALBRecord{
		Type: "http", Time: time.Date(2026, 9, 23, 7, 17, 32, 454551000, time.UTC),
		ELB: "app/k8s-tileserver-617dd1df30/98e3a879de9d6b42", Client: "216.180.246.224:25824",
		RequestProcessingTime: ALBTimingNotMeasured, TargetProcessingTime: ALBTimingNotMeasured, ResponseProcessingTime: ALBTimingNotMeasured,
		ELBStatus: 400, SentBytes: 272,
		Request:             "- http://k8s-tileserver-617dd1df30-606955064.us-east-1.elb.amazonaws.com:80- -",
		MatchedRulePriority: RulePriorityNone, RequestCreationTime: time.Date(2026, 9, 23, 7, 17, 31, 697000000, time.UTC),
		ConnTraceID: "TID_7d15a1935077a44b91952330c3dc3ed8",
	}
}

// albInjection has values that would break a naive writer.
func albInjection() *ALBRecord {
	r := seedALB()
	r.Client = "2001:db8::1:50718"
	r.Request = "GET http://example.com:80/a b\"c HTTP/1.1"
	r.UserAgent = "evil\" \"-\" 1 2\nhttp 2023-01-01T00:00:00.000000Z fake\\ \t\r\x00\x7f ü"
	r.SSLCipher = "bad cipher\nx"
	return r
}

func TestALBGolden(t *testing.T) {
	var b []byte
	b = seedALB().AppendLine(b)
	b = albMalformed400().AppendLine(b)
	b = albInjection().AppendLine(b)
	checkGolden(t, "alb.golden", b)

	seed := string(seedALB().AppendLine(nil))
	if want := albSeedLine + " " + albSeedTID + ` "-" "-" "-"` + "\n"; seed != want {
		t.Errorf("seed in 33-field form\n got %q\nwant %q", seed, want)
	}
}

func TestALBAppendLineShape(t *testing.T) {
	for _, r := range []*ALBRecord{seedALB(), albMalformed400(), albInjection(), {}} {
		line := string(r.AppendLine(nil))
		if strings.Count(line, "\n") != 1 || !strings.HasSuffix(line, "\n") {
			t.Fatalf("line %q: want one trailing newline", line)
		}
		toks, err := tokenizeALB(kindALB, strings.TrimSuffix(line, "\n"), nil)
		if err != nil || len(toks) != ALBFieldCount {
			t.Fatalf("line %q: %d fields, err %v", line, len(toks), err)
		}
		for i, tok := range toks {
			if tok.quoted != albFieldQuoted(i+1) {
				t.Errorf("field %d quoting %v", i+1, tok.quoted)
			}
		}
	}
	empty := strings.TrimSuffix(string((&ALBRecord{MatchedRulePriority: RulePriorityNone,
		RequestProcessingTime: -1, TargetProcessingTime: -5 * time.Second}).AppendLine(nil)), "\n")
	want := `- 0001-01-01T00:00:00.000000Z - - - -1 -1 0.000 - - 0 0 "-" "-" - - - "-" "-" "-" - 0001-01-01T00:00:00.000000Z "-" "-" "-" "-" "-" "-" "-" - "-" "-" "-"`
	if empty != want {
		t.Errorf("empty record\n got %q\nwant %q", empty, want)
	}
	r := seedALB()
	r.Time = time.Date(2023, 3, 17, 9, 27, 13, 101083999, time.UTC)
	r.RequestCreationTime = time.Date(2023, 3, 17, 9, 27, 13, 98765432, time.UTC)
	r.MatchedRulePriority = RulePriorityEvalError
	line := string(r.AppendLine(nil))
	for _, w := range []string{"2023-03-17T09:27:13.101083Z", " -1 2023-03-17T09:27:13.098000Z "} {
		if !strings.Contains(line, w) {
			t.Errorf("line %q lacks %q", line, w)
		}
	}
}

func TestALBRoundTrip(t *testing.T) {
	tests := []struct {
		name string
		mod  func(r *ALBRecord)
	}{
		{"seed", func(r *ALBRecord) {}},
		{"malformed 400", func(r *ALBRecord) { *r = *albMalformed400() }},
		{"injection", func(r *ALBRecord) { *r = *albInjection() }},
		{"utf8", func(r *ALBRecord) { r.Request = "GET https://例え.jp:443/パス?q=ü HTTP/2.0"; r.Type = "h2" }},
		{"quotes and backslashes", func(r *ALBRecord) { r.UserAgent = `a\"b\\c\x41"` }},
		{"ipv6 client and target", func(r *ALBRecord) {
			r.Client = "2a02:a33c:4538:1:bcf4:5264:e01c:f215:50718"
			r.Target = "fd6d:6bbc:c529:6::face:ed83:f46:80"
		}},
		{"460", func(r *ALBRecord) {
			r.ELBStatus, r.TargetStatus, r.SentBytes = 460, 0, 0
			r.RequestProcessingTime, r.TargetProcessingTime, r.ResponseProcessingTime = ALBTimingNotMeasured, ALBTimingNotMeasured, ALBTimingNotMeasured
			r.TargetStatusCodeList = ""
		}},
		{"502 x y -1", func(r *ALBRecord) {
			r.ELBStatus, r.TargetStatus = 502, 0
			r.RequestProcessingTime, r.TargetProcessingTime, r.ResponseProcessingTime = time.Millisecond, 4205*time.Millisecond, ALBTimingNotMeasured
		}},
		{"redirect", func(r *ALBRecord) {
			r.ELBStatus, r.TargetStatus, r.Target, r.TargetGroupARN = 301, 0, "", ""
			r.ActionsExecuted, r.RedirectURL = "redirect", "https://example.com:443/x?y=1"
			r.MatchedRulePriority = 50000
		}},
		{"eval error", func(r *ALBRecord) { r.MatchedRulePriority = RulePriorityEvalError; r.ErrorReason = "LambdaUnhandled" }},
		{"desync", func(r *ALBRecord) { r.Classification, r.ClassificationReason = "Acceptable", "SpaceInUri" }},
		{"session reused", func(r *ALBRecord) { r.ChosenCertARN = "session-reused" }},
		{"spaces in bare fields", func(r *ALBRecord) { r.Type = "h t"; r.ConnTraceID = "TID_ x\"y\\" }},
		{"transforms", func(r *ALBRecord) {
			r.TransformedHost, r.TransformedURI, r.RequestTransformStatus = "internal.dev.example.myweb.com", "/product.php?id=a b\"c", "Success"
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := seedALB()
			tt.mod(r)
			line := string(r.AppendLine(nil))
			got, n, err := ParseALBLineFields(line)
			if err != nil {
				t.Fatalf("parse %q: %v", line, err)
			}
			if n != ALBFieldCount {
				t.Errorf("fields %d", n)
			}
			if !reflect.DeepEqual(got, r) {
				t.Errorf("round trip of %q\n got %+v\nwant %+v", line, got, r)
			}
		})
	}
}

func TestParseALBEras(t *testing.T) {
	toks, err := tokenizeALB(kindALB, albSeedLine, nil)
	if err != nil {
		t.Fatal(err)
	}
	join := func(n int) string {
		var s []string
		for _, t := range toks[:n] {
			s = append(s, t.raw)
		}
		return strings.Join(s, " ")
	}
	for _, n := range []int{24, 25, 27, 29} {
		r, got, err := ParseALBLineFields(join(n))
		if err != nil || got != n {
			t.Errorf("%d fields: n=%d err %v", n, got, err)
			continue
		}
		if r.RequestCreationTime.IsZero() || r.ConnTraceID != "" {
			t.Errorf("%d fields: %+v", n, r)
		}
	}
	for _, n := range []int{26, 28, 23, 12} {
		_, _, err := ParseALBLineFields(join(n))
		want := "alb log: " + strconv.Itoa(n) + " fields, want 24, 25, 27, 29 or ≥30"
		if err == nil || err.Error() != want {
			t.Errorf("%d fields: error %v, want %q", n, err, want)
		}
	}
	long := albSeedLine + ` TID_0123 "-" "-" "-" 100.51.96.60 "-" "-"`
	r, n, err := ParseALBLineFields(long)
	if err != nil || n != 36 {
		t.Fatalf("36 fields: %d %v", n, err)
	}
	if want := []string{"100.51.96.60", `"-"`, `"-"`}; !reflect.DeepEqual(r.Extra, want) {
		t.Errorf("Extra %q, want %q", r.Extra, want)
	}
}

func TestParseALBErrors(t *testing.T) {
	good := strings.TrimSuffix(string(seedALB().AppendLine(nil)), "\n")
	toks, _ := tokenizeALB(kindALB, good, nil)
	set := func(i int, v string) string {
		var s []string
		for j, t := range toks {
			if j == i-1 {
				s = append(s, v)
			} else {
				s = append(s, t.raw)
			}
		}
		return strings.Join(s, " ")
	}
	tests := []struct{ line, want string }{
		{set(9, "abc"), `alb log: field 9 elb_status_code: "abc" is not a status code`},
		{set(10, "000"), `alb log: field 10 target_status_code: "000" is not a status code`},
		{set(2, "2023-03-17T09:27:13Z"), `alb log: field 2 time: "2023-03-17T09:27:13Z" is not a UTC time`},
		{set(22, "2023-03-17T09:27:13.098123Z"), `field 22 request_creation_time: "2023-03-17T09:27:13.098123Z" has sub-millisecond digits`},
		{set(6, "-2"), `field 6 request_processing_time: "-2" is neither seconds`},
		{set(11, "-"), `field 11 received_bytes: "-" is not an unsigned integer`},
		{set(21, "60000"), `field 21 matched_rule_priority: "60000" is not a rule priority`},
		{set(13, "GET"), `field 13 request: "GET" is not quoted`},
		{set(30, `"TID_x"`), `field 30 conn_trace_id: "\"TID_x\"" is quoted`},
		{good[:200], `alb log: field 13 field: unterminated quoted field (line truncated?)`},
		{strings.Replace(good, " ", "  ", 1), "empty field (two spaces)"},
		{good + " ", "empty field at end of line"},
	}
	for _, tt := range tests {
		_, err := ParseALBLine(tt.line)
		var pe *ParseError
		if err == nil || !errors.As(err, &pe) || !strings.Contains(err.Error(), tt.want) {
			t.Errorf("ParseALBLine(%q)\n error %v\n want %q", tt.line, err, tt.want)
		}
	}
	_, err := ParseALB(strings.NewReader(good + "\n" + good[:100] + "\n"))
	if err == nil || !strings.HasPrefix(err.Error(), "alb log: line 2: ") {
		t.Errorf("stream error %v, want it to name line 2", err)
	}
}

func TestParseALBOtherLogs(t *testing.T) {
	c, err := ParseALBConnectionLine(`2026-09-23T07:11:27.691358Z 49.36.71.40 64326 443 TLSv1.2 ECDHE-ECDSA-AES128-GCM-SHA256 0.337 "-" - - Success TID_9f39d9aa6a47774d97089313f949866b secp256r1 app/k8s-tileserver-617dd1df30/98e3a879de9d6b42 3.228.177.57`)
	if err != nil {
		t.Fatal(err)
	}
	want := &ALBConnectionRecord{Time: time.Date(2026, 9, 23, 7, 11, 27, 691358000, time.UTC), ClientIP: "49.36.71.40",
		ClientPort: 64326, ListenerPort: 443, TLSProtocol: "TLSv1.2", TLSCipher: "ECDHE-ECDSA-AES128-GCM-SHA256",
		TLSHandshakeLatency: 337 * time.Millisecond, TLSVerifyStatus: "Success", ConnTraceID: "TID_9f39d9aa6a47774d97089313f949866b",
		TLSKeyExchange: "secp256r1", ELB: "app/k8s-tileserver-617dd1df30/98e3a879de9d6b42", IPAddress: "3.228.177.57"}
	if !reflect.DeepEqual(c, want) {
		t.Errorf("connection record\n got %+v\nwant %+v", c, want)
	}
	h, err := ParseALBHealthCheckLine("http 2025-10-31T12:44:58.901409Z 1.121980746 172.31.31.9:80 HCLogsTestIPs FAIL 502 TargetError")
	if err != nil {
		t.Fatal(err)
	}
	if h.Latency != 1121980746*time.Nanosecond || h.StatusCode != 502 || h.ReasonCode != "TargetError" || h.Status != "FAIL" {
		t.Errorf("health check record %+v", h)
	}
	for line, want := range map[string]string{
		"2026-09-23T07:11:27.691358Z 1.2.3.4 99999 443 - - - \"-\" - - -":                `alb connection log: field 3 client_port: "99999" is not a port`,
		"2026-09-23T07:11:27.691358Z 1.2.3.4 1 443 - - - - - - -":                        `alb connection log: field 8 leaf_client_cert_subject: "-" has the wrong quoting`,
		"http 2025-10-31T12:44:58.901409Z 1.1 1.2.3.4:80 tg MAYBE 502 x":                 `alb health check log: field 6 status: "MAYBE" is neither PASS nor FAIL`,
		"http 2025-10-31T12:44:58.901409Z 1.1 1.2.3.4:80 tg PASS":                        `alb health check log: 6 fields, want 8 or ≥10`,
		"2026-09-23T07:11:27.691358Z 1.2.3.4 1 443 - - x \"-\" - - -":                    `field 7 tls_handshake_latency: "x" is neither seconds nor "-"`,
		"http 2025-10-31T12:44:58.901409Z 1.1 1.2.3.4:80 tg PASS 2000 - app/x/y 1.2.3.4": `field 7 status_code: "2000" is not a status code`,
	} {
		var err error
		if strings.HasPrefix(line, "http") {
			_, err = ParseALBHealthCheckLine(line)
		} else {
			_, err = ParseALBConnectionLine(line)
		}
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("%q: error %v, want %q", line, err, want)
		}
	}
}

func BenchmarkALBAppendLine(b *testing.B) {
	r := seedALB()
	buf := make([]byte, 0, 1024)
	b.ReportAllocs()
	for b.Loop() {
		buf = r.AppendLine(buf[:0])
	}
	b.SetBytes(int64(len(buf)))
}

func TestALBAppendLineNoAllocs(t *testing.T) {
	r := albInjection()
	buf := make([]byte, 0, 2048)
	if n := testing.AllocsPerRun(100, func() { buf = r.AppendLine(buf[:0]) }); n != 0 {
		t.Errorf("AppendLine allocates %v times per line, want 0", n)
	}
}

// TestALBEscapeTables checks the scan tables of the two ALB escapers against
// their rules, byte by byte, and that each byte is written escaped exactly
// when its table says so.
func TestALBEscapeTables(t *testing.T) {
	for c := 0; c < 256; c++ {
		b := byte(c)
		quoted := b < 0x20 || b == 0x7F || b == '"' || b == '\\'
		bare := b <= 0x20 || b == 0x7F || b == '"' || b == '\\'
		if got := albQuotedEscapeTable[c] == '1'; got != quoted {
			t.Errorf("albQuotedEscapeTable[%#x] = %v, want %v", c, got, quoted)
		}
		if got := albBareEscapeTable[c] == '1'; got != bare {
			t.Errorf("albBareEscapeTable[%#x] = %v, want %v", c, got, bare)
		}
		for _, s := range []string{string(b), "abcdefgh" + string(b) + "ij"} {
			if got := string(appendALBQuoted(nil, s)); (got != `"`+s+`"`) != quoted {
				t.Errorf("appendALBQuoted(%q) = %q: escaped %v, want %v", s, got, got != `"`+s+`"`, quoted)
			}
			if got := string(appendALBBare(nil, s)); (got != s) != bare {
				t.Errorf("appendALBBare(%q) = %q: escaped %v, want %v", s, got, got != s, bare)
			}
		}
	}
}
