package alb

import (
	"bufio"
	"context"
	"crypto/rand"
	"crypto/rsa"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"io"
	"math/big"
	"net"
	"net/http"
	"os/exec"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/kumo-dev/kumo/internal/model"
	"github.com/kumo-dev/kumo/internal/tooltest"
)

// rawExchange sends raw on a fresh connection and returns the response
// head as received (status line and header lines), the parsed response and
// whether the server closed the connection afterwards. Whether it closed is
// learnt without waiting: a probe request (GET /__probe) follows on the same
// connection, and an open connection answers it.
func rawExchange(t *testing.T, addr, raw string) (string, *http.Response, bool) {
	t.Helper()
	c, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	_ = c.SetDeadline(time.Now().Add(10 * time.Second))
	if _, err := io.WriteString(c, raw); err != nil {
		t.Fatal(err)
	}
	br := bufio.NewReader(c)
	var head strings.Builder
	for {
		line, err := br.ReadString('\n')
		if err != nil {
			t.Fatalf("read head: %v (got %q)", err, head.String())
		}
		head.WriteString(line)
		if line == "\r\n" {
			break
		}
	}
	resp, err := http.ReadResponse(bufio.NewReader(io.MultiReader(strings.NewReader(head.String()), br)), nil)
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	// Whatever ReadResponse buffered beyond the body is lost with its reader;
	// the response has a Content-Length, so it read exactly the body.
	_ = body
	_, _ = io.WriteString(c, "GET /__probe HTTP/1.1\r\nHost: probe\r\n\r\n")
	probe, err := http.ReadResponse(br, nil)
	if err != nil {
		return head.String(), resp, true
	}
	probe.Body.Close()
	return head.String(), resp, false
}

// echoBackend answers every request with the header lines it received.
func echoBackend(t *testing.T) *backend {
	return newBackend(t, "echo", func(w http.ResponseWriter, r *http.Request) {
		_ = r.Header.Write(w)
	})
}

// TestListenerRefusals drives each listener rule of alb.md §2.1/§4.5
// through a real socket: the status, the Connection semantics on the wire,
// and that the request never reached a target.
func TestListenerRefusals(t *testing.T) {
	be := echoBackend(t)
	tg := noHealthCheck(mkTG("alb-tg", be.target("10.0.4.254:80")))
	l := httpListener(80, forward(tg))
	ru := start(t, Config{LB: loadBalancer(l)})
	req := func(line string, headers ...string) string {
		return line + "\r\nHost: www.example.com\r\n" + strings.Join(headers, "") + "\r\n"
	}
	xff := func(n int) string {
		var a []string
		for i := 0; i < n; i++ {
			a = append(a, "192.0.2.1")
		}
		return "X-Forwarded-For: " + strings.Join(a, ",") + "\r\n"
	}
	for _, tc := range []struct {
		name   string
		raw    string
		status int
		closes bool
	}{
		{"TRACE is 405", req("TRACE / HTTP/1.1"), 405, false},
		{"31 X-Forwarded-For addresses are 463", req("GET / HTTP/1.1", xff(31)), 463, false},
		{"30 X-Forwarded-For addresses pass", req("GET / HTTP/1.1", xff(30)), 200, false},
		{"request line over 16 KB is 414", req("GET /" + strings.Repeat("u", 16<<10) + " HTTP/1.1"), 414, true},
		{"request line of 16 KB passes", req("GET /" + strings.Repeat("u", 16<<10-20) + " HTTP/1.1"), 200, false},
		{"one header over 16 KB is 400", req("GET / HTTP/1.1", "X-A: "+strings.Repeat("a", 16<<10)+"\r\n"), 400, true},
		{"headers over 64 KB are 400", req("GET / HTTP/1.1", strings.Repeat("X-A: "+strings.Repeat("a", 15<<10)+"\r\n", 5)), 400, true},
		{"headers under 64 KB pass", req("GET / HTTP/1.1", strings.Repeat("X-A: "+strings.Repeat("a", 15<<10)+"\r\n", 4)), 200, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			hits := be.hits.Load()
			head, resp, closed := rawExchange(t, ru.addrs[l], tc.raw)
			if resp.StatusCode != tc.status {
				t.Fatalf("status %d, want %d", resp.StatusCode, tc.status)
			}
			if got := strings.Contains(head, "\r\nConnection: close\r\n"); got != tc.closes || closed != tc.closes {
				t.Errorf("Connection: close sent %v, connection closed %v; want %v\n%s", got, closed, tc.closes, head)
			}
			want := int32(0)
			if tc.status == 200 {
				want++
			}
			if !closed {
				want++ // the probe
			}
			if got := be.hits.Load() - hits; got != want {
				t.Errorf("%d requests reached the target, want %d", got, want)
			}
		})
	}
	// An unknown Transfer-Encoding never reaches kumo: Go's server answers
	// it with its own 501 and closes (not AWS's page; documented).
	_, resp, _ := rawExchange(t, ru.addrs[l], req("POST / HTTP/1.1", "Transfer-Encoding: gzip\r\n"))
	if resp.StatusCode != http.StatusNotImplemented {
		t.Errorf("unknown Transfer-Encoding: %d", resp.StatusCode)
	}
}

