package accesslog

import "time"

// CloudFrontRecord is one line of a CloudFront standard (legacy, v1.0) access
// log: the 33 tab-separated fields, in order. Values are raw (unescaped); the
// writer escapes them as CloudFront does and writes "-" for empty strings.
type CloudFrontRecord struct {
	// Time is when the edge finished responding (fields 1 date and 2 time, UTC).
	Time time.Time
	// EdgeLocation is the POP code (NRT57-P3), also sent as X-Amz-Cf-Pop.
	EdgeLocation string
	// SCBytes is bytes sent to the viewer, headers included.
	SCBytes int64
	// ClientIP is the viewer's TCP peer address.
	ClientIP string
	Method   string
	// Host is cs(Host): always the distribution's own cloudfront.net domain.
	Host string
	// URIStem is the path without the query.
	URIStem string
	// Status is the status sent; 0 is logged as 000 (viewer went away first).
	Status    int
	Referer   string
	UserAgent string
	// URIQuery is the query string without "?".
	URIQuery string
	// Cookie is the Cookie header when cookie logging is on.
	Cookie string
	// ResultType is x-edge-result-type (Hit, RefreshHit, Miss, Error, Redirect, ...).
	ResultType string
	// RequestID is the 56-character id, also sent as X-Amz-Cf-Id.
	RequestID string
	// HostHeader is the viewer's Host header.
	HostHeader string
	// Protocol is http, https, ws or wss.
	Protocol string
	// CSBytes is bytes received from the viewer, headers included; -1 is "-".
	CSBytes int64
	// TimeTaken is request received to last byte written.
	TimeTaken time.Duration
	// ForwardedFor is the viewer's X-Forwarded-For, "" if none.
	ForwardedFor string
	// SSLProtocol and SSLCipher describe the viewer TLS session; "" for http.
	SSLProtocol string
	SSLCipher   string
	// ResponseResultType is x-edge-response-result-type.
	ResponseResultType string
	// ProtocolVersion is HTTP/1.0, HTTP/1.1, HTTP/2.0 or HTTP/3.0.
	ProtocolVersion string
	// FLEStatus is the field-level-encryption status, "" if not configured.
	FLEStatus string
	// FLEEncryptedFields is the FLE field count; -1 is "-".
	FLEEncryptedFields int
	// ClientPort is the viewer's source port.
	ClientPort int
	// TimeToFirstByte is request received to first response byte written.
	TimeToFirstByte time.Duration
	// DetailedResultType is x-edge-detailed-result-type (OriginConnectError, ...).
	DetailedResultType string
	// ContentType is the response Content-Type, "" if none.
	ContentType string
	// ContentLen is the response Content-Length; -1 is "-" (chunked).
	ContentLen int64
	// RangeStart and RangeEnd come from the response Content-Range; -1 is "-".
	RangeStart int64
	RangeEnd   int64
}

// Rule-priority values of ALBRecord.MatchedRulePriority that are not a priority.
const (
	// RulePriorityDefault is the default rule (logged as 0).
	RulePriorityDefault = 0
	// RulePriorityEvalError is an error during rule evaluation (logged as -1).
	RulePriorityEvalError = -1
	// RulePriorityNone is any other error (logged as "-").
	RulePriorityNone = -2
)

// ALBRecord is one line of an Application Load Balancer access log, in the
// current field order through conn_trace_id. Values are raw; the writer
// quotes the quoted fields and writes "-" for empty strings.
type ALBRecord struct {
	// Type is http, https, h2, grpcs, ws or wss.
	Type string
	// Time is when the load balancer generated the response.
	Time time.Time
	// ELB is the resource id app/<name>/<16 hex>.
	ELB string
	// Client is the client ip:port (IPv6 without brackets).
	Client string
	// Target is the target ip:port as registered, "" if never dispatched.
	Target string
	// RequestProcessingTime, TargetProcessingTime and ResponseProcessingTime
	// are the three timings; a negative value is logged as -1.
	RequestProcessingTime  time.Duration
	TargetProcessingTime   time.Duration
	ResponseProcessingTime time.Duration
	// ELBStatus is the status the load balancer returned.
	ELBStatus int
	// TargetStatus is the target's status; 0 is "-".
	TargetStatus  int
	ReceivedBytes int64
	SentBytes     int64
	// Request is "METHOD scheme://host:port/uri HTTP/x.y".
	Request     string
	UserAgent   string
	SSLCipher   string
	SSLProtocol string
	// TargetGroupARN is "" when no forward happened.
	TargetGroupARN string
	// TraceID is the X-Amzn-Trace-Id value sent to the target.
	TraceID string
	// DomainName is the SNI the client sent.
	DomainName string
	// ChosenCertARN is the presented certificate's ARN, or "session-reused".
	ChosenCertARN string
	// MatchedRulePriority is 1-50000, or one of the RulePriority constants.
	MatchedRulePriority int
	// RequestCreationTime is when the load balancer received the request.
	RequestCreationTime time.Time
	// ActionsExecuted is the comma-separated action list (forward, redirect, ...).
	ActionsExecuted string
	RedirectURL     string
	ErrorReason     string
	// TargetPortList and TargetStatusCodeList mirror Target and TargetStatus.
	TargetPortList       string
	TargetStatusCodeList string
	// Classification and ClassificationReason are the desync classification.
	Classification       string
	ClassificationReason string
	// ConnTraceID is TID_ + 32 lowercase hex, one per client connection.
	ConnTraceID string
	// TransformedHost is the Host after a host-header-rewrite transform, ""
	// when none applied (alb.md §1.3 #31, §5.4).
	TransformedHost string
	// TransformedURI is the URI after a url-rewrite transform, "" when none
	// applied (alb.md §1.3 #32).
	TransformedURI string
	// RequestTransformStatus is the status of the rule transforms, "" when
	// none applied (alb.md §1.3 #33).
	RequestTransformStatus string
	// Extra holds, as written (quotes included), the fields a parsed line had
	// after request_transform_status (node IP, placeholders; alb.md §1.2–1.3
	// #34–36). The writer never writes them.
	Extra []string
}
