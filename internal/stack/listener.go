package stack

import (
	"fmt"
	"net/netip"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/kumo-dev/kumo/internal/model"
)

// DefaultSslPolicy is the policy of an HTTPS listener without SslPolicy when
// created through CloudFormation (alb.md §3.2).
const DefaultSslPolicy = "ELBSecurityPolicy-2016-08"

// sslPolicies implements alb.md §3.2: the ALB security policies kumo accepts
// (the 2023 list plus the later FIPS and post-quantum names).
var sslPolicies = []string{
	"ELBSecurityPolicy-TLS13-1-2-2021-06", "ELBSecurityPolicy-TLS13-1-2-Res-2021-06", "ELBSecurityPolicy-TLS13-1-2-Ext1-2021-06",
	"ELBSecurityPolicy-TLS13-1-2-Ext2-2021-06", "ELBSecurityPolicy-TLS13-1-1-2021-06", "ELBSecurityPolicy-TLS13-1-0-2021-06",
	"ELBSecurityPolicy-TLS13-1-3-2021-06", "ELBSecurityPolicy-FS-1-2-Res-2020-10", "ELBSecurityPolicy-FS-1-2-Res-2019-08",
	"ELBSecurityPolicy-FS-1-2-2019-08", "ELBSecurityPolicy-FS-1-1-2019-08", "ELBSecurityPolicy-FS-2018-06",
	"ELBSecurityPolicy-TLS-1-2-Ext-2018-06", "ELBSecurityPolicy-TLS-1-2-2017-01", "ELBSecurityPolicy-TLS-1-1-2017-01",
	"ELBSecurityPolicy-2016-08", "ELBSecurityPolicy-TLS-1-0-2015-04", "ELBSecurityPolicy-2015-05",
	"ELBSecurityPolicy-TLS13-1-2-FIPS-2023-04", "ELBSecurityPolicy-TLS13-1-2-Res-PQ-2025-09", "ELBSecurityPolicy-TLS13-1-2-FIPS-PQ-2025-09",
	"ELBSecurityPolicy-TLS13-1-3-PQ-2025-09",
}

func (b *builder) certByARN(arn string) *model.Certificate {
	for _, r := range b.order {
		if c, ok := r.obj.(*model.Certificate); ok && c.ARN == arn {
			return c
		}
	}
	return nil
}

func (b *builder) listenerCertificates(o obj, key string) []*model.Certificate {
	items, _ := o.list(key)
	var out []*model.Certificate
	for _, it := range items {
		it.keys([]string{"CertificateArn"})
		arn, ok := it.reqStr("CertificateArn", "the ARN of a certificate (!Ref of an AWS::CertificateManager::Certificate)")
		if !ok {
			continue
		}
		c := b.certByARN(arn)
		if c == nil {
			it.errf("CertificateArn", "%q is not a certificate of this stack; kumo can only serve certificates it issues: use !Ref of an AWS::CertificateManager::Certificate", arn)
			continue
		}
		out = append(out, c)
	}
	return out
}

