package stack

import (
	"fmt"
	"net/http"
	"regexp"
	"strconv"
	"strings"

	"github.com/kumo-dev/kumo/internal/model"
)

// CloudFront policy resource types (cloudfront.md §3.6, §4.2).
const (
	typeCachePolicy           = "AWS::CloudFront::CachePolicy"
	typeOriginRequestPolicy   = "AWS::CloudFront::OriginRequestPolicy"
	typeResponseHeadersPolicy = "AWS::CloudFront::ResponseHeadersPolicy"
)

// Policy kinds, for ManagedPolicies.
const (
	KindCachePolicy           = "cache"
	KindOriginRequestPolicy   = "origin-request"
	KindResponseHeadersPolicy = "response-headers"
)

// ManagedPolicies returns the managed policies of a kind (KindCachePolicy,
// ...) by ID, with their names (cloudfront.md §3.6, §4.2; the response
// headers policies from AWS's "Use managed response headers policies").
func ManagedPolicies(kind string) map[string]string {
	switch kind {
	case KindCachePolicy:
		return map[string]string{
			"658327ea-f89d-4fab-a63d-7e88639e58f6": "CachingOptimized",
			"b2884449-e4de-46a7-ac36-70bc7f1ddd6d": "CachingOptimizedForUncompressedObjects",
			"4135ea2d-6df8-44a3-9df3-4b5a84be39ad": "CachingDisabled",
			"2e54312d-136d-493c-8eb9-b001f22f67d2": "Amplify",
			"08627262-05a9-4f76-9ded-b50ca2e3a84f": "Elemental-MediaPackage",
			"83da9c7e-98b4-4e11-a168-04f0df8e2c65": "UseOriginCacheControlHeaders",
			"4cc15a8a-d715-48a4-82b8-cc0b614638fe": "UseOriginCacheControlHeaders-QueryStrings",
		}
	case KindOriginRequestPolicy:
		return map[string]string{
			"216adef6-5c7f-47e4-b989-5492eafa07d3": "AllViewer",
			"33f36d7e-f396-46d9-90e0-52428a34d9dc": "AllViewerAndCloudFrontHeaders-2022-06",
			"b689b0a8-53d0-40ab-baf2-68738e2966ac": "AllViewerExceptHostHeader",
			"59781a5b-3903-41f3-afcb-af62929ccde1": "CORS-CustomOrigin",
			"88a5eaf4-2fd4-4709-b370-b4c650ea3fcf": "CORS-S3Origin",
			"775133bc-15f2-49f9-abea-afb2e0bf67d2": "Elemental-MediaTailor-PersonalizedManifests",
			"acba4595-bd28-49b8-b9fe-13317c0390fa": "UserAgentRefererHeaders",
			"bf0718e1-ba1e-49d1-88b1-f726733018ae": "HostHeaderOnly",
		}
	case KindResponseHeadersPolicy:
		return map[string]string{
			"e61eb60c-9c35-4d20-a928-2b84e02af89c": "CORS-and-SecurityHeadersPolicy",
			"5cc3b908-e619-4b99-88e5-2cf7f45965bd": "CORS-With-Preflight",
			"eaab4381-ed33-4a86-88ca-d9558dc6cd63": "CORS-with-preflight-and-SecurityHeadersPolicy",
			"67f7725c-6f97-4210-82d7-5512b31e9d03": "SecurityHeadersPolicy",
			"60669652-455b-4ae9-85a4-c4c02393f86c": "SimpleCORS",
		}
	}
	return nil
}

// Policy limits (cloudfront.md §4.2 "Cache policy limits"; AWS quotas
// "Headers/cookies/query strings per cache policy / origin request policy").
const (
	maxPolicyItems = 10
	// maxPolicyNamesLength is the total length of the header, cookie and
	// query string names of one policy (cloudfront.md §4.2).
	maxPolicyNamesLength = 1024
	maxPolicyComment     = 128
	// maxResponseCustomHeaders bounds CustomHeadersConfig.Items.
	// UNCONFIRMED: taken to be the same 10 as the other policy item lists.
	maxResponseCustomHeaders = 10
	// maxResponseHeaderValue is the longest header value a response
	// headers policy may set (the 1,783-character limit CloudFront uses
	// for header values, cloudfront.md §3.1). UNCONFIRMED for this policy.
	maxResponseHeaderValue = 1783
)

