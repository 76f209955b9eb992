// Package edge is kumo's CloudFront data plane: one HTTPS and one HTTP
// listener plane that serve every distribution of a stack. It selects the
// viewer certificate by SNI and the distribution by Host, matches cache
// behaviors, applies the viewer protocol policy and allowed methods, serves
// from and fills the cache (package cache), fetches from custom origins with
// CloudFront's connection, TLS and timeout rules, generates CloudFront's own
// error pages and redirects, and fills one standard-log record per response.
//
// The rules follow /work/shared/reference/cloudfront.md; each lives in one
// function that cites its section. Every way a request fails is a Reason.
package edge

import (
	"context"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"encoding/hex"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"reflect"
	"regexp"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/kumo-dev/kumo/internal/accesslog"
	"github.com/kumo-dev/kumo/internal/cache"
	"github.com/kumo-dev/kumo/internal/dns"
	"github.com/kumo-dev/kumo/internal/model"
	"github.com/kumo-dev/kumo/internal/serve"
)

// Certs provides viewer certificates (package pki's CA implements it).
type Certs interface {
	ForCertificate(*model.Certificate) (*tls.Certificate, error)
	DefaultViewerCertificate() (*tls.Certificate, error)
}

// Resolver resolves an origin name and port to a local address to dial
// (package dns's Resolver implements it). Errors wrap dns.ErrNotFound or
// dns.ErrNoListener.
type Resolver interface {
	Resolve(ctx context.Context, host string, port int) (dns.Answer, error)
}

// DefaultEdgeLocation is the POP code used when Config.EdgeLocation is
// empty: the seed log's Tokyo edge (cloudfront.md §1.7, §6).
const DefaultEdgeLocation = "NRT57-P3"

// DefaultCacheBytes is the edge's cache budget when Config.CacheBytes is
// zero: 256 MiB for all distributions together.
const DefaultCacheBytes = 256 << 20

var edgeLocationRE = regexp.MustCompile(`^[A-Z]{3}[0-9]{1,3}(-[CP][0-9]{1,2})?$`)

// Config configures an Edge.
type Config struct {
	Stack *model.Stack
	Certs Certs
	// Resolver resolves origin domain names.
	Resolver Resolver
	// OriginRoots is what origin certificates are verified against; nothing
	// else is trusted.
	OriginRoots *x509.CertPool
	// Log receives one record per response, after the response finished.
	// Requests whose Host matches no distribution are not logged (no
	// distribution owns them). It is called for every distribution; the
	// callee decides what to do with distributions whose Logging is off.
	// rec is the callee's only during the call (it belongs to a
	// transaction that is recycled): copy what must be kept, and clone
	// rec.RequestID (strings.Clone) to keep it: it may point into the
	// transaction's own memory, which the next request reuses.
	Log    func(d *model.Distribution, rec *accesslog.CloudFrontRecord)
	Logger *slog.Logger
	// EdgeLocation is x-edge-location and X-Amz-Cf-Pop ("" = DefaultEdgeLocation).
	EdgeLocation string
	// HTTPSPort is the local port of the viewer HTTPS listener, used in
	// redirects when the viewer's Host carries a port (0 = drop the port).
	HTTPSPort int
	// Now is the clock (nil = time.Now).
	Now func() time.Time
	// HTTP3Port is the local UDP port of the viewer HTTP/3 listener
	// (ListenHTTP3); HTTPS responses of http3/http2and3 distributions
	// advertise it in Alt-Svc. 0 means no HTTP/3 listener.
	HTTP3Port int
	// CacheBytes is the memory budget of the whole edge's cache, shared by
	// every distribution (0 = DefaultCacheBytes): keys, headers and bodies
	// are counted, and the total never exceeds it.
	CacheBytes int64
}

