package doctor

import (
	"fmt"
	"net/netip"
	"strings"

	"github.com/kumo-dev/kumo/internal/dns"
	"github.com/kumo-dev/kumo/internal/model"
)

// maxHops bounds alias/CNAME chains, as the dns package does.
const maxHops = 16

// resolution is where a name leads in the stack's world.
type resolution struct {
	// lb is the load balancer the name resolves to (nil if none).
	lb *model.LoadBalancer
	// chain is the names followed, the first being the name asked.
	chain []string
	// missing is true for a name of the modeled world (a Route 53 zone of
	// the stack, *.elb.amazonaws.com, *.cloudfront.net) that resolves to
	// nothing: CloudFront's OriginDnsError.
	missing bool
}

// resolve follows name through the stack's Route 53 records the way package
// dns does (a CNAME first, then an A/AAAA alias; "dualstack." + an ELB name
// is that ELB, alb.md §3.4) until it reaches a load balancer. Names outside
// the modeled world, IP addresses and CloudFront domains give no load
// balancer and are not missing.
func (c *checker) resolve(name string) resolution {
	var r resolution
	name = normalize(name)
	for hop := 0; hop < maxHops; hop++ {
		r.chain = append(r.chain, name)
		if _, err := netip.ParseAddr(name); err == nil {
			return r
		}
		if lb := c.lbs[name]; lb != nil {
			r.lb = lb
			return r
		}
		if rest, ok := strings.CutPrefix(name, "dualstack."); ok && c.lbs[rest] != nil {
			name = rest
			continue
		}
		if c.dists[name] {
			return r
		}
		next := ""
		for _, typ := range []string{"CNAME", "A", "AAAA"} {
			for _, rec := range c.records[name] {
				if !strings.EqualFold(rec.Type, typ) || next != "" {
					continue
				}
				switch {
				case typ == "CNAME" && len(rec.Values) > 0:
					next = normalize(rec.Values[0])
				case rec.AliasTarget != "":
					next = normalize(rec.AliasTarget)
				case len(rec.Values) > 0:
					return r // an address
				}
			}
		}
		if next == "" {
			r.missing = dns.IsModeled(name, c.st)
			return r
		}
		name = next
	}
	return r
}

// listenerOn returns the load balancer's listener on port, or nil.
func listenerOn(lb *model.LoadBalancer, port int) *model.Listener {
	for _, l := range lb.Listeners {
		if l.Port == port {
			return l
		}
	}
	return nil
}

// certCovers implements the certificate name rule of cloudfront.md §2.3
// rule 4: a name of the certificate equals host (case-insensitively), or
// is a wildcard *.rest whose * is the whole left-most label and matches
// exactly one label (RFC 6125).
func certCovers(c *model.Certificate, host string) bool {
	host = normalize(host)
	for _, n := range c.Names() {
		n = normalize(n)
		if n == host {
			return true
		}
		if rest, ok := strings.CutPrefix(n, "*."); ok {
			if i := strings.IndexByte(host, '.'); i > 0 && host[i+1:] == rest {
				return true
			}
		}
	}
	return false
}

// listenerCovers reports whether one of the listener's certificates covers
// host: the ALB picks the certificate by SNI and falls back to the default
// one (alb.md §3), so the handshake passes the name check exactly when some
// certificate covers the name CloudFront checks.
func listenerCovers(l *model.Listener, host string) bool {
	for _, cert := range l.Certificates {
		if certCovers(cert, host) {
			return true
		}
	}
	return false
}

func listenerNames(l *model.Listener) string {
	var names []string
	for _, cert := range l.Certificates {
		names = append(names, cert.Names()...)
	}
	if len(names) == 0 {
		return "no certificate"
	}
	return strings.Join(names, ", ")
}

func listenerCertIDs(l *model.Listener) string {
	var ids []string
	for _, cert := range l.Certificates {
		ids = append(ids, cert.LogicalID)
	}
	return strings.Join(ids, ", ")
}

// usesHTTPS reports whether CloudFront reaches the origin over HTTPS for some
// request: https-only always, match-viewer for HTTPS viewers (every viewer
// protocol policy admits HTTPS viewers; cloudfront.md §2.1, §5.1).
func usesHTTPS(o *model.Origin) bool {
	return o.Custom.ProtocolPolicy == model.OriginHTTPSOnly || o.Custom.ProtocolPolicy == model.OriginMatchViewer
}

