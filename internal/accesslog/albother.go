package accesslog

import (
	"strconv"
	"strings"
	"time"
)

// ALBConnectionRecord is one line of an ALB connection log (alb.md §1.12).
// Values are decoded; "-" is "" for strings, ALBTimingNotMeasured for the
// handshake latency.
type ALBConnectionRecord struct {
	// Time is when the connection was established or failed (µs precision).
	Time         time.Time
	ClientIP     string
	ClientPort   int
	ListenerPort int
	TLSProtocol  string
	TLSCipher    string
	// TLSHandshakeLatency is ALBTimingNotMeasured for non-TLS or failed handshakes.
	TLSHandshakeLatency time.Duration
	// LeafClientCertSubject, Validity and SerialNumber describe the mTLS
	// client certificate; "" unless mTLS is on.
	LeafClientCertSubject      string
	LeafClientCertValidity     string
	LeafClientCertSerialNumber string
	// TLSVerifyStatus is Success or Failed:<code>; "" for plain HTTP.
	TLSVerifyStatus string
	// ConnTraceID, TLSKeyExchange, ELB and IPAddress are absent ("") in the
	// older 11- and 12-field layouts.
	ConnTraceID    string
	TLSKeyExchange string
	ELB            string
	IPAddress      string
	// Extra holds fields after ip_address, as written.
	Extra []string
}

// albConnFieldName is the AWS name of connection-log field i (1-based).
func albConnFieldName(i int) string {
	f := strings.Fields("timestamp client_ip client_port listener_port tls_protocol tls_cipher tls_handshake_latency leaf_client_cert_subject leaf_client_cert_validity leaf_client_cert_serial_number tls_verify_status conn_trace_id tls_keyexchange elb ip_address")
	if i >= 1 && i <= len(f) {
		return f[i-1]
	}
	return "field"
}

// ParseALBConnectionLine parses one ALB connection-log line (alb.md §1.12):
// 11 fields (before conn_trace_id), 12, 15 (with tls_keyexchange, elb,
// ip_address) or more (extra trailing fields kept in Extra).
func ParseALBConnectionLine(line string) (*ALBConnectionRecord, error) {
	const kind = kindALBConnection
	line = trimLineEnd(line)
	var buf [24]albToken
	toks, err := tokenizeALB(kind, line, buf[:0])
	if err != nil {
		return nil, err
	}
	n := len(toks)
	if n < 11 || n == 13 || n == 14 {
		return nil, &ParseError{Log: kind, Msg: strconv.Itoa(n) + " fields, want 11, 12 or ≥15"}
	}
	for i := 0; i < n && i < 15; i++ {
		if q := i == 7; q != toks[i].quoted {
			return nil, fieldError(kind, i+1, albConnFieldName(i+1), toks[i].raw, "has the wrong quoting")
		}
	}
	v := func(i int) string {
		if i > n {
			return ""
		}
		return toks[i-1].value()
	}
	r := &ALBConnectionRecord{}
	if r.Time, err = time.Parse("2006-01-02T15:04:05.000000Z", toks[0].raw); err != nil {
		return nil, fieldError(kind, 1, "timestamp", toks[0].raw, "is not a UTC time like 2006-01-02T15:04:05.000000Z")
	}
	r.ClientIP = v(2)
	if r.ClientPort, err = portField(kind, toks[2].raw, 3, albConnFieldName(3)); err != nil {
		return nil, err
	}
	if r.ListenerPort, err = portField(kind, toks[3].raw, 4, albConnFieldName(4)); err != nil {
		return nil, err
	}
	r.TLSProtocol = v(5)
	r.TLSCipher = v(6)
	if s := toks[6].raw; s == "-" {
		r.TLSHandshakeLatency = ALBTimingNotMeasured
	} else if d, ok := parseSeconds(s, 9); ok {
		r.TLSHandshakeLatency = d
	} else {
		return nil, fieldError(kind, 7, albConnFieldName(7), s, `is neither seconds nor "-"`)
	}
	r.LeafClientCertSubject = v(8)
	r.LeafClientCertValidity = v(9)
	r.LeafClientCertSerialNumber = v(10)
	r.TLSVerifyStatus = v(11)
	r.ConnTraceID = v(12)
	r.TLSKeyExchange = v(13)
	r.ELB = v(14)
	r.IPAddress = v(15)
	for _, t := range toks[min(n, 15):] {
		r.Extra = append(r.Extra, t.raw)
	}
	return r, nil
}

