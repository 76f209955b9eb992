// Package probe owns `kumo probe`: it runs CloudFront's checks of a custom
// origin (cloudfront.md §2.1-2.5) against a live HTTPS server — DNS, TCP, the
// TLS versions and ciphers CloudFront offers, the certificate's name against
// the origin domain and a forwarded Host, the chain's completeness and order,
// trust and expiry — and predicts the answer CloudFront would give, using the
// edge's own failure reasons (edge.Reason) so that the status, the error-page
// message and the detailed result type come from the one table the edge uses.
//
// Unlike a Go handshake, which stops at the first verification error, the
// probe completes the handshake without verification and then checks the
// certificates itself, so every failing check is reported.
package probe

import (
	"bytes"
	"context"
	"crypto/tls"
	"crypto/x509"
	"fmt"
	"log/slog"
	"net"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/kumo-dev/kumo/internal/accesslog"
	"github.com/kumo-dev/kumo/internal/edge"
	"github.com/kumo-dev/kumo/internal/pki"
)

// Defaults of Config.
const (
	// DefaultConnectTimeout is CloudFront's default ConnectionTimeout
	// (cloudfront.md §2.4, §3.1). The probe makes one attempt.
	DefaultConnectTimeout = 10 * time.Second
	// DefaultHandshakeTimeout bounds a TLS handshake: the edge allows the
	// handshake OriginReadTimeout, 30 s by default.
	DefaultHandshakeTimeout = 30 * time.Second
)

// defaultSSLProtocols is the OriginSslProtocols list used when none is given:
// the console default, TLSv1.2 (cloudfront.md §2.1).
var defaultSSLProtocols = []string{"TLSv1.2"}

// Config describes one probe.
type Config struct {
	// URL is https://host[:port]; the host is resolved and connected to.
	URL string
	// OriginDomain is the origin's DomainName ("" means the URL's host):
	// the SNI and the name the certificate must match (§2.2, §2.3 rule 4).
	OriginDomain string
	// Host is a forwarded viewer Host ("" when Host is not forwarded): it
	// is then the SNI and the name the certificate must match (§2.2).
	Host string
	// SNI overrides the server name sent ("" means what CloudFront sends).
	SNI string
	// SSLProtocols is the origin's OriginSslProtocols (nil means TLSv1.2).
	SSLProtocols []string
	// Resolve holds curl-style host:port:address[,address...] overrides.
	Resolve []string
	// Roots is what is trusted; nil means the system roots.
	Roots *x509.CertPool
	// Trust describes Roots for the report ("" means a generic text).
	Trust string
	// Resolver resolves the URL's host; nil means net.DefaultResolver.
	Resolver *net.Resolver
	// ConnectTimeout bounds the TCP connect (0: DefaultConnectTimeout).
	ConnectTimeout time.Duration
	// HandshakeTimeout bounds each TLS handshake (0: DefaultHandshakeTimeout).
	HandshakeTimeout time.Duration
	// Now is the clock for expiry (nil: time.Now).
	Now    func() time.Time
	Logger *slog.Logger
}

// Status is the result of one check.
type Status string

// Check results.
const (
	StatusOK   Status = "ok"
	StatusFail Status = "fail"
	StatusWarn Status = "warn"
	StatusInfo Status = "info"
	StatusSkip Status = "skip"
)

// Check IDs, in the order they are reported.
const (
	CheckDNS           = "dns"
	CheckTCP           = "tcp"
	CheckSNI           = "sni"
	CheckTLS           = "tls"
	CheckClientCert    = "client-certificate"
	CheckExpiry        = "expiry"
	CheckChainComplete = "chain-complete"
	CheckChainOrder    = "chain-order"
	CheckTrust         = "trust"
	CheckNameOrigin    = "name-origin-domain"
	CheckNameForwarded = "name-host"
)

// Check is one finding.
type Check struct {
	ID      string `json:"id"`
	Status  Status `json:"status"`
	Summary string `json:"summary"`
	// Reason is the edge failure reason of a failing check (edge.Reason's name).
	Reason string `json:"reason,omitempty"`

	reason edge.Reason
}

