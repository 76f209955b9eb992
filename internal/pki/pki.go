// Package pki is kumo's stand-in for AWS Certificate Manager: a local
// certificate authority, created once in the state directory, that issues
// the server certificates of the modeled world (ALB listener certificates,
// CloudFront viewer certificates, the default *.cloudfront.net certificate)
// and provides the trust pools that viewers and the edge use.
//
// Issued leaf certificates are cached in memory and on disk, keyed by their
// name set, so a restarted kumo serves the same certificates.
package pki

import (
	"bytes"
	"crypto"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/sha256"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/hex"
	"encoding/pem"
	"errors"
	"fmt"
	"math/big"
	"net"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/kumo-dev/kumo/internal/model"
)

// File and directory names under the state directory.
const (
	dirName     = "pki"
	caCertName  = "ca.pem"
	caKeyName   = "ca-key.pem"
	certsDir    = "certs"
	caCommonNm  = "kumo local CA"
	caOrg       = "kumo"
	caValidity  = 10 * 365 * 24 * time.Hour
	backdate    = time.Hour // tolerate small clock skew between processes
	dirMode     = 0o700
	keyFileMode = 0o600
	pemFileMode = 0o644
)

// leafValidity is how long an issued certificate is valid: ACM public
// certificates are valid for 13 months (395 days). UNCONFIRMED for kumo's
// purposes: the exact ACM lifetime only affects NotAfter.
const leafValidity = 395 * 24 * time.Hour

// renewBefore is how long before NotAfter a cached certificate is re-issued:
// ACM starts managed renewal 60 days before expiry. UNCONFIRMED (ACM has
// changed this window over time); any window well inside leafValidity works.
const renewBefore = 60 * 24 * time.Hour

// defaultViewerNames are the names on CloudFront's default viewer
// certificate (cloudfront.md §2 / ViewerCertificate CloudFrontDefaultCertificate).
var defaultViewerNames = [...]string{"*.cloudfront.net", "cloudfront.net"}

// CA is the local certificate authority. It is safe for concurrent use.
type CA struct {
	dir     string
	cert    *x509.Certificate
	certPEM []byte
	key     crypto.Signer
	pool    *x509.CertPool
	mu      sync.Mutex
	cache   map[string]*tls.Certificate
	// now is the clock (tests move it to exercise renewal).
	now func() time.Time
}

// Exists reports whether stateDir already holds a kumo CA, without creating
// one (Open creates it on first use).
func Exists(stateDir string) (bool, error) {
	_, err := os.Stat(filepath.Join(stateDir, dirName, caCertName))
	switch {
	case err == nil:
		return true, nil
	case errors.Is(err, os.ErrNotExist):
		return false, nil
	}
	return false, fmt.Errorf("pki: %w", err)
}

// Open loads the CA from <stateDir>/pki, creating it (ECDSA P-256, valid for
// ten years, CN "kumo local CA") on first use. The directory is created with
// mode 0700 and the key file with mode 0600.
func Open(stateDir string) (*CA, error) {
	if stateDir == "" {
		return nil, errors.New("pki: open: empty state directory")
	}
	dir := filepath.Join(stateDir, dirName)
	if err := os.MkdirAll(filepath.Join(dir, certsDir), dirMode); err != nil {
		return nil, fmt.Errorf("pki: create %s: %w", dir, err)
	}
	if err := os.Chmod(dir, dirMode); err != nil {
		return nil, fmt.Errorf("pki: %w", err)
	}
	certPath := filepath.Join(dir, caCertName)
	keyPath := filepath.Join(dir, caKeyName)
	_, certErr := os.Stat(certPath)
	_, keyErr := os.Stat(keyPath)
	switch {
	case certErr == nil && keyErr == nil:
		// load below
	case errors.Is(certErr, os.ErrNotExist) && errors.Is(keyErr, os.ErrNotExist):
		if err := createCA(certPath, keyPath); err != nil {
			return nil, err
		}
	case certErr != nil && !errors.Is(certErr, os.ErrNotExist):
		return nil, fmt.Errorf("pki: %w", certErr)
	case keyErr != nil && !errors.Is(keyErr, os.ErrNotExist):
		return nil, fmt.Errorf("pki: %w", keyErr)
	case certErr != nil:
		return nil, fmt.Errorf("pki: %s exists but %s is missing; remove %s to create a new CA", keyPath, certPath, dir)
	default:
		return nil, fmt.Errorf("pki: %s exists but %s is missing; remove %s to create a new CA", certPath, keyPath, dir)
	}
	return loadCA(dir, certPath, keyPath)
}

