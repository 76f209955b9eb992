package doctor

import (
	"fmt"
	"strconv"
	"strings"

	"github.com/kumo-dev/kumo/internal/model"
)

// builtinPaths are the paths the built-in web server answers 200 on; every
// other path is 404 (package webserver).
var builtinPaths = []string{"/", "/index.html", "/icons/apache_pb2.gif"}

// builtinStatus implements the built-in web server's answer to GET path.
func builtinStatus(path string) int {
	if i := strings.IndexByte(path, '?'); i >= 0 {
		path = path[:i]
	}
	for _, p := range builtinPaths {
		if p == path {
			return 200
		}
	}
	return 404
}

// builtin reports whether the target is served by kumo's built-in web
// server (an instance without Metadata.Kumo.Upstream or a local mapping).
func builtin(t *model.Target) bool {
	return t.Instance != nil && t.Instance.Upstream == "" && t.Local == ""
}

// allBuiltin reports whether tg has targets and every one is built in.
func allBuiltin(tg *model.TargetGroup) bool {
	for _, t := range tg.Targets {
		if !builtin(t) {
			return false
		}
	}
	return len(tg.Targets) > 0
}

// matcherIncludes implements the HttpCode matcher (alb.md §4: "200",
// "200,202", "200-299").
func matcherIncludes(matcher string, code int) bool {
	if matcher == "" {
		matcher = "200"
	}
	for _, part := range strings.Split(matcher, ",") {
		part = strings.TrimSpace(part)
		lo, hi, isRange := strings.Cut(part, "-")
		a, err := strconv.Atoi(lo)
		if err != nil {
			continue
		}
		b := a
		if isRange {
			if b, err = strconv.Atoi(hi); err != nil {
				continue
			}
		}
		if code >= a && code <= b {
			return true
		}
	}
	return false
}

// targetPort returns the port of a target's modeled address.
func targetPort(t *model.Target, tg *model.TargetGroup) int {
	if i := strings.LastIndexByte(t.Addr, ':'); i >= 0 {
		if p, err := strconv.Atoi(t.Addr[i+1:]); err == nil {
			return p
		}
	}
	return tg.Port
}

// forwardedGroups returns the target groups some listener forwards to with
// a non-zero weight, with the path of the first action naming each.
func (c *checker) forwardedGroups() map[*model.TargetGroup]bool {
	out := map[*model.TargetGroup]bool{}
	for _, lb := range c.st.LoadBalancers {
		for _, l := range lb.Listeners {
			for _, a := range listenerActions(l) {
				for _, w := range a.TargetGroups {
					if w.TargetGroup != nil && w.Weight > 0 {
						out[w.TargetGroup] = true
					}
				}
			}
		}
	}
	return out
}

// checkTargetGroups runs the target-group checks.
func (c *checker) checkTargetGroups() {
	fwd := c.forwardedGroups()
	for _, tg := range c.st.TargetGroups {
		p := resPath(tg.LogicalID)
		if fwd[tg] && len(tg.Targets) == 0 {
			f := Finding{
				ID: IDNoTargets, Severity: SeverityError,
				Title:  fmt.Sprintf("target group %s has no registered targets, and a listener forwards to it", tg.LogicalID),
				Effect: "503 from the ALB: ALB log elb_status_code 503, target -, target_status_code -, request/target/response_processing_time -1; CloudFront passes the 503 on with X-Cache: Error from cloudfront, x-edge-result-type Error",
				Why:    "a forward action to a target group without registered targets answers 503 (alb.md §7, \"no registered targets\")",
				Fix:    Fix{Text: "register targets (Targets: - Id: !Ref <an AWS::EC2::Instance>)"},
			}
			if len(c.st.Instances) > 0 {
				f.Fix.Text = fmt.Sprintf("register the instances: Targets: - Id: !Ref %s", c.st.Instances[0].LogicalID)
				f.Fix.After = "Targets: [{Id: !Ref " + c.st.Instances[0].LogicalID + "}]"
			}
			c.add(f, p)
		}
		c.checkHealthCheck(tg)
	}
}

