package stack

import (
	"strings"
	"testing"

	"github.com/kumo-dev/kumo/internal/model"
)

const policyTemplate = `Resources:
  CP:
    Type: AWS::CloudFront::CachePolicy
    Properties:
      CachePolicyConfig:
        Name: my-cache
        MinTTL: 0
        DefaultTTL: 0
        MaxTTL: 3600
        ParametersInCacheKeyAndForwardedToOrigin:
          EnableAcceptEncodingGzip: true
          EnableAcceptEncodingBrotli: true
          HeadersConfig: {HeaderBehavior: whitelist, Headers: [x-version]}
          CookiesConfig: {CookieBehavior: allExcept, Cookies: [tracking]}
          QueryStringsConfig: {QueryStringBehavior: all}
  ORP:
    Type: AWS::CloudFront::OriginRequestPolicy
    Properties:
      OriginRequestPolicyConfig:
        Name: my-orp
        HeadersConfig: {HeaderBehavior: allViewerAndWhitelistCloudFront, Headers: [CloudFront-Viewer-Address]}
        CookiesConfig: {CookieBehavior: none}
        QueryStringsConfig: {QueryStringBehavior: allExcept, QueryStrings: [utm]}
  RHP:
    Type: AWS::CloudFront::ResponseHeadersPolicy
    Properties:
      ResponseHeadersPolicyConfig:
        Name: my-rhp
        CorsConfig:
          AccessControlAllowCredentials: false
          AccessControlAllowHeaders: {Items: ["*"]}
          AccessControlAllowMethods: {Items: [GET, OPTIONS]}
          AccessControlAllowOrigins: {Items: [https://app.example.com]}
          AccessControlMaxAgeSec: 600
          OriginOverride: true
        SecurityHeadersConfig:
          StrictTransportSecurity: {AccessControlMaxAgeSec: 63072000, IncludeSubdomains: true, Preload: true, Override: true}
          XSSProtection: {Protection: true, ModeBlock: true, Override: false}
          FrameOptions: {FrameOption: DENY, Override: true}
        CustomHeadersConfig:
          Items: [{Header: x-served-by, Value: kumo, Override: false}]
        RemoveHeadersConfig:
          Items: [{Header: X-Powered-By}]
        ServerTimingHeadersConfig: {Enabled: true, SamplingRate: 50.5}
  D:
    Type: AWS::CloudFront::Distribution
    Properties:
      DistributionConfig:
        Enabled: true
        Origins: [{Id: o, DomainName: o.example.com, CustomOriginConfig: {OriginProtocolPolicy: https-only}}]
        DefaultCacheBehavior:
          TargetOriginId: o
          ViewerProtocolPolicy: allow-all
          CachePolicyId: !Ref CP
          OriginRequestPolicyId: !GetAtt ORP.Id
          ResponseHeadersPolicyId: !Ref RHP
        CacheBehaviors:
          - PathPattern: /static/*
            TargetOriginId: o
            ViewerProtocolPolicy: allow-all
            CachePolicyId: 658327ea-f89d-4fab-a63d-7e88639e58f6
            ResponseHeadersPolicyId: 67f7725c-6f97-4210-82d7-5512b31e9d03
`

