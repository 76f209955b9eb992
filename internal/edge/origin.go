package edge

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptrace"
	"strconv"
	"strings"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/kumo-dev/kumo/internal/model"
	"github.com/kumo-dev/kumo/internal/upstream"
)

// Origin defaults (cloudfront.md §3.1, §7) used when the model leaves a field zero.
const (
	defaultConnectionAttempts = 3
	defaultConnectionTimeout  = 10 * time.Second
	defaultReadTimeout        = 30 * time.Second
	defaultKeepaliveTimeout   = 5 * time.Second
	// maxOriginResponseHeader is the largest origin response header block
	// CloudFront accepts (cloudfront.md §2.4, quota 32,768 bytes).
	maxOriginResponseHeader = 32768
	// maxIdlePerOrigin bounds the keep-alive pool per origin address.
	maxIdlePerOrigin = 64
)

// origin is one distribution origin with its connection pool.
type origin struct {
	m              *model.Origin
	e              *Edge
	attempts       int
	connectTimeout time.Duration
	readTimeout    time.Duration
	minTLS, maxTLS uint16
	transport      *http.Transport
	// lean takes the plain-HTTP requests without a body (package
	// upstream); transport the others.
	lean *upstream.Transport
	// sessions are the TLS sessions to resume with the origin.
	sessions         tls.ClientSessionCache
	domainLowerCased string
}

func newOrigin(e *Edge, m *model.Origin) (*origin, error) {
	if m.DomainName == "" {
		return nil, fmt.Errorf("origin %q: empty DomainName", m.ID)
	}
	if net.ParseIP(m.DomainName) != nil {
		return nil, fmt.Errorf("origin %q: InvalidArgument: The parameter origin name cannot be an IP address", m.ID)
	}
	o := &origin{m: m, e: e, attempts: m.ConnectionAttempts, connectTimeout: m.ConnectionTimeout,
		readTimeout: m.Custom.ReadTimeout, domainLowerCased: strings.ToLower(m.DomainName)}
	if o.attempts == 0 {
		o.attempts = defaultConnectionAttempts
	}
	if o.attempts < 1 || o.attempts > 3 {
		return nil, fmt.Errorf("origin %q: ConnectionAttempts %d is not 1-3", m.ID, m.ConnectionAttempts)
	}
	if o.connectTimeout == 0 {
		o.connectTimeout = defaultConnectionTimeout
	}
	if o.readTimeout == 0 {
		o.readTimeout = defaultReadTimeout
	}
	if o.connectTimeout < 0 || o.readTimeout < 0 {
		return nil, fmt.Errorf("origin %q: negative timeout", m.ID)
	}
	switch m.Custom.ProtocolPolicy {
	case model.OriginHTTPOnly, model.OriginHTTPSOnly, model.OriginMatchViewer:
	default:
		return nil, fmt.Errorf("origin %q: OriginProtocolPolicy %q is not http-only, https-only or match-viewer", m.ID, m.Custom.ProtocolPolicy)
	}
	for _, p := range []int{m.Custom.HTTPPort, m.Custom.HTTPSPort} {
		if p != 0 && (p < 1 || p > 65535) {
			return nil, fmt.Errorf("origin %q: port %d out of range", m.ID, p)
		}
	}
	var err error
	if o.minTLS, o.maxTLS, err = OriginTLSVersions(m.Custom.SSLProtocols); err != nil {
		return nil, fmt.Errorf("origin %q: %w", m.ID, err)
	}
	keepalive := m.Custom.KeepaliveTimeout
	if keepalive == 0 {
		keepalive = defaultKeepaliveTimeout
	}
	o.transport = &http.Transport{
		Proxy:                  nil,
		DialContext:            o.dialPlain,
		DialTLSContext:         o.dialTLS,
		ForceAttemptHTTP2:      false,
		TLSNextProto:           map[string]func(string, *tls.Conn) http.RoundTripper{}, // HTTP/1.1 only (§2.1)
		DisableCompression:     true,
		MaxIdleConnsPerHost:    maxIdlePerOrigin,
		IdleConnTimeout:        keepalive,
		MaxResponseHeaderBytes: maxOriginResponseHeader,
	}
	o.sessions = tls.NewLRUClientSessionCache(maxIdlePerOrigin)
	o.lean = &upstream.Transport{
		Dial:                   o.dialPlain,
		MaxIdlePerHost:         maxIdlePerOrigin,
		IdleTimeout:            keepalive,
		MaxResponseHeaderBytes: maxOriginResponseHeader,
	}
	return o, nil
}

