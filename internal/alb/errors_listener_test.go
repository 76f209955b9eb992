package alb

import (
	"strings"
	"testing"

	"github.com/kumo-dev/kumo/internal/model"
)

// listenerSideErrorRows are the TestLBGeneratedErrors rows for the errors
// the listener produces before any rule runs (400, 405, 414, 463; alb.md
// §2.1, §1.8, §4.5).
func listenerSideErrorRows() []lbErrorCase {
	// connClose is what the harness sees of "Connection: close":
	// http.ReadResponse strips it; TestListenerRefusals checks the raw bytes.
	const connClose = ""
	plain := func(t *testing.T) (*model.Listener, func(*Config)) {
		be := newBackend(t, "A", nil)
		return httpListener(80, forward(noHealthCheck(mkTG("alb-tg", be.target("10.0.4.254:80"))))), nil
	}
	strictest := func(t *testing.T) (*model.Listener, func(*Config)) {
		l, _ := plain(t)
		return l, func(c *Config) { c.LB.Attributes["routing.http.desync_mitigation_mode"] = "strictest" }
	}
	req := func(requestLine string, headers ...string) string {
		return requestLine + "\r\nHost: www.example.com\r\nUser-Agent: curl/8.5.0\r\n" + strings.Join(headers, "") + "\r\n"
	}
	var xff []string
	for i := 0; i < 31; i++ {
		xff = append(xff, "192.0.2."+string(rune('1'+i%9)))
	}
	return []lbErrorCase{
		{name: "405-trace", status: 405, connection: "keep-alive", setup: plain,
			request: req("TRACE /error/page HTTP/1.1")},
		{name: "414-request-line-too-long", status: 414, connection: connClose, setup: plain,
			request: req("GET /" + strings.Repeat("a", 16<<10) + " HTTP/1.1")},
		{name: "400-header-too-large", status: 400, connection: connClose, setup: plain,
			request: req("GET /error/page HTTP/1.1", "X-Big: "+strings.Repeat("b", 16<<10)+"\r\n")},
		{name: "400-header-block-too-large", status: 400, connection: connClose, setup: plain,
			request: req("GET /error/page HTTP/1.1", strings.Repeat("X-Part: "+strings.Repeat("p", 12<<10)+"\r\n", 6))},
		{name: "463-too-many-forwarded-for", status: 463, connection: "keep-alive", setup: plain,
			request: req("GET /error/page HTTP/1.1", "X-Forwarded-For: "+strings.Join(xff, ", ")+"\r\n")},
		{name: "400-desync-strictest-acceptable", status: 400, connection: connClose, setup: strictest,
			request: req("GET /error/page HTTP/1.1", "Content-Length: 0\r\n")},
	}
}