// policyNameRe implements the policy Name rule: 1-128 letters, digits,
// hyphens and underscores. UNCONFIRMED: the API documents only "a unique
// name"; the console enforces this character set.
var policyNameRe = regexp.MustCompile(`^[A-Za-z0-9_-]{1,128}$`)

// policyName implements the Name rule of all three policy types.
func policyName(s string) error {
	if !policyNameRe.MatchString(s) {
		return fmt.Errorf("%q is not a policy name: use 1-128 letters, digits, - and _", s)
	}
	return nil
}

// policyTTLOrder implements cloudfront.md §4.2 for cache policies:
// MinTTL ≤ DefaultTTL ≤ MaxTTL.
func policyTTLOrder(mn, df, mx int64) error {
	if mn > df {
		return fmt.Errorf("MinTTL (%d) must not exceed DefaultTTL (%d)", mn, df)
	}
	if df > mx {
		return fmt.Errorf("DefaultTTL (%d) must not exceed MaxTTL (%d)", df, mx)
	}
	return nil
}

// policyItems reads one HeadersConfig/CookiesConfig/QueryStringsConfig:
// behaviorKey (HeaderBehavior, ...) is one of behaviors; itemsKey (Headers,
// ...) lists the names, required for whitelist/allExcept/
// allViewerAndWhitelistCloudFront and refused otherwise, at most
// maxPolicyItems of them (cloudfront.md §4.2).
func policyItems(o obj, behaviorKey, itemsKey string, behaviors ...string) model.PolicyItems {
	o.keys([]string{behaviorKey, itemsKey})
	var pi model.PolicyItems
	pi.Behavior, _ = o.enum(behaviorKey, "", true, behaviors...)
	items, _ := o.strList(itemsKey)
	switch pi.Behavior {
	case model.PolicyWhitelist, model.PolicyAllExcept, model.PolicyAllViewerAndWhitelistCloudFront:
		if len(items) == 0 {
			o.missing(itemsKey, "the names that "+pi.Behavior+" applies to")
		}
	case "":
	default:
		if len(items) > 0 {
			o.errf(itemsKey, "%s takes no names; they go with whitelist or allExcept", pi.Behavior)
			items = nil
		}
	}
	if len(items) > maxPolicyItems {
		o.errf(itemsKey, "lists %d names; at most %d are allowed", len(items), maxPolicyItems)
	}
	seen := map[string]bool{}
	for i, it := range items {
		key := it
		if itemsKey == "Headers" {
			key = strings.ToLower(it)
		}
		if it == "" || seen[key] {
			o.b.errs.add(o.line(itemsKey), idx(o.p(itemsKey), i), "%q is empty or listed twice", it)
			continue
		}
		seen[key] = true
		if pi.Behavior == model.PolicyAllViewerAndWhitelistCloudFront && !strings.HasPrefix(strings.ToLower(it), "cloudfront-") {
			o.b.errs.add(o.line(itemsKey), idx(o.p(itemsKey), i), "%q is not a CloudFront-* header; allViewerAndWhitelistCloudFront lists only CloudFront-generated headers", it)
			continue
		}
		if itemsKey == "Headers" {
			it = http.CanonicalHeaderKey(it)
		}
		pi.Items = append(pi.Items, it)
	}
	return pi
}

func namesLength(ps ...model.PolicyItems) int {
	n := 0
	for _, p := range ps {
		for _, it := range p.Items {
			n += len(it)
		}
	}
	return n
}

