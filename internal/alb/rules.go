package alb

import (
	"fmt"
	"net/http"
	"net/netip"
	"net/url"
	"sort"
	"strings"

	"github.com/kumo-dev/kumo/internal/model"
)

// listener is one compiled listener: its TLS, rules and default actions.
type listener struct {
	lb     *LoadBalancer
	model  *model.Listener
	https  bool
	scheme string // http or https
	port   string // the modeled port, as text
	tls    *listenerTLS
	rules  []*rule // by priority, the default rule last (priority 0)

	// schemeValue and portValue are the X-Forwarded-Proto and
	// X-Forwarded-Port values, shared by every request to a target.
	schemeValue, portValue []string
}

// rule is one compiled listener rule; the default rule has no conditions and
// priority 0 (access-log matched_rule_priority, alb.md §1.3 #21).
type rule struct {
	priority   int
	conds      []condition
	action     *action
	transforms *ruleTransforms // nil when the rule has none (alb.md §5.4)
}

// condition is one compiled rule condition; its values are OR-ed.
type condition interface {
	match(r *http.Request, peer netip.Addr) bool
}

func (lb *LoadBalancer) compileListener(ml *model.Listener) (*listener, error) {
	l := &listener{lb: lb, model: ml, port: fmt.Sprint(ml.Port)}
	switch ml.Protocol {
	case "HTTP":
		l.scheme = "http"
	case "HTTPS":
		l.scheme, l.https = "https", true
		t, err := newListenerTLS(ml, lb.cfg.Certs, lb.cfg.LB.Attributes["routing.http2.enabled"] != "false")
		if err != nil {
			return nil, err
		}
		l.tls = t
	default:
		return nil, fmt.Errorf("unsupported listener protocol %q (want HTTP or HTTPS)", ml.Protocol)
	}
	if ml.Port < 1 || ml.Port > 65535 {
		return nil, fmt.Errorf("listener port %d out of range 1-65535", ml.Port)
	}
	l.schemeValue, l.portValue = []string{l.scheme}, []string{l.port}
	mrules := append([]*model.Rule(nil), ml.Rules...)
	sort.SliceStable(mrules, func(i, j int) bool { return mrules[i].Priority < mrules[j].Priority })
	for _, mr := range mrules {
		if mr.Priority < 1 || mr.Priority > 50000 {
			return nil, fmt.Errorf("rule %s: priority %d out of range 1-50000", mr.LogicalID, mr.Priority)
		}
		r := &rule{priority: mr.Priority}
		for _, mc := range mr.Conditions {
			c, err := compileCondition(mc)
			if err != nil {
				return nil, fmt.Errorf("rule %d: %w", mr.Priority, err)
			}
			r.conds = append(r.conds, c)
		}
		if len(r.conds) == 0 {
			return nil, fmt.Errorf("rule %d has no conditions", mr.Priority)
		}
		a, err := lb.compileActions(mr.Actions)
		if err != nil {
			return nil, fmt.Errorf("rule %d: %w", mr.Priority, err)
		}
		r.action = a
		if r.transforms, err = compileTransforms(mr.Transforms); err != nil {
			return nil, fmt.Errorf("rule %d: %w", mr.Priority, err)
		}
		l.rules = append(l.rules, r)
	}
	a, err := lb.compileActions(ml.DefaultActions)
	if err != nil {
		return nil, fmt.Errorf("default actions: %w", err)
	}
	l.rules = append(l.rules, &rule{priority: 0, action: a})
	return l, nil
}

// matchRule implements alb.md §5.1: rules in priority order, the first whose
// conditions all match wins, the default rule last.
func (l *listener) matchRule(r *http.Request, peer netip.Addr) *rule {
	for _, ru := range l.rules {
		ok := true
		for _, c := range ru.conds {
			if !c.match(r, peer) {
				ok = false
				break
			}
		}
		if ok {
			return ru
		}
	}
	return l.rules[len(l.rules)-1]
}

func compileCondition(mc *model.Condition) (condition, error) {
	if len(mc.RegexValues) > 0 {
		return compileRegexCondition(mc)
	}
	if mc.Field != "query-string" && len(mc.Values) == 0 {
		return nil, fmt.Errorf("%s condition has no values", mc.Field)
	}
	for _, v := range mc.Values {
		if v == "" {
			return nil, fmt.Errorf("%s condition has an empty value", mc.Field)
		}
	}
	switch mc.Field {
	case "host-header":
		return hostCondition(lowerAll(mc.Values)), nil
	case "path-pattern":
		return pathCondition(mc.Values), nil
	case "http-header":
		if mc.HTTPHeaderName == "" {
			return nil, fmt.Errorf("http-header condition has no header name")
		}
		return headerCondition{name: http.CanonicalHeaderKey(mc.HTTPHeaderName), values: lowerAll(mc.Values)}, nil
	case "http-request-method":
		return methodCondition(mc.Values), nil
	case "query-string":
		if len(mc.QueryStrings) == 0 {
			return nil, fmt.Errorf("query-string condition has no values")
		}
		q := make(queryCondition, len(mc.QueryStrings))
		for i, kv := range mc.QueryStrings {
			if kv.Value == "" {
				return nil, fmt.Errorf("query-string condition has an empty value")
			}
			q[i] = model.KeyValue{Key: strings.ToLower(kv.Key), Value: strings.ToLower(kv.Value)}
		}
		return q, nil
	case "source-ip":
		var c sourceIPCondition
		for _, v := range mc.Values {
			p, err := netip.ParsePrefix(v)
			if err != nil {
				return nil, fmt.Errorf("source-ip condition: %q is not a CIDR block: %w", v, err)
			}
			c = append(c, p.Masked())
		}
		return c, nil
	}
	return nil, fmt.Errorf("unsupported condition field %q", mc.Field)
}

