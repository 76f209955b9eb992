package serve

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"runtime/debug"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/kumo-dev/kumo/internal/httpwire"
	"golang.org/x/net/http/httpguts"
)

// FastHandler is a Plane Handler that can answer some requests on serve's
// lean HTTP/1.1 engine, without net/http's per-request machinery.
//
// On a connection accepted while the plane's Handler is a FastHandler, serve
// reads each HTTP/1.1 request head itself. A simple request (GET or HEAD, no
// body, no upgrade, every byte of its head valid by net/http's rules) goes to
// ServeFast first; a request ServeFast declines, and every other request, is
// served by ServeHTTP through net/http exactly as on any other connection,
// after which the connection returns to the lean engine. The wire behaviour
// is net/http's: the same request validation (what the lean parser does not
// accept goes to net/http, which answers or rejects it), the same response
// framing, Date, Content-Length and Content-Type sniffing rules.
type FastHandler interface {
	http.Handler
	// ServeFast answers r on w and reports true, or reports false having
	// written nothing to w (not even a header): the request then goes to
	// ServeHTTP. r has no body. Its context carries the connection's
	// ConnInfo; it ends when the client goes away only once the handler
	// asked for that with WatchClient (otherwise a write fails instead).
	// r, its URL and its Header are reused for the connection's next
	// request: a handler that keeps any of them past its return must
	// Clone r. w supports Flush and serve.ReadyWriter, not Hijack. A
	// handler that panics with http.ErrAbortHandler aborts the response,
	// as with net/http.
	ServeFast(w http.ResponseWriter, r *http.Request) bool
}

// Lean engine sizes.
const (
	// leanReadSize bounds a request head the lean engine parses; a longer
	// head goes to net/http with the rest of the connection.
	leanReadSize = 8 << 10
	// leanWriteSize is the response buffer; a response that fits is sent
	// with one write.
	leanWriteSize = 8 << 10
)

// leanConn is one HTTP/1.x connection on the lean engine.
type leanConn struct {
	s     *Server
	c     *conn
	br    *bufio.Reader
	out   []byte // the response output not yet sent
	ctx   context.Context
	tmpl  *http.Request // carries ctx; copied per request
	raddr string
	resp  leanResponse

	// idle is set while the engine waits for a request's first byte:
	// Shutdown closes idle connections.
	idle atomic.Bool
	// headDeadline: the read-header timeout bounds the head being read
	// (set only when a head takes more than one read).
	headDeadline bool
	// lastMethod is the method of the connection's last request.
	lastMethod string

	// extent is the length of the request ServeFast is serving.
	extent int
	// readDeadline: a read deadline is set on the connection, at
	// deadlineAt.
	readDeadline bool
	deadlineAt   time.Time

	// WatchClient's state. Its background read is done by the watcher
	// goroutine (one per connection, started at the first watch, fed
	// through watchReq) and is not aborted when the request ends: it goes
	// on as the wait for the connection's next request, whose outcome
	// awaitRequest takes from watchRes. While watchPending, the watcher
	// owns lc.br: the main loop touches it only after receiving from
	// watchRes (watchSkip: the served request's bytes, still in lc.br,
	// to discard then).
	watchCtx     context.Context // the served request's watch; nil: none
	watchPending bool
	watchSkip    int
	watchReq     chan int
	watchRes     chan error
	// watchCancel ends the served request's watch context, and watchGone
	// is WatchClientFunc's callback; nil once the request ended (or for
	// the kind of watch it did not ask for). The watcher calls them when
	// its read fails. watchSet: the served request is watched.
	watchMu     sync.Mutex
	watchCancel context.CancelCauseFunc
	watchGone   func(error)
	watchSet    bool
	// watchFIFO: the served request is watched through the fifoWaker
	// instead of a background read (startWatch): while it is set, a
	// report looks at the socket (checkGone).
	watchFIFO atomic.Bool

	// The request ServeFast gets, reused from one request to the next
	// (its strings are not: they are immutable, see headLines).
	req  http.Request
	url  url.URL
	hdr  http.Header
	vals []string
	// lines holds the last parsed head's lines (headLines); spare is the
	// other slice, which the next head's lines are built in.
	lines, spare []string

	// The wait for the next request through the server's fifoWaker
	// (awaitFIFO): ready receives its reports (made with the connection,
	// as closeLeansLocked may send on it); fifo is the waker while the
	// connection is in its set, under slot; rc is the socket's raw
	// connection, set when it joined and never changed after; fifoTried:
	// joining was tried; waitTimer reports the read deadline (waitTimerAt)
	// on ready.
	ready       chan struct{}
	rc          syscall.RawConn
	slot        int32
	fifoTried   bool
	fifo        *fifoWaker
	waitTimer   *time.Timer
	waitTimerAt time.Time
}