func createCA(certPath, keyPath string) error {
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return fmt.Errorf("pki: generate CA key: %w", err)
	}
	serial, err := randomSerial()
	if err != nil {
		return err
	}
	now := time.Now()
	tmpl := &x509.Certificate{
		SerialNumber:          serial,
		Subject:               pkix.Name{CommonName: caCommonNm, Organization: []string{caOrg}},
		NotBefore:             now.Add(-backdate),
		NotAfter:              now.Add(caValidity),
		KeyUsage:              x509.KeyUsageCertSign | x509.KeyUsageCRLSign | x509.KeyUsageDigitalSignature,
		BasicConstraintsValid: true,
		IsCA:                  true,
		MaxPathLen:            0,
		MaxPathLenZero:        true,
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, key.Public(), key)
	if err != nil {
		return fmt.Errorf("pki: create CA certificate: %w", err)
	}
	keyPEM, err := encodeKey(key)
	if err != nil {
		return err
	}
	// Key first: a crash in between leaves a key without a certificate,
	// which Open reports instead of silently replacing.
	if err := writeFileAtomic(keyPath, keyPEM, keyFileMode); err != nil {
		return err
	}
	return writeFileAtomic(certPath, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}), pemFileMode)
}

func loadCA(dir, certPath, keyPath string) (*CA, error) {
	certPEM, err := os.ReadFile(certPath)
	if err != nil {
		return nil, fmt.Errorf("pki: read CA certificate: %w", err)
	}
	keyPEM, err := os.ReadFile(keyPath)
	if err != nil {
		return nil, fmt.Errorf("pki: read CA key: %w", err)
	}
	pair, err := tls.X509KeyPair(certPEM, keyPEM)
	if err != nil {
		return nil, fmt.Errorf("pki: CA %s / %s: %w", certPath, keyPath, err)
	}
	cert := pair.Leaf
	if cert == nil {
		if cert, err = x509.ParseCertificate(pair.Certificate[0]); err != nil {
			return nil, fmt.Errorf("pki: parse CA certificate %s: %w", certPath, err)
		}
	}
	if !cert.IsCA {
		return nil, fmt.Errorf("pki: %s is not a CA certificate", certPath)
	}
	if time.Now().After(cert.NotAfter) {
		return nil, fmt.Errorf("pki: CA certificate %s expired on %s; remove %s to create a new CA", certPath, cert.NotAfter.Format(time.RFC3339), dir)
	}
	signer, ok := pair.PrivateKey.(crypto.Signer)
	if !ok {
		return nil, fmt.Errorf("pki: CA key %s cannot sign", keyPath)
	}
	pool := x509.NewCertPool()
	pool.AddCert(cert)
	return &CA{
		dir:     dir,
		cert:    cert,
		certPEM: certPEM,
		key:     signer,
		pool:    pool,
		cache:   map[string]*tls.Certificate{},
		now:     time.Now,
	}, nil
}

// CertFile is the path of the CA certificate PEM (for curl --cacert).
func (ca *CA) CertFile() string { return filepath.Join(ca.dir, caCertName) }

// Certificate returns the CA certificate itself.
func (ca *CA) Certificate() *x509.Certificate { return ca.cert }

// Pool returns a pool that holds only the kumo CA.
func (ca *CA) Pool() *x509.CertPool { return ca.pool.Clone() }

// OriginRoots returns what the edge trusts for origins: the system roots
// plus the kumo CA. CloudFront trusts the Mozilla included CA list
// (cloudfront.md §2.3 rule 1); the system pool is kumo's closest stand-in.
func (ca *CA) OriginRoots() (*x509.CertPool, error) {
	pool, err := x509.SystemCertPool()
	if err != nil {
		return nil, fmt.Errorf("pki: load system roots: %w", err)
	}
	pool.AddCert(ca.cert)
	return pool, nil
}

// Issue returns a certificate for names (DNS names, wildcards such as
// *.example.com, and IP addresses) signed by the CA. Certificates are cached
// in memory and under <stateDir>/pki/certs/, keyed by the sorted name set,
// and re-issued when they near expiry or were signed by another CA.
func (ca *CA) Issue(names []string) (*tls.Certificate, error) {
	cn, norm, err := normalizeNames(names)
	if err != nil {
		return nil, err
	}
	key := cacheKey(cn, norm)
	ca.mu.Lock()
	defer ca.mu.Unlock()
	now := ca.now()
	if c, ok := ca.cache[key]; ok && fresh(c.Leaf, now) {
		return c, nil
	}
	certPath, keyPath := ca.cachePaths(key)
	if c, err := ca.loadCached(certPath, keyPath, cn, norm, now); err == nil {
		ca.cache[key] = c
		return c, nil
	}
	c, certPEM, keyPEM, err := ca.issue(cn, norm, now.Add(-backdate), now.Add(leafValidity))
	if err != nil {
		return nil, err
	}
	if err := writeFileAtomic(keyPath, keyPEM, keyFileMode); err != nil {
		return nil, err
	}
	if err := writeFileAtomic(certPath, certPEM, pemFileMode); err != nil {
		return nil, err
	}
	ca.cache[key] = c
	return c, nil
}

