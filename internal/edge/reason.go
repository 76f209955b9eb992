package edge

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"net"
	"strings"
	"syscall"

	"github.com/kumo-dev/kumo/internal/dns"
)

// Reason names one way a request fails at the edge: an origin fetch that
// could not complete, or a viewer request the edge refuses. Each reason maps
// (in the reasons table) to the status, the error-page message and the
// x-edge-detailed-result-type CloudFront uses for it.
type Reason int

// Failure reasons. ReasonNone is success.
const (
	ReasonNone Reason = iota

	// Origin fetch failures (cloudfront.md §2.4).

	// ReasonOriginDNS: the origin name does not resolve (NXDOMAIN or resolver failure).
	ReasonOriginDNS
	// ReasonOriginRefused: TCP connection refused, or nothing listens on the
	// modeled name's port (dns.ErrNoListener).
	ReasonOriginRefused
	// ReasonOriginConnectTimeout: every connection attempt timed out.
	ReasonOriginConnectTimeout
	// ReasonOriginTLSNameMismatch: the origin certificate matches neither the
	// origin domain nor the forwarded Host (§2.3 rule 4).
	ReasonOriginTLSNameMismatch
	// ReasonOriginTLSUntrusted: the chain does not lead to a trusted root
	// (self-signed, private CA, missing intermediate; §2.3 rules 1-2).
	ReasonOriginTLSUntrusted
	// ReasonOriginTLSExpired: the certificate is expired or not yet valid (§2.3 rule 3).
	ReasonOriginTLSExpired
	// ReasonOriginTLSProtocol: no TLS version in common with OriginSSLProtocols.
	ReasonOriginTLSProtocol
	// ReasonOriginTLSHandshake: any other TLS handshake failure (no common
	// cipher, client certificate demanded, connection reset mid-handshake).
	ReasonOriginTLSHandshake
	// ReasonOriginReadTimeout: no response byte within OriginReadTimeout on
	// every attempt, or a gap between response reads exceeded it.
	ReasonOriginReadTimeout
	// ReasonOriginClosed: the origin closed the connection before a complete
	// response, or mid-body.
	ReasonOriginClosed
	// ReasonOriginInvalidResponse: the origin's response is not valid HTTP/1.1.
	ReasonOriginInvalidResponse
	// ReasonOriginHeaderTooBig: the origin's response headers exceed 32,768 bytes.
	ReasonOriginHeaderTooBig
	// ReasonViewerGone: the viewer went away before the response was sent.
	ReasonViewerGone

	// Viewer request refusals (cloudfront.md §5).

	// ReasonUnknownHost: the Host matches no distribution (§5.6).
	ReasonUnknownHost
	// ReasonDistributionDisabled: the Host's distribution is disabled (§5.6).
	ReasonDistributionDisabled
	// ReasonHTTPSOnly: plain HTTP to an https-only behavior (§5.1).
	ReasonHTTPSOnly
	// ReasonRedirectOldHTTP: a non-GET/HEAD method below HTTP/1.1 on a
	// redirect-to-https behavior (§5.1).
	ReasonRedirectOldHTTP
	// ReasonMethodNotAllowed: the method is not in AllowedMethods (§5.2).
	ReasonMethodNotAllowed
	// ReasonGETWithBody: a GET request with a body (§3.4).
	ReasonGETWithBody
	// ReasonURITooLong: the URL exceeds 8,192 bytes (§5.9).
	ReasonURITooLong
	// ReasonRequestHeaderTooLarge: the request line and headers exceed
	// 32,768 bytes (§5.9).
	ReasonRequestHeaderTooLarge

	// ReasonViewerHungUpRequest: the viewer stopped while sending its
	// request body (§1.6 ClientHungUpRequest).
	ReasonViewerHungUpRequest
	// ReasonOriginContentRange: the origin's 206 has a Content-Length that
	// disagrees with its Content-Range (§1.6 OriginContentRangeLengthError).
	ReasonOriginContentRange

	reasonCount
)

// Error-page messages (cloudfront.md §5.12).
const (
	msgConnect       = "CloudFront wasn't able to connect to the origin."
	msgDNS           = "CloudFront wasn't able to resolve the origin domain name."
	msgComm          = "CloudFront attempted to establish a connection with the origin, but either the attempt failed or the origin closed the connection."
	msgMethod        = "This distribution is not configured to allow the HTTP request method that was used for this request. The distribution supports only cachable requests."
	msgBadRequest    = "Bad request."
	msgDisabledDistr = "The distribution is disabled."
)