// VersionResult is one TLS version tried against the server.
type VersionResult struct {
	Version string `json:"version"`
	// Offered: CloudFront offers this version under the OriginSslProtocols.
	Offered  bool   `json:"offered"`
	Accepted bool   `json:"accepted"`
	Cipher   string `json:"cipher,omitempty"`
	Error    string `json:"error,omitempty"`
}

// CertInfo describes one certificate of the chain as the server sent it.
type CertInfo struct {
	Index      int       `json:"index"`
	Subject    string    `json:"subject"`
	Issuer     string    `json:"issuer"`
	CommonName string    `json:"commonName,omitempty"`
	DNSNames   []string  `json:"dnsNames,omitempty"`
	NotBefore  time.Time `json:"notBefore"`
	NotAfter   time.Time `json:"notAfter"`
	IsCA       bool      `json:"isCA"`
	SelfSigned bool      `json:"selfSigned"`
}

// Negotiated is the outcome of the handshake CloudFront would make.
type Negotiated struct {
	Version string `json:"version"`
	Cipher  string `json:"cipher"`
}

// Outcome is what CloudFront would answer a viewer.
type Outcome struct {
	// WouldConnect: the connection CloudFront makes succeeds; the viewer
	// then gets the origin's own response (Status is 200 as a stand-in).
	WouldConnect       bool   `json:"wouldConnect"`
	Status             int    `json:"status"`
	Reason             string `json:"reason"`
	DetailedResultType string `json:"detailedResultType,omitempty"`
	Message            string `json:"message,omitempty"`
	XCache             string `json:"xCache,omitempty"`
	// Cause is the summary of the check that decided the outcome.
	Cause string `json:"cause,omitempty"`
}

// Report is the result of a probe.
type Report struct {
	URL          string          `json:"url"`
	OriginDomain string          `json:"originDomain"`
	Host         string          `json:"host,omitempty"`
	SNI          string          `json:"sni"`
	ExpectedName string          `json:"expectedName"`
	Protocols    []string        `json:"originSslProtocols"`
	Offered      []string        `json:"offeredVersions"`
	Ciphers      []string        `json:"offeredCiphers"`
	Trust        string          `json:"trust"`
	Addresses    []string        `json:"addresses,omitempty"`
	Connected    string          `json:"connected,omitempty"`
	Negotiated   *Negotiated     `json:"negotiated,omitempty"`
	Versions     []VersionResult `json:"versions,omitempty"`
	Chain        []CertInfo      `json:"chain,omitempty"`
	Checks       []Check         `json:"checks"`
	Outcome      Outcome         `json:"outcome"`
}

// Failed reports whether CloudFront would fail to connect.
func (r *Report) Failed() bool { return !r.Outcome.WouldConnect }

// Failing returns the IDs of the failing checks, in report order.
func (r *Report) Failing() []string {
	var ids []string
	for _, c := range r.Checks {
		if c.Status == StatusFail {
			ids = append(ids, c.ID)
		}
	}
	return ids
}

// Check returns the check with the given ID, or nil.
func (r *Report) Check(id string) *Check {
	for i := range r.Checks {
		if r.Checks[i].ID == id {
			return &r.Checks[i]
		}
	}
	return nil
}

func (r *Report) add(id string, st Status, reason edge.Reason, format string, args ...any) {
	c := Check{ID: id, Status: st, Summary: fmt.Sprintf(format, args...)}
	if st == StatusFail {
		c.reason = reason
		c.Reason = reason.String()
	}
	r.Checks = append(r.Checks, c)
}

// OriginTrust returns what the edge trusts for origins when kumo runs with
// stateDir — the system roots plus the kumo CA (pki.CA.OriginRoots) — and a
// description of it. It never creates a CA: without one in stateDir the
// pool is the system roots only, and the description says so.
func OriginTrust(stateDir string) (*x509.CertPool, string, error) {
	if stateDir != "" {
		exists, err := pki.Exists(stateDir)
		if err != nil {
			return nil, "", fmt.Errorf("kumo CA: %w", err)
		}
		if exists {
			ca, err := pki.Open(stateDir)
			if err != nil {
				return nil, "", fmt.Errorf("kumo CA: %w", err)
			}
			pool, err := ca.OriginRoots()
			if err != nil {
				return nil, "", err
			}
			return pool, "system roots + kumo CA (" + ca.CertFile() + ")", nil
		}
	}
	pool, err := x509.SystemCertPool()
	if err != nil {
		return nil, "", fmt.Errorf("system roots: %w", err)
	}
	desc := "system roots only (no kumo CA"
	if stateDir != "" {
		desc += " in " + stateDir
	}
	return pool, desc + ": certificates issued by kumo are untrusted)", nil
}

