package stack

import (
	"errors"
	"fmt"
	"net/netip"
	"regexp"
	"strings"
	"time"

	"github.com/kumo-dev/kumo/internal/model"
)

var distributionConfigKeys = []string{"Aliases", "AnycastIpListId", "CacheBehaviors", "CNAMEs", "Comment", "ConnectionFunctionAssociation", "ConnectionMode", "ContinuousDeploymentPolicyId", "CustomErrorResponses", "CustomOrigin", "DefaultCacheBehavior", "DefaultRootObject", "Enabled", "HttpVersion", "IPV6Enabled", "Logging", "OriginGroups", "Origins", "PriceClass", "Restrictions", "S3Origin", "Staging", "TenantConfig", "ViewerCertificate", "ViewerMtlsConfig", "WebACLId"}

var originKeys = []string{"ConnectionAttempts", "ConnectionTimeout", "CustomOriginConfig", "DomainName", "Id", "OriginAccessControlId", "OriginCustomHeaders", "OriginPath", "OriginShield", "ResponseCompletionTimeout", "S3OriginConfig", "VpcOriginConfig"}

var customOriginKeys = []string{"HTTPPort", "HTTPSPort", "IpAddressType", "OriginKeepaliveTimeout", "OriginMtlsConfig", "OriginProtocolPolicy", "OriginReadTimeout", "OriginSSLProtocols"}

var behaviorKeys = []string{"AllowedMethods", "CachedMethods", "CachePolicyId", "Compress", "DefaultTTL", "FieldLevelEncryptionId", "ForwardedValues", "FunctionAssociations", "GrpcConfig", "LambdaFunctionAssociations", "MaxTTL", "MinTTL", "OriginRequestPolicyId", "PathPattern", "RealtimeLogConfigArn", "ResponseHeadersPolicyId", "SmoothStreaming", "TargetOriginId", "TrustedKeyGroups", "TrustedSigners", "ViewerProtocolPolicy"}

// defaultOriginSSLProtocols is CloudFormation's OriginSSLProtocols when the
// property is absent. UNCONFIRMED: the CloudFormation resource schema default
// is taken to be [TLSv1, SSLv3] (the API itself requires the list). The edge
// reads the list as a minimum (see edge.OriginTLSVersions).
func defaultOriginSSLProtocols() []string { return []string{"TLSv1", "SSLv3"} }

// DefaultHTTPVersion is CloudFormation's HttpVersion default (http1.1; the
// console default for new distributions is http2, cloudfront.md §5.8).
// UNCONFIRMED for CloudFormation.
const DefaultHTTPVersion = "http1.1"

var distDomainRe = regexp.MustCompile(`^d[a-z0-9]{12,13}\.cloudfront\.net$`)

// distributionDomainName implements cloudfront.md §6: d + 12–13 lowercase
// alphanumerics + .cloudfront.net.
func distributionDomainName(s string) error {
	if !distDomainRe.MatchString(s) {
		return fmt.Errorf("%q is not a CloudFront domain: it must be d + 12-13 lowercase letters/digits + .cloudfront.net (like dpekz4s0xzujc.cloudfront.net)", s)
	}
	return nil
}

// originPort implements cloudfront.md §2.1: 80, 443 or 1024-65535.
func originPort(n int64) error {
	if n == 80 || n == 443 || (n >= 1024 && n <= 65535) {
		return nil
	}
	return fmt.Errorf("%d is not an allowed origin port: use 80, 443 or 1024-65535", n)
}

var originDomainRe = regexp.MustCompile(`^[A-Za-z0-9._-]{1,253}$`)

// originDomain implements cloudfront.md §2.3 rule 5: a DNS name of
// a-z A-Z 0-9 . - _, never an IP address.
func originDomain(s string) error {
	if _, err := netip.ParseAddr(strings.Trim(s, "[]")); err == nil {
		// AWS's exact API message (capitalised and punctuated as AWS writes it).
		return errors.New("The parameter origin name cannot be an IP address.") //nolint:staticcheck // ST1005: AWS's wording

	}
	if !originDomainRe.MatchString(s) {
		return fmt.Errorf("%q is not a domain name (letters, digits, . - _ only; no scheme or path)", s)
	}
	return nil
}

