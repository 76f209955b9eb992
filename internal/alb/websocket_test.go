package alb

import (
	"bufio"
	"crypto/tls"
	"io"
	"net"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/kumo-dev/kumo/internal/accesslog"
	"github.com/kumo-dev/kumo/internal/model"
)

// wsTarget answers a WebSocket upgrade with 101 and then echoes every byte
// back; anything else gets 426.
func wsTarget(t *testing.T) *backend {
	return newBackend(t, "ws", func(w http.ResponseWriter, r *http.Request) {
		if !strings.EqualFold(r.Header.Get("Upgrade"), "websocket") {
			w.WriteHeader(http.StatusUpgradeRequired)
			return
		}
		c, brw, err := http.NewResponseController(w).Hijack()
		if err != nil {
			return
		}
		defer c.Close()
		_, _ = io.WriteString(c, "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Accept: s3pPLMBiTxaQ9kYGzzhZRbK+xOo=\r\n\r\n")
		_, _ = io.Copy(c, brw)
	})
}

// TestWebSocketUpgrade checks alb.md §4.2 and §1.1: the Upgrade is passed
// to the target, whose 101 owns the connection; bytes flow both ways; the
// connection gets one access-log entry (ws / wss) when it closes, with the
// whole connection's byte counts.
func TestWebSocketUpgrade(t *testing.T) {
	ca := testCA(t)
	for _, tc := range []struct {
		name, typ string
		https     bool
	}{{"ws", "ws", false}, {"wss", "wss", true}} {
		t.Run(tc.name, func(t *testing.T) {
			be := wsTarget(t)
			tg := noHealthCheck(mkTG("alb-tg", be.target("10.0.4.254:80")))
			l := httpListener(80, forward(tg))
			if tc.https {
				l = httpsListener("", forward(tg), &model.Certificate{ARN: testCertA, DomainName: "alb.example.com"})
			}
			ru := start(t, Config{LB: loadBalancer(l), Certs: ca})
			var c net.Conn
			var err error
			if tc.https {
				c, err = tls.Dial("tcp", ru.addrs[l], &tls.Config{RootCAs: ca.Pool(), ServerName: "alb.example.com", NextProtos: []string{"http/1.1"}})
			} else {
				c, err = net.Dial("tcp", ru.addrs[l])
			}
			if err != nil {
				t.Fatal(err)
			}
			defer c.Close()
			_ = c.SetDeadline(time.Now().Add(10 * time.Second))
			const upgrade = "GET /chat HTTP/1.1\r\nHost: alb.example.com\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n"
			if _, err := io.WriteString(c, upgrade); err != nil {
				t.Fatal(err)
			}
			br := bufio.NewReader(c)
			resp, err := http.ReadResponse(br, nil)
			if err != nil {
				t.Fatal(err)
			}
			if resp.StatusCode != 101 || resp.Header.Get("Sec-Websocket-Accept") != "s3pPLMBiTxaQ9kYGzzhZRbK+xOo=" {
				t.Fatalf("upgrade answer %d %v", resp.StatusCode, resp.Header)
			}
			for _, msg := range []string{"hello", "websocket frames"} {
				if _, err := io.WriteString(c, msg); err != nil {
					t.Fatal(err)
				}
				got := make([]byte, len(msg))
				if _, err := io.ReadFull(br, got); err != nil || string(got) != msg {
					t.Fatalf("echo %q, %v", got, err)
				}
			}
			if len(ru.sink.snapshot()) != 0 {
				t.Fatal("logged before the connection closed")
			}
			c.Close()
			rec := ru.sink.wait(t, 1)[0]
			sent := int64(len("HTTP/1.1 101 Switching Protocols\r\nConnection: Upgrade\r\nSec-Websocket-Accept: s3pPLMBiTxaQ9kYGzzhZRbK+xOo=\r\nUpgrade: websocket\r\n\r\n")) + 21
			if rec.Type != tc.typ || rec.ELBStatus != 101 || rec.TargetStatus != 101 || rec.SentBytes != sent ||
				rec.ReceivedBytes < 21 || rec.Target != "10.0.4.254:80" || !strings.Contains(rec.Request, "/chat HTTP/1.1") {
				t.Errorf("record %+v (want sent %d)", rec, sent)
			}
			if got := len(ru.sink.snapshot()); got != 1 {
				t.Errorf("%d records for one WebSocket connection", got)
			}
		})
	}
}

func (s *logSink) snapshot() []*accesslog.ALBRecord {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]*accesslog.ALBRecord(nil), s.recs...)
}