// policyHeader reads a policy's Name and Comment.
func policyHeader(c obj) (name, comment string) {
	name, ok := c.reqStr("Name", "a unique policy name (letters, digits, - and _)")
	if ok {
		if err := policyName(name); err != nil {
			c.errf("Name", "%v", err)
		}
	}
	comment, _ = c.str("Comment", "")
	if len(comment) > maxPolicyComment {
		c.errf("Comment", "is %d characters; at most %d are allowed", len(comment), maxPolicyComment)
	}
	return name, comment
}

// buildCachePolicy implements AWS::CloudFront::CachePolicy (cloudfront.md §4.2, §4.5).
func (b *builder) buildCachePolicy(r *resource, o, _ obj, st *model.Stack) {
	c, ok := o.child("CachePolicyConfig")
	if !ok {
		if !o.has("CachePolicyConfig") {
			o.missing("CachePolicyConfig", "Name, MinTTL, DefaultTTL, MaxTTL and ParametersInCacheKeyAndForwardedToOrigin")
		}
		return
	}
	c.keys([]string{"Comment", "DefaultTTL", "MaxTTL", "MinTTL", "Name", "ParametersInCacheKeyAndForwardedToOrigin"})
	p := &model.CachePolicy{LogicalID: r.id, ID: r.ref}
	p.Name, p.Comment = policyHeader(c)
	const maxTTL = 1<<63 - 1
	mn, ok1 := c.reqInt("MinTTL", 0, maxTTL)
	df, ok2 := c.reqInt("DefaultTTL", 0, maxTTL)
	mx, ok3 := c.reqInt("MaxTTL", 0, maxTTL)
	p.MinTTL, p.DefaultTTL, p.MaxTTL = mn, df, mx
	if ok1 && ok2 && ok3 {
		if err := policyTTLOrder(mn, df, mx); err != nil {
			c.errf("MinTTL", "%v", err)
		}
	}
	k, ok := c.child("ParametersInCacheKeyAndForwardedToOrigin")
	if !ok {
		if !c.has("ParametersInCacheKeyAndForwardedToOrigin") {
			c.missing("ParametersInCacheKeyAndForwardedToOrigin", "EnableAcceptEncodingGzip, HeadersConfig, CookiesConfig and QueryStringsConfig")
		}
	} else {
		k.keys([]string{"CookiesConfig", "EnableAcceptEncodingBrotli", "EnableAcceptEncodingGzip", "HeadersConfig", "QueryStringsConfig"})
		if !k.has("EnableAcceptEncodingGzip") {
			k.missing("EnableAcceptEncodingGzip", "true or false")
		}
		p.Gzip, _ = k.bool("EnableAcceptEncodingGzip", false)
		p.Brotli, _ = k.bool("EnableAcceptEncodingBrotli", false)
		p.Headers = b.policyConfig(k, "HeadersConfig", "HeaderBehavior", "Headers", model.PolicyNone, model.PolicyWhitelist)
		p.Cookies = b.policyConfig(k, "CookiesConfig", "CookieBehavior", "Cookies", model.PolicyNone, model.PolicyWhitelist, model.PolicyAllExcept, model.PolicyAll)
		p.Query = b.policyConfig(k, "QueryStringsConfig", "QueryStringBehavior", "QueryStrings", model.PolicyNone, model.PolicyWhitelist, model.PolicyAllExcept, model.PolicyAll)
		if n := namesLength(p.Headers, p.Cookies, p.Query); n > maxPolicyNamesLength {
			k.errf("HeadersConfig", "header, cookie and query string names total %d characters; at most %d are allowed", n, maxPolicyNamesLength)
		}
		if err := cachingDisabledKey(p); err != nil {
			k.errf("HeadersConfig", "%v", err)
		}
	}
	r.obj = p
	st.CachePolicies = append(st.CachePolicies, p)
}

