package alb

import (
	"net"
	"net/http"
	"net/netip"
	"strconv"
	"strings"

	"github.com/kumo-dev/kumo/internal/accesslog"
)

// applyRequestAttributes applies the routing.http.* attributes of alb.md
// §4.1/§6.9 to the request going to the target: the client port in
// X-Forwarded-For, dropping invalid header fields, and the TLS version and
// cipher headers.
func (l *listener) applyRequestAttributes(out, in *http.Request, peer netip.AddrPort) {
	o := &l.lb.ops.opts
	passUpgrade(out, in)
	if o.xffClientPort && l.lb.xffMode == "append" {
		out.Header["X-Forwarded-For"] = []string{forwardedForWithPort(in.Header["X-Forwarded-For"], peer)}
	}
	if o.dropInvalidFields {
		dropInvalidHeaderFields(out.Header)
	}
	if o.tlsHeaders && in.TLS != nil {
		out.Header["X-Amzn-Tls-Version"] = []string{accesslog.ProtocolName(in.TLS.Version)}
		out.Header["X-Amzn-Tls-Cipher-Suite"] = []string{accesslog.CipherName(in.TLS.CipherSuite)}
	}
}

// forwardedForWithPort implements routing.http.xff_client_port.enabled in
// append mode (alb.md §4.1): the appended entry is ip:port, an IPv6
// address bracketed ([2001:db8::1]:8080).
func forwardedForWithPort(prior []string, peer netip.AddrPort) string {
	entry := net.JoinHostPort(peer.Addr().Unmap().String(), strconv.Itoa(int(peer.Port())))
	if len(prior) == 0 {
		return entry
	}
	return strings.Join(prior, ", ") + ", " + entry
}

// dropInvalidHeaderFields implements
// routing.http.drop_invalid_header_fields.enabled (alb.md §4.1): header
// names that do not match [-A-Za-z0-9]+ are removed.
func dropInvalidHeaderFields(h http.Header) {
	for k := range h {
		if !validHeaderFieldName(k) {
			delete(h, k)
		}
	}
}

func validHeaderFieldName(k string) bool {
	if k == "" {
		return false
	}
	for i := 0; i < len(k); i++ {
		c := k[i]
		if !(c == '-' || c >= '0' && c <= '9' || c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z') {
			return false
		}
	}
	return true
}