// Edge serves all distributions of one stack. It is safe for concurrent use.
type Edge struct {
	cfg    Config
	logger *slog.Logger
	now    func() time.Time
	pop    string
	// viaHost is this edge server's "<32 hex>.cloudfront.net" (one per Edge,
	// UNCONFIRMED whether CloudFront varies it per request).
	viaHost   string
	viaViewer string // "1.1 <viaHost> (CloudFront)"

	dists   []*distribution
	exact   map[string]hostRoute // aliases and distribution domains
	wild    map[string]hostRoute // "*.example.com" aliases, keyed by "example.com"
	tlsDflt *tls.Config

	// local is the Metadata.Kumo.LocalDefault distribution (nil if none):
	// it takes the requests for loopback hosts (see localDefaultHost).
	local *distribution

	// originSuites are the cipher suites offered to origins (OriginCiphers).
	originSuites []uint16

	bufs sync.Pool // *[]byte copy buffers
	rids sync.Pool // *ridSource request-id generators (newRequestID)
	txns sync.Pool // *txn of lean transactions
	hv   headerValues
	// altSvc is the Alt-Svc value of HTTP/3 distributions (nil without an
	// HTTP/3 listener).
	altSvc []string

	// store is the object store shared by all distributions (each has its
	// own partition); it outlives a reload.
	store *cache.Store
	// flights are the origin fetches in progress that other requests may
	// wait for (request collapsing, cloudfront.md §4.8).
	flights flightGroup
	// closed makes Close idempotent (it releases cache references).
	closed atomic.Bool
}

// hostRoute is where a host name leads.
type hostRoute struct {
	d     *distribution
	alias bool // an alternate domain name (vs the distribution's own domain)
}

// distribution is a model distribution resolved for serving.
type distribution struct {
	m         *model.Distribution
	behaviors []*behavior // CacheBehaviors in order, then the default
	origins   map[string]*origin
	store     *cache.Partition
	// storeRefs counts the Edges (this one and reload successors) that
	// serve from store; the last one to Close drops its objects.
	storeRefs *atomic.Int32
	// aliasTLS serves the aliases (custom certificate); domainTLS serves the
	// distribution's own domain (default certificate).
	aliasTLS, domainTLS *tls.Config
}

// New builds an Edge for cfg.Stack. prev (may be nil) is the edge being
// replaced on reload: a distribution whose configuration is unchanged
// (deeply equal model) keeps prev's cache; a changed or new distribution is a
// new deployment and starts with a cold cache.
func New(cfg Config, prev *Edge) (*Edge, error) {
	if cfg.Stack == nil {
		return nil, errors.New("edge: no stack")
	}
	if cfg.Certs == nil || cfg.Resolver == nil || cfg.OriginRoots == nil {
		return nil, errors.New("edge: Certs, Resolver and OriginRoots are required")
	}
	e := &Edge{cfg: cfg, logger: cfg.Logger, now: cfg.Now, pop: cfg.EdgeLocation,
		exact: map[string]hostRoute{}, wild: map[string]hostRoute{}}
	if e.logger == nil {
		e.logger = slog.Default()
	}
	if e.now == nil {
		e.now = time.Now
	}
	if e.pop == "" {
		e.pop = DefaultEdgeLocation
	}
	if !edgeLocationRE.MatchString(e.pop) {
		return nil, fmt.Errorf("edge: EdgeLocation %q does not match %s", e.pop, edgeLocationRE)
	}
	if cfg.CacheBytes == 0 {
		e.cfg.CacheBytes = DefaultCacheBytes
	}
	if err := e.openStore(prev); err != nil {
		return nil, err
	}
	var id [16]byte
	if _, err := rand.Read(id[:]); err != nil {
		return nil, fmt.Errorf("edge: via id: %w", err)
	}
	e.viaHost = hex.EncodeToString(id[:]) + ".cloudfront.net"
	e.viaViewer = "1.1 " + e.viaHost + " (CloudFront)"
	e.hv = headerValues{hit: []string{xCacheHit}, miss: []string{xCacheMiss}, err: []string{xCacheError},
		via: []string{e.viaViewer}, pop: []string{e.pop}, ages: newAgeValues()}
	e.bufs.New = func() any { b := make([]byte, 32<<10); return &b }
	e.originSuites = OriginCipherSuites()
	if cfg.HTTP3Port != 0 {
		e.altSvc = []string{altSvcValue(cfg.HTTP3Port)}
	}

	dflt, err := cfg.Certs.DefaultViewerCertificate()
	if err != nil {
		return nil, fmt.Errorf("edge: default viewer certificate: %w", err)
	}
	// UNCONFIRMED: a hello for no known name gets the default certificate
	// with HTTP/2 allowed.
	if e.tlsDflt, err = viewerTLSConfig(dflt, "TLSv1", "http2"); err != nil {
		return nil, err
	}
	for _, md := range cfg.Stack.Distributions {
		d, err := e.newDistribution(md, dflt, prev)
		if err != nil {
			return nil, fmt.Errorf("edge: distribution %s (%s): %w", md.LogicalID, md.DomainName, err)
		}
		e.dists = append(e.dists, d)
	}
	return e, nil
}

