package serve

import (
	"bytes"
	"context"
	"crypto/tls"
	"io"
	"net"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/kumo-dev/kumo/internal/pki"
)

// rejectRecorder is a Plane.Reject that records what it was asked and
// answers with replace (or net/http's own response when replace is nil).
type rejectRecorder struct {
	mu      sync.Mutex
	infos   []RejectInfo
	replace []byte
}

func (rr *rejectRecorder) reject(info RejectInfo) ([]byte, bool) {
	rr.mu.Lock()
	defer rr.mu.Unlock()
	rr.infos = append(rr.infos, info)
	return rr.replace, rr.replace != nil
}

func (rr *rejectRecorder) calls() []RejectInfo {
	rr.mu.Lock()
	defer rr.mu.Unlock()
	return append([]RejectInfo(nil), rr.infos...)
}

func internalTLSConfig(t *testing.T) TLSConfigFunc {
	t.Helper()
	ca, err := pki.Open(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	cert, err := ca.Issue([]string{"svc.example.com"})
	if err != nil {
		t.Fatal(err)
	}
	return func(*tls.ClientHelloInfo) (*tls.Config, error) {
		return &tls.Config{Certificates: []tls.Certificate{*cert}}, nil
	}
}

func startInternal(t *testing.T, p Plane, opt Options) *Server {
	t.Helper()
	s, err := Listen("127.0.0.1:0", p, opt)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		_ = s.Shutdown(ctx)
	})
	return s
}

// rawExchange sends raw on a new connection (TLS when useTLS) and returns
// everything the server sent until it closed the connection.
func rawExchange(t *testing.T, addr string, useTLS bool, raw ...string) []byte {
	t.Helper()
	var c net.Conn
	var err error
	if useTLS {
		c, err = tls.Dial("tcp", addr, &tls.Config{InsecureSkipVerify: true, ServerName: "svc.example.com", NextProtos: []string{"http/1.1"}})
	} else {
		c, err = net.Dial("tcp", addr)
	}
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	_ = c.SetDeadline(time.Now().Add(10 * time.Second))
	for _, r := range raw {
		if _, err := io.WriteString(c, r); err != nil {
			t.Fatalf("write: %v", err)
		}
	}
	b, err := io.ReadAll(c)
	if err != nil && len(b) == 0 {
		t.Fatalf("read: %v", err)
	}
	return b
}

func rejectEntry(t *testing.T, kind RejectKind) (int, string) {
	t.Helper()
	for _, e := range rejectTable {
		if e.kind == kind {
			return e.status, e.response
		}
	}
	t.Fatalf("no rejectTable entry for %s", kind)
	return 0, ""
}

// rejectRequests drives net/http (Go 1.26.8) to each of its own error
// responses. RejectInvalidHeaderValue cannot be reached: net/textproto
// refuses such a value first (the generic 400); the row checks that it
// stays so.
var rejectRequests = []struct {
	name    string
	request string
	kind    RejectKind
}{
	{"malformed request line", "GET /a HTTP/1.1 x\r\nHost: h.example\r\n\r\n", RejectMalformedRequest},
	{"not HTTP", "HELLO\r\n\r\n", RejectMalformedRequest},
	{"missing Host", "GET / HTTP/1.1\r\nX: a\r\n\r\n", RejectMissingHost},
	{"malformed Host", "GET / HTTP/1.1\r\nHost: a/b\r\n\r\n", RejectMalformedHost},
	{"invalid header name", "GET / HTTP/1.1\r\nHost: h.example\r\nBad Header: x\r\n\r\n", RejectInvalidHeaderName},
	{"control byte in a header value", "GET / HTTP/1.1\r\nHost: h.example\r\nX: a\x01b\r\n\r\n", RejectMalformedRequest},
	{"headers over MaxHeaderBytes", "GET / HTTP/1.1\r\nHost: h.example\r\n" +
		strings.Repeat("X-A: "+strings.Repeat("a", 1000)+"\r\n", 1100) + "\r\n", RejectHeaderFieldsTooLarge},
	{"unknown Transfer-Encoding", "POST / HTTP/1.1\r\nHost: h.example\r\nTransfer-Encoding: gzip\r\n\r\n", RejectUnsupportedTransferEncoding},
	{"HTTP/2.0 on HTTP/1", "GET / HTTP/2.0\r\nHost: h.example\r\n\r\n", RejectHTTPVersionNotSupported},
}

