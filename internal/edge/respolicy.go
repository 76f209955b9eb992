package edge

import (
	"fmt"
	"math/rand/v2"
	"net/http"
	"slices"
	"strconv"
	"strings"

	"github.com/kumo-dev/kumo/internal/model"
)

// resolveCachePolicy returns the behavior's cache policy: the stack-defined
// one it links, else the managed one its ID names (cloudfront.md §4.2).
func resolveCachePolicy(b *model.CacheBehavior) (cachePolicy, error) {
	if p := b.CachePolicy; p != nil {
		return cachePolicyFromModel(p)
	}
	cp, ok := managedCachePolicy(b.CachePolicyID)
	if !ok {
		return cachePolicy{}, fmt.Errorf("unknown cache policy %q (neither managed nor defined in the stack)", b.CachePolicyID)
	}
	return cp, nil
}

// cachePolicyFromModel implements an AWS::CloudFront::CachePolicy
// (cloudfront.md §4.2, §4.5): its TTLs, what its key selects and whether it
// normalises Accept-Encoding.
func cachePolicyFromModel(p *model.CachePolicy) (cachePolicy, error) {
	cp := cachePolicy{name: p.Name, minTTL: p.MinTTL, defTTL: p.DefaultTTL, maxTTL: p.MaxTTL, gzip: p.Gzip, br: p.Brotli}
	if cp.minTTL < 0 || cp.defTTL < cp.minTTL || cp.maxTTL < cp.defTTL {
		return cp, fmt.Errorf("cache policy %s: TTLs must satisfy 0 <= MinTTL (%d) <= DefaultTTL (%d) <= MaxTTL (%d)", p.Name, cp.minTTL, cp.defTTL, cp.maxTTL)
	}
	var err error
	if cp.headers, err = policySelection(p.Headers, true); err != nil {
		return cp, fmt.Errorf("cache policy %s headers: %w", p.Name, err)
	}
	if cp.headers.mode != selectNone && cp.headers.mode != selectList {
		return cp, fmt.Errorf("cache policy %s: headers can only be none or whitelist in a cache policy", p.Name)
	}
	if cp.cookies, err = policySelection(p.Cookies, false); err != nil {
		return cp, fmt.Errorf("cache policy %s cookies: %w", p.Name, err)
	}
	if cp.query, err = policySelection(p.Query, false); err != nil {
		return cp, fmt.Errorf("cache policy %s query strings: %w", p.Name, err)
	}
	return cp, nil
}

// resolveOriginRequestPolicy returns the behavior's origin request policy
// (zero when it has none): the stack-defined one it links, else the managed
// one its ID names (cloudfront.md §3.6).
func resolveOriginRequestPolicy(b *model.CacheBehavior) (originRequestPolicy, error) {
	if p := b.OriginRequestPolicy; p != nil {
		return originRequestPolicyFromModel(p)
	}
	if b.OriginRequestPolicyID == "" {
		return originRequestPolicy{}, nil
	}
	orp, ok := managedOriginRequestPolicy(b.OriginRequestPolicyID)
	if !ok {
		return orp, fmt.Errorf("unknown origin request policy %q (neither managed nor defined in the stack)", b.OriginRequestPolicyID)
	}
	return orp, nil
}

// originRequestPolicyFromModel implements an
// AWS::CloudFront::OriginRequestPolicy (cloudfront.md §3.6): allViewer
// forwards every viewer header (Host included, §3.3);
// allViewerAndWhitelistCloudFront adds the listed CloudFront-* headers;
// allExcept forwards all but the listed ones.
func originRequestPolicyFromModel(p *model.OriginRequestPolicy) (originRequestPolicy, error) {
	orp := originRequestPolicy{name: p.Name}
	var err error
	if orp.headers, err = policySelection(p.Headers, true); err != nil {
		return orp, fmt.Errorf("origin request policy %s headers: %w", p.Name, err)
	}
	if p.Headers.Behavior == model.PolicyAllViewerAndWhitelistCloudFront {
		orp.cloudFrontHeaders = headerList(p.Headers.Items...)
	}
	if orp.cookies, err = policySelection(p.Cookies, false); err != nil {
		return orp, fmt.Errorf("origin request policy %s cookies: %w", p.Name, err)
	}
	if orp.query, err = policySelection(p.Query, false); err != nil {
		return orp, fmt.Errorf("origin request policy %s query strings: %w", p.Name, err)
	}
	return orp, nil
}

