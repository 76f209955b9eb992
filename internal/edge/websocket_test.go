package edge

import (
	"bufio"
	"crypto/sha1"
	"crypto/tls"
	"encoding/base64"
	"io"
	"net"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/kumo-dev/kumo/internal/model"
)

// wsEchoOrigin completes an RFC 6455 handshake and echoes raw bytes.
func wsEchoOrigin(w http.ResponseWriter, r *http.Request) {
	key := r.Header.Get("Sec-Websocket-Key")
	if key == "" || !strings.EqualFold(r.Header.Get("Upgrade"), "websocket") {
		http.Error(w, "not a websocket handshake", http.StatusBadRequest)
		return
	}
	sum := sha1.Sum([]byte(key + "258EAFA5-E914-47DA-95CA-C5AB0DC85B11"))
	conn, brw, err := http.NewResponseController(w).Hijack()
	if err != nil {
		return
	}
	defer conn.Close()
	_, _ = brw.WriteString("HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Accept: " +
		base64.StdEncoding.EncodeToString(sum[:]) + "\r\n\r\n")
	_ = brw.Flush()
	_, _ = io.Copy(conn, brw)
}

// TestWebSocketPassThrough implements cloudfront.md §3.9: an HTTP/1.1
// upgrade is passed to the origin (with the headers the policies forward),
// bytes flow both ways, and the connection is logged at close as a Miss
// with cs-protocol ws; without Sec-WebSocket-Key forwarded the origin's
// refusal reaches the viewer.
func TestWebSocketPassThrough(t *testing.T) {
	origin := startOrigin(t, wsEchoOrigin, nil)
	for _, tc := range []struct {
		name   string
		orp    string
		status string
		tls    bool
	}{
		{"AllViewer forwards the handshake", AllViewerID, "101", false},
		{"wss", AllViewerID, "101", true},
		{"without Sec-WebSocket-Key the origin refuses", "", "400", false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			ev := newEnv(t, nil, testStack(testOrigin("origin.example.com", model.OriginHTTPOnly), policyBehavior(CachingDisabledID, tc.orp)))
			ev.res.Set("origin.example.com", origin.addr)
			var conn net.Conn
			var err error
			if tc.tls {
				conn, err = tls.Dial("tcp", ev.httpsSrv.Addr(), &tls.Config{ServerName: testDomain, RootCAs: ev.ca.Pool(), NextProtos: []string{"http/1.1"}})
			} else {
				conn, err = net.Dial("tcp", ev.httpSrv.Addr())
			}
			if err != nil {
				t.Fatal(err)
			}
			defer conn.Close()
			_ = conn.SetDeadline(time.Now().Add(10 * time.Second))
			_, _ = io.WriteString(conn, "GET /chat HTTP/1.1\r\nHost: "+testDomain+"\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"+
				"Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n")
			br := bufio.NewReader(conn)
			resp, err := http.ReadResponse(br, nil)
			if err != nil {
				t.Fatal(err)
			}
			if got := resp.Status[:3]; got != tc.status {
				t.Fatalf("status %s, want %s", resp.Status, tc.status)
			}
			rid := resp.Header.Get("X-Amz-Cf-Id")
			if tc.status != "101" {
				return
			}
			if resp.Header.Get("Sec-Websocket-Accept") != "s3pPLMBiTxaQ9kYGzzhZRbK+xOo=" || resp.Header.Get("X-Cache") != "Miss from cloudfront" {
				t.Errorf("101 headers %v", resp.Header)
			}
			_, _ = io.WriteString(conn, "hello edge")
			buf := make([]byte, len("hello edge"))
			if _, err := io.ReadFull(br, buf); err != nil || string(buf) != "hello edge" {
				t.Fatalf("echo %q, %v", buf, err)
			}
			conn.Close()
			rec := ev.logs.wait(t, rid)
			wantProto := "ws"
			if tc.tls {
				wantProto = "wss"
			}
			if rec.Protocol != wantProto || rec.Status != 101 || rec.ResultType != "Miss" || rec.ResponseResultType != "Miss" || rec.DetailedResultType != "Miss" {
				t.Errorf("log: %s %d %s/%s/%s", rec.Protocol, rec.Status, rec.ResultType, rec.ResponseResultType, rec.DetailedResultType)
			}
			if rec.SCBytes <= int64(len("hello edge")) || rec.CSBytes <= int64(len("hello edge")) {
				t.Errorf("log bytes sc %d cs %d", rec.SCBytes, rec.CSBytes)
			}
		})
	}
}
