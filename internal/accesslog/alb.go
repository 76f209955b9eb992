package accesslog

import (
	"strconv"
	"strings"
	"time"
)

// ALBFieldCount is the number of fields kumo writes per ALB access-log line:
// type through request_transform_status (alb.md §1.3, the format since the
// October 2025 rule transforms; §1.3 allows 30 or 33).
const ALBFieldCount = 33

// albConnTraceIDField is the field number of conn_trace_id, the last field
// of the 30-field (May 2024) layout.
const albConnTraceIDField = 30

// ALBTimingNotMeasured is the duration the parser gives a timing field
// logged as -1 (alb.md §1.3 #6–8). The writer logs every negative timing as
// -1, so this value round-trips.
const ALBTimingNotMeasured = -time.Second

// albFieldName is the AWS name of ALB access-log field i (1-based).
func albFieldName(i int) string {
	const names = "type time elb client:port target:port request_processing_time target_processing_time response_processing_time elb_status_code target_status_code received_bytes sent_bytes request user_agent ssl_cipher ssl_protocol target_group_arn trace_id domain_name chosen_cert_arn matched_rule_priority request_creation_time actions_executed redirect_url error_reason target:port_list target_status_code_list classification classification_reason conn_trace_id transformed_host transformed_uri request_transform_status"
	f := strings.Fields(names)
	if i >= 1 && i <= len(f) {
		return f[i-1]
	}
	return "field"
}

// albFieldQuoted reports whether ALB access-log field i (1-based) is written
// in double quotes (alb.md §1.3).
func albFieldQuoted(i int) bool {
	switch i {
	case 13, 14, 18, 19, 20, 23, 24, 25, 26, 27, 28, 29, 31, 32, 33:
		return true
	}
	return false
}

// albQuotedEscapeTable has '1' at index c when appendALBQuoted escapes byte
// c: '"', '\\', 0x00–0x1F and 0x7F. TestALBEscapeTables checks it against
// that rule.
const albQuotedEscapeTable = "1111111111111111111111111111111100100000000000000000000000000000" +
	"0000000000000000000000000000100000000000000000000000000000000001" +
	"0000000000000000000000000000000000000000000000000000000000000000" +
	"0000000000000000000000000000000000000000000000000000000000000000"

// albBareEscapeTable has '1' at index c when appendALBBare escapes byte c:
// 0x00–0x20, 0x7F, '"' and '\\'. TestALBEscapeTables checks it.
const albBareEscapeTable = "1111111111111111111111111111111110100000000000000000000000000000" +
	"0000000000000000000000000000100000000000000000000000000000000001" +
	"0000000000000000000000000000000000000000000000000000000000000000" +
	"0000000000000000000000000000000000000000000000000000000000000000"

// appendALBQuoted appends s as a quoted ALB field. An empty s is "-" in
// quotes (alb.md §1.2).
//
// albQuotedEscape — UNCONFIRMED (alb.md §1.2: no sample shows how AWS writes
// a '"' inside user_agent or request): kumo writes '"' as \" and '\' as \\,
// and every control byte (0x00–0x1F, 0x7F; so CR, LF and TAB) as \xHH with
// lowercase hex. Spaces and bytes >= 0x80 (UTF-8) are written as they are,
// as AWS writes them. The result never contains a bare '"' or a line break,
// so quote-aware tokenisers that honour backslash escapes (Vector's
// parse_aws_alb_log, GoAccess's AWSALB preset — verified with GoAccess 1.7)
// read the field back whole, and a value cannot forge extra fields or lines.
func appendALBQuoted(dst []byte, s string) []byte {
	dst = append(dst, '"')
	if s == "" {
		return append(dst, '-', '"')
	}
	i := cleanPrefix(s, albQuotedEscapeTable)
	if i == len(s) {
		dst = append(dst, s...) // nothing to escape: the common case
		return append(dst, '"')
	}
	const hex = "0123456789abcdef"
	start := 0
	for ; i < len(s); i++ {
		c := s[i]
		switch {
		case c == '"' || c == '\\':
			dst = append(dst, s[start:i]...)
			dst = append(dst, '\\', c)
			start = i + 1
		case c < 0x20 || c == 0x7F:
			dst = append(dst, s[start:i]...)
			dst = append(dst, '\\', 'x', hex[c>>4], hex[c&0xF])
			start = i + 1
		}
	}
	dst = append(dst, s[start:]...)
	return append(dst, '"')
}