// TestPolicyResources: the three policy types become model policies,
// referenced by !Ref and !GetAtt X.Id, next to managed policies by ID.
func TestPolicyResources(t *testing.T) {
	st, err := Parse("stack.yaml", []byte(policyTemplate), Options{})
	if err != nil {
		t.Fatal(err)
	}
	if len(st.CachePolicies) != 1 || len(st.OriginRequestPolicies) != 1 || len(st.ResponseHeadersPolicies) != 1 {
		t.Fatalf("policies: %d %d %d", len(st.CachePolicies), len(st.OriginRequestPolicies), len(st.ResponseHeadersPolicies))
	}
	cp, orp, rhp := st.CachePolicies[0], st.OriginRequestPolicies[0], st.ResponseHeadersPolicies[0]
	b := st.Distributions[0].DefaultBehavior
	if b.CachePolicy != cp || b.CachePolicyID != cp.ID || b.OriginRequestPolicy != orp || b.ResponseHeadersPolicy != rhp {
		t.Errorf("behavior not linked: %+v", b)
	}
	if len(cp.ID) != 36 || cp.ID == orp.ID || b.OriginRequestPolicyID != orp.ID {
		t.Errorf("IDs %q %q %q", cp.ID, orp.ID, b.OriginRequestPolicyID)
	}
	if cp.MinTTL != 0 || cp.DefaultTTL != 0 || cp.MaxTTL != 3600 || !cp.Gzip || !cp.Brotli ||
		cp.Headers.Behavior != "whitelist" || cp.Headers.Items[0] != "X-Version" ||
		cp.Cookies.Behavior != "allExcept" || cp.Cookies.Items[0] != "tracking" || cp.Query.Behavior != "all" {
		t.Errorf("cache policy %+v", cp)
	}
	if orp.Headers.Behavior != model.PolicyAllViewerAndWhitelistCloudFront || orp.Headers.Items[0] != "Cloudfront-Viewer-Address" || orp.Query.Items[0] != "utm" {
		t.Errorf("origin request policy %+v", orp)
	}
	wantSec := map[string]string{"Strict-Transport-Security": "max-age=63072000; includeSubDomains; preload", "X-Xss-Protection": "1; mode=block", "X-Frame-Options": "DENY"}
	for _, h := range rhp.SecurityHeaders {
		if wantSec[h.Name] != h.Value {
			t.Errorf("security header %s = %q, want %q", h.Name, h.Value, wantSec[h.Name])
		}
	}
	if len(rhp.SecurityHeaders) != 3 || rhp.CORS == nil || rhp.CORS.MaxAgeSec != 600 || !rhp.CORS.OriginOverride ||
		len(rhp.CustomHeaders) != 1 || rhp.CustomHeaders[0].Name != "X-Served-By" || rhp.RemoveHeaders[0] != "X-Powered-By" ||
		rhp.ServerTiming == nil || rhp.ServerTiming.SamplingRate != 50.5 {
		t.Errorf("response headers policy %+v", rhp)
	}
	sb := st.Distributions[0].Behaviors[0]
	if sb.CachePolicy != nil || sb.ResponseHeadersPolicy != nil || sb.ResponseHeadersPolicyID != "67f7725c-6f97-4210-82d7-5512b31e9d03" {
		t.Errorf("managed behavior %+v", sb)
	}
}

