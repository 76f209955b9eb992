// Package model holds the resolved, validated world that kumo serves: the
// distributions, load balancers, target groups, certificates, DNS records and
// instances of one stack, as plain Go values.
//
// The model speaks the modeled (AWS) language: names such as
// dpekz4s0xzujc.cloudfront.net, listener port 443, target 10.0.4.254:80 and
// certificate ARNs. The only local-world values it carries are the explicit
// mappings a user wrote in Metadata.Kumo (Listen addresses and target
// mappings). Everything is filled in by package stack and read, never
// mutated, by the data planes, so one Stack can be shared by goroutines.
package model

import (
	"time"
)

// Stack is one resolved stack file.
type Stack struct {
	// Source is the file the stack was read from ("" for the built-in stack).
	Source string
	// Region and AccountID are used to build ARNs and DNS names.
	Region    string
	AccountID string

	Distributions []*Distribution
	LoadBalancers []*LoadBalancer
	TargetGroups  []*TargetGroup
	Certificates  []*Certificate
	Records       []*Record
	Instances     []*Instance

	// CachePolicies, OriginRequestPolicies and ResponseHeadersPolicies are
	// the stack's own AWS::CloudFront::*Policy resources (managed policies
	// are referenced by ID only), in template order.
	CachePolicies           []*CachePolicy
	OriginRequestPolicies   []*OriginRequestPolicy
	ResponseHeadersPolicies []*ResponseHeadersPolicy

	// Ignored lists the resources kumo does not serve (VPCs, security
	// groups, ...), by logical ID, in template order.
	Ignored []IgnoredResource
	// Unemulated lists the properties the stack sets that kumo accepts but
	// does not emulate, in template order.
	Unemulated []UnemulatedProperty

	// Lines maps a template field path (Resources.X.Properties.A.B[0].C,
	// the form stack errors use) to its 1-based line, for every key and
	// list item of the template. It lets reports about a resolved stack
	// (kumo doctor) name the line they are about. Nil for a hand-built stack.
	Lines map[string]int
}

// Line returns the template line of the field path, or 0 when unknown.
func (s *Stack) Line(path string) int {
	if s == nil {
		return 0
	}
	return s.Lines[path]
}

// UnemulatedProperty is a property kumo accepts, so that the template loads,
// but does not emulate; Effect says what happens instead.
type UnemulatedProperty struct {
	File   string
	Line   int
	Path   string
	Effect string
}

// IgnoredResource is a template resource whose type kumo does not serve.
type IgnoredResource struct {
	LogicalID string
	Type      string
}

// Distribution is an AWS::CloudFront::Distribution.
type Distribution struct {
	LogicalID string
	// ID is the distribution ID, "E" + 13 uppercase alphanumerics, stable for a
	// logical ID.
	ID string
	// DomainName is the modeled dXXXXXXXXXXXXX.cloudfront.net name.
	DomainName string
	// Aliases are the alternate domain names (CNAMEs), lowercase.
	Aliases           []string
	Enabled           bool
	Comment           string
	DefaultRootObject string
	// HTTPVersion is http1.1, http2, http3 or http2and3.
	HTTPVersion string
	// ViewerCertificate is the certificate served to viewers for the aliases.
	// Nil means the default *.cloudfront.net certificate.
	ViewerCertificate *Certificate
	// MinimumProtocolVersion is the viewer security policy (TLSv1, TLSv1.2_2021, ...).
	MinimumProtocolVersion string

	Origins         []*Origin
	DefaultBehavior *CacheBehavior
	// Behaviors are the ordered CacheBehaviors; the default behavior is not
	// among them.
	Behaviors []*CacheBehavior

	Logging Logging

	// CustomErrorResponses are DistributionConfig.CustomErrorResponses
	// (cloudfront.md §5.5), at most one per ErrorCode.
	CustomErrorResponses []*CustomErrorResponse
	// OriginGroups are DistributionConfig.OriginGroups (cloudfront.md §3.2);
	// a behavior's TargetOriginID may name one.
	OriginGroups []*OriginGroup

	// LocalDefault (Metadata.Kumo.LocalDefault, a kumo extension) routes
	// viewer requests whose Host is a loopback address (127.0.0.0/8, ::1)
	// or localhost to this distribution, so that a local client that only
	// knows kumo's address (such as a test suite) reaches it. At most one
	// distribution of a stack sets it.
	LocalDefault bool
}

