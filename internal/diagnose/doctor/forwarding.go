package doctor

import (
	"github.com/kumo-dev/kumo/internal/edge"
	"github.com/kumo-dev/kumo/internal/model"
)

// forwarding is what a behavior keys on and sends to its origin, resolved by
// the edge's own rules (edge.BehaviorForwarding), so that the doctor and
// the edge never disagree about a policy. ok is false when the behavior's
// policies do not resolve (the stack rejects those first).
type forwarding struct {
	edge.Forwarding
	ok bool
}

func forwardingOf(cb *model.CacheBehavior) forwarding {
	f, err := edge.BehaviorForwarding(cb)
	return forwarding{Forwarding: f, ok: err == nil}
}

// forwardsHost is edge's rule, false for an unresolved behavior.
func (f forwarding) forwardsHost() bool { return f.ok && f.ForwardsHost() }

// wildcard matches name against a CloudFront-style pattern: * is any run
// of characters, ? exactly one (cloudfront.md §4.5 legacy cookie names,
// §5.3 path patterns).
func wildcard(pattern, name string) bool {
	for len(pattern) > 0 {
		switch pattern[0] {
		case '*':
			for i := len(name); i >= 0; i-- {
				if wildcard(pattern[1:], name[i:]) {
					return true
				}
			}
			return false
		case '?':
			if name == "" {
				return false
			}
		default:
			if name == "" || name[0] != pattern[0] {
				return false
			}
		}
		pattern, name = pattern[1:], name[1:]
	}
	return name == ""
}