// originPath implements cloudfront.md §3.1 OriginPath: starts with / and has
// no trailing /.
func originPath(s string) error {
	if s == "" {
		return nil
	}
	if !strings.HasPrefix(s, "/") || strings.HasSuffix(s, "/") {
		return fmt.Errorf("%q must start with / and must not end with /", s)
	}
	return nil
}

// disallowedOriginHeaders implements cloudfront.md §3.1: custom origin header
// names CloudFront rejects (plus the X-Amz-* and X-Edge-* prefixes).
var disallowedOriginHeaders = []string{"Cache-Control", "Connection", "Content-Length", "Cookie", "Host", "If-Match", "If-Modified-Since", "If-None-Match", "If-Range", "If-Unmodified-Since", "Max-Forwards", "Pragma", "Proxy-Authorization", "Proxy-Connection", "Range", "Request-Range", "TE", "Trailer", "Transfer-Encoding", "Upgrade", "Via", "X-Real-Ip"}

func originCustomHeaderName(name string) error {
	if name == "" || len(name) > 256 {
		return fmt.Errorf("header names must be 1-256 characters")
	}
	for _, d := range disallowedOriginHeaders {
		if strings.EqualFold(d, name) {
			return fmt.Errorf("%q cannot be a custom origin header (CloudFront sets or forbids it)", name)
		}
	}
	l := strings.ToLower(name)
	if strings.HasPrefix(l, "x-amz-") || strings.HasPrefix(l, "x-edge-") {
		return fmt.Errorf("%q cannot be a custom origin header: names starting with X-Amz- or X-Edge- are reserved", name)
	}
	return nil
}

// allowedMethodSets implements cloudfront.md §5.2.
var allowedMethodSets = [][]string{{"GET", "HEAD"}, {"GET", "HEAD", "OPTIONS"}, {"GET", "HEAD", "OPTIONS", "PUT", "POST", "PATCH", "DELETE"}}

// cachedMethodSets implements cloudfront.md §4.1.
var cachedMethodSets = [][]string{{"GET", "HEAD"}, {"GET", "HEAD", "OPTIONS"}}

func sameSet(a, b []string) bool {
	if len(a) != len(b) {
		return false
	}
	m := map[string]int{}
	for _, x := range a {
		m[x]++
	}
	for _, x := range b {
		if m[x] == 0 {
			return false
		}
		m[x]--
	}
	return true
}

func methodSet(got []string, sets [][]string) ([]string, bool) {
	for _, s := range sets {
		if sameSet(got, s) {
			return s, true
		}
	}
	return nil, false
}

func renderSets(sets [][]string) string {
	parts := make([]string, len(sets))
	for i, s := range sets {
		parts[i] = "[" + strings.Join(s, ", ") + "]"
	}
	return strings.Join(parts, ", ")
}

// Legacy TTL defaults (cloudfront.md §4.2).
const (
	defaultMinTTL     = 0
	defaultDefaultTTL = 86400
	defaultMaxTTL     = 31536000
)

// legacyTTL implements cloudfront.md §4.2 for ForwardedValues behaviors:
// defaults 0/86400/31536000 (Default follows a larger Min; Max follows a larger
// Min or Default) and MinTTL ≤ DefaultTTL ≤ MaxTTL.
func legacyTTL(o obj, cb *model.CacheBehavior) {
	const maxTTL = 1<<63 - 1
	mn, ok1 := o.int("MinTTL", defaultMinTTL, 0, maxTTL)
	defDefault := int64(defaultDefaultTTL)
	if mn > defDefault {
		defDefault = mn
	}
	df, ok2 := o.int("DefaultTTL", defDefault, 0, maxTTL)
	defMax := int64(defaultMaxTTL)
	if mn > defMax {
		defMax = mn
	}
	if df > defMax {
		defMax = df
	}
	mx, ok3 := o.int("MaxTTL", defMax, 0, maxTTL)
	cb.MinTTL, cb.DefaultTTL, cb.MaxTTL = mn, df, mx
	if !ok1 || !ok2 || !ok3 {
		return
	}
	if mn > df {
		o.errf("MinTTL", "MinTTL (%d) must not exceed DefaultTTL (%d)", mn, df)
	}
	if df > mx {
		o.errf("DefaultTTL", "DefaultTTL (%d) must not exceed MaxTTL (%d)", df, mx)
	}
}