// usesHTTP reports whether CloudFront reaches the origin over plain HTTP for
// some request: http-only always, match-viewer when a behavior admits HTTP
// viewers without redirecting them (allow-all).
func usesHTTP(o *model.Origin, cbs []*model.CacheBehavior) bool {
	if o.Custom.ProtocolPolicy == model.OriginHTTPOnly {
		return true
	}
	if o.Custom.ProtocolPolicy != model.OriginMatchViewer {
		return false
	}
	for _, cb := range cbs {
		if cb.ViewerProtocolPolicy == model.ViewerAllowAll {
			return true
		}
	}
	return false
}

// Viewer-visible outcomes (cloudfront.md §2.4, §5.12).
const (
	effectConnectError = "502 to the viewer with CloudFront's error page \"CloudFront wasn't able to connect to the origin.\", X-Cache: Error from cloudfront; CloudFront log: sc-status 502, x-edge-result-type Error, x-edge-detailed-result-type OriginConnectError"
	effectNoALBLine    = "no ALB access log line (the request never reaches the listener)"
)

// effectPlainHTTPOnTLS is what plain HTTP to an HTTPS listener gives.
// UNCONFIRMED for AWS: the reference does not say; an ALB is reported to
// answer 400 "The plain HTTP request was sent to HTTPS port", and kumo's
// listener (Go's net/http behaviour, package serve) answers 400 "Client sent
// an HTTP request to an HTTPS server.", which CloudFront passes on.
const effectPlainHTTPOnTLS = "400 Bad Request to the viewer, X-Cache: Error from cloudfront, CloudFront log sc-status 400, x-edge-result-type Error: the HTTPS listener answers a plain-HTTP request with 400 before any TLS (kumo: \"Client sent an HTTP request to an HTTPS server.\"; an AWS ALB: \"The plain HTTP request was sent to HTTPS port\"); no ALB access log line for it"

// checkOrigin runs the origin checks of one origin.
func (c *checker) checkOrigin(d *model.Distribution, i int, o *model.Origin) {
	cbs := behaviorsFor(d, o.ID)
	if len(cbs) == 0 || o.S3 {
		return
	}
	op := originPath(d, i)
	res := c.resolve(o.DomainName)
	if res.missing {
		c.originDNS(op, o, res)
		return
	}
	if res.lb == nil {
		return // outside the stack: kumo probe can check it live.
	}
	if usesHTTPS(o) {
		c.originHTTPS(d, op, o, res, cbs)
	}
	if usesHTTP(o, cbs) {
		c.originHTTP(d, op, o, res, cbs)
	}
}

// originDNS implements cloudfront.md §2.4 row 1 for a modeled name.
func (c *checker) originDNS(op string, o *model.Origin, res resolution) {
	c.add(Finding{
		ID: IDOriginDNS, Severity: SeverityError,
		Title:  fmt.Sprintf("origin %s: %s does not resolve", o.ID, o.DomainName),
		Effect: "502 to the viewer with the error page \"CloudFront wasn't able to resolve the origin domain name.\", X-Cache: Error from cloudfront; CloudFront log: x-edge-result-type Error, x-edge-detailed-result-type OriginDnsError; " + effectNoALBLine,
		Why:    fmt.Sprintf("%s is in this stack's modeled world (a Route 53 zone of the stack, *.elb.amazonaws.com or *.cloudfront.net), but no record or load balancer of the stack answers for %s (followed: %s)", o.DomainName, res.chain[len(res.chain)-1], strings.Join(res.chain, " -> ")),
		Fix:    Fix{Text: "point DomainName at a Route 53 record of the stack or at the load balancer's name, or add the missing record"},
	}, op+".DomainName")
}

// originHTTPS checks the origin's HTTPS side: the listener on HTTPSPort,
// its protocol and the certificate name rule (cloudfront.md §2.3 rule 4,
// §2.5, §3.3).
func (c *checker) originHTTPS(d *model.Distribution, op string, o *model.Origin, res resolution, cbs []*model.CacheBehavior) {
	port := o.Custom.HTTPSPort
	l := listenerOn(res.lb, port)
	if l == nil {
		c.noListener(op, "HTTPSPort", o, res, port, "HTTPS")
		return
	}
	if l.Protocol != "HTTPS" {
		c.add(Finding{
			ID: IDOriginHTTPSToHTTP, Severity: SeverityError,
			Title:  fmt.Sprintf("origin %s: CloudFront starts TLS on port %d, but listener %s is plain HTTP", o.ID, port, l.LogicalID),
			Effect: effectConnectError + "; the TLS handshake fails, so the ALB logs no request",
			Why:    fmt.Sprintf("OriginProtocolPolicy %s sends HTTPS to HTTPSPort %d; the ALB's listener there speaks HTTP (cloudfront.md §2.1)", o.Custom.ProtocolPolicy, port),
			Fix:    Fix{Text: "point HTTPSPort at the ALB's HTTPS listener, or use http-only with HTTPPort " + itoa(port)},
		}, op+".CustomOriginConfig.HTTPSPort")
		return
	}
	var plain, fwd []*model.CacheBehavior
	for _, cb := range cbs {
		if forwardingOf(cb).forwardsHost() {
			fwd = append(fwd, cb)
		} else {
			plain = append(plain, cb)
		}
	}
	if len(plain) > 0 && !listenerCovers(l, o.DomainName) {
		c.originTLSName(op, o, res, l)
	}
	if len(fwd) > 0 {
		c.originTLSHost(d, o, res, l, fwd)
	}
}