// target is the parsed, validated configuration.
type target struct {
	host, port   string
	originDomain string
	host2        string // forwarded Host, lower-case, no port
	expected     string
	sni          string
	lo, hi       uint16
	resolve      []string // addresses from a matching --resolve
}

func parseTarget(cfg *Config) (*target, error) {
	u, err := url.Parse(cfg.URL)
	if err != nil {
		return nil, fmt.Errorf("URL %q: %w", cfg.URL, err)
	}
	if u.Scheme != "https" {
		return nil, fmt.Errorf("URL %q: the scheme must be https (the probe checks HTTPS origins)", cfg.URL)
	}
	if u.Hostname() == "" {
		return nil, fmt.Errorf("URL %q has no host", cfg.URL)
	}
	if u.User != nil {
		return nil, fmt.Errorf("URL %q: user information is not allowed", cfg.URL)
	}
	t := &target{host: strings.ToLower(u.Hostname()), port: u.Port()}
	if t.port == "" {
		t.port = "443"
	}
	if p, err := strconv.Atoi(t.port); err != nil || p < 1 || p > 65535 {
		return nil, fmt.Errorf("URL %q: port %q is not 1-65535", cfg.URL, t.port)
	}
	t.originDomain = lowerName(cfg.OriginDomain)
	if t.originDomain == "" {
		t.originDomain = lowerName(t.host)
	}
	if net.ParseIP(t.originDomain) != nil {
		// cloudfront.md §2.3 rule 5.
		return nil, fmt.Errorf("origin domain %q is an IP address, which CloudFront rejects (InvalidArgument: The parameter origin name cannot be an IP address); pass --origin-domain NAME, or use the name in the URL with --resolve NAME:%s:%s", t.originDomain, t.port, t.originDomain)
	}
	if cfg.Host != "" {
		h := cfg.Host
		if hh, _, err := net.SplitHostPort(h); err == nil {
			h = hh
		}
		t.host2 = lowerName(h)
		if t.host2 == "" {
			return nil, fmt.Errorf("--host %q is empty", cfg.Host)
		}
	}
	t.expected = expectedName(t.originDomain, t.host2)
	t.sni = t.expected
	if cfg.SNI != "" {
		t.sni = lowerName(cfg.SNI)
	}
	protocols := cfg.SSLProtocols
	if len(protocols) == 0 {
		protocols = defaultSSLProtocols
	}
	if t.lo, t.hi, err = edge.OriginTLSVersions(protocols); err != nil {
		return nil, err
	}
	for _, r := range cfg.Resolve {
		h, p, addrs, err := parseResolve(r)
		if err != nil {
			return nil, err
		}
		if h != t.host || p != t.port {
			return nil, fmt.Errorf("--resolve %q does not match the URL's %s:%s", r, t.host, t.port)
		}
		t.resolve = append(t.resolve, addrs...)
	}
	return t, nil
}

// expectedName implements cloudfront.md §2.2 and §2.3 rule 4: CloudFront
// sends as SNI, and matches the certificate against, the forwarded Host when
// the Host header is forwarded, else the origin domain.
func expectedName(originDomain, forwardedHost string) string {
	if forwardedHost != "" {
		return forwardedHost
	}
	return originDomain
}

func lowerName(s string) string {
	return strings.TrimSuffix(strings.ToLower(strings.TrimSpace(s)), ".")
}