// cachingDisabledKey implements the rule that a cache policy with MaxTTL 0
// (caching disabled) has nothing in its cache key and no compression
// support (cloudfront.md §4.2: CachingDisabled "disables caching,
// compression ...").
func cachingDisabledKey(p *model.CachePolicy) error {
	if p.MaxTTL != 0 {
		return nil
	}
	keyed := func(pi model.PolicyItems) bool { return pi.Behavior != "" && pi.Behavior != model.PolicyNone }
	if p.Gzip || p.Brotli || keyed(p.Headers) || keyed(p.Cookies) || keyed(p.Query) {
		return fmt.Errorf("with MaxTTL 0 (caching disabled) the cache key takes no headers, cookies or query strings and EnableAcceptEncodingGzip/Brotli must be false; use an origin request policy to forward values")
	}
	return nil
}

// policyConfig reads the required config map key of a policy.
func (b *builder) policyConfig(o obj, key, behaviorKey, itemsKey string, behaviors ...string) model.PolicyItems {
	c, ok := o.child(key)
	if !ok {
		if !o.has(key) {
			o.missing(key, behaviorKey+": one of "+strings.Join(behaviors, ", "))
		}
		return model.PolicyItems{}
	}
	return policyItems(c, behaviorKey, itemsKey, behaviors...)
}

// buildOriginRequestPolicy implements AWS::CloudFront::OriginRequestPolicy (cloudfront.md §3.6).
func (b *builder) buildOriginRequestPolicy(r *resource, o, _ obj, st *model.Stack) {
	c, ok := o.child("OriginRequestPolicyConfig")
	if !ok {
		if !o.has("OriginRequestPolicyConfig") {
			o.missing("OriginRequestPolicyConfig", "Name, HeadersConfig, CookiesConfig and QueryStringsConfig")
		}
		return
	}
	c.keys([]string{"Comment", "CookiesConfig", "HeadersConfig", "Name", "QueryStringsConfig"})
	p := &model.OriginRequestPolicy{LogicalID: r.id, ID: r.ref}
	p.Name, p.Comment = policyHeader(c)
	p.Headers = b.policyConfig(c, "HeadersConfig", "HeaderBehavior", "Headers", model.PolicyNone, model.PolicyWhitelist, model.PolicyAllViewer, model.PolicyAllViewerAndWhitelistCloudFront, model.PolicyAllExcept)
	p.Cookies = b.policyConfig(c, "CookiesConfig", "CookieBehavior", "Cookies", model.PolicyNone, model.PolicyWhitelist, model.PolicyAll, model.PolicyAllExcept)
	p.Query = b.policyConfig(c, "QueryStringsConfig", "QueryStringBehavior", "QueryStrings", model.PolicyNone, model.PolicyWhitelist, model.PolicyAll, model.PolicyAllExcept)
	if n := namesLength(p.Headers, p.Cookies, p.Query); n > maxPolicyNamesLength {
		c.errf("HeadersConfig", "header, cookie and query string names total %d characters; at most %d are allowed", n, maxPolicyNamesLength)
	}
	originRequestAuthorization(c, p)
	r.obj = p
	st.OriginRequestPolicies = append(st.OriginRequestPolicies, p)
}

// originRequestAuthorization implements the rule that an origin request
// policy cannot forward Authorization: it must be in the cache key, so that
// the cache never answers a request with another user's response (AWS
// Knowledge Center "cloudfront-authorization-header"; CloudFront answers the
// API call with 400).
func originRequestAuthorization(c obj, p *model.OriginRequestPolicy) {
	if p.Headers.Behavior != model.PolicyWhitelist {
		return
	}
	for _, h := range p.Headers.Items {
		if strings.EqualFold(h, "Authorization") {
			c.errf("HeadersConfig", "an origin request policy cannot forward Authorization; put it in the cache key (a cache policy's HeadersConfig) instead")
			return
		}
	}
}

// responseHeaderForbidden implements the list of headers a response headers
// policy can neither add nor remove (cloudfront.md §3.10: "Via, X-Cache,
// X-Amz-Cf-*, X-Edge-*, Transfer-Encoding, Connection" and the other
// hop-by-hop and framing headers of AWS's "Custom headers" quota list).
func responseHeaderForbidden(name string) bool {
	l := strings.ToLower(name)
	for _, p := range []string{"x-amz-cf-", "x-edge-", "x-amzn-", "x-accel-"} {
		if strings.HasPrefix(l, p) {
			return true
		}
	}
	switch l {
	case "connection", "content-encoding", "content-length", "expect", "host", "keep-alive",
		"proxy-authenticate", "proxy-authorization", "proxy-connection", "trailer",
		"transfer-encoding", "upgrade", "via", "warning", "x-cache", "x-forwarded-proto", "x-real-ip":
		return true
	}
	return false
}