// errLeanHandoff ends the lean engine's work on a connection that net/http
// now owns or that is closed.
var errLeanHandoff = errors.New("serve: connection handed to net/http")

// serveLean runs the lean engine on c until the connection ends.
func (s *Server) serveLean(c *conn) {
	lc := &leanConn{s: s, c: c, raddr: c.info.Remote.String(), ready: make(chan struct{}, 1)}
	lc.ctx = context.WithValue(context.WithValue(WithConnInfo(s.base, c.info), plainConnKey{}, c), leanKey{}, lc)
	lc.tmpl = (&http.Request{}).WithContext(lc.ctx)
	if !s.addLean(lc) {
		_ = c.Close()
		return
	}
	defer s.removeLean(lc)
	if br, ok := s.leanReaders.Get().(*bufio.Reader); ok {
		lc.br = br
		lc.br.Reset(c)
	} else {
		lc.br = bufio.NewReaderSize(c, leanReadSize)
	}
	// Responses go to c.Conn, bypassing conn.Write's reject check.
	lc.out = make([]byte, 0, leanWriteSize)
	err := lc.loop()
	lc.leaveFIFO()
	if errors.Is(err, errLeanHandoff) {
		lc.endWatcher() // idle: a hand-off waits for its read
		return          // net/http closed it, and may have read lc.br: not pooled
	}
	_ = lc.flush() // what was answered before the connection ends
	_ = c.Close()
	lc.endWatcher() // after Close, which ends a read it has pending
	lc.br.Reset(nil)
	s.leanReaders.Put(lc.br)
}

// loop serves requests until the connection closes or is handed off for
// good.
func (lc *leanConn) loop() error {
	s := lc.s
	first := true
	for {
		if err := lc.awaitRequest(first); err != nil {
			return err
		}
		first = false
		req, extent, err := lc.readRequest()
		if err != nil {
			return err
		}
		if extent < 0 {
			// net/http takes the rest of the connection.
			return lc.handoff(-1)
		}
		if req != nil {
			if fh, ok := s.plane.Load().Handler.(FastHandler); ok {
				served, keep := lc.serveFast(fh, req, int(extent))
				if served {
					if !keep || s.isClosing() {
						return nil
					}
					continue
				}
			}
		}
		if err := lc.handoff(extent); err != nil {
			return err
		}
		if s.isClosing() {
			return nil
		}
	}
}

// awaitRequest waits for the start of the next request: up to the
// read-header timeout for a connection's first request, the idle timeout
// between requests. (readRequest bounds the rest of the head with the
// read-header timeout when it does not come in the same read.)
func (lc *leanConn) awaitRequest(first bool) error {
	s := lc.s
	// As net/http: between requests, a connection that sends fewer than 4
	// bytes before it ends or idles out is closed without an answer.
	want := 4
	if first {
		want = 1
	}
	// (While the watcher's read is pending, it is the wait for this
	// request: lc.br is not the main loop's to look at until it reports.
	// The deadline set here applies to that pending read too.)
	if lc.watchPending || lc.br.Buffered() < want {
		wait := s.opt.IdleTimeout
		if first {
			wait = s.opt.ReadHeaderTimeout
		}
		if !lc.setIdle(true) {
			return net.ErrClosed
		}
		now := time.Now()
		lc.armReadDeadline(now, wait)
		var err error
		if lc.watchPending {
			err = lc.settleWatch(<-lc.watchRes)
		} else if !first && lc.br.Buffered() == 0 {
			lc.awaitFIFO(now, wait)
		}
		if err == nil && lc.br.Buffered() < want {
			_, err = lc.br.Peek(want)
		}
		lc.setIdle(false)
		if err != nil {
			return err
		}
	}
	if lc.lastMethod == http.MethodPost {
		// net/http's tolerance for old clients that end a POST body
		// with an extra CRLF: leading CR and LF bytes are dropped.
		peek, _ := lc.br.Peek(4)
		n := 0
		for n < len(peek) && (peek[n] == '\r' || peek[n] == '\n') {
			n++
		}
		_, _ = lc.br.Discard(n)
	}
	lc.headDeadline = false
	return nil
}