// TestPolicyErrors: each policy rule gives a file:line:path error.
func TestPolicyErrors(t *testing.T) {
	for _, tc := range []struct {
		name, old, new, want string
	}{
		{"TTL order", "DefaultTTL: 0\n", "DefaultTTL: 7200\n",
			"stack.yaml:7: Resources.CP.Properties.CachePolicyConfig.MinTTL: DefaultTTL (7200) must not exceed MaxTTL (3600)"},
		{"too many headers", "Headers: [x-version]", "Headers: [a, b, c, d, e, f, g, h, i, j, k]",
			"stack.yaml:13: Resources.CP.Properties.CachePolicyConfig.ParametersInCacheKeyAndForwardedToOrigin.HeadersConfig.Headers: lists 11 names; at most 10 are allowed"},
		{"cache policy header all", "HeaderBehavior: whitelist, Headers: [x-version]", "HeaderBehavior: allViewer",
			`stack.yaml:13: Resources.CP.Properties.CachePolicyConfig.ParametersInCacheKeyAndForwardedToOrigin.HeadersConfig.HeaderBehavior: "allViewer" is not one of none, whitelist`},
		{"whitelist without names", "CookieBehavior: allExcept, Cookies: [tracking]", "CookieBehavior: whitelist",
			"stack.yaml:14: Resources.CP.Properties.CachePolicyConfig.ParametersInCacheKeyAndForwardedToOrigin.CookiesConfig.Cookies: missing; required: the names that whitelist applies to"},
		{"name", "Name: my-cache", "Name: my cache",
			`stack.yaml:6: Resources.CP.Properties.CachePolicyConfig.Name: "my cache" is not a policy name: use 1-128 letters, digits, - and _`},
		{"caching disabled with key", "MaxTTL: 3600", "MaxTTL: 0",
			"stack.yaml:13: Resources.CP.Properties.CachePolicyConfig.ParametersInCacheKeyAndForwardedToOrigin.HeadersConfig: with MaxTTL 0 (caching disabled) the cache key takes no headers"},
		{"whitelist CloudFront non-CloudFront header", "Headers: [CloudFront-Viewer-Address]", "Headers: [X-Other]",
			`stack.yaml:21: Resources.ORP.Properties.OriginRequestPolicyConfig.HeadersConfig.Headers[0]: "X-Other" is not a CloudFront-* header; allViewerAndWhitelistCloudFront lists only CloudFront-generated headers`},
		{"origin request policy forwards Authorization", "HeaderBehavior: allViewerAndWhitelistCloudFront, Headers: [CloudFront-Viewer-Address]", "HeaderBehavior: whitelist, Headers: [authorization]",
			"stack.yaml:21: Resources.ORP.Properties.OriginRequestPolicyConfig.HeadersConfig: an origin request policy cannot forward Authorization; put it in the cache key (a cache policy's HeadersConfig) instead"},
		{"forbidden custom header", "Header: x-served-by", "Header: Via",
			`stack.yaml:41: Resources.RHP.Properties.ResponseHeadersPolicyConfig.CustomHeadersConfig.Items[0].Header: "Via" cannot be added or removed by a response headers policy (CloudFront sets it)`},
		{"credentials with any origin", "AccessControlAllowCredentials: false\n          AccessControlAllowHeaders: {Items: [\"*\"]}\n          AccessControlAllowMethods: {Items: [GET, OPTIONS]}\n          AccessControlAllowOrigins: {Items: [https://app.example.com]}",
			"AccessControlAllowCredentials: true\n          AccessControlAllowHeaders: {Items: [\"*\"]}\n          AccessControlAllowMethods: {Items: [GET, OPTIONS]}\n          AccessControlAllowOrigins: {Items: [\"*\"]}",
			"stack.yaml:30: Resources.RHP.Properties.ResponseHeadersPolicyConfig.CorsConfig.AccessControlAllowCredentials: cannot be true when AccessControlAllowOrigins is *"},
		{"xss both", "ModeBlock: true, Override", "ModeBlock: true, ReportUri: https://r.example, Override",
			"stack.yaml:38: Resources.RHP.Properties.ResponseHeadersPolicyConfig.SecurityHeadersConfig.XSSProtection.Protection: give ModeBlock or ReportUri, not both"},
		{"sampling rate", "SamplingRate: 50.5", "SamplingRate: 150",
			`stack.yaml:44: Resources.RHP.Properties.ResponseHeadersPolicyConfig.ServerTimingHeadersConfig.SamplingRate: "150" is not a percentage from 0 to 100`},
		{"unknown managed ID", "CachePolicyId: 658327ea-f89d-4fab-a63d-7e88639e58f6", "CachePolicyId: 00000000-f89d-4fab-a63d-7e88639e58f6",
			`stack.yaml:61: Resources.D.Properties.DistributionConfig.CacheBehaviors[0].CachePolicyId: "00000000-f89d-4fab-a63d-7e88639e58f6" is neither a managed cache policy nor an AWS::CloudFront::CachePolicy of this stack (use !Ref or !GetAtt X.Id)`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			src := edit(t, policyTemplate, tc.old, tc.new)
			_, err := Parse("stack.yaml", []byte(src), Options{})
			if err == nil {
				if tc.want != "" {
					t.Fatalf("no error; want %s", tc.want)
				}
				return
			}
			if tc.want != "" && !strings.Contains(err.Error(), tc.want) {
				t.Errorf("got %v\nwant %s", err, tc.want)
			}
			if tc.want == "" {
				t.Logf("error: %v", err)
			}
		})
	}
}

// TestForwardedValuesLimits implements the legacy ForwardedValues quotas.
func TestForwardedValuesLimits(t *testing.T) {
	base := `Resources:
  D:
    Type: AWS::CloudFront::Distribution
    Properties:
      DistributionConfig:
        Enabled: true
        Origins: [{Id: o, DomainName: o.example.com, CustomOriginConfig: {OriginProtocolPolicy: https-only}}]
        DefaultCacheBehavior:
          TargetOriginId: o
          ViewerProtocolPolicy: allow-all
          ForwardedValues:
            QueryString: true
            FV
`
	for _, tc := range []struct{ fv, want string }{
		{"Headers: [a, b, c, d, e, f, g, h, i, j, k]", "ForwardedValues.Headers: lists 11 headers; at most 10 are allowed"},
		{"QueryStringCacheKeys: [a, b, c, d, e, f, g, h, i, j, k]", "ForwardedValues.QueryStringCacheKeys: lists 11 query strings; at most 10 are allowed"},
		{"Cookies: {Forward: whitelist, WhitelistedNames: [a, b, c, d, e, f, g, h, i, j, k]}", "ForwardedValues.Cookies: whitelists 11 cookies; at most 10 are allowed"},
		{"Cookies: {Forward: whitelist, WhitelistedNames: [" + strings.Repeat("a", 300) + ", " + strings.Repeat("b", 300) + "]}", "whitelisted cookie names total 600 bytes; at most 512 are allowed"},
	} {
		_, err := Parse("stack.yaml", []byte(strings.Replace(base, "FV", tc.fv, 1)), Options{})
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%s: got %v, want %q", tc.fv, err, tc.want)
		}
	}
}