// appendALBBare appends s as an unquoted ALB field; "" is "-" (alb.md §1.2).
//
// albBareEscape — UNCONFIRMED (AWS's unquoted fields never hold such bytes):
// so that an unquoted field can never contain a field separator or start a
// quoted token, kumo writes every byte <= 0x20 (space, TAB, CR, LF, other
// controls), 0x7F, '"' and '\' as \xHH with lowercase hex.
func appendALBBare(dst []byte, s string) []byte {
	if s == "" {
		return append(dst, '-')
	}
	i := cleanPrefix(s, albBareEscapeTable)
	if i == len(s) {
		return append(dst, s...) // nothing to escape: the common case
	}
	const hex = "0123456789abcdef"
	start := 0
	for ; i < len(s); i++ {
		c := s[i]
		if albBareEscapeTable[c] == '1' {
			dst = append(dst, s[start:i]...)
			dst = append(dst, '\\', 'x', hex[c>>4], hex[c&0xF])
			start = i + 1
		}
	}
	return append(dst, s[start:]...)
}

// unescapeALBQuoted decodes the inside of a quoted ALB field (without the
// quotes): "-" is "", \" is ", \\ is \, \xHH is the byte HH; any other
// backslash is kept as is. It is the exact inverse of appendALBQuoted for
// every value except "-".
func unescapeALBQuoted(s string) string { return unescapeWith(s, '\\', albQuotedEscape) }

// unescapeALBBare decodes an unquoted ALB field: "-" is "", \xHH is the byte
// HH; anything else is kept. Exact inverse of appendALBBare except for "-".
func unescapeALBBare(s string) string { return unescapeWith(s, '\\', albHexEscape) }

// albHexEscape decodes a \xHH escape at the start of esc.
func albHexEscape(esc string) (byte, int) {
	if len(esc) >= 4 && esc[1] == 'x' {
		if v, ok := hexByte(esc[2:4]); ok {
			return v, 4
		}
	}
	return 0, 0
}

// albQuotedEscape decodes \", \\ or \xHH at the start of esc.
func albQuotedEscape(esc string) (byte, int) {
	if len(esc) >= 2 && (esc[1] == '"' || esc[1] == '\\') {
		return esc[1], 2
	}
	return albHexEscape(esc)
}

// appendALBTiming appends one of the three processing times: seconds with
// three decimals, or -1 when negative (not measured) — alb.md §1.3 #6–8.
func appendALBTiming(dst []byte, d time.Duration) []byte {
	if d < 0 {
		return append(dst, '-', '1')
	}
	return appendSeconds3(dst, d)
}

// appendALBTime appends the time field: ISO 8601 UTC with microseconds,
// 2006-01-02T15:04:05.000000Z (alb.md §1.3 #2). Sub-microsecond digits are
// truncated.
func appendALBTime(dst []byte, t time.Time) []byte {
	t = t.UTC()
	dst = appendDate(dst, t)
	dst = append(dst, 'T')
	dst = appendClock(dst, t)
	dst = append(dst, '.')
	dst = appendDigits(dst, t.Nanosecond()/1000, 6)
	return append(dst, 'Z')
}

// appendALBCreationTime appends request_creation_time: millisecond
// precision padded to six digits, 2018-07-02T22:22:48.364000Z (alb.md §1.3
// #22). Sub-millisecond digits are truncated.
func appendALBCreationTime(dst []byte, t time.Time) []byte {
	t = t.UTC()
	dst = appendDate(dst, t)
	dst = append(dst, 'T')
	dst = appendClock(dst, t)
	dst = append(dst, '.')
	dst = appendDigits(dst, t.Nanosecond()/1000000, 3)
	return append(dst, '0', '0', '0', 'Z')
}

// appendALBStatus appends a status code; 0 is "-" (alb.md §1.3 #9, #10).
func appendALBStatus(dst []byte, status int) []byte {
	if status == 0 {
		return append(dst, '-')
	}
	return appendStatus(dst, status)
}

// appendALBRulePriority appends matched_rule_priority (alb.md §1.3 #21):
// 1–50000, 0 for the default rule, -1 for an evaluation error, "-" for any
// other error (RulePriorityNone, and any value below -1).
func appendALBRulePriority(dst []byte, p int) []byte {
	if p < RulePriorityEvalError {
		return append(dst, '-')
	}
	return strconv.AppendInt(dst, int64(p), 10)
}