// parseResolve parses curl's --resolve form host:port:address[,address...]
// (IPv6 addresses may be bracketed).
func parseResolve(s string) (host, port string, addrs []string, err error) {
	bad := func(why string) error {
		return fmt.Errorf("--resolve %q: %s (want host:port:address[,address...])", s, why)
	}
	if strings.HasPrefix(s, "+") || strings.HasPrefix(s, "-") {
		return "", "", nil, bad("the +/- forms are not supported")
	}
	host, rest, ok := strings.Cut(s, ":")
	if !ok || host == "" {
		return "", "", nil, bad("no host")
	}
	port, list, ok := strings.Cut(rest, ":")
	if !ok || list == "" {
		return "", "", nil, bad("no address")
	}
	if p, err := strconv.Atoi(port); err != nil || p < 1 || p > 65535 {
		return "", "", nil, bad("port is not 1-65535")
	}
	for _, a := range strings.Split(list, ",") {
		a = strings.TrimSuffix(strings.TrimPrefix(strings.TrimSpace(a), "["), "]")
		if net.ParseIP(a) == nil {
			return "", "", nil, bad(fmt.Sprintf("%q is not an IP address", a))
		}
		addrs = append(addrs, a)
	}
	return lowerName(host), port, addrs, nil
}

// Run probes the origin. The error is for a configuration that cannot be
// probed; everything the network says is in the Report.
func Run(ctx context.Context, cfg Config) (*Report, error) {
	t, err := parseTarget(&cfg)
	if err != nil {
		return nil, err
	}
	if cfg.ConnectTimeout == 0 {
		cfg.ConnectTimeout = DefaultConnectTimeout
	}
	if cfg.HandshakeTimeout == 0 {
		cfg.HandshakeTimeout = DefaultHandshakeTimeout
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.Default()
	}
	if cfg.Resolver == nil {
		cfg.Resolver = net.DefaultResolver
	}
	roots := cfg.Roots
	if roots == nil {
		if roots, err = x509.SystemCertPool(); err != nil {
			return nil, fmt.Errorf("system roots: %w", err)
		}
		if cfg.Trust == "" {
			cfg.Trust = "system roots"
		}
	}
	if cfg.Trust == "" {
		cfg.Trust = "the given roots"
	}
	protocols := cfg.SSLProtocols
	if len(protocols) == 0 {
		protocols = defaultSSLProtocols
	}
	r := &Report{
		URL: cfg.URL, OriginDomain: t.originDomain, Host: t.host2, SNI: t.sni, ExpectedName: t.expected,
		Protocols: protocols, Trust: cfg.Trust,
	}
	for v := t.lo; v <= t.hi; v++ {
		r.Offered = append(r.Offered, versionName(v))
	}
	r.Ciphers = offeredCipherNames()
	p := &prober{cfg: &cfg, t: t, r: r, roots: roots}
	p.run(ctx)
	if err := ctx.Err(); err != nil {
		return nil, fmt.Errorf("probe of %s interrupted: %w", cfg.URL, err)
	}
	r.Outcome = outcome(r)
	return r, nil
}

type prober struct {
	cfg   *Config
	t     *target
	r     *Report
	roots *x509.CertPool
}

func (p *prober) run(ctx context.Context) {
	r, t := p.r, p.t
	addrs, ok := p.resolve(ctx)
	if !ok {
		p.skip(CheckTCP, CheckTLS)
		return
	}
	r.Addresses = addrs
	conn, ok := p.dial(ctx, addrs)
	if !ok {
		p.skip(CheckTLS)
		return
	}
	if t.sni != t.expected {
		r.add(CheckSNI, StatusWarn, 0, "sending SNI %q as asked; CloudFront would send %q", t.sni, t.expected)
	}
	chain, clientCertAsked := p.handshake(ctx, conn)
	p.scanVersions(ctx)
	if clientCertAsked {
		// cloudfront.md §2.1: status UNCONFIRMED (502), as the edge's ReasonOriginTLSHandshake.
		r.add(CheckClientCert, StatusFail, edge.ReasonOriginTLSHandshake,
			"the origin requests a client certificate; CloudFront drops the request (no origin mTLS configured)")
	}
	if len(chain) == 0 {
		p.skip(CheckExpiry, CheckChainComplete, CheckChainOrder, CheckTrust, CheckNameOrigin)
		return
	}
	for i, c := range chain {
		r.Chain = append(r.Chain, certInfo(i, c))
	}
	p.checkExpiry(chain)
	p.checkChain(chain)
	p.checkNames(chain[0])
}