// Managed response headers policy IDs (AWS "Use managed response headers
// policies").
const (
	CORSAndSecurityHeadersPolicyID            = "e61eb60c-9c35-4d20-a928-2b84e02af89c"
	CORSWithPreflightID                       = "5cc3b908-e619-4b99-88e5-2cf7f45965bd"
	CORSWithPreflightAndSecurityHeadersPolicy = "eaab4381-ed33-4a86-88ca-d9558dc6cd63"
	SecurityHeadersPolicyID                   = "67f7725c-6f97-4210-82d7-5512b31e9d03"
	SimpleCORSID                              = "60669652-455b-4ae9-85a4-c4c02393f86c"
)

// managedResponseHeadersPolicy returns the managed response headers policy
// with id, as AWS documents it: SimpleCORS allows any origin;
// CORS-With-Preflight also answers preflights for every method;
// SecurityHeadersPolicy adds Referrer-Policy, Strict-Transport-Security,
// X-Content-Type-Options, X-Frame-Options and X-XSS-Protection without
// overriding the origin's; the combined policies are the unions.
// UNCONFIRMED: CORS-With-Preflight's Access-Control-Allow-Headers (taken
// to be *) and Max-Age (taken to be unset).
func managedResponseHeadersPolicy(id string) (*model.ResponseHeadersPolicy, bool) {
	simple := func() *model.CORSConfig {
		return &model.CORSConfig{AllowHeaders: []string{"*"}, AllowMethods: []string{"GET", "HEAD"}, AllowOrigins: []string{"*"}, MaxAgeSec: -1}
	}
	preflight := func() *model.CORSConfig {
		return &model.CORSConfig{AllowHeaders: []string{"*"}, AllowMethods: []string{"DELETE", "GET", "HEAD", "OPTIONS", "PATCH", "POST", "PUT"},
			AllowOrigins: []string{"*"}, ExposeHeaders: []string{"*"}, MaxAgeSec: -1}
	}
	security := func() []model.ResponseHeader {
		return []model.ResponseHeader{
			{Name: "Referrer-Policy", Value: "strict-origin-when-cross-origin"},
			{Name: "Strict-Transport-Security", Value: "max-age=31536000"},
			{Name: "X-Content-Type-Options", Value: "nosniff"},
			{Name: "X-Frame-Options", Value: "SAMEORIGIN"},
			{Name: "X-Xss-Protection", Value: "1; mode=block"},
		}
	}
	switch id {
	case CORSAndSecurityHeadersPolicyID:
		return &model.ResponseHeadersPolicy{ID: id, Name: "CORS-and-SecurityHeadersPolicy", CORS: simple(), SecurityHeaders: security()}, true
	case CORSWithPreflightID:
		return &model.ResponseHeadersPolicy{ID: id, Name: "CORS-With-Preflight", CORS: preflight()}, true
	case CORSWithPreflightAndSecurityHeadersPolicy:
		return &model.ResponseHeadersPolicy{ID: id, Name: "CORS-with-preflight-and-SecurityHeadersPolicy", CORS: preflight(), SecurityHeaders: security()}, true
	case SecurityHeadersPolicyID:
		return &model.ResponseHeadersPolicy{ID: id, Name: "SecurityHeadersPolicy", SecurityHeaders: security()}, true
	case SimpleCORSID:
		return &model.ResponseHeadersPolicy{ID: id, Name: "SimpleCORS", CORS: simple()}, true
	}
	return nil, false
}

