package logs

import (
	"strconv"
	"strings"
)

// Explanation is the cause of one kind of error line and the next step to
// take. ID is stable (for scripts and tests); Ref cites the reference section.
type Explanation struct {
	ID    string `json:"id"`
	Cause string `json:"cause"`
	Next  string `json:"next"`
	Ref   string `json:"ref"`
}

// FallbackID prefixes the ID of the generic explanation given to an error
// shape the table does not know; every shape the references list has its own.
const FallbackID = "UNKNOWN"

// IsFallback reports whether e is a generic fallback explanation.
func (e Explanation) IsFallback() bool { return strings.HasPrefix(e.ID, FallbackID) }

// Reference sections cited by the table.
const (
	refCFResult = "cloudfront.md §1.6"
	refCFOrigin = "cloudfront.md §1.6, §2.4–2.5"
	refALBCodes = "alb.md §2.1"
	refALBShape = "alb.md §1.11, §2.1, §2.4"
	refALBError = "alb.md §1.7"
	refALBConn  = "alb.md §1.12"
	refALBHC    = "alb.md §1.13, §6.2–6.3"
)

// probeNext is the next step for origin connection failures.
const probeNext = "Check the origin domain against the origin certificate's names (an ALB's generated *.elb.amazonaws.com name is never on its certificate: point the origin at a name the certificate covers, e.g. a Route 53 alias such as alb.example.com, or forward the viewer Host), check the origin's TLS protocols and chain, and that its port is open to CloudFront; run `kumo probe https://<origin-domain> --origin-domain <origin-domain>`."

