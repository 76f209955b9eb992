package serve

import (
	"errors"
	"fmt"
	"net"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/kumo-dev/kumo/internal/httpwire"
)

// sniffLen is how much of a body net/http's DetectContentType looks at;
// bufferBeforeChunking is how much body net/http holds back before it
// commits to a response head without Content-Length (net/http/server.go's
// bufferBeforeChunkingSize): a handler that writes less and returns gets a
// Content-Length instead of chunking.
const (
	sniffLen             = 512
	bufferBeforeChunking = 2048
)

// leanResponse is the http.ResponseWriter of a request on the lean engine.
// Its wire output is what net/http's response would write for the same
// calls: sorted header lines, Date, Content-Length or chunking, sniffed
// Content-Type, Connection: close when the connection will close.
type leanResponse struct {
	lc     *leanConn
	req    *http.Request
	header http.Header
	// sent is the header as of WriteHeader (net/http sends that snapshot).
	sent        http.Header
	status      int
	wroteHeader bool // WriteHeader called (or implied)
	headSent    bool // the head is in out
	cl          int64
	written     int64
	pending     []byte // body held back before the head is sent (cl < 0)
	chunked     bool
	isHead      bool
	closeAfter  bool
	err         error
	keys        []string // scratch for sorting header names
}

func (w *leanResponse) reset(lc *leanConn, req *http.Request) {
	h, keys, pending := w.header, w.keys, w.pending
	if h == nil {
		h = make(http.Header, 16)
	}
	clear(h)
	*w = leanResponse{lc: lc, req: req, header: h, keys: keys[:0], pending: pending[:0], cl: -1,
		isHead: req.Method == http.MethodHead,
		// net/http's Request.wantsClose: req.Close (the Connection tokens),
		// or "close" anywhere in the first Connection value (hasToken).
		closeAfter: req.Close || hasToken(firstConnection(req.Header), "close")}
}

// Header returns the response header map; it is valid until ServeFast
// returns.
func (w *leanResponse) Header() http.Header { return w.header }

// WriteHeader sends an interim (1xx) response at once, or records the
// final status.
func (w *leanResponse) WriteHeader(code int) {
	if code < 100 || code > 999 {
		panic(fmt.Sprintf("invalid WriteHeader code %v", code))
	}
	if w.wroteHeader {
		return
	}
	if code >= 100 && code <= 199 && code != http.StatusSwitchingProtocols {
		out := w.lc.out
		out = appendStatusLine(out, code)
		out = w.appendHeader(out, w.header, suppressedFor(http.StatusNoContent))
		out = append(out, "\r\n"...)
		w.lc.out = out
		w.err = w.lc.flush()
		return
	}
	w.wroteHeader = true
	w.status = code
	cl := w.header.Get("Content-Length")
	if cl != "" {
		if n, err := strconv.ParseInt(cl, 10, 64); err == nil && n >= 0 {
			w.cl = n
		}
	}
	_, haveType := w.header["Content-Type"]
	if w.cl >= 0 && haveType || !bodyAllowedForStatus(code) {
		// Nothing about the head waits for the body (no length to
		// count, no type to sniff): it is final now, so it is written
		// now, from the handler's map, with no copy.
		w.sent = w.header
		w.sendHead(nil, false)
		return
	}
	// As net/http: the header is sent as it is now (a clone taken before
	// an invalid Content-Length is dropped from the handler's map).
	w.sent = w.header.Clone()
	if cl != "" && w.cl < 0 {
		w.lc.s.log.Debug("serve: invalid Content-Length dropped", "value", cl)
		w.header.Del("Content-Length")
	}
}

// Write sends body bytes (eaten for HEAD, as net/http does).
func (w *leanResponse) Write(p []byte) (int, error) {
	if !w.wroteHeader {
		w.WriteHeader(http.StatusOK)
	}
	if w.err != nil {
		return 0, w.err
	}
	if len(p) == 0 {
		return 0, nil
	}
	if !bodyAllowedForStatus(w.status) {
		return 0, http.ErrBodyNotAllowed
	}
	w.written += int64(len(p))
	if w.cl != -1 && w.written > w.cl {
		return 0, http.ErrContentLength
	}
	if !w.headSent {
		if w.cl < 0 && len(w.pending)+len(p) <= bufferBeforeChunking {
			w.pending = append(w.pending, p...)
			return len(p), nil
		}
		if len(w.pending) > 0 {
			w.sendHead(w.pending, false)
			w.body(w.pending)
			w.pending = w.pending[:0]
		} else {
			w.sendHead(p, false)
		}
	}
	w.body(p)
	if w.err != nil {
		return 0, w.err
	}
	return len(p), nil
}