// portField parses a TCP port (0–65535).
func portField(kind, s string, field int, name string) (int, error) {
	v, ok := parseUint(s)
	if !ok || v > 65535 {
		return 0, fieldError(kind, field, name, s, "is not a port")
	}
	return int(v), nil
}

// ALBHealthCheckRecord is one line of an ALB health-check log (alb.md §1.13).
type ALBHealthCheckRecord struct {
	// Type is http, https, h2, grpc or lambda.
	Type string
	// Time is when the check started (µs precision).
	Time time.Time
	// Latency is the check's duration (up to ns precision in AWS's examples).
	Latency time.Duration
	// TargetAddr is IP:port or a Lambda ARN.
	TargetAddr    string
	TargetGroupID string
	// Status is PASS or FAIL.
	Status string
	// StatusCode is the target's status; 0 is "-".
	StatusCode int
	// ReasonCode is "" ("-") on PASS.
	ReasonCode string
	// ELB and IPAddress are absent ("") in AWS's 8-field examples.
	ELB       string
	IPAddress string
	// Extra holds fields after ip_address, as written.
	Extra []string
}

// ParseALBHealthCheckLine parses one ALB health-check-log line (alb.md
// §1.13): 8 fields as in AWS's examples, 10 with elb and ip_address, or more.
func ParseALBHealthCheckLine(line string) (*ALBHealthCheckRecord, error) {
	const kind = kindALBHealthCheck
	names := strings.Fields("type time latency target_addr target_group_id status status_code reason_code elb ip_address")
	line = trimLineEnd(line)
	var buf [16]albToken
	toks, err := tokenizeALB(kind, line, buf[:0])
	if err != nil {
		return nil, err
	}
	n := len(toks)
	if n < 8 || n == 9 {
		return nil, &ParseError{Log: kind, Msg: strconv.Itoa(n) + " fields, want 8 or ≥10"}
	}
	for i := 0; i < n && i < 10; i++ {
		if toks[i].quoted {
			return nil, fieldError(kind, i+1, names[i], toks[i].raw, "is quoted, want an unquoted field")
		}
	}
	v := func(i int) string {
		if i > n {
			return ""
		}
		return toks[i-1].value()
	}
	r := &ALBHealthCheckRecord{Type: v(1)}
	if r.Time, err = time.Parse("2006-01-02T15:04:05.000000Z", toks[1].raw); err != nil {
		return nil, fieldError(kind, 2, names[1], toks[1].raw, "is not a UTC time like 2006-01-02T15:04:05.000000Z")
	}
	d, ok := parseSeconds(toks[2].raw, 9)
	if !ok {
		return nil, fieldError(kind, 3, names[2], toks[2].raw, "is not a number of seconds")
	}
	r.Latency = d
	r.TargetAddr = v(4)
	r.TargetGroupID = v(5)
	r.Status = v(6)
	if r.Status != "PASS" && r.Status != "FAIL" {
		return nil, fieldError(kind, 6, names[5], toks[5].raw, "is neither PASS nor FAIL")
	}
	if s := toks[6].raw; s != "-" {
		st, ok := parseStatus(s)
		if !ok || st == 0 {
			return nil, fieldError(kind, 7, names[6], s, "is not a status code")
		}
		r.StatusCode = st
	}
	r.ReasonCode = v(8)
	r.ELB = v(9)
	r.IPAddress = v(10)
	for _, t := range toks[min(n, 10):] {
		r.Extra = append(r.Extra, t.raw)
	}
	return r, nil
}
