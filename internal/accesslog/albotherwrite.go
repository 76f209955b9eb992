package accesslog

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"time"
)

// appendConnLatency appends tls_handshake_latency (alb.md §1.12 field 7):
// seconds with millisecond precision, "-" when not measured (negative).
func appendConnLatency(dst []byte, d time.Duration) []byte {
	if d < 0 {
		return append(dst, '-')
	}
	return appendSeconds3(dst, d)
}

// AppendLine appends r as one ALB connection-log line (alb.md §1.12): the 15
// space-separated fields timestamp through ip_address and "\n". Only
// leaf_client_cert_subject is quoted; every other field is written by
// appendALBBare, so no value can add a field or a line. Extra is not
// written.
func (r *ALBConnectionRecord) AppendLine(dst []byte) []byte {
	dst = appendALBTime(dst, r.Time)
	dst = append(dst, ' ')
	dst = appendALBBare(dst, r.ClientIP)
	dst = append(dst, ' ')
	dst = strconv.AppendInt(dst, int64(r.ClientPort), 10)
	dst = append(dst, ' ')
	dst = strconv.AppendInt(dst, int64(r.ListenerPort), 10)
	dst = append(dst, ' ')
	dst = appendALBBare(dst, r.TLSProtocol)
	dst = append(dst, ' ')
	dst = appendALBBare(dst, r.TLSCipher)
	dst = append(dst, ' ')
	dst = appendConnLatency(dst, r.TLSHandshakeLatency)
	dst = append(dst, ' ')
	dst = appendALBQuoted(dst, r.LeafClientCertSubject)
	dst = append(dst, ' ')
	dst = appendALBBare(dst, r.LeafClientCertValidity)
	dst = append(dst, ' ')
	dst = appendALBBare(dst, r.LeafClientCertSerialNumber)
	dst = append(dst, ' ')
	dst = appendALBBare(dst, r.TLSVerifyStatus)
	dst = append(dst, ' ')
	dst = appendALBBare(dst, r.ConnTraceID)
	dst = append(dst, ' ')
	dst = appendALBBare(dst, r.TLSKeyExchange)
	dst = append(dst, ' ')
	dst = appendALBBare(dst, r.ELB)
	dst = append(dst, ' ')
	dst = appendALBBare(dst, r.IPAddress)
	return append(dst, '\n')
}

// appendHealthLatency appends a health check's latency (alb.md §1.13 field
// 3): seconds with nine decimals, as in AWS's examples (0.019584011).
func appendHealthLatency(dst []byte, d time.Duration) []byte {
	if d < 0 {
		d = 0
	}
	ns := int64(d)
	dst = strconv.AppendInt(dst, ns/1e9, 10)
	dst = append(dst, '.')
	return appendDigits(dst, int(ns%1e9), 9)
}

// AppendLine appends r as one ALB health-check-log line (alb.md §1.13): the
// 10 unquoted fields type through ip_address and "\n". Extra is not written.
func (r *ALBHealthCheckRecord) AppendLine(dst []byte) []byte {
	dst = appendALBBare(dst, r.Type)
	dst = append(dst, ' ')
	dst = appendALBTime(dst, r.Time)
	dst = append(dst, ' ')
	dst = appendHealthLatency(dst, r.Latency)
	dst = append(dst, ' ')
	dst = appendALBBare(dst, r.TargetAddr)
	dst = append(dst, ' ')
	dst = appendALBBare(dst, r.TargetGroupID)
	dst = append(dst, ' ')
	dst = appendALBBare(dst, r.Status)
	dst = append(dst, ' ')
	dst = appendALBStatus(dst, r.StatusCode)
	dst = append(dst, ' ')
	dst = appendALBBare(dst, r.ReasonCode)
	dst = append(dst, ' ')
	dst = appendALBBare(dst, r.ELB)
	dst = append(dst, ' ')
	dst = appendALBBare(dst, r.IPAddress)
	return append(dst, '\n')
}

// Object-key prefixes of the two other ALB logs (alb.md §1.12, §1.13).
const (
	// ALBConnectionLogPrefix starts every connection-log file name.
	ALBConnectionLogPrefix = "conn_log_"
	// ALBHealthCheckLogPrefix starts every health-check-log file name.
	ALBHealthCheckLogPrefix = "health_check_log_"
)

// albPrefixedLogKey is the access-log key of albLogKey with the file name
// prefixed: …/{dd}/conn_log_{account}_elasticloadbalancing_… (alb.md
// §1.12, current documentation; an older revision printed "conn_log.") and
// …/{dd}/health_check_log_{account}_… (§1.13).
func albPrefixedLogKey(prefix string, id ALBLogIdentity, end time.Time) string {
	dir, name := filepath.Split(albLogKey(id, end))
	return filepath.Join(dir, prefix+name)
}

// albIntervalLog is the 5-minute file machinery of the three ALB logs:
// access (no prefix), connection and health-check (their file-name prefix).
type albIntervalLog struct {
	dir    string
	prefix string
	id     ALBLogIdentity
	set    *fileSet
}

func openALBIntervalLog(kind, prefix, dir string, id ALBLogIdentity, opt LogOptions) (*albIntervalLog, error) {
	if err := id.validate(); err != nil {
		return nil, fmt.Errorf("%s log: %w", kind, err)
	}
	if err := os.MkdirAll(dir, dirMode); err != nil {
		return nil, fmt.Errorf("%s log: %w", kind, err)
	}
	return &albIntervalLog{dir: dir, prefix: prefix, id: id, set: newFileSet(kind, opt, expireALBLocked)}, nil
}

