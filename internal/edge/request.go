package edge

import (
	"context"
	"fmt"
	"net"
	"net/http"
	"net/url"
	"strconv"
	"strings"

	"github.com/kumo-dev/kumo/internal/accesslog"
)

// removedUnlessForwarded are the viewer headers CloudFront removes when they
// are not configured for forwarding (cloudfront.md §3.4). Authorization is
// handled by authorizationKept.
var removedUnlessForwarded = map[string]bool{
	"Accept": true, "Accept-Charset": true, "Accept-Language": true, "Expect": true,
	"Proxy-Authenticate": true, "Proxy-Authorization": true, "Referer": true,
	"X-Forwarded-Proto": true, "X-Http-Method-Override": true, "X-Real-Ip": true,
}

// alwaysForwarded are the viewer headers CloudFront forwards unchanged
// whatever the policy (cloudfront.md §3.4).
var alwaysForwarded = map[string]bool{
	"Cache-Control": true, "Content-Md5": true, "Content-Type": true, "Date": true, "From": true,
	"If-Match": true, "If-Modified-Since": true, "If-None-Match": true, "If-Range": true,
	"If-Unmodified-Since": true, "Max-Forwards": true, "Origin": true, "Pragma": true,
	"Range": true, "Request-Range": true, "Warning": true,
}

// handledSeparately are viewer headers originRequestHeader sets itself.
var handledSeparately = map[string]bool{
	"Host": true, "Connection": true, "Keep-Alive": true, "Proxy-Connection": true, "Te": true,
	"Trailer": true, "Transfer-Encoding": true, "Upgrade": true, "Content-Length": true,
	"Cookie": true, "User-Agent": true, "X-Forwarded-For": true, "Via": true,
	"Accept-Encoding": true, "X-Amz-Cf-Id": true,
}

// originRequest builds the request to the origin (cloudfront.md §3.3-§3.5):
// HTTP/1.1, the origin's scheme and port, OriginPath prepended, the selected
// query strings, and the headers of originRequestHeader.
func (t *txn) originRequest(ctx context.Context, o *origin, p string) (*http.Request, error) {
	scheme, port := o.portFor(t.https)
	name := o.m.DomainName
	if t.beh.forwardHost && scheme == "https" {
		name = t.host // SNI and certificate name = the forwarded Host (§2.2)
	}
	hostPort := net.JoinHostPort(name, strconv.Itoa(port))
	// The raw (escaped) viewer path is sent as is (§5.3: normalisation is
	// for matching only); Opaque keeps it byte for byte.
	opaque := o.m.OriginPath + p
	if strings.HasPrefix(opaque, "//") {
		opaque = "//" + hostPort + opaque
	}
	u := &url.URL{Scheme: scheme, Host: hostPort, Opaque: opaque,
		RawQuery: selectQuery(t.r.URL.RawQuery, t.beh.fwdQuery)}
	req := &http.Request{
		Method:     t.r.Method,
		URL:        u,
		Proto:      "HTTP/1.1",
		ProtoMajor: 1,
		ProtoMinor: 1,
		Header:     t.originRequestHeader(o),
		Host:       o.m.DomainName,
	}
	if t.beh.forwardHost {
		req.Host = t.host
	}
	if t.r.ContentLength != 0 && t.r.Body != nil && t.r.Body != http.NoBody {
		t.reqBody = &countingReader{rc: t.r.Body}
		req.Body = t.reqBody
		req.ContentLength = t.r.ContentLength
		if t.r.ContentLength < 0 {
			req.ContentLength = -1
		}
	}
	return req.WithContext(ctx), nil
}

// authorizationKept implements the Authorization rule of cloudfront.md §3.4:
// removed for GET and HEAD (and OPTIONS when OPTIONS is cached) unless the
// cache key includes it — a cache policy's headers or legacy forwarded
// headers; an origin request policy can never forward it, not even "all
// viewer headers", so that a cached response never answers another user's
// credentials (AWS Knowledge Center "cloudfront-authorization-header"). Other
// methods keep it.
func (t *txn) authorizationKept() bool {
	if t.beh.cp.headers.has("Authorization") || (t.beh.legacy && t.beh.fwdHeaders.has("Authorization")) {
		return true
	}
	switch t.r.Method {
	case http.MethodGet, http.MethodHead:
		return false
	case http.MethodOptions:
		return !t.beh.cached[http.MethodOptions]
	}
	return true
}

