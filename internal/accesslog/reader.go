package accesslog

import (
	"bufio"
	"fmt"
	"io"
	"strings"
)

// maxLineBytes bounds one log line when reading a stream. CloudFront does not
// log requests with more than 20 KB of headers (cloudfront.md §1.3) and ALB
// truncates user agents at 8 KB (alb.md §1.3), so 1 MiB is ample.
const maxLineBytes = 1 << 20

// parseStream parses every line of r with parse, skipping blank lines and
// lines that start with '#' (W3C headers, comments). It stops at the first
// bad line and returns the records read so far with an error that names the
// line number.
func parseStream[T any](r io.Reader, kind string, parse func(string) (T, error)) ([]T, error) {
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 0, 64*1024), maxLineBytes)
	var out []T
	lineNo := 0
	for sc.Scan() {
		lineNo++
		line := sc.Text()
		if strings.TrimSpace(line) == "" || strings.HasPrefix(line, "#") {
			continue
		}
		rec, err := parse(line)
		if err != nil {
			return out, withLine(err, lineNo)
		}
		out = append(out, rec)
	}
	if err := sc.Err(); err != nil {
		return out, fmt.Errorf("%s log: line %d: %w", kind, lineNo+1, err)
	}
	return out, nil
}

// ParseCloudFront parses a CloudFront standard log stream: every line but
// blank lines and '#' lines (the #Version/#Fields header) must parse with
// ParseCloudFrontLine. Errors name the line number.
func ParseCloudFront(r io.Reader) ([]*CloudFrontRecord, error) {
	return parseStream(r, kindCloudFront, ParseCloudFrontLine)
}

// ParseALB parses an ALB access-log stream line by line with ParseALBLine,
// skipping blank lines and '#' lines. Errors name the line number.
func ParseALB(r io.Reader) ([]*ALBRecord, error) {
	return parseStream(r, kindALB, ParseALBLine)
}

// ParseALBConnections parses an ALB connection-log stream with
// ParseALBConnectionLine, skipping blank and '#' lines.
func ParseALBConnections(r io.Reader) ([]*ALBConnectionRecord, error) {
	return parseStream(r, kindALBConnection, ParseALBConnectionLine)
}

// ParseALBHealthChecks parses an ALB health-check-log stream with
// ParseALBHealthCheckLine, skipping blank and '#' lines.
func ParseALBHealthChecks(r io.Reader) ([]*ALBHealthCheckRecord, error) {
	return parseStream(r, kindALBHealthCheck, ParseALBHealthCheckLine)
}