// write appends the line built by appendLine to the current interval's file.
func (l *albIntervalLog) write(appendLine func([]byte) []byte) error {
	s := l.set
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed {
		return errClosed(s.kind)
	}
	now := s.now()
	if f, sec := s.cur, now.Unix(); f != nil && sec < s.curEnd && sec >= s.curEnd-int64(ALBLogInterval/time.Second) {
		// The interval of the last write: its file is live, and none
		// of an earlier interval is (the write that made it current
		// finished them).
		s.line = appendLine(s.line[:0])
		return s.writeLocked(f)
	}
	now = now.UTC()
	expireALBLocked(s, now)
	end := now.Truncate(ALBLogInterval).Add(ALBLogInterval)
	key := end.Unix()
	f := s.files[key]
	if f == nil {
		var err error
		f, err = s.createLive(filepath.Join(l.dir, albPrefixedLogKey(l.prefix, l.id, end)), "")
		if err != nil {
			return fmt.Errorf("%s log: %w", s.kind, err)
		}
		s.files[key] = f
	}
	s.cur, s.curEnd = f, key
	s.line = appendLine(s.line[:0])
	return s.writeLocked(f)
}

// ALBConnectionLog writes one load balancer node's connection-log files
// under dir (alb.md §1.12): named like the access log's with the prefix
// ALBConnectionLogPrefix, one live file per 5-minute interval of the clock,
// gzipped once the interval has ended or on Close. Safe for concurrent use.
type ALBConnectionLog struct{ l *albIntervalLog }

// OpenALBConnectionLog starts a connection log for the node id in dir.
func OpenALBConnectionLog(dir string, id ALBLogIdentity, opt LogOptions) (*ALBConnectionLog, error) {
	l, err := openALBIntervalLog(kindALBConnection, ALBConnectionLogPrefix, dir, id, opt)
	if err != nil {
		return nil, err
	}
	return &ALBConnectionLog{l: l}, nil
}

// Write appends rec to the live file of the current 5-minute interval.
func (c *ALBConnectionLog) Write(rec *ALBConnectionRecord) error {
	if rec == nil {
		return errors.New("alb connection log: nil record")
	}
	return c.l.write(rec.AppendLine)
}

// Close flushes and gzips every live file and returns every failure met
// since open.
func (c *ALBConnectionLog) Close() error { return c.l.set.close() }

// ALBHealthCheckLog writes one load balancer node's health-check-log files
// under dir (alb.md §1.13): named like the access log's with the prefix
// ALBHealthCheckLogPrefix, rotated and gzipped like it. Safe for concurrent
// use.
type ALBHealthCheckLog struct{ l *albIntervalLog }

// OpenALBHealthCheckLog starts a health-check log for the node id in dir.
func OpenALBHealthCheckLog(dir string, id ALBLogIdentity, opt LogOptions) (*ALBHealthCheckLog, error) {
	l, err := openALBIntervalLog(kindALBHealthCheck, ALBHealthCheckLogPrefix, dir, id, opt)
	if err != nil {
		return nil, err
	}
	return &ALBHealthCheckLog{l: l}, nil
}

// Write appends rec to the live file of the current 5-minute interval.
func (h *ALBHealthCheckLog) Write(rec *ALBHealthCheckRecord) error {
	if rec == nil {
		return errors.New("alb health check log: nil record")
	}
	return h.l.write(rec.AppendLine)
}

// Close flushes and gzips every live file and returns every failure met
// since open.
func (h *ALBHealthCheckLog) Close() error { return h.l.set.close() }

// readPrefixedALBLogs reads every file under dir whose name is prefix +
// an access-log file name, in interval order, and parses it with parse.
func readPrefixedALBLogs[T any](dir, kind, prefix string, parse func(io.Reader) ([]T, error)) ([]T, error) {
	re := regexp.MustCompile("^" + regexp.QuoteMeta(prefix) + strings.TrimPrefix(albFileRE, "^"))
	found := make(map[string]logFile)
	err := filepath.WalkDir(dir, func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if !d.IsDir() {
			if m := re.FindStringSubmatch(d.Name()); m != nil {
				found[path] = logFile{sortKey: m[1] + "\x00" + strings.TrimSuffix(path, ".gz"), path: path}
			}
		}
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("%s log: %w", kind, err)
	}
	var out []T
	for _, f := range pickFiles(found) {
		b, err := readLogFile(f.path)
		if err != nil {
			return out, fmt.Errorf("%s log: %w", kind, err)
		}
		recs, err := parse(bytes.NewReader(b))
		out = append(out, recs...)
		if err != nil {
			return out, fmt.Errorf("%s: %w", f.path, err)
		}
	}
	return out, nil
}

// ReadALBConnectionLogs reads every ALB connection-log file under dir
// (recursively), live and gzipped alike, in interval order.
func ReadALBConnectionLogs(dir string) ([]*ALBConnectionRecord, error) {
	return readPrefixedALBLogs(dir, kindALBConnection, ALBConnectionLogPrefix, ParseALBConnections)
}

// ReadALBHealthCheckLogs reads every ALB health-check-log file under dir
// (recursively), live and gzipped alike, in interval order.
func ReadALBHealthCheckLogs(dir string) ([]*ALBHealthCheckRecord, error) {
	return readPrefixedALBLogs(dir, kindALBHealthCheck, ALBHealthCheckLogPrefix, ParseALBHealthChecks)
}