// cloudFrontDetailedExplanations implements cloudfront.md §1.6 (the
// x-edge-detailed-result-type values logged when x-edge-result-type is
// Error) and §2.4 (failure → viewer response mapping).
var cloudFrontDetailedExplanations = map[string]Explanation{
	"OriginConnectError":            {Cause: "CloudFront could not connect to the origin: the TCP connection was refused or reset, or the TLS handshake with the origin failed — most often the origin certificate does not cover the origin domain (the ALB case: origin = the ALB's *.elb.amazonaws.com name, certificate for your own domain), or it is expired, self-signed, has an incomplete chain, or shares no protocol/cipher with CloudFront. CloudFront answered with its own 502 page (\"CloudFront wasn't able to connect to the origin.\").", Next: probeNext, Ref: refCFOrigin},
	"OriginDnsError":                {Cause: "CloudFront could not resolve the origin domain name (NXDOMAIN or SERVFAIL); it answered 502 (\"CloudFront wasn't able to resolve the origin domain name.\").", Next: "Resolve the origin domain from the internet (`dig <origin-domain>`): check the record exists in a public zone (not only a private hosted zone), the alias target still exists, and the origin domain in the distribution has no typo.", Ref: refCFOrigin},
	"OriginCommError":               {Cause: "CloudFront timed out connecting to the origin (ConnectionAttempts × ConnectionTimeout, default 3 × 10 s) or waiting for its response (OriginReadTimeout, default 30 s), and answered 504.", Next: "If time-taken is ~30 s the origin accepted but answered too slowly: find the slow requests in the ALB log (target_processing_time), or raise OriginReadTimeout. If the connect never succeeded: check the security group / NACL allows CloudFront's origin-facing prefix list and the origin is internet-reachable.", Ref: refCFOrigin},
	"OriginReadError":               {Cause: "CloudFront could not read the response from the origin: the origin closed or reset the connection while CloudFront was reading it (truncated body).", Next: "Check the origin's keep-alive timeout (it should be longer than CloudFront's origin keep-alive) and the target/ALB logs at that time for crashes, 502s or closed connections.", Ref: refCFOrigin},
	"OriginWriteError":              {Cause: "CloudFront could not write the request to the origin: the origin closed the connection while CloudFront was sending (often a large upload body).", Next: "Check the origin's request-size limits and idle/keep-alive timeouts, and the ALB log for 400/408/460 at that time.", Ref: refCFResult},
	"OriginError":                   {Cause: "The origin returned an incorrect response.", Next: "Fetch the same URL from the origin directly (curl -v through the origin domain) and check its status line and headers.", Ref: refCFResult},
	"OriginInvalidResponseError":    {Cause: "The origin returned an invalid HTTP response (malformed status line or headers, or a second 100 Continue).", Next: "Fetch the URL from the origin directly and check the raw response; fix the origin's HTTP framing.", Ref: refCFOrigin},
	"OriginHeaderTooBigError":       {Cause: "A response header block from the origin was too big (more than 32,768 bytes of response headers).", Next: "Reduce the origin's response headers (large Set-Cookie, CSP or debug headers).", Ref: refCFOrigin},
	"OriginContentRangeLengthError": {Cause: "The origin's Content-Length disagrees with the length in its Content-Range.", Next: "Fix the origin's range handling (Content-Length must equal end−start+1 of Content-Range).", Ref: refCFOrigin},
	"OriginZeroSizeObjectError":     {Cause: "A zero-size object from the origin caused an error.", Next: "Check why the origin returns an empty body for this URI (and its Content-Length).", Ref: refCFResult},
	"AbortedOrigin":                 {Cause: "The edge encountered an issue with the origin and aborted the origin request.", Next: "Look at the origin's logs (ALB and target) at this time for errors, closed connections or timeouts.", Ref: refCFResult},
	"SlowReaderOriginError":         {Cause: "The viewer was slow to read the response that caused an origin error.", Next: "Usually viewer-side (slow network); check the origin error at the same time in the ALB log.", Ref: refCFResult},
	"ClientCommError":               {Cause: "The response to the viewer was interrupted by a viewer-side communication problem (the viewer closed the connection or the network dropped) — not an origin fault.", Next: "Usually harmless (navigation away, cancelled download). If frequent, look for large objects on slow links or short client timeouts.", Ref: refCFResult},
	"ClientHungUpRequest":           {Cause: "The viewer stopped prematurely while sending the request.", Next: "Client-side: check large uploads and client timeouts.", Ref: refCFResult},
	"ClientGeoBlocked":              {Cause: "The distribution's geo restriction refused the viewer's country (403).", Next: "Check the distribution's geo-restriction allow/deny list if the viewer should be served.", Ref: refCFResult},
	"InvalidRequest":                {Cause: "CloudFront rejected an invalid request from the viewer.", Next: "Check the request (URL, headers, method) of the sample request IDs; it never reached the origin.", Ref: refCFResult},
	"InvalidRequestBlocked":         {Cause: "Access to the resource is blocked (typically by the AWS WAF web ACL on the distribution).", Next: "Look up the sample request IDs in the WAF logs/sampled requests to see which rule blocked them.", Ref: refCFResult},
	"InvalidRequestCertificate":     {Cause: "The request's Host does not match the distribution whose TLS certificate the connection was established for (domain fronting, 421).", Next: "The viewer must use a Host that is an alternate domain name of the same distribution as the SNI it sent.", Ref: refCFResult},
	"InvalidRequestHeader":          {Cause: "CloudFront rejected an invalid request header from the viewer.", Next: "Check the viewer's headers (size limits, forbidden or malformed headers); it never reached the origin.", Ref: refCFResult},
	"InvalidRequestMethod":          {Cause: "The HTTP method is not allowed by the cache behavior (403 \"This distribution is not configured to allow the HTTP request method\").", Next: "Add the method to the cache behavior's AllowedMethods (GET, HEAD, OPTIONS, PUT, POST, PATCH, DELETE) if it should reach the origin.", Ref: refCFResult},
}