func lowerAll(vs []string) []string {
	out := make([]string, len(vs))
	for i, v := range vs {
		out[i] = strings.ToLower(v)
	}
	return out
}

// hostCondition implements the host-header condition (alb.md §5.2):
// case-insensitive, wildcards, against the first Host header with its port
// stripped (UNCONFIRMED: the reference suggests stripping).
type hostCondition []string

func (c hostCondition) match(r *http.Request, _ netip.Addr) bool {
	host := hostWithoutPort(r.Host)
	for _, p := range c {
		if wildcardMatch(p, host, true, false) {
			return true
		}
	}
	return false
}

// pathCondition implements the path-pattern condition (alb.md §5.2):
// case-sensitive, against the whole path without the query, as sent (not
// percent-decoded: UNCONFIRMED); `*` may span `/`.
type pathCondition []string

func (c pathCondition) match(r *http.Request, _ netip.Addr) bool {
	path := requestPath(r)
	for _, p := range c {
		if wildcardMatch(p, path, false, false) {
			return true
		}
	}
	return false
}

// requestPath is the path as the client sent it, without the query.
func requestPath(r *http.Request) string {
	p := r.URL.EscapedPath()
	if p == "" {
		p = "/"
	}
	return p
}

// headerCondition implements the http-header condition (alb.md §5.2):
// case-insensitive values with wildcards; repeated headers are tried in turn.
type headerCondition struct {
	name   string
	values []string
}

func (c headerCondition) match(r *http.Request, _ netip.Addr) bool {
	for _, hv := range r.Header[c.name] {
		for _, p := range c.values {
			if wildcardMatch(p, hv, true, false) {
				return true
			}
		}
	}
	return false
}

// methodCondition implements http-request-method (alb.md §5.2): exact and
// case-sensitive.
type methodCondition []string

func (c methodCondition) match(r *http.Request, _ netip.Addr) bool {
	for _, m := range c {
		if m == r.Method {
			return true
		}
	}
	return false
}

// queryCondition implements query-string (alb.md §5.2): case-insensitive key
// and value with wildcards (`\` escapes a literal `*` or `?`); a pair without
// a key matches any key's value; any listed pair present matches.
type queryCondition []model.KeyValue

func (c queryCondition) match(r *http.Request, _ netip.Addr) bool {
	q := r.URL.RawQuery
	for q != "" {
		var part string
		part, q, _ = strings.Cut(q, "&")
		if part == "" {
			continue
		}
		k, v, _ := strings.Cut(part, "=")
		k, v = queryComponent(k), queryComponent(v)
		for _, kv := range c {
			if kv.Key != "" && !wildcardMatch(kv.Key, k, true, true) {
				continue
			}
			if wildcardMatch(kv.Value, v, true, true) {
				return true
			}
		}
	}
	return false
}

// queryComponent percent-decodes one query key or value before matching
// (UNCONFIRMED, alb.md §5.2: decoding before matching is not documented); an
// undecodable component is matched as sent.
func queryComponent(s string) string {
	if !strings.ContainsAny(s, "%+") {
		return s
	}
	d, err := url.QueryUnescape(s)
	if err != nil {
		return s
	}
	return d
}

// sourceIPCondition implements source-ip (alb.md §5.2): the TCP peer address,
// never X-Forwarded-For.
type sourceIPCondition []netip.Prefix

func (c sourceIPCondition) match(_ *http.Request, peer netip.Addr) bool {
	if !peer.IsValid() {
		return false
	}
	peer = peer.Unmap()
	for _, p := range c {
		if p.Contains(peer) {
			return true
		}
	}
	return false
}

// wildcardMatch matches s against pattern, where `*` is any run of
// characters (including `/`) and `?` is exactly one; the whole of s must
// match (alb.md §5.2). fold makes it ASCII case-insensitive (pattern must
// then be lowercase); escapes lets `\` quote a following `*`, `?` or `\`.
func wildcardMatch(pattern, s string, fold, escapes bool) bool {
	pi, si := 0, 0
	starP, starS := -1, 0
	for si < len(s) {
		if pi < len(pattern) {
			pc := pattern[pi]
			lit := false
			step := 1
			if escapes && pc == '\\' && pi+1 < len(pattern) {
				pc, lit, step = pattern[pi+1], true, 2
			}
			switch {
			case pc == '*' && !lit:
				starP, starS = pi, si
				pi++
				continue
			case pc == '?' && !lit:
				pi++
				si++
				continue
			default:
				sc := s[si]
				if fold && 'A' <= sc && sc <= 'Z' {
					sc += 'a' - 'A'
				}
				if sc == pc {
					pi += step
					si++
					continue
				}
			}
		}
		if starP < 0 {
			return false
		}
		starS++
		si = starS
		pi = starP + 1
	}
	for pi < len(pattern) && pattern[pi] == '*' {
		pi++
	}
	return pi == len(pattern)
}

// hostWithoutPort strips a port (and IPv6 brackets' port) from a Host value.
func hostWithoutPort(h string) string {
	if h == "" {
		return h
	}
	if h[0] == '[' {
		if i := strings.IndexByte(h, ']'); i > 0 {
			return h[:i+1]
		}
		return h
	}
	if i := strings.LastIndexByte(h, ':'); i >= 0 && strings.IndexByte(h, ':') == i {
		return h[:i]
	}
	return h
}
