package alb

import (
	"crypto/tls"
	"io"
	"net"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/kumo-dev/kumo/internal/accesslog"
	"github.com/kumo-dev/kumo/internal/model"
)

// unparsedErrorRows are the TestLBGeneratedErrors rows for the requests
// Go's parser refuses before any handler runs, answered through
// serve.Plane.Reject (alb.md §2.1, §1.5, §1.11), and for the 408 of a
// silent client (idle408.go).
func unparsedErrorRows() []lbErrorCase {
	// connClose: http.ReadResponse strips "Connection: close";
	// TestUnparsedRequestsRaw checks the raw bytes.
	const connClose = ""
	plain := func(t *testing.T) (*model.Listener, func(*Config)) {
		be := newBackend(t, "A", nil)
		return httpListener(80, forward(noHealthCheck(mkTG("alb-tg", be.target("10.0.4.254:80"))))), nil
	}
	idle := func(t *testing.T) (*model.Listener, func(*Config)) {
		l, _ := plain(t)
		return l, func(c *Config) { c.idleTimeout = 100 * time.Millisecond }
	}
	return []lbErrorCase{
		{name: "400-malformed-request", status: 400, connection: connClose, setup: plain,
			request: "GET /error/page HTTP/1.1 extra\r\nHost: www.example.com\r\nUser-Agent: curl/8.5.0\r\n\r\n"},
		{name: "400-malformed-request-no-host", status: 400, connection: connClose, setup: plain,
			request: "HELLO\r\n\r\n"},
		{name: "400-bad-header", status: 400, connection: connClose, setup: plain,
			request: "GET /error/page HTTP/1.1\r\nHost: www.example.com\r\nBad Header: x\r\n\r\n"},
		{name: "400-missing-host", status: 400, connection: connClose, setup: plain,
			request: "GET /error/page HTTP/1.1\r\nUser-Agent: curl/8.5.0\r\n\r\n"},
		{name: "400-header-block-over-parser-limit", status: 400, connection: connClose, setup: plain,
			request: "GET /error/page HTTP/1.1\r\nHost: www.example.com\r\n" +
				strings.Repeat("X-Part: "+strings.Repeat("p", 1000)+"\r\n", 1100) + "\r\n"},
		{name: "501-unsupported-transfer-encoding", status: 501, connection: connClose, setup: plain,
			request: "POST /error/page HTTP/1.1\r\nHost: www.example.com\r\nTransfer-Encoding: gzip\r\n\r\n"},
		{name: "505-http-version-not-supported", status: 505, connection: connClose, setup: plain,
			request: "GET /error/page HTTP/2.0\r\nHost: www.example.com\r\n\r\n"},
		{name: "408-client-idle", status: 408, connection: connClose, setup: idle, silent: true, tracked: true},
		deregistrationExpiredRow(),
	}
}

// deregistrationExpiredRow is the 502 of alb.md §6.6/§2.1: a reload removes
// the target while a request to it is in flight, and the deregistration
// delay (0 s here, so that it expires at the reload) ends the request.
func deregistrationExpiredRow() lbErrorCase {
	reached := make(chan struct{})
	var once sync.Once
	lbWith := func(target *model.Target) *model.LoadBalancer {
		tg := noHealthCheck(mkTG("alb-tg", target))
		tg.Attributes = map[string]string{"deregistration_delay.timeout_seconds": "0"}
		return loadBalancer(httpListener(80, forward(tg)))
	}
	return lbErrorCase{name: "502-deregistration-delay-expired", status: 502, connection: "keep-alive",
		setup: func(t *testing.T) (*model.Listener, func(*Config)) {
			be := newBackend(t, "OLD", func(w http.ResponseWriter, r *http.Request) {
				once.Do(func() { close(reached) })
				<-r.Context().Done()
			})
			return lbWith(be.target("10.0.4.254:80")).Listeners[0], nil
		},
		inFlight: func(t *testing.T) (<-chan struct{}, func(*testing.T, *running, Config)) {
			return reached, func(t *testing.T, ru *running, cfg Config) {
				keep := newBackend(t, "KEEP", nil)
				next, err := New(Config{LB: lbWith(keep.target("10.0.4.2:80")), Now: cfg.Now}, ru.lb)
				if err != nil {
					t.Fatal(err)
				}
				t.Cleanup(next.Close)
			}
		},
	}
}

