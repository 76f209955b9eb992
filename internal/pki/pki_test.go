package pki

import (
	"bytes"
	"crypto/tls"
	"crypto/x509"
	"encoding/pem"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/kumo-dev/kumo/internal/model"
)

func openCA(t *testing.T) (*CA, string) {
	t.Helper()
	dir := t.TempDir()
	ca, err := Open(dir)
	if err != nil {
		t.Fatalf("Open: %v", err)
	}
	return ca, dir
}

func mode(t *testing.T, path string) os.FileMode {
	t.Helper()
	fi, err := os.Stat(path)
	if err != nil {
		t.Fatal(err)
	}
	return fi.Mode().Perm()
}

func TestOpenCreatesFilesWithModes(t *testing.T) {
	ca, dir := openCA(t)
	pdir := filepath.Join(dir, "pki")
	if got := mode(t, pdir); got != 0o700 {
		t.Errorf("pki dir mode = %o, want 700", got)
	}
	if got := mode(t, filepath.Join(pdir, "ca-key.pem")); got != 0o600 {
		t.Errorf("ca-key.pem mode = %o, want 600", got)
	}
	if ca.CertFile() != filepath.Join(pdir, "ca.pem") {
		t.Errorf("CertFile = %q", ca.CertFile())
	}
	data, err := os.ReadFile(ca.CertFile())
	if err != nil {
		t.Fatal(err)
	}
	block, _ := pem.Decode(data)
	if block == nil || block.Type != "CERTIFICATE" {
		t.Fatalf("ca.pem is not a PEM certificate")
	}
	cert, err := x509.ParseCertificate(block.Bytes)
	if err != nil {
		t.Fatal(err)
	}
	if cert.Subject.CommonName != "kumo local CA" || !cert.IsCA {
		t.Errorf("CA subject %q IsCA=%v", cert.Subject.CommonName, cert.IsCA)
	}
	if cert.PublicKeyAlgorithm != x509.ECDSA {
		t.Errorf("CA key algorithm = %v, want ECDSA", cert.PublicKeyAlgorithm)
	}
	if life := cert.NotAfter.Sub(cert.NotBefore); life < 10*365*24*time.Hour {
		t.Errorf("CA lifetime %v, want >= 10 years", life)
	}

	// Issued certificate files: key 0600.
	if _, err := ca.Issue([]string{"alb.example.com"}); err != nil {
		t.Fatal(err)
	}
	keys, _ := filepath.Glob(filepath.Join(pdir, "certs", "*-key.pem"))
	certs, _ := filepath.Glob(filepath.Join(pdir, "certs", "*.pem"))
	if len(keys) != 1 || len(certs) != 2 {
		t.Fatalf("cert files: keys %v, all %v", keys, certs)
	}
	if got := mode(t, keys[0]); got != 0o600 {
		t.Errorf("leaf key mode = %o, want 600", got)
	}
}

func TestReopenLoadsSameCA(t *testing.T) {
	ca1, dir := openCA(t)
	c1, err := ca1.Issue([]string{"www.example.com", "example.com"})
	if err != nil {
		t.Fatal(err)
	}
	ca2, err := Open(dir)
	if err != nil {
		t.Fatal(err)
	}
	if !ca1.cert.Equal(ca2.cert) {
		t.Fatal("reopened CA differs")
	}
	// Same name set in another order: the cached file is reused.
	c2, err := ca2.Issue([]string{"WWW.example.com.", "example.com", "www.example.com"})
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(c1.Certificate[0], c2.Certificate[0]) {
		t.Error("restart did not reuse the issued certificate")
	}
	// A certificate from ca1 verifies against ca2's pool.
	if _, err := c1.Leaf.Verify(x509.VerifyOptions{Roots: ca2.Pool(), DNSName: "www.example.com"}); err != nil {
		t.Errorf("verify against reopened CA: %v", err)
	}
}

