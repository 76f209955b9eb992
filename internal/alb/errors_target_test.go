package alb

import (
	"bufio"
	"io"
	"net"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/kumo-dev/kumo/internal/nettest"

	"github.com/kumo-dev/kumo/internal/model"
)

// targetSideErrorRows are the TestLBGeneratedErrors rows for errors that
// come from routing, target groups and targets (alb.md §2.1, §1.11).
func targetSideErrorRows() []lbErrorCase {
	rawTG := func(t *testing.T, fn func(net.Conn)) *model.TargetGroup {
		return noHealthCheck(mkTG("alb-tg", &model.Target{ID: "10.0.4.254", Addr: "10.0.4.254:80", Local: rawTarget(t, fn)}))
	}
	plain := func(tg *model.TargetGroup) *model.Listener { return httpListener(80, forward(tg)) }
	var arrived chan struct{} // 460: closed when the request reached the target
	return []lbErrorCase{
		{name: "503-no-registered-targets", status: 503, connection: "keep-alive",
			setup: func(t *testing.T) (*model.Listener, func(*Config)) { return plain(mkTG("alb-tg")), nil }},
		{name: "502-connection-refused", status: 502, connection: "keep-alive",
			setup: func(t *testing.T) (*model.Listener, func(*Config)) {
				return plain(noHealthCheck(mkTG("alb-tg", &model.Target{ID: "10.0.4.254", Addr: "10.0.4.254:80", Local: nettest.RefusedAddr(t)}))), nil
			}},
		{name: "502-target-closed-mid-request", status: 502, connection: "keep-alive",
			request: "POST /upload HTTP/1.1\r\nHost: www.example.com\r\nUser-Agent: curl/8.5.0\r\nContent-Length: 7\r\n\r\npayload",
			setup: func(t *testing.T) (*model.Listener, func(*Config)) {
				return plain(rawTG(t, func(c net.Conn) {
					if req, err := http.ReadRequest(bufio.NewReader(c)); err == nil {
						_, _ = io.Copy(io.Discard, req.Body)
					}
				})), nil
			}},
		{name: "502-malformed-response", status: 502, connection: "keep-alive",
			setup: func(t *testing.T) (*model.Listener, func(*Config)) {
				return plain(rawTG(t, func(c net.Conn) {
					if _, err := http.ReadRequest(bufio.NewReader(c)); err == nil {
						_, _ = io.WriteString(c, "NOT HTTP AT ALL\r\n\r\n")
					}
				})), nil
			}},
		{name: "502-response-headers-too-large", status: 502, connection: "keep-alive",
			setup: func(t *testing.T) (*model.Listener, func(*Config)) {
				return plain(rawTG(t, func(c net.Conn) {
					if _, err := http.ReadRequest(bufio.NewReader(c)); err == nil {
						_, _ = io.WriteString(c, "HTTP/1.1 200 OK\r\nX-Big: "+strings.Repeat("a", 33<<10)+"\r\nContent-Length: 0\r\n\r\n")
					}
				})), nil
			}},
		{name: "502-target-tls-handshake", status: 502, connection: "keep-alive",
			setup: func(t *testing.T) (*model.Listener, func(*Config)) {
				tg := rawTG(t, func(c net.Conn) { _, _ = io.WriteString(c, "HTTP/1.1 400 Bad Request\r\n\r\n") })
				tg.Protocol = "HTTPS"
				return plain(tg), nil
			}},
		{name: "504-target-idle-timeout", status: 504, connection: "keep-alive",
			setup: func(t *testing.T) (*model.Listener, func(*Config)) {
				return plain(rawTG(t, func(c net.Conn) { _, _ = io.Copy(io.Discard, c) })),
					func(c *Config) { c.idleTimeout = 200 * time.Millisecond }
			}},
		{name: "464-http1-to-http2-target-group", status: 464, connection: "keep-alive",
			setup: func(t *testing.T) (*model.Listener, func(*Config)) {
				tg := rawTG(t, func(c net.Conn) {})
				tg.ProtocolVersion = ProtocolVersionHTTP2
				return plain(tg), nil
			}},
		{name: "500-transform-failed", status: 500, connection: "keep-alive",
			setup: func(t *testing.T) (*model.Listener, func(*Config)) {
				tg := rawTG(t, func(c net.Conn) {})
				rule := &model.Rule{Priority: 7,
					Conditions: []*model.Condition{{Field: "path-pattern", Values: []string{"/error/*"}}},
					Actions:    forward(tg),
					Transforms: []*model.Transform{{Type: model.TransformHostHeaderRewrite,
						Rewrites: []model.Rewrite{{Regex: `^www\.(.+)$`, Replace: "bad host $1"}}}}}
				return httpListener(80, forward(tg), rule), nil
			}},
		{name: "460-client-closed", status: StatusClientClosed,
			clientGone: func(t *testing.T) <-chan struct{} { arrived = make(chan struct{}); return arrived },
			setup: func(t *testing.T) (*model.Listener, func(*Config)) {
				be := newBackend(t, "A", func(w http.ResponseWriter, r *http.Request) {
					close(arrived)
					<-r.Context().Done()
				})
				return plain(noHealthCheck(mkTG("alb-tg", be.target("10.0.4.254:80")))), nil
			}},
	}
}
