package accesslog

import (
	"strconv"
	"strings"
	"time"
)

// CloudFrontHeader is the two header lines that start every CloudFront
// standard log file (cloudfront.md §1.2), each ending in "\n".
const CloudFrontHeader = "#Version: 1.0\n" +
	"#Fields: date time x-edge-location sc-bytes c-ip cs-method cs(Host) cs-uri-stem sc-status cs(Referer) cs(User-Agent) cs-uri-query cs(Cookie) x-edge-result-type x-edge-request-id x-host-header cs-protocol cs-bytes time-taken x-forwarded-for ssl-protocol ssl-cipher x-edge-response-result-type cs-protocol-version fle-status fle-encrypted-fields c-port time-to-first-byte x-edge-detailed-result-type sc-content-type sc-content-len sc-range-start sc-range-end\n"

// CloudFrontFieldCount is the number of fields kumo writes per CloudFront
// line: the 33 fields of the format since December 2019 (cloudfront.md §1.1).
const CloudFrontFieldCount = 33

// cloudFrontFieldName is the W3C name of field i (1-based), for errors.
func cloudFrontFieldName(i int) string {
	const names = "date time x-edge-location sc-bytes c-ip cs-method cs(Host) cs-uri-stem sc-status cs(Referer) cs(User-Agent) cs-uri-query cs(Cookie) x-edge-result-type x-edge-request-id x-host-header cs-protocol cs-bytes time-taken x-forwarded-for ssl-protocol ssl-cipher x-edge-response-result-type cs-protocol-version fle-status fle-encrypted-fields c-port time-to-first-byte x-edge-detailed-result-type sc-content-type sc-content-len sc-range-start sc-range-end"
	f := strings.Fields(names)
	if i >= 1 && i <= len(f) {
		return f[i-1]
	}
	return "field"
}

// cloudFrontEscapeTable has '1' at index c when byte c is URL-encoded in a
// CloudFront log field: cloudfront.md §1.4 — every byte 0x00–0x20, every byte
// 0x7F and above, and the 16 characters < > " # % { } | \ ^ ~ [ ] ` ' and
// space. TestEscapeCloudFront checks it against that rule byte by byte.
const cloudFrontEscapeTable = "1111111111111111111111111111111110110101000000000000000000001010" +
	"0000000000000000000000000001111010000000000000000000000000011111" +
	"1111111111111111111111111111111111111111111111111111111111111111" +
	"1111111111111111111111111111111111111111111111111111111111111111"

// cloudFrontNeedsEscape reports whether byte c is URL-encoded (§1.4).
func cloudFrontNeedsEscape(c byte) bool { return cloudFrontEscapeTable[c] == '1' }

// cleanPrefix returns the length of the longest prefix of s that has no byte
// to escape under table, a 256-byte string with '1' at the index of each byte
// to escape and '0' elsewhere (cloudFrontEscapeTable, albQuotedEscapeTable,
// albBareEscapeTable). It tests eight bytes per step: OR-ing '0' (0x30) and
// '1' (0x31) entries leaves bit 0 set when any of them is '1'.
func cleanPrefix(s, table string) int {
	t := table[:256] // the length is known, so a byte index needs no check
	i := 0
	for ; i+8 <= len(s); i += 8 {
		b := s[i : i+8]
		if (t[b[0]]|t[b[1]]|t[b[2]]|t[b[3]]|t[b[4]]|t[b[5]]|t[b[6]]|t[b[7]])&1 != 0 {
			break
		}
	}
	for ; i < len(s) && t[s[i]]&1 == 0; i++ {
	}
	return i
}