// cloudFrontResultExplanations implements cloudfront.md §1.6 for the
// x-edge-result-type values that are errors without a detailed type.
var cloudFrontResultExplanations = map[string]Explanation{
	"LimitExceeded":        {Cause: "The request was denied because a CloudFront quota was exceeded (503).", Next: "Check the distribution's quotas (requests per second, Lambda@Edge/Functions limits) and request a quota increase.", Ref: refCFResult},
	"CapacityExceeded":     {Cause: "The edge returned 503 because it lacked capacity.", Next: "Transient edge condition; retry. If persistent, contact AWS support with the sample request IDs.", Ref: refCFResult},
	"LambdaExecutionError": {Cause: "A Lambda@Edge function associated with the behavior failed or timed out.", Next: "Check the function's CloudWatch logs in the region of the edge location.", Ref: refCFResult},
}

// explainCloudFront implements cloudfront.md §1.6 and §2.4: the explanation
// of a CloudFront error line from its status, result types and detailed type.
func explainCloudFront(status int, result, response, detailed string) Explanation {
	if e, ok := cloudFrontDetailedExplanations[detailed]; ok {
		e.ID = "CF-" + detailed
		return e
	}
	if e, ok := cloudFrontResultExplanations[result]; ok {
		e.ID = "CF-" + result
		return e
	}
	switch {
	case status == 0:
		return Explanation{ID: "CF-000", Cause: "The viewer went away before CloudFront sent a status (logged 000).", Next: "Viewer-side; if frequent, check time-taken for slow origin responses that make viewers give up.", Ref: refCFResult}
	case result == "Error" && status < 400:
		return Explanation{ID: "CF-Error-VIEWER-DISCONNECT", Cause: "x-edge-result-type is Error with a non-error status: the response started fine but the viewer disconnected before receiving all of it.", Next: "Usually harmless; if frequent, look for large objects on slow links.", Ref: refCFResult}
	case result == "Hit" || result == "RefreshHit" || detailed == "Hit" || detailed == "RefreshHit":
		return Explanation{ID: "CF-CACHED-ERROR", Cause: "An error response (" + strconv.Itoa(status) + ") served from the edge cache: CloudFront caches origin errors (error caching minimum TTL, default 10 s) or the origin sent cache headers with it.", Next: "Fix the origin's error, then wait for the error-caching TTL or invalidate the path; set a custom error response's ErrorCachingMinTTL to keep errors short.", Ref: "cloudfront.md §1.6, §4.4"}
	}
	return explainCloudFrontStatus(status, detailed)
}