// TestDesyncMitigationModes checks alb.md §1.8 for the classes kumo can
// observe behind net/http: the classification fields are logged in every
// mode; strictest blocks Acceptable and Ambiguous requests with 400,
// defensive lets Ambiguous ones through and closes the client connection,
// monitor only logs.
func TestDesyncMitigationModes(t *testing.T) {
	cases := []struct {
		name, raw, class, reason string
	}{
		{"compliant", "GET / HTTP/1.1\r\nHost: a\r\n\r\n", "", ""},
		{"GET with Content-Length: 0", "GET / HTTP/1.1\r\nHost: a\r\nContent-Length: 0\r\n\r\n", "Acceptable", "GetHeadZeroContentLength"},
		{"HTTP/1.2", "GET / HTTP/1.2\r\nHost: a\r\n\r\n", "Acceptable", "NonCompliantVersion"},
		{"non-ASCII header value", "GET / HTTP/1.1\r\nHost: a\r\nX-Name: caf\xc3\xa9\r\n\r\n", "Acceptable", "NonCompliantHeader"},
		{"GET with a body", "GET / HTTP/1.1\r\nHost: a\r\nContent-Length: 3\r\n\r\nabc", "Ambiguous", "UndefinedContentLengthSemantics"},
		{"GET chunked", "GET / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nabc\r\n0\r\n\r\n", "Ambiguous", "UndefinedTransferEncodingSemantics"},
		{"Content_Length", "GET / HTTP/1.1\r\nHost: a\r\nContent_Length: 5\r\n\r\n", "Ambiguous", "SuspiciousHeader"},
	}
	for _, mode := range []string{"monitor", "defensive", "strictest"} {
		t.Run(mode, func(t *testing.T) {
			be := echoBackend(t)
			l := httpListener(80, forward(noHealthCheck(mkTG("alb-tg", be.target("10.0.4.254:80")))))
			lbm := loadBalancer(l)
			lbm.Attributes["routing.http.desync_mitigation_mode"] = mode
			ru := start(t, Config{LB: lbm})
			n := 0
			for _, tc := range cases {
				_, resp, closed := rawExchange(t, ru.addrs[l], tc.raw)
				wantStatus, wantClose := 200, false
				switch {
				case mode == "strictest" && tc.class != "":
					wantStatus, wantClose = 400, true
				case mode == "defensive" && tc.class == "Ambiguous":
					wantClose = true
				}
				if resp.StatusCode != wantStatus || closed != wantClose {
					t.Errorf("%s: status %d closed %v, want %d %v", tc.name, resp.StatusCode, closed, wantStatus, wantClose)
				}
				n++ // the case's line
				recs := ru.sink.wait(t, n)
				if !closed {
					n++ // the probe's line
				}
				rec := recs[len(recs)-1]
				for j := len(recs) - 1; j >= 0; j-- {
					if !strings.Contains(recs[j].Request, "/__probe") {
						rec = recs[j]
						break
					}
				}
				if rec.Classification != tc.class || rec.ClassificationReason != tc.reason {
					t.Errorf("%s: logged %q %q, want %q %q", tc.name, rec.Classification, rec.ClassificationReason, tc.class, tc.reason)
				}
			}
		})
	}
	be := newBackend(t, "A", nil)
	lbm := loadBalancer(httpListener(80, forward(noHealthCheck(mkTG("alb-tg", be.target("10.0.4.254:80"))))))
	lbm.Attributes["routing.http.desync_mitigation_mode"] = "paranoid"
	if _, err := New(Config{LB: lbm}, nil); err == nil || !strings.Contains(err.Error(), "monitor, defensive or strictest") {
		t.Errorf("bad mode: %v", err)
	}
}