func TestOpenErrors(t *testing.T) {
	tests := []struct {
		name    string
		setup   func(t *testing.T, pdir string)
		wantErr string
	}{
		{"key without cert", func(t *testing.T, pdir string) { os.Remove(filepath.Join(pdir, "ca.pem")) }, "ca.pem is missing"},
		{"cert without key", func(t *testing.T, pdir string) { os.Remove(filepath.Join(pdir, "ca-key.pem")) }, "ca-key.pem is missing"},
		{"garbage cert", func(t *testing.T, pdir string) {
			os.WriteFile(filepath.Join(pdir, "ca.pem"), []byte("junk"), 0o644)
		}, "ca.pem"},
		{"other key", func(t *testing.T, pdir string) {
			other := t.TempDir()
			if _, err := Open(other); err != nil {
				t.Fatal(err)
			}
			data, _ := os.ReadFile(filepath.Join(other, "pki", "ca-key.pem"))
			os.WriteFile(filepath.Join(pdir, "ca-key.pem"), data, 0o600)
		}, "does not match"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, dir := openCA(t)
			tt.setup(t, filepath.Join(dir, "pki"))
			_, err := Open(dir)
			if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
				t.Fatalf("Open err = %v, want containing %q", err, tt.wantErr)
			}
		})
	}
	if _, err := Open(""); err == nil {
		t.Error("Open(\"\") succeeded")
	}
}

