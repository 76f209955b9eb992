package edge

import (
	"fmt"
	"net/http"
	"path"
	"slices"
	"strings"

	"github.com/kumo-dev/kumo/internal/model"
)

// selectMode says which items of a kind (query strings, cookies, headers)
// a policy selects.
type selectMode int

const (
	selectNone selectMode = iota
	selectAll
	selectList
	// selectAllExcept is every item but the names (allExcept; for headers
	// also AllViewerExceptHostHeader, which excludes Host).
	selectAllExcept
)

// selection is one kind's selection: a mode and, for selectList and
// selectAllExcept, the names (canonical header names; cookie names may
// hold * and ? wildcards for legacy whitelists).
type selection struct {
	mode  selectMode
	names []string
}

func (s selection) has(name string) bool {
	switch s.mode {
	case selectAll:
		return true
	case selectAllExcept:
		return !slices.Contains(s.names, name)
	case selectList:
		return slices.Contains(s.names, name)
	}
	return false
}

// hasWild is has for cookie names, whose legacy whitelists allow * and ?.
func (s selection) hasWild(name string) bool {
	if s.mode != selectList {
		return s.has(name)
	}
	for _, p := range s.names {
		if matchWildcard(p, name) {
			return true
		}
	}
	return false
}

// union returns the items selected by either s or o.
func (s selection) union(o selection) selection {
	switch {
	case s.mode == selectAll || o.mode == selectAll:
		return selection{mode: selectAll}
	case s.mode == selectNone:
		return o
	case o.mode == selectNone:
		return s
	case s.mode == selectAllExcept || o.mode == selectAllExcept:
		// Excluded are the names that neither side selects.
		var names []string
		for _, n := range append(slices.Clone(s.names), o.names...) {
			if !s.has(n) && !o.has(n) && !slices.Contains(names, n) {
				names = append(names, n)
			}
		}
		if len(names) == 0 {
			return selection{mode: selectAll}
		}
		return selection{mode: selectAllExcept, names: names}
	}
	names := slices.Clone(s.names)
	for _, n := range o.names {
		if !slices.Contains(names, n) {
			names = append(names, n)
		}
	}
	return selection{mode: selectList, names: names}
}

// policySelection implements the policy item behaviors of cloudfront.md
// §3.6 and §4.5 (none, whitelist, allExcept, all, allViewer,
// allViewerAndWhitelistCloudFront): what a policy's config selects.
// Header names are canonicalised.
func policySelection(pi model.PolicyItems, headers bool) (selection, error) {
	names := slices.Clone(pi.Items)
	if headers {
		for i, n := range names {
			names[i] = http.CanonicalHeaderKey(n)
		}
	}
	switch pi.Behavior {
	case "", model.PolicyNone:
		return selection{}, nil
	case model.PolicyWhitelist:
		return selection{mode: selectList, names: names}, nil
	case model.PolicyAllExcept:
		return selection{mode: selectAllExcept, names: names}, nil
	case model.PolicyAll, model.PolicyAllViewer, model.PolicyAllViewerAndWhitelistCloudFront:
		return selection{mode: selectAll}, nil
	}
	return selection{}, fmt.Errorf("unknown policy behavior %q", pi.Behavior)
}

func headerList(names ...string) selection {
	out := make([]string, len(names))
	for i, n := range names {
		out[i] = http.CanonicalHeaderKey(n)
	}
	return selection{mode: selectList, names: out}
}

// cachePolicy is a resolved cache policy: TTLs and the cache key.
type cachePolicy struct {
	name                    string
	minTTL, defTTL, maxTTL  int64
	headers, cookies, query selection
	gzip, br                bool
}

// Managed cache policy IDs (cloudfront.md §4.2).
const (
	CachingOptimizedID                       = "658327ea-f89d-4fab-a63d-7e88639e58f6"
	CachingOptimizedForUncompressedObjectsID = "b2884449-e4de-46a7-ac36-70bc7f1ddd6d"
	CachingDisabledID                        = "4135ea2d-6df8-44a3-9df3-4b5a84be39ad"
	AmplifyID                                = "2e54312d-136d-493c-8eb9-b001f22f67d2"
	ElementalMediaPackageID                  = "08627262-05a9-4f76-9ded-b50ca2e3a84f"
	// UseOriginCacheControlHeadersID and
	// UseOriginCacheControlHeadersQueryStringsID are the newer managed
	// policies of AWS's "Use managed cache policies" (not in the
	// reference's table; UNCONFIRMED beyond that page): TTLs 0/0/31536000,
	// key headers Host, Origin, X-HTTP-Method-Override, X-HTTP-Method,
	// X-Method-Override, all cookies, gzip and Brotli; the second adds all
	// query strings.
	UseOriginCacheControlHeadersID             = "83da9c7e-98b4-4e11-a168-04f0df8e2c65"
	UseOriginCacheControlHeadersQueryStringsID = "4cc15a8a-d715-48a4-82b8-cc0b614638fe"
)