// checkHealthCheck implements alb.md §4 health checks against the built-in
// web server: HTTP only, on the traffic port, 200 on builtinPaths and 404
// elsewhere. A target group with any other target is not judged.
func (c *checker) checkHealthCheck(tg *model.TargetGroup) {
	hc := tg.HealthCheck
	if !hc.Enabled || !allBuiltin(tg) || tg.ProtocolVersion == "GRPC" {
		return
	}
	p := resPath(tg.LogicalID)
	var path, title, reason, why string
	var fix Fix
	switch {
	case strings.EqualFold(hc.Protocol, "HTTPS"):
		path = p + ".HealthCheckProtocol"
		title = "the health check uses HTTPS, but the built-in web server speaks only HTTP"
		reason = "Target.FailedHealthChecks"
		why = "the TLS handshake of every health check fails"
		fix = Fix{Text: "check over HTTP", Before: c.before(path, "HealthCheckProtocol", hc.Protocol), After: "HealthCheckProtocol: HTTP"}
	case hc.Port != "" && hc.Port != "traffic-port" && hc.Port != strconv.Itoa(targetPort(tg.Targets[0], tg)):
		path = p + ".HealthCheckPort"
		title = fmt.Sprintf("the health check uses port %s, but the built-in web server listens only on the traffic port %d", hc.Port, targetPort(tg.Targets[0], tg))
		reason = "Target.FailedHealthChecks"
		why = "every health-check connection is refused"
		fix = Fix{Text: "check the traffic port", Before: c.before(path, "HealthCheckPort", hc.Port), After: "HealthCheckPort: traffic-port"}
	case !matcherIncludes(hc.Matcher, builtinStatus(hc.Path)):
		code := builtinStatus(hc.Path)
		path = p + ".HealthCheckPath"
		key, val, after := "HealthCheckPath", hc.Path, "HealthCheckPath: /"
		if code == 200 {
			path, key, val, after = p+".Matcher.HttpCode", "HttpCode", strconv.Quote(hc.Matcher), "HttpCode: \"200\""
		}
		title = fmt.Sprintf("the health check GET %s gets %d from the built-in web server, outside the matcher %q", hc.Path, code, hc.Matcher)
		reason = "Target.ResponseCodeMismatch"
		why = fmt.Sprintf("the built-in web server answers 200 on %s and 404 elsewhere", strings.Join(builtinPaths, ", "))
		fix = Fix{Text: "check a path the server answers with a code the matcher accepts", Before: c.before(path, key, val), After: after}
	default:
		return
	}
	c.add(Finding{
		ID: IDHealthCheck, Severity: SeverityError,
		Title:  "target group " + tg.LogicalID + ": " + title,
		Effect: fmt.Sprintf("every target stays unhealthy (reason %s; `kumo targets` and the health-check log show it); with every target unhealthy the ALB fails open and still routes to all of them, so viewers see no error while the stack reports no healthy target", reason),
		Why:    why + " (alb.md §4 health checks; all targets unhealthy: fail open, alb.md §7)",
		Fix:    fix,
	}, path)
}

// condImplies reports whether every request matching c2 matches c1 (c1
// values are OR-ed; a condition of the same field whose each value is
// matched by one of c1's). Only literal and wildcard values are judged; a
// condition with regex values or query strings never implies.
func condImplies(c1, c2 *model.Condition) bool {
	if c1.Field != c2.Field || !strings.EqualFold(c1.HTTPHeaderName, c2.HTTPHeaderName) {
		return false
	}
	if len(c1.RegexValues) > 0 || len(c2.RegexValues) > 0 || len(c1.QueryStrings) > 0 || len(c2.QueryStrings) > 0 || len(c2.Values) == 0 {
		return false
	}
	fold := c1.Field != "path-pattern"
	glob := c1.Field == "path-pattern" || c1.Field == "host-header" || c1.Field == "http-header"
	for _, v2 := range c2.Values {
		ok := false
		for _, v1 := range c1.Values {
			a, b := v1, v2
			if fold {
				a, b = strings.ToLower(a), strings.ToLower(b)
			}
			if a == b || (glob && patternCovers(a, b)) {
				ok = true
				break
			}
		}
		if !ok {
			return false
		}
	}
	return true
}

// patternCovers reports whether glob pattern p matches every string glob
// pattern q matches: q's wildcards may only be absorbed by p's *.
func patternCovers(p, q string) bool {
	for len(p) > 0 {
		switch p[0] {
		case '*':
			for i := len(q); i >= 0; i-- {
				if patternCovers(p[1:], q[i:]) {
					return true
				}
			}
			return false
		case '?':
			if q == "" || q[0] == '*' {
				return false
			}
		default:
			if q == "" || q[0] != p[0] {
				return false
			}
		}
		p, q = p[1:], q[1:]
	}
	return q == ""
}