// reasonInfo is one row of the reasons table.
type reasonInfo struct {
	name     string
	status   int
	message  string // error-page message; "" means no page (ReasonViewerGone)
	detailed string // x-edge-detailed-result-type
}

// reasons is the one table from failure reason to status, error-page message
// and detailed result type (cloudfront.md §1.6, §2.4, §5.1, §5.2, §5.6,
// §5.12). Rows marked UNCONFIRMED are kumo's choices where the reference has
// no evidence.
var reasons = [reasonCount]reasonInfo{
	ReasonNone:                 {"None", 200, "", ""},
	ReasonOriginDNS:            {"OriginDNS", 502, msgDNS, "OriginDnsError"},
	ReasonOriginRefused:        {"OriginRefused", 502, msgConnect, "OriginConnectError"},
	ReasonOriginConnectTimeout: {"OriginConnectTimeout", 504, msgComm, "OriginCommError"},
	// UNCONFIRMED (§2.4): TLS failures use the seed's 951-byte
	// "wasn't able to connect" page and OriginConnectError.
	ReasonOriginTLSNameMismatch: {"OriginTLSNameMismatch", 502, msgConnect, "OriginConnectError"},
	ReasonOriginTLSUntrusted:    {"OriginTLSUntrusted", 502, msgConnect, "OriginConnectError"},
	ReasonOriginTLSExpired:      {"OriginTLSExpired", 502, msgConnect, "OriginConnectError"},
	ReasonOriginTLSProtocol:     {"OriginTLSProtocol", 502, msgConnect, "OriginConnectError"},
	ReasonOriginTLSHandshake:    {"OriginTLSHandshake", 502, msgConnect, "OriginConnectError"},
	ReasonOriginReadTimeout:     {"OriginReadTimeout", 504, msgComm, "OriginCommError"},
	// UNCONFIRMED (§2.4): a connection closed before a response is a 502
	// with the "attempted ... closed the connection" page, OriginReadError.
	ReasonOriginClosed: {"OriginClosed", 502, msgComm, "OriginReadError"},
	// UNCONFIRMED (§2.4): invalid origin responses and oversized headers are
	// 502 with the "attempted ..." page.
	ReasonOriginInvalidResponse: {"OriginInvalidResponse", 502, msgComm, "OriginInvalidResponseError"},
	ReasonOriginHeaderTooBig:    {"OriginHeaderTooBig", 502, msgComm, "OriginHeaderTooBigError"},
	// UNCONFIRMED (§1.6): a viewer gone before the response is logged 000
	// Error/Error with ClientCommError.
	ReasonViewerGone: {"ViewerGone", 0, "", "ClientCommError"},
	// UNCONFIRMED (§5.6): unknown Host is 403 "Bad request." InvalidRequest.
	ReasonUnknownHost: {"UnknownHost", 403, msgBadRequest, "InvalidRequest"},
	// UNCONFIRMED (§5.6): disabled distribution is 403 "The distribution is disabled." InvalidRequest.
	ReasonDistributionDisabled: {"DistributionDisabled", 403, msgDisabledDistr, "InvalidRequest"},
	// UNCONFIRMED (§5.1): https-only over HTTP is 403 "Bad request." InvalidRequest.
	ReasonHTTPSOnly: {"HTTPSOnly", 403, msgBadRequest, "InvalidRequest"},
	// UNCONFIRMED (§5.1): message and detailed type of the HTTP/1.0 403.
	ReasonRedirectOldHTTP:  {"RedirectOldHTTP", 403, msgBadRequest, "InvalidRequest"},
	ReasonMethodNotAllowed: {"MethodNotAllowed", 403, msgMethod, "InvalidRequestMethod"},
	// UNCONFIRMED (§3.4): GET with a body is 403 "Bad request." InvalidRequest.
	ReasonGETWithBody: {"GETWithBody", 403, msgBadRequest, "InvalidRequest"},
	// UNCONFIRMED (§5.9): the page message and detailed type of the 414
	// and 494 answers (they are not logged).
	ReasonURITooLong:            {"URITooLong", 414, msgBadRequest, "InvalidRequest"},
	ReasonRequestHeaderTooLarge: {"RequestHeaderTooLarge", 494, msgBadRequest, "InvalidRequestHeader"},
	// UNCONFIRMED (§1.6): like ReasonViewerGone, logged 000 (no response
	// can reach the viewer).
	ReasonViewerHungUpRequest: {"ViewerHungUpRequest", 0, "", "ClientHungUpRequest"},
	// UNCONFIRMED (§1.6): status and page of a Content-Range mismatch.
	ReasonOriginContentRange: {"OriginContentRange", 502, msgComm, "OriginContentRangeLengthError"},
}