// IssueWith issues an uncached certificate for names with the given validity
// period (tests use it for expired and not-yet-valid certificates).
func (ca *CA) IssueWith(names []string, notBefore, notAfter time.Time) (*tls.Certificate, error) {
	cn, norm, err := normalizeNames(names)
	if err != nil {
		return nil, err
	}
	if !notAfter.After(notBefore) {
		return nil, fmt.Errorf("pki: issue %v: notAfter %s is not after notBefore %s", norm, notAfter, notBefore)
	}
	c, _, _, err := ca.issue(cn, norm, notBefore, notAfter)
	return c, err
}

// ForCertificate returns the certificate to serve for a modeled ACM
// certificate: the PEM files named by CertFile and KeyFile when set, else a
// certificate issued by the CA for c.Names().
func (ca *CA) ForCertificate(c *model.Certificate) (*tls.Certificate, error) {
	if c == nil {
		return nil, errors.New("pki: nil certificate")
	}
	switch {
	case c.CertFile != "" && c.KeyFile != "":
		return loadPair(c.CertFile, c.KeyFile)
	case c.CertFile != "" || c.KeyFile != "":
		return nil, fmt.Errorf("pki: certificate %s: CertFile (%q) and KeyFile (%q) must be set together", certName(c), c.CertFile, c.KeyFile)
	}
	names := c.Names()
	if len(names) == 0 {
		return nil, fmt.Errorf("pki: certificate %s has no DomainName", certName(c))
	}
	tc, err := ca.Issue(names)
	if err != nil {
		return nil, fmt.Errorf("pki: certificate %s: %w", certName(c), err)
	}
	return tc, nil
}

// DefaultViewerCertificate returns CloudFront's default viewer certificate,
// with the names *.cloudfront.net and cloudfront.net, issued by the CA.
func (ca *CA) DefaultViewerCertificate() (*tls.Certificate, error) {
	return ca.Issue(defaultViewerNames[:])
}

// SelfSigned returns a self-signed certificate for names that does not come
// from the CA (tests use it for origins CloudFront must reject).
func SelfSigned(names []string, notBefore, notAfter time.Time) (*tls.Certificate, error) {
	cn, norm, err := normalizeNames(names)
	if err != nil {
		return nil, err
	}
	if !notAfter.After(notBefore) {
		return nil, fmt.Errorf("pki: self-signed %v: notAfter %s is not after notBefore %s", norm, notAfter, notBefore)
	}
	key, err := generateLeafKey()
	if err != nil {
		return nil, err
	}
	tmpl, err := leafTemplate(cn, norm, notBefore, notAfter)
	if err != nil {
		return nil, err
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, key.Public(), key)
	if err != nil {
		return nil, fmt.Errorf("pki: create self-signed certificate for %v: %w", norm, err)
	}
	leaf, err := x509.ParseCertificate(der)
	if err != nil {
		return nil, fmt.Errorf("pki: parse self-signed certificate: %w", err)
	}
	return &tls.Certificate{Certificate: [][]byte{der}, PrivateKey: key, Leaf: leaf}, nil
}

// issue signs a new leaf for the normalised names.
func (ca *CA) issue(cn string, names []string, notBefore, notAfter time.Time) (*tls.Certificate, []byte, []byte, error) {
	key, err := generateLeafKey()
	if err != nil {
		return nil, nil, nil, err
	}
	tmpl, err := leafTemplate(cn, names, notBefore, notAfter)
	if err != nil {
		return nil, nil, nil, err
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, ca.cert, key.Public(), ca.key)
	if err != nil {
		return nil, nil, nil, fmt.Errorf("pki: issue certificate for %v: %w", names, err)
	}
	leaf, err := x509.ParseCertificate(der)
	if err != nil {
		return nil, nil, nil, fmt.Errorf("pki: parse issued certificate: %w", err)
	}
	keyPEM, err := encodeKey(key)
	if err != nil {
		return nil, nil, nil, err
	}
	certPEM := pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der})
	// The CA is the root: the chain is the leaf alone.
	return &tls.Certificate{Certificate: [][]byte{der}, PrivateKey: key, Leaf: leaf}, certPEM, keyPEM, nil
}