// body adds body bytes to the connection's output (framed when chunked),
// sending the output when it is full.
func (w *leanResponse) body(p []byte) {
	if w.isHead || len(p) == 0 || w.err != nil {
		return
	}
	lc := w.lc
	if w.chunked {
		lc.out = strconv.AppendInt(lc.out, int64(len(p)), 16)
		lc.out = append(lc.out, "\r\n"...)
	}
	if len(lc.out)+len(p) <= cap(lc.out) {
		lc.out = append(lc.out, p...)
	} else {
		w.err = lc.writeWith(p)
	}
	if w.chunked {
		lc.out = append(lc.out, "\r\n"...)
	}
}

// Flush sends the head and everything written so far.
func (w *leanResponse) Flush() { _ = w.FlushError() }

// FlushError is Flush, reporting the write error.
func (w *leanResponse) FlushError() error {
	w.sendPending(false)
	if w.err == nil {
		w.err = w.lc.flush()
	}
	return w.err
}

// sendPending writes the head (a 200 if the handler set none) with the body
// bytes held back so far, unless the head went out already; final: the
// handler has returned, so what is held back is the whole body.
func (w *leanResponse) sendPending(final bool) {
	if !w.wroteHeader {
		w.WriteHeader(http.StatusOK)
	}
	if !w.headSent {
		p := w.pending
		w.sendHead(p, final)
		w.body(p)
		w.pending = w.pending[:0]
	}
}

// finish completes the response after the handler returned; the output
// stays buffered for the caller to send.
func (w *leanResponse) finish() {
	w.sendPending(true)
	if w.chunked && w.err == nil {
		w.lc.out = append(w.lc.out, "0\r\n"...)
		w.lc.out = w.appendTrailers(w.lc.out)
		w.lc.out = append(w.lc.out, "\r\n"...)
	}
	if !w.isHead && w.cl != -1 && bodyAllowedForStatus(w.status) && w.cl != w.written {
		w.closeAfter = true // the client cannot tell where this response ends
	}
}

// sendHead appends the status line and header to the output, deciding the
// framing as net/http's chunkWriter.writeHeader does. p is the first body
// bytes (for sniffing); final reports that the handler has returned, so p is
// the whole body.
func (w *leanResponse) sendHead(p []byte, final bool) {
	w.headSent = true
	h := w.sent
	code := w.status
	te := h.Get("Transfer-Encoding")
	hasTE := te != ""
	_, hasCLHeader := h["Content-Length"]
	var setCL, setCT, setConn, setTE string
	bodyAllowed := bodyAllowedForStatus(code)
	trailers := len(h["Trailer"]) > 0
	for k := range h {
		if strings.HasPrefix(k, http.TrailerPrefix) {
			trailers = true
		}
	}
	if final && !trailers && !hasTE && bodyAllowed && !hasCLHeader && (!w.isHead || len(p) > 0) {
		w.cl = int64(len(p))
		setCL = strconv.Itoa(len(p))
	}
	if hasToken(h.Get("Connection"), "close") {
		w.closeAfter = true
	}
	skip := suppressedFor(0)
	if bodyAllowed {
		_, haveType := h["Content-Type"]
		if h.Get("Content-Encoding") == "" && !haveType && !hasTE && len(p) > 0 {
			setCT = http.DetectContentType(p[:min(len(p), sniffLen)])
		}
	} else {
		skip = suppressedFor(code)
	}
	hasCL := w.cl != -1
	switch {
	case w.isHead || !bodyAllowed || code == http.StatusNoContent:
		skip |= skipTE
	case hasCL:
		if hasTE && te != "identity" {
			w.lc.s.log.Debug("serve: both Transfer-Encoding and Content-Length set", "te", te)
			skip |= skipCL
		} else {
			skip |= skipTE
		}
	case hasTE && te == "identity":
		w.closeAfter = true
		skip |= skipTE
	default:
		w.chunked = true
		setTE = "chunked"
		skip |= skipTE | skipCL
	}
	if w.closeAfter && !hasToken(h.Get("Connection"), "close") {
		skip |= skipConnection
		setConn = "close"
	}
	lc := w.lc
	out := appendStatusLine(lc.out, code)
	out = w.appendHeader(out, h, skip)
	if _, ok := h["Date"]; !ok {
		out = append(out, "Date: "...)
		out = append(out, lc.s.date()...)
		out = append(out, "\r\n"...)
	}
	for _, kv := range [...][2]string{{"Content-Length", setCL}, {"Content-Type", setCT}, {"Connection", setConn}, {"Transfer-Encoding", setTE}} {
		if kv[1] != "" {
			out = append(out, kv[0]...)
			out = append(out, ": "...)
			out = append(out, kv[1]...)
			out = append(out, "\r\n"...)
		}
	}
	lc.out = append(out, "\r\n"...)
}