// explainCloudFrontStatus implements cloudfront.md §1.6 ("Origin 4xx/5xx
// passed through"), §2.4 and §5.9 for Error lines whose detailed type is
// Error (or absent, in layouts before 2019).
func explainCloudFrontStatus(status int, detailed string) Explanation {
	old := ""
	if detailed == "" {
		old = " (this log layout predates x-edge-detailed-result-type, so the edge's own errors and the origin's cannot be told apart)"
	}
	switch status {
	case 502:
		return Explanation{ID: "CF-502", Cause: "502 with no detailed type" + old + ": either the origin itself returned 502, or CloudFront could not connect to the origin (TCP/TLS/DNS failure).", Next: "Check the ALB log at the same time: a matching ALB 502 means the target failed; no ALB entry means CloudFront never reached it. " + probeNext, Ref: refCFOrigin}
	case 503:
		return Explanation{ID: "CF-503", Cause: "503" + old + ": the origin returned 503 (an ALB with no registered targets does) or CloudFront was over capacity/limits.", Next: "Check the ALB log at the same time for 503 (no registered targets) and the target group's registered targets.", Ref: refCFOrigin}
	case 504:
		return Explanation{ID: "CF-504", Cause: "504" + old + ": the origin returned 504, or CloudFront timed out connecting to or reading from the origin.", Next: "Check the ALB log at the same time for 504 (target connect or idle timeout) and target_processing_time.", Ref: refCFOrigin}
	case 400, 411, 413, 414, 431, 494:
		return Explanation{ID: "CF-" + strconv.Itoa(status), Cause: "The request was rejected as invalid or too large (" + strconv.Itoa(status) + "), by CloudFront's request limits or by the origin" + old + ".", Next: "Check the request's URL length, header sizes and body against CloudFront's request limits, then the origin's.", Ref: "cloudfront.md §1.6, §5.9"}
	case 403:
		return Explanation{ID: "CF-403", Cause: "403 passed through from the origin, or generated by CloudFront (WAF, geo restriction, signed URLs, method not allowed, an S3 origin denying access)" + old + ".", Next: "Check the ALB log for a matching 403 (WAF on the ALB, or the target's own 403); otherwise the distribution's WAF, signed-URL and geo settings.", Ref: refCFResult}
	case 404:
		return Explanation{ID: "CF-404", Cause: "The origin answered 404 Not Found for this URI and CloudFront passed it through.", Next: "Check the URI exists on the origin (and the behavior's origin path / DefaultRootObject); see the top URIs in `kumo logs stats`.", Ref: refCFResult}
	}
	if status >= 500 {
		return Explanation{ID: "CF-ORIGIN-5XX", Cause: "The origin returned " + strconv.Itoa(status) + " and CloudFront passed it through (or served it from the error cache)" + old + ".", Next: "Look at the origin's logs (ALB and target) for the same time and URI.", Ref: refCFResult}
	}
	if status >= 400 {
		return Explanation{ID: "CF-ORIGIN-4XX", Cause: "The origin returned " + strconv.Itoa(status) + " and CloudFront passed it through (or served it from the error cache)" + old + ".", Next: "Check the request against the origin's application (URI, method, auth); the sample request IDs show which requests.", Ref: refCFResult}
	}
	return Explanation{ID: FallbackID + "-CF", Cause: "CloudFront error line of a shape the references do not describe.", Next: "Inspect the sample request IDs.", Ref: refCFResult}
}

// albErrorReasonExplanation implements alb.md §1.7: the error_reason codes.
func albErrorReasonExplanation(reason string) (Explanation, bool) {
	var cause, next string
	switch {
	case reason == "AuthInvalidCookie":
		cause, next = "The authentication session cookie was invalid.", "The user must sign in again; check cookie size and the authenticate action's session settings."
	case reason == "AuthMissingHostHeader":
		cause, next = "An authenticate action got a request without a Host header (HTTP/1.0), so no redirect URL could be built.", "Clients must send Host."
	case reason == "AuthUserinfoResponseSizeExceeded":
		cause, next = "The IdP's user claims were larger than 11 KB.", "Reduce the claims (scopes) the IdP returns."
	case reason == "AuthTokenEpRequestTimeout" || reason == "AuthUserinfoEpRequestTimeout" || reason == "AuthTokenEpRequestFailed" || reason == "AuthUserinfoEpRequestFailed":
		cause, next = "The load balancer could not get a good answer from the IdP's token or user-info endpoint ("+reason+").", "Check the IdP endpoint URLs, that the ALB's security group allows outbound HTTPS to them, and the IdP's availability."
	case strings.HasPrefix(reason, "Auth"):
		cause, next = "The authenticate action failed: "+reason+" (bad grant code, ID token, state or token response from the IdP, or an internal error).", "Check the authenticate action's IdP settings (client id/secret, endpoints, scope) and the IdP's logs."
	case reason == "AWSALBTGCookieInvalid":
		cause, next = "The weighted target group stickiness cookie AWSALBTG was invalid (e.g. URL-encoded by the client).", "Make clients send AWSALBTG back unmodified."
	case reason == "WeightedTargetGroupsUnhandledException":
		cause, next = "Internal error routing to weighted target groups.", "Retry; contact AWS support with the trace IDs if it persists."
	case reason == "LambdaRequestTooLarge" || reason == "LambdaResponseTooLarge":
		cause, next = "A Lambda target request or response body exceeded 1 MB ("+reason+").", "Keep Lambda target bodies under 1 MB (serve large bodies from S3 or an instance target)."
	case reason == "LambdaUnhandled":
		cause, next = "The Lambda target function threw an unhandled error.", "Check the function's CloudWatch logs at this time."
	case reason == "LambdaThrottling" || reason == "LambdaEC2ThrottledException":
		cause, next = "The Lambda target was throttled.", "Raise the function's reserved/account concurrency."
	case reason == "LambdaInvalidResponse":
		cause, next = "The Lambda target returned a response the load balancer cannot use (wrong JSON shape).", "Return {statusCode, headers, body, isBase64Encoded} from the function."
	case strings.HasPrefix(reason, "Lambda"):
		cause, next = "The Lambda target could not be invoked or failed: "+reason+" (permissions, VPC/ENI, KMS, runtime, package or connection problems).", "Check the function's configuration, its resource policy allowing elasticloadbalancing.amazonaws.com, and its CloudWatch logs."
	case reason == "WAFConnectionError" || reason == "WAFConnectionTimeout" || reason == "WAFResponseReadTimeout" || reason == "WAFServiceError" || reason == "WAFUnhandledException":
		cause, next = "The load balancer could not evaluate the request with AWS WAF ("+reason+") and fails closed with 500.", "Transient WAF problem; enable waf.fail_open.enabled if availability matters more than filtering."
	default:
		return Explanation{}, false
	}
	return Explanation{ID: "ALB-REASON-" + reason, Cause: cause, Next: next, Ref: refALBError}, true
}