// TestRejectTableMatchesNetHTTP checks every rejectTable entry byte for
// byte against what net/http writes, on a plain and a TLS listener: with
// Reject declining, the client gets net/http's response, which must be the
// table's; with Reject answering, the client gets Reject's bytes instead.
// A Go release that changes one of net/http's responses fails here.
func TestRejectTableMatchesNetHTTP(t *testing.T) {
	covered := map[RejectKind]bool{RejectInvalidHeaderValue: true} // unreachable, see rejectRequests
	for _, rr := range rejectRequests {
		covered[rr.kind] = true
	}
	for _, e := range rejectTable {
		if !covered[e.kind] {
			t.Errorf("rejectTable entry %s has no request in rejectRequests", e.kind)
		}
	}
	tlsCfg := internalTLSConfig(t)
	handler := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { io.WriteString(w, "handled") })
	for _, useTLS := range []bool{false, true} {
		for _, replace := range []bool{false, true} {
			rec := &rejectRecorder{}
			if replace {
				rec.replace = []byte("HTTP/1.1 400 Bad Request\r\nServer: test\r\nContent-Length: 4\r\nConnection: close\r\n\r\nmine")
			}
			p := Plane{Handler: handler, Reject: rec.reject}
			if useTLS {
				p.TLS = tlsCfg
			}
			s := startInternal(t, p, Options{HTTP2: true})
			for i, rq := range rejectRequests {
				name := rq.name
				if useTLS {
					name += " over TLS"
				}
				got := rawExchange(t, s.Addr(), useTLS, rq.request)
				status, netHTTP := rejectEntry(t, rq.kind)
				want := []byte(netHTTP)
				if replace {
					want = rec.replace
				}
				if !bytes.Equal(got, want) {
					t.Errorf("%s: got %q, want %q", name, got, want)
				}
				calls := rec.calls()
				if len(calls) != i+1 {
					t.Fatalf("%s: Reject called %d times in all, want %d", name, len(calls), i+1)
				}
				info := calls[i]
				if info.Kind != rq.kind || info.Status != status || string(info.Response) != netHTTP {
					t.Errorf("%s: info kind %s status %d response %q", name, info.Kind, info.Status, info.Response)
				}
				if info.Conn == nil || !strings.HasPrefix(info.Conn.TraceID, "TID_") {
					t.Errorf("%s: ConnInfo %+v", name, info.Conn)
				}
				if (info.TLS != nil) != useTLS || (useTLS && info.TLS.ServerName != "svc.example.com") {
					t.Errorf("%s: TLS state %+v", name, info.TLS)
				}
				n := min(len(rq.request), headMax, 64)
				if !bytes.HasPrefix(info.Head, []byte(rq.request[:n])) || len(info.Head) > headMax {
					t.Errorf("%s: Head %q (%d bytes)", name, info.Head[:min(len(info.Head), 64)], len(info.Head))
				}
			}
		}
	}
}

// TestRejectLaterRequest: a refused request after served ones on a
// keep-alive connection is offered to Reject too, without Head; a handler
// that writes bytes equal to a net/http error response (here on a
// hijacked connection) is never taken for net/http.
func TestRejectLaterRequest(t *testing.T) {
	_, netHTTP := rejectEntry(t, RejectMalformedRequest)
	rec := &rejectRecorder{replace: []byte("HTTP/1.1 400 Bad Request\r\nContent-Length: 0\r\nConnection: close\r\n\r\n")}
	s := startInternal(t, Plane{Reject: rec.reject, Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/hijack" {
			c, _, err := http.NewResponseController(w).Hijack()
			if err != nil {
				t.Error(err)
				return
			}
			io.WriteString(c, netHTTP)
			c.Close()
			return
		}
		io.WriteString(w, "ok")
	})}, Options{})
	got := rawExchange(t, s.Addr(), false, "GET / HTTP/1.1\r\nHost: h.example\r\n\r\n", "HELLO\r\n\r\n")
	if !bytes.HasPrefix(got, []byte("HTTP/1.1 200 OK\r\n")) || !bytes.HasSuffix(got, rec.replace) {
		t.Errorf("keep-alive exchange %q", got)
	}
	calls := rec.calls()
	if len(calls) != 1 || calls[0].Kind != RejectMalformedRequest || calls[0].Head != nil {
		t.Fatalf("Reject calls %+v", calls)
	}
	if got := rawExchange(t, s.Addr(), false, "GET /hijack HTTP/1.1\r\nHost: h.example\r\n\r\n"); string(got) != netHTTP {
		t.Errorf("hijacked handler's bytes %q", got)
	}
	if n := len(rec.calls()); n != 1 {
		t.Errorf("Reject called for a handler's bytes (%d calls)", n)
	}
}

// TestPlainHTTPToTLSPort keeps net/http's answer to a client that speaks
// plain HTTP to a TLS listener, now that serve runs the handshake.
func TestPlainHTTPToTLSPort(t *testing.T) {
	s := startInternal(t, Plane{Handler: http.NotFoundHandler(), TLS: internalTLSConfig(t)}, Options{})
	if got := rawExchange(t, s.Addr(), false, "GET / HTTP/1.1\r\nHost: h.example\r\n\r\n"); string(got) != plainHTTPOnTLS {
		t.Errorf("got %q", got)
	}
}