var headerNameRe = regexp.MustCompile("^[!#$%&'*+.^_`|~0-9A-Za-z-]{1,256}$")

// responseHeaderName implements the header-name rule of custom and removed
// headers: an RFC 9110 token that CloudFront allows policies to touch.
func responseHeaderName(name string) error {
	if !headerNameRe.MatchString(name) {
		return fmt.Errorf("%q is not a header name", name)
	}
	if responseHeaderForbidden(name) {
		return fmt.Errorf("%q cannot be added or removed by a response headers policy (CloudFront sets it)", name)
	}
	return nil
}

var referrerPolicies = []string{"no-referrer", "no-referrer-when-downgrade", "origin", "origin-when-cross-origin", "same-origin", "strict-origin", "strict-origin-when-cross-origin", "unsafe-url"}

var corsMethods = []string{"GET", "POST", "OPTIONS", "PUT", "DELETE", "HEAD", "PATCH", "ALL"}

// buildResponseHeadersPolicy implements AWS::CloudFront::ResponseHeadersPolicy.
func (b *builder) buildResponseHeadersPolicy(r *resource, o, _ obj, st *model.Stack) {
	c, ok := o.child("ResponseHeadersPolicyConfig")
	if !ok {
		if !o.has("ResponseHeadersPolicyConfig") {
			o.missing("ResponseHeadersPolicyConfig", "Name and at least one of CorsConfig, SecurityHeadersConfig, CustomHeadersConfig, RemoveHeadersConfig, ServerTimingHeadersConfig")
		}
		return
	}
	c.keys([]string{"Comment", "CorsConfig", "CustomHeadersConfig", "Name", "RemoveHeadersConfig", "SecurityHeadersConfig", "ServerTimingHeadersConfig"})
	p := &model.ResponseHeadersPolicy{LogicalID: r.id, ID: r.ref}
	p.Name, p.Comment = policyHeader(c)
	if cc, ok := c.child("CorsConfig"); ok {
		p.CORS = corsConfig(cc)
	}
	if sc, ok := c.child("SecurityHeadersConfig"); ok {
		p.SecurityHeaders = securityHeaders(sc)
	}
	seen := map[string]bool{}
	for _, h := range p.SecurityHeaders {
		seen[h.Name] = true
	}
	if hc, ok := c.child("CustomHeadersConfig"); ok {
		hc.keys([]string{"Items"})
		items, _ := hc.list("Items")
		if len(items) > maxResponseCustomHeaders {
			hc.errf("Items", "lists %d headers; at most %d are allowed", len(items), maxResponseCustomHeaders)
		}
		for _, it := range items {
			it.keys([]string{"Header", "Override", "Value"})
			name, ok1 := it.reqStr("Header", "the header name")
			val, ok2 := it.reqStr("Value", "the header value")
			if !it.has("Override") {
				it.missing("Override", "true or false")
			}
			ov, _ := it.bool("Override", false)
			if !ok1 || !ok2 {
				continue
			}
			if err := responseHeaderName(name); err != nil {
				it.errf("Header", "%v", err)
				continue
			}
			if len(val) > maxResponseHeaderValue {
				it.errf("Value", "is %d characters; at most %d are allowed", len(val), maxResponseHeaderValue)
			}
			cn := http.CanonicalHeaderKey(name)
			if seen[cn] {
				it.errf("Header", "%s is set twice by this policy", cn)
				continue
			}
			seen[cn] = true
			p.CustomHeaders = append(p.CustomHeaders, model.ResponseHeader{Name: cn, Value: val, Override: ov})
		}
	}
	if rc, ok := c.child("RemoveHeadersConfig"); ok {
		rc.keys([]string{"Items"})
		items, _ := rc.list("Items")
		if len(items) > maxResponseCustomHeaders {
			rc.errf("Items", "lists %d headers; at most %d are allowed", len(items), maxResponseCustomHeaders)
		}
		for _, it := range items {
			it.keys([]string{"Header"})
			name, ok := it.reqStr("Header", "the header name")
			if !ok {
				continue
			}
			if err := responseHeaderName(name); err != nil {
				it.errf("Header", "%v", err)
				continue
			}
			cn := http.CanonicalHeaderKey(name)
			if seen[cn] {
				it.errf("Header", "%s is both set and removed by this policy", cn)
				continue
			}
			p.RemoveHeaders = append(p.RemoveHeaders, cn)
		}
	}
	if tc, ok := c.child("ServerTimingHeadersConfig"); ok {
		tc.keys([]string{"Enabled", "SamplingRate"})
		if !tc.has("Enabled") {
			tc.missing("Enabled", "true or false")
		}
		on, _ := tc.bool("Enabled", false)
		rate := 0.0
		if tc.has("SamplingRate") {
			s, _ := tc.str("SamplingRate", "")
			f, err := strconv.ParseFloat(strings.TrimSpace(s), 64)
			if err != nil || f < 0 || f > 100 {
				tc.errf("SamplingRate", "%q is not a percentage from 0 to 100", s)
			}
			rate = f
		} else if on {
			tc.missing("SamplingRate", "a percentage from 0 to 100 (up to four decimals)")
		}
		if on {
			p.ServerTiming = &model.ServerTimingConfig{SamplingRate: rate}
		}
	}
	r.obj = p
	st.ResponseHeadersPolicies = append(st.ResponseHeadersPolicies, p)
}