func (p *prober) skip(ids ...string) {
	for _, id := range ids {
		p.r.add(id, StatusSkip, 0, "not checked: an earlier step failed")
	}
}

// resolve implements the DNS step: --resolve, an IP literal, or a lookup.
func (p *prober) resolve(ctx context.Context) ([]string, bool) {
	t, r := p.t, p.r
	switch {
	case len(t.resolve) > 0:
		r.add(CheckDNS, StatusOK, 0, "%s resolved by --resolve to %s", t.host, strings.Join(t.resolve, ", "))
		return t.resolve, true
	case net.ParseIP(t.host) != nil:
		r.add(CheckDNS, StatusInfo, 0, "the URL's host %s is an address; nothing to resolve", t.host)
		return []string{t.host}, true
	}
	ips, err := p.cfg.Resolver.LookupIPAddr(ctx, t.host)
	if err == nil && len(ips) == 0 {
		err = fmt.Errorf("lookup %s: no addresses", t.host)
	}
	if err != nil {
		// cloudfront.md §2.4: NXDOMAIN/SERVFAIL is OriginDnsError.
		r.add(CheckDNS, StatusFail, edge.ReasonOriginDNS, "%s does not resolve: %v", t.host, err)
		return nil, false
	}
	var addrs []string
	for _, ip := range ips {
		addrs = append(addrs, ip.IP.String())
	}
	r.add(CheckDNS, StatusOK, 0, "%s resolves to %s", t.host, strings.Join(addrs, ", "))
	return addrs, true
}

// dial implements the TCP step: one attempt per address, in order.
func (p *prober) dial(ctx context.Context, addrs []string) (net.Conn, bool) {
	var errs []string
	reason := edge.ReasonOriginRefused
	for _, a := range addrs {
		addr := net.JoinHostPort(a, p.t.port)
		d := net.Dialer{Timeout: p.cfg.ConnectTimeout}
		c, err := d.DialContext(ctx, "tcp", addr)
		if err == nil {
			p.r.Connected = addr
			p.r.add(CheckTCP, StatusOK, 0, "connected to %s", addr)
			return c, true
		}
		if r := edge.Classify(err); r == edge.ReasonOriginConnectTimeout {
			reason = r
		}
		errs = append(errs, err.Error())
	}
	p.r.add(CheckTCP, StatusFail, reason, "cannot connect: %s", strings.Join(errs, "; "))
	return nil, false
}

// tlsConfig is what CloudFront offers (cloudfront.md §2.1): the versions of
// OriginSslProtocols, its ciphers and curves, HTTP/1.1 only, no
// renegotiation. Verification is the probe's own (see checkChain).
func (p *prober) tlsConfig(lo, hi uint16, chain *[]*x509.Certificate, asked *bool) *tls.Config {
	return &tls.Config{
		ServerName:         p.t.sni,
		InsecureSkipVerify: true,
		MinVersion:         lo,
		MaxVersion:         hi,
		CipherSuites:       edge.OriginCipherSuites(),
		CurvePreferences:   []tls.CurveID{tls.X25519, tls.CurveP256, tls.CurveP384},
		NextProtos:         []string{"http/1.1"},
		VerifyConnection: func(cs tls.ConnectionState) error {
			if chain != nil {
				*chain = cs.PeerCertificates
			}
			return nil
		},
		GetClientCertificate: func(*tls.CertificateRequestInfo) (*tls.Certificate, error) {
			if asked != nil {
				*asked = true
			}
			return &tls.Certificate{}, nil
		},
	}
}

// handshake makes the handshake CloudFront would make on conn and returns
// the chain the server sent.
func (p *prober) handshake(ctx context.Context, conn net.Conn) (chain []*x509.Certificate, asked bool) {
	defer conn.Close()
	tc := tls.Client(conn, p.tlsConfig(p.t.lo, p.t.hi, &chain, &asked))
	hctx, cancel := context.WithTimeout(ctx, p.cfg.HandshakeTimeout)
	defer cancel()
	err := tc.HandshakeContext(hctx)
	if err != nil {
		reason := handshakeReason(err, hctx.Err() != nil && ctx.Err() == nil)
		hint := ""
		if reason == edge.ReasonOriginTLSProtocol {
			hint = "; " + p.versionHint(ctx)
		}
		p.r.add(CheckTLS, StatusFail, reason, "handshake offering %s failed: %v%s", strings.Join(p.r.Offered, ", "), err, hint)
		return chain, asked
	}
	cs := tc.ConnectionState()
	p.r.Negotiated = &Negotiated{Version: versionName(cs.Version), Cipher: accesslog.CipherName(cs.CipherSuite)}
	p.r.add(CheckTLS, StatusOK, 0, "negotiated %s with %s", p.r.Negotiated.Version, p.r.Negotiated.Cipher)
	return chain, asked
}