// originTLSName implements the headline check: the name CloudFront sends as
// SNI and checks the certificate against is the origin domain
// (cloudfront.md §2.2, §2.3 rule 4, §2.5).
func (c *checker) originTLSName(op string, o *model.Origin, res resolution, l *model.Listener) {
	path := op + ".DomainName"
	f := Finding{
		ID: IDOriginTLSName, Severity: SeverityError,
		Title:  fmt.Sprintf("origin %s: the certificate of %s (%s) does not cover the origin domain %s", o.ID, l.LogicalID, listenerNames(l), o.DomainName),
		Effect: effectConnectError + "; " + effectNoALBLine + " (the TLS handshake fails before any request; kumo's edge names the reason OriginTLSNameMismatch)",
		Why: fmt.Sprintf("CloudFront sends SNI %s and requires the origin certificate to cover the origin domain (cloudfront.md §2.3 rule 4). %s resolves to load balancer %s (%s), whose listener on port %d serves certificate %s for %s; nobody can get a certificate for an *.elb.amazonaws.com name (cloudfront.md §2.5)",
			o.DomainName, o.DomainName, res.lb.LogicalID, strings.Join(res.chain, " -> "), l.Port, listenerCertIDs(l), listenerNames(l)),
	}
	before := c.before(path, "DomainName", o.DomainName)
	if name := c.coveredRecord(res.lb, l); name != "" {
		f.Fix = Fix{Text: fmt.Sprintf("use the Route 53 name %s, which resolves to the same load balancer and which the certificate covers, as the origin domain", name),
			Before: before, After: "DomainName: " + name}
	} else if name := plainName(l); name != "" {
		f.Fix = Fix{Text: fmt.Sprintf("add a Route 53 alias record %s -> the load balancer (AliasTarget.DNSName: !GetAtt %s.DNSName) and use it as the origin domain", name, res.lb.LogicalID),
			Before: before, After: "DomainName: " + name}
	} else {
		f.Fix = Fix{Text: "add a Route 53 record for a name the listener's certificate covers and use it as the origin domain, or add the origin domain to the certificate"}
	}
	c.add(f, path)
}

// coveredRecord returns the name of a Route 53 record of the stack that
// resolves to lb and that the listener's certificate covers ("" if none).
func (c *checker) coveredRecord(lb *model.LoadBalancer, l *model.Listener) string {
	for _, r := range c.st.Records {
		if c.resolve(r.Name).lb == lb && listenerCovers(l, r.Name) {
			return normalize(r.Name)
		}
	}
	return ""
}

// plainName returns the first non-wildcard name of the listener's
// certificates, else origin.<domain> of the first wildcard name ("" if
// neither).
func plainName(l *model.Listener) string {
	wild := ""
	for _, cert := range l.Certificates {
		for _, n := range cert.Names() {
			if rest, ok := strings.CutPrefix(n, "*."); ok {
				if wild == "" {
					wild = "origin." + normalize(rest)
				}
				continue
			}
			return normalize(n)
		}
	}
	return wild
}