// appendTrailers appends the trailer lines of a chunked response, as
// net/http's finalTrailers: the values, as the handler left them, of the
// names declared in the Trailer header and of every "Trailer:"-prefixed key.
func (w *leanResponse) appendTrailers(out []byte) []byte {
	var t http.Header
	for k, vv := range w.header {
		if name, ok := strings.CutPrefix(k, http.TrailerPrefix); ok {
			if t == nil {
				t = make(http.Header)
			}
			t[name] = vv
		}
	}
	for _, v := range w.sent["Trailer"] {
		for name := range strings.SplitSeq(v, ",") {
			name = http.CanonicalHeaderKey(httpwire.TrimOWS(name))
			if vv, ok := w.header[name]; ok && name != "" {
				if t == nil {
					t = make(http.Header)
				}
				t[name] = vv
			}
		}
	}
	if t == nil {
		return out
	}
	out, w.keys = appendHeaderLines(out, t, 0, w.keys)
	return out
}

// headerSkip is a set of header names the head leaves out.
type headerSkip uint8

const (
	skipCL headerSkip = 1 << iota
	skipTE
	skipCT
	skipConnection
)

// suppressedFor is what net/http leaves out of a response with status code
// (transfer.go, suppressedHeaders).
func suppressedFor(code int) headerSkip {
	switch {
	case code == 0:
		return 0
	case code == http.StatusNotModified:
		return skipCL | skipTE | skipCT
	case !bodyAllowedForStatus(code):
		return skipCL | skipTE
	}
	return 0
}

func (s headerSkip) has(key string) bool {
	switch key {
	case "Content-Length":
		return s&skipCL != 0
	case "Transfer-Encoding":
		return s&skipTE != 0
	case "Content-Type":
		return s&skipCT != 0
	case "Connection":
		return s&skipConnection != 0
	}
	return false
}

// appendHeader appends h as net/http's Header.WriteSubset does (see
// appendHeaderLines).
func (w *leanResponse) appendHeader(out []byte, h http.Header, skip headerSkip) []byte {
	out, w.keys = appendHeaderLines(out, h, skip, w.keys)
	return out
}

// appendHeaderLines appends h as net/http's Header.WriteSubset does (see
// httpwire), without the names skip selects and without "Trailer:"-prefixed
// keys (those go after a chunked body).
func appendHeaderLines(out []byte, h http.Header, skip headerSkip, keys []string) ([]byte, []string) {
	return httpwire.AppendHeader(out, h, func(k string) bool {
		return skip.has(k) || strings.HasPrefix(k, http.TrailerPrefix)
	}, keys)
}

// AppendHead appends the status line and header lines of a response with a
// body, byte for byte as the lean engine writes them (without Date, which
// WriteReady adds, and without the blank line that ends the head).
func AppendHead(dst []byte, status int, h http.Header) []byte {
	dst = appendStatusLine(dst, status)
	dst, _ = appendHeaderLines(dst, h, 0, nil)
	return dst
}

// ReadyWriter is implemented by the lean engine's ResponseWriter: it sends
// a whole response whose head the handler serialised ahead of time, so that
// a cached response is written from ready bytes.
type ReadyWriter interface {
	// WriteReady sends head (from AppendHead; it must carry a
	// Content-Length equal to len(body)), then extra (more header lines,
	// each ending in CRLF), a Date line when addDate is set, Connection:
	// close when the connection closes after this response, the blank line,
	// and body (not for HEAD). It returns the head's length as sent.
	WriteReady(status int, head, extra []byte, addDate bool, body []byte) (headLen int, err error)
}

