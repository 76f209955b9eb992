package doctor

import (
	"fmt"
	"strings"

	"github.com/kumo-dev/kumo/internal/model"
)

// cachingDisabledID is the managed CachingDisabled cache policy (cloudfront.md §4.2).
const cachingDisabledID = "4135ea2d-6df8-44a3-9df3-4b5a84be39ad"

// checkCacheKeys implements the cache-key safety rule: a value that reaches
// the origin, changes its response and is not in the cache key lets one
// viewer's response be served to another (cloudfront.md §3.4, §3.6, §3.7,
// §4.5). Legacy ForwardedValues always key what they forward, so only
// policy behaviors can trigger it.
func (c *checker) checkCacheKeys(d *model.Distribution) {
	for _, cb := range behaviors(d) {
		f := forwardingOf(cb)
		if !f.ok || f.Legacy() || !f.Caches() {
			continue
		}
		bp := behaviorPath(d, cb)
		where := "the default behavior"
		if cb.PathPattern != "" {
			where = "behavior " + cb.PathPattern
		}
		orpPath := bp + ".OriginRequestPolicyId"
		if f.OriginRequestPolicyHeader("Authorization") && !f.KeyHeader("Authorization") {
			c.add(Finding{
				ID: IDAuthorizationNotForwarded, Severity: SeverityWarning,
				Title:  fmt.Sprintf("%s: origin request policy %s selects Authorization, but it never reaches the origin on GET or HEAD", where, f.OriginRequestPolicyName()),
				Effect: "the origin sees GET and HEAD requests without their Authorization header; if it needs credentials it answers 401/403, logged as Error with that status",
				Why:    "an origin request policy cannot forward Authorization: CloudFront sends it on GET/HEAD only when the cache key includes it, so that a cached response never answers another user's credentials (cloudfront.md §3.4; AWS Knowledge Center cloudfront-authorization-header)",
				Fix: Fix{Text: "if the origin needs Authorization, key on it: a cache policy whose HeadersConfig whitelists Authorization (or CachingDisabled with a policy that keys on it)",
					Before: c.before(bp+".CachePolicyId", "CachePolicyId", cb.CachePolicyID)},
			}, orpPath)
		}
		if f.CookiesOutsideKey() {
			c.add(Finding{
				ID: IDCacheKeyCookies, Severity: SeverityWarning,
				Title:  fmt.Sprintf("%s forwards cookies to the origin (%s) but cache policy %s does not key on them", where, f.OriginRequestPolicyName(), f.CachePolicyName()),
				Effect: "a response the origin personalises by cookie (and its Set-Cookie, which CloudFront caches and replays on every hit) is served to every viewer of the same URL: x-edge-result-type Hit with another user's content",
				Why:    "cookies forwarded by an origin request policy reach the origin but not the cache key (cloudfront.md §3.6, §4.5); a forwarded Set-Cookie is cached with the object and replayed on every hit (§3.7)",
				Fix: Fix{Text: "key on the cookies the origin reads (a cache policy with CookiesConfig), or use CachingDisabled for this path",
					Before: c.before(bp+".CachePolicyId", "CachePolicyId", cb.CachePolicyID), After: "CachePolicyId: " + cachingDisabledID},
			}, orpPath)
		}
	}
}

// stickinessCookies returns the cookie names the ALB sets for stickiness on
// tg (alb.md §5.3: AWSALB/AWSALBCORS for lb_cookie, the application cookie
// plus AWSALBAPP-* for app_cookie), or nil when stickiness is off.
func stickinessCookies(tg *model.TargetGroup) []string {
	if tg.Attributes["stickiness.enabled"] != "true" {
		return nil
	}
	if tg.Attributes["stickiness.type"] == "app_cookie" {
		return []string{tg.Attributes["stickiness.app_cookie.cookie_name"], "AWSALBAPP-*"}
	}
	return []string{"AWSALB", "AWSALBCORS"}
}

// checkStickiness implements the "CachingOptimized in front of a path that
// sets cookies" check for the cookies kumo can know about: the ALB's own
// stickiness cookies. A behavior that forwards no cookies makes CloudFront
// remove the Set-Cookie (cloudfront.md §3.7) and drop the viewer's Cookie
// (§3.4), so stickiness never sticks. Cookies set by a user's own upstream
// (Metadata.Kumo.Upstream) cannot be known statically; the built-in web
// server sets none.
func (c *checker) checkStickiness(d *model.Distribution) {
	for i, o := range d.Origins {
		res := c.resolve(o.DomainName)
		if res.lb == nil {
			continue
		}
		for _, cb := range behaviorsFor(d, o.ID) {
			f := forwardingOf(cb)
			if !f.ok {
				continue
			}
			var tgs []*model.TargetGroup
			var sticky []string
			seen := map[*model.TargetGroup]bool{}
			for _, l := range res.lb.Listeners {
				for _, a := range listenerActions(l) {
					for _, w := range a.TargetGroups {
						if w.TargetGroup == nil || seen[w.TargetGroup] {
							continue
						}
						seen[w.TargetGroup] = true
						if names := stickinessCookies(w.TargetGroup); names != nil {
							tgs = append(tgs, w.TargetGroup)
							sticky = append(sticky, names...)
						}
					}
					if a.TargetGroupStickiness != nil {
						sticky = append(sticky, "AWSALBTG", "AWSALBTGCORS")
					}
				}
			}
			if len(sticky) == 0 {
				continue
			}
			missing := []string{}
			for _, n := range sticky {
				if !f.OriginCookie(n) {
					missing = append(missing, n)
				}
			}
			if len(missing) == 0 {
				continue
			}
			name := f.CachePolicyName()
			if f.Legacy() {
				name = "legacy ForwardedValues"
			}
			var ids []string
			for _, tg := range tgs {
				ids = append(ids, tg.LogicalID)
			}
			fp := behaviorPath(d, cb) + ".CachePolicyId"
			if f.Legacy() {
				fp = behaviorPath(d, cb) + ".ForwardedValues"
			}
			c.add(Finding{
				ID: IDStickinessCookie, Severity: SeverityWarning,
				Title:  fmt.Sprintf("origin %s: the ALB sets stickiness cookies (%s) but the behavior (%s) does not forward them", originRef(d, i), strings.Join(missing, ", "), name),
				Effect: "viewers never receive the ALB's Set-Cookie and never send the cookie back: every request is load-balanced anew (ALB log: one viewer's requests spread over all targets), and session stickiness silently does nothing",
				Why:    "CloudFront removes Set-Cookie from the origin's response and the Cookie header from the viewer's request unless the behavior forwards cookies (cloudfront.md §3.4, §3.7); target groups " + strings.Join(ids, ", ") + " enable stickiness.enabled",
				Fix:    Fix{Text: "forward and key on the stickiness cookies (a cache policy whose CookiesConfig whitelists " + strings.Join(missing, ", ") + "), or turn stickiness off"},
			}, fp)
		}
	}
}

func originRef(d *model.Distribution, i int) string { return d.Origins[i].ID }

// listenerActions returns the default actions and every rule's actions.
func listenerActions(l *model.Listener) []*model.Action {
	out := append([]*model.Action(nil), l.DefaultActions...)
	for _, r := range l.Rules {
		out = append(out, r.Actions...)
	}
	return out
}