func TestIssueVerify(t *testing.T) {
	ca, _ := openCA(t)
	tests := []struct {
		names   []string
		ok      []string
		notOK   []string
		ipOK    []string
		wantErr string
	}{
		{names: []string{"alb.example.com"}, ok: []string{"alb.example.com", "ALB.example.com"}, notOK: []string{"alb-test-1234567890.ap-northeast-1.elb.amazonaws.com", "example.com", "x.alb.example.com"}},
		{names: []string{"*.example.com"}, ok: []string{"www.example.com", "alb.example.com"}, notOK: []string{"example.com", "a.b.example.com", "www.example.org"}},
		{names: []string{"*.cloudfront.net", "cloudfront.net"}, ok: []string{"dpekz4s0xzujc.cloudfront.net", "cloudfront.net"}, notOK: []string{"a.b.cloudfront.net"}},
		{names: []string{"localhost", "127.0.0.1", "::1"}, ok: []string{"localhost"}, ipOK: []string{"127.0.0.1", "::1"}, notOK: []string{"127.0.0.2"}},
		{names: nil, wantErr: "no names"},
		{names: []string{"a..example.com"}, wantErr: "bad label"},
		{names: []string{"www.*.example.com"}, wantErr: "bad character"},
		{names: []string{"*"}, wantErr: "bad character"},
		{names: []string{"-bad.example.com"}, wantErr: "bad character"},
		{names: []string{"sp ace.example.com"}, wantErr: "bad character"},
	}
	for _, tt := range tests {
		t.Run(fmt.Sprint(tt.names), func(t *testing.T) {
			c, err := ca.Issue(tt.names)
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("err = %v, want containing %q", err, tt.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if c.Leaf == nil || len(c.Certificate) != 1 {
				t.Fatalf("Leaf=%v chain len %d, want leaf only", c.Leaf != nil, len(c.Certificate))
			}
			if c.Leaf.Subject.CommonName == "" {
				t.Error("empty CN")
			}
			for _, n := range append(tt.ok, tt.ipOK...) {
				if _, err := c.Leaf.Verify(x509.VerifyOptions{Roots: ca.Pool(), DNSName: n}); err != nil {
					t.Errorf("verify %s: %v", n, err)
				}
			}
			for _, n := range tt.notOK {
				_, err := c.Leaf.Verify(x509.VerifyOptions{Roots: ca.Pool(), DNSName: n})
				var he x509.HostnameError
				if !errors.As(err, &he) {
					t.Errorf("verify %s: err = %v, want HostnameError", n, err)
				}
			}
			// Not trusted by an empty pool (nor, implicitly, by anything else).
			if _, err := c.Leaf.Verify(x509.VerifyOptions{Roots: x509.NewCertPool(), DNSName: tt.ok[0]}); err == nil {
				t.Error("verified without the kumo CA")
			}
		})
	}
}

func TestIssueCachesAndRenews(t *testing.T) {
	ca, _ := openCA(t)
	a, err := ca.Issue([]string{"a.example.com"})
	if err != nil {
		t.Fatal(err)
	}
	b, err := ca.Issue([]string{"a.example.com"})
	if err != nil {
		t.Fatal(err)
	}
	if a != b {
		t.Error("second Issue did not hit the memory cache")
	}
	// Move the clock into the renewal window: a new certificate is issued,
	// in memory and on disk.
	ca.mu.Lock()
	ca.now = func() time.Time { return a.Leaf.NotAfter.Add(-24 * time.Hour) }
	ca.mu.Unlock()
	c, err := ca.Issue([]string{"a.example.com"})
	if err != nil {
		t.Fatal(err)
	}
	if bytes.Equal(c.Certificate[0], a.Certificate[0]) {
		t.Fatal("near-expiry certificate was not re-issued")
	}
	if !c.Leaf.NotAfter.After(a.Leaf.NotAfter) {
		t.Errorf("renewed NotAfter %v not after %v", c.Leaf.NotAfter, a.Leaf.NotAfter)
	}
}

func TestIssueReissuesWhenCAChanged(t *testing.T) {
	ca, dir := openCA(t)
	old, err := ca.Issue([]string{"a.example.com"})
	if err != nil {
		t.Fatal(err)
	}
	// Replace the CA, keep the cached leaf files.
	pdir := filepath.Join(dir, "pki")
	os.Remove(filepath.Join(pdir, "ca.pem"))
	os.Remove(filepath.Join(pdir, "ca-key.pem"))
	ca2, err := Open(dir)
	if err != nil {
		t.Fatal(err)
	}
	if ca2.cert.Equal(ca.cert) {
		t.Fatal("new CA equals old")
	}
	c, err := ca2.Issue([]string{"a.example.com"})
	if err != nil {
		t.Fatal(err)
	}
	if bytes.Equal(c.Certificate[0], old.Certificate[0]) {
		t.Fatal("certificate of the old CA was reused")
	}
	if _, err := c.Leaf.Verify(x509.VerifyOptions{Roots: ca2.Pool(), DNSName: "a.example.com"}); err != nil {
		t.Fatal(err)
	}
}

func TestIssueWithExpired(t *testing.T) {
	ca, _ := openCA(t)
	now := time.Now()
	c, err := ca.IssueWith([]string{"alb.example.com"}, now.Add(-48*time.Hour), now.Add(-24*time.Hour))
	if err != nil {
		t.Fatal(err)
	}
	_, err = c.Leaf.Verify(x509.VerifyOptions{Roots: ca.Pool(), DNSName: "alb.example.com"})
	var ce x509.CertificateInvalidError
	if !errors.As(err, &ce) || ce.Reason != x509.Expired {
		t.Fatalf("verify expired: %v", err)
	}
	if _, err := ca.IssueWith([]string{"a.example.com"}, now, now); err == nil {
		t.Error("IssueWith with empty validity succeeded")
	}
	// Not cached: a later Issue gives a valid certificate.
	v, err := ca.Issue([]string{"alb.example.com"})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := v.Leaf.Verify(x509.VerifyOptions{Roots: ca.Pool(), DNSName: "alb.example.com"}); err != nil {
		t.Fatal(err)
	}
}

func TestSelfSigned(t *testing.T) {
	ca, _ := openCA(t)
	now := time.Now()
	c, err := SelfSigned([]string{"origin.example.com"}, now.Add(-time.Hour), now.Add(time.Hour))
	if err != nil {
		t.Fatal(err)
	}
	roots, err := ca.OriginRoots()
	if err != nil {
		t.Fatal(err)
	}
	_, err = c.Leaf.Verify(x509.VerifyOptions{Roots: roots, DNSName: "origin.example.com"})
	var ua x509.UnknownAuthorityError
	if !errors.As(err, &ua) {
		t.Fatalf("self-signed verify: %v, want UnknownAuthorityError", err)
	}
	// It does verify against itself, so it is a well-formed certificate.
	self := x509.NewCertPool()
	self.AddCert(c.Leaf)
	if _, err := c.Leaf.Verify(x509.VerifyOptions{Roots: self, DNSName: "origin.example.com"}); err != nil {
		t.Fatalf("self verify: %v", err)
	}
}

func TestOriginRoots(t *testing.T) {
	ca, _ := openCA(t)
	roots, err := ca.OriginRoots()
	if err != nil {
		t.Fatal(err)
	}
	c, err := ca.Issue([]string{"alb.example.com"})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := c.Leaf.Verify(x509.VerifyOptions{Roots: roots, DNSName: "alb.example.com"}); err != nil {
		t.Fatalf("OriginRoots does not verify a kumo certificate: %v", err)
	}
	// Another kumo CA's certificates are not trusted.
	other, _ := openCA(t)
	oc, err := other.Issue([]string{"alb.example.com"})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := oc.Leaf.Verify(x509.VerifyOptions{Roots: roots, DNSName: "alb.example.com"}); err == nil {
		t.Fatal("OriginRoots trusts another CA")
	}
}

func writePEM(t *testing.T, dir, name, typ string, der []byte) string {
	t.Helper()
	p := filepath.Join(dir, name)
	if err := os.WriteFile(p, pem.EncodeToMemory(&pem.Block{Type: typ, Bytes: der}), 0o600); err != nil {
		t.Fatal(err)
	}
	return p
}

func TestForCertificate(t *testing.T) {
	ca, _ := openCA(t)
	tmp := t.TempDir()
	now := time.Now()
	imported, err := SelfSigned([]string{"imported.example.com"}, now.Add(-time.Hour), now.Add(time.Hour))
	if err != nil {
		t.Fatal(err)
	}
	other, err := SelfSigned([]string{"other.example.com"}, now.Add(-time.Hour), now.Add(time.Hour))
	if err != nil {
		t.Fatal(err)
	}
	keyDER := func(c *tls.Certificate) []byte {
		der, err := x509.MarshalPKCS8PrivateKey(c.PrivateKey)
		if err != nil {
			t.Fatal(err)
		}
		return der
	}
	certFile := writePEM(t, tmp, "cert.pem", "CERTIFICATE", imported.Certificate[0])
	keyFile := writePEM(t, tmp, "key.pem", "PRIVATE KEY", keyDER(imported))
	otherKey := writePEM(t, tmp, "other-key.pem", "PRIVATE KEY", keyDER(other))
	junk := filepath.Join(tmp, "junk.pem")
	os.WriteFile(junk, []byte("not pem"), 0o600)

	tests := []struct {
		name    string
		cert    *model.Certificate
		wantCN  string
		wantErr string
	}{
		{"issued", &model.Certificate{LogicalID: "Cert", DomainName: "alb.example.com", SubjectAlternativeNames: []string{"*.example.com"}}, "alb.example.com", ""},
		{"files", &model.Certificate{LogicalID: "Cert", CertFile: certFile, KeyFile: keyFile}, "imported.example.com", ""},
		{"mismatched key", &model.Certificate{LogicalID: "Cert", CertFile: certFile, KeyFile: otherKey}, "", "key file " + otherKey + " does not match certificate file " + certFile},
		{"bad cert file", &model.Certificate{LogicalID: "Cert", CertFile: junk, KeyFile: keyFile}, "", "certificate file " + junk},
		{"bad key file", &model.Certificate{LogicalID: "Cert", CertFile: certFile, KeyFile: junk}, "", "key file " + junk},
		{"missing file", &model.Certificate{LogicalID: "Cert", CertFile: filepath.Join(tmp, "nope.pem"), KeyFile: keyFile}, "", "nope.pem"},
		{"only cert file", &model.Certificate{LogicalID: "Cert", CertFile: certFile}, "", "must be set together"},
		{"no names", &model.Certificate{LogicalID: "Cert"}, "", "Cert has no DomainName"},
		{"nil", nil, "", "nil certificate"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c, err := ca.ForCertificate(tt.cert)
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("err = %v, want containing %q", err, tt.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if c.Leaf == nil || c.Leaf.Subject.CommonName != tt.wantCN {
				t.Fatalf("leaf CN = %v, want %q", c.Leaf, tt.wantCN)
			}
		})
	}
}

func TestDefaultViewerCertificate(t *testing.T) {
	ca, _ := openCA(t)
	c, err := ca.DefaultViewerCertificate()
	if err != nil {
		t.Fatal(err)
	}
	for _, n := range []string{"dpekz4s0xzujc.cloudfront.net", "cloudfront.net"} {
		if _, err := c.Leaf.Verify(x509.VerifyOptions{Roots: ca.Pool(), DNSName: n}); err != nil {
			t.Errorf("verify %s: %v", n, err)
		}
	}
	if got := strings.Join(c.Leaf.DNSNames, ","); got != "*.cloudfront.net,cloudfront.net" {
		t.Errorf("SANs = %s", got)
	}
}

func TestConcurrentIssue(t *testing.T) {
	ca, _ := openCA(t)
	var wg sync.WaitGroup
	const n = 16
	got := make([]*tls.Certificate, n)
	errs := make([]error, n)
	for i := range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			names := []string{"shared.example.com"}
			if i%2 == 1 {
				names = []string{fmt.Sprintf("h%d.example.com", i)}
			}
			got[i], errs[i] = ca.Issue(names)
		}()
	}
	wg.Wait()
	var shared *tls.Certificate
	for i := range n {
		if errs[i] != nil {
			t.Fatalf("Issue %d: %v", i, errs[i])
		}
		if i%2 == 0 {
			if shared == nil {
				shared = got[i]
			} else if shared != got[i] {
				t.Errorf("Issue %d returned a different certificate for the same names", i)
			}
		}
	}
}