// managedCachePolicy returns the managed cache policy with id (cloudfront.md §4.2 table).
func managedCachePolicy(id string) (cachePolicy, bool) {
	switch id {
	case CachingOptimizedID:
		return cachePolicy{name: "CachingOptimized", minTTL: 1, defTTL: 86400, maxTTL: 31536000, gzip: true, br: true}, true
	case CachingOptimizedForUncompressedObjectsID:
		return cachePolicy{name: "CachingOptimizedForUncompressedObjects", minTTL: 1, defTTL: 86400, maxTTL: 31536000}, true
	case CachingDisabledID:
		return cachePolicy{name: "CachingDisabled"}, true
	case AmplifyID:
		return cachePolicy{name: "Amplify", minTTL: 2, defTTL: 2, maxTTL: 600,
			headers: headerList("Authorization", "CloudFront-Viewer-Country", "Host"),
			cookies: selection{mode: selectAll}, query: selection{mode: selectAll}, gzip: true, br: true}, true
	case ElementalMediaPackageID:
		return cachePolicy{name: "Elemental-MediaPackage", minTTL: 0, defTTL: 86400, maxTTL: 31536000,
			headers: headerList("Origin"),
			query:   selection{mode: selectList, names: []string{"aws.manifestfilter", "start", "end", "m"}}, gzip: true}, true
	case UseOriginCacheControlHeadersID, UseOriginCacheControlHeadersQueryStringsID:
		cp := cachePolicy{name: "UseOriginCacheControlHeaders", minTTL: 0, defTTL: 0, maxTTL: 31536000,
			headers: headerList("Host", "Origin", "X-HTTP-Method-Override", "X-HTTP-Method", "X-Method-Override"),
			cookies: selection{mode: selectAll}, gzip: true, br: true}
		if id == UseOriginCacheControlHeadersQueryStringsID {
			cp.name, cp.query = "UseOriginCacheControlHeaders-QueryStrings", selection{mode: selectAll}
		}
		return cp, true
	}
	return cachePolicy{}, false
}

// originRequestPolicy is a resolved origin request policy.
type originRequestPolicy struct {
	name                    string
	headers, cookies, query selection
	// cloudFrontHeaders selects the CloudFront-* headers CloudFront
	// generates for the origin (all of them for
	// AllViewerAndCloudFrontHeaders-2022-06, the listed ones for
	// allViewerAndWhitelistCloudFront).
	cloudFrontHeaders selection
}

// Managed origin request policy IDs (cloudfront.md §3.6).
const (
	AllViewerID                        = "216adef6-5c7f-47e4-b989-5492eafa07d3"
	AllViewerAndCloudFrontHeadersID    = "33f36d7e-f396-46d9-90e0-52428a34d9dc"
	AllViewerExceptHostHeaderID        = "b689b0a8-53d0-40ab-baf2-68738e2966ac"
	CORSCustomOriginID                 = "59781a5b-3903-41f3-afcb-af62929ccde1"
	CORSS3OriginID                     = "88a5eaf4-2fd4-4709-b370-b4c650ea3fcf"
	ElementalMediaTailorPersonalizedID = "775133bc-15f2-49f9-abea-afb2e0bf67d2"
	UserAgentRefererHeadersID          = "acba4595-bd28-49b8-b9fe-13317c0390fa"
	// HostHeaderOnlyID forwards only the viewer's Host (AWS "Use managed
	// origin request policies"; not in the reference's table).
	HostHeaderOnlyID = "bf0718e1-ba1e-49d1-88b1-f726733018ae"
)

