package edge

import (
	"bufio"
	"context"
	"io"
	"net"
	"net/http"
	"strings"
	"sync"
	"sync/atomic"
	"time"
)

// webSocketIdleTimeout closes a WebSocket when the origin sends nothing to
// the viewer for this long (cloudfront.md §3.9).
const webSocketIdleTimeout = 10 * time.Minute

// isWebSocketUpgrade reports whether r asks for an RFC 6455 upgrade over
// HTTP/1.1, the only viewer protocol CloudFront supports it on (§3.9).
func isWebSocketUpgrade(r *http.Request) bool {
	if r.ProtoMajor != 1 || r.ProtoMinor != 1 || r.Method != http.MethodGet {
		return false
	}
	if !strings.EqualFold(strings.TrimSpace(firstValue(r.Header, "Upgrade")), "websocket") {
		return false
	}
	for _, v := range r.Header["Connection"] {
		for tok := range strings.SplitSeq(v, ",") {
			if strings.EqualFold(strings.TrimSpace(tok), "upgrade") {
				return true
			}
		}
	}
	return false
}

// webSocketProtocol is cs-protocol for a WebSocket: ws or wss (§3.9).
func webSocketProtocol(https bool) string {
	if https {
		return "wss"
	}
	return "ws"
}

// webSocket implements WebSocket pass-through (cloudfront.md §3.9): the
// upgrade goes to the origin with the headers the behavior forwards (so
// Sec-WebSocket-* must be forwarded by its policies), never cached; a 101
// from the origin joins the viewer's and the origin's connections until
// either side closes or the origin is silent for 10 minutes. It is logged
// at close as Miss with ws/wss. A non-101 answer is relayed like any miss.
func (t *txn) webSocket(p string) {
	t.needsNetHTTP()
	o := t.beh.origin
	ctx := t.r.Context()
	req, err := t.originRequest(ctx, o, p)
	if err != nil {
		t.fail(ReasonOriginInvalidResponse, err)
		return
	}
	req.Header["Connection"] = []string{"Upgrade"}
	req.Header["Upgrade"] = t.r.Header.Values("Upgrade")
	resp, err := o.transport.RoundTrip(req)
	if err != nil {
		t.originFailed(err, "", false)
		return
	}
	if resp.StatusCode != http.StatusSwitchingProtocols {
		defer resp.Body.Close()
		t.relay(resp, "", false)
		return
	}
	upstream, ok := resp.Body.(io.ReadWriteCloser)
	if !ok {
		resp.Body.Close()
		t.fail(ReasonOriginInvalidResponse, nil)
		return
	}
	defer upstream.Close()
	conn, brw, err := http.NewResponseController(t.w).Hijack()
	if err != nil {
		t.e.logger.Error("edge: websocket hijack", "err", err, "request_id", t.requestID())
		t.fail(ReasonOriginInvalidResponse, err)
		return
	}
	defer conn.Close()
	h := http.Header{}
	for k, v := range resp.Header {
		if k == "Connection" || k == "Upgrade" || !hopByHop[k] {
			h[k] = v
		}
	}
	t.w = hijackedWriter{h: h}
	t.setEdgeHeaders(xCacheMiss)
	t.result, t.respResult, t.detailed = resultMiss, resultMiss, resultMiss
	t.wrote, t.status = true, http.StatusSwitchingProtocols
	t.headerBytes = responseHeaderBytes(http.StatusSwitchingProtocols, h)
	t.firstByte = t.e.now()
	bw := brw.Writer
	_, _ = bw.WriteString("HTTP/1.1 101 Switching Protocols\r\n")
	_ = h.Write(bw)
	_, _ = bw.WriteString("\r\n")
	if err := bw.Flush(); err != nil {
		t.viewerGoneMidBody()
		return
	}
	t.pipeWebSocket(conn, brw.Reader, upstream)
}

// pipeWebSocket copies both ways until one side closes, counting the bytes
// each way for the log, and closes both when the origin is idle for
// webSocketIdleTimeout.
func (t *txn) pipeWebSocket(conn net.Conn, viewer *bufio.Reader, upstream io.ReadWriteCloser) {
	var once sync.Once
	closeBoth := func() { once.Do(func() { conn.Close(); upstream.Close() }) }
	idle := time.AfterFunc(webSocketIdleTimeout, closeBoth)
	defer idle.Stop()
	// The request context ends when kumo shuts the listener down.
	stop := context.AfterFunc(t.r.Context(), closeBoth)
	defer stop()
	t.reqBody = &countingReader{rc: io.NopCloser(viewer)}
	var down atomic.Int64
	done := make(chan struct{})
	go func() {
		defer close(done)
		_, _ = io.Copy(upstream, t.reqBody)
		closeBoth()
	}()
	buf := make([]byte, 32<<10)
	for {
		n, err := upstream.Read(buf)
		if n > 0 {
			idle.Reset(webSocketIdleTimeout)
			if _, werr := conn.Write(buf[:n]); werr != nil {
				break
			}
			down.Add(int64(n))
		}
		if err != nil {
			break
		}
	}
	closeBoth()
	<-done
	t.bodyBytes = down.Load()
}

// hijackedWriter stands in for the viewer's ResponseWriter after the
// connection was hijacked: it only keeps the 101's headers for the log.
type hijackedWriter struct{ h http.Header }

func (w hijackedWriter) Header() http.Header         { return w.h }
func (w hijackedWriter) WriteHeader(int)             {}
func (w hijackedWriter) Write(p []byte) (int, error) { return 0, http.ErrHijacked }