// minimumProtocolVersions implements cloudfront.md §5.7.
var minimumProtocolVersions = []string{"SSLv3", "TLSv1", "TLSv1_2016", "TLSv1.1_2016", "TLSv1.2_2018", "TLSv1.2_2019", "TLSv1.2_2021", "TLSv1.2_2025", "TLSv1.3_2025"}

func (b *builder) buildDistribution(r *resource, o, meta obj, st *model.Stack) {
	d := &model.Distribution{LogicalID: r.id, ID: r.ref, DomainName: scalarText(r.attrs["DomainName"])}
	if meta.has("DomainName") {
		if err := distributionDomainName(scalarText(meta.n.get("DomainName"))); err != nil {
			meta.errf("DomainName", "%v", err)
		}
	}
	for _, x := range st.Distributions {
		if x.DomainName == d.DomainName {
			meta.errf("DomainName", "%s is already the domain of %s", d.DomainName, x.LogicalID)
		}
	}
	b.localDefault(meta, d, st)
	dc, ok := o.child("DistributionConfig")
	if !ok {
		if !o.has("DistributionConfig") {
			o.missing("DistributionConfig", "the distribution's configuration")
		}
		return
	}
	dc.keys(distributionConfigKeys)
	dc.noteUnemulated(unemulatedDistribution)
	for _, k := range []string{"CustomOrigin", "S3Origin", "CNAMEs"} {
		if dc.has(k) {
			dc.errf(k, "the legacy %s property is not supported by kumo; use Origins (and Aliases)", k)
		}
	}
	if !dc.has("Enabled") {
		dc.missing("Enabled", "true or false")
	}
	d.Enabled, _ = dc.bool("Enabled", true)
	d.Comment, _ = dc.str("Comment", "")
	if len(d.Comment) > 128 {
		dc.errf("Comment", "is %d characters; at most 128 are allowed", len(d.Comment))
	}
	d.DefaultRootObject, _ = dc.str("DefaultRootObject", "")
	if strings.HasPrefix(d.DefaultRootObject, "/") || len(d.DefaultRootObject) > 255 {
		dc.errf("DefaultRootObject", "%q must not start with / and must be at most 255 characters (like index.html)", d.DefaultRootObject)
	}
	d.HTTPVersion, _ = dc.enum("HttpVersion", DefaultHTTPVersion, false, "http1.1", "http2", "http3", "http2and3")
	dc.enum("PriceClass", "PriceClass_All", false, "PriceClass_100", "PriceClass_200", "PriceClass_All", "None")
	dc.bool("IPV6Enabled", false)
	dc.bool("Staging", false)
	aliases, _ := dc.strList("Aliases")
	for i, a := range aliases {
		a = strings.ToLower(strings.TrimSuffix(a, "."))
		if err := certificateDomain(a); err != nil {
			b.errs.add(dc.line("Aliases"), idx(dc.p("Aliases"), i), "%v", err)
			continue
		}
		if contains(d.Aliases, a) {
			b.errs.add(dc.line("Aliases"), idx(dc.p("Aliases"), i), "alias %s is listed twice", a)
			continue
		}
		d.Aliases = append(d.Aliases, a)
	}
	b.viewerCertificate(dc, d)
	if lg, ok := dc.child("Logging"); ok {
		lg.keys([]string{"Bucket", "IncludeCookies", "Prefix"})
		d.Logging.Enabled = true
		d.Logging.Bucket, _ = lg.reqStr("Bucket", "the log bucket domain, like mylogs.s3.amazonaws.com")
		if d.Logging.Bucket != "" && !strings.HasSuffix(d.Logging.Bucket, ".amazonaws.com") {
			lg.errf("Bucket", "%q must be a bucket domain name like mylogs.s3.amazonaws.com", d.Logging.Bucket)
		}
		d.Logging.Prefix, _ = lg.str("Prefix", "")
		d.Logging.IncludeCookies, _ = lg.bool("IncludeCookies", false)
	}
	origins, _ := dc.list("Origins")
	if !dc.has("Origins") {
		dc.missing("Origins", "a list of at least one origin")
	}
	for _, oo := range origins {
		if og := b.origin(oo); og != nil {
			for _, x := range d.Origins {
				if x.ID == og.ID {
					oo.errf("Id", "origin Id %q is used twice; origin Ids are unique per distribution", og.ID)
				}
			}
			d.Origins = append(d.Origins, og)
		}
	}
	b.originGroups(dc, d)
	b.customErrorResponses(dc, d)
	if dcb, ok := dc.child("DefaultCacheBehavior"); ok {
		d.DefaultBehavior = b.behavior(dcb, d, true)
	} else if !dc.has("DefaultCacheBehavior") {
		dc.missing("DefaultCacheBehavior", "the default cache behavior (TargetOriginId, ViewerProtocolPolicy, CachePolicyId or ForwardedValues)")
	}
	cbs, _ := dc.list("CacheBehaviors")
	seen := map[string]bool{}
	for _, c := range cbs {
		if cb := b.behavior(c, d, false); cb != nil {
			if seen[cb.PathPattern] {
				c.errf("PathPattern", "path pattern %q is used by two cache behaviors", cb.PathPattern)
			}
			seen[cb.PathPattern] = true
			d.Behaviors = append(d.Behaviors, cb)
		}
	}
	r.obj = d
	st.Distributions = append(st.Distributions, d)
}