// originRequestHeader implements cloudfront.md §3.4 and §3.5: which viewer
// headers reach the origin, and what CloudFront replaces and adds.
func (t *txn) originRequestHeader(o *origin) http.Header {
	in := t.r.Header
	b := t.beh
	out := make(http.Header, len(in)+8)
	var connTokens map[string]bool
	for _, v := range in["Connection"] {
		for tok := range strings.SplitSeq(v, ",") {
			if connTokens == nil {
				connTokens = map[string]bool{}
			}
			connTokens[http.CanonicalHeaderKey(strings.TrimSpace(tok))] = true
		}
	}
	for k, v := range in {
		switch {
		case handledSeparately[k] || connTokens[k]:
			continue
		case k == "Authorization":
			if !t.authorizationKept() {
				continue
			}
		case strings.HasPrefix(k, "X-Edge-"), strings.HasPrefix(k, "Cloudfront-"):
			if !b.fwdHeaders.has(k) || strings.HasPrefix(k, "Cloudfront-") {
				continue
			}
		case b.fwdHeaders.has(k), alwaysForwarded[k]:
		case removedUnlessForwarded[k]:
			continue
		case !b.legacy:
			continue // with a cache policy, unlisted headers are not forwarded
		}
		out[k] = v
	}
	if b.fwdHeaders.has("User-Agent") && len(in["User-Agent"]) > 0 {
		out["User-Agent"] = in["User-Agent"]
	} else {
		out["User-Agent"] = []string{"Amazon CloudFront"}
	}
	switch {
	case b.normalizeAE:
		ae := normalizeAcceptEncoding(in["Accept-Encoding"], b.cp.gzip, b.cp.br, t.r.ProtoMajor, t.r.ProtoMinor)
		if ae == "" {
			ae = "identity"
		}
		out["Accept-Encoding"] = []string{ae}
	case len(in["Accept-Encoding"]) > 0 && (b.legacy || b.fwdHeaders.has("Accept-Encoding")):
		out["Accept-Encoding"] = in["Accept-Encoding"]
	}
	if c := selectCookies(t.r, b.fwdCookies); c != "" {
		out["Cookie"] = []string{c}
	}
	out["Via"] = []string{originVia(in.Values("Via"), t.r.ProtoMajor, t.r.ProtoMinor, t.e.viaHost)}
	out["X-Forwarded-For"] = []string{forwardedFor(in.Values("X-Forwarded-For"), t.clientIP())}
	out["X-Amz-Cf-Id"] = []string{t.requestID()}
	out["Connection"] = []string{"Keep-Alive"}
	if b.cloudFrontHeaders.mode != selectNone {
		t.addCloudFrontHeaders(out)
	}
	for _, ch := range o.m.CustomHeaders {
		out[http.CanonicalHeaderKey(ch.Name)] = []string{ch.Value}
	}
	return out
}

// originVia implements the Via rule of cloudfront.md §3.4: the viewer's HTTP
// version ("1.1", "2.0") and this edge's host; a viewer Via is kept with
// CloudFront's entry appended after ", " (UNCONFIRMED format).
func originVia(viewer []string, major, minor int, viaHost string) string {
	own := strconv.Itoa(major) + "." + strconv.Itoa(minor) + " " + viaHost + " (CloudFront)"
	if len(viewer) == 0 {
		return own
	}
	return strings.Join(viewer, ", ") + ", " + own
}

// forwardedFor implements cloudfront.md §3.5: the viewer's X-Forwarded-For
// with the viewer's TCP address appended after a comma without a space.
func forwardedFor(viewer []string, ip string) string {
	if len(viewer) == 0 {
		return ip
	}
	return strings.Join(viewer, ",") + "," + ip
}

// addCloudFrontHeaders adds the CloudFront-* headers the behavior selects
// (all of AllViewerAndCloudFrontHeaders-2022-06, the listed ones of an
// allViewerAndWhitelistCloudFront policy or of a cache policy's key) that
// kumo can know (§3.4, §3.6).
func (t *txn) addCloudFrontHeaders(out http.Header) {
	sel := t.beh.cloudFrontHeaders
	for _, name := range cloudFrontHeaderNames {
		if !sel.has(name) {
			continue
		}
		if v, ok := t.cloudFrontHeaderValue(name); ok {
			out[name] = []string{v}
		}
	}
}

// cloudFrontHeaderNames are the CloudFront-generated headers kumo knows:
// Forwarded-Proto, Viewer-Address, Viewer-Http-Version and Viewer-TLS. The
// geo and device headers need data kumo does not have and are not sent.
var cloudFrontHeaderNames = []string{"Cloudfront-Forwarded-Proto", "Cloudfront-Viewer-Address", "Cloudfront-Viewer-Http-Version", "Cloudfront-Viewer-Tls"}

// cloudFrontHeaderValue is the value CloudFront generates for the
// CloudFront-* header name (canonical form), for the origin request and the
// cache key (§3.4); ok is false for headers kumo cannot generate.
func (t *txn) cloudFrontHeaderValue(name string) (string, bool) {
	switch name {
	case "Cloudfront-Forwarded-Proto":
		if t.https {
			return "https", true
		}
		return "http", true
	case "Cloudfront-Viewer-Address":
		ip, port := t.clientAddr()
		return net.JoinHostPort(ip, strconv.Itoa(port)), true
	case "Cloudfront-Viewer-Http-Version":
		return fmt.Sprintf("%d.%d", t.r.ProtoMajor, t.r.ProtoMinor), true
	case "Cloudfront-Viewer-Tls":
		if cs := t.r.TLS; cs != nil {
			hs := "fullHandshake"
			if cs.DidResume {
				hs = "sessionResumed"
			}
			return accesslog.ProtocolName(cs.Version) + ":" + accesslog.CipherName(cs.CipherSuite) + ":" + hs, true
		}
	}
	return "", false
}

func (t *txn) clientAddr() (string, int) {
	host, port, err := net.SplitHostPort(t.r.RemoteAddr)
	if err != nil {
		return t.r.RemoteAddr, 0
	}
	p, _ := strconv.Atoi(port)
	return host, p
}

func (t *txn) clientIP() string {
	ip, _ := t.clientAddr()
	return ip
}