// EscapeCloudFront appends s to dst encoded as a CloudFront log field value
// (cloudfront.md §1.4, current single-encoding form): each byte that
// cloudFrontNeedsEscape selects becomes %XX with uppercase hex; everything
// else is copied. An empty s is written as "-" (§1.1). A value that is
// exactly "-" is written as "-" too, as AWS does; it therefore reads back as
// "" (the only value that does not survive a round trip).
func EscapeCloudFront(dst []byte, s string) []byte {
	if s == "" {
		return append(dst, '-')
	}
	i := cleanPrefix(s, cloudFrontEscapeTable)
	if i == len(s) {
		return append(dst, s...) // nothing to escape: the common case
	}
	const hex = "0123456789ABCDEF"
	start := 0
	for ; i < len(s); i++ {
		c := s[i]
		if !cloudFrontNeedsEscape(c) {
			continue
		}
		dst = append(dst, s[start:i]...)
		dst = append(dst, '%', hex[c>>4], hex[c&0xF])
		start = i + 1
	}
	return append(dst, s[start:]...)
}

// UnescapeCloudFront decodes one CloudFront log field value: "-" is the empty
// string and every %XX (hex in either case) is the byte XX. It is the exact
// inverse of EscapeCloudFront for every value except "-". A "%" that is not
// followed by two hex digits (never written by CloudFront) is kept as is.
// Older logs that were escaped twice (%2520, cloudfront.md §1.4) decode once,
// to "%20", exactly as written.
func UnescapeCloudFront(s string) string { return unescapeWith(s, '%', cloudFrontEscape) }

// cloudFrontEscape decodes a %XX escape at the start of esc.
func cloudFrontEscape(esc string) (byte, int) {
	if len(esc) >= 3 {
		if v, ok := hexByte(esc[1:3]); ok {
			return v, 3
		}
	}
	return 0, 0
}

// unescapeWith is the one decoder behind both logs' field escaping: "-" is
// the empty string, and at each lead byte dec returns the decoded byte and
// the length of the escape (0: not an escape, the lead byte is kept).
func unescapeWith(s string, lead byte, dec func(esc string) (byte, int)) string {
	if s == "-" {
		return ""
	}
	i := strings.IndexByte(s, lead)
	if i < 0 {
		return s
	}
	b := make([]byte, 0, len(s))
	b = append(b, s[:i]...)
	for ; i < len(s); i++ {
		if s[i] == lead {
			if c, n := dec(s[i:]); n > 0 {
				b = append(b, c)
				i += n - 1
				continue
			}
		}
		b = append(b, s[i])
	}
	return string(b)
}

// hexByte decodes two hex digits (either case).
func hexByte(h string) (byte, bool) {
	hi, ok1 := unhex(h[0])
	lo, ok2 := unhex(h[1])
	return hi<<4 | lo, ok1 && ok2
}

// unhex decodes one hex digit.
func unhex(c byte) (byte, bool) {
	switch {
	case c >= '0' && c <= '9':
		return c - '0', true
	case c >= 'a' && c <= 'f':
		return c - 'a' + 10, true
	case c >= 'A' && c <= 'F':
		return c - 'A' + 10, true
	}
	return 0, false
}

// appendCFDash appends v, or "-" when v is negative: the "-1 is -" rule of
// the record's CSBytes, FLEEncryptedFields, ContentLen and range fields.
func appendCFDash(dst []byte, v int64) []byte {
	if v < 0 {
		return append(dst, '-')
	}
	return strconv.AppendInt(dst, v, 10)
}

// appendCFSeconds appends time-taken / time-to-first-byte: seconds with three
// decimals (cloudfront.md §1.3 #19, #28). A negative duration, which cannot be
// measured, is written as 0.000.
func appendCFSeconds(dst []byte, d time.Duration) []byte {
	if d < 0 {
		d = 0
	}
	return appendSeconds3(dst, d)
}

// AppendLine appends r as one CloudFront standard log line: exactly 33
// TAB-separated fields in the order of CloudFrontHeader, terminated by "\n"
// (cloudfront.md §1.1–1.4). Strings are escaped with EscapeCloudFront (so no
// field can contain a TAB or newline); Time is written in UTC to the second;
// Status 0 is "000"; the -1 conventions of the record are "-". It allocates
// only when dst must grow.
func (r *CloudFrontRecord) AppendLine(dst []byte) []byte {
	return (*CloudFrontLineCache)(nil).Append(dst, r)
}

