package alb

import (
	"crypto/tls"
	"io"
	"net/http"
	"net/http/httptest"
	"slices"
	"testing"
	"time"

	"github.com/kumo-dev/kumo/internal/accesslog"
	"github.com/kumo-dev/kumo/internal/model"
	"github.com/kumo-dev/kumo/internal/pki"
)

func newTLSBackend(t *testing.T) string {
	t.Helper()
	srv := httptest.NewTLSServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		_, _ = io.WriteString(w, "tls-target")
	}))
	t.Cleanup(srv.Close)
	return srv.Listener.Addr().String()
}

func httpsListener(policy string, actions []*model.Action, certs ...*model.Certificate) *model.Listener {
	return &model.Listener{
		ARN:      "arn:aws:elasticloadbalancing:ap-northeast-1:123456789012:listener/app/alb-test/96e12a2c8669fbe5/443",
		Protocol: "HTTPS", Port: 443, SslPolicy: policy, Certificates: certs, DefaultActions: actions,
	}
}

func TestSNICertificateChoice(t *testing.T) {
	ca := testCA(t)
	be := newBackend(t, "A", nil)
	tg := mkTG("alb-tg", be.target("10.0.4.254:80"))
	tg.HealthCheck.Enabled = false
	l := httpsListener("", forward(tg),
		&model.Certificate{ARN: testCertA, DomainName: "alb.example.com"},
		&model.Certificate{ARN: testCertB, DomainName: "*.other.example", SubjectAlternativeNames: []string{"other.example"}})
	ru := start(t, Config{LB: loadBalancer(l), Certs: ca})
	addr := ru.addrs[l]
	for _, tc := range []struct {
		sni      string
		wantName string
	}{
		{"alb.example.com", "alb.example.com"},
		{"ALB.Example.COM", "alb.example.com"},
		{"www.other.example", "*.other.example"},
		{"other.example", "*.other.example"},
		{"a.b.other.example", "alb.example.com"}, // wildcard covers one label only → default
		{"unknown.example.net", "alb.example.com"},
		{"", "alb.example.com"},
	} {
		t.Run(tc.sni, func(t *testing.T) {
			conn, err := tls.Dial("tcp", addr, &tls.Config{ServerName: tc.sni, InsecureSkipVerify: true})
			if err != nil {
				t.Fatalf("handshake: %v", err)
			}
			defer conn.Close()
			leaf := conn.ConnectionState().PeerCertificates[0]
			if !slices.Contains(leaf.DNSNames, tc.wantName) {
				t.Fatalf("SNI %q got certificate for %v, want %s", tc.sni, leaf.DNSNames, tc.wantName)
			}
		})
	}

	// The access log names the SNI and the chosen certificate.
	c := tlsClient(ca.Pool(), "www.other.example", false)
	resp, _ := get(t, c, "https://"+addr+"/", map[string]string{"User-Agent": "ua", "Host": "www.other.example"})
	if resp.StatusCode != 200 {
		t.Fatalf("status %d", resp.StatusCode)
	}
	rec := ru.sink.wait(t, 1)[0]
	checkRecord(t, rec, accesslog.ALBRecord{
		Type: "https", ELB: testLBFullName, Target: "10.0.4.254:80",
		ELBStatus: 200, TargetStatus: 200, Request: "GET https://www.other.example:443/ HTTP/1.1", UserAgent: "ua",
		SSLCipher: "ECDHE-ECDSA-AES128-GCM-SHA256", SSLProtocol: "TLSv1.2",
		TargetGroupARN: testTGARN, DomainName: "www.other.example", ChosenCertARN: testCertB, ActionsExecuted: "forward",
	})
}

func TestTLS12PolicyAndCipherName(t *testing.T) {
	ca := testCA(t)
	be := newBackend(t, "A", nil)
	tg := mkTG("alb-tg", be.target("10.0.4.254:80"))
	tg.HealthCheck.Enabled = false
	l := httpsListener("ELBSecurityPolicy-2016-08", forward(tg), &model.Certificate{ARN: testCertA, DomainName: "alb.example.com"})
	ru := start(t, Config{LB: loadBalancer(l), Certs: ca})

	// 2016-08 has no TLS 1.3.
	conn, err := tls.Dial("tcp", ru.addrs[l], &tls.Config{ServerName: "alb.example.com", RootCAs: ca.Pool(), MinVersion: tls.VersionTLS13})
	if err == nil {
		conn.Close()
		t.Fatal("TLS 1.3 handshake succeeded on ELBSecurityPolicy-2016-08")
	}
	c := tlsClient(ca.Pool(), "alb.example.com", false)
	get(t, c, "https://"+ru.addrs[l]+"/", map[string]string{"User-Agent": "ua", "Host": "alb.example.com"})
	rec := ru.sink.wait(t, 1)[0]
	if rec.SSLProtocol != "TLSv1.2" || rec.SSLCipher != "ECDHE-ECDSA-AES128-GCM-SHA256" || rec.ChosenCertARN != testCertA || rec.Type != "https" {
		t.Fatalf("ssl fields: %q %q %q %q", rec.SSLProtocol, rec.SSLCipher, rec.ChosenCertARN, rec.Type)
	}

	// A resumed session logs "session-reused".
	cache := tls.NewLRUClientSessionCache(4)
	tr := &http.Transport{TLSClientConfig: &tls.Config{RootCAs: ca.Pool(), ServerName: "alb.example.com", ClientSessionCache: cache},
		TLSNextProto: map[string]func(string, *tls.Conn) http.RoundTripper{}, DisableKeepAlives: true}
	rc := &http.Client{Transport: tr, Timeout: 10 * time.Second}
	get(t, rc, "https://"+ru.addrs[l]+"/", nil)
	get(t, rc, "https://"+ru.addrs[l]+"/", nil)
	recs := ru.sink.wait(t, 3)
	if recs[2].ChosenCertARN != "session-reused" {
		t.Fatalf("resumed session logged chosen_cert_arn %q", recs[2].ChosenCertARN)
	}
}

