package upstream

import (
	"bufio"
	"bytes"
	"io"
	"net/http"
	"strings"

	"github.com/kumo-dev/kumo/internal/httpwire"
	"golang.org/x/net/http/httpguts"
)

// The lean response-head reader.
//
// http.ReadResponse costs about ten allocations a response (a textproto
// reader, the header map and its value strings one by one, the Response,
// the body and its LimitedReader, the Transport's own body wrapper). Most
// target responses are simple: the whole head already in the bufio buffer,
// HTTP/1.0 or 1.1, a final status, one Content-Length or none, no
// Transfer-Encoding, no folded lines. For those, readLean builds the very
// Response http.ReadResponse would (same fields, same header map, same
// body reads) from one string holding the whole head, the Response and the
// body in one allocation, the map, and one slice for the values. Anything
// else (and every malformed head: the errors are ReadResponse's) makes
// readLean decline without consuming a byte, and the caller runs
// http.ReadResponse on the same bytes.

// leanResponse is a Response parsed by readLean with its body: one
// allocation for both.
type leanResponse struct {
	resp http.Response
	body body
}

// headEnd is where a response head ends: the blank line.
var headEnd = []byte("\r\n\r\n")

// readLean parses the response head that br holds buffered, without
// reading from br's source, and returns the response and the length of
// the head; the caller discards that many bytes when it takes the
// response, whose body then reads from br. It returns nil when the head
// is not entirely buffered or is outside the subset it reproduces exactly.
// A spare (a previous response whose caller is done with it) is filled
// again, its header map cleared and refilled, instead of allocated.
func readLean(br *bufio.Reader, req *http.Request, spare *leanResponse) (*leanResponse, int) {
	buf, _ := br.Peek(br.Buffered())
	end := bytes.Index(buf, headEnd)
	if end < 0 {
		return nil, 0
	}
	n := end + len(headEnd)
	// One string for the whole head: Status, the keys already in
	// canonical form and the values are slices of it.
	s := string(buf[:n])
	statusLine, rest, _ := strings.Cut(s, "\r\n")
	lr := spare
	var h http.Header
	if lr == nil {
		lr = &leanResponse{}
	} else {
		h = lr.resp.Header
		clear(h)
		*lr = leanResponse{}
		lr.resp.Header = h // kept should the head be declined
	}
	resp := &lr.resp
	if !parseStatusLine(resp, statusLine) {
		return nil, 0
	}
	h, ok := parseHeader(h, rest, strings.Count(rest, "\n")-1)
	if !ok {
		return nil, 0
	}
	resp.Header = h
	resp.Request = req
	if !lr.frame(req.Method == http.MethodHead) {
		return nil, 0
	}
	lr.body.src = br
	return lr, n
}

// parseStatusLine fills Proto, ProtoMajor/Minor, Status and StatusCode
// from a status line "HTTP/1.x ddd[ reason]" with a final (not 1xx)
// status and printable reason; anything else is left to ReadResponse.
func parseStatusLine(resp *http.Response, line string) bool {
	if len(line) < len("HTTP/1.1 200") || line[len("HTTP/1.1")] != ' ' {
		return false
	}
	switch proto := line[:len("HTTP/1.1")]; proto {
	case "HTTP/1.1":
		resp.ProtoMajor, resp.ProtoMinor = 1, 1
	case "HTTP/1.0":
		resp.ProtoMajor, resp.ProtoMinor = 1, 0
	default:
		return false
	}
	resp.Proto = line[:len("HTTP/1.1")]
	status := line[len("HTTP/1.1 "):]
	code := 0
	for i := range 3 {
		c := status[i]
		if c < '0' || c > '9' {
			return false
		}
		code = code*10 + int(c-'0')
	}
	if code < 200 {
		return false // interim responses (and 0xx) go through ReadResponse
	}
	if len(status) > 3 && status[3] != ' ' {
		return false
	}
	for i := 3; i < len(status); i++ {
		if c := status[i]; c < ' ' && c != '\t' || c == 0x7f {
			return false
		}
	}
	resp.Status, resp.StatusCode = status, code
	return true
}