// handshakeReason names a failed handshake as the edge does (edge.Classify,
// and ReasonOriginTLSHandshake for anything that is not a TLS error).
func handshakeReason(err error, timedOut bool) edge.Reason {
	if timedOut {
		return edge.ReasonOriginReadTimeout
	}
	switch r := edge.Classify(err); r {
	case edge.ReasonOriginTLSProtocol, edge.ReasonOriginTLSHandshake, edge.ReasonOriginTLSExpired,
		edge.ReasonOriginTLSUntrusted, edge.ReasonOriginTLSNameMismatch:
		return r
	}
	return edge.ReasonOriginTLSHandshake
}

// versionHint says which versions the server speaks, after a protocol
// failure.
func (p *prober) versionHint(ctx context.Context) string {
	p.scanVersions(ctx)
	var speaks []string
	for _, v := range p.r.Versions {
		if v.Accepted {
			speaks = append(speaks, v.Version)
		}
	}
	if len(speaks) == 0 {
		return "the server accepts none of TLS 1.0-1.3 with CloudFront's ciphers"
	}
	return "the server accepts only " + strings.Join(speaks, ", ") + "; CloudFront offers " + strings.Join(p.r.Offered, ", ")
}

// scanVersions tries every TLS version Go speaks, one handshake each, and
// records which the server accepts (once per probe).
func (p *prober) scanVersions(ctx context.Context) {
	if p.r.Versions != nil || p.r.Connected == "" {
		return
	}
	for v := uint16(tls.VersionTLS10); v <= tls.VersionTLS13; v++ {
		vr := VersionResult{Version: versionName(v), Offered: v >= p.t.lo && v <= p.t.hi}
		cipher, err := p.tryVersion(ctx, v)
		if err != nil {
			vr.Error = err.Error()
		} else {
			vr.Accepted, vr.Cipher = true, cipher
		}
		p.r.Versions = append(p.r.Versions, vr)
	}
}

func (p *prober) tryVersion(ctx context.Context, v uint16) (string, error) {
	d := net.Dialer{Timeout: p.cfg.ConnectTimeout}
	conn, err := d.DialContext(ctx, "tcp", p.r.Connected)
	if err != nil {
		return "", err
	}
	defer conn.Close()
	tc := tls.Client(conn, p.tlsConfig(v, v, nil, nil))
	hctx, cancel := context.WithTimeout(ctx, p.cfg.HandshakeTimeout)
	defer cancel()
	if err := tc.HandshakeContext(hctx); err != nil {
		p.cfg.Logger.Debug("probe: version refused", "addr", p.r.Connected, "version", versionName(v), "err", err)
		return "", err
	}
	return accesslog.CipherName(tc.ConnectionState().CipherSuite), nil
}

// checkExpiry implements cloudfront.md §2.3 rule 3 for every certificate sent.
func (p *prober) checkExpiry(chain []*x509.Certificate) {
	now := p.cfg.Now()
	bad := false
	for i, c := range chain {
		switch {
		case now.After(c.NotAfter):
			bad = true
			p.r.add(CheckExpiry, StatusFail, edge.ReasonOriginTLSExpired, "certificate #%d %s expired on %s", i, certSummary(c), c.NotAfter.UTC().Format(time.RFC3339))
		case now.Before(c.NotBefore):
			bad = true
			p.r.add(CheckExpiry, StatusFail, edge.ReasonOriginTLSExpired, "certificate #%d %s is not valid before %s", i, certSummary(c), c.NotBefore.UTC().Format(time.RFC3339))
		}
	}
	if !bad {
		leaf := chain[0]
		p.r.add(CheckExpiry, StatusOK, 0, "every certificate sent is valid now; the leaf expires %s (in %d days)",
			leaf.NotAfter.UTC().Format(time.RFC3339), int(leaf.NotAfter.Sub(now).Hours()/24))
	}
}