// viewerCertificate implements cloudfront.md §5.6–5.7 and §7 ViewerCertificate.
func (b *builder) viewerCertificate(dc obj, d *model.Distribution) {
	d.MinimumProtocolVersion = "TLSv1"
	vc, ok := dc.child("ViewerCertificate")
	if !ok {
		return
	}
	vc.keys([]string{"AcmCertificateArn", "CloudFrontDefaultCertificate", "IamCertificateId", "MinimumProtocolVersion", "SslSupportMethod"})
	def, _ := vc.bool("CloudFrontDefaultCertificate", false)
	if vc.has("IamCertificateId") {
		vc.errf("IamCertificateId", "IAM server certificates are not supported by kumo; use AcmCertificateArn with a certificate of this stack")
	}
	arn, _ := vc.str("AcmCertificateArn", "")
	mpv, _ := vc.enum("MinimumProtocolVersion", "TLSv1", false, minimumProtocolVersions...)
	switch {
	case def && arn != "":
		vc.errf("AcmCertificateArn", "give either CloudFrontDefaultCertificate: true or AcmCertificateArn, not both")
	case arn != "":
		c := b.certByARN(arn)
		if c == nil {
			vc.errf("AcmCertificateArn", "%q is not a certificate of this stack; use !Ref of an AWS::CertificateManager::Certificate", arn)
			break
		}
		if b.region != "us-east-1" {
			vc.errf("AcmCertificateArn", "The specified SSL certificate doesn't exist, isn't in us-east-1 region, isn't valid, or doesn't include a valid certificate chain. (CloudFront only uses ACM certificates from us-east-1; this stack is in %s)", b.region)
		}
		d.ViewerCertificate = c
		d.MinimumProtocolVersion = mpv
		if !vc.has("SslSupportMethod") {
			vc.missing("SslSupportMethod", "one of sni-only, vip, static-ip")
		} else {
			vc.enum("SslSupportMethod", "", false, "sni-only", "vip", "static-ip")
		}
	default:
		if vc.has("MinimumProtocolVersion") && mpv != "TLSv1" {
			vc.errf("MinimumProtocolVersion", "with the default *.cloudfront.net certificate the security policy is fixed at TLSv1")
		}
	}
}