// TestRoutingHTTPAttributes checks the routing.http.* attributes of alb.md
// §4.1/§6.9 on the request the target receives.
func TestRoutingHTTPAttributes(t *testing.T) {
	ca := testCA(t)
	for _, tc := range []struct {
		name   string
		attrs  map[string]string
		header map[string]string
		want   []string // header lines the target must see
		absent []string // header names the target must not see
	}{
		{"xff append with client port", map[string]string{"routing.http.xff_client_port.enabled": "true"},
			map[string]string{"X-Forwarded-For": "203.0.113.7"}, []string{"X-Forwarded-For: 203.0.113.7, 127.0.0.1:"}, nil},
		{"xff preserve", map[string]string{"routing.http.xff_header_processing.mode": "preserve"},
			map[string]string{"X-Forwarded-For": "203.0.113.7"}, []string{"X-Forwarded-For: 203.0.113.7\r\n"}, nil},
		{"xff remove", map[string]string{"routing.http.xff_header_processing.mode": "remove"},
			map[string]string{"X-Forwarded-For": "203.0.113.7"}, nil, []string{"X-Forwarded-For"}},
		{"invalid header fields dropped", map[string]string{"routing.http.drop_invalid_header_fields.enabled": "true"},
			map[string]string{"X_Under": "1", "X-Dash": "2"}, []string{"x-dash: 2"}, []string{"x_under"}},
		{"invalid header fields kept by default", nil,
			map[string]string{"X_Under": "1"}, []string{"x_under: 1"}, nil},
		{"TLS version and cipher headers", map[string]string{"routing.http.x_amzn_tls_version_and_cipher_suite.enabled": "true"},
			nil, []string{"X-Amzn-Tls-Version: TLSv1.2", "X-Amzn-Tls-Cipher-Suite: ECDHE-ECDSA-AES128-GCM-SHA256"}, nil},
		{"no TLS headers by default", nil, nil, nil, []string{"X-Amzn-Tls-Version", "X-Amzn-Tls-Cipher-Suite"}},
		{"preserve host header", map[string]string{"routing.http.preserve_host_header.enabled": "true"},
			map[string]string{"Host": "alb.example.com:443"}, nil, nil},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var mu sync.Mutex
			var gotHost string
			be := newBackend(t, "echo", func(w http.ResponseWriter, r *http.Request) {
				mu.Lock()
				gotHost = r.Host
				mu.Unlock()
				_ = r.Header.Write(w)
			})
			l := httpsListener("ELBSecurityPolicy-2016-08", forward(noHealthCheck(mkTG("alb-tg", be.target("10.0.4.254:80")))),
				&model.Certificate{ARN: testCertA, DomainName: "alb.example.com"})
			lbm := loadBalancer(l)
			for k, v := range tc.attrs {
				lbm.Attributes[k] = v
			}
			ru := start(t, Config{LB: lbm, Certs: ca})
			hdr := map[string]string{"Host": "alb.example.com"}
			for k, v := range tc.header {
				hdr[k] = v
			}
			_, body := get(t, tlsClient(ca.Pool(), "alb.example.com", false), "https://"+ru.addrs[l]+"/", hdr)
			lower := strings.ToLower(body)
			for _, w := range tc.want {
				if !strings.Contains(lower, strings.ToLower(w)) {
					t.Errorf("target lacks %q:\n%s", w, body)
				}
			}
			for _, a := range tc.absent {
				if strings.Contains(lower, strings.ToLower(a)+":") {
					t.Errorf("target got %s:\n%s", a, body)
				}
			}
			if tc.attrs["routing.http.preserve_host_header.enabled"] == "true" {
				mu.Lock()
				defer mu.Unlock()
				if gotHost != "alb.example.com:443" {
					t.Errorf("Host %q, want it preserved", gotHost)
				}
			}
		})
	}
}