// checkChain implements cloudfront.md §2.3 rules 1-2: the chain is complete
// (CloudFront fetches no intermediates), in order (leaf first, each
// certificate signed by the next) and leads to a trusted root. Trust is
// judged at a time inside every certificate's validity, so that an expired
// certificate (reported by checkExpiry) does not hide a trust failure.
func (p *prober) checkChain(chain []*x509.Certificate) {
	r := p.r
	leaf := chain[0]

	// Completeness: follow the signatures from the leaf through what was sent.
	top, path := leaf, 1
	used := map[int]bool{0: true}
	for {
		next := -1
		for j, c := range chain {
			if !used[j] && signs(c, top) {
				next = j
				break
			}
		}
		if next < 0 {
			break
		}
		used[next] = true
		top = chain[next]
		path++
	}
	switch {
	case selfSigned(top):
		r.add(CheckChainComplete, StatusOK, 0, "the chain sent ends at the self-signed %s", certSummary(top))
	case p.chainsToRoot(top):
		r.add(CheckChainComplete, StatusOK, 0, "the chain sent (%d certificate(s)) ends at %s, issued by the trusted root %q", path, certSummary(top), top.Issuer.String())
	default:
		r.add(CheckChainComplete, StatusFail, edge.ReasonOriginTLSUntrusted,
			"the chain sent ends at %s, issued by %q, which the origin did not send and which is not a trusted root: a missing intermediate certificate (CloudFront does not fetch it) or an untrusted CA", certSummary(top), top.Issuer.String())
	}

	// Order: certificate i must be signed by certificate i+1.
	var disorder []string
	for i := 0; i+1 < len(chain); i++ {
		if !signs(chain[i+1], chain[i]) {
			disorder = append(disorder, fmt.Sprintf("#%d %s does not sign #%d %s", i+1, certSummary(chain[i+1]), i, certSummary(chain[i])))
		}
	}
	switch {
	case len(disorder) > 0:
		r.add(CheckChainOrder, StatusFail, edge.ReasonOriginTLSUntrusted, "not in order (leaf first, each certificate signed by the next): %s", strings.Join(disorder, "; "))
	case len(chain) == 1:
		r.add(CheckChainOrder, StatusOK, 0, "the origin sent the leaf only")
	default:
		r.add(CheckChainOrder, StatusOK, 0, "%d certificates, leaf first, each signed by the next", len(chain))
	}

	// Trust.
	inter := x509.NewCertPool()
	for _, c := range chain[1:] {
		inter.AddCert(c)
	}
	chains, err := leaf.Verify(x509.VerifyOptions{
		Roots:         p.roots,
		Intermediates: inter,
		CurrentTime:   p.verifyTime(chain),
		KeyUsages:     []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
	})
	switch {
	case err == nil:
		root := chains[0][len(chains[0])-1]
		r.add(CheckTrust, StatusOK, 0, "chains to the trusted root %q (%s)", root.Subject.String(), r.Trust)
	case len(chain) == 1 && selfSigned(leaf):
		r.add(CheckTrust, StatusFail, edge.ReasonOriginTLSUntrusted, "the certificate %s is self-signed; CloudFront rejects self-signed certificates", certSummary(leaf))
	default:
		r.add(CheckTrust, StatusFail, edge.ReasonOriginTLSUntrusted, "does not lead to a trusted root (%s): %v", r.Trust, err)
	}
}

// chainsToRoot reports whether c is issued by a trusted root.
func (p *prober) chainsToRoot(c *x509.Certificate) bool {
	_, err := c.Verify(x509.VerifyOptions{Roots: p.roots, CurrentTime: p.verifyTime([]*x509.Certificate{c}),
		KeyUsages: []x509.ExtKeyUsage{x509.ExtKeyUsageAny}})
	return err == nil
}