var crlfcrlf = []byte("\r\n\r\n")

// headEnd returns the length of the request head at the start of buf (up
// to and including the blank line that ends it, CRLF or bare LF), or -1
// when buf does not hold a whole head yet. The search starts at from.
func headEnd(buf []byte, from int) int {
	for i := from; i < len(buf); {
		j := bytes.IndexByte(buf[i:], '\n')
		if j < 0 {
			return -1
		}
		i += j + 1
		if i < len(buf) && buf[i] == '\n' {
			return i + 1
		}
		if i+1 < len(buf) && buf[i] == '\r' && buf[i+1] == '\n' {
			return i + 2
		}
	}
	return -1
}

// readRequest reads the next request head. It returns the request when the
// head is one ServeFast may see (nil otherwise), and extent: the bytes the
// request occupies on the wire (head and body), or -1 when that is not
// known and net/http must take the rest of the connection.
func (lc *leanConn) readRequest() (*http.Request, int64, error) {
	var head []byte
	scanned := 0
	for {
		buf, _ := lc.br.Peek(lc.br.Buffered())
		if end := headEnd(buf, scanned); end > 0 {
			head = buf[:end]
			break
		}
		if len(buf) >= leanReadSize {
			return nil, -1, nil
		}
		scanned = max(0, len(buf)-3)
		if !lc.headDeadline {
			// The head did not come in one read: bound the rest.
			lc.setReadDeadline(time.Now().Add(lc.s.opt.ReadHeaderTimeout))
			lc.headDeadline = true
		}
		if _, err := lc.br.Peek(len(buf) + 1); err != nil {
			if len(buf) > 0 && (isTimeout(err) || err == io.EOF) {
				// A head cut short: net/http sees what came and
				// answers as it does for its own connections.
				return nil, -1, nil
			}
			return nil, 0, err
		}
	}
	req, extent := lc.parse(head)
	return req, extent, nil
}

func isTimeout(err error) bool {
	var ne net.Error
	return errors.As(err, &ne) && ne.Timeout()
}

// parse reads a request head (ending in CRLF CRLF). See readRequest for
// what it returns; it never fails: a head it does not accept is net/http's
// to judge (extent -1).
func (lc *leanConn) parse(raw []byte) (*http.Request, int64) {
	if !bytes.HasSuffix(raw, crlfcrlf) {
		return nil, -1 // bare LF line ends: net/http's to parse
	}
	lines := lc.headLines(raw)
	line := lines[0]
	if httpwire.HasCRLF(line) {
		return nil, -1
	}
	method, line, ok1 := strings.Cut(line, " ")
	target, proto, ok2 := strings.Cut(line, " ")
	lc.lastMethod = ""
	if !ok1 || !ok2 || proto != "HTTP/1.1" || !validMethod(method) || target == "" || target[0] != '/' {
		return nil, -1
	}
	lc.lastMethod = method
	u, ok := parseTarget(target, &lc.url)
	if !ok {
		return nil, -1
	}
	h := lc.hdr
	if h == nil {
		h = make(http.Header, 16)
		lc.hdr = h
	}
	clear(h)
	vals := lc.vals[:0]
	var host string
	hosts := 0
	var fast = method == http.MethodGet || method == http.MethodHead
	extent := int64(len(raw))
	clSeen := false
	closeConn := false
	for _, hl := range lines[1:] {
		if hl == "" || hl[0] == ' ' || hl[0] == '\t' || strings.IndexByte(hl, '\n') >= 0 || strings.IndexByte(hl, '\r') >= 0 {
			return nil, -1 // obs-fold or a stray line break
		}
		name, value, ok := strings.Cut(hl, ":")
		if !ok || !httpguts.ValidHeaderFieldName(name) {
			return nil, -1
		}
		value = httpwire.TrimOWS(value)
		if !httpguts.ValidHeaderFieldValue(value) {
			return nil, -1
		}
		key := http.CanonicalHeaderKey(name)
		switch key {
		case "Host":
			hosts++
			host = value
			continue
		case "Transfer-Encoding", "Upgrade":
			return nil, -1
		case "Content-Length":
			n, ok := parseContentLength(value)
			if !ok || clSeen {
				return nil, -1
			}
			clSeen = true
			extent += n
			fast = false
		case "Expect":
			fast = false
		case "Connection":
			for tok := range strings.SplitSeq(value, ",") {
				tok = httpwire.TrimOWS(tok)
				if strings.EqualFold(tok, "close") {
					closeConn = true
				} else if strings.EqualFold(tok, "upgrade") {
					return nil, -1
				}
			}
		}
		if vs := h[key]; vs != nil {
			h[key] = append(vs, value)
		} else {
			// One backing array for the request's values; each slice
			// has capacity 1, so an append copies rather than shares.
			vals = append(vals, value)
			h[key] = vals[len(vals)-1 : len(vals) : len(vals)]
		}
	}
	if hosts != 1 || !httpguts.ValidHostHeader(host) {
		return nil, -1 // net/http answers 400
	}
	if !fast {
		return nil, extent
	}
	// As net/http's readRequest: Pragma: no-cache implies Cache-Control.
	if hp, ok := h["Pragma"]; ok && len(hp) > 0 && hp[0] == "no-cache" {
		if _, ok := h["Cache-Control"]; !ok {
			h["Cache-Control"] = []string{"no-cache"}
		}
	}
	lc.vals = vals
	r := &lc.req
	*r = *lc.tmpl
	r.Method = method
	r.URL = u
	r.Proto, r.ProtoMajor, r.ProtoMinor = "HTTP/1.1", 1, 1
	r.Header = h
	r.Body = http.NoBody
	r.Host = host
	r.Close = closeConn
	r.RemoteAddr = lc.raddr
	r.RequestURI = target
	r.TLS = lc.c.tls
	return r, extent
}