// closeIdle closes the origin's idle connections.
func (o *origin) closeIdle() {
	o.transport.CloseIdleConnections()
	o.lean.CloseIdleConnections()
}

// close closes the idle connections and keeps none from now on.
func (o *origin) close() {
	o.transport.CloseIdleConnections()
	o.lean.Close()
}

// OriginTLSVersions implements cloudfront.md §2.1 for OriginSSLProtocols: the
// lowest and highest TLS version offered to the origin. The API calls the
// list the "allowed" protocols, while the SDK, CloudFormation and console
// docs call it "the minimum SSL/TLS protocol that CloudFront uses"; real
// distributions with the CloudFormation default [TLSv1, SSLv3] reach modern
// TLS 1.2/1.3 origins. So the lowest listed version is the floor and TLS 1.3
// (which current docs say CloudFront uses with origins) the ceiling
// (UNCONFIRMED). Go cannot speak SSLv3: it counts as TLSv1. An empty list
// means TLSv1.2, the console default.
func OriginTLSVersions(protocols []string) (lo, hi uint16, err error) {
	if len(protocols) == 0 {
		return tls.VersionTLS12, tls.VersionTLS13, nil
	}
	for _, p := range protocols {
		var v uint16
		switch p {
		case "SSLv3", "TLSv1":
			v = tls.VersionTLS10
		case "TLSv1.1":
			v = tls.VersionTLS11
		case "TLSv1.2":
			v = tls.VersionTLS12
		default:
			return 0, 0, fmt.Errorf("OriginSslProtocols: unknown protocol %q (want SSLv3, TLSv1, TLSv1.1 or TLSv1.2)", p)
		}
		if lo == 0 || v < lo {
			lo = v
		}
	}
	return lo, tls.VersionTLS13, nil
}

// portFor returns the scheme and port the origin is reached on for a viewer
// scheme (cloudfront.md §2.1 origin protocol policy).
func (o *origin) portFor(viewerHTTPS bool) (scheme string, port int) {
	https := o.m.Custom.ProtocolPolicy == model.OriginHTTPSOnly ||
		(o.m.Custom.ProtocolPolicy == model.OriginMatchViewer && viewerHTTPS)
	if https {
		port = o.m.Custom.HTTPSPort
		if port == 0 {
			port = 443
		}
		return "https", port
	}
	port = o.m.Custom.HTTPPort
	if port == 0 {
		port = 80
	}
	return "http", port
}

// dialPlain connects to the origin for a plain-HTTP request. addr's host is
// ignored: the origin's DomainName is always what is resolved, so a request
// can never reach anything but its origin.
func (o *origin) dialPlain(ctx context.Context, _, addr string) (net.Conn, error) {
	return o.dialTCP(ctx, addr)
}

// dialTCP resolves the origin domain and connects with ConnectionTimeout per
// attempt, up to ConnectionAttempts (cloudfront.md §3.1).
func (o *origin) dialTCP(ctx context.Context, addr string) (net.Conn, error) {
	_, portStr, err := net.SplitHostPort(addr)
	if err != nil {
		return nil, &FetchError{Reason: ReasonOriginRefused, Err: fmt.Errorf("origin address %q: %w", addr, err)}
	}
	port, err := strconv.Atoi(portStr)
	if err != nil {
		return nil, &FetchError{Reason: ReasonOriginRefused, Err: fmt.Errorf("origin port %q: %w", portStr, err)}
	}
	ans, err := o.e.cfg.Resolver.Resolve(ctx, o.m.DomainName, port)
	if err != nil {
		if ctx.Err() != nil {
			return nil, ctx.Err()
		}
		r := Classify(err)
		if r != ReasonOriginRefused {
			r = ReasonOriginDNS
		}
		return nil, &FetchError{Reason: r, Detail: fmt.Sprintf("resolve %s port %d", o.m.DomainName, port), Err: err}
	}
	var lastErr error
	for attempt := 1; attempt <= o.attempts; attempt++ {
		d := net.Dialer{Timeout: o.connectTimeout}
		c, err := d.DialContext(ctx, "tcp", ans.Dial)
		if err == nil {
			return c, nil
		}
		if ctx.Err() != nil {
			return nil, ctx.Err()
		}
		lastErr = err
	}
	reason := ReasonOriginRefused
	var ne net.Error
	if errors.As(lastErr, &ne) && ne.Timeout() && !errors.Is(lastErr, syscall.ECONNREFUSED) {
		reason = ReasonOriginConnectTimeout
	}
	return nil, &FetchError{Reason: reason,
		Detail: fmt.Sprintf("%d connection attempt(s) of %s to %s (%s:%d)", o.attempts, o.connectTimeout, ans.Dial, o.m.DomainName, port),
		Err:    lastErr}
}