// Logging is a distribution's standard-logging configuration.
type Logging struct {
	Enabled        bool
	IncludeCookies bool
	Bucket         string
	Prefix         string
}

// Origin protocol policies.
const (
	OriginHTTPOnly    = "http-only"
	OriginHTTPSOnly   = "https-only"
	OriginMatchViewer = "match-viewer"
)

// Origin is one entry of DistributionConfig.Origins.
type Origin struct {
	ID string
	// DomainName is the origin domain as written (never an IP address).
	DomainName    string
	OriginPath    string
	CustomHeaders []Header
	// ConnectionAttempts is 1-3 (default 3).
	ConnectionAttempts int
	// ConnectionTimeout is 1-10 s (default 10 s).
	ConnectionTimeout time.Duration

	// Custom is the CustomOriginConfig. For an S3 origin kumo fills in an
	// https-only config on port 443.
	Custom CustomOriginConfig
	// S3 is true when the origin used S3OriginConfig.
	S3 bool
}

// CustomOriginConfig is an origin's CustomOriginConfig.
type CustomOriginConfig struct {
	HTTPPort  int
	HTTPSPort int
	// ProtocolPolicy is one of OriginHTTPOnly, OriginHTTPSOnly, OriginMatchViewer.
	ProtocolPolicy string
	// SSLProtocols lists the allowed origin protocols: SSLv3, TLSv1, TLSv1.1, TLSv1.2.
	SSLProtocols []string
	// ReadTimeout is OriginReadTimeout (default 30 s).
	ReadTimeout time.Duration
	// KeepaliveTimeout is OriginKeepaliveTimeout (default 5 s).
	KeepaliveTimeout time.Duration
}

// Header is one name/value pair (origin custom headers and the like).
type Header struct {
	Name  string
	Value string
}

// Viewer protocol policies.
const (
	ViewerAllowAll        = "allow-all"
	ViewerHTTPSOnly       = "https-only"
	ViewerRedirectToHTTPS = "redirect-to-https"
)

// CacheBehavior is the default cache behavior or one of CacheBehaviors.
type CacheBehavior struct {
	// PathPattern is "" for the default behavior.
	PathPattern          string
	TargetOriginID       string
	ViewerProtocolPolicy string
	// AllowedMethods and CachedMethods are upper-case method names.
	AllowedMethods []string
	CachedMethods  []string
	Compress       bool

	// CachePolicyID, when set, names a managed or stack-defined cache policy.
	// Exactly one of CachePolicyID and ForwardedValues is set.
	CachePolicyID           string
	OriginRequestPolicyID   string
	ResponseHeadersPolicyID string

	// CachePolicy, OriginRequestPolicy and ResponseHeadersPolicy are the
	// stack-defined policies the IDs above name; nil when the ID is a
	// managed policy (or unset).
	CachePolicy           *CachePolicy
	OriginRequestPolicy   *OriginRequestPolicy
	ResponseHeadersPolicy *ResponseHeadersPolicy

	// ForwardedValues is the legacy cache-key/forwarding configuration, with
	// MinTTL, DefaultTTL and MaxTTL.
	ForwardedValues *ForwardedValues
	MinTTL          int64
	DefaultTTL      int64
	MaxTTL          int64
}

// ForwardedValues is a behavior's legacy ForwardedValues.
type ForwardedValues struct {
	QueryString          bool
	QueryStringCacheKeys []string
	// CookiesForward is none, whitelist or all.
	CookiesForward   string
	WhitelistedNames []string
	// Headers lists forwarded header names; "*" means all.
	Headers []string
}

// CustomErrorResponse is one DistributionConfig.CustomErrorResponses item.
type CustomErrorResponse struct {
	ErrorCode int
	// ResponsePagePath is the page served instead ("" = CloudFront's or
	// the origin's own error response), fetched through the behavior that
	// matches it.
	ResponsePagePath string
	// ResponseCode is the status sent with the page (0 = ErrorCode).
	ResponseCode int
	// ErrorCachingMinTTL is how long, at least, an error response with
	// ErrorCode is cached (default 10 s).
	ErrorCachingMinTTL time.Duration
}