// responsePolicy is a resolved response headers policy, with its header
// values prepared once.
type responsePolicy struct {
	m *model.ResponseHeadersPolicy
	// set are the security headers then the custom headers.
	set []model.ResponseHeader
	// cors values, joined.
	allowMethods, allowHeaders, exposeHeaders, maxAge string
	anyOrigin                                         bool
}

// resolveResponsePolicy returns the behavior's response headers policy
// (nil when it has none).
func resolveResponsePolicy(b *model.CacheBehavior) (*responsePolicy, error) {
	m := b.ResponseHeadersPolicy
	if m == nil {
		if b.ResponseHeadersPolicyID == "" {
			return nil, nil
		}
		var ok bool
		if m, ok = managedResponseHeadersPolicy(b.ResponseHeadersPolicyID); !ok {
			return nil, fmt.Errorf("unknown response headers policy %q (neither managed nor defined in the stack)", b.ResponseHeadersPolicyID)
		}
	}
	rp := &responsePolicy{m: m}
	rp.set = append(append(rp.set, m.SecurityHeaders...), m.CustomHeaders...)
	for i := range rp.set {
		rp.set[i].Name = http.CanonicalHeaderKey(rp.set[i].Name)
	}
	if c := m.CORS; c != nil {
		methods := c.AllowMethods
		if slices.Contains(methods, "ALL") {
			methods = []string{"DELETE", "GET", "HEAD", "OPTIONS", "PATCH", "POST", "PUT"}
		}
		rp.allowMethods = strings.Join(methods, ", ")
		rp.allowHeaders = strings.Join(c.AllowHeaders, ", ")
		rp.exposeHeaders = strings.Join(c.ExposeHeaders, ", ")
		if c.MaxAgeSec >= 0 {
			rp.maxAge = strconv.FormatInt(c.MaxAgeSec, 10)
		}
		rp.anyOrigin = slices.Contains(c.AllowOrigins, "*")
		if rp.anyOrigin && c.AllowCredentials {
			return nil, fmt.Errorf("response headers policy %s: AllowCredentials cannot go with the * origin", m.Name)
		}
	}
	return rp, nil
}

// corsAllowOrigin implements AccessControlAllowOrigins: the
// Access-Control-Allow-Origin value for a request's Origin ("" when the
// origin is not allowed): "*" when any origin is allowed, else the
// request's origin when it is listed (a listed origin may use * wildcards,
// as https://*.example.com).
func (rp *responsePolicy) corsAllowOrigin(origin string) string {
	if origin == "" {
		return ""
	}
	if rp.anyOrigin {
		return "*"
	}
	for _, o := range rp.m.CORS.AllowOrigins {
		if strings.EqualFold(o, origin) || (strings.Contains(o, "*") && matchWildcard(strings.ToLower(o), strings.ToLower(origin))) {
			return origin
		}
	}
	return ""
}

// isPreflight reports whether r is a CORS preflight request.
func isPreflight(r *http.Request) bool {
	return r.Method == http.MethodOptions && r.Header.Get("Origin") != "" && r.Header.Get("Access-Control-Request-Method") != ""
}