// headLines splits a head (ending in CRLF CRLF) into its lines, without
// their CRLF and without the blank line that ends the head. Each line is a
// string (immutable: the request's strings point into them, and whoever
// keeps one keeps valid bytes). A line equal, byte for byte, to the line
// at the same position in the connection's previous head reuses that
// head's string; the lines that differ are copied into one new string.
// A keep-alive client's heads mostly repeat (Host, User-Agent, Accept and
// the rest; often all of it, for a poller or a load generator), so a
// connection's later requests allocate only what changed, often nothing.
func (lc *leanConn) headLines(raw []byte) []string {
	prev := lc.lines
	cur := lc.spare[:0]
	body := raw[:len(raw)-2] // every line, the last included, ends in CRLF
	fresh := 0               // bytes of the lines that are not reused
	for i, rest := 0, body; len(rest) > 0; i++ {
		n := bytes.Index(rest, crlf)
		if i < len(prev) && prev[i] == string(rest[:n]) {
			cur = append(cur, prev[i])
		} else {
			cur = append(cur, "")
			fresh += n
		}
		rest = rest[n+2:]
	}
	if fresh > 0 {
		var sb strings.Builder
		sb.Grow(fresh)
		for i, rest := 0, body; len(rest) > 0; i++ {
			n := bytes.Index(rest, crlf)
			if cur[i] == "" && n > 0 {
				sb.Write(rest[:n])
			}
			rest = rest[n+2:]
		}
		all := sb.String()
		for i, rest := 0, body; len(rest) > 0; i++ {
			n := bytes.Index(rest, crlf)
			if cur[i] == "" && n > 0 {
				cur[i], all = all[:n], all[n:]
			}
			rest = rest[n+2:]
		}
	}
	lc.lines, lc.spare = cur, prev
	return cur
}

var crlf = []byte("\r\n")

// parseTarget parses an origin-form request target as
// url.ParseRequestURI does, into u (without allocating) for a plain path.
func parseTarget(target string, u *url.URL) (*url.URL, bool) {
	path, query, hasQuery := strings.Cut(target, "?")
	plain := !strings.ContainsAny(path, "%#") && !strings.Contains(query, "#")
	if plain {
		for i := 0; i < len(target); i++ {
			if c := target[i]; c <= ' ' || c >= 0x7f {
				plain = false
				break
			}
		}
	}
	if !plain {
		u, err := url.ParseRequestURI(target)
		return u, err == nil
	}
	*u = url.URL{Path: path, RawQuery: query, ForceQuery: hasQuery && query == ""}
	return u, true
}