// originTLSHost implements cloudfront.md §2.2–2.3 and §3.3 when the viewer
// Host reaches the origin: SNI and the certificate check use the viewer
// host, so the certificate must cover every alias and the distribution
// domain.
func (c *checker) originTLSHost(d *model.Distribution, o *model.Origin, res resolution, l *model.Listener, cbs []*model.CacheBehavior) {
	var bad []string
	aliasBad := false
	for _, h := range viewerHosts(d) {
		if !listenerCovers(l, h) {
			bad = append(bad, h)
			if h != d.DomainName {
				aliasBad = true
			}
		}
	}
	if len(bad) == 0 {
		return
	}
	cb := cbs[0]
	f := forwardingOf(cb)
	path, key, val := behaviorPath(d, cb)+".OriginRequestPolicyId", "OriginRequestPolicyId", cb.OriginRequestPolicyID
	how := "origin request policy " + f.OriginRequestPolicyName()
	switch {
	case f.Legacy():
		path, key, val, how = behaviorPath(d, cb)+".ForwardedValues.Headers", "Headers", "", "the legacy ForwardedValues.Headers list"
	case f.KeyHeader("Host"):
		path, key, val, how = behaviorPath(d, cb)+".CachePolicyId", "CachePolicyId", cb.CachePolicyID, "cache policy "+f.CachePolicyName()+" (Host in the cache key)"
	}
	sev := SeverityError
	if !aliasBad {
		sev = SeverityWarning
	}
	fix := Fix{Text: fmt.Sprintf("add %s to the certificate's SubjectAlternativeNames, or stop forwarding Host", strings.Join(bad, ", "))}
	if key == "OriginRequestPolicyId" {
		fix = Fix{Text: fmt.Sprintf("forward everything but Host (AllViewerExceptHostHeader), so CloudFront checks the certificate against the origin domain %s; or add %s to the certificate", o.DomainName, strings.Join(bad, ", ")),
			Before: c.before(path, key, val), After: "OriginRequestPolicyId: b689b0a8-53d0-40ab-baf2-68738e2966ac"}
		if !listenerCovers(l, o.DomainName) {
			fix.Text += fmt.Sprintf(" (the origin domain must then be covered too: see %s)", IDOriginTLSName)
		}
	}
	c.add(Finding{
		ID: IDOriginTLSHost, Severity: sev,
		Title:  fmt.Sprintf("origin %s: the viewer Host is forwarded, and the certificate of %s (%s) does not cover %s", o.ID, l.LogicalID, listenerNames(l), strings.Join(bad, ", ")),
		Effect: fmt.Sprintf("requests for %s: %s; %s", strings.Join(bad, ", "), effectConnectError, effectNoALBLine),
		Why:    fmt.Sprintf("%s forwards the viewer's Host, so CloudFront sends it as SNI and requires the origin certificate to cover it instead of the origin domain (cloudfront.md §2.2, §2.3 rule 4, §3.3)", how),
		Fix:    fix,
	}, path)
}

// noListener implements cloudfront.md §2.4 row 2 for a modeled load
// balancer without a listener on the origin port (dns.ErrNoListener).
func (c *checker) noListener(op, key string, o *model.Origin, res resolution, port int, proto string) {
	var ports []string
	for _, l := range res.lb.Listeners {
		ports = append(ports, fmt.Sprintf("%s %d", l.Protocol, l.Port))
	}
	have := "no listener at all"
	if len(ports) > 0 {
		have = "listeners on " + strings.Join(ports, ", ")
	}
	f := Finding{
		ID: IDOriginNoListener, Severity: SeverityError,
		Title:  fmt.Sprintf("origin %s: %s has no listener on port %d", o.ID, res.lb.LogicalID, port),
		Effect: effectConnectError + " (connection refused); " + effectNoALBLine,
		Why:    fmt.Sprintf("CloudFront connects with %s to %s port %d (%s); load balancer %s has %s", proto, o.DomainName, port, key, res.lb.LogicalID, have),
		Fix:    Fix{Text: fmt.Sprintf("set %s to the port of the load balancer's %s listener, or add a listener on port %d", key, proto, port)},
	}
	for _, l := range res.lb.Listeners {
		if l.Protocol == proto {
			f.Fix.Before = c.before(op+".CustomOriginConfig."+key, key, itoa(port))
			f.Fix.After = key + ": " + itoa(l.Port)
			break
		}
	}
	c.add(f, op+".CustomOriginConfig."+key)
}

// originHTTP checks the origin's plain-HTTP side: the listener on HTTPPort,
// its protocol, and a redirect to HTTPS (the redirect loop).
func (c *checker) originHTTP(d *model.Distribution, op string, o *model.Origin, res resolution, cbs []*model.CacheBehavior) {
	port := o.Custom.HTTPPort
	l := listenerOn(res.lb, port)
	if l == nil {
		c.noListener(op, "HTTPPort", o, res, port, "HTTP")
		return
	}
	if l.Protocol != "HTTP" {
		c.add(Finding{
			ID: IDOriginHTTPToHTTPS, Severity: SeverityError,
			Title:  fmt.Sprintf("origin %s: CloudFront sends plain HTTP to port %d, but listener %s is HTTPS", o.ID, port, l.LogicalID),
			Effect: effectPlainHTTPOnTLS,
			Why:    fmt.Sprintf("OriginProtocolPolicy %s sends HTTP to HTTPPort %d; the ALB's listener there expects a TLS handshake (cloudfront.md §2.1)", o.Custom.ProtocolPolicy, port),
			Fix:    Fix{Text: "point HTTPPort at the ALB's HTTP listener, or use https-only", Before: c.before(op+".CustomOriginConfig.OriginProtocolPolicy", "OriginProtocolPolicy", o.Custom.ProtocolPolicy), After: "OriginProtocolPolicy: https-only"},
		}, op+".CustomOriginConfig.HTTPPort")
		return
	}
	if o.Custom.ProtocolPolicy == model.OriginHTTPOnly {
		c.redirectLoop(d, op, o, res, l, cbs)
	}
}

