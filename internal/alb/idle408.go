package alb

import (
	"io"
	"net"
	"net/http"
	"strconv"
	"strings"

	"github.com/kumo-dev/kumo/internal/accesslog"
	"github.com/kumo-dev/kumo/internal/serve"
)

// Read passes through and notes the first byte a client sends (the 408
// rule below then no longer applies).
func (c *trackedConn) Read(p []byte) (int, error) {
	n, err := c.Conn.Read(p)
	if n > 0 && c.idle != nil && c.gotBytes.CompareAndSwap(false, true) {
		c.idle.Stop()
	}
	return n, err
}

var _ serve.PassThroughConn = (*trackedConn)(nil)

// PassThroughTCP implements serve.PassThroughConn: Read takes its bytes
// straight from the accepted connection and keeps none, so serve's lean
// engine may wait for them, and watch for the client going away, on that
// connection's socket.
func (c *trackedConn) PassThroughTCP() *net.TCPConn {
	tc, _ := c.Conn.(*net.TCPConn)
	return tc
}

// idleGoverns reports whether the listener's idle timeout, not net/http's
// read-header timeout, decides when a silent plain-HTTP connection ends:
// until its first byte, a deadline net/http sets is ignored, so that the
// 408 below comes at idle_timeout.timeout_seconds (which may exceed
// net/http's 30 s header timeout).
func (c *trackedConn) idleGoverns() bool {
	return c.idle != nil && !c.gotBytes.Load()
}

// requestTimeout implements the 408 of alb.md §2.1/§2.4: a client that
// opened a connection to a plain-HTTP listener and sent nothing within the
// idle timeout gets 408 with the LB page, Connection: close, and one
// access-log line for the request that never came (request "- - -", the
// shape of §1.5's unparsable requests). kumo's choice: a connection that
// has carried requests and then idles is closed silently by net/http, and
// HTTPS listeners close silent connections without a 408 (a silent client
// there has not even finished its TLS handshake). UNCONFIRMED: the exact
// log line AWS writes for a 408.
func (c *trackedConn) requestTimeout() {
	if c.gotBytes.Load() {
		return
	}
	l := c.l
	lb := l.lb
	now := lb.now()
	body := lb.pages.body(http.StatusRequestTimeout)
	var h strings.Builder
	h.WriteString("HTTP/1.1 408 Request Time-out\r\nServer: " + ServerHeader + "\r\nDate: " + now.UTC().Format(http.TimeFormat) +
		"\r\nContent-Type: text/html\r\nContent-Length: " + strconv.Itoa(len(body)) + "\r\nConnection: close\r\n\r\n")
	head := h.String()
	_, werr := io.WriteString(c.Conn, head+body)
	_ = c.Close()
	if werr != nil {
		return
	}
	c.mu.Lock()
	traceID := c.traceID
	c.mu.Unlock()
	rec := &accesslog.ALBRecord{
		Type: "http", Time: now, ELB: lb.lb.FullName, Client: c.remoteKey,
		RequestProcessingTime: notMeasured, TargetProcessingTime: notMeasured, ResponseProcessingTime: notMeasured,
		Request: "- - -", ELBStatus: http.StatusRequestTimeout, SentBytes: int64(len(head) + len(body)),
		MatchedRulePriority: accesslog.RulePriorityNone, RequestCreationTime: c.accepted, ConnTraceID: traceID,
	}
	lb.observeRequest(rec, FailureNone)
	if lb.cfg.Log != nil {
		lb.cfg.Log(rec)
	}
}