func (b *builder) buildListener(r *resource, o, meta obj, st *model.Stack) {
	l := &model.Listener{LogicalID: r.id, ARN: r.ref}
	var lb *model.LoadBalancer
	if arn, ok := o.reqStr("LoadBalancerArn", "the ARN of a load balancer (!Ref of an AWS::ElasticLoadBalancingV2::LoadBalancer)"); ok {
		for _, x := range st.LoadBalancers {
			if x.ARN == arn {
				lb = x
			}
		}
		if lb == nil {
			o.errf("LoadBalancerArn", "%q is not a load balancer of this stack; use !Ref of an AWS::ElasticLoadBalancingV2::LoadBalancer", arn)
		}
	}
	proto, ok := o.str("Protocol", "")
	switch {
	case !ok:
	case !o.has("Protocol"):
		o.missing("Protocol", "one of HTTP, HTTPS")
	case proto == "HTTP" || proto == "HTTPS":
		l.Protocol = proto
	case contains([]string{"TCP", "TLS", "UDP", "TCP_UDP", "GENEVE", "QUIC", "TCP_QUIC"}, proto):
		o.errf("Protocol", "%q is a Network/Gateway Load Balancer protocol; kumo serves ALBs: use HTTP or HTTPS", proto)
	default:
		o.errf("Protocol", "%q is not one of HTTP, HTTPS", proto)
	}
	port, _ := o.reqInt("Port", 1, 65535)
	l.Port = int(port)
	if o.has("Certificates") {
		certs := b.listenerCertificates(o, "Certificates")
		if l.Protocol == "HTTP" {
			o.errf("Certificates", "an HTTP listener takes no certificates; use Protocol: HTTPS or remove Certificates")
		} else if n := len(o.n.get("Certificates").items()); n != 1 {
			o.errf("Certificates", "an HTTPS listener takes exactly one (default) certificate here, got %d; add more with AWS::ElasticLoadBalancingV2::ListenerCertificate", n)
		}
		l.Certificates = certs
	} else if l.Protocol == "HTTPS" {
		o.missing("Certificates", "an HTTPS listener needs a default certificate: [{CertificateArn: !Ref <certificate>}]")
	}
	if pol, ok := o.str("SslPolicy", ""); ok && pol != "" {
		if l.Protocol == "HTTP" {
			o.errf("SslPolicy", "an HTTP listener takes no SslPolicy")
		} else if !contains(sslPolicies, pol) {
			o.errf("SslPolicy", "%q is not an ALB security policy%s; policies are %s", pol, suggest(pol, sslPolicies), strings.Join(sslPolicies, ", "))
		} else {
			l.SslPolicy = pol
		}
	}
	if l.Protocol == "HTTPS" && l.SslPolicy == "" {
		l.SslPolicy = DefaultSslPolicy
	}
	if v := o.n.get("AlpnPolicy"); v != nil {
		o.errf("AlpnPolicy", "AlpnPolicy applies to Network Load Balancer TLS listeners only")
	}
	if v := o.n.get("ListenerAttributes"); v != nil && len(v.items()) > 0 {
		// Listener attributes change responses (response header
		// modification, the Server header, mTLS header names); kumo does not
		// emulate them yet, and ignoring them would serve something AWS would
		// not.
		o.errf("ListenerAttributes", "listener attributes are not emulated by kumo yet; remove them (load-balancer and target-group attributes are supported)")
	}
	if ma, ok := o.child("MutualAuthentication"); ok {
		if mode, _ := ma.str("Mode", "off"); mode != "off" {
			ma.errf("Mode", "mutual TLS (%q) is not supported by kumo; use off", mode)
		}
	}
	if s, ok := meta.str("Listen", ""); ok && s != "" {
		if err := hostPort(s, false); err != nil {
			meta.errf("Listen", "%v", err)
		} else {
			l.Listen = s
		}
	}
	if !o.has("DefaultActions") {
		o.missing("DefaultActions", "a list with one forward, redirect or fixed-response action")
	} else {
		l.DefaultActions = b.actions(o, "DefaultActions", l.Protocol, st)
	}
	if lb != nil {
		for _, x := range lb.Listeners {
			if x.Port == l.Port {
				o.errf("Port", "%s already has listener %s on port %d", lb.LogicalID, x.LogicalID, l.Port)
			}
		}
		lb.Listeners = append(lb.Listeners, l)
	}
	r.obj = l
}

func (b *builder) listenerByARN(arn string) *model.Listener {
	for _, r := range b.order {
		if l, ok := r.obj.(*model.Listener); ok && l.ARN == arn {
			return l
		}
	}
	return nil
}

func (b *builder) buildListenerCertificate(r *resource, o, meta obj, st *model.Stack) {
	arn, ok := o.reqStr("ListenerArn", "the ARN of an HTTPS listener (!Ref of an AWS::ElasticLoadBalancingV2::Listener)")
	certs := b.listenerCertificates(o, "Certificates")
	if !o.has("Certificates") {
		o.missing("Certificates", "a list of [{CertificateArn: ...}]")
	}
	if !ok {
		return
	}
	l := b.listenerByARN(arn)
	if l == nil {
		o.errf("ListenerArn", "%q is not a listener of this stack", arn)
		return
	}
	if l.Protocol != "HTTPS" {
		o.errf("ListenerArn", "listener %s is %s; certificates can only be added to HTTPS listeners", l.LogicalID, l.Protocol)
		return
	}
	for _, c := range certs {
		dup := false
		for _, x := range l.Certificates {
			if x == c {
				dup = true
			}
		}
		if !dup {
			l.Certificates = append(l.Certificates, c)
		}
	}
}