// CloudFrontLineCache appends CloudFront log lines as AppendLine does, byte
// for byte, reusing what the last line it wrote had in common with the
// next: the date and time while the second is the same, and each run of
// fields that, for the traffic of one object, repeats from request to
// request (method to x-edge-result-type, host to cs-bytes, and so on)
// while the fields that differ per request (client address, request id,
// timings) are written afresh. A run is reused only when all of its
// values are equal to the ones it was written from, which the cache keeps
// copies of: a record's strings may point into buffers reused after the
// call. The zero value is ready; a nil cache reuses nothing. Not safe for
// concurrent use.
type CloudFrontLineCache struct {
	sec  int64  // the unix second of when
	when []byte // "YYYY-MM-DD\tHH:MM:SS\t" of sec; empty before the first line
	runs [5]lineRun
}

// lineRun is one run of fields as last written: its text (separators
// included) and copies of the values it was written from.
type lineRun struct {
	text []byte
	strs []byte // the string values, back to back
	ends []int  // where each string value ends in strs
	nums []int64
	ok   bool
}

// same reports whether nums and strs are the values lr was written from.
func (lr *lineRun) same(nums []int64, strs []string) bool {
	if !lr.ok || len(nums) != len(lr.nums) || len(strs) != len(lr.ends) {
		return false
	}
	for i, n := range nums {
		if lr.nums[i] != n {
			return false
		}
	}
	from := 0
	for i, v := range strs {
		if string(lr.strs[from:lr.ends[i]]) != v {
			return false
		}
		from = lr.ends[i]
	}
	return true
}

// remember keeps text as the run written from nums and strs.
func (lr *lineRun) remember(nums []int64, strs []string, text []byte) {
	lr.text = append(lr.text[:0], text...)
	lr.nums = append(lr.nums[:0], nums...)
	lr.strs, lr.ends = lr.strs[:0], lr.ends[:0]
	for _, v := range strs {
		lr.strs = append(lr.strs, v...)
		lr.ends = append(lr.ends, len(lr.strs))
	}
	lr.ok = true
}

// run appends run i of r's line: the text kept from the last line when
// nums and strs, its values, are the same, otherwise what format appends.
func (c *CloudFrontLineCache) run(i int, dst []byte, r *CloudFrontRecord, format func([]byte, *CloudFrontRecord) []byte, nums []int64, strs ...string) []byte {
	if c == nil {
		return format(dst, r)
	}
	lr := &c.runs[i]
	if lr.same(nums, strs) {
		return append(dst, lr.text...)
	}
	from := len(dst)
	dst = format(dst, r)
	lr.remember(nums, strs, dst[from:])
	return dst
}

// Append appends r as one CloudFront standard log line, exactly as
// r.AppendLine(dst) would.
func (c *CloudFrontLineCache) Append(dst []byte, r *CloudFrontRecord) []byte {
	t := r.Time.UTC()
	switch {
	case c == nil:
		dst = appendWhen(dst, t)
	case len(c.when) > 0 && t.Unix() == c.sec:
		dst = append(dst, c.when...)
	default:
		from := len(dst)
		dst = appendWhen(dst, t)
		c.sec, c.when = t.Unix(), append(c.when[:0], dst[from:]...)
	}
	dst = c.run(0, dst, r, appendCFEdge, []int64{r.SCBytes}, r.EdgeLocation)
	dst = EscapeCloudFront(dst, r.ClientIP)
	dst = append(dst, '\t')
	dst = c.run(1, dst, r, appendCFRequest, []int64{int64(r.Status)},
		r.Method, r.Host, r.URIStem, r.Referer, r.UserAgent, r.URIQuery, r.Cookie, r.ResultType)
	dst = EscapeCloudFront(dst, r.RequestID)
	dst = append(dst, '\t')
	dst = c.run(2, dst, r, appendCFHostHeader, []int64{r.CSBytes}, r.HostHeader, r.Protocol)
	dst = appendCFSeconds(dst, r.TimeTaken)
	dst = append(dst, '\t')
	dst = c.run(3, dst, r, appendCFProtocol, []int64{int64(r.FLEEncryptedFields)},
		r.ForwardedFor, r.SSLProtocol, r.SSLCipher, r.ResponseResultType, r.ProtocolVersion, r.FLEStatus)
	dst = strconv.AppendInt(dst, int64(r.ClientPort), 10)
	dst = append(dst, '\t')
	dst = appendCFSeconds(dst, r.TimeToFirstByte)
	dst = append(dst, '\t')
	return c.run(4, dst, r, appendCFContent, []int64{r.ContentLen, r.RangeStart, r.RangeEnd},
		r.DetailedResultType, r.ContentType)
}