// origin reads one DistributionConfig.Origins entry.
func (b *builder) origin(o obj) *model.Origin {
	o.keys(originKeys)
	o.noteUnemulated(unemulatedOrigin)
	og := &model.Origin{}
	og.ID, _ = o.reqStr("Id", "a unique origin identifier")
	if dn, ok := o.reqStr("DomainName", "the origin's domain name"); ok {
		if err := originDomain(dn); err != nil {
			o.errf("DomainName", "%v", err)
		}
		og.DomainName = dn
	}
	og.OriginPath, _ = o.str("OriginPath", "")
	if err := originPath(og.OriginPath); err != nil {
		o.errf("OriginPath", "%v", err)
	}
	ca, _ := o.int("ConnectionAttempts", 3, 1, 3)
	ct, _ := o.int("ConnectionTimeout", 10, 1, 10)
	og.ConnectionAttempts = int(ca)
	og.ConnectionTimeout = time.Duration(ct) * time.Second
	hs, _ := o.list("OriginCustomHeaders")
	if len(hs) > 30 {
		o.errf("OriginCustomHeaders", "has %d headers; at most 30 are allowed", len(hs))
	}
	total := 0
	for _, h := range hs {
		h.keys([]string{"HeaderName", "HeaderValue"})
		name, ok1 := h.reqStr("HeaderName", "the header name")
		val, ok2 := h.reqStr("HeaderValue", "the header value")
		if !ok1 || !ok2 {
			continue
		}
		if err := originCustomHeaderName(name); err != nil {
			h.errf("HeaderName", "%v", err)
			continue
		}
		if len(val) > 1783 {
			h.errf("HeaderValue", "is %d characters; at most 1783 are allowed", len(val))
		}
		total += len(name) + len(val)
		og.CustomHeaders = append(og.CustomHeaders, model.Header{Name: name, Value: val})
	}
	if total > 10240 {
		o.errf("OriginCustomHeaders", "names and values total %d characters; at most 10240 are allowed", total)
	}
	if o.has("VpcOriginConfig") {
		o.errf("VpcOriginConfig", "VPC origins are not supported by kumo; use CustomOriginConfig")
	}
	coc, hasCustom := o.child("CustomOriginConfig")
	s3, hasS3 := o.child("S3OriginConfig")
	switch {
	case hasCustom && hasS3:
		o.errf("S3OriginConfig", "an origin takes CustomOriginConfig or S3OriginConfig, not both")
	case hasCustom:
		og.Custom = b.customOrigin(coc)
	case hasS3:
		s3.keys([]string{"OriginAccessIdentity", "OriginReadTimeout"})
		rt, _ := s3.int("OriginReadTimeout", 30, 1, 120)
		og.S3 = true
		og.Custom = model.CustomOriginConfig{HTTPPort: 80, HTTPSPort: 443, ProtocolPolicy: model.OriginHTTPSOnly, SSLProtocols: []string{"TLSv1.2"}, ReadTimeout: time.Duration(rt) * time.Second, KeepaliveTimeout: 5 * time.Second}
	default:
		if !o.has("CustomOriginConfig") && !o.has("S3OriginConfig") {
			o.missing("CustomOriginConfig", "CustomOriginConfig {OriginProtocolPolicy: http-only, https-only or match-viewer} or S3OriginConfig")
		}
	}
	return og
}

// customOrigin implements cloudfront.md §2.1 and §3.1 for CustomOriginConfig.
func (b *builder) customOrigin(o obj) model.CustomOriginConfig {
	o.noteUnemulated(unemulatedCustomOrigin)
	o.keys(customOriginKeys)
	c := model.CustomOriginConfig{}
	c.ProtocolPolicy, _ = o.enum("OriginProtocolPolicy", "", true, model.OriginHTTPOnly, model.OriginHTTPSOnly, model.OriginMatchViewer)
	hp, ok := o.int("HTTPPort", 80, 1, 65535)
	if ok {
		if err := originPort(hp); err != nil {
			o.errf("HTTPPort", "%v", err)
		}
	}
	sp, ok := o.int("HTTPSPort", 443, 1, 65535)
	if ok {
		if err := originPort(sp); err != nil {
			o.errf("HTTPSPort", "%v", err)
		}
	}
	c.HTTPPort, c.HTTPSPort = int(hp), int(sp)
	if o.has("OriginSSLProtocols") {
		ps, _ := o.strList("OriginSSLProtocols")
		for i, p := range ps {
			if !contains([]string{"SSLv3", "TLSv1", "TLSv1.1", "TLSv1.2"}, p) {
				b.errs.add(o.line("OriginSSLProtocols"), idx(o.p("OriginSSLProtocols"), i), "%q is not one of SSLv3, TLSv1, TLSv1.1, TLSv1.2", p)
				continue
			}
			c.SSLProtocols = append(c.SSLProtocols, p)
		}
		if len(ps) == 0 {
			o.errf("OriginSSLProtocols", "must list at least one of SSLv3, TLSv1, TLSv1.1, TLSv1.2")
		}
	} else {
		c.SSLProtocols = defaultOriginSSLProtocols()
	}
	rt, _ := o.int("OriginReadTimeout", 30, 1, 120)
	kt, _ := o.int("OriginKeepaliveTimeout", 5, 1, 300)
	c.ReadTimeout = time.Duration(rt) * time.Second
	c.KeepaliveTimeout = time.Duration(kt) * time.Second
	o.enum("IpAddressType", "ipv4", false, "ipv4", "ipv6", "dualstack")
	if o.has("OriginMtlsConfig") {
		o.errf("OriginMtlsConfig", "origin mutual TLS is not supported by kumo")
	}
	return c
}

