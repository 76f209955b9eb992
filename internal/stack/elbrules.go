package stack

import (
	"fmt"
	"strconv"
	"strings"

	"github.com/kumo-dev/kumo/internal/alb"
	"github.com/kumo-dev/kumo/internal/model"
)

// maxWildcardsPerRule is the wildcard limit of one rule (alb.md §5.1).
const maxWildcardsPerRule = 5

// wildcardCount counts the unescaped * and ? wildcards of a condition value
// (alb.md §5.1–5.2; query-string values escape them with \).
func wildcardCount(v string, escapes bool) int {
	n := 0
	for i := 0; i < len(v); i++ {
		switch {
		case escapes && v[i] == '\\':
			i++
		case v[i] == '*' || v[i] == '?':
			n++
		}
	}
	return n
}

// ruleWildcards implements the 5-wildcards-per-rule limit (alb.md §5.1).
func ruleWildcards(conds []*model.Condition) int {
	n := 0
	for _, c := range conds {
		switch c.Field {
		case "host-header", "path-pattern", "http-header":
			for _, v := range c.Values {
				n += wildcardCount(v, false)
			}
		case "query-string":
			for _, kv := range c.QueryStrings {
				n += wildcardCount(kv.Key, true) + wildcardCount(kv.Value, true)
			}
		}
	}
	return n
}

// regexValues reads and checks a RegexValues list (alb.md §5.2): each
// entry at most 128 characters, valid RE2 without the unsupported
// features (lookaround, backreferences, atomic groups, possessive
// quantifiers, subroutines, recursion, Unicode classes).
func (b *builder) regexValues(o obj, field string) []string {
	if !o.has("RegexValues") {
		return nil
	}
	switch field {
	case "host-header", "path-pattern", "http-header":
	default:
		o.errf("RegexValues", "RegexValues apply only to host-header, path-pattern and http-header conditions")
		return nil
	}
	vs, _ := o.strList("RegexValues")
	var out []string
	for i, v := range vs {
		if _, err := alb.CompileRuleRegex(v, 128); err != nil {
			b.errs.add(o.line("RegexValues"), idx(o.p("RegexValues"), i), "%v", err)
			continue
		}
		out = append(out, v)
	}
	return out
}

// transforms implements alb.md §5.4: at most one host-header-rewrite
// (HostHeaderRewriteConfig) and one url-rewrite (UrlRewriteConfig) per
// rule, each with Rewrites of {Regex, Replace} up to 1024 characters.
func (b *builder) transforms(o obj) []*model.Transform {
	items, _ := o.list("Transforms")
	var out []*model.Transform
	seen := map[string]bool{}
	for _, it := range items {
		it.keys([]string{"Type", "HostHeaderRewriteConfig", "UrlRewriteConfig"})
		typ, ok := it.enum("Type", "", true, model.TransformHostHeaderRewrite, model.TransformURLRewrite)
		if !ok {
			continue
		}
		if seen[typ] {
			it.errf("Type", "a rule takes at most one %s transform", typ)
			continue
		}
		seen[typ] = true
		cfgKey, other := "HostHeaderRewriteConfig", "UrlRewriteConfig"
		if typ == model.TransformURLRewrite {
			cfgKey, other = other, cfgKey
		}
		if it.has(other) {
			it.errf(other, "%s does not apply to a %s transform (use %s)", other, typ, cfgKey)
		}
		cfg, ok := it.child(cfgKey)
		if !ok {
			it.missing(cfgKey, "{Rewrites: [{Regex, Replace}]}")
			continue
		}
		cfg.keys([]string{"Rewrites"})
		rws, _ := cfg.list("Rewrites")
		if len(rws) == 0 {
			cfg.errf("Rewrites", "needs at least one {Regex, Replace}")
			continue
		}
		t := &model.Transform{Type: typ}
		for _, rw := range rws {
			rw.keys([]string{"Regex", "Replace"})
			re, ok1 := rw.reqStr("Regex", "a regular expression (at most 1024 characters)")
			rep, ok2 := rw.str("Replace", "")
			if !rw.has("Replace") {
				rw.missing("Replace", "the replacement (at most 1024 characters; $1, $2 ... refer to captures)")
				ok2 = false
			}
			if ok1 {
				if _, err := alb.CompileRuleRegex(re, 1024); err != nil {
					rw.errf("Regex", "%v", err)
					ok1 = false
				}
			}
			if ok2 && len(rep) > 1024 {
				rw.errf("Replace", "is %d characters; at most 1024 are allowed", len(rep))
				ok2 = false
			}
			if ok1 && ok2 {
				t.Rewrites = append(t.Rewrites, model.Rewrite{Regex: re, Replace: rep})
			}
		}
		out = append(out, t)
	}
	return out
}

// authActionNotEmulated is the load error of the authentication actions
// (alb.md §5.3): kumo has no identity provider or JWKS endpoint to stand
// in for, so it cannot run them honestly.
func authActionNotEmulated(typ string) string {
	return strings.TrimSpace(typ) + " actions are not emulated by kumo (it has no identity provider or token validation to run them against); use forward, redirect or fixed-response"
}