// appendWhen appends fields 1 and 2, date and time (t in UTC), each with
// its TAB.
func appendWhen(dst []byte, t time.Time) []byte {
	dst = appendDate(dst, t)
	dst = append(dst, '\t')
	dst = appendClock(dst, t)
	return append(dst, '\t')
}

// appendCFEdge appends fields 3–4, x-edge-location and sc-bytes, each with
// its TAB.
func appendCFEdge(dst []byte, r *CloudFrontRecord) []byte {
	dst = EscapeCloudFront(dst, r.EdgeLocation)
	dst = append(dst, '\t')
	dst = strconv.AppendInt(dst, r.SCBytes, 10)
	return append(dst, '\t')
}

// appendCFRequest appends fields 6–14, cs-method to x-edge-result-type,
// each with its TAB.
func appendCFRequest(dst []byte, r *CloudFrontRecord) []byte {
	dst = EscapeCloudFront(dst, r.Method)
	dst = append(dst, '\t')
	dst = EscapeCloudFront(dst, r.Host)
	dst = append(dst, '\t')
	dst = EscapeCloudFront(dst, r.URIStem)
	dst = append(dst, '\t')
	dst = appendStatus(dst, r.Status)
	dst = append(dst, '\t')
	dst = EscapeCloudFront(dst, r.Referer)
	dst = append(dst, '\t')
	dst = EscapeCloudFront(dst, r.UserAgent)
	dst = append(dst, '\t')
	dst = EscapeCloudFront(dst, r.URIQuery)
	dst = append(dst, '\t')
	dst = EscapeCloudFront(dst, r.Cookie)
	dst = append(dst, '\t')
	dst = EscapeCloudFront(dst, r.ResultType)
	return append(dst, '\t')
}

// appendCFHostHeader appends fields 16–18, x-host-header, cs-protocol and
// cs-bytes, each with its TAB.
func appendCFHostHeader(dst []byte, r *CloudFrontRecord) []byte {
	dst = EscapeCloudFront(dst, r.HostHeader)
	dst = append(dst, '\t')
	dst = EscapeCloudFront(dst, r.Protocol)
	dst = append(dst, '\t')
	dst = appendCFDash(dst, r.CSBytes)
	return append(dst, '\t')
}

// appendCFProtocol appends fields 20–26, x-forwarded-for to
// fle-encrypted-fields, each with its TAB.
func appendCFProtocol(dst []byte, r *CloudFrontRecord) []byte {
	dst = EscapeCloudFront(dst, r.ForwardedFor)
	dst = append(dst, '\t')
	dst = EscapeCloudFront(dst, r.SSLProtocol)
	dst = append(dst, '\t')
	dst = EscapeCloudFront(dst, r.SSLCipher)
	dst = append(dst, '\t')
	dst = EscapeCloudFront(dst, r.ResponseResultType)
	dst = append(dst, '\t')
	dst = EscapeCloudFront(dst, r.ProtocolVersion)
	dst = append(dst, '\t')
	dst = EscapeCloudFront(dst, r.FLEStatus)
	dst = append(dst, '\t')
	dst = appendCFDash(dst, int64(r.FLEEncryptedFields))
	return append(dst, '\t')
}

