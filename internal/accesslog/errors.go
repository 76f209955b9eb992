package accesslog

import (
	"strconv"
	"strings"
)

// Log kinds named in a ParseError.
const (
	kindCloudFront     = "cloudfront"
	kindALB            = "alb"
	kindALBConnection  = "alb connection"
	kindALBHealthCheck = "alb health check"
)

// ParseError is the error every parser in this package returns. It names the
// log kind, the 1-based line number (when parsing a file or stream), and the
// 1-based field number and field name (when one field is at fault).
type ParseError struct {
	// Log is "cloudfront", "alb", "alb connection" or "alb health check".
	Log string
	// Line is the 1-based line number in the input; 0 for a single line.
	Line int
	// Field is the 1-based field number; 0 when the whole line is at fault.
	Field int
	// Name is the AWS field name (sc-status, elb_status_code, ...).
	Name string
	// Msg says what is wrong.
	Msg string
}

// Error formats the error as `<log> log: [line N: ][field F name: ]msg`.
func (e *ParseError) Error() string {
	var b strings.Builder
	b.WriteString(e.Log)
	b.WriteString(" log: ")
	if e.Line > 0 {
		b.WriteString("line ")
		b.WriteString(strconv.Itoa(e.Line))
		b.WriteString(": ")
	}
	if e.Field > 0 {
		b.WriteString("field ")
		b.WriteString(strconv.Itoa(e.Field))
		b.WriteByte(' ')
		b.WriteString(e.Name)
		b.WriteString(": ")
	}
	b.WriteString(e.Msg)
	return b.String()
}

// fieldError builds a ParseError for one field whose value is bad.
func fieldError(kind string, field int, name, value, what string) *ParseError {
	return &ParseError{Log: kind, Field: field, Name: name, Msg: quoteShort(value) + " " + what}
}

// quoteShort quotes v for an error message, cutting very long values.
func quoteShort(v string) string {
	const max = 80
	if len(v) > max {
		return strconv.Quote(v[:max]) + "..."
	}
	return strconv.Quote(v)
}

// withLine returns err with the line number set when it is a *ParseError.
func withLine(err error, line int) error {
	if pe, ok := err.(*ParseError); ok {
		c := *pe
		c.Line = line
		return &c
	}
	return err
}
