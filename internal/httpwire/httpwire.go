// Package httpwire writes HTTP/1.1 header blocks byte for byte as net/http
// writes them (Header.WriteSubset): names sorted, invalid names dropped, CR
// and LF in values turned into spaces, values trimmed. serve's lean engine
// (toward clients) and the upstream client (toward origins and targets)
// both write through it, so that what kumo sends on either side is what
// net/http would have sent.
package httpwire

import (
	"net/http"
	"slices"
	"strings"

	"golang.org/x/net/http/httpguts"
)

// AppendHeader appends one "Name: value\r\n" line per value of h, names in
// sorted order, leaving out the names skip reports (skip may be nil) and
// names that are not valid tokens. keys is scratch space for the sorted
// names, returned for reuse.
func AppendHeader(dst []byte, h http.Header, skip func(name string) bool, keys []string) ([]byte, []string) {
	keys = keys[:0]
	for k := range h {
		if skip == nil || !skip(k) {
			keys = append(keys, k)
		}
	}
	slices.Sort(keys)
	for _, k := range keys {
		if !httpguts.ValidHeaderFieldName(k) {
			continue
		}
		for _, v := range h[k] {
			dst = AppendLine(dst, k, v)
		}
	}
	return dst, keys
}

// AppendLine appends "name: value\r\n" with value sanitised.
func AppendLine(dst []byte, name, value string) []byte {
	dst = append(dst, name...)
	dst = append(dst, ": "...)
	dst = append(dst, Sanitize(value)...)
	return append(dst, "\r\n"...)
}

// Sanitize is a header value as net/http writes it: each CR and LF becomes
// a space (headerNewlineToSpace), and leading and trailing spaces and tabs
// are trimmed.
func Sanitize(v string) string {
	if HasCRLF(v) {
		v = strings.Map(func(r rune) rune {
			if r == '\r' || r == '\n' {
				return ' '
			}
			return r
		}, v)
	}
	return TrimOWS(v)
}

// HasCRLF reports whether s holds a CR or an LF: strings.ContainsAny(s,
// "\r\n") without building a character set per call.
func HasCRLF(s string) bool {
	return strings.IndexByte(s, '\n') >= 0 || strings.IndexByte(s, '\r') >= 0
}

// TrimOWS trims leading and trailing spaces and tabs (RFC 9110 OWS):
// strings.Trim(s, " \t") without building a character set per call.
func TrimOWS(s string) string {
	i, j := 0, len(s)
	for i < j && (s[i] == ' ' || s[i] == '\t') {
		i++
	}
	for j > i && (s[j-1] == ' ' || s[j-1] == '\t') {
		j--
	}
	return s[i:j]
}