// OriginGroup is one DistributionConfig.OriginGroups item: requests go to
// Primary and fail over to Secondary (cloudfront.md §3.2).
type OriginGroup struct {
	ID        string
	Primary   string // origin IDs
	Secondary string
	// FailoverStatusCodes are FailoverCriteria.StatusCodes.
	FailoverStatusCodes []int
}

// Policy item behaviors (CachePolicy/OriginRequestPolicy Headers, Cookies
// and QueryStrings configs).
const (
	PolicyNone                            = "none"
	PolicyWhitelist                       = "whitelist"
	PolicyAll                             = "all"
	PolicyAllExcept                       = "allExcept"
	PolicyAllViewer                       = "allViewer"
	PolicyAllViewerAndWhitelistCloudFront = "allViewerAndWhitelistCloudFront"
)

// PolicyItems is a policy's HeadersConfig, CookiesConfig or
// QueryStringsConfig: a behavior (PolicyNone, ...) and its names.
type PolicyItems struct {
	Behavior string
	Items    []string
}

// CachePolicy is an AWS::CloudFront::CachePolicy (cloudfront.md §4.2, §4.5).
type CachePolicy struct {
	LogicalID string
	// ID is the policy ID (a UUID), stable for a logical ID.
	ID      string
	Name    string
	Comment string
	MinTTL  int64
	// DefaultTTL and MaxTTL in seconds.
	DefaultTTL int64
	MaxTTL     int64
	// Gzip and Brotli are EnableAcceptEncodingGzip/Brotli.
	Gzip    bool
	Brotli  bool
	Headers PolicyItems
	Cookies PolicyItems
	Query   PolicyItems
}

// OriginRequestPolicy is an AWS::CloudFront::OriginRequestPolicy (cloudfront.md §3.6).
type OriginRequestPolicy struct {
	LogicalID string
	ID        string
	Name      string
	Comment   string
	Headers   PolicyItems
	Cookies   PolicyItems
	Query     PolicyItems
}

// ResponseHeadersPolicy is an AWS::CloudFront::ResponseHeadersPolicy.
type ResponseHeadersPolicy struct {
	LogicalID string
	ID        string
	Name      string
	Comment   string
	// CORS is the CorsConfig (nil = none).
	CORS *CORSConfig
	// SecurityHeaders are the SecurityHeadersConfig headers with their
	// rendered values (Strict-Transport-Security: max-age=...; ...).
	SecurityHeaders []ResponseHeader
	// CustomHeaders are CustomHeadersConfig.Items.
	CustomHeaders []ResponseHeader
	// RemoveHeaders are RemoveHeadersConfig.Items, canonical names.
	RemoveHeaders []string
	// ServerTiming is ServerTimingHeadersConfig (nil = disabled).
	ServerTiming *ServerTimingConfig
}

// ResponseHeader is a header a response headers policy sets; Override
// replaces a header of the same name from the origin.
type ResponseHeader struct {
	Name     string
	Value    string
	Override bool
}

// CORSConfig is a response headers policy's CorsConfig.
type CORSConfig struct {
	AllowCredentials bool
	AllowHeaders     []string
	// AllowMethods are method names, or ALL.
	AllowMethods  []string
	AllowOrigins  []string
	ExposeHeaders []string
	// MaxAgeSec is AccessControlMaxAgeSec (-1 = not set).
	MaxAgeSec      int64
	OriginOverride bool
}

// ServerTimingConfig is an enabled ServerTimingHeadersConfig.
type ServerTimingConfig struct {
	// SamplingRate is the percentage (0-100) of responses that get the header.
	SamplingRate float64
}