// corsPreflight implements the preflight half of a response headers
// policy's CorsConfig: a preflight from an allowed origin to a behavior
// that allows OPTIONS is answered at the edge (200, no body) with the
// policy's Access-Control-Allow-* and Max-Age headers; it reports whether
// it answered. UNCONFIRMED: AWS documents that CloudFront "responds to CORS
// preflight requests" with these values but not the status, the result
// type (kumo logs Hit) or what a disallowed origin gets (kumo forwards it
// to the origin).
func (t *txn) corsPreflight() bool {
	rp := t.beh.rhp
	if rp == nil || rp.m.CORS == nil || !isPreflight(t.r) || !t.beh.allowed[http.MethodOptions] {
		return false
	}
	allow := rp.corsAllowOrigin(t.r.Header.Get("Origin"))
	if allow == "" {
		return false
	}
	h := t.w.Header()
	h["Access-Control-Allow-Origin"] = []string{allow}
	h["Access-Control-Allow-Methods"] = []string{rp.allowMethods}
	if rp.allowHeaders != "" {
		h["Access-Control-Allow-Headers"] = []string{rp.allowHeaders}
	}
	if rp.maxAge != "" {
		h["Access-Control-Max-Age"] = []string{rp.maxAge}
	}
	if rp.m.CORS.AllowCredentials {
		h["Access-Control-Allow-Credentials"] = []string{"true"}
	}
	h["Content-Length"] = []string{"0"}
	t.setEdgeHeaders(xCacheHit)
	t.result, t.respResult, t.detailed = resultHit, resultHit, resultHit
	t.writeHeader(http.StatusOK)
	return true
}

// applyResponsePolicy implements a response headers policy on a response
// about to be sent (AWS "Understand response headers policies"): CORS
// headers for a request with an allowed Origin (the origin's own CORS
// headers are kept unless OriginOverride), security and custom headers
// (an origin header of the same name is kept unless Override), removed
// headers, and Server-Timing.
func (t *txn) applyResponsePolicy(h http.Header) {
	rp := t.beh.rhp
	if c := rp.m.CORS; c != nil {
		if allow := rp.corsAllowOrigin(t.r.Header.Get("Origin")); allow != "" {
			if _, fromOrigin := h["Access-Control-Allow-Origin"]; !fromOrigin || c.OriginOverride {
				h["Access-Control-Allow-Origin"] = []string{allow}
				if c.AllowCredentials {
					h["Access-Control-Allow-Credentials"] = []string{"true"}
				}
				if rp.exposeHeaders != "" {
					h["Access-Control-Expose-Headers"] = []string{rp.exposeHeaders}
				}
			}
		}
	}
	for _, sh := range rp.set {
		if _, exists := h[sh.Name]; !exists || sh.Override {
			h[sh.Name] = []string{sh.Value}
		}
	}
	for _, name := range rp.m.RemoveHeaders {
		delete(h, name)
	}
	if st := rp.m.ServerTiming; st != nil && serverTimingSampled(t.r, st.SamplingRate) {
		h["Server-Timing"] = []string{t.serverTiming()}
	}
}

// serverTimingSampled implements ServerTimingHeadersConfig.SamplingRate: a
// response gets Server-Timing with that probability, or always when the
// viewer asked with Pragma: server-timing.
func serverTimingSampled(r *http.Request, rate float64) bool {
	for _, v := range r.Header.Values("Pragma") {
		for tok := range strings.SplitSeq(v, ",") {
			if strings.EqualFold(strings.TrimSpace(tok), "server-timing") {
				return true
			}
		}
	}
	return rate >= 100 || (rate > 0 && rand.Float64()*100 < rate)
}

// serverTiming renders CloudFront's Server-Timing metrics (cloudfront.md
// §3.10): the cache status (cdn-cache-hit, cdn-cache-refresh or
// cdn-cache-miss), the layer that answered, cdn-pop and cdn-rid.
func (t *txn) serverTiming() string {
	var sb strings.Builder
	switch t.respResult {
	case resultHit:
		sb.WriteString(`cdn-cache-hit,cdn-hit-layer;desc="EDGE"`)
	case "RefreshHit":
		sb.WriteString(`cdn-cache-refresh,cdn-hit-layer;desc="EDGE"`)
	default:
		sb.WriteString(`cdn-upstream-layer;desc="EDGE",cdn-cache-miss`)
	}
	sb.WriteString(`,cdn-pop;desc="`)
	sb.WriteString(t.e.pop)
	sb.WriteString(`",cdn-rid;desc="`)
	sb.WriteString(t.requestID())
	sb.WriteString(`"`)
	return sb.String()
}