// dialTLS connects and completes the TLS handshake. The host of addr is the
// SNI and the name the certificate must match: the origin domain, or the
// viewer's Host when it is forwarded (cloudfront.md §2.2). The handshake
// must complete within OriginReadTimeout (UNCONFIRMED: the reference gives
// no handshake timeout).
func (o *origin) dialTLS(ctx context.Context, _, addr string) (net.Conn, error) {
	sni, _, err := net.SplitHostPort(addr)
	if err != nil {
		return nil, &FetchError{Reason: ReasonOriginRefused, Err: fmt.Errorf("origin address %q: %w", addr, err)}
	}
	raw, err := o.dialTCP(ctx, addr)
	if err != nil {
		return nil, err
	}
	cfg := &tls.Config{
		ServerName: sni,
		// Verification is done, fully, by verifyOriginCertificate: Go's
		// verifier cannot fall back to the CN nor report the reasons apart.
		InsecureSkipVerify: true,
		VerifyConnection: func(cs tls.ConnectionState) error {
			return verifyOriginCertificate(cs.PeerCertificates, sni, o.e.cfg.OriginRoots, o.e.now())
		},
		MinVersion:   o.minTLS,
		MaxVersion:   o.maxTLS,
		CipherSuites: o.e.originSuites,
		NextProtos:   []string{"http/1.1"},
		// TLS session resumption toward the origin (the certificate
		// checks above still run on a resumed connection).
		ClientSessionCache: o.sessions,
	}
	tc := tls.Client(raw, cfg)
	hctx, cancel := context.WithTimeout(ctx, o.readTimeout)
	defer cancel()
	if err := tc.HandshakeContext(hctx); err != nil {
		_ = raw.Close()
		if ctx.Err() != nil {
			return nil, ctx.Err()
		}
		var fe *FetchError
		if errors.As(err, &fe) {
			return nil, err
		}
		r := classifyTLS(err)
		switch {
		case hctx.Err() != nil:
			r = ReasonOriginReadTimeout
		case r == ReasonNone:
			r = ReasonOriginTLSHandshake
		}
		return nil, &FetchError{Reason: r, Detail: fmt.Sprintf("TLS handshake with %s (SNI %s)", o.m.DomainName, sni), Err: err}
	}
	return tc, nil
}

// verifyOriginCertificate implements cloudfront.md §2.3: the chain the
// origin sent (leaf first, no fetched intermediates) must lead to a root in
// roots (nothing else is trusted), every certificate must be valid at now,
// and the leaf's CN or a DNS SAN must match name (MatchCertificateName).
func verifyOriginCertificate(chain []*x509.Certificate, name string, roots *x509.CertPool, now time.Time) error {
	if len(chain) == 0 {
		return &FetchError{Reason: ReasonOriginTLSUntrusted, Err: errors.New("origin sent no certificate")}
	}
	leaf := chain[0]
	inter := x509.NewCertPool()
	for _, c := range chain[1:] {
		inter.AddCert(c)
	}
	_, err := leaf.Verify(x509.VerifyOptions{
		Roots:         roots,
		Intermediates: inter,
		CurrentTime:   now,
		KeyUsages:     []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
	})
	if err != nil {
		var invalid x509.CertificateInvalidError
		if errors.As(err, &invalid) && invalid.Reason == x509.Expired {
			return &FetchError{Reason: ReasonOriginTLSExpired,
				Detail: fmt.Sprintf("certificate %s valid %s to %s, now %s", certSummary(invalid.Cert), invalid.Cert.NotBefore.UTC().Format(time.RFC3339), invalid.Cert.NotAfter.UTC().Format(time.RFC3339), now.UTC().Format(time.RFC3339)),
				Err:    err}
		}
		detail := fmt.Sprintf("certificate %s issued by %q is not trusted", certSummary(leaf), leaf.Issuer.String())
		if leaf.Issuer.String() == leaf.Subject.String() {
			detail = fmt.Sprintf("certificate %s is self-signed", certSummary(leaf))
		}
		return &FetchError{Reason: ReasonOriginTLSUntrusted, Detail: detail, Err: err}
	}
	if !MatchCertificateName(leaf, name) {
		return &FetchError{Reason: ReasonOriginTLSNameMismatch,
			Detail: fmt.Sprintf("certificate %s does not match the expected name %q", certSummary(leaf), name),
			Err:    x509.HostnameError{Certificate: leaf, Host: name}}
	}
	return nil
}