// managedOriginRequestPolicy returns the managed origin request policy with
// id (cloudfront.md §3.6 table).
func managedOriginRequestPolicy(id string) (originRequestPolicy, bool) {
	all := selection{mode: selectAll}
	switch id {
	case AllViewerID:
		return originRequestPolicy{name: "AllViewer", headers: all, cookies: all, query: all}, true
	case AllViewerAndCloudFrontHeadersID:
		return originRequestPolicy{name: "AllViewerAndCloudFrontHeaders-2022-06", headers: all, cookies: all, query: all, cloudFrontHeaders: all}, true
	case AllViewerExceptHostHeaderID:
		return originRequestPolicy{name: "AllViewerExceptHostHeader", headers: selection{mode: selectAllExcept, names: []string{"Host"}}, cookies: all, query: all}, true
	case CORSCustomOriginID:
		return originRequestPolicy{name: "CORS-CustomOrigin", headers: headerList("Origin")}, true
	case CORSS3OriginID:
		return originRequestPolicy{name: "CORS-S3Origin", headers: headerList("Origin", "Access-Control-Request-Headers", "Access-Control-Request-Method")}, true
	case ElementalMediaTailorPersonalizedID:
		return originRequestPolicy{name: "Elemental-MediaTailor-PersonalizedManifests",
			headers: headerList("Origin", "Access-Control-Request-Headers", "Access-Control-Request-Method", "User-Agent", "X-Forwarded-For"), query: all}, true
	case UserAgentRefererHeadersID:
		return originRequestPolicy{name: "UserAgentRefererHeaders", headers: headerList("User-Agent", "Referer")}, true
	case HostHeaderOnlyID:
		return originRequestPolicy{name: "HostHeaderOnly", headers: headerList("Host")}, true
	}
	return originRequestPolicy{}, false
}

// behavior is a cache behavior resolved against its policies and origin.
type behavior struct {
	m       *model.CacheBehavior
	index   int // position in the distribution (default behavior last)
	pattern string
	// origin is the target origin (an origin group's primary).
	origin *origin
	// group is the target origin group (nil for a plain origin).
	group *originGroup

	allowed, cached map[string]bool
	// ttls and cache key.
	cp cachePolicy
	// legacy is true for ForwardedValues behaviors: other-defined viewer
	// headers are forwarded unchanged (§3.4).
	legacy bool
	// noCache is set when caching is disabled (CachingDisabled, MaxTTL 0,
	// legacy Headers "*").
	noCache bool
	// forwarded selects what reaches the origin (cache key ∪ origin request policy).
	fwdHeaders, fwdCookies, fwdQuery selection
	// cloudFrontHeaders selects the CloudFront-* headers generated for the
	// origin (origin request policy ∪ those in the cache key).
	cloudFrontHeaders selection
	// rhp is the response headers policy (nil = none).
	rhp *responsePolicy
	// forwardHost: the viewer's Host reaches the origin, which changes SNI
	// and the certificate name check (§2.2, §2.3, §3.3).
	forwardHost bool
	// normalizeAE: gzip or br is enabled, Accept-Encoding is normalised (§4.11).
	normalizeAE bool
}

// resolveBehavior resolves b's policies; unknown policy IDs are errors.
func resolveBehavior(b *model.CacheBehavior, index int, origins map[string]*origin, groups map[string]*originGroup) (*behavior, error) {
	where := "default behavior"
	if b.PathPattern != "" {
		where = fmt.Sprintf("behavior %q", b.PathPattern)
	}
	o, ok := origins[b.TargetOriginID]
	g := groups[b.TargetOriginID]
	if g != nil {
		o, ok = g.primary, true
	}
	if !ok {
		return nil, fmt.Errorf("%s: TargetOriginId %q names no origin or origin group", where, b.TargetOriginID)
	}
	r := &behavior{m: b, index: index, pattern: b.PathPattern, origin: o, group: g,
		allowed: methodSet(b.AllowedMethods, "GET", "HEAD"), cached: methodSet(b.CachedMethods, "GET", "HEAD")}
	var orp originRequestPolicy
	switch {
	case b.CachePolicyID != "" && b.ForwardedValues != nil:
		return nil, fmt.Errorf("%s: both CachePolicyId and ForwardedValues are set", where)
	case b.CachePolicyID != "":
		cp, err := resolveCachePolicy(b)
		if err != nil {
			return nil, fmt.Errorf("%s: %w", where, err)
		}
		r.cp = cp
		if orp, err = resolveOriginRequestPolicy(b); err != nil {
			return nil, fmt.Errorf("%s: %w", where, err)
		}
	case b.ForwardedValues != nil:
		if b.OriginRequestPolicyID != "" {
			return nil, fmt.Errorf("%s: an origin request policy requires a cache policy, not ForwardedValues", where)
		}
		cp, err := legacyCachePolicy(b)
		if err != nil {
			return nil, fmt.Errorf("%s: %w", where, err)
		}
		r.cp = cp
		r.legacy = true
		if slices.Contains(b.ForwardedValues.Headers, "*") {
			r.noCache = true
		}
	default:
		return nil, fmt.Errorf("%s: neither CachePolicyId nor ForwardedValues is set", where)
	}
	if r.cp.maxTTL == 0 {
		r.noCache = true
	}
	r.fwdHeaders = r.cp.headers.union(orp.headers)
	r.fwdCookies = r.cp.cookies.union(orp.cookies)
	r.fwdQuery = r.cp.query.union(orp.query)
	if r.legacy && b.ForwardedValues.QueryString {
		r.fwdQuery = selection{mode: selectAll}
	}
	r.cloudFrontHeaders = orp.cloudFrontHeaders
	if r.cp.headers.mode == selectList {
		var cf []string
		for _, n := range r.cp.headers.names {
			if strings.HasPrefix(n, "Cloudfront-") {
				cf = append(cf, n)
			}
		}
		if len(cf) > 0 {
			r.cloudFrontHeaders = r.cloudFrontHeaders.union(selection{mode: selectList, names: cf})
		}
	}
	var err error
	if r.rhp, err = resolveResponsePolicy(b); err != nil {
		return nil, fmt.Errorf("%s: %w", where, err)
	}
	r.forwardHost = r.fwdHeaders.has("Host")
	r.normalizeAE = r.cp.gzip || r.cp.br
	return r, nil
}