// rsaCerts serves one RSA 2048 certificate for every modeled certificate,
// so that RSA-only cipher suites (AES128-SHA) can be negotiated.
type rsaCerts struct{ cert *tls.Certificate }

func (c rsaCerts) ForCertificate(*model.Certificate) (*tls.Certificate, error) { return c.cert, nil }

func newRSACerts(t *testing.T) rsaCerts {
	t.Helper()
	key, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "alb.example.com"},
		DNSNames: []string{"alb.example.com"}, NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(24 * time.Hour),
		KeyUsage: x509.KeyUsageDigitalSignature | x509.KeyUsageKeyEncipherment, ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth}}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	return rsaCerts{cert: &tls.Certificate{Certificate: [][]byte{der}, PrivateKey: key}}
}

// TestSecurityPolicyOpenSSL checks the security policies of alb.md §3.2
// with openssl s_client: the protocols and ciphers each policy accepts
// and refuses.
func TestSecurityPolicyOpenSSL(t *testing.T) {
	openssl := tooltest.Require(t, "openssl")
	certs := newRSACerts(t)
	be := newBackend(t, "A", nil)
	addrs := map[string]string{}
	for _, p := range []string{"ELBSecurityPolicy-2016-08", "ELBSecurityPolicy-TLS13-1-2-2021-06", "ELBSecurityPolicy-TLS13-1-3-2021-06", "ELBSecurityPolicy-FS-1-2-Res-2020-10"} {
		l := httpsListener(p, forward(noHealthCheck(mkTG("alb-tg", be.target("10.0.4.254:80")))),
			&model.Certificate{ARN: testCertA, DomainName: "alb.example.com"})
		addrs[p] = start(t, Config{LB: loadBalancer(l), Certs: certs}).addrs[l]
	}
	for _, tc := range []struct {
		policy string
		args   []string
		ok     bool
		want   string // in s_client's output on success
	}{
		{"ELBSecurityPolicy-2016-08", []string{"-tls1_3"}, false, ""},
		{"ELBSecurityPolicy-2016-08", []string{"-tls1_2", "-cipher", "AES128-SHA"}, true, "AES128-SHA"},
		{"ELBSecurityPolicy-2016-08", []string{"-tls1_2", "-cipher", "ECDHE-RSA-AES128-SHA"}, true, "ECDHE-RSA-AES128-SHA"},
		{"ELBSecurityPolicy-2016-08", []string{"-tls1", "-cipher", "ECDHE-RSA-AES128-SHA:@SECLEVEL=0"}, true, "TLSv1"},
		{"ELBSecurityPolicy-2016-08", []string{"-tls1_2", "-cipher", "DES-CBC3-SHA:@SECLEVEL=0"}, false, ""},
		{"ELBSecurityPolicy-TLS13-1-2-2021-06", []string{"-tls1_3"}, true, "TLSv1.3"},
		{"ELBSecurityPolicy-TLS13-1-2-2021-06", []string{"-tls1_2", "-cipher", "AES128-SHA"}, false, ""},
		{"ELBSecurityPolicy-TLS13-1-2-2021-06", []string{"-tls1_2", "-cipher", "ECDHE-RSA-AES128-SHA256"}, true, "ECDHE-RSA-AES128-SHA256"},
		{"ELBSecurityPolicy-TLS13-1-2-2021-06", []string{"-tls1", "-cipher", "ECDHE-RSA-AES128-SHA:@SECLEVEL=0"}, false, ""},
		{"ELBSecurityPolicy-TLS13-1-3-2021-06", []string{"-tls1_2"}, false, ""},
		{"ELBSecurityPolicy-TLS13-1-3-2021-06", []string{"-tls1_3"}, true, "TLSv1.3"},
		{"ELBSecurityPolicy-FS-1-2-Res-2020-10", []string{"-tls1_2", "-cipher", "ECDHE-RSA-AES128-SHA256"}, false, ""},
		{"ELBSecurityPolicy-FS-1-2-Res-2020-10", []string{"-tls1_2", "-cipher", "ECDHE-RSA-AES256-GCM-SHA384"}, true, "ECDHE-RSA-AES256-GCM-SHA384"},
	} {
		t.Run(tc.policy+" "+strings.Join(tc.args, " "), func(t *testing.T) {
			ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
			defer cancel()
			args := append([]string{"s_client", "-connect", addrs[tc.policy], "-servername", "alb.example.com"}, tc.args...)
			cmd := exec.CommandContext(ctx, openssl, args...)
			cmd.Stdin = strings.NewReader("")
			out, err := cmd.CombinedOutput()
			ok := err == nil && strings.Contains(string(out), "Cipher is ") && !strings.Contains(string(out), "Cipher is (NONE)")
			if ok != tc.ok {
				t.Fatalf("handshake ok=%v, want %v\n%s", ok, tc.ok, out)
			}
			if tc.ok && !strings.Contains(string(out), tc.want) {
				t.Errorf("output lacks %q:\n%s", tc.want, out)
			}
		})
	}
}