// corsConfig reads a CorsConfig; AllowCredentials with the * origin is
// refused, as browsers (and CloudFront) refuse it.
func corsConfig(o obj) *model.CORSConfig {
	o.keys([]string{"AccessControlAllowCredentials", "AccessControlAllowHeaders", "AccessControlAllowMethods", "AccessControlAllowOrigins", "AccessControlExposeHeaders", "AccessControlMaxAgeSec", "OriginOverride"})
	c := &model.CORSConfig{MaxAgeSec: -1}
	for _, k := range []string{"AccessControlAllowCredentials", "OriginOverride"} {
		if !o.has(k) {
			o.missing(k, "true or false")
		}
	}
	c.AllowCredentials, _ = o.bool("AccessControlAllowCredentials", false)
	c.OriginOverride, _ = o.bool("OriginOverride", false)
	items := func(key string, required bool) []string {
		it, ok := o.child(key)
		if !ok {
			if required && !o.has(key) {
				o.missing(key, "Items: a list")
			}
			return nil
		}
		it.keys([]string{"Items"})
		l, _ := it.strList("Items")
		if required && len(l) == 0 {
			it.missing("Items", "at least one value")
		}
		return l
	}
	c.AllowHeaders = items("AccessControlAllowHeaders", true)
	c.AllowMethods = items("AccessControlAllowMethods", true)
	c.AllowOrigins = items("AccessControlAllowOrigins", true)
	c.ExposeHeaders = items("AccessControlExposeHeaders", false)
	for _, m := range c.AllowMethods {
		if !contains(corsMethods, m) {
			o.errf("AccessControlAllowMethods", "%q is not one of %s", m, strings.Join(corsMethods, ", "))
		}
	}
	if c.AllowCredentials && contains(c.AllowOrigins, "*") {
		o.errf("AccessControlAllowCredentials", "cannot be true when AccessControlAllowOrigins is *")
	}
	if o.has("AccessControlMaxAgeSec") {
		c.MaxAgeSec, _ = o.int("AccessControlMaxAgeSec", -1, 0, 1<<31-1)
	}
	return c
}