var behaviorPathRe = regexp.MustCompile(`^[A-Za-z0-9_\-.*$/~"'@:+&?]{1,255}$`)

// behavior reads DefaultCacheBehavior or one CacheBehaviors entry.
func (b *builder) behavior(o obj, d *model.Distribution, isDefault bool) *model.CacheBehavior {
	o.keys(behaviorKeys)
	o.noteUnemulated(unemulatedBehavior)
	cb := &model.CacheBehavior{}
	if isDefault {
		if o.has("PathPattern") {
			o.errf("PathPattern", "the default cache behavior has no PathPattern (it matches *)")
		}
	} else if pp, ok := o.reqStr("PathPattern", "a path pattern like /images/*.jpg"); ok {
		if !behaviorPathRe.MatchString(pp) {
			o.errf("PathPattern", "%q is not a path pattern: 1-255 characters of A-Z a-z 0-9 _ - . * $ / ~ \" ' @ : + & ?", pp)
		}
		cb.PathPattern = pp
	}
	if id, ok := o.reqStr("TargetOriginId", "the Id of one of the distribution's Origins"); ok {
		found := false
		var ids []string
		for _, og := range d.Origins {
			ids = append(ids, og.ID)
			if og.ID == id {
				found = true
			}
		}
		for _, g := range d.OriginGroups {
			ids = append(ids, g.ID)
			if g.ID == id {
				found = true
			}
		}
		if !found {
			o.errf("TargetOriginId", "%q is not the Id of an origin of this distribution%s; origins are %s", id, suggest(id, ids), strings.Join(ids, ", "))
		}
		cb.TargetOriginID = id
	}
	cb.ViewerProtocolPolicy, _ = o.enum("ViewerProtocolPolicy", "", true, model.ViewerAllowAll, model.ViewerHTTPSOnly, model.ViewerRedirectToHTTPS)
	cb.AllowedMethods = []string{"GET", "HEAD"}
	if o.has("AllowedMethods") {
		got, ok := o.strList("AllowedMethods")
		if ok {
			if s, ok := methodSet(got, allowedMethodSets); ok {
				cb.AllowedMethods = s
			} else {
				o.errf("AllowedMethods", "[%s] is not an allowed set: use one of %s", strings.Join(got, ", "), renderSets(allowedMethodSets))
			}
		}
	}
	cb.CachedMethods = []string{"GET", "HEAD"}
	if o.has("CachedMethods") {
		got, ok := o.strList("CachedMethods")
		if ok {
			if s, ok := methodSet(got, cachedMethodSets); !ok {
				o.errf("CachedMethods", "[%s] is not an allowed set: use one of %s", strings.Join(got, ", "), renderSets(cachedMethodSets))
			} else if len(s) > len(cb.AllowedMethods) {
				o.errf("CachedMethods", "caches OPTIONS, which AllowedMethods does not allow")
			} else {
				cb.CachedMethods = s
			}
		}
	}
	cb.Compress, _ = o.bool("Compress", false)
	cb.CachePolicyID, _ = o.str("CachePolicyId", "")
	cb.OriginRequestPolicyID, _ = o.str("OriginRequestPolicyId", "")
	cb.ResponseHeadersPolicyID, _ = o.str("ResponseHeadersPolicyId", "")
	for _, k := range []string{"LambdaFunctionAssociations", "FunctionAssociations", "FieldLevelEncryptionId", "TrustedSigners", "TrustedKeyGroups", "RealtimeLogConfigArn"} {
		if v := o.n.get(k); v != nil && !(v.kind == kSeq && len(v.item) == 0) && !(v.kind == kString && v.str == "") {
			o.errf(k, "%s is not supported by kumo; remove it", k)
		}
	}
	b.cacheKeyConfig(o, cb)
	b.behaviorPolicies(o, cb)
	return cb
}