// validMethod reports whether m is an HTTP token (as net/http requires).
func validMethod(m string) bool {
	if m == "" {
		return false
	}
	for i := 0; i < len(m); i++ {
		if !httpguts.IsTokenRune(rune(m[i])) {
			return false
		}
	}
	return true
}

// parseContentLength reads a Content-Length value: digits only, as
// net/http accepts it.
func parseContentLength(v string) (int64, bool) {
	if v == "" || len(v) > 18 {
		return 0, false
	}
	var n int64
	for i := 0; i < len(v); i++ {
		c := v[i]
		if c < '0' || c > '9' {
			return 0, false
		}
		n = n*10 + int64(c-'0')
	}
	return n, true
}

// serveFast offers req to fh. served reports whether fh answered; keep
// whether the connection stays open for the next request.
//
// The request's head (extent bytes) is still in lc.br: it is consumed when
// fh answered, and left for net/http otherwise.
func (lc *leanConn) serveFast(fh FastHandler, req *http.Request, extent int) (served, keep bool) {
	s := lc.s
	// (Shutdown waits for the lean connection, so for this request.)
	w := &lc.resp
	w.reset(lc, req)
	lc.extent = extent
	defer lc.stopWatch()
	defer func() {
		if v := recover(); v != nil {
			served, keep = true, false
			lc.stopWatch()
			lc.consume(extent)
			if v != http.ErrAbortHandler {
				s.log.Error("serve: panic serving request", "client", lc.raddr, "panic", fmt.Sprint(v), "stack", string(debug.Stack()))
			}
			_ = lc.flush()
		}
	}()
	ok := fh.ServeFast(w, req)
	lc.stopWatch()
	if !ok {
		// net/http needs lc.br now, not once the next request comes.
		lc.abortWatch()
		if w.wroteHeader {
			// A broken FastHandler: the response started.
			s.log.Error("serve: ServeFast declined after writing; closing the connection", "client", lc.raddr)
			_, _ = lc.br.Discard(extent)
			return true, false
		}
		return false, true
	}
	lc.consume(extent)
	if !lc.c.served.Load() {
		lc.c.requestStarted()
		lc.c.responded()
	}
	w.finish()
	keep = w.err == nil && !w.closeAfter
	// A pipelined request already read is answered in the same write;
	// anything else goes out now. (With the watcher's read pending, no
	// next request is known to be here.)
	if w.err == nil && (lc.watchPending || lc.br.Buffered() == 0 || !keep) {
		w.err = lc.flush()
	}
	return true, keep && w.err == nil
}

// consume drops the served request's n bytes from lc.br: now, or, while
// the watcher's read is pending, once it reports.
func (lc *leanConn) consume(n int) {
	if lc.watchPending {
		select {
		case err := <-lc.watchRes:
			// A failed read is found again by the next one.
			_ = lc.settleWatch(err)
		default:
			lc.watchSkip += n
			return
		}
	}
	_, _ = lc.br.Discard(n)
}

// settleWatch takes the outcome err of the watcher's read: lc.br is the
// main loop's again.
func (lc *leanConn) settleWatch(err error) error {
	lc.watchPending = false
	if lc.watchSkip > 0 {
		_, _ = lc.br.Discard(lc.watchSkip)
		lc.watchSkip = 0
	}
	return err
}

// setReadDeadline sets the connection's read deadline, and notes that one
// is set.
func (lc *leanConn) setReadDeadline(t time.Time) {
	_ = lc.c.SetReadDeadline(t)
	lc.readDeadline = !t.IsZero()
	lc.deadlineAt = t
}

// deadlineSlack is how much later than its timeout the read deadline of a
// connection waiting for a request (and its FIFO wait's timer) may fall:
// they are moved only when they would move by more, which spares a busy
// connection re-arming a timer on every request. An idle connection is
// thus closed between its timeout and this much after it.
const deadlineSlack = 100 * time.Millisecond

// armReadDeadline makes the read deadline fall between now+wait and
// deadlineSlack after it.
func (lc *leanConn) armReadDeadline(now time.Time, wait time.Duration) {
	d := now.Add(wait)
	if lc.readDeadline && !lc.deadlineAt.Before(d) && lc.deadlineAt.Sub(d) <= deadlineSlack {
		return
	}
	lc.setReadDeadline(d.Add(deadlineSlack))
}