// securityHeaders implements SecurityHeadersConfig: each configured header
// with its rendered value.
func securityHeaders(o obj) []model.ResponseHeader {
	o.keys([]string{"ContentSecurityPolicy", "ContentTypeOptions", "FrameOptions", "ReferrerPolicy", "StrictTransportSecurity", "XSSProtection"})
	var out []model.ResponseHeader
	override := func(c obj) bool {
		if !c.has("Override") {
			c.missing("Override", "true or false")
		}
		v, _ := c.bool("Override", false)
		return v
	}
	if c, ok := o.child("ContentSecurityPolicy"); ok {
		c.keys([]string{"ContentSecurityPolicy", "Override"})
		v, _ := c.reqStr("ContentSecurityPolicy", "the policy text")
		if len(v) > maxResponseHeaderValue {
			c.errf("ContentSecurityPolicy", "is %d characters; at most %d are allowed", len(v), maxResponseHeaderValue)
		}
		out = append(out, model.ResponseHeader{Name: "Content-Security-Policy", Value: v, Override: override(c)})
	}
	if c, ok := o.child("ContentTypeOptions"); ok {
		c.keys([]string{"Override"})
		out = append(out, model.ResponseHeader{Name: "X-Content-Type-Options", Value: "nosniff", Override: override(c)})
	}
	if c, ok := o.child("FrameOptions"); ok {
		c.keys([]string{"FrameOption", "Override"})
		v, _ := c.enum("FrameOption", "", true, "DENY", "SAMEORIGIN")
		out = append(out, model.ResponseHeader{Name: "X-Frame-Options", Value: v, Override: override(c)})
	}
	if c, ok := o.child("ReferrerPolicy"); ok {
		c.keys([]string{"Override", "ReferrerPolicy"})
		v, _ := c.enum("ReferrerPolicy", "", true, referrerPolicies...)
		out = append(out, model.ResponseHeader{Name: "Referrer-Policy", Value: v, Override: override(c)})
	}
	if c, ok := o.child("StrictTransportSecurity"); ok {
		c.keys([]string{"AccessControlMaxAgeSec", "IncludeSubdomains", "Override", "Preload"})
		age, _ := c.reqInt("AccessControlMaxAgeSec", 0, 1<<31-1)
		sub, _ := c.bool("IncludeSubdomains", false)
		pre, _ := c.bool("Preload", false)
		out = append(out, model.ResponseHeader{Name: "Strict-Transport-Security", Value: strictTransportSecurity(age, sub, pre), Override: override(c)})
	}
	if c, ok := o.child("XSSProtection"); ok {
		c.keys([]string{"ModeBlock", "Override", "Protection", "ReportUri"})
		if !c.has("Protection") {
			c.missing("Protection", "true or false")
		}
		prot, _ := c.bool("Protection", false)
		block, _ := c.bool("ModeBlock", false)
		uri, _ := c.str("ReportUri", "")
		v, err := xssProtection(prot, block, uri)
		if err != nil {
			c.errf("Protection", "%v", err)
		}
		out = append(out, model.ResponseHeader{Name: "X-Xss-Protection", Value: v, Override: override(c)})
	}
	return out
}

// strictTransportSecurity renders the Strict-Transport-Security value.
func strictTransportSecurity(age int64, includeSubdomains, preload bool) string {
	v := "max-age=" + strconv.FormatInt(age, 10)
	if includeSubdomains {
		v += "; includeSubDomains"
	}
	if preload {
		v += "; preload"
	}
	return v
}

// xssProtection renders X-XSS-Protection: "0", or "1" with "; mode=block"
// or "; report=<uri>" (not both; neither without protection).
func xssProtection(protection, modeBlock bool, reportURI string) (string, error) {
	if !protection {
		if modeBlock || reportURI != "" {
			return "0", fmt.Errorf("ModeBlock and ReportUri need Protection: true")
		}
		return "0", nil
	}
	switch {
	case modeBlock && reportURI != "":
		return "1", fmt.Errorf("give ModeBlock or ReportUri, not both")
	case modeBlock:
		return "1; mode=block", nil
	case reportURI != "":
		return "1; report=" + reportURI, nil
	}
	return "1", nil
}