// cacheKeyConfig implements cloudfront.md §7: a behavior has exactly one of
// CachePolicyId and ForwardedValues; legacy TTLs go with ForwardedValues.
func (b *builder) cacheKeyConfig(o obj, cb *model.CacheBehavior) {
	fvObj, hasFV := o.child("ForwardedValues")
	switch {
	case cb.CachePolicyID != "" && o.has("ForwardedValues"):
		o.errf("ForwardedValues", "a cache behavior takes CachePolicyId or ForwardedValues, not both")
	case cb.CachePolicyID == "" && !o.has("ForwardedValues"):
		o.missing("CachePolicyId", "a cache behavior needs CachePolicyId (like 658327ea-f89d-4fab-a63d-7e88639e58f6, CachingOptimized) or the legacy ForwardedValues")
	case cb.CachePolicyID != "":
		for _, k := range []string{"MinTTL", "DefaultTTL", "MaxTTL"} {
			if o.has(k) {
				o.errf(k, "%s cannot be set with CachePolicyId; the cache policy sets the TTLs", k)
			}
		}
	case hasFV:
		fv := &model.ForwardedValues{CookiesForward: "none"}
		fvObj.keys([]string{"Cookies", "Headers", "QueryString", "QueryStringCacheKeys"})
		if !fvObj.has("QueryString") {
			fvObj.missing("QueryString", "true or false")
		}
		fv.QueryString, _ = fvObj.bool("QueryString", false)
		fv.QueryStringCacheKeys, _ = fvObj.strList("QueryStringCacheKeys")
		if len(fv.QueryStringCacheKeys) > 0 && !fv.QueryString {
			fvObj.errf("QueryStringCacheKeys", "only applies when QueryString is true")
		}
		fv.Headers, _ = fvObj.strList("Headers")
		if len(fv.Headers) > 1 && contains(fv.Headers, "*") {
			fvObj.errf("Headers", "\"*\" (all headers) must be the only entry")
		}
		if ck, ok := fvObj.child("Cookies"); ok {
			ck.keys([]string{"Forward", "WhitelistedNames"})
			fv.CookiesForward, _ = ck.enum("Forward", "", true, "none", "whitelist", "all")
			fv.WhitelistedNames, _ = ck.strList("WhitelistedNames")
			if fv.CookiesForward == "whitelist" && len(fv.WhitelistedNames) == 0 {
				ck.missing("WhitelistedNames", "the cookie names to forward when Forward is whitelist")
			}
			if fv.CookiesForward != "whitelist" && len(fv.WhitelistedNames) > 0 {
				ck.errf("WhitelistedNames", "only applies when Forward is whitelist")
			}
		}
		forwardedValuesLimits(fvObj, fv)
		cb.ForwardedValues = fv
		legacyTTL(o, cb)
	}
}

// checkAliases implements cloudfront.md §5.6: an alias belongs to one
// distribution, and the viewer certificate must cover every alias.
func (b *builder) checkAliases(st *model.Stack) {
	owner := map[string]*model.Distribution{}
	for _, d := range st.Distributions {
		res := b.res[d.LogicalID]
		p := sub(sub("Resources", d.LogicalID), "Properties.DistributionConfig.Aliases")
		line := res.line
		if dc := res.rprops.get("DistributionConfig"); dc != nil {
			line = dc.keyLine("Aliases")
		}
		for i, a := range d.Aliases {
			if prev, ok := owner[a]; ok {
				b.errs.add(line, idx(p, i), "alias %s is already used by distribution %s; an alternate domain name can belong to only one distribution", a, prev.LogicalID)
				continue
			}
			owner[a] = d
			if d.ViewerCertificate == nil {
				b.errs.add(line, idx(p, i), "To add an alternate domain name (CNAME) to a CloudFront distribution, you must attach a trusted certificate that validates your authorization to use the domain name. (set ViewerCertificate.AcmCertificateArn to a certificate covering %s)", a)
			} else if !certCovers(d.ViewerCertificate, a) {
				b.errs.add(line, idx(p, i), "the viewer certificate %s does not cover alias %s (it covers %s)", d.ViewerCertificate.LogicalID, a, strings.Join(d.ViewerCertificate.Names(), ", "))
			}
		}
	}
}

// certCovers reports whether one of the certificate's names matches host
// (RFC 6125: a wildcard matches exactly one left-most label; a wildcard alias
// needs a wildcard name).
func certCovers(c *model.Certificate, host string) bool {
	for _, n := range c.Names() {
		if strings.EqualFold(n, host) {
			return true
		}
		if strings.HasPrefix(n, "*.") && !strings.HasPrefix(host, "*.") {
			if i := strings.IndexByte(host, '.'); i > 0 && strings.EqualFold(host[i+1:], n[2:]) {
				return true
			}
		}
	}
	return false
}