func (e *Edge) newDistribution(md *model.Distribution, dflt *tls.Certificate, prev *Edge) (*distribution, error) {
	d := &distribution{m: md, origins: map[string]*origin{}}
	for _, mo := range md.Origins {
		if _, dup := d.origins[mo.ID]; dup {
			return nil, fmt.Errorf("duplicate origin id %q", mo.ID)
		}
		o, err := newOrigin(e, mo)
		if err != nil {
			return nil, err
		}
		d.origins[mo.ID] = o
	}
	groups, gerr := newOriginGroups(md, d.origins)
	if gerr != nil {
		return nil, gerr
	}
	if md.DefaultBehavior == nil {
		return nil, errors.New("no DefaultCacheBehavior")
	}
	for i, mb := range append(append([]*model.CacheBehavior{}, md.Behaviors...), md.DefaultBehavior) {
		if mb != md.DefaultBehavior && mb.PathPattern == "" {
			return nil, fmt.Errorf("cache behavior %d has no PathPattern", i)
		}
		b, err := resolveBehavior(mb, i, d.origins, groups)
		if err != nil {
			return nil, err
		}
		d.behaviors = append(d.behaviors, b)
	}
	var err error
	if d.domainTLS, err = viewerTLSConfig(dflt, "TLSv1", md.HTTPVersion); err != nil {
		return nil, err
	}
	d.aliasTLS = d.domainTLS
	if md.ViewerCertificate != nil {
		vc, err := e.cfg.Certs.ForCertificate(md.ViewerCertificate)
		if err != nil {
			return nil, fmt.Errorf("viewer certificate: %w", err)
		}
		if d.aliasTLS, err = viewerTLSConfig(vc, md.MinimumProtocolVersion, md.HTTPVersion); err != nil {
			return nil, err
		}
	}
	if prev != nil && prev.store == e.store {
		for _, pd := range prev.dists {
			if pd.m.ID == md.ID && reflect.DeepEqual(pd.m, md) {
				d.store, d.storeRefs = pd.store, pd.storeRefs
			}
		}
	}
	if d.store == nil {
		d.store, d.storeRefs = e.store.Partition(), new(atomic.Int32)
	}
	d.storeRefs.Add(1)
	domain := strings.ToLower(md.DomainName)
	if domain == "" {
		return nil, errors.New("empty DomainName")
	}
	if err := e.addHost(domain, hostRoute{d: d}); err != nil {
		return nil, err
	}
	if md.LocalDefault {
		if e.local != nil {
			return nil, fmt.Errorf("LocalDefault is already set by distribution %s", e.local.m.LogicalID)
		}
		e.local = d
	}
	for _, a := range md.Aliases {
		if err := e.addHost(strings.ToLower(a), hostRoute{d: d, alias: true}); err != nil {
			return nil, err
		}
	}
	return d, nil
}

// addHost registers a distribution domain or alias; one name belongs to one
// distribution (cloudfront.md §5.6).
func (e *Edge) addHost(name string, r hostRoute) error {
	m, key := e.exact, name
	if rest, ok := strings.CutPrefix(name, "*."); ok {
		m, key = e.wild, rest
	}
	if key == "" || strings.Contains(key, "*") {
		return fmt.Errorf("alias %q: a wildcard must be the whole left-most label", name)
	}
	if other, dup := m[key]; dup {
		return fmt.Errorf("alias %q already belongs to distribution %s", name, other.d.m.DomainName)
	}
	m[key] = r
	return nil
}

