package edge

import (
	"fmt"
	"net/http"

	"github.com/kumo-dev/kumo/internal/model"
)

// Forwarding is what a cache behavior puts in the cache key and sends to its
// origin, resolved by the same rules the edge serves with (cloudfront.md
// §3.3–3.6, §4.5). `kumo doctor` reads it, so that the doctor and the edge
// never disagree about a policy.
type Forwarding struct {
	b   *behavior
	orp originRequestPolicy
}

// BehaviorForwarding resolves cb's cache and origin request policies (or
// its legacy ForwardedValues).
func BehaviorForwarding(cb *model.CacheBehavior) (Forwarding, error) {
	b, err := resolveBehavior(cb, 0, map[string]*origin{cb.TargetOriginID: {}}, nil)
	if err != nil {
		return Forwarding{}, err
	}
	f := Forwarding{b: b}
	if !b.legacy {
		if f.orp, err = resolveOriginRequestPolicy(cb); err != nil {
			return Forwarding{}, fmt.Errorf("origin request policy: %w", err)
		}
	}
	return f, nil
}

// Legacy reports whether the behavior uses ForwardedValues (which keys on
// everything it forwards).
func (f Forwarding) Legacy() bool { return f.b.legacy }

// Caches reports whether the behavior caches at all.
func (f Forwarding) Caches() bool { return !f.b.noCache }

// CachePolicyName is the cache policy's name ("" for legacy settings).
func (f Forwarding) CachePolicyName() string { return f.b.cp.name }

// OriginRequestPolicyName is the origin request policy's name ("" if none).
func (f Forwarding) OriginRequestPolicyName() string { return f.orp.name }

// KeyHeader reports whether the cache key includes the header.
func (f Forwarding) KeyHeader(name string) bool {
	return f.b.cp.headers.has(http.CanonicalHeaderKey(name))
}

// OriginHeader reports whether a viewer's header reaches the origin on a
// GET, with the Authorization rule of cloudfront.md §3.4 (only through the
// cache key).
func (f Forwarding) OriginHeader(name string) bool {
	name = http.CanonicalHeaderKey(name)
	if name == "Authorization" {
		return f.KeyHeader(name) || (f.b.legacy && f.b.fwdHeaders.has(name))
	}
	return f.b.fwdHeaders.has(name)
}

// OriginRequestPolicyHeader reports whether the origin request policy
// itself selects the header (whether or not it then reaches the origin).
func (f Forwarding) OriginRequestPolicyHeader(name string) bool {
	return f.orp.headers.has(http.CanonicalHeaderKey(name))
}

// ForwardsHost reports whether the viewer's Host reaches the origin, which
// changes the SNI and the certificate name check (§2.2, §2.3, §3.3).
func (f Forwarding) ForwardsHost() bool { return f.b.forwardHost }

// OriginCookie reports whether the named cookie reaches the origin.
func (f Forwarding) OriginCookie(name string) bool { return f.b.fwdCookies.hasWild(name) }

// CookiesOutsideKey reports whether some cookie reaches the origin without
// being in the cache key.
func (f Forwarding) CookiesOutsideKey() bool {
	key, fwd := f.b.cp.cookies, f.b.fwdCookies
	switch {
	case fwd.mode == selectNone, key.mode == selectAll:
		return false
	case fwd.mode == selectList:
		for _, n := range fwd.names {
			if !key.hasWild(n) {
				return true
			}
		}
		return false
	case fwd.mode == selectAllExcept && key.mode == selectAllExcept:
		for _, n := range key.names {
			if fwd.has(n) {
				return true // keyed-out but forwarded
			}
		}
		return false
	}
	return true // fwd all (or all-except) against a narrower key
}