// TestClientKeepAlive checks client_keep_alive.seconds (alb.md §2.4): a
// client connection older than the keep-alive is closed after its next
// response (Connection: close); a younger one stays open. The load
// balancer's clock is moved instead of waiting.
func TestClientKeepAlive(t *testing.T) {
	be := newBackend(t, "A", nil)
	l := httpListener(80, forward(noHealthCheck(mkTG("alb-tg", be.target("10.0.4.254:80")))))
	lbm := loadBalancer(l)
	lbm.Attributes["client_keep_alive.seconds"] = "60"
	var mu sync.Mutex
	offset := time.Duration(0)
	now := func() time.Time { mu.Lock(); defer mu.Unlock(); return time.Now().Add(offset) }
	ru := start(t, Config{LB: lbm, Now: now})
	const req = "GET / HTTP/1.1\r\nHost: a\r\n\r\n"
	if head, resp, closed := rawExchange(t, ru.addrs[l], req); resp.StatusCode != 200 || closed || strings.Contains(head, "Connection: close") {
		t.Fatalf("young connection: %d closed=%v\n%s", resp.StatusCode, closed, head)
	}
	mu.Lock()
	offset = 61 * time.Second
	mu.Unlock()
	if head, resp, closed := rawExchange(t, ru.addrs[l], req); resp.StatusCode != 200 || !closed || !strings.Contains(head, "\r\nConnection: close\r\n") {
		t.Fatalf("old connection: %d closed=%v\n%s", resp.StatusCode, closed, head)
	}
	for _, bad := range []string{"59", "604801", "x"} {
		lbm := loadBalancer(httpListener(80, forward(noHealthCheck(mkTG("alb-tg", be.target("10.0.4.254:80"))))))
		lbm.Attributes["client_keep_alive.seconds"] = bad
		if _, err := New(Config{LB: lbm}, nil); err == nil || !strings.Contains(err.Error(), "60-604800") {
			t.Errorf("client_keep_alive.seconds=%s: %v", bad, err)
		}
	}
}