// ---- actions (alb.md §5.3) ----

var actionKeys = []string{"AuthenticateCognitoConfig", "AuthenticateOidcConfig", "FixedResponseConfig", "ForwardConfig", "JwtValidationConfig", "Order", "RedirectConfig", "TargetGroupArn", "Type"}

// fixedResponseContentTypes implements alb.md §5.3 fixed-response ContentType.
var fixedResponseContentTypes = []string{"text/plain", "text/css", "text/html", "application/javascript", "application/json"}

func (b *builder) tgByARN(arn string, st *model.Stack) *model.TargetGroup {
	for _, tg := range st.TargetGroups {
		if tg.ARN == arn {
			return tg
		}
	}
	return nil
}

// actions implements alb.md §5.3: an ordered action list ending in exactly
// one terminal action (forward, redirect or fixed-response).
func (b *builder) actions(o obj, key, listenerProto string, st *model.Stack) []*model.Action {
	items, ok := o.list(key)
	if !ok && len(items) == 0 {
		return nil
	}
	if len(items) == 0 {
		o.errf(key, "needs one forward, redirect or fixed-response action")
		return nil
	}
	var out []*model.Action
	terminal := 0
	orders := map[int]bool{}
	for i, it := range items {
		it.keys(actionKeys)
		a := &model.Action{}
		typ, ok := it.enum("Type", "", true, "forward", "redirect", "fixed-response", "authenticate-oidc", "authenticate-cognito", "jwt-validation")
		if !ok {
			continue
		}
		order, _ := it.int("Order", int64(i+1), 1, 50000)
		a.Order = int(order)
		if orders[a.Order] {
			it.errf("Order", "order %d is used twice; each action needs its own Order", a.Order)
		}
		orders[a.Order] = true
		switch typ {
		case "authenticate-oidc", "authenticate-cognito", "jwt-validation":
			it.errf("Type", "%s", authActionNotEmulated(typ))
			continue
		case "forward":
			a.Type = model.ActionForward
			a.TargetGroups, a.TargetGroupStickiness = b.forward(it, st)
		case "redirect":
			a.Type = model.ActionRedirect
			a.Redirect = b.redirect(it, listenerProto)
		case "fixed-response":
			a.Type = model.ActionFixedResponse
			a.FixedResponse = b.fixedResponse(it)
		}
		for _, k := range []string{"ForwardConfig", "TargetGroupArn", "RedirectConfig", "FixedResponseConfig"} {
			if it.has(k) && !actionConfigFits(typ, k) {
				it.errf(k, "%s does not apply to a %s action", k, typ)
			}
		}
		terminal++
		out = append(out, a)
	}
	sort.SliceStable(out, func(i, j int) bool { return out[i].Order < out[j].Order })
	if terminal > 1 {
		o.errf(key, "has %d terminal actions; exactly one of forward, redirect or fixed-response is allowed", terminal)
	}
	return out
}

func actionConfigFits(typ, key string) bool {
	switch key {
	case "ForwardConfig", "TargetGroupArn":
		return typ == "forward"
	case "RedirectConfig":
		return typ == "redirect"
	case "FixedResponseConfig":
		return typ == "fixed-response"
	}
	return true
}