// Timing shapes of an ALB line (alb.md §1.11).
const (
	// ShapeNone is "-1 -1 -1": nothing measured.
	ShapeNone = "-1 -1 -1"
	// ShapeNoResponse is "x y -1": request and target times measured, no response.
	ShapeNoResponse = "x y -1"
	// ShapeComplete is "x y z": all three measured.
	ShapeComplete = "x y z"
	// ShapeOther is any other combination.
	ShapeOther = "other"
)

// albStatusExplanations implements alb.md §2.1 for the statuses whose cause
// does not depend on the line's timing shape.
var albStatusExplanations = map[int]Explanation{
	400: {Cause: "The load balancer rejected the request: malformed or not HTTP-compliant, request line or a header over 16 KB (all headers over 64 KB), the client closed before sending the whole body, or a desync-mitigation block.", Next: "See classification_reason for desync blocks; check the client's request size and framing."},
	401: {Cause: "An authenticate action denied the request (OnUnauthenticatedRequest=deny, IdP denial, claims too large, or the 15-minute login timeout).", Next: "Check the listener rule's authenticate action and the IdP."},
	403: {Cause: "AWS WAF on the load balancer blocked the request (actions_executed ends with waf).", Next: "Look up the trace IDs in the WAF logs / sampled requests to find the rule."},
	405: {Cause: "The client used the TRACE method, which the load balancer does not support.", Next: "Nothing to fix on the server; block TRACE at the client/scanner."},
	408: {Cause: "The client sent no data within the idle timeout (TCP keep-alives do not count).", Next: "Client-side; raise idle_timeout.timeout_seconds if clients are legitimately slow to send."},
	413: {Cause: "The request body exceeded 1 MB for a Lambda target.", Next: "Keep Lambda target request bodies under 1 MB."},
	414: {Cause: "The URL or query string was too long.", Next: "Shorten the URL; move data to the body."},
	460: {Cause: "The client closed the connection before the load balancer could respond (the client gave up; nothing was sent). When CloudFront is the client this usually follows its OriginReadTimeout (30 s).", Next: "Check target_processing_time of slow requests on the target; raise the client's (or CloudFront's OriginReadTimeout) timeout or make the target faster."},
	463: {Cause: "The X-Forwarded-For header had more than 30 addresses.", Next: "Find the proxy chain that keeps appending to X-Forwarded-For (a forwarding loop?)."},
	464: {Cause: "The request protocol is incompatible with the target group's protocol version (HTTP/1.1 to an HTTP2/gRPC target group, gRPC to HTTP1, non-POST HTTP/2 to gRPC).", Next: "Match the target group's ProtocolVersion to what clients send."},
	500: {Cause: "Load-balancer-side error: WAF evaluation failed, the IdP endpoints were unreachable, auth claims over 11 KB, a rule transform's rewrite failed, or a deregistering target closed the connection while draining.", Next: "Check error_reason, the WAF and authenticate settings, and whether targets were being deregistered at this time."},
	501: {Cause: "The request had a Transfer-Encoding other than chunked or identity.", Next: "Fix the client's Transfer-Encoding."},
	505: {Cause: "Unexpected HTTP version (e.g. HTTP/2 frames on a connection negotiated as HTTP/1.1).", Next: "Check the client's ALPN/HTTP version handling."},
	561: {Cause: "The authenticate action's IdP returned an error.", Next: "See error_reason and the IdP's logs."},
	0:   {Cause: "HTTP/2 only: the load balancer closed the connection with GOAWAY (10,000 requests on one connection, or a compressed header over 8 KB); the client saw no status.", Next: "Clients must retry on GOAWAY; reduce header sizes."},
}