// verifyTime is now when every certificate is valid now, else a moment
// inside all their validity periods, else now.
func (p *prober) verifyTime(chain []*x509.Certificate) time.Time {
	now := p.cfg.Now()
	lo, hi := chain[0].NotBefore, chain[0].NotAfter
	for _, c := range chain[1:] {
		if c.NotBefore.After(lo) {
			lo = c.NotBefore
		}
		if c.NotAfter.Before(hi) {
			hi = c.NotAfter
		}
	}
	switch {
	case !now.Before(lo) && !now.After(hi):
		return now
	case !lo.After(hi):
		return lo.Add(hi.Sub(lo) / 2)
	}
	return now
}

// checkNames implements cloudfront.md §2.3 rule 4 with the edge's rule
// (edge.MatchCertificateName): the leaf must cover the forwarded Host when
// Host is forwarded, else the origin domain.
func (p *prober) checkNames(leaf *x509.Certificate) {
	r, t := p.r, p.t
	match := edge.MatchCertificateName(leaf, t.originDomain)
	switch {
	case t.host2 != "" && match:
		r.add(CheckNameOrigin, StatusInfo, 0, "%s covers the origin domain %q (not required: Host is forwarded)", certSummary(leaf), t.originDomain)
	case t.host2 != "":
		r.add(CheckNameOrigin, StatusInfo, 0, "%s does not cover the origin domain %q (not required: Host is forwarded)", certSummary(leaf), t.originDomain)
	case match:
		r.add(CheckNameOrigin, StatusOK, 0, "%s covers the origin domain %q", certSummary(leaf), t.originDomain)
	default:
		r.add(CheckNameOrigin, StatusFail, edge.ReasonOriginTLSNameMismatch,
			"%s does not cover the origin domain %q; use as origin domain a name the certificate covers (a DNS record pointing at the origin), or forward the viewer Host (cloudfront.md §2.5)",
			certSummary(leaf), t.originDomain)
	}
	if t.host2 == "" {
		return
	}
	if edge.MatchCertificateName(leaf, t.host2) {
		r.add(CheckNameForwarded, StatusOK, 0, "%s covers the forwarded Host %q", certSummary(leaf), t.host2)
	} else {
		r.add(CheckNameForwarded, StatusFail, edge.ReasonOriginTLSNameMismatch, "%s does not cover the forwarded Host %q", certSummary(leaf), t.host2)
	}
}

// outcome maps the first failing check onto the edge's failure table.
func outcome(r *Report) Outcome {
	for _, c := range r.Checks {
		if c.Status != StatusFail {
			continue
		}
		return Outcome{
			Status:             c.reason.Status(),
			Reason:             c.reason.String(),
			DetailedResultType: c.reason.DetailedResultType(),
			Message:            c.reason.Message(),
			XCache:             "Error from cloudfront",
			Cause:              c.Summary,
		}
	}
	return Outcome{WouldConnect: true, Status: edge.ReasonNone.Status(), Reason: edge.ReasonNone.String()}
}

func signs(parent, child *x509.Certificate) bool {
	return parent != child && child.CheckSignatureFrom(parent) == nil
}

func selfSigned(c *x509.Certificate) bool {
	return bytes.Equal(c.RawSubject, c.RawIssuer) && c.CheckSignature(c.SignatureAlgorithm, c.RawTBSCertificate, c.Signature) == nil
}

// certSummary names a certificate by its CN and DNS SANs.
func certSummary(c *x509.Certificate) string {
	return fmt.Sprintf("(CN=%q, SANs=%q)", c.Subject.CommonName, c.DNSNames)
}

func certInfo(i int, c *x509.Certificate) CertInfo {
	return CertInfo{Index: i, Subject: c.Subject.String(), Issuer: c.Issuer.String(), CommonName: c.Subject.CommonName,
		DNSNames: c.DNSNames, NotBefore: c.NotBefore.UTC(), NotAfter: c.NotAfter.UTC(), IsCA: c.IsCA, SelfSigned: selfSigned(c)}
}

// versionName is the OpenSSL-style name of a TLS version, as both AWS logs
// print it.
func versionName(v uint16) string {
	if n := accesslog.ProtocolName(v); n != "" {
		return n
	}
	return tls.VersionName(v)
}