// forward implements alb.md §5.3 forward: TargetGroupArn, or
// ForwardConfig.TargetGroups with weights 0-999 (at most 5 groups).
func (b *builder) forward(it obj, st *model.Stack) (out []model.WeightedTargetGroup, sticky *model.TargetGroupStickiness) {
	lookup := func(o obj, key, arn string) *model.TargetGroup {
		tg := b.tgByARN(arn, st)
		if tg == nil {
			o.errf(key, "%q is not a target group of this stack; use !Ref of an AWS::ElasticLoadBalancingV2::TargetGroup", arn)
		}
		return tg
	}
	single, hasSingle := "", it.has("TargetGroupArn")
	if hasSingle {
		s, ok := it.str("TargetGroupArn", "")
		if ok {
			single = s
		}
	}
	fc, hasFC := it.child("ForwardConfig")
	if !hasSingle && !hasFC {
		it.missing("TargetGroupArn", "a forward action needs TargetGroupArn or ForwardConfig.TargetGroups")
		return nil, nil
	}
	if hasFC {
		fc.keys([]string{"TargetGroups", "TargetGroupStickinessConfig"})
		if sc, ok := fc.child("TargetGroupStickinessConfig"); ok {
			sc.keys([]string{"Enabled", "DurationSeconds"})
			en, _ := sc.bool("Enabled", false)
			d, okd := sc.int("DurationSeconds", 0, 1, 604800)
			if en && okd {
				if !sc.has("DurationSeconds") {
					sc.missing("DurationSeconds", "the stickiness duration, 1-604800 seconds")
				} else {
					sticky = &model.TargetGroupStickiness{Duration: time.Duration(d) * time.Second}
				}
			}
		}
		items, _ := fc.list("TargetGroups")
		if !fc.has("TargetGroups") {
			fc.missing("TargetGroups", "a list of {TargetGroupArn, Weight}")
		}
		if len(items) > 5 {
			fc.errf("TargetGroups", "has %d target groups; a forward action takes at most 5", len(items))
		}
		for _, t := range items {
			t.keys([]string{"TargetGroupArn", "Weight"})
			arn, ok := t.reqStr("TargetGroupArn", "the ARN of a target group")
			w, okw := t.int("Weight", DefaultForwardWeight, 0, 999)
			if !ok || !okw {
				continue
			}
			if tg := lookup(t, "TargetGroupArn", arn); tg != nil {
				out = append(out, model.WeightedTargetGroup{TargetGroup: tg, Weight: int(w)})
			}
		}
		if hasSingle && single != "" && (len(out) != 1 || out[0].TargetGroup.ARN != single) {
			it.errf("TargetGroupArn", "TargetGroupArn and ForwardConfig disagree; when both are given ForwardConfig must hold exactly that one target group")
		}
		return out, sticky
	}
	if single != "" {
		if tg := lookup(it, "TargetGroupArn", single); tg != nil {
			out = append(out, model.WeightedTargetGroup{TargetGroup: tg, Weight: 1})
		}
	}
	return out, nil
}

// DefaultForwardWeight is the weight of a ForwardConfig target group without
// Weight. UNCONFIRMED: the API reference does not state a default; 1 matches
// how a plain TargetGroupArn is represented.
const DefaultForwardWeight = 1

var redirectPortRe = regexp.MustCompile(`^([0-9]{1,5}|#\{port\})$`)