// leafTemplate builds a server certificate template the way ACM issues
// them: CN = the first name (the DomainName), every name in the SAN
// extension, serverAuth.
func leafTemplate(cn string, names []string, notBefore, notAfter time.Time) (*x509.Certificate, error) {
	serial, err := randomSerial()
	if err != nil {
		return nil, err
	}
	tmpl := &x509.Certificate{
		SerialNumber:          serial,
		Subject:               pkix.Name{CommonName: cn},
		NotBefore:             notBefore,
		NotAfter:              notAfter,
		KeyUsage:              x509.KeyUsageDigitalSignature,
		ExtKeyUsage:           []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
		BasicConstraintsValid: true,
	}
	for _, n := range names {
		if ip := net.ParseIP(n); ip != nil {
			tmpl.IPAddresses = append(tmpl.IPAddresses, ip)
		} else {
			tmpl.DNSNames = append(tmpl.DNSNames, n)
		}
	}
	return tmpl, nil
}

// generateLeafKey makes a leaf key. kumo uses ECDSA P-256 rather than ACM's
// default RSA 2048: both are ACM key algorithms, and P-256 keeps key
// generation fast (notably under the race detector).
func generateLeafKey() (crypto.Signer, error) {
	k, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return nil, fmt.Errorf("pki: generate key: %w", err)
	}
	return k, nil
}

// loadCached loads a cached certificate from disk if it is usable: it
// matches its key, names exactly the wanted set, was signed by this CA and
// is fresh.
func (ca *CA) loadCached(certPath, keyPath, cn string, names []string, now time.Time) (*tls.Certificate, error) {
	c, err := tls.LoadX509KeyPair(certPath, keyPath)
	if err != nil {
		return nil, err
	}
	leaf := c.Leaf
	if leaf == nil {
		if leaf, err = x509.ParseCertificate(c.Certificate[0]); err != nil {
			return nil, err
		}
		c.Leaf = leaf
	}
	if err := leaf.CheckSignatureFrom(ca.cert); err != nil {
		return nil, err
	}
	if !fresh(leaf, now) {
		return nil, errors.New("near expiry")
	}
	if leaf.Subject.CommonName != cn || !slices.Equal(certNames(leaf), names) {
		return nil, errors.New("names differ")
	}
	c.Certificate = c.Certificate[:1]
	return &c, nil
}

// fresh reports whether a certificate is valid now and not within the
// renewal window.
func fresh(leaf *x509.Certificate, now time.Time) bool {
	return leaf != nil && !now.Before(leaf.NotBefore) && now.Add(renewBefore).Before(leaf.NotAfter)
}

// certNames returns a leaf's SANs sorted, in the form normalizeNames
// produces.
func certNames(leaf *x509.Certificate) []string {
	var names []string
	names = append(names, leaf.DNSNames...)
	for _, ip := range leaf.IPAddresses {
		names = append(names, ip.String())
	}
	slices.Sort(names)
	return slices.Compact(names)
}

// cacheKey identifies an issued certificate: its common name and its sorted
// name set. The CN is part of the key because ACM puts the DomainName (the
// first name) in the subject.
func cacheKey(cn string, names []string) string {
	return cn + "|" + strings.Join(names, ",")
}

// cachePaths names the on-disk files for a name-set key.
func (ca *CA) cachePaths(key string) (certPath, keyPath string) {
	sum := sha256.Sum256([]byte(key))
	base := hex.EncodeToString(sum[:12])
	dir := filepath.Join(ca.dir, certsDir)
	return filepath.Join(dir, base+".pem"), filepath.Join(dir, base+"-key.pem")
}

// normalizeNames validates names and returns the first one (the common
// name) and the set, lowercased, without a trailing dot, sorted and without
// duplicates. IP addresses are returned in canonical form.
func normalizeNames(names []string) (cn string, set []string, err error) {
	if len(names) == 0 {
		return "", nil, errors.New("pki: no names to issue a certificate for")
	}
	out := make([]string, 0, len(names))
	for _, n := range names {
		if ip := net.ParseIP(n); ip != nil {
			out = append(out, ip.String())
			continue
		}
		n = strings.TrimSuffix(strings.ToLower(strings.TrimSpace(n)), ".")
		if err := checkDNSName(n); err != nil {
			return "", nil, err
		}
		out = append(out, n)
	}
	cn = out[0]
	slices.Sort(out)
	return cn, slices.Compact(out), nil
}