// TestTLSHandshake runs a real TLS handshake over loopback with an issued
// certificate, and checks a client rejects it for a name it does not cover.
func TestTLSHandshake(t *testing.T) {
	ca, _ := openCA(t)
	cert, err := ca.Issue([]string{"alb.example.com", "127.0.0.1"})
	if err != nil {
		t.Fatal(err)
	}
	ln, err := tls.Listen("tcp", "127.0.0.1:0", &tls.Config{Certificates: []tls.Certificate{*cert}})
	if err != nil {
		t.Fatal(err)
	}
	var wg sync.WaitGroup
	t.Cleanup(wg.Wait) // runs after ln.Close (cleanups are LIFO)
	t.Cleanup(func() { ln.Close() })
	wg.Add(1)
	go func() {
		defer wg.Done()
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			wg.Add(1)
			go func() {
				defer wg.Done()
				defer c.Close()
				if err := c.(*tls.Conn).Handshake(); err != nil {
					return
				}
				io.WriteString(c, "hello from "+c.(*tls.Conn).ConnectionState().ServerName)
			}()
		}
	}()
	addr := ln.Addr().String()
	tests := []struct {
		serverName string
		ok         bool
	}{
		{"alb.example.com", true},
		{"127.0.0.1", true},
		{"alb-test-1234567890.ap-northeast-1.elb.amazonaws.com", false},
	}
	for _, tt := range tests {
		t.Run(tt.serverName, func(t *testing.T) {
			conn, err := tls.Dial("tcp", addr, &tls.Config{RootCAs: ca.Pool(), ServerName: tt.serverName})
			if !tt.ok {
				var he x509.HostnameError
				var ve *tls.CertificateVerificationError
				if err == nil || !errors.As(err, &ve) || !errors.As(err, &he) {
					t.Fatalf("dial err = %v, want hostname verification error", err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			defer conn.Close()
			b, err := io.ReadAll(conn)
			if err != nil {
				t.Fatal(err)
			}
			want := "hello from "
			if net.ParseIP(tt.serverName) == nil {
				want += tt.serverName
			}
			if string(b) != want {
				t.Errorf("got %q, want %q", b, want)
			}
		})
	}
}

func TestIssueRepairsCorruptCache(t *testing.T) {
	ca, dir := openCA(t)
	if _, err := ca.Issue([]string{"a.example.com"}); err != nil {
		t.Fatal(err)
	}
	files, _ := filepath.Glob(filepath.Join(dir, "pki", "certs", "*.pem"))
	for _, f := range files {
		if err := os.WriteFile(f, []byte("corrupt"), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	ca2, err := Open(dir)
	if err != nil {
		t.Fatal(err)
	}
	c, err := ca2.Issue([]string{"a.example.com"})
	if err != nil {
		t.Fatalf("Issue over a corrupt cache: %v", err)
	}
	if _, err := c.Leaf.Verify(x509.VerifyOptions{Roots: ca2.Pool(), DNSName: "a.example.com"}); err != nil {
		t.Fatal(err)
	}
	// The repaired files are reused by the next process.
	ca3, err := Open(dir)
	if err != nil {
		t.Fatal(err)
	}
	c3, err := ca3.Issue([]string{"a.example.com"})
	if err != nil || !bytes.Equal(c3.Certificate[0], c.Certificate[0]) {
		t.Fatalf("repaired certificate not reused: %v", err)
	}
}

func TestExistsDoesNotCreate(t *testing.T) {
	dir := t.TempDir()
	if ok, err := Exists(dir); ok || err != nil {
		t.Fatalf("Exists on an empty dir = %v, %v", ok, err)
	}
	if _, err := os.Stat(filepath.Join(dir, "pki")); !os.IsNotExist(err) {
		t.Fatalf("Exists created the pki directory: %v", err)
	}
	if _, err := Open(dir); err != nil {
		t.Fatal(err)
	}
	if ok, err := Exists(dir); !ok || err != nil {
		t.Fatalf("Exists after Open = %v, %v", ok, err)
	}
}