// appendCFContent appends fields 29–33, x-edge-detailed-result-type to
// sc-range-end, and the line's newline.
func appendCFContent(dst []byte, r *CloudFrontRecord) []byte {
	dst = EscapeCloudFront(dst, r.DetailedResultType)
	dst = append(dst, '\t')
	dst = EscapeCloudFront(dst, r.ContentType)
	dst = append(dst, '\t')
	dst = appendCFDash(dst, r.ContentLen)
	dst = append(dst, '\t')
	dst = appendCFDash(dst, r.RangeStart)
	dst = append(dst, '\t')
	dst = appendCFDash(dst, r.RangeEnd)
	return append(dst, '\n')
}

// cloudFrontLayoutOK reports whether n fields is a CloudFront layout that
// ever existed: 18 (2014), 19 (2015), 23 (2016), 24 (Dec 2017), 26
// (2018–2019), or 33 and more (Dec 2019 on; fields past 33 are the standard
// logging v2 additions and are ignored) — cloudfront.md §1.1.
func cloudFrontLayoutOK(n int) bool {
	switch n {
	case 18, 19, 23, 24, 26:
		return true
	}
	return n >= CloudFrontFieldCount
}

// ParseCloudFrontLine parses one CloudFront standard log line (without or
// with its trailing "\n"). See ParseCloudFrontLineFields.
func ParseCloudFrontLine(line string) (*CloudFrontRecord, error) {
	r, _, err := ParseCloudFrontLineFields(line)
	return r, err
}