type leanKey struct{}

// ErrClientGone is the cause of a WatchClient context that ended because
// the client closed its connection (or it failed).
var ErrClientGone = errors.New("serve: client went away")

// WatchClient returns a context for r that ends, with cause ErrClientGone,
// when the client goes away while r is served, as net/http's request
// contexts do. On the lean engine this costs a background read for the
// request, so ServeFast calls it only where it matters (a proxied request);
// for a request net/http serves it returns r's own context.
func WatchClient(r *http.Request) context.Context {
	lc, ok := r.Context().Value(leanKey{}).(*leanConn)
	if !ok {
		return r.Context()
	}
	return lc.watch(r)
}

// WatchClientRequest is r with WatchClient's context, for a handler that
// passes it on in the request: on the lean engine, r itself when it is the
// request ServeFast got (which the engine sets up anew for each request),
// saving r.WithContext's copy; otherwise r.WithContext(WatchClient(r)).
func WatchClientRequest(r *http.Request) *http.Request {
	lc, ok := r.Context().Value(leanKey{}).(*leanConn)
	if !ok {
		return r
	}
	ctx := lc.watch(r)
	if r != &lc.req {
		return r.WithContext(ctx)
	}
	if r.Context() != ctx {
		*r = *r.WithContext(ctx)
	}
	return r
}

// WatchClientFunc arranges for gone to be called, from another goroutine
// and with cause ErrClientGone, when the client goes away while r is
// served by the lean engine: WatchClient's watch without a context (none
// is made, and r keeps its own). gone is called at most once, with the
// watch's lock held, so it must not call back into r's watch; it is not
// called, nor still running, once StopWatchingClient(r) or r's ServeFast
// returned. It reports false, arranging nothing, for a request net/http
// serves, whose own context ends when its client goes away.
func WatchClientFunc(r *http.Request, gone func(cause error)) bool {
	lc, ok := r.Context().Value(leanKey{}).(*leanConn)
	if !ok {
		return false
	}
	lc.watchMu.Lock()
	lc.watchGone = gone
	lc.watchMu.Unlock()
	lc.startWatch()
	return true
}

// StopWatchingClient ends what WatchClientFunc arranged for r before r's
// ServeFast returns: once it returns, gone is neither running nor called
// again, and what gone would have touched may be reused. The watch itself
// goes on until the request ends, as the wait for the next one.
func StopWatchingClient(r *http.Request) {
	lc, ok := r.Context().Value(leanKey{}).(*leanConn)
	if !ok {
		return
	}
	lc.watchMu.Lock()
	lc.watchGone = nil
	lc.watchMu.Unlock()
}

// watch is WatchClient for a lean request.
func (lc *leanConn) watch(r *http.Request) context.Context {
	if lc.watchCtx != nil {
		return lc.watchCtx
	}
	ctx, cancel := context.WithCancelCause(r.Context())
	lc.watchCtx = ctx
	lc.watchMu.Lock()
	lc.watchCancel = cancel
	lc.watchMu.Unlock()
	lc.startWatch()
	return ctx
}

// startWatch starts the served request's watch (once): the background
// read whose failure ends it.
func (lc *leanConn) startWatch() {
	if lc.watchSet {
		return
	}
	lc.watchSet = true
	if lc.br.Buffered() > lc.extent || lc.extent+1 > leanReadSize {
		// The next request is already here: the client is alive.
		return
	}
	if lc.joinFIFO() {
		// The fifoWaker reports every arrival of bytes or of the end of
		// the stream; while the watch lasts, a report looks at the
		// socket (report, checkGone). No read is made, so the read
		// deadline stays. A report already pending may be the end of
		// the stream, arrived before the watch began: that is looked at
		// now (from another goroutine, as the callbacks are called).
		lc.watchFIFO.Store(true)
		if len(lc.ready) > 0 {
			go lc.checkGone()
		}
		return
	}
	if lc.readDeadline {
		// The deadline that bounded the wait for this request must not
		// end its watch: a read timing out is not a client going away.
		lc.setReadDeadline(time.Time{})
	}
	if lc.watchReq == nil {
		lc.watchReq = make(chan int, 1)
		lc.watchRes = make(chan error, 1)
		go lc.watcher(lc.watchReq, lc.watchRes)
	}
	lc.watchPending = true
	lc.watchReq <- lc.extent + 1
}