func (r Reason) info() reasonInfo {
	if r < 0 || r >= reasonCount {
		return reasonInfo{name: fmt.Sprintf("Reason(%d)", int(r)), status: 502, message: msgConnect, detailed: "Error"}
	}
	return reasons[r]
}

// String is the reason's name (OriginTLSNameMismatch, ...).
func (r Reason) String() string { return r.info().name }

// Status is the HTTP status the viewer gets (0 for ReasonViewerGone).
func (r Reason) Status() int { return r.info().status }

// Message is the error-page message (the line after the <HR> of §5.12).
func (r Reason) Message() string { return r.info().message }

// DetailedResultType is the log's x-edge-detailed-result-type.
func (r Reason) DetailedResultType() string { return r.info().detailed }

// FetchError is an origin fetch failure: a reason and the underlying error.
type FetchError struct {
	Reason Reason
	// Detail is a human explanation (e.g. the certificate's names against
	// the expected name); "" if Err says it all.
	Detail string
	Err    error
}

func (e *FetchError) Error() string {
	if e.Detail != "" {
		return fmt.Sprintf("%s: %s: %v", e.Reason, e.Detail, e.Err)
	}
	return fmt.Sprintf("%s: %v", e.Reason, e.Err)
}

func (e *FetchError) Unwrap() error { return e.Err }

// errReadTimeout is the cancellation cause of a fetch whose origin stayed
// silent for OriginReadTimeout.
var errReadTimeout = errors.New("origin read timeout")

// Classify names the reason an origin fetch (or a dial, or a handshake)
// failed. Errors produced by the edge carry their reason; other errors are
// classified by kind. nil is ReasonNone.
func Classify(err error) Reason {
	if err == nil {
		return ReasonNone
	}
	var fe *FetchError
	if errors.As(err, &fe) {
		return fe.Reason
	}
	switch {
	case errors.Is(err, errReadTimeout):
		return ReasonOriginReadTimeout
	case errors.Is(err, dns.ErrNotFound), errors.Is(err, dns.ErrLookupFailed):
		return ReasonOriginDNS
	case errors.Is(err, dns.ErrNoListener), errors.Is(err, syscall.ECONNREFUSED):
		return ReasonOriginRefused
	case errors.Is(err, context.Canceled):
		return ReasonViewerGone
	}
	var dnsErr *net.DNSError
	if errors.As(err, &dnsErr) {
		return ReasonOriginDNS
	}
	if r := classifyTLS(err); r != ReasonNone {
		return r
	}
	var ne net.Error
	if errors.As(err, &ne) && ne.Timeout() {
		return ReasonOriginConnectTimeout
	}
	msg := err.Error()
	switch {
	case strings.Contains(msg, "server response headers exceeded"):
		return ReasonOriginHeaderTooBig
	case strings.Contains(msg, "malformed HTTP"), strings.Contains(msg, "bad Content-Length"):
		return ReasonOriginInvalidResponse
	}
	return ReasonOriginClosed
}

// classifyTLS names certificate and handshake failures, or ReasonNone.
func classifyTLS(err error) Reason {
	var hostErr x509.HostnameError
	var invalid x509.CertificateInvalidError
	var unknown x509.UnknownAuthorityError
	var alert tls.AlertError
	var verr *tls.CertificateVerificationError
	switch {
	case errors.As(err, &hostErr):
		return ReasonOriginTLSNameMismatch
	case errors.As(err, &invalid):
		if invalid.Reason == x509.Expired {
			return ReasonOriginTLSExpired
		}
		return ReasonOriginTLSUntrusted
	case errors.As(err, &unknown):
		return ReasonOriginTLSUntrusted
	case errors.As(err, &verr):
		return ReasonOriginTLSUntrusted
	case errors.As(err, &alert):
		if alert == 70 { // protocol_version
			return ReasonOriginTLSProtocol
		}
		return ReasonOriginTLSHandshake
	}
	msg := err.Error()
	switch {
	case strings.Contains(msg, "protocol version"):
		return ReasonOriginTLSProtocol
	case strings.HasPrefix(msg, "tls:"), strings.Contains(msg, " tls: "):
		return ReasonOriginTLSHandshake
	}
	return ReasonNone
}