// AppendLine appends r as one ALB access-log line: the 33 space-separated
// fields type through request_transform_status (alb.md §1.3) and "\n". Quoted fields
// are written by appendALBQuoted, unquoted ones by appendALBBare, so no value
// can add a field or a line. Extra is not written. It allocates only when dst
// must grow.
func (r *ALBRecord) AppendLine(dst []byte) []byte {
	dst = appendALBBare(dst, r.Type)
	dst = append(dst, ' ')
	dst = appendALBTime(dst, r.Time)
	dst = append(dst, ' ')
	dst = appendALBBare(dst, r.ELB)
	dst = append(dst, ' ')
	dst = appendALBBare(dst, r.Client)
	dst = append(dst, ' ')
	dst = appendALBBare(dst, r.Target)
	dst = append(dst, ' ')
	dst = appendALBTiming(dst, r.RequestProcessingTime)
	dst = append(dst, ' ')
	dst = appendALBTiming(dst, r.TargetProcessingTime)
	dst = append(dst, ' ')
	dst = appendALBTiming(dst, r.ResponseProcessingTime)
	dst = append(dst, ' ')
	dst = appendALBStatus(dst, r.ELBStatus)
	dst = append(dst, ' ')
	dst = appendALBStatus(dst, r.TargetStatus)
	dst = append(dst, ' ')
	dst = strconv.AppendInt(dst, r.ReceivedBytes, 10)
	dst = append(dst, ' ')
	dst = strconv.AppendInt(dst, r.SentBytes, 10)
	dst = append(dst, ' ')
	dst = appendALBQuoted(dst, r.Request)
	dst = append(dst, ' ')
	dst = appendALBQuoted(dst, r.UserAgent)
	dst = append(dst, ' ')
	dst = appendALBBare(dst, r.SSLCipher)
	dst = append(dst, ' ')
	dst = appendALBBare(dst, r.SSLProtocol)
	dst = append(dst, ' ')
	dst = appendALBBare(dst, r.TargetGroupARN)
	dst = append(dst, ' ')
	dst = appendALBQuoted(dst, r.TraceID)
	dst = append(dst, ' ')
	dst = appendALBQuoted(dst, r.DomainName)
	dst = append(dst, ' ')
	dst = appendALBQuoted(dst, r.ChosenCertARN)
	dst = append(dst, ' ')
	dst = appendALBRulePriority(dst, r.MatchedRulePriority)
	dst = append(dst, ' ')
	dst = appendALBCreationTime(dst, r.RequestCreationTime)
	dst = append(dst, ' ')
	dst = appendALBQuoted(dst, r.ActionsExecuted)
	dst = append(dst, ' ')
	dst = appendALBQuoted(dst, r.RedirectURL)
	dst = append(dst, ' ')
	dst = appendALBQuoted(dst, r.ErrorReason)
	dst = append(dst, ' ')
	dst = appendALBQuoted(dst, r.TargetPortList)
	dst = append(dst, ' ')
	dst = appendALBQuoted(dst, r.TargetStatusCodeList)
	dst = append(dst, ' ')
	dst = appendALBQuoted(dst, r.Classification)
	dst = append(dst, ' ')
	dst = appendALBQuoted(dst, r.ClassificationReason)
	dst = append(dst, ' ')
	dst = appendALBBare(dst, r.ConnTraceID)
	dst = append(dst, ' ')
	dst = appendALBQuoted(dst, r.TransformedHost)
	dst = append(dst, ' ')
	dst = appendALBQuoted(dst, r.TransformedURI)
	dst = append(dst, ' ')
	dst = appendALBQuoted(dst, r.RequestTransformStatus)
	return append(dst, '\n')
}

// albToken is one field of a space-separated ALB-style line.
type albToken struct {
	raw    string // as written, quotes included
	quoted bool
}

// value is the decoded field value.
func (t albToken) value() string {
	if t.quoted {
		return unescapeALBQuoted(t.raw[1 : len(t.raw)-1])
	}
	return unescapeALBBare(t.raw)
}

