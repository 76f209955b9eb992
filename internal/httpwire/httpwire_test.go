package httpwire_test

import (
	"bytes"
	"net/http"
	"strings"
	"testing"

	"github.com/kumo-dev/kumo/internal/httpwire"
)

// TestAppendHeaderMatchesNetHTTP: the bytes are those of net/http's
// Header.WriteSubset for the same header and exclusions.
func TestAppendHeaderMatchesNetHTTP(t *testing.T) {
	for i, h := range []http.Header{
		{},
		{"B": {"2"}, "A": {"1", "1b"}, "C": {""}},
		{"X-Crlf": {"a\r\nInjected: yes", "b\rc\nd"}, "X-Trim": {" \t v \t "}},
		{"Bad Name": {"v"}, "Ok": {"v"}, "Skip-Me": {"gone"}},
	} {
		var want bytes.Buffer
		if err := h.WriteSubset(&want, map[string]bool{"Skip-Me": true}); err != nil {
			t.Fatal(err)
		}
		got, _ := httpwire.AppendHeader(nil, h, func(k string) bool { return k == "Skip-Me" }, nil)
		if string(got) != want.String() {
			t.Errorf("header %d: got %q, want %q", i, got, want.String())
		}
		if bytes.ContainsAny(got, "\n") && strings.Count(string(got), "\n") != strings.Count(string(got), "\r\n") {
			t.Errorf("header %d: a bare line break got through: %q", i, got)
		}
	}
}

// TestTrimOWSAndHasCRLF checks both against the strings functions they
// replace, on every string of up to six bytes over an alphabet of the bytes
// they look at and two they do not.
func TestTrimOWSAndHasCRLF(t *testing.T) {
	alphabet := []byte{' ', '\t', '\r', '\n', 'a', 0xFF}
	var walk func(s []byte)
	walk = func(s []byte) {
		v := string(s)
		if got, want := httpwire.TrimOWS(v), strings.Trim(v, " \t"); got != want {
			t.Fatalf("TrimOWS(%q) = %q, want %q", v, got, want)
		}
		if got, want := httpwire.HasCRLF(v), strings.ContainsAny(v, "\r\n"); got != want {
			t.Fatalf("HasCRLF(%q) = %v, want %v", v, got, want)
		}
		if len(s) == 6 {
			return
		}
		for _, c := range alphabet {
			walk(append(s, c))
		}
	}
	walk(nil)
}

// BenchmarkAppendHeader writes the header block of a request the ALB sends
// to a target: seven fields.
func BenchmarkAppendHeader(b *testing.B) {
	h := http.Header{
		"User-Agent":        {"wrk"},
		"Accept":            {"*/*"},
		"X-Forwarded-For":   {"127.0.0.1"},
		"X-Forwarded-Proto": {"http"},
		"X-Forwarded-Port":  {"80"},
		"X-Amzn-Trace-Id":   {"Root=1-6929a3f1-0123456789abcdef01234567"},
		"Cookie":            {"a=b"},
	}
	var dst []byte
	var keys []string
	b.ReportAllocs()
	for b.Loop() {
		dst, keys = httpwire.AppendHeader(dst[:0], h, nil, keys)
	}
}
