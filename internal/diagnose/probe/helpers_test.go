package probe_test

import (
	"context"
	"crypto"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/binary"
	"math/big"
	"net"
	"net/http"
	"testing"
	"time"

	"github.com/kumo-dev/kumo/internal/serve"
)

// testCert is a certificate and its key.
type testCert struct {
	cert *x509.Certificate
	der  []byte
	key  crypto.Signer
}

// testPKI is a root CA and an intermediate CA, built for one test.
type testPKI struct {
	t     *testing.T
	root  *testCert
	inter *testCert
}

func newKey(t *testing.T) crypto.Signer {
	t.Helper()
	k, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	return k
}

// sign creates a certificate from tmpl signed by parent (nil: self-signed).
func sign(t *testing.T, tmpl *x509.Certificate, parent *testCert) *testCert {
	t.Helper()
	key := newKey(t)
	sn, err := rand.Int(rand.Reader, new(big.Int).Lsh(big.NewInt(1), 64))
	if err != nil {
		t.Fatal(err)
	}
	tmpl.SerialNumber = sn
	p, pk := tmpl, key
	if parent != nil {
		p, pk = parent.cert, parent.key
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, p, key.Public(), pk)
	if err != nil {
		t.Fatal(err)
	}
	c, err := x509.ParseCertificate(der)
	if err != nil {
		t.Fatal(err)
	}
	return &testCert{cert: c, der: der, key: key}
}

func caTemplate(cn string) *x509.Certificate {
	now := time.Now()
	return &x509.Certificate{
		Subject:   pkix.Name{CommonName: cn, Organization: []string{"probe test"}},
		NotBefore: now.Add(-24 * time.Hour), NotAfter: now.Add(365 * 24 * time.Hour),
		KeyUsage:              x509.KeyUsageCertSign | x509.KeyUsageDigitalSignature,
		BasicConstraintsValid: true, IsCA: true,
	}
}

func newTestPKI(t *testing.T) *testPKI {
	t.Helper()
	p := &testPKI{t: t}
	p.root = sign(t, caTemplate("probe test root"), nil)
	p.inter = sign(t, caTemplate("probe test intermediate"), p.root)
	return p
}

// roots is a pool holding only the test root.
func (p *testPKI) roots() *x509.CertPool {
	pool := x509.NewCertPool()
	pool.AddCert(p.root.cert)
	return pool
}

// leafOpts shape a leaf certificate.
type leafOpts struct {
	names      []string
	expired    bool
	selfSigned bool
}

// leaf issues a server certificate (CN = first name, SANs = names) by the
// intermediate, or self-signed.
func (p *testPKI) leaf(o leafOpts) *testCert {
	now := time.Now()
	tmpl := &x509.Certificate{
		Subject:     pkix.Name{CommonName: o.names[0]},
		DNSNames:    o.names,
		NotBefore:   now.Add(-time.Hour),
		NotAfter:    now.Add(90 * 24 * time.Hour),
		KeyUsage:    x509.KeyUsageDigitalSignature,
		ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
	}
	if o.expired {
		tmpl.NotBefore, tmpl.NotAfter = now.Add(-60*24*time.Hour), now.Add(-24*time.Hour)
	}
	if o.selfSigned {
		return sign(p.t, tmpl, nil)
	}
	return sign(p.t, tmpl, p.inter)
}

// chain builds the tls.Certificate a server sends: leaf then extra, as given.
func chain(leaf *testCert, extra ...*testCert) *tls.Certificate {
	tc := &tls.Certificate{Certificate: [][]byte{leaf.der}, PrivateKey: leaf.key, Leaf: leaf.cert}
	for _, c := range extra {
		tc.Certificate = append(tc.Certificate, c.der)
	}
	return tc
}

// serverOpts shape a test origin.
type serverOpts struct {
	minTLS, maxTLS uint16
	clientAuth     bool
}

// startOrigin serves HTTPS with cert on a loopback port and returns the
// address.
func startOrigin(t *testing.T, cert *tls.Certificate, o serverOpts) string {
	t.Helper()
	cfg := &tls.Config{Certificates: []tls.Certificate{*cert}, MinVersion: o.minTLS, MaxVersion: o.maxTLS}
	if cfg.MinVersion == 0 {
		cfg.MinVersion = tls.VersionTLS12
	}
	if o.clientAuth {
		cfg.ClientAuth = tls.RequireAnyClientCert
	}
	h := http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) { _, _ = w.Write([]byte("origin\n")) })
	srv, err := serve.Listen("127.0.0.1:0", serve.Plane{Handler: h,
		TLS: func(*tls.ClientHelloInfo) (*tls.Config, error) { return cfg, nil }}, serve.Options{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		_ = srv.Shutdown(ctx)
	})
	return srv.Addr()
}

// nxdomainResolver returns a resolver whose only DNS server, on a loopback
// UDP port, answers every query NXDOMAIN.
func nxdomainResolver(t *testing.T) *net.Resolver {
	t.Helper()
	pc, err := net.ListenPacket("udp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { pc.Close() })
	go func() {
		buf := make([]byte, 1500)
		for {
			n, from, err := pc.ReadFrom(buf)
			if err != nil {
				return
			}
			if resp := nxdomain(buf[:n]); resp != nil {
				_, _ = pc.WriteTo(resp, from)
			}
		}
	}()
	addr := pc.LocalAddr().String()
	return &net.Resolver{PreferGo: true, Dial: func(ctx context.Context, _, _ string) (net.Conn, error) {
		var d net.Dialer
		return d.DialContext(ctx, "udp", addr)
	}}
}

// nxdomain builds the NXDOMAIN answer to a one-question query (RFC 1035
// §4.1): the query's ID and question, QR and RA set, RCODE 3.
func nxdomain(q []byte) []byte {
	if len(q) < 12 || binary.BigEndian.Uint16(q[4:]) != 1 {
		return nil
	}
	i := 12
	for i < len(q) && q[i] != 0 {
		i += int(q[i]) + 1
	}
	end := i + 1 + 4
	if end > len(q) {
		return nil
	}
	resp := append([]byte(nil), q[:end]...)
	flags := binary.BigEndian.Uint16(q[2:])
	flags = 0x8000 | (flags & 0x0100) | 0x0080 | 3 // QR, RD copied, RA, NXDOMAIN
	binary.BigEndian.PutUint16(resp[2:], flags)
	binary.BigEndian.PutUint16(resp[6:], 0)  // ANCOUNT
	binary.BigEndian.PutUint16(resp[8:], 0)  // NSCOUNT
	binary.BigEndian.PutUint16(resp[10:], 0) // ARCOUNT
	return resp
}