// checkDNSName validates a certificate DNS name: LDH labels of at most 63
// characters, at most 253 characters in total, and an optional "*" as the
// whole leftmost label (ACM's wildcard rule).
func checkDNSName(n string) error {
	if n == "" {
		return errors.New("pki: empty certificate name")
	}
	if len(n) > 253 {
		return fmt.Errorf("pki: certificate name %q is longer than 253 characters", n)
	}
	labels := strings.Split(n, ".")
	for i, l := range labels {
		if l == "*" && i == 0 && len(labels) > 1 {
			continue
		}
		if l == "" || len(l) > 63 {
			return fmt.Errorf("pki: invalid certificate name %q: bad label %q", n, l)
		}
		for j := 0; j < len(l); j++ {
			c := l[j]
			ok := c >= 'a' && c <= 'z' || c >= '0' && c <= '9' || c == '_' || (c == '-' && j != 0 && j != len(l)-1)
			if !ok {
				return fmt.Errorf("pki: invalid certificate name %q: bad character %q in label %q", n, c, l)
			}
		}
	}
	return nil
}

// loadPair loads a user-supplied certificate and key.
func loadPair(certFile, keyFile string) (*tls.Certificate, error) {
	certPEM, err := os.ReadFile(certFile)
	if err != nil {
		return nil, fmt.Errorf("pki: read certificate file: %w", err)
	}
	keyPEM, err := os.ReadFile(keyFile)
	if err != nil {
		return nil, fmt.Errorf("pki: read key file: %w", err)
	}
	if !bytes.Contains(certPEM, []byte("-----BEGIN CERTIFICATE-----")) {
		return nil, fmt.Errorf("pki: certificate file %s: no PEM CERTIFICATE block", certFile)
	}
	if !bytes.Contains(keyPEM, []byte("PRIVATE KEY-----")) {
		return nil, fmt.Errorf("pki: key file %s: no PEM PRIVATE KEY block", keyFile)
	}
	c, err := tls.X509KeyPair(certPEM, keyPEM)
	if err != nil {
		if strings.Contains(err.Error(), "does not match") {
			return nil, fmt.Errorf("pki: key file %s does not match certificate file %s: %w", keyFile, certFile, err)
		}
		return nil, fmt.Errorf("pki: certificate file %s / key file %s: %w", certFile, keyFile, err)
	}
	if c.Leaf == nil {
		leaf, err := x509.ParseCertificate(c.Certificate[0])
		if err != nil {
			return nil, fmt.Errorf("pki: certificate file %s: %w", certFile, err)
		}
		c.Leaf = leaf
	}
	return &c, nil
}

func certName(c *model.Certificate) string {
	switch {
	case c.LogicalID != "":
		return c.LogicalID
	case c.ARN != "":
		return c.ARN
	default:
		return fmt.Sprintf("%q", c.DomainName)
	}
}

func randomSerial() (*big.Int, error) {
	s, err := rand.Int(rand.Reader, new(big.Int).Lsh(big.NewInt(1), 127))
	if err != nil {
		return nil, fmt.Errorf("pki: serial number: %w", err)
	}
	return s.Add(s, big.NewInt(1)), nil
}

func encodeKey(key crypto.Signer) ([]byte, error) {
	der, err := x509.MarshalPKCS8PrivateKey(key)
	if err != nil {
		return nil, fmt.Errorf("pki: encode key: %w", err)
	}
	return pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: der}), nil
}

// writeFileAtomic writes data to path through a temporary file in the same
// directory (created with mode perm) and a rename.
func writeFileAtomic(path string, data []byte, perm os.FileMode) error {
	f, err := os.CreateTemp(filepath.Dir(path), "."+filepath.Base(path)+".tmp*")
	if err != nil {
		return fmt.Errorf("pki: write %s: %w", path, err)
	}
	tmp := f.Name()
	fail := func(err error) error {
		f.Close()
		os.Remove(tmp)
		return fmt.Errorf("pki: write %s: %w", path, err)
	}
	if err := f.Chmod(perm); err != nil {
		return fail(err)
	}
	if _, err := f.Write(data); err != nil {
		return fail(err)
	}
	if err := f.Sync(); err != nil {
		return fail(err)
	}
	if err := f.Close(); err != nil {
		os.Remove(tmp)
		return fmt.Errorf("pki: write %s: %w", path, err)
	}
	if err := os.Rename(tmp, path); err != nil {
		os.Remove(tmp)
		return fmt.Errorf("pki: write %s: %w", path, err)
	}
	return nil
}