// tokenizeALB splits an ALB access/connection/health-check log line into
// fields: single spaces separate fields; a field that starts with '"' runs
// to the next '"' that is not escaped by a backslash and is followed by a
// space or the end of the line (so an unescaped quote inside a value, should
// AWS ever write one, stays part of the value) — the quote-aware grammar of
// alb.md §1.2.
func tokenizeALB(kind, line string, dst []albToken) ([]albToken, error) {
	i := 0
	for {
		if i >= len(line) {
			return dst, &ParseError{Log: kind, Field: len(dst) + 1, Name: "field", Msg: "empty field at end of line"}
		}
		if line[i] == '"' {
			j := i + 1
			end := -1
			for j < len(line) {
				c := line[j]
				if c == '\\' {
					j += 2
					continue
				}
				if c == '"' && (j+1 == len(line) || line[j+1] == ' ') {
					end = j
					break
				}
				j++
			}
			if end < 0 {
				return dst, &ParseError{Log: kind, Field: len(dst) + 1, Name: "field", Msg: "unterminated quoted field (line truncated?)"}
			}
			dst = append(dst, albToken{raw: line[i : end+1], quoted: true})
			i = end + 1
		} else {
			j := strings.IndexByte(line[i:], ' ')
			if j == 0 {
				return dst, &ParseError{Log: kind, Field: len(dst) + 1, Name: "field", Msg: "empty field (two spaces)"}
			}
			if j < 0 {
				dst = append(dst, albToken{raw: line[i:]})
				return dst, nil
			}
			dst = append(dst, albToken{raw: line[i : i+j]})
			i += j
		}
		if i == len(line) {
			return dst, nil
		}
		i++ // the separating space
	}
}

// albLayoutOK reports whether n fields is an ALB access-log layout that
// existed: 24 and 25 (≤2019), 27 (2019–2020), 29 (Aug 2020), 30 (May 2024,
// conn_trace_id) and anything longer (33, 34, 36 seen since 2025; trailing
// fields are kept in Extra) — alb.md §1.2.
func albLayoutOK(n int) bool {
	switch n {
	case 24, 25, 27, 29:
		return true
	}
	return n >= albConnTraceIDField
}

// trimLineEnd removes one trailing "\n" and then one "\r".
func trimLineEnd(line string) string {
	line = strings.TrimSuffix(line, "\n")
	return strings.TrimSuffix(line, "\r")
}

// ParseALBLine parses one ALB access-log line of any era (24, 25, 27, 29,
// 30 or more fields, alb.md §1.2). Fields 31–33 fill the transform fields;
// fields after request_transform_status are kept, as written (quotes
// included), in Extra. "-" and "-1" map to the record's
// conventions: "" for strings, 0 for statuses, ALBTimingNotMeasured for
// timings, RulePriorityNone for a "-" rule priority. Fields a short layout
// lacks are "".
func ParseALBLine(line string) (*ALBRecord, error) {
	r, _, err := ParseALBLineFields(line)
	return r, err
}