// redirect implements alb.md §5.3 RedirectConfig.
func (b *builder) redirect(it obj, listenerProto string) *model.RedirectConfig {
	rc, ok := it.child("RedirectConfig")
	if !ok {
		it.missing("RedirectConfig", "{StatusCode: HTTP_301 or HTTP_302, and Protocol/Port/Host/Path/Query to change}")
		return nil
	}
	rc.keys([]string{"Host", "Path", "Port", "Protocol", "Query", "StatusCode"})
	out := &model.RedirectConfig{}
	out.Protocol, _ = rc.enum("Protocol", "", false, "HTTP", "HTTPS", "#{protocol}")
	if out.Protocol == "HTTP" && listenerProto == "HTTPS" {
		rc.errf("Protocol", "a redirect from HTTPS to HTTP is not allowed; use HTTPS or #{protocol}")
	}
	if p, ok := rc.str("Port", ""); ok && p != "" {
		if !redirectPortRe.MatchString(p) {
			rc.errf("Port", "%q must be a port 1-65535 or #{port}", p)
		} else if n, err := strconv.Atoi(p); err == nil && (n < 1 || n > 65535) {
			rc.errf("Port", "%q must be a port 1-65535 or #{port}", p)
		} else {
			out.Port = p
		}
	}
	out.Host, _ = rc.str("Host", "")
	if len(out.Host) > 128 || (rc.has("Host") && out.Host == "") {
		rc.errf("Host", "must be 1-128 characters")
	}
	out.Path, _ = rc.str("Path", "")
	if rc.has("Path") && (out.Path == "" || len(out.Path) > 128 || !strings.HasPrefix(out.Path, "/")) {
		rc.errf("Path", "%q must be an absolute path of 1-128 characters, starting with /", out.Path)
	}
	out.Query, _ = rc.str("Query", "")
	if len(out.Query) > 128 || strings.HasPrefix(out.Query, "?") {
		rc.errf("Query", "%q must be at most 128 characters, without a leading ?", out.Query)
	}
	out.StatusCode, _ = rc.enum("StatusCode", "", true, "HTTP_301", "HTTP_302")
	keep := func(v, ph string) bool { return v == "" || v == ph }
	if keep(out.Protocol, "#{protocol}") && keep(out.Port, "#{port}") && keep(out.Host, "#{host}") && keep(out.Path, "/#{path}") {
		it.errf("RedirectConfig", "the redirect would loop: change at least one of Protocol, Port, Host or Path")
	}
	return out
}

var fixedStatusRe = regexp.MustCompile(`^[245][0-9][0-9]$`)

// fixedResponse implements alb.md §5.3 FixedResponseConfig.
func (b *builder) fixedResponse(it obj) *model.FixedResponseConfig {
	fc, ok := it.child("FixedResponseConfig")
	if !ok {
		it.missing("FixedResponseConfig", "{StatusCode: \"2XX|4XX|5XX\", ContentType, MessageBody}")
		return nil
	}
	fc.keys([]string{"ContentType", "MessageBody", "StatusCode"})
	out := &model.FixedResponseConfig{}
	if s, ok := fc.reqStr("StatusCode", "a 2XX, 4XX or 5XX status code as a string"); ok {
		if !fixedStatusRe.MatchString(s) {
			fc.errf("StatusCode", "%q is not a 2XX, 4XX or 5XX status code", s)
		} else {
			out.StatusCode, _ = strconv.Atoi(s)
		}
	}
	out.ContentType, _ = fc.enum("ContentType", "", false, fixedResponseContentTypes...)
	out.MessageBody, _ = fc.str("MessageBody", "")
	if len(out.MessageBody) > 1024 {
		fc.errf("MessageBody", "is %d characters; at most 1024 are allowed", len(out.MessageBody))
	}
	return out
}

// ---- AWS::ElasticLoadBalancingV2::ListenerRule (alb.md §5.1, §5.2) ----

var conditionFields = []string{"host-header", "path-pattern", "http-header", "http-request-method", "query-string", "source-ip"}

var (
	hostPatternRe   = regexp.MustCompile(`^[A-Za-z0-9.*?-]{1,128}$`)
	pathPatternRe   = regexp.MustCompile(`^[A-Za-z0-9_\-.$/~"'@:+&*?]{1,128}$`)
	methodPatternRe = regexp.MustCompile(`^[A-Z_-]{1,40}$`)
)

func (b *builder) buildRule(r *resource, o, meta obj, st *model.Stack) {
	rule := &model.Rule{LogicalID: r.id, ARN: r.ref}
	var l *model.Listener
	if arn, ok := o.reqStr("ListenerArn", "the ARN of a listener (!Ref of an AWS::ElasticLoadBalancingV2::Listener)"); ok {
		if l = b.listenerByARN(arn); l == nil {
			o.errf("ListenerArn", "%q is not a listener of this stack", arn)
		}
	}
	pr, okp := o.reqInt("Priority", 1, 50000)
	rule.Priority = int(pr)
	rule.Transforms = b.transforms(o)
	rule.Conditions = b.conditions(o)
	proto := ""
	if l != nil {
		proto = l.Protocol
	}
	if !o.has("Actions") {
		o.missing("Actions", "a list with one forward, redirect or fixed-response action")
	} else {
		rule.Actions = b.actions(o, "Actions", proto, st)
	}
	if l != nil {
		if okp {
			for _, x := range l.Rules {
				if x.Priority == rule.Priority {
					o.errf("Priority", "priority %d is already used by %s on listener %s; priorities are unique per listener", rule.Priority, x.LogicalID, l.LogicalID)
				}
			}
		}
		l.Rules = append(l.Rules, rule)
	}
	r.obj = rule
}