// certSummary lists a certificate's CN and DNS SANs for log messages.
func certSummary(c *x509.Certificate) string {
	return fmt.Sprintf("(CN=%q, SANs=%q)", c.Subject.CommonName, c.DNSNames)
}

// MatchCertificateName implements the name rule of cloudfront.md §2.3 rule 4
// with RFC 6125 wildcards: case-insensitive; the CN or any DNS SAN may match
// (UNCONFIRMED whether CN counts next to SANs); * only as the whole
// left-most label, matching exactly one label.
func MatchCertificateName(c *x509.Certificate, name string) bool {
	name = strings.TrimSuffix(strings.ToLower(name), ".")
	if name == "" {
		return false
	}
	for _, n := range c.DNSNames {
		if MatchDNSName(n, name) {
			return true
		}
	}
	return c.Subject.CommonName != "" && MatchDNSName(c.Subject.CommonName, name)
}

// MatchDNSName reports whether one certificate name (a DNS name or an RFC
// 6125 wildcard such as *.example.com) covers name, under the rule of
// MatchCertificateName. name must already be lower-case without a trailing
// dot.
func MatchDNSName(pattern, name string) bool {
	pattern = strings.TrimSuffix(strings.ToLower(pattern), ".")
	if rest, ok := strings.CutPrefix(pattern, "*."); ok {
		_, nameRest, found := strings.Cut(name, ".")
		return found && rest != "" && strings.Contains(rest, ".") && nameRest == rest && !strings.HasPrefix(name, ".")
	}
	return !strings.Contains(pattern, "*") && pattern == name
}

// readWatch enforces OriginReadTimeout (cloudfront.md §3.1) on one attempt:
// it runs from the moment the request is written until the first response
// byte, and again for every read of the body.
type readWatch struct {
	timer     *time.Timer
	d         time.Duration
	responded atomic.Bool
	cancel    context.CancelCauseFunc
}

func newReadWatch(d time.Duration, cancel context.CancelCauseFunc) *readWatch {
	w := &readWatch{d: d, cancel: cancel}
	w.timer = time.AfterFunc(time.Hour, func() { cancel(errReadTimeout) })
	w.timer.Stop()
	return w
}

func (w *readWatch) wroteRequest(httptrace.WroteRequestInfo) {
	if !w.responded.Load() {
		w.timer.Reset(w.d)
	}
}

// watchedBody is an origin response body under a readWatch.
type watchedBody struct {
	rc io.ReadCloser
	w  *readWatch
}

func (b *watchedBody) Read(p []byte) (int, error) {
	b.w.timer.Reset(b.w.d)
	n, err := b.rc.Read(p)
	b.w.timer.Stop()
	return n, err
}

func (b *watchedBody) Close() error {
	b.w.timer.Stop()
	err := b.rc.Close()
	b.w.cancel(nil)
	return err
}

// roundTrip sends req to the origin. A response timeout is retried, for
// GET and HEAD only, up to ConnectionAttempts (cloudfront.md §3.1). The
// returned body enforces the read timeout between reads; close it.
func (o *origin) roundTrip(ctx context.Context, req *http.Request) (*http.Response, error) {
	retry := req.Method == http.MethodGet || req.Method == http.MethodHead
	for attempt := 1; ; attempt++ {
		actx, cancel := context.WithCancelCause(ctx)
		w := newReadWatch(o.readTimeout, cancel)
		trace := &httptrace.ClientTrace{WroteRequest: w.wroteRequest}
		rt := http.RoundTripper(o.transport)
		if upstream.Supported(req) {
			rt = o.lean
		}
		resp, err := rt.RoundTrip(req.WithContext(httptrace.WithClientTrace(actx, trace)))
		w.responded.Store(true)
		w.timer.Stop()
		if err == nil {
			resp.Body = &watchedBody{rc: resp.Body, w: w}
			return resp, nil
		}
		timedOut := errors.Is(context.Cause(actx), errReadTimeout)
		cancel(nil)
		if ctx.Err() != nil {
			return nil, fmt.Errorf("viewer went away: %w", ctx.Err())
		}
		if timedOut {
			err = &FetchError{Reason: ReasonOriginReadTimeout,
				Detail: fmt.Sprintf("no response from %s within OriginReadTimeout %s (attempt %d of %d)", o.m.DomainName, o.readTimeout, attempt, o.attempts),
				Err:    errReadTimeout}
			if retry && attempt < o.attempts {
				continue
			}
		}
		return nil, err
	}
}