func TestHTTP2RecordType(t *testing.T) {
	ca := testCA(t)
	be := newBackend(t, "A", nil)
	tg := mkTG("alb-tg", be.target("10.0.4.254:80"))
	tg.HealthCheck.Enabled = false
	l := httpsListener("ELBSecurityPolicy-TLS13-1-2-2021-06", forward(tg), &model.Certificate{ARN: testCertA, DomainName: "alb.example.com"})
	ru := start(t, Config{LB: loadBalancer(l), Certs: ca})
	resp, body := get(t, tlsClient(ca.Pool(), "alb.example.com", true), "https://"+ru.addrs[l]+"/h2?q", map[string]string{"User-Agent": "h2ua", "Host": "alb.example.com"})
	if resp.ProtoMajor != 2 || body != "A" {
		t.Fatalf("proto %s body %q", resp.Proto, body)
	}
	checkRecord(t, ru.sink.wait(t, 1)[0], accesslog.ALBRecord{
		Type: "h2", ELB: testLBFullName, Target: "10.0.4.254:80", ELBStatus: 200, TargetStatus: 200,
		Request: "GET https://alb.example.com:443/h2?q HTTP/2.0", UserAgent: "h2ua",
		SSLCipher: "TLS_AES_128_GCM_SHA256", SSLProtocol: "TLSv1.3", TargetGroupARN: testTGARN,
		DomainName: "alb.example.com", ChosenCertARN: testCertA, ActionsExecuted: "forward",
	})
}

// TestHTTP2AttributeOff: routing.http2.enabled=false keeps clients on
// HTTP/1.1 (no h2 in ALPN), logged as type https.
func TestHTTP2AttributeOff(t *testing.T) {
	ca := testCA(t)
	be := newBackend(t, "A", nil)
	tg := mkTG("alb-tg", be.target("10.0.4.254:80"))
	tg.HealthCheck.Enabled = false
	l := httpsListener("ELBSecurityPolicy-TLS13-1-2-2021-06", forward(tg), &model.Certificate{ARN: testCertA, DomainName: "alb.example.com"})
	lb := loadBalancer(l)
	lb.Attributes = map[string]string{"routing.http2.enabled": "false"}
	ru := start(t, Config{LB: lb, Certs: ca})
	resp, body := get(t, tlsClient(ca.Pool(), "alb.example.com", true), "https://"+ru.addrs[l]+"/", map[string]string{"Host": "alb.example.com"})
	if resp.ProtoMajor != 1 || body != "A" {
		t.Fatalf("proto %s body %q, want HTTP/1.1", resp.Proto, body)
	}
	if rec := ru.sink.wait(t, 1)[0]; rec.Type != "https" {
		t.Errorf("log type %q, want https", rec.Type)
	}
}

func TestSelectCertificateOrdering(t *testing.T) {
	now := time.Now()
	mk := func(arn string, ecdsa bool, bits int, notAfter time.Time, names ...string) *serverCert {
		return &serverCert{arn: arn, ecdsa: ecdsa, keyBits: bits, notAfter: notAfter, names: names}
	}
	certs := []*serverCert{
		mk("default", false, 2048, now, "alb.example.com"),
		mk("rsa2048", false, 2048, now, "*.example.org"),
		mk("rsa4096", false, 4096, now, "www.example.org"),
		mk("ecdsa", true, 256, now, "www.example.org", "*.example.org"),
		mk("late", false, 2048, now.Add(time.Hour), "api.example.net"),
		mk("early", false, 2048, now, "api.example.net"),
	}
	for _, tc := range []struct {
		sni     string
		ecdsaOK bool
		want    string
	}{
		{"", true, "default"},
		{"nomatch.example", true, "default"},
		{"www.example.org", true, "ecdsa"},
		{"www.example.org", false, "rsa4096"},
		{"img.example.org", false, "rsa2048"},
		{"img.example.org", true, "ecdsa"},
		{"api.example.net", true, "late"},
		{"ALB.EXAMPLE.COM.", true, "default"},
	} {
		if got := selectCertificate(certs, tc.sni, tc.ecdsaOK).arn; got != tc.want {
			t.Errorf("selectCertificate(%q, ecdsa=%v) = %s, want %s", tc.sni, tc.ecdsaOK, got, tc.want)
		}
	}
}

func TestSelfSignedRSACertificateRejectedUnsupportedPolicy(t *testing.T) {
	l := httpsListener("ELBSecurityPolicy-Nope", forward(mkTG("alb-tg")), &model.Certificate{ARN: testCertA, DomainName: "alb.example.com"})
	if _, err := New(Config{LB: loadBalancer(l), Certs: testCA(t)}, nil); err == nil {
		t.Fatal("unknown SslPolicy accepted")
	}
	l = httpsListener("", forward(mkTG("alb-tg")))
	if _, err := New(Config{LB: loadBalancer(l), Certs: testCA(t)}, nil); err == nil {
		t.Fatal("HTTPS listener without certificate accepted")
	}
	// A certificate from somewhere else than the CA still works (SelfSigned).
	ss, err := pki.SelfSigned([]string{"self.example"}, time.Now().Add(-time.Hour), time.Now().Add(time.Hour))
	if err != nil {
		t.Fatal(err)
	}
	sc, err := newServerCert("arn", ss, securityPolicies()[defaultSecurityPolicy])
	if err != nil || !slices.Equal(sc.names, []string{"self.example"}) {
		t.Fatalf("newServerCert: %v %v", sc, err)
	}
}