// anomalyMitigation implements load_balancing.algorithm.anomaly_mitigation
// (alb.md §6.4): "off" only — AWS does not publish the anomaly thresholds,
// so kumo cannot emulate "on" honestly.
func anomalyMitigation(v string) error {
	switch v {
	case "off":
		return nil
	case "on":
		return fmt.Errorf("is not emulated by kumo (AWS does not publish its anomaly thresholds); use off")
	}
	return fmt.Errorf("must be on or off")
}

// minHealthyCount implements target_group_health.unhealthy_state_routing.
// minimum_healthy_targets.count (alb.md §2.2): 1 or more, or off.
func minHealthyCount(v string) error {
	if v == "off" {
		return nil
	}
	if n, err := strconv.Atoi(v); err != nil || n < 1 {
		return fmt.Errorf("must be a target count of 1 or more, or off")
	}
	return nil
}

// minHealthyPercentage implements ...minimum_healthy_targets.percentage
// (alb.md §2.2): 1-100, or off.
func minHealthyPercentage(v string) error {
	if v == "off" {
		return nil
	}
	if n, err := strconv.Atoi(v); err != nil || n < 1 || n > 100 {
		return fmt.Errorf("must be a percentage from 1 to 100, or off")
	}
	return nil
}

// grpcCodeMatcher implements Matcher.GrpcCode (alb.md §6.2): a code, a
// comma-separated list or a range, each within 0-99.
func grpcCodeMatcher(s string) error {
	if s == "" {
		return fmt.Errorf("must not be empty")
	}
	parts := strings.Split(s, ",")
	if strings.Contains(s, "-") && len(parts) > 1 {
		return fmt.Errorf("%q mixes a list and a range: use a list (0,12) or one range (0-99)", s)
	}
	for _, p := range parts {
		lo, hi, isRange := strings.Cut(strings.TrimSpace(p), "-")
		a, err1 := strconv.Atoi(lo)
		b := a
		var err2 error
		if isRange {
			b, err2 = strconv.Atoi(hi)
		}
		if err1 != nil || err2 != nil || a < 0 || b > 99 || a > b {
			return fmt.Errorf("%q is not a gRPC code (0-99), list or range", s)
		}
	}
	return nil
}

// targetGroupAttributeRules implements the cross-attribute rules of
// alb.md §6.4–6.7: slow start cannot be combined with
// least_outstanding_requests; app_cookie stickiness needs a cookie name.
func targetGroupAttributeRules(o obj, attrs map[string]string) {
	if attrs["load_balancing.algorithm.type"] == "least_outstanding_requests" && attrs["slow_start.duration_seconds"] != "0" && attrs["slow_start.duration_seconds"] != "" {
		o.errf("TargetGroupAttributes", "slow_start.duration_seconds cannot be combined with load_balancing.algorithm.type=least_outstanding_requests")
	}
	if attrs["stickiness.enabled"] == "true" && attrs["stickiness.type"] == "app_cookie" && attrs["stickiness.app_cookie.cookie_name"] == "" {
		o.errf("TargetGroupAttributes", "app_cookie stickiness needs stickiness.app_cookie.cookie_name")
	}
}

// listenerTargetGroupRules implements the listener/target-group rules of
// alb.md §4.2, §5.3 and §6.7 on a loaded listener: HTTP2 and GRPC target
// groups need an HTTPS listener; a weighted forward whose groups use
// stickiness needs TargetGroupStickinessConfig, and app_cookie groups
// cannot be weighted.
func (b *builder) listenerTargetGroupRules(l *model.Listener) {
	where := func() (int, string) {
		if res := b.res[l.LogicalID]; res != nil {
			return res.line, sub("Resources", res.id)
		}
		return 0, l.LogicalID
	}
	acts := append([]*model.Action(nil), l.DefaultActions...)
	for _, r := range l.Rules {
		acts = append(acts, r.Actions...)
	}
	for _, a := range acts {
		for _, w := range a.TargetGroups {
			tg := w.TargetGroup
			if v := tg.ProtocolVersion; (v == "HTTP2" || v == "GRPC") && l.Protocol == "HTTP" {
				line, path := where()
				b.errs.add(line, path, "target group %s has ProtocolVersion %s, which needs an HTTPS listener; %s is HTTP", tg.LogicalID, v, l.LogicalID)
			}
			if len(a.TargetGroups) < 2 || tg.Attributes["stickiness.enabled"] != "true" {
				continue
			}
			line, path := where()
			if tg.Attributes["stickiness.type"] == "app_cookie" {
				b.errs.add(line, path, "target group %s uses app_cookie stickiness, which cannot be used in a weighted forward", tg.LogicalID)
			} else if a.TargetGroupStickiness == nil {
				b.errs.add(line, path, "target group %s has stickiness on, so its weighted forward needs ForwardConfig.TargetGroupStickinessConfig enabled", tg.LogicalID)
			}
		}
	}
}