// ruleShadows reports whether r1 matches every request r2 matches: each of
// r1's conditions is implied by one of r2's (conditions are AND-ed).
func ruleShadows(r1, r2 *model.Rule) bool {
	if len(r1.Conditions) == 0 {
		return false
	}
	for _, c1 := range r1.Conditions {
		ok := false
		for _, c2 := range r2.Conditions {
			if condImplies(c1, c2) {
				ok = true
				break
			}
		}
		if !ok {
			return false
		}
	}
	return true
}

// checkRules implements alb.md §5 rule evaluation: rules are tried in
// priority order and the first match wins, so a rule that matches only what
// an earlier rule matches can never run.
func (c *checker) checkRules() {
	for _, lb := range c.st.LoadBalancers {
		for _, l := range lb.Listeners {
			for j, r2 := range l.Rules {
				for _, r1 := range l.Rules[:j] {
					if !ruleShadows(r1, r2) {
						continue
					}
					fix := Fix{Text: fmt.Sprintf("give %s a lower priority number than %s (priorities are unique per listener), or narrow %s's conditions", r2.LogicalID, r1.LogicalID, r1.LogicalID)}
					if r1.Priority > 1 {
						fix.Before, fix.After = c.before(resPath(r2.LogicalID)+".Priority", "Priority", itoa(r2.Priority)), "Priority: "+itoa(r1.Priority-1)
					}
					c.add(Finding{
						ID: IDRuleShadowed, Severity: SeverityWarning,
						Title:  fmt.Sprintf("listener rule %s (priority %d) can never match: rule %s (priority %d) matches every request it matches", r2.LogicalID, r2.Priority, r1.LogicalID, r1.Priority),
						Effect: fmt.Sprintf("requests meant for %s are handled by %s's actions; ALB log matched_rule_priority %d, never %d", r2.LogicalID, r1.LogicalID, r1.Priority, r2.Priority),
						Why:    "the ALB evaluates rules from the lowest priority number and stops at the first match (alb.md §5)",
						Fix:    fix,
					}, resPath(r2.LogicalID)+".Priority")
					break
				}
			}
		}
	}
}

// behaviorFor implements cloudfront.md §5.3: the first behavior whose
// pattern matches path (a leading / is implied), else the default.
func behaviorFor(d *model.Distribution, path string) *model.CacheBehavior {
	for _, cb := range d.Behaviors {
		p := cb.PathPattern
		if !strings.HasPrefix(p, "/") && !strings.HasPrefix(p, "*") {
			p = "/" + p
		}
		if wildcard(p, path) || wildcard(p, strings.TrimPrefix(path, "/")) {
			return cb
		}
	}
	return d.DefaultBehavior
}