// LoadBalancer is an AWS::ElasticLoadBalancingV2::LoadBalancer of type application.
type LoadBalancer struct {
	LogicalID string
	// Name is the load balancer name (alb-test).
	Name string
	// ID is the 16-hex resource id (96e12a2c8669fbe5), stable for a logical ID.
	ID string
	// FullName is app/<name>/<id>, as in the access log's elb field.
	FullName string
	ARN      string
	// DNSName is the modeled <name>-<digits>.<region>.elb.amazonaws.com name.
	DNSName string
	// Scheme is internet-facing or internal.
	Scheme    string
	Listeners []*Listener
	// Attributes are LoadBalancerAttributes (idle_timeout.timeout_seconds, ...).
	Attributes map[string]string
	// AccessLogs is true when access_logs.s3.enabled is "true". kumo writes the
	// access log either way; this is kept to report it.
	AccessLogs bool
	// Logs is Metadata.Kumo.Logs, a kumo extension: "all" (the default)
	// writes the access, connection and health-check logs whatever the
	// attributes say; "attributes" writes each one only when its
	// access_logs.s3.enabled / connection_logs.s3.enabled /
	// health_check_logs.s3.enabled attribute is "true", as AWS does.
	Logs string
}

// Listener is an AWS::ElasticLoadBalancingV2::Listener.
type Listener struct {
	LogicalID string
	ARN       string
	// Protocol is HTTP or HTTPS.
	Protocol string
	// Port is the modeled listener port (443).
	Port int
	// Listen is the local address (Metadata.Kumo.Listen), "" for an ephemeral
	// loopback port.
	Listen    string
	SslPolicy string
	// Certificates holds the default certificate first, then the certificate list.
	Certificates   []*Certificate
	DefaultActions []*Action
	// Rules are the ListenerRules, sorted by priority.
	Rules []*Rule
}

// Rule is an AWS::ElasticLoadBalancingV2::ListenerRule.
type Rule struct {
	LogicalID  string
	ARN        string
	Priority   int
	Conditions []*Condition
	Actions    []*Action
	// Transforms are the rule's host-header-rewrite and url-rewrite
	// transforms, applied after routing (alb.md §5.4).
	Transforms []*Transform
}

// Transform types (alb.md §5.4).
const (
	TransformHostHeaderRewrite = "host-header-rewrite"
	TransformURLRewrite        = "url-rewrite"
)

// Transform is one rule transform: Type is host-header-rewrite or
// url-rewrite; Rewrites are its regex/replacement pairs.
type Transform struct {
	Type     string
	Rewrites []Rewrite
}

// Rewrite is one transform rewrite: Regex (RE2) and Replace, which may use
// $1, $2 ... capture references.
type Rewrite struct {
	Regex   string
	Replace string
}

// Condition is one rule condition. Field is host-header, path-pattern,
// http-header, http-request-method, query-string or source-ip.
type Condition struct {
	Field  string
	Values []string
	// HTTPHeaderName is set for http-header conditions.
	HTTPHeaderName string
	// QueryStrings is set for query-string conditions.
	QueryStrings []KeyValue
	// RegexValues are the regular expressions of a host-header,
	// path-pattern or http-header condition (alb.md §5.2), OR-ed with Values.
	RegexValues []string
}

// KeyValue is a query-string condition pair; an empty Key matches any key.
type KeyValue struct {
	Key   string
	Value string
}

// Action types.
const (
	ActionForward       = "forward"
	ActionRedirect      = "redirect"
	ActionFixedResponse = "fixed-response"
)

// Action is a listener or rule action.
type Action struct {
	Type  string
	Order int
	// TargetGroups is set for forward actions; Weight is 1 for a plain
	// TargetGroupArn.
	TargetGroups []WeightedTargetGroup
	// TargetGroupStickiness is ForwardConfig.TargetGroupStickinessConfig
	// (the AWSALBTG cookie, alb.md §5.3); nil when not enabled.
	TargetGroupStickiness *TargetGroupStickiness
	Redirect              *RedirectConfig
	FixedResponse         *FixedResponseConfig
}

// TargetGroupStickiness is an enabled TargetGroupStickinessConfig.
type TargetGroupStickiness struct {
	// Duration is DurationSeconds (1 s – 7 days).
	Duration time.Duration
}

// WeightedTargetGroup is one target group of a forward action.
type WeightedTargetGroup struct {
	TargetGroup *TargetGroup
	Weight      int
}