// ParseCloudFrontLineFields parses one CloudFront standard log line and also
// returns the number of fields it had, which names its layout (18, 19, 23,
// 24, 26, 33, or more for v2 lines). One trailing TAB (an empty last field,
// seen in AWS's own example) is not counted. Fields a short layout lacks are
// left at their "absent" value: "" for strings, -1 for the fields whose
// record comment gives -1 as "-", 0 otherwise. Fields after the 33rd are
// ignored. Values are decoded with UnescapeCloudFront.
func ParseCloudFrontLineFields(line string) (*CloudFrontRecord, int, error) {
	line = strings.TrimSuffix(line, "\n")
	line = strings.TrimSuffix(line, "\r")
	var f [CloudFrontFieldCount]string
	n := 0
	rest := line
	for {
		i := strings.IndexByte(rest, '\t')
		if n < len(f) {
			if i < 0 {
				f[n] = rest
			} else {
				f[n] = rest[:i]
			}
		}
		n++
		if i < 0 {
			break
		}
		rest = rest[i+1:]
	}
	if n > 1 && strings.HasSuffix(line, "\t") {
		n-- // one trailing TAB
	}
	if !cloudFrontLayoutOK(n) {
		return nil, n, &ParseError{Log: kindCloudFront, Msg: strconv.Itoa(n) + " fields, want 18, 19, 23, 24, 26 or ≥33"}
	}
	r := &CloudFrontRecord{
		CSBytes: -1, FLEEncryptedFields: -1, ContentLen: -1, RangeStart: -1, RangeEnd: -1,
	}
	t, err := time.Parse("2006-01-02 15:04:05", f[0]+" "+f[1])
	if err != nil {
		if _, derr := time.Parse("2006-01-02", f[0]); derr != nil {
			return nil, n, fieldError(kindCloudFront, 1, "date", f[0], "is not a date (YYYY-MM-DD)")
		}
		return nil, n, fieldError(kindCloudFront, 2, "time", f[1], "is not a time (HH:MM:SS)")
	}
	r.Time = t
	r.EdgeLocation = UnescapeCloudFront(f[2])
	if r.SCBytes, err = cfUint(f[3], 4); err != nil {
		return nil, n, err
	}
	r.ClientIP = UnescapeCloudFront(f[4])
	r.Method = UnescapeCloudFront(f[5])
	r.Host = UnescapeCloudFront(f[6])
	r.URIStem = UnescapeCloudFront(f[7])
	st, ok := parseStatus(f[8])
	if !ok {
		return nil, n, fieldError(kindCloudFront, 9, "sc-status", f[8], "is not a 3-digit status code")
	}
	r.Status = st
	r.Referer = UnescapeCloudFront(f[9])
	r.UserAgent = UnescapeCloudFront(f[10])
	r.URIQuery = UnescapeCloudFront(f[11])
	r.Cookie = UnescapeCloudFront(f[12])
	r.ResultType = UnescapeCloudFront(f[13])
	r.RequestID = UnescapeCloudFront(f[14])
	r.HostHeader = UnescapeCloudFront(f[15])
	r.Protocol = UnescapeCloudFront(f[16])
	if r.CSBytes, err = cfDash(f[17], 18); err != nil {
		return nil, n, err
	}
	if n >= 19 {
		if r.TimeTaken, err = cfSeconds(f[18], 19); err != nil {
			return nil, n, err
		}
	}
	if n >= 23 {
		r.ForwardedFor = UnescapeCloudFront(f[19])
		r.SSLProtocol = UnescapeCloudFront(f[20])
		r.SSLCipher = UnescapeCloudFront(f[21])
		r.ResponseResultType = UnescapeCloudFront(f[22])
	}
	if n >= 24 {
		r.ProtocolVersion = UnescapeCloudFront(f[23])
	}
	if n >= 26 {
		r.FLEStatus = UnescapeCloudFront(f[24])
		v, err := cfDash(f[25], 26)
		if err != nil {
			return nil, n, err
		}
		if v > 1<<31-1 {
			return nil, n, fieldError(kindCloudFront, 26, cloudFrontFieldName(26), f[25], "is too large")
		}
		r.FLEEncryptedFields = int(v)
	}
	if n >= 33 {
		p, err := cfUint(f[26], 27)
		if err != nil {
			return nil, n, err
		}
		if p > 65535 {
			return nil, n, fieldError(kindCloudFront, 27, "c-port", f[26], "is not a port")
		}
		r.ClientPort = int(p)
		if r.TimeToFirstByte, err = cfSeconds(f[27], 28); err != nil {
			return nil, n, err
		}
		r.DetailedResultType = UnescapeCloudFront(f[28])
		r.ContentType = UnescapeCloudFront(f[29])
		if r.ContentLen, err = cfDash(f[30], 31); err != nil {
			return nil, n, err
		}
		if r.RangeStart, err = cfDash(f[31], 32); err != nil {
			return nil, n, err
		}
		if r.RangeEnd, err = cfDash(f[32], 33); err != nil {
			return nil, n, err
		}
	}
	return r, n, nil
}

// cfUint parses a required unsigned integer field.
func cfUint(s string, field int) (int64, error) {
	v, ok := parseUint(s)
	if !ok {
		return 0, fieldError(kindCloudFront, field, cloudFrontFieldName(field), s, "is not an unsigned integer")
	}
	return v, nil
}

// cfDash parses an unsigned integer field where "-" means -1.
func cfDash(s string, field int) (int64, error) {
	if s == "-" {
		return -1, nil
	}
	v, ok := parseUint(s)
	if !ok {
		return 0, fieldError(kindCloudFront, field, cloudFrontFieldName(field), s, `is neither an unsigned integer nor "-"`)
	}
	return v, nil
}

// cfSeconds parses time-taken / time-to-first-byte (at most 3 decimals).
func cfSeconds(s string, field int) (time.Duration, error) {
	d, ok := parseSeconds(s, 3)
	if !ok {
		return 0, fieldError(kindCloudFront, field, cloudFrontFieldName(field), s, "is not seconds with at most 3 decimals")
	}
	return d, nil
}