// ALBShape classifies the three processing times of an ALB line
// (alb.md §1.11); negative values are the logged -1.
func ALBShape(req, target, resp int64) string {
	switch {
	case req < 0 && target < 0 && resp < 0:
		return ShapeNone
	case req >= 0 && target >= 0 && resp < 0:
		return ShapeNoResponse
	case req >= 0 && target >= 0 && resp >= 0:
		return ShapeComplete
	}
	return ShapeOther
}

// albConnectTimeoutWait reports whether time − request_creation_time looks
// like the ALB's fixed 10 s target connect timeout (alb.md §1.11, §2.4:
// OBSERVED "request_creation_time = time − 10 s"). UNCONFIRMED: the ±0.5 s
// tolerance (request processing before the connect attempt) is kumo's choice.
func albConnectTimeoutWait(sec float64) bool { return sec >= 9.5 && sec < 11 }

// explainALB implements alb.md §1.11 and §2.1: the explanation of an ALB
// error line from the load balancer's status, the target's status, the
// error_reason, the actions, whether a target was chosen and the timing
// shape. connectWait is time − request_creation_time.
func explainALB(elbStatus, targetStatus int, reason, actions string, hasTarget bool, shape string, connectWaitSec float64) Explanation {
	if e, ok := albErrorReasonExplanation(reason); ok {
		e.ID = "ALB-" + strconv.Itoa(elbStatus) + "-" + strings.TrimPrefix(e.ID, "ALB-")
		return e
	}
	if targetStatus != 0 {
		cls := "4XX"
		if targetStatus >= 500 {
			cls = "5XX"
		}
		return Explanation{ID: "ALB-TARGET-" + cls, Cause: "The target itself answered " + strconv.Itoa(targetStatus) + " and the load balancer passed it through (counted in HTTPCode_Target_" + cls + "_Count).", Next: "Look at the application's logs on the target for these trace IDs.", Ref: refALBCodes}
	}
	if strings.Contains(actions, "fixed-response") {
		return Explanation{ID: "ALB-FIXED-RESPONSE", Cause: "A listener rule's fixed-response action answered " + strconv.Itoa(elbStatus) + " (no target involved).", Next: "Expected if the request matched no forwarding rule (often scanners hitting the default rule); otherwise add or fix the listener rule that should forward it.", Ref: "alb.md §1.6, §1.11"}
	}
	switch elbStatus {
	case 502:
		switch {
		case !hasTarget:
			return Explanation{ID: "ALB-502-NO-TARGET", Cause: "The load balancer generated 502 without a target address (a Lambda target failure, or a failure before a target was chosen).", Next: "Check error_reason and the Lambda function's logs.", Ref: refALBShape}
		case shape == ShapeNoResponse:
			return Explanation{ID: "ALB-502-TARGET-CLOSED", Cause: "The target closed (FIN or RST) the connection while the request was outstanding: response_processing_time is -1 with the target status \"-\". The usual cause is a target keep-alive timeout shorter than the load balancer's idle timeout (default 60 s), so the target closes an idle connection just as the load balancer reuses it; or the target process crashed.", Next: "Set the target's keep-alive timeout longer than the ALB idle timeout (e.g. Apache KeepAliveTimeout, nginx keepalive_timeout, Node server.keepAliveTimeout > 60 s) and check the target for crashes/restarts.", Ref: refALBShape}
		case shape == ShapeNone:
			return Explanation{ID: "ALB-502-CONNECT", Cause: "The load balancer could not establish a usable connection to the target: TCP RST or ICMP unreachable while connecting, a TLS handshake error (or its 10 s timeout) to an HTTPS target, or the deregistration delay expired with the request in flight.", Next: "Check the target listens on the target group's port and protocol (HTTP vs HTTPS), its security group allows the ALB, and its TLS setup if the target group uses HTTPS.", Ref: refALBShape}
		}
		return Explanation{ID: "ALB-502-BAD-RESPONSE", Cause: "The target sent a response the load balancer could not use: malformed status line or headers, or response headers over 32 KB.", Next: "Fetch the URL from the target directly and check its raw response and header sizes.", Ref: refALBShape}
	case 503:
		if hasTarget {
			return Explanation{ID: "ALB-503-TARGET", Cause: "The load balancer answered 503 after choosing a target (capacity or the target was leaving).", Next: "Check target health and deregistrations at this time.", Ref: refALBShape}
		}
		return Explanation{ID: "ALB-503-NO-TARGETS", Cause: "The matched forward action's target group has no registered targets.", Next: "Register targets in the target group (check the Auto Scaling group / ECS service attached to it): `kumo targets` shows them locally.", Ref: "alb.md §1.11, §2.1, §2.2"}
	case 504:
		if albConnectTimeoutWait(connectWaitSec) {
			return Explanation{ID: "ALB-504-CONNECT-TIMEOUT", Cause: "No TCP connection to the target within the fixed 10 s connect timeout (time − request_creation_time ≈ 10 s).", Next: "Check the target's security group allows the load balancer, the NACLs allow return traffic on 1024–65535, and the target is up.", Ref: refALBShape}
		}
		return Explanation{ID: "ALB-504-TIMEOUT", Cause: "Gateway timeout: either no TCP connection to the target within the 10 s connect timeout, or the target connected but sent nothing before the idle timeout (default 60 s); a target Content-Length larger than its body also waits until the timeout.", Next: "If the wait is ~10 s: security group/NACL/target down. If it equals the idle timeout: the target is too slow — make it faster or raise idle_timeout.timeout_seconds.", Ref: refALBShape}
	}
	if e, ok := albStatusExplanations[elbStatus]; ok {
		e.ID = "ALB-" + strconv.Itoa(elbStatus)
		e.Ref = refALBCodes
		return e
	}
	if strings.Contains(actions, "waf") && elbStatus >= 400 && elbStatus < 500 {
		return Explanation{ID: "ALB-WAF-CUSTOM", Cause: "AWS WAF blocked the request with a custom status " + strconv.Itoa(elbStatus) + ".", Next: "Look up the trace IDs in the WAF logs.", Ref: "alb.md §1.6, §2.1"}
	}
	return Explanation{ID: FallbackID + "-ALB", Cause: "Load-balancer error " + strconv.Itoa(elbStatus) + " of a shape the references do not describe.", Next: "Inspect the sample trace IDs.", Ref: refALBCodes}
}