// ParseALBLineFields is ParseALBLine that also returns the number of fields
// the line had (a quoted string counts as one), which names its era.
func ParseALBLineFields(line string) (*ALBRecord, int, error) {
	line = trimLineEnd(line)
	var buf [40]albToken
	toks, err := tokenizeALB(kindALB, line, buf[:0])
	n := len(toks)
	if err != nil {
		return nil, n, err
	}
	if !albLayoutOK(n) {
		return nil, n, &ParseError{Log: kindALB, Msg: strconv.Itoa(n) + " fields, want 24, 25, 27, 29 or ≥30"}
	}
	for i := 0; i < n && i < ALBFieldCount; i++ {
		if q := albFieldQuoted(i + 1); q != toks[i].quoted {
			what := `is quoted, want an unquoted field`
			if q {
				what = `is not quoted, want a quoted field`
			}
			return nil, n, fieldError(kindALB, i+1, albFieldName(i+1), toks[i].raw, what)
		}
	}
	v := func(i int) string { // decoded value of field i (1-based), "" if absent
		if i > n {
			return ""
		}
		return toks[i-1].value()
	}
	r := &ALBRecord{}
	r.Type = v(1)
	if r.Time, err = albTime(toks[1].raw, 2, false); err != nil {
		return nil, n, err
	}
	r.ELB = v(3)
	r.Client = v(4)
	r.Target = v(5)
	if r.RequestProcessingTime, err = albTiming(toks[5].raw, 6); err != nil {
		return nil, n, err
	}
	if r.TargetProcessingTime, err = albTiming(toks[6].raw, 7); err != nil {
		return nil, n, err
	}
	if r.ResponseProcessingTime, err = albTiming(toks[7].raw, 8); err != nil {
		return nil, n, err
	}
	if r.ELBStatus, err = albStatus(toks[8].raw, 9); err != nil {
		return nil, n, err
	}
	if r.TargetStatus, err = albStatus(toks[9].raw, 10); err != nil {
		return nil, n, err
	}
	if r.ReceivedBytes, err = albUint(toks[10].raw, 11); err != nil {
		return nil, n, err
	}
	if r.SentBytes, err = albUint(toks[11].raw, 12); err != nil {
		return nil, n, err
	}
	r.Request = v(13)
	r.UserAgent = v(14)
	r.SSLCipher = v(15)
	r.SSLProtocol = v(16)
	r.TargetGroupARN = v(17)
	r.TraceID = v(18)
	r.DomainName = v(19)
	r.ChosenCertARN = v(20)
	if r.MatchedRulePriority, err = albRulePriority(toks[20].raw); err != nil {
		return nil, n, err
	}
	if r.RequestCreationTime, err = albTime(toks[21].raw, 22, true); err != nil {
		return nil, n, err
	}
	r.ActionsExecuted = v(23)
	r.RedirectURL = v(24)
	r.ErrorReason = v(25)
	r.TargetPortList = v(26)
	r.TargetStatusCodeList = v(27)
	r.Classification = v(28)
	r.ClassificationReason = v(29)
	r.ConnTraceID = v(30)
	r.TransformedHost = v(31)
	r.TransformedURI = v(32)
	r.RequestTransformStatus = v(33)
	if n > ALBFieldCount {
		r.Extra = make([]string, 0, n-ALBFieldCount)
		for _, t := range toks[ALBFieldCount:] {
			r.Extra = append(r.Extra, t.raw)
		}
	}
	return r, n, nil
}

// albTime parses time (field 2, microseconds) or request_creation_time
// (field 22, milliseconds padded to six digits).
func albTime(s string, field int, millis bool) (time.Time, error) {
	const layout = "2006-01-02T15:04:05.000000Z"
	t, err := time.Parse(layout, s)
	if err != nil {
		return time.Time{}, fieldError(kindALB, field, albFieldName(field), s, "is not a UTC time like 2006-01-02T15:04:05.000000Z")
	}
	if millis && t.Nanosecond()%int(time.Millisecond) != 0 {
		return time.Time{}, fieldError(kindALB, field, albFieldName(field), s, "has sub-millisecond digits (request_creation_time has millisecond precision)")
	}
	return t, nil
}

// albTiming parses a processing time: seconds with at most 3 decimals, or
// -1 (ALBTimingNotMeasured).
func albTiming(s string, field int) (time.Duration, error) {
	if s == "-1" {
		return ALBTimingNotMeasured, nil
	}
	d, ok := parseSeconds(s, 3)
	if !ok {
		return 0, fieldError(kindALB, field, albFieldName(field), s, "is neither seconds with at most 3 decimals nor -1")
	}
	return d, nil
}

// albStatus parses a status code field; "-" is 0.
func albStatus(s string, field int) (int, error) {
	if s == "-" {
		return 0, nil
	}
	st, ok := parseStatus(s)
	if !ok || st == 0 {
		return 0, fieldError(kindALB, field, albFieldName(field), s, "is not a status code")
	}
	return st, nil
}

// albUint parses a byte count.
func albUint(s string, field int) (int64, error) {
	v, ok := parseUint(s)
	if !ok {
		return 0, fieldError(kindALB, field, albFieldName(field), s, "is not an unsigned integer")
	}
	return v, nil
}

// albRulePriority parses matched_rule_priority (alb.md §1.3 #21).
func albRulePriority(s string) (int, error) {
	switch s {
	case "-":
		return RulePriorityNone, nil
	case "-1":
		return RulePriorityEvalError, nil
	}
	v, ok := parseUint(s)
	if !ok || v > 50000 {
		return 0, fieldError(kindALB, 21, albFieldName(21), s, `is not a rule priority (0-50000, -1 or "-")`)
	}
	return int(v), nil
}