// conditions implements alb.md §5.1–5.2: fields, typed configs, value limits
// (3 per condition, 5 per rule, source-ip 5) and once-per-rule fields.
func (b *builder) conditions(o obj) []*model.Condition {
	items, _ := o.list("Conditions")
	if !o.has("Conditions") {
		o.missing("Conditions", "at least one condition (host-header, path-pattern, http-header, http-request-method, query-string or source-ip)")
		return nil
	}
	var out []*model.Condition
	once := map[string]bool{}
	total := 0
	for _, it := range items {
		it.keys([]string{"Field", "HostHeaderConfig", "HttpHeaderConfig", "HttpRequestMethodConfig", "PathPatternConfig", "QueryStringConfig", "RegexValues", "SourceIpConfig", "Values"})
		field, ok := it.enum("Field", "", true, conditionFields...)
		if !ok {
			continue
		}
		if field != "http-header" && field != "query-string" {
			if once[field] {
				it.errf("Field", "%s can appear only once per rule", field)
			}
			once[field] = true
		}
		c := &model.Condition{Field: field}
		c.RegexValues = b.regexValues(it, field)
		cfgKey := map[string]string{"host-header": "HostHeaderConfig", "path-pattern": "PathPatternConfig", "http-header": "HttpHeaderConfig", "http-request-method": "HttpRequestMethodConfig", "query-string": "QueryStringConfig", "source-ip": "SourceIpConfig"}[field]
		for _, k := range []string{"HostHeaderConfig", "PathPatternConfig", "HttpHeaderConfig", "HttpRequestMethodConfig", "QueryStringConfig", "SourceIpConfig"} {
			if k != cfgKey && it.has(k) {
				it.errf(k, "%s does not apply to a %s condition (use %s)", k, field, cfgKey)
			}
		}
		valuesPath := it.p("Values")
		valuesLine := it.line("Values")
		if it.has("Values") {
			if field != "host-header" && field != "path-pattern" {
				it.errf("Values", "condition-level Values apply only to host-header and path-pattern; use %s", cfgKey)
				continue
			}
			c.Values, _ = it.strList("Values")
		}
		if cfg, ok := it.child(cfgKey); ok {
			valuesPath, valuesLine = cfg.p("Values"), cfg.line("Values")
			switch field {
			case "http-header":
				cfg.keys([]string{"HttpHeaderName", "Values", "RegexValues"})
				name, ok := cfg.reqStr("HttpHeaderName", "the header name")
				if ok {
					if len(name) > 40 || name == "" || strings.ContainsAny(name, "*?") {
						cfg.errf("HttpHeaderName", "%q must be 1-40 characters without wildcards", name)
					} else if strings.EqualFold(name, "host") {
						cfg.errf("HttpHeaderName", "use a host-header condition to match Host")
					}
					c.HTTPHeaderName = name
				}
			case "query-string":
				cfg.keys([]string{"Values"})
				kvs, _ := cfg.list("Values")
				for _, kv := range kvs {
					kv.keys([]string{"Key", "Value"})
					k, _ := kv.str("Key", "")
					v, ok := kv.reqStr("Value", "the value to match (wildcards allowed)")
					if ok {
						c.QueryStrings = append(c.QueryStrings, model.KeyValue{Key: k, Value: v})
					}
				}
			default:
				cfg.keys([]string{"Values", "RegexValues"})
			}
			if rv := b.regexValues(cfg, field); len(rv) > 0 {
				c.RegexValues = append(c.RegexValues, rv...)
			}
			if field != "query-string" {
				vs, _ := cfg.strList("Values")
				if len(c.Values) > 0 && len(vs) > 0 && strings.Join(vs, "\x00") != strings.Join(c.Values, "\x00") {
					cfg.errf("Values", "differs from the condition's Values; give one of them")
				}
				if len(vs) > 0 {
					c.Values = vs
				}
			}
		}
		n := len(c.Values) + len(c.QueryStrings) + len(c.RegexValues)
		if n == 0 && (it.has("RegexValues") || (it.has(cfgKey) && it.n.get(cfgKey).get("RegexValues") != nil)) {
			continue // the bad regexes are reported already
		}
		if n == 0 {
			b.errs.add(it.n.line, it.path, "condition %s has no values; give %s.Values", field, cfgKey)
			continue
		}
		limit := 3
		if field == "source-ip" {
			limit = 5
		}
		if n > limit {
			b.errs.add(valuesLine, valuesPath, "has %d values; a %s condition takes at most %d", n, field, limit)
		}
		total += n
		for i, v := range c.Values {
			if err := conditionValue(field, v); err != nil {
				b.errs.add(valuesLine, idx(valuesPath, i), "%v", err)
			}
		}
		out = append(out, c)
	}
	if total > 5 {
		o.errf("Conditions", "has %d condition values in total; a rule takes at most 5", total)
	}
	if w := ruleWildcards(out); w > maxWildcardsPerRule {
		o.errf("Conditions", "has %d wildcards (* and ?) in total; a rule takes at most %d", w, maxWildcardsPerRule)
	}
	return out
}