// parseHeader parses the header lines of s (each ending in CRLF, then the
// blank line) as textproto.Reader.ReadMIMEHeader does: canonical keys,
// values trimmed of blanks, repeated fields appended in order, the first
// value of each key sharing one preallocated slice. It declines folded
// lines, bytes a key or a value may not hold, a key needing the
// non-canonical treatment (a space before the colon), and
// Transfer-Encoding. It fills h, empty, when it is not nil.
func parseHeader(h http.Header, s string, hint int) (http.Header, bool) {
	if hint < 0 {
		hint = 0
	}
	if h == nil {
		h = make(http.Header, hint)
	}
	strs := make([]string, hint)
	for {
		line, rest, ok := strings.Cut(s, "\n")
		if !ok || len(line) == 0 || line[len(line)-1] != '\r' {
			return nil, false // a bare LF: ReadResponse's line rules
		}
		line, s = line[:len(line)-1], rest
		if line == "" {
			return h, true
		}
		if line[0] == ' ' || line[0] == '\t' {
			return nil, false // obs-fold, or a malformed first line
		}
		rawKey, v, ok := strings.Cut(line, ":")
		if !ok || rawKey == "" {
			return nil, false
		}
		for i := range len(rawKey) {
			if !validHeaderFieldByte(rawKey[i]) {
				return nil, false
			}
		}
		for i := range len(v) {
			if !validHeaderValueByte(v[i]) {
				return nil, false
			}
		}
		key := canonicalKey(rawKey)
		if key == "Transfer-Encoding" {
			return nil, false
		}
		value := httpwire.TrimOWS(v)
		vv := h[key]
		if vv == nil && len(strs) > 0 {
			// Capacity 1: an append by anyone does not run into the
			// next key's value (as textproto does).
			vv, strs = strs[:1:1], strs[1:]
			vv[0] = value
			h[key] = vv
		} else {
			h[key] = append(vv, value)
		}
	}
}

// frame does what http.ReadResponse does after the header (Pragma,
// Connection, Content-Length, then the body), declining several
// Content-Length fields or one that is not a plain number.
func (lr *leanResponse) frame(head bool) bool {
	resp := &lr.resp
	h := resp.Header
	// fixPragmaCacheControl
	if hp, ok := h["Pragma"]; ok && len(hp) > 0 && hp[0] == "no-cache" {
		if _, ok := h["Cache-Control"]; !ok {
			h["Cache-Control"] = []string{"no-cache"}
		}
	}
	// shouldClose, which drops "Connection: close" from a 1.1 response.
	conn := h["Connection"]
	hasClose := httpguts.HeaderValuesContainsToken(conn, "close")
	if resp.ProtoMinor == 0 {
		resp.Close = hasClose || !httpguts.HeaderValuesContainsToken(conn, "keep-alive")
	} else {
		resp.Close = hasClose
		if hasClose {
			delete(h, "Connection")
		}
	}
	length := int64(-1)
	switch cl := h["Content-Length"]; len(cl) {
	case 0:
	case 1:
		var ok bool
		if length, ok = parseLength(cl[0]); !ok {
			return false
		}
	default:
		return false
	}
	bodyAllowed := resp.StatusCode != http.StatusNoContent && resp.StatusCode != http.StatusNotModified
	resp.ContentLength = length
	switch {
	case head:
		resp.Body = http.NoBody // ContentLength: the declared one, or -1
	case !bodyAllowed:
		resp.ContentLength = 0
		resp.Body = http.NoBody
	case length == 0:
		resp.Body = http.NoBody
	case length > 0:
		lr.body.sized = true
		lr.body.lr.N = length
		resp.Body = &lr.body
	default:
		resp.Close = true // unbounded: the body ends with the connection
		resp.Body = &lr.body
	}
	return true
}