// fetch predicts the status CloudFront gets for GET path when everything
// on the way is known: the behavior, its origin (an ALB of the stack, over
// HTTPS unless http-only), listener rules with only path-pattern
// conditions, and an action that answers by itself or forwards to built-in
// web servers. known is false otherwise.
func (c *checker) fetch(d *model.Distribution, path string) (status int, via string, known bool) {
	cb := behaviorFor(d, path)
	if cb == nil {
		return 0, "", false
	}
	var o *model.Origin
	id := cb.TargetOriginID
	for _, g := range d.OriginGroups {
		if g.ID == id {
			id = g.Primary
		}
	}
	for _, x := range d.Origins {
		if x.ID == id {
			o = x
		}
	}
	if o == nil || o.S3 {
		return 0, "", false
	}
	res := c.resolve(o.DomainName)
	if res.lb == nil {
		return 0, "", false
	}
	port, proto := o.Custom.HTTPSPort, "HTTPS"
	if o.Custom.ProtocolPolicy == model.OriginHTTPOnly {
		port, proto = o.Custom.HTTPPort, "HTTP"
	}
	l := listenerOn(res.lb, port)
	if l == nil || l.Protocol != proto {
		return 0, "", false
	}
	full := o.OriginPath + path
	actions := l.DefaultActions
	via = fmt.Sprintf("origin %s -> %s -> %s default action", o.ID, res.lb.LogicalID, l.LogicalID)
	for _, r := range l.Rules {
		match := true
		for _, cond := range r.Conditions {
			if cond.Field != "path-pattern" || len(cond.RegexValues) > 0 {
				return 0, "", false
			}
			any := false
			for _, v := range cond.Values {
				if wildcard(v, full) {
					any = true
				}
			}
			match = match && any
		}
		if match {
			actions = r.Actions
			via = fmt.Sprintf("origin %s -> %s -> %s rule %s", o.ID, res.lb.LogicalID, l.LogicalID, r.LogicalID)
			break
		}
	}
	for _, a := range actions {
		switch a.Type {
		case model.ActionFixedResponse:
			if a.FixedResponse != nil {
				return a.FixedResponse.StatusCode, via, true
			}
			return 0, "", false
		case model.ActionRedirect:
			if a.Redirect != nil && a.Redirect.StatusCode == "HTTP_302" {
				return 302, via, true
			}
			return 301, via, true
		case model.ActionForward:
			st := 0
			for _, w := range a.TargetGroups {
				if w.TargetGroup == nil || w.Weight == 0 {
					continue
				}
				if len(w.TargetGroup.Targets) == 0 {
					return 503, via, true
				}
				if !allBuiltin(w.TargetGroup) {
					return 0, "", false
				}
				s := builtinStatus(full)
				if st != 0 && s != st {
					return 0, "", false
				}
				st = s
			}
			return st, via + " -> built-in web servers", st != 0
		}
	}
	return 0, "", false
}

// checkDefaultRootObject implements cloudfront.md §5.4: a request for / is
// fetched as /<DefaultRootObject>.
func (c *checker) checkDefaultRootObject(d *model.Distribution) {
	obj := d.DefaultRootObject
	if obj == "" {
		return
	}
	status, via, ok := c.fetch(d, "/"+obj)
	if !ok || status == 200 {
		return
	}
	path := distPath(d) + ".DefaultRootObject"
	c.add(Finding{
		ID: IDDefaultRootObject, Severity: SeverityWarning,
		Title:  fmt.Sprintf("DefaultRootObject %s is not served: GET /%s gets %d", obj, obj, status),
		Effect: fmt.Sprintf("viewers requesting / get %d (CloudFront log cs-uri-stem /, sc-status %d; ALB log request for /%s)", status, status, obj),
		Why:    fmt.Sprintf("CloudFront rewrites a request for exactly / to /%s (cloudfront.md §5.4); it is fetched through %s, which answers %d (the built-in web server serves %s)", obj, via, status, strings.Join(builtinPaths, ", ")),
		Fix:    Fix{Text: "name an object the origin serves, or remove DefaultRootObject", Before: c.before(path, "DefaultRootObject", obj), After: "DefaultRootObject: index.html"},
	}, path)
}

// checkErrorPages implements cloudfront.md §5.5: a custom error page is
// fetched through the behavior that matches its path; when that fetch
// fails, the viewer gets the fetch's status instead of the page.
func (c *checker) checkErrorPages(d *model.Distribution) {
	for i, ce := range d.CustomErrorResponses {
		if ce.ResponsePagePath == "" {
			continue
		}
		status, via, ok := c.fetch(d, ce.ResponsePagePath)
		if !ok || status == 200 {
			continue
		}
		path := fmt.Sprintf("%s.CustomErrorResponses[%d].ResponsePagePath", distPath(d), i)
		c.add(Finding{
			ID: IDErrorPagePath, Severity: SeverityWarning,
			Title:  fmt.Sprintf("the custom error page %s for %d cannot be fetched: it gets %d", ce.ResponsePagePath, ce.ErrorCode, status),
			Effect: fmt.Sprintf("on a %d viewers get %d and no custom page (CloudFront log sc-status %d, x-edge-result-type Error)", ce.ErrorCode, status, status),
			Why:    fmt.Sprintf("CloudFront fetches the page through the behavior that matches its path (cloudfront.md §5.5): %s, which answers %d", via, status),
			Fix:    Fix{Text: "route the page's path to an origin that serves it (a CacheBehavior for it), or point ResponsePagePath at an object the origin serves", Before: c.before(path, "ResponsePagePath", ce.ResponsePagePath), After: "ResponsePagePath: /index.html"},
		}, path)
	}
}