func methodSet(ms []string, def ...string) map[string]bool {
	if len(ms) == 0 {
		ms = def
	}
	out := make(map[string]bool, len(ms))
	for _, m := range ms {
		out[strings.ToUpper(m)] = true
	}
	return out
}

// legacyCachePolicy turns ForwardedValues and Min/Default/MaxTTL into a cache
// policy (cloudfront.md §4.5): forwarded items are both sent to the origin
// and part of the key.
func legacyCachePolicy(b *model.CacheBehavior) (cachePolicy, error) {
	fv := b.ForwardedValues
	cp := cachePolicy{name: "ForwardedValues", minTTL: b.MinTTL, defTTL: b.DefaultTTL, maxTTL: b.MaxTTL}
	if cp.minTTL < 0 || cp.defTTL < cp.minTTL || cp.maxTTL < cp.defTTL {
		return cp, fmt.Errorf("TTLs must satisfy 0 <= MinTTL (%d) <= DefaultTTL (%d) <= MaxTTL (%d)", cp.minTTL, cp.defTTL, cp.maxTTL)
	}
	if fv.QueryString {
		cp.query = selection{mode: selectAll}
		if len(fv.QueryStringCacheKeys) > 0 {
			cp.query = selection{mode: selectList, names: slices.Clone(fv.QueryStringCacheKeys)}
		}
	}
	switch fv.CookiesForward {
	case "", "none":
	case "all":
		cp.cookies = selection{mode: selectAll}
	case "whitelist":
		cp.cookies = selection{mode: selectList, names: slices.Clone(fv.WhitelistedNames)}
	default:
		return cp, fmt.Errorf("ForwardedValues.Cookies.Forward %q is not none, whitelist or all", fv.CookiesForward)
	}
	if slices.Contains(fv.Headers, "*") {
		if cp.minTTL != 0 {
			return cp, fmt.Errorf("ForwardedValues.Headers \"*\" requires MinTTL 0, got %d", cp.minTTL)
		}
		cp.headers = selection{mode: selectAll}
	} else if len(fv.Headers) > 0 {
		cp.headers = headerList(fv.Headers...)
	}
	return cp, nil
}

// matchPathPattern implements cloudfront.md §5.3: * matches any run of
// characters (including /), ? exactly one, case-sensitive, the leading / of
// the pattern is optional, and the request path is RFC 3986-normalised for
// matching only.
func matchPathPattern(pattern, reqPath string) bool {
	if !strings.HasPrefix(pattern, "/") {
		pattern = "/" + pattern
	}
	return matchWildcard(pattern, normalizeMatchPath(reqPath))
}

// normalizeMatchPath removes dot segments and collapses // (§5.3).
func normalizeMatchPath(p string) string {
	if p == "" {
		return "/"
	}
	if !strings.Contains(p, "//") && !strings.Contains(p, "/.") {
		return p
	}
	c := path.Clean(p)
	if strings.HasSuffix(p, "/") && c != "/" && !strings.HasSuffix(p, "/..") && !strings.HasSuffix(p, "/.") {
		c += "/"
	}
	return c
}

// matchWildcard matches s against a pattern of literal characters, * (any
// run) and ? (one character).
func matchWildcard(pattern, s string) bool {
	p, i := 0, 0
	star, mark := -1, 0
	for i < len(s) {
		switch {
		case p < len(pattern) && (pattern[p] == '?' || pattern[p] == s[i]):
			p++
			i++
		case p < len(pattern) && pattern[p] == '*':
			star, mark = p, i
			p++
		case star >= 0:
			p = star + 1
			mark++
			i = mark
		default:
			return false
		}
	}
	for p < len(pattern) && pattern[p] == '*' {
		p++
	}
	return p == len(pattern)
}