// behaviorPolicies implements cloudfront.md §3.6 and §4.2 for a behavior:
// each policy ID names a managed policy or a policy of this stack (then
// linked to the behavior), and an origin request policy needs a cache
// policy.
func (b *builder) behaviorPolicies(o obj, cb *model.CacheBehavior) {
	if cb.CachePolicyID != "" {
		if r := b.byRef(typeCachePolicy, cb.CachePolicyID); r != nil {
			cb.CachePolicy, _ = r.obj.(*model.CachePolicy)
		} else if _, ok := ManagedPolicies(KindCachePolicy)[cb.CachePolicyID]; !ok {
			o.errf("CachePolicyId", "%q is neither a managed cache policy nor an AWS::CloudFront::CachePolicy of this stack (use !Ref or !GetAtt X.Id)", cb.CachePolicyID)
		}
	}
	if cb.OriginRequestPolicyID != "" {
		if r := b.byRef(typeOriginRequestPolicy, cb.OriginRequestPolicyID); r != nil {
			cb.OriginRequestPolicy, _ = r.obj.(*model.OriginRequestPolicy)
		} else if _, ok := ManagedPolicies(KindOriginRequestPolicy)[cb.OriginRequestPolicyID]; !ok {
			o.errf("OriginRequestPolicyId", "%q is neither a managed origin request policy nor an AWS::CloudFront::OriginRequestPolicy of this stack", cb.OriginRequestPolicyID)
		}
		if cb.CachePolicyID == "" {
			o.errf("OriginRequestPolicyId", "an origin request policy requires a CachePolicyId on the same behavior")
		}
	}
	if cb.ResponseHeadersPolicyID != "" {
		if r := b.byRef(typeResponseHeadersPolicy, cb.ResponseHeadersPolicyID); r != nil {
			cb.ResponseHeadersPolicy, _ = r.obj.(*model.ResponseHeadersPolicy)
		} else if _, ok := ManagedPolicies(KindResponseHeadersPolicy)[cb.ResponseHeadersPolicyID]; !ok {
			o.errf("ResponseHeadersPolicyId", "%q is neither a managed response headers policy nor an AWS::CloudFront::ResponseHeadersPolicy of this stack", cb.ResponseHeadersPolicyID)
		}
	}
}

// policyLastModified is the LastModifiedTime attribute of every policy
// (a fixed instant: kumo's policies have no modification history).
const policyLastModified = "2020-05-31T00:00:00Z"

// Legacy ForwardedValues quotas (AWS CloudFront quotas, "legacy cache
// settings"): whitelisted headers, cookies and query strings per cache
// behavior, and the total bytes of whitelisted cookie names.
const (
	maxLegacyItems          = 10
	maxLegacyCookieNameSize = 512
)

// forwardedValuesLimits implements the legacy ForwardedValues quotas
// (cloudfront.md §4.5): at most 10 headers (or "*"), 10 whitelisted
// cookies whose names total at most 512 bytes, and 10 query string keys.
func forwardedValuesLimits(o obj, fv *model.ForwardedValues) {
	if len(fv.Headers) > maxLegacyItems {
		o.errf("Headers", "lists %d headers; at most %d are allowed (or \"*\")", len(fv.Headers), maxLegacyItems)
	}
	if len(fv.QueryStringCacheKeys) > maxLegacyItems {
		o.errf("QueryStringCacheKeys", "lists %d query strings; at most %d are allowed", len(fv.QueryStringCacheKeys), maxLegacyItems)
	}
	if len(fv.WhitelistedNames) > maxLegacyItems {
		o.errf("Cookies", "whitelists %d cookies; at most %d are allowed", len(fv.WhitelistedNames), maxLegacyItems)
	}
	n := 0
	for _, c := range fv.WhitelistedNames {
		n += len(c)
	}
	if n > maxLegacyCookieNameSize {
		o.errf("Cookies", "whitelisted cookie names total %d bytes; at most %d are allowed", n, maxLegacyCookieNameSize)
	}
}
