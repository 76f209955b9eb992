package stack

import (
	"sort"
	"strings"

	"github.com/kumo-dev/kumo/internal/model"
)

// Properties kumo accepts, so that real templates load, but does not
// emulate, each with what happens instead. `kumo up` prints the ones a stack
// sets, once, at start-up; README.md lists them all.
var (
	unemulatedDistribution = map[string]string{
		"Restrictions":                  "geo restriction is not applied: kumo has no viewer geolocation, so every viewer is served",
		"WebACLId":                      "no AWS WAF: requests are not filtered",
		"PriceClass":                    "no effect: kumo is a single edge location",
		"IPV6Enabled":                   "no effect: viewers reach kumo's own listeners",
		"ContinuousDeploymentPolicyId":  "no continuous deployment: the primary configuration serves every request",
		"Staging":                       "no staging distribution: this configuration serves every request",
		"AnycastIpListId":               "no Anycast static IPs: viewers reach kumo's own listeners",
		"ConnectionMode":                "no effect: kumo serves one tenant",
		"ConnectionFunctionAssociation": "connection functions are not run",
		"TenantConfig":                  "no distribution tenants: this configuration serves every request",
		"ViewerMtlsConfig":              "viewer mutual TLS is not enforced",
	}
	unemulatedOrigin = map[string]string{
		"OriginShield":              "no Origin Shield layer: the edge fetches from the origin itself (never OriginShieldHit)",
		"ResponseCompletionTimeout": "not enforced: only ConnectionTimeout and OriginReadTimeout apply",
		"OriginAccessControlId":     "requests to the origin are not signed (SigV4)",
	}
	unemulatedCustomOrigin = map[string]string{
		"IpAddressType": "kumo dials whatever address the origin name resolves to",
	}
	unemulatedBehavior = map[string]string{
		"SmoothStreaming": "Microsoft Smooth Streaming is not emulated: requests are served as ordinary objects",
		"GrpcConfig":      "gRPC is not emulated at the edge: requests are proxied as ordinary HTTP",
	}
)

// noteUnemulated records each property of o listed in props that is set to
// something that would change behaviour on AWS.
func (o obj) noteUnemulated(props map[string]string) {
	keys := make([]string, 0, len(props))
	for k := range props {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for _, k := range keys {
		if v := o.n.get(k); v != nil && !isErr(v) && meaningful(v) {
			o.b.unemulated = append(o.b.unemulated, model.UnemulatedProperty{
				File: o.b.file, Line: o.line(k), Path: o.p(k), Effect: props[k],
			})
		}
	}
}

// meaningful reports whether a property value asks for something: not
// empty, false, "none", an empty list, a disabled block ({Enabled: false})
// or a geo restriction of type none.
func meaningful(v *node) bool {
	switch v.kind {
	case kNull:
		return false
	case kString:
		s := strings.ToLower(v.str)
		return s != "" && s != "none" && s != "false"
	case kBool:
		return v.str == "true"
	case kSeq:
		return len(v.item) > 0
	case kMap:
		if e := v.get("Enabled"); e != nil && !meaningful(e) {
			return false
		}
		if g := v.get("GeoRestriction"); g != nil {
			if t := g.get("RestrictionType"); t != nil {
				return meaningful(t)
			}
		}
		return len(v.keys) > 0
	}
	return true
}