// healthCheckExplanation implements alb.md §1.13 and §6.3: the reason codes
// of a failed health check.
func healthCheckExplanation(reason string, status int) Explanation {
	var cause, next string
	switch reason {
	case "TimedOut", "RequestTimedOut", "ConnectionTimedOut":
		cause, next = "The health check timed out (no connection or no answer within HealthCheckTimeoutSeconds).", "Check the target is up, listens on the health-check port and its security group allows the load balancer."
	case "ConnectionReset":
		cause, next = "The target reset the health-check connection.", "Check the target listens on the health-check port and protocol and is not crashing."
	case "ResponseCodeMismatch":
		cause, next = "The target answered "+strconv.Itoa(status)+", which the health check's matcher does not accept.", "Fix the health-check path or widen the Matcher (HttpCode) to what the path really returns."
	case "ResponseStringMismatch":
		cause, next = "The response did not contain the expected string.", "Fix the health-check path or the expected string."
	case "TargetError":
		cause, next = "The target answered the health check with a 5xx ("+strconv.Itoa(status)+").", "Check the application's health endpoint and its logs."
	case "InternalError":
		cause, next = "Internal health-check error.", "Transient; contact AWS support if it persists."
	case "GRPCStatusHeaderEmpty", "GRPCUnexpectedStatus":
		cause, next = "The gRPC health check got no grpc-status or an unexpected one ("+reason+").", "Check the gRPC health service and the matcher's GrpcCode."
	default:
		return Explanation{ID: FallbackID + "-HC", Cause: "Failed health check with reason " + reason + ".", Next: "Check the target's health endpoint.", Ref: refALBHC}
	}
	return Explanation{ID: "ALB-HC-" + reason, Cause: cause, Next: next, Ref: refALBHC}
}