// TestUnparsedRequestsRaw checks the wire bytes of the listener's answer to
// requests Go's parser refuses — the LB page with Connection: close, 272
// bytes for the 400 (alb.md §1.9) — on a plain and an HTTPS listener, and
// the HTTPS line's TLS fields and type; the connection log gets the
// connection's line with the same conn_trace_id.
func TestUnparsedRequestsRaw(t *testing.T) {
	ca := testCA(t)
	be := newBackend(t, "A", nil)
	tg := noHealthCheck(mkTG("alb-tg", be.target("10.0.4.254:80")))
	hl := httpListener(80, forward(tg))
	sl := httpsListener("ELBSecurityPolicy-2016-08", forward(tg), &model.Certificate{ARN: testCertA, DomainName: "alb.example.com"})
	conns := &sinkOf[accesslog.ALBConnectionRecord]{}
	ru := startTracked(t, Config{LB: loadBalancer(hl, sl), Certs: ca, ConnLog: conns.add, Now: func() time.Time { return goldenErrorTime }})
	const page400 = "<html>\r\n<head><title>400 Bad Request</title></head>\r\n<body>\r\n<center><h1>400 Bad Request</h1></center>\r\n</body>\r\n</html>\r\n"
	const head400 = "HTTP/1.1 400 Bad Request\r\nServer: awselb/2.0\r\nDate: Sat, 25 Apr 2026 16:45:16 GMT\r\nContent-Type: text/html\r\nContent-Length: 122\r\nConnection: close\r\n\r\n"
	for i, tc := range []struct {
		name    string
		l       *model.Listener
		request string
		want    string
		logged  string
	}{
		{"plain malformed", hl, "GET / HTTP/1.1 x\r\nHost: www.example.com\r\n\r\n", head400 + page400, "- http://www.example.com:80- -"},
		{"https bad header", sl, "GET / HTTP/1.1\r\nHost: alb.example.com:443\r\nBad Header: x\r\n\r\n", head400 + page400, "- https://alb.example.com:443- -"},
		{"https unknown transfer-encoding", sl, "POST / HTTP/1.1\r\nHost: alb.example.com\r\nTransfer-Encoding: br\r\n\r\n",
			"HTTP/1.1 501 Not Implemented\r\n", "- https://alb.example.com:443- -"},
	} {
		var c net.Conn
		var err error
		if tc.l == sl {
			c, err = tls.Dial("tcp", ru.addrs[sl], &tls.Config{RootCAs: ca.Pool(), ServerName: "alb.example.com", NextProtos: []string{"http/1.1"}})
		} else {
			c, err = net.Dial("tcp", ru.addrs[hl])
		}
		if err != nil {
			t.Fatalf("%s: %v", tc.name, err)
		}
		_ = c.SetDeadline(time.Now().Add(10 * time.Second))
		_, _ = io.WriteString(c, tc.request)
		raw, _ := io.ReadAll(c)
		c.Close()
		if !strings.HasPrefix(string(raw), tc.want) || (tc.want == head400+page400 && len(raw) != 272) {
			t.Errorf("%s: response %q", tc.name, raw)
		}
		rec := ru.sink.wait(t, i+1)[i]
		if rec.Request != tc.logged || rec.SentBytes != int64(len(raw)) || rec.MatchedRulePriority != accesslog.RulePriorityNone ||
			!strings.HasPrefix(rec.ConnTraceID, "TID_") {
			t.Errorf("%s: record %+v", tc.name, rec)
		}
		if tc.l == sl && (rec.Type != "https" || rec.SSLProtocol != "TLSv1.2" || rec.SSLCipher != "ECDHE-ECDSA-AES128-GCM-SHA256" ||
			rec.DomainName != "alb.example.com" || rec.ChosenCertARN != testCertA) {
			t.Errorf("%s: TLS fields %q %q %q %q %q", tc.name, rec.Type, rec.SSLProtocol, rec.SSLCipher, rec.DomainName, rec.ChosenCertARN)
		}
		conns.waitFor(t, "connection line", func(r []*accesslog.ALBConnectionRecord) bool {
			for _, l := range r {
				if l.ConnTraceID == rec.ConnTraceID {
					return true
				}
			}
			return false
		})
	}
}