// watcher does WatchClient's background reads: each waits for a byte past
// the request being served (the start of the next request), and a read
// that fails while the request is served ends its watch context.
func (lc *leanConn) watcher(req <-chan int, res chan<- error) {
	for want := range req {
		_, err := lc.br.Peek(want)
		if err != nil {
			lc.endWatch(ErrClientGone)
		}
		res <- err
	}
}

// endWatch ends the served request's watch with cause, once: its
// context, and WatchClientFunc's gone. gone runs with watchMu held, so
// that StopWatchingClient and stopWatch, which take it, return only once
// it is over.
func (lc *leanConn) endWatch(cause error) {
	lc.watchMu.Lock()
	cancel, gone := lc.watchCancel, lc.watchGone
	lc.watchCancel, lc.watchGone = nil, nil
	if gone != nil {
		gone(cause)
	}
	lc.watchMu.Unlock()
	if cancel != nil {
		cancel(cause)
	}
}

// stopWatch ends the request's watch at the end of the request (its
// context with context.Canceled; gone is not called); the watcher's read,
// if pending, goes on as the wait for the next one.
func (lc *leanConn) stopWatch() {
	if !lc.watchSet {
		return
	}
	lc.watchFIFO.Store(false)
	lc.watchMu.Lock()
	cancel := lc.watchCancel
	lc.watchCancel, lc.watchGone = nil, nil
	lc.watchMu.Unlock()
	if cancel != nil {
		cancel(context.Canceled)
	}
	lc.watchCtx = nil
	lc.watchSet = false
}

// abortWatch ends the watcher's pending read (with a read deadline in the
// past, as net/http aborts its own), for the main loop to use lc.br now.
// The request's watch must have ended (stopWatch): the aborted read is not
// a client going away.
func (lc *leanConn) abortWatch() {
	if !lc.watchPending {
		return
	}
	_ = lc.c.SetReadDeadline(aLongTimeAgo)
	_ = lc.settleWatch(<-lc.watchRes)
	lc.setReadDeadline(time.Time{})
}

// endWatcher stops the watcher goroutine. A read it has pending must end
// on its own (the connection closed) or have been settled.
func (lc *leanConn) endWatcher() {
	if lc.watchReq == nil {
		return
	}
	if lc.watchPending {
		_ = lc.settleWatch(<-lc.watchRes)
	}
	close(lc.watchReq)
	lc.watchReq = nil
}

// aLongTimeAgo is a read deadline that has passed.
var aLongTimeAgo = time.Unix(1, 0)

// setIdle marks the connection idle (waiting for a request) or busy; it
// reports false when the server is shutting down and the connection must
// not wait for another request. With Shutdown's closeLeansLocked it is
// Dekker's handshake: either this sees the closing flag, or Shutdown sees
// the connection idle and closes it.
func (lc *leanConn) setIdle(idle bool) bool {
	lc.idle.Store(idle)
	if idle && lc.s.closingFlag.Load() {
		lc.idle.Store(false)
		return false
	}
	return true
}

func (s *Server) addLean(lc *leanConn) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closing {
		return false
	}
	s.leans[lc] = struct{}{}
	s.leanWG.Add(1)
	return true
}

// removeLean forgets lc (once; later calls do nothing).
func (s *Server) removeLean(lc *leanConn) {
	s.mu.Lock()
	_, ok := s.leans[lc]
	delete(s.leans, lc)
	s.mu.Unlock()
	if ok {
		s.leanWG.Done()
	}
}

// closeIdleLeansLocked closes the lean connections waiting for a request
// (s.mu held); with all set, every lean connection. One waiting in
// awaitFIFO is woken to find its connection closed.
func (s *Server) closeLeansLocked(all bool) {
	for lc := range s.leans {
		if all || lc.idle.Load() {
			_ = lc.c.Close()
			lc.report()
		}
	}
}