// connectionExplanation implements alb.md §1.12: tls_verify_status
// Failed:<code> in a connection log (mutual TLS).
func connectionExplanation(status string) Explanation {
	code := strings.TrimPrefix(status, "Failed:")
	var cause string
	switch code {
	case "ClientCertUntrusted":
		cause = "the client certificate does not chain to the trust store"
	case "ClientCertExpired", "ClientCertNotYetValid":
		cause = "the client certificate is outside its validity period"
	case "ClientCertCrlHit":
		cause = "the client certificate is revoked (CRL hit)"
	case "ClientCertCrlProcessingError":
		cause = "the trust store's CRL could not be processed"
	case "ClientCertMaxChainDepthExceeded", "ClientCertMaxSizeExceeded":
		cause = "the client certificate chain is too deep or too large"
	case "ClientCertTypeUnsupported", "ClientCertInvalid", "ClientCertPurposeInvalid", "ClientCertIncompatible", "ClientCertRejected":
		cause = "the client certificate is invalid, of an unsupported type or purpose, or rejected (" + code + ")"
	case "UnmappedConnectionError":
		return Explanation{ID: "ALB-CONN-" + code, Cause: "The connection failed without a specific code, typically during the TLS handshake: the client aborted it — for example CloudFront rejecting the ALB's certificate because it does not cover the origin domain — so no request was ever logged in the access log.", Next: "If the client is CloudFront, look for OriginConnectError at the same time in the CloudFront log and check the origin domain against the listener certificate: `kumo probe https://<origin-domain>`.", Ref: refALBConn}
	default:
		return Explanation{ID: FallbackID + "-CONN", Cause: "Mutual-TLS verification failed: " + status + ".", Next: "Check the client certificate and the trust store.", Ref: refALBConn}
	}
	return Explanation{ID: "ALB-CONN-" + code, Cause: "Mutual-TLS verification failed: " + cause + "; the connection was closed before any request.", Next: "Check the client's certificate against the listener's trust store (CA bundle, CRLs, validity).", Ref: refALBConn}
}