// conditionValue implements the per-field value rules of alb.md §5.2.
func conditionValue(field, v string) error {
	switch field {
	case "host-header":
		if !hostPatternRe.MatchString(v) {
			return fmt.Errorf("%q is not a host pattern: 1-128 characters of A-Z a-z 0-9 - . and wildcards * ?", v)
		}
	case "path-pattern":
		if !pathPatternRe.MatchString(v) {
			return fmt.Errorf("%q is not a path pattern: 1-128 characters of A-Z a-z 0-9 _ - . $ / ~ \" ' @ : + & and wildcards * ?", v)
		}
	case "http-request-method":
		if !methodPatternRe.MatchString(v) {
			return fmt.Errorf("%q is not a method: 1-40 characters of A-Z, - and _ (case-sensitive, no wildcards)", v)
		}
	case "http-header":
		if v == "" || len(v) > 128 {
			return fmt.Errorf("header values must be 1-128 characters")
		}
	case "source-ip":
		if _, err := netip.ParsePrefix(v); err != nil {
			return fmt.Errorf("%q is not a CIDR block (like 192.0.2.0/24 or 2001:db8::/32)", v)
		}
		if v == "255.255.255.255/32" {
			return fmt.Errorf("255.255.255.255/32 is not allowed")
		}
	}
	return nil
}

// finishLoadBalancers sorts rules by priority and checks that a target group
// serves one load balancer only (alb.md §6.1).
func (b *builder) finishLoadBalancers(st *model.Stack) {
	owner := map[*model.TargetGroup]*model.LoadBalancer{}
	for _, lb := range st.LoadBalancers {
		for _, l := range lb.Listeners {
			sort.SliceStable(l.Rules, func(i, j int) bool { return l.Rules[i].Priority < l.Rules[j].Priority })
			b.listenerTargetGroupRules(l)
			acts := append([]*model.Action(nil), l.DefaultActions...)
			for _, r := range l.Rules {
				acts = append(acts, r.Actions...)
			}
			for _, a := range acts {
				for _, w := range a.TargetGroups {
					if prev, ok := owner[w.TargetGroup]; ok && prev != lb {
						res := b.res[w.TargetGroup.LogicalID]
						b.errs.add(res.line, sub("Resources", res.id), "target group %s is used by load balancers %s and %s; a target group can serve only one load balancer", w.TargetGroup.LogicalID, prev.LogicalID, lb.LogicalID)
					}
					owner[w.TargetGroup] = lb
				}
			}
		}
	}
}
