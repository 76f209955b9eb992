package alb

import (
	"context"
	"io"
	"net/http"
	"strings"
	"sync"
	"sync/atomic"
)

// isWebSocketUpgrade reports an HTTP/1.1 WebSocket upgrade request (alb.md
// §4.2: WebSockets via the HTTP/1.1 Upgrade header on HTTP and HTTPS
// listeners).
func isWebSocketUpgrade(r *http.Request) bool {
	if r.ProtoMajor != 1 || r.ProtoMinor < 1 || !strings.EqualFold(strings.TrimSpace(r.Header.Get("Upgrade")), "websocket") {
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

// passUpgrade puts back on the target request the Upgrade and Connection
// headers that hop-by-hop filtering removed, for a WebSocket upgrade: the
// ALB passes the upgrade to the target, whose 101 then owns the connection
// (alb.md §4.2).
func passUpgrade(out, in *http.Request) {
	if !isWebSocketUpgrade(in) {
		return
	}
	out.Header["Connection"] = []string{"Upgrade"}
	out.Header["Upgrade"] = in.Header["Upgrade"]
}

// relayUpgrade serves a target's 101 Switching Protocols (alb.md §4.2,
// §1.1): the 101 goes to the client, then bytes flow both ways until
// either side closes or nothing moves for the idle timeout; the single
// access-log entry, type ws or wss, is written when the connection closes,
// with the whole connection's byte counts.
func (ex *exchange) relayUpgrade(r *http.Request, resp *http.Response) {
	lb := ex.l.lb
	rec := &ex.rec
	rec.Type = "ws"
	if ex.l.https {
		rec.Type = "wss"
	}
	backend, ok := resp.Body.(io.ReadWriteCloser)
	if !ok {
		ex.fail(r, FailureUpstreamProtocolError)
		return
	}
	conn, brw, err := http.NewResponseController(ex.w.ResponseWriter).Hijack()
	if err != nil {
		// HTTP/2 requests cannot be hijacked; kumo's WebSockets are HTTP/1.1.
		lb.log.Debug("alb: cannot take over the client connection for a WebSocket", "err", err)
		backend.Close()
		ex.fail(r, FailureUpstreamProtocolError)
		return
	}
	defer conn.Close()
	defer backend.Close()
	head := upgradeResponseHead(resp)
	ex.w.status = http.StatusSwitchingProtocols
	ex.w.headerBytes = int64(len(head))
	rec.ResponseProcessingTime = 0
	if _, err := io.WriteString(conn, head); err != nil {
		ex.finish(r)
		return
	}
	var up, down atomic.Int64
	var once sync.Once
	closeBoth := func() { once.Do(func() { conn.Close(); backend.Close() }) }
	timer := newIdleTimer(lb.idleTimeout, closeBoth)
	defer timer.stop()
	// The request context ends when kumo shuts the listener down.
	stop := context.AfterFunc(r.Context(), closeBoth)
	defer stop()
	var wg sync.WaitGroup
	wg.Add(1)
	go func() { // client → target, starting with what the server had buffered
		defer wg.Done()
		defer closeBoth()
		var src io.Reader = conn
		if n := brw.Reader.Buffered(); n > 0 {
			src = io.MultiReader(io.LimitReader(brw.Reader, int64(n)), conn)
		}
		relayCopy(backend, src, &up, timer)
	}()
	relayCopy(conn, backend, &down, timer)
	closeBoth()
	wg.Wait()
	ex.body.n.Add(up.Load())
	ex.w.bodyBytes = down.Load()
	ex.finish(r)
}

// relayCopy copies src to dst, counting bytes and touching the idle timer
// on every read.
func relayCopy(dst io.Writer, src io.Reader, n *atomic.Int64, idle *idleTimer) {
	buf := make([]byte, 32<<10)
	for {
		k, err := src.Read(buf)
		if k > 0 {
			idle.touch()
			if _, werr := dst.Write(buf[:k]); werr != nil {
				return
			}
			n.Add(int64(k))
		}
		if err != nil {
			return
		}
	}
}

// upgradeResponseHead is the 101 as sent to the client: the target's status
// line and headers (Upgrade and Connection included, as the upgrade needs
// them).
func upgradeResponseHead(resp *http.Response) string {
	var b strings.Builder
	b.WriteString("HTTP/1.1 101 ")
	if text := strings.TrimSpace(strings.TrimPrefix(resp.Status, "101")); text != "" {
		b.WriteString(text)
	} else {
		b.WriteString("Switching Protocols")
	}
	b.WriteString("\r\n")
	_ = resp.Header.Write(&b)
	b.WriteString("\r\n")
	return b.String()
}