// parseLength parses a Content-Length of 1 to 18 digits (ParseUint's
// range without its edge cases).
func parseLength(s string) (int64, bool) {
	if s == "" || len(s) > 18 {
		return 0, false
	}
	var n int64
	for i := range len(s) {
		c := s[i]
		if c < '0' || c > '9' {
			return 0, false
		}
		n = n*10 + int64(c-'0')
	}
	return n, true
}

// readLean reads a body readLean framed, as net/http's body does: a
// Content-Length body ends with io.EOF together with its last bytes, and
// fails with io.ErrUnexpectedEOF when the connection ends first; an
// unbounded one reads to the connection's end.
func (b *body) readLean(p []byte) (int, error) {
	if !b.sized {
		return b.src.Read(p)
	}
	if b.lr.R == nil {
		b.lr.R = b.src
	}
	n, err := b.lr.Read(p)
	if err == io.EOF && b.lr.N > 0 {
		err = io.ErrUnexpectedEOF
	}
	if err == nil && n > 0 && b.lr.N == 0 {
		err = io.EOF
	}
	return n, err
}

// canonicalKey is textproto's canonical form of a valid field name:
// upper case first and after each dash, lower case elsewhere. A name
// already canonical (the common case) is returned as it is, a slice of the
// head; a common one is returned without allocating.
func canonicalKey(k string) string {
	upper := true
	for i := range len(k) {
		c := k[i]
		if upper && 'a' <= c && c <= 'z' || !upper && 'A' <= c && c <= 'Z' {
			return canonicalize(k)
		}
		upper = c == '-'
	}
	return k
}

// canonicalize rewrites k, not canonical, in canonical form.
func canonicalize(k string) string {
	var arr [64]byte
	b := append(arr[:0], k...)
	upper := true
	for i, c := range b {
		if upper && 'a' <= c && c <= 'z' {
			c -= 'a' - 'A'
		} else if !upper && 'A' <= c && c <= 'Z' {
			c += 'a' - 'A'
		}
		b[i] = c
		upper = c == '-'
	}
	if common := commonKey(b); common != "" {
		return common
	}
	return string(b)
}

// commonKey returns the canonical key b spells when it is one a response
// often sends in lower case (servers that speak HTTP/2 elsewhere do), so
// that it costs no allocation.
func commonKey(b []byte) string {
	switch string(b) {
	case "Accept-Ranges":
		return "Accept-Ranges"
	case "Age":
		return "Age"
	case "Cache-Control":
		return "Cache-Control"
	case "Connection":
		return "Connection"
	case "Content-Encoding":
		return "Content-Encoding"
	case "Content-Length":
		return "Content-Length"
	case "Content-Type":
		return "Content-Type"
	case "Date":
		return "Date"
	case "Etag":
		return "Etag"
	case "Expires":
		return "Expires"
	case "Keep-Alive":
		return "Keep-Alive"
	case "Last-Modified":
		return "Last-Modified"
	case "Location":
		return "Location"
	case "Server":
		return "Server"
	case "Set-Cookie":
		return "Set-Cookie"
	case "Transfer-Encoding":
		return "Transfer-Encoding"
	case "Vary":
		return "Vary"
	case "Via":
		return "Via"
	case "X-Powered-By":
		return "X-Powered-By"
	}
	return ""
}

// validHeaderFieldByte reports whether c may stand in a field name (a
// token character), as textproto decides.
func validHeaderFieldByte(c byte) bool {
	return c < 0x80 && httpguts.IsTokenRune(rune(c))
}

// validHeaderValueByte reports whether c may stand in a field value as
// textproto decides: tab, space, visible ASCII and any byte from 0x80.
func validHeaderValueByte(c byte) bool {
	return c == '\t' || c >= ' ' && c != 0x7f
}