// RedirectConfig is a redirect action's configuration. Empty fields keep the
// request's value (#{protocol}, #{host}, #{port}, /#{path}, #{query}).
type RedirectConfig struct {
	Protocol string
	Port     string
	Host     string
	Path     string
	Query    string
	// StatusCode is HTTP_301 or HTTP_302.
	StatusCode string
}

// FixedResponseConfig is a fixed-response action's configuration.
type FixedResponseConfig struct {
	StatusCode  int
	ContentType string
	MessageBody string
}

// TargetGroup is an AWS::ElasticLoadBalancingV2::TargetGroup.
type TargetGroup struct {
	LogicalID string
	Name      string
	// ID is the 16-hex resource id.
	ID string
	// FullName is targetgroup/<name>/<id>.
	FullName string
	ARN      string
	// Protocol is HTTP or HTTPS (towards the targets).
	Protocol string
	// ProtocolVersion is HTTP1 (also when empty), HTTP2 or GRPC (alb.md §4.2, §6.1).
	ProtocolVersion string
	Port            int
	// TargetType is instance or ip.
	TargetType  string
	HealthCheck HealthCheck
	Targets     []*Target
	Attributes  map[string]string
}

// HealthCheck is a target group's health-check configuration, with AWS's
// defaults filled in.
type HealthCheck struct {
	Enabled bool
	// Protocol is HTTP or HTTPS.
	Protocol string
	// Port is "traffic-port" or a port number.
	Port               string
	Path               string
	Interval           time.Duration
	Timeout            time.Duration
	HealthyThreshold   int
	UnhealthyThreshold int
	// Matcher is the HttpCode matcher: "200", "200,202" or "200-299".
	Matcher string
	// GrpcMatcher is the GrpcCode matcher of GRPC target groups ("12",
	// "0-99", "0,12"); "" for other target groups.
	GrpcMatcher string
}

// Target is one registered target.
type Target struct {
	// ID is the instance ID (i-0abc...) or the IP address, as registered.
	ID string
	// Addr is the modeled address as the ALB logs it (10.0.4.254:80).
	Addr string
	// Local is the local address to dial ("" means: dial Addr itself, which
	// must then be a loopback address, or the instance's web server).
	Local string
	// Instance is set for instance targets.
	Instance *Instance
}

// Certificate is an AWS::CertificateManager::Certificate.
type Certificate struct {
	LogicalID string
	ARN       string
	// DomainName and SubjectAlternativeNames are the names to issue for.
	DomainName              string
	SubjectAlternativeNames []string
	// CertFile and KeyFile, when set (Metadata.Kumo), point at real PEM files
	// to serve instead of a certificate issued by the local CA.
	CertFile string
	KeyFile  string
}

// Names returns the certificate's DomainName followed by its SANs, without
// duplicates.
func (c *Certificate) Names() []string {
	seen := map[string]bool{}
	var out []string
	for _, n := range append([]string{c.DomainName}, c.SubjectAlternativeNames...) {
		if n != "" && !seen[n] {
			seen[n] = true
			out = append(out, n)
		}
	}
	return out
}

// Record is an AWS::Route53::RecordSet.
type Record struct {
	LogicalID string
	// Name is the fully qualified name without the trailing dot, lowercase.
	Name string
	// Zone is the hosted zone name without the trailing dot ("" if unknown).
	Zone string
	// Type is A, AAAA or CNAME.
	Type string
	TTL  int64
	// Values are the ResourceRecords (IP addresses, or one name for CNAME).
	Values []string
	// AliasTarget is the DNS name an alias record points at ("" if none).
	AliasTarget string
}

// Instance is an AWS::EC2::Instance: kumo runs a built-in web server for it.
type Instance struct {
	LogicalID string
	// ID is the modeled instance ID (i- + 17 hex), stable for a logical ID.
	ID string
	// PrivateIP is the modeled private address (PrivateIpAddress, or one kumo
	// assigns from 10.0.0.0/16).
	PrivateIP string
	// Listen is the local address of its web server ("" for an ephemeral
	// loopback port).
	Listen string
	// Upstream, when set (Metadata.Kumo.Upstream), is a local server that
	// stands in for this instance instead of the built-in web server.
	Upstream string
}