// redirectsToHTTPS returns the listener's default redirect to HTTPS, or nil.
func redirectsToHTTPS(l *model.Listener) *model.RedirectConfig {
	for _, a := range l.DefaultActions {
		if a.Type == model.ActionRedirect && a.Redirect != nil && strings.EqualFold(a.Redirect.Protocol, "HTTPS") {
			return a.Redirect
		}
		if a.Type == model.ActionForward || a.Type == model.ActionFixedResponse {
			return nil
		}
	}
	return nil
}

// redirectLoop implements the classic: CloudFront fetches over HTTP, the ALB
// answers every HTTP request with a redirect to HTTPS (alb.md §5 redirect
// actions), CloudFront passes (and caches) the redirect, and the viewer,
// already on HTTPS, is sent to HTTPS again.
func (c *checker) redirectLoop(d *model.Distribution, op string, o *model.Origin, res resolution, l *model.Listener, cbs []*model.CacheBehavior) {
	rd := redirectsToHTTPS(l)
	if rd == nil {
		return
	}
	status := "301"
	if rd.StatusCode == "HTTP_302" {
		status = "302"
	}
	hostFwd := false
	for _, cb := range cbs {
		if forwardingOf(cb).forwardsHost() {
			hostFwd = true
		}
	}
	target := ""
	switch h := rd.Host; {
	case h == "" || h == "#{host}":
		if hostFwd {
			target = "the viewer's own host"
		} else {
			target = o.DomainName
		}
	default:
		target = h
		for _, v := range viewerHosts(d) {
			if strings.EqualFold(v, h) {
				target = "the viewer's own host"
			}
		}
	}
	effect := fmt.Sprintf("every request gets %s with Location: https://%s/...; CloudFront log: sc-status %s, x-edge-result-type Miss then Hit (the redirect is cached); ALB log: elb_status_code %s, actions_executed redirect, target -", status, target, status, status)
	if target == "the viewer's own host" {
		effect = fmt.Sprintf("browsers stop with \"too many redirects\" (ERR_TOO_MANY_REDIRECTS): every request, already on HTTPS, gets %s to https://<the same host>/...; CloudFront log: sc-status %s repeated, x-edge-result-type Miss then Hit; ALB log: elb_status_code %s, actions_executed redirect, target -", status, status, status)
	} else {
		effect += fmt.Sprintf("; the viewer's browser leaves CloudFront for https://%s/ directly", target)
	}
	f := Finding{
		ID: IDRedirectLoop, Severity: SeverityError,
		Title:  fmt.Sprintf("origin %s is http-only, and listener %s redirects HTTP to HTTPS", o.ID, l.LogicalID),
		Effect: effect,
		Why:    fmt.Sprintf("CloudFront always fetches from %s over HTTP port %d (http-only, cloudfront.md §2.1); the default action of %s redirects every HTTP request to HTTPS, whatever protocol the viewer used", o.DomainName, l.Port, l.LogicalID),
	}
	pp := op + ".CustomOriginConfig.OriginProtocolPolicy"
	if https := listenerOn(res.lb, o.Custom.HTTPSPort); https != nil && https.Protocol == "HTTPS" && listenerCovers(https, o.DomainName) {
		f.Fix = Fix{Text: fmt.Sprintf("fetch over HTTPS: listener %s serves a certificate that covers %s", https.LogicalID, o.DomainName),
			Before: c.before(pp, "OriginProtocolPolicy", model.OriginHTTPOnly), After: "OriginProtocolPolicy: https-only"}
	} else {
		f.Fix = Fix{Text: fmt.Sprintf("make the default action of %s forward to the target group instead of redirecting, or fetch over HTTPS with an origin domain the certificate covers", l.LogicalID),
			Before: "Type: redirect", After: "Type: forward"}
	}
	c.add(f, pp)
}