// WriteReady implements ReadyWriter.
func (w *leanResponse) WriteReady(status int, head, extra []byte, addDate bool, body []byte) (int, error) {
	if w.wroteHeader {
		return 0, errors.New("serve: WriteReady after WriteHeader")
	}
	w.wroteHeader, w.headSent = true, true
	w.status, w.cl, w.written = status, int64(len(body)), int64(len(body))
	lc := w.lc
	start := len(lc.out)
	lc.out = append(lc.out, head...)
	lc.out = append(lc.out, extra...)
	if addDate {
		lc.out = append(lc.out, "Date: "...)
		lc.out = append(lc.out, lc.s.date()...)
		lc.out = append(lc.out, "\r\n"...)
	}
	if w.closeAfter {
		lc.out = append(lc.out, "Connection: close\r\n"...)
	}
	lc.out = append(lc.out, "\r\n"...)
	n := len(lc.out) - start
	w.body(body)
	return n, w.err
}

// appendStatusLine appends "HTTP/1.1 <code> <text>\r\n" as net/http writes
// it.
func appendStatusLine(out []byte, code int) []byte {
	out = append(out, "HTTP/1.1 "...)
	out = strconv.AppendInt(out, int64(code), 10)
	if text := http.StatusText(code); text != "" {
		out = append(out, ' ')
		out = append(out, text...)
	} else {
		out = append(out, " status code "...)
		out = strconv.AppendInt(out, int64(code), 10)
	}
	return append(out, "\r\n"...)
}

// bodyAllowedForStatus is net/http's rule: no body for 1xx, 204 and 304.
func bodyAllowedForStatus(status int) bool {
	switch {
	case status >= 100 && status <= 199:
		return false
	case status == http.StatusNoContent, status == http.StatusNotModified:
		return false
	}
	return true
}

// hasToken reports whether the lower-case token appears in v, ASCII
// case-insensitively, between space, tab or comma boundaries: net/http's
// server-side check, which also finds "close" in "0 Close" (where the
// Connection tokens, "0 Close", hold no "close"). FuzzLeanRequest found
// the difference.
func hasToken(v, token string) bool {
	if len(token) > len(v) || token == "" {
		return false
	}
	if v == token {
		return true
	}
	for sp := 0; sp <= len(v)-len(token); sp++ {
		if b := v[sp]; b != token[0] && b|0x20 != token[0] {
			continue
		}
		if sp > 0 && !isTokenBoundary(v[sp-1]) {
			continue
		}
		if end := sp + len(token); end != len(v) && !isTokenBoundary(v[end]) {
			continue
		}
		if strings.EqualFold(v[sp:sp+len(token)], token) {
			return true
		}
	}
	return false
}

// isTokenBoundary reports whether b may stand beside a token (hasToken).
func isTokenBoundary(b byte) bool { return b == ' ' || b == ',' || b == '\t' }

// dateCache is the Date header value of one second.
type dateCache struct {
	sec int64
	val []byte
}

// date returns the Date header value for the current second, formatted
// once per second. It is called only for a response without a Date, and
// so is the clock read: most responses carry their origin's (a cache hit,
// a proxied response), and time.Now costs about 40 ns on the 2-core
// machine of bench/.
func (s *Server) date() []byte {
	now := time.Now()
	if d := s.dateVal.Load(); d != nil && d.sec == now.Unix() {
		return d.val
	}
	d := &dateCache{sec: now.Unix(), val: now.UTC().AppendFormat(nil, http.TimeFormat)}
	s.dateVal.Store(d)
	return d.val
}

// flush sends the buffered output.
func (lc *leanConn) flush() error {
	if len(lc.out) == 0 {
		return nil
	}
	_, err := lc.c.Conn.Write(lc.out)
	lc.out = lc.out[:0]
	return err
}

// writeWith sends the buffered output followed by p, in one vectored write
// where the connection has one.
func (lc *leanConn) writeWith(p []byte) error {
	bufs := net.Buffers{lc.out, p}
	_, err := bufs.WriteTo(lc.c.Conn)
	lc.out = lc.out[:0]
	return err
}

// firstConnection is h.Get("Connection") without Get's canonicalisation
// (the lean parser's keys are canonical).
func firstConnection(h http.Header) string {
	if vs := h["Connection"]; len(vs) > 0 {
		return vs[0]
	}
	return ""
}