// awaitFIFO waits, for up to wait from now (the read deadline awaitRequest
// set), for the server's fifoWaker to report bytes on the connection (see
// fifo_linux.go for why): for a plain-TCP connection with nothing
// buffered. It reads nothing and makes no system call: the read that
// follows gets the bytes. A report can be stale (bytes an earlier read
// already took); that read then waits in Go's poller, as it would have.
// It returns at once where it does not apply.
func (lc *leanConn) awaitFIFO(now time.Time, wait time.Duration) {
	if !lc.joinFIFO() {
		return
	}
	// The timer reports the deadline on ready too (the read that follows
	// then fails with it); like the deadline, it moves only by more than
	// deadlineSlack.
	d := now.Add(wait)
	if lc.waitTimer == nil {
		lc.waitTimerAt = d.Add(deadlineSlack)
		lc.waitTimer = time.AfterFunc(lc.waitTimerAt.Sub(now), lc.report)
	} else if lc.waitTimerAt.Before(d) || lc.waitTimerAt.Sub(d) > deadlineSlack {
		lc.waitTimerAt = d.Add(deadlineSlack)
		lc.waitTimer.Reset(lc.waitTimerAt.Sub(now))
	}
	<-lc.ready
}

// joinFIFO puts the connection into the server's fifoWaker set, the first
// time it is asked, where that applies: on Linux, for a plain-TCP
// connection, unwrapped or in a PassThroughConn. It reports whether the
// connection is in the set and the waker's goroutine runs.
func (lc *leanConn) joinFIFO() bool {
	if !fifoWaitEnabled || lc.c.tls != nil {
		return false
	}
	if lc.fifo == nil {
		if lc.fifoTried {
			return false
		}
		lc.fifoTried = true
		tc := passThroughTCP(lc.c.Conn)
		if tc == nil {
			return false
		}
		rc, err := tc.SyscallConn()
		w := lc.s.fifoWaker()
		if err != nil || w == nil || !w.add(lc, rc) {
			return false
		}
		lc.fifo = w
	}
	return !lc.fifo.stopped.Load()
}

// PassThroughConn is implemented by a net.Conn wrapper whose reads come
// straight from a *net.TCPConn, holding no byte back (a listener's wrapper
// that only observes, as the ALB's connection tracking does). The lean engine then waits for that connection's bytes,
// and watches it for its client going away, through its fifoWaker, as it
// does an unwrapped one (fifo_linux.go).
type PassThroughConn interface {
	net.Conn
	// PassThroughTCP is the connection reads come from; nil: none.
	PassThroughTCP() *net.TCPConn
}

// passThroughTCP is the *net.TCPConn c reads from directly: c itself, or
// what a PassThroughConn names; nil otherwise (a wrapper might buffer).
func passThroughTCP(c net.Conn) *net.TCPConn {
	switch c := c.(type) {
	case *net.TCPConn:
		return c
	case PassThroughConn:
		return c.PassThroughTCP()
	}
	return nil
}

// report sends lc a report on ready, unless one is pending; while the
// served request is watched through the waker, it also looks at the socket
// for the client going away (checkGone).
func (lc *leanConn) report() {
	select {
	case lc.ready <- struct{}{}:
	default:
	}
	if lc.watchFIFO.Load() {
		lc.checkGone()
	}
}

// checkGone ends the served request's watch with ErrClientGone when the
// socket is at the end of its stream or failed (peekGone); bytes (the next
// request) or nothing say the client is still there. lc.rc is set before
// watchFIFO and stays while it is.
func (lc *leanConn) checkGone() {
	if peekGone(lc.rc) {
		lc.endWatch(ErrClientGone)
	}
}

// leaveFIFO takes the connection out of the fifoWaker's set, if it is in.
func (lc *leanConn) leaveFIFO() {
	lc.watchFIFO.Store(false)
	if lc.fifo == nil {
		return
	}
	lc.fifo.remove(lc)
	lc.fifo = nil
	if lc.waitTimer != nil {
		lc.waitTimer.Stop()
	}
}

// fifoWaker returns the server's fifoWaker, made at the first call; nil
// when it cannot be made or the server is shutting down.
func (s *Server) fifoWaker() *fifoWaker {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.fifo == nil && !s.fifoFailed && !s.closing {
		w, err := newFIFOWaker()
		if err != nil {
			s.fifoFailed = true
			s.log.Warn("serve: idle connections wait in reads", "err", err)
			return nil
		}
		s.fifo = w
	}
	return s.fifo
}