// routeHost implements cloudfront.md §5.6: the distribution for a host name
// (lowercase, no port): an exact alias or distribution domain, else the most
// specific wildcard alias (*.example.com covers any depth of subdomain).
func (e *Edge) routeHost(host string) (hostRoute, bool) {
	if r, ok := e.exact[host]; ok {
		return r, true
	}
	for i := strings.IndexByte(host, '.'); i >= 0; {
		if r, ok := e.wild[host[i+1:]]; ok {
			return r, true
		}
		j := strings.IndexByte(host[i+1:], '.')
		if j < 0 {
			break
		}
		i += 1 + j
	}
	if e.local != nil && localDefaultHost(host) {
		return hostRoute{d: e.local}, true
	}
	return hostRoute{}, false
}

// viewerMinTLS implements cloudfront.md §5.7: the lowest viewer TLS version a
// security policy allows.
func viewerMinTLS(policy string) (uint16, error) {
	switch policy {
	case "", "TLSv1", "TLSv1_2016", "SSLv3":
		return tls.VersionTLS10, nil
	case "TLSv1.1_2016":
		return tls.VersionTLS11, nil
	case "TLSv1.2_2018", "TLSv1.2_2019", "TLSv1.2_2021", "TLSv1.2_2025":
		return tls.VersionTLS12, nil
	case "TLSv1.3_2025":
		return tls.VersionTLS13, nil
	}
	return 0, fmt.Errorf("unknown MinimumProtocolVersion %q", policy)
}

// viewerALPN implements cloudfront.md §5.8: HTTP/2 is offered when HttpVersion
// allows it (the default, "", is http2).
func viewerALPN(httpVersion string) ([]string, error) {
	switch httpVersion {
	case "", "http2", "http2and3":
		return []string{"h2", "http/1.1"}, nil
	case "http1.1", "http3":
		return []string{"http/1.1"}, nil
	}
	return nil, fmt.Errorf("unknown HttpVersion %q", httpVersion)
}

func viewerTLSConfig(cert *tls.Certificate, policy, httpVersion string) (*tls.Config, error) {
	minV, err := viewerMinTLS(policy)
	if err != nil {
		return nil, err
	}
	alpn, err := viewerALPN(httpVersion)
	if err != nil {
		return nil, err
	}
	ciphers, err := viewerCiphers(policy)
	if err != nil {
		return nil, err
	}
	return &tls.Config{Certificates: []tls.Certificate{*cert}, MinVersion: minV, NextProtos: alpn,
		CipherSuites: ciphers, CurvePreferences: viewerCurves()}, nil
}

// viewerTLS picks the viewer TLS configuration by SNI (cloudfront.md §5.6,
// §5.7): an alias of a distribution with a viewer certificate gets that
// certificate and policy; anything else the default *.cloudfront.net one.
func (e *Edge) viewerTLS(hello *tls.ClientHelloInfo) (*tls.Config, error) {
	r, ok := e.routeHost(strings.TrimSuffix(strings.ToLower(hello.ServerName), "."))
	if !ok {
		return e.tlsDflt, nil
	}
	if r.alias {
		return r.d.aliasTLS, nil
	}
	return r.d.domainTLS, nil
}

// Plane returns the listener plane: the viewer HTTPS plane (https true) or
// the plain HTTP plane. Each serves all distributions.
func (e *Edge) Plane(https bool) serve.Plane {
	p := serve.Plane{Handler: &viewerHandler{e: e, https: https}}
	if https {
		p.TLS = e.viewerTLS
	}
	return p
}

// Close releases idle origin connections and drops the cached objects of
// distributions that no successor Edge took over.
func (e *Edge) Close() {
	if !e.closed.CompareAndSwap(false, true) {
		return
	}
	for _, d := range e.dists {
		if d.storeRefs.Add(-1) == 0 {
			d.store.Drop()
		}
		for _, o := range d.origins {
			o.close()
		}
	}
}

type viewerHandler struct {
	e     *Edge
	https bool
}

func (h *viewerHandler) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	h.e.serve(w, r, h.https, false)
}

// ServeFast implements serve.FastHandler: the edge serves every request the
// lean engine offers it (no body, no upgrade); a hit costs no more than its
// answer, and a request that goes to the origin watches the viewer's
// connection from then on (txn.needsOrigin).
func (h *viewerHandler) ServeFast(w http.ResponseWriter, r *http.Request) (served bool) {
	defer func() {
		if v := recover(); v != nil {
			if err, ok := v.(error); ok && err == errDeclined {
				served = false
				return
			}
			panic(v)
		}
	}()
	h.e.serve(w, r, h.https, true)
	return true
}
