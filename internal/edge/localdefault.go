package edge

import (
	"net/netip"
	"strings"
)

// localDefaultHost reports whether a viewer host (lowercase, port removed;
// an IPv6 literal may keep its brackets) is a loopback name that the
// Metadata.Kumo.LocalDefault distribution takes: an address in 127.0.0.0/8,
// ::1, or localhost. This is a kumo extension with no CloudFront
// counterpart (CloudFront answers a Host it does not know with 403); it only
// applies to names that can never be a distribution domain or alias, so it
// never changes how a modeled name is routed.
func localDefaultHost(host string) bool {
	if host == "localhost" {
		return true
	}
	host = strings.TrimSuffix(strings.TrimPrefix(host, "["), "]")
	ip, err := netip.ParseAddr(host)
	return err == nil && ip.Unmap().IsLoopback()
}
