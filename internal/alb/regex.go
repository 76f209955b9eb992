package alb

import (
	"fmt"
	"net/http"
	"net/netip"
	"regexp"
	"strings"

	"github.com/kumo-dev/kumo/internal/model"
)

// maxRuleRegexLen is the length limit of a RegexValues entry (alb.md §5.2).
const maxRuleRegexLen = 128

// maxTransformRegexLen is the length limit of a transform's Regex and
// Replace (alb.md §5.4).
const maxTransformRegexLen = 1024

// unsupportedRegexConstructs lists the regex features AWS rejects in rule
// conditions and transforms (alb.md §5.2, §5.4: lookahead/lookbehind,
// backreferences, atomic groups, possessive quantifiers, subroutines,
// recursion, Unicode classes), each with a token that introduces it; the
// escapes (\1-\9, \g, \k, \p, \P) are found by unsupportedRegexFeature.
var unsupportedRegexConstructs = [...]struct{ token, what string }{
	{"(?=", "lookahead"}, {"(?!", "lookahead"}, {"(?<=", "lookbehind"}, {"(?<!", "lookbehind"},
	{"(?>", "atomic groups"}, {"(?R)", "recursion"}, {"(?&", "subroutines"}, {"(?P>", "subroutines"},
	{"*+", "possessive quantifiers"}, {"++", "possessive quantifiers"}, {"?+", "possessive quantifiers"}, {"}+", "possessive quantifiers"},
}

// CompileRuleRegex implements the regex rules of alb.md §5.2 and §5.4: the
// expression must not use lookaround, backreferences, atomic groups,
// possessive quantifiers, subroutines, recursion or Unicode classes, must
// be valid RE2 (Go regexp) and at most limit characters long. stack calls it
// to reject a template at load; New calls it again to compile.
func CompileRuleRegex(expr string, limit int) (*regexp.Regexp, error) {
	if expr == "" {
		return nil, fmt.Errorf("regex is empty")
	}
	if len(expr) > limit {
		return nil, fmt.Errorf("regex is %d characters; at most %d are allowed", len(expr), limit)
	}
	if what := unsupportedRegexFeature(expr); what != "" {
		return nil, fmt.Errorf("regex %q uses %s, which ALB regexes do not support", expr, what)
	}
	re, err := regexp.Compile(expr)
	if err != nil {
		return nil, fmt.Errorf("regex %q: %w", expr, err)
	}
	return re, nil
}

// unsupportedRegexFeature names the first unsupported construct in expr
// ("" if none). Escaped characters and character classes ([...]) are
// skipped, except the escapes that introduce a backreference (\1-\9), a
// Unicode class (\p, \P) or \g/\k.
func unsupportedRegexFeature(expr string) string {
	inClass := false
	for i := 0; i < len(expr); i++ {
		c := expr[i]
		if c == '\\' && i+1 < len(expr) {
			n := expr[i+1]
			switch {
			case n == 'p' || n == 'P':
				return "Unicode character classes"
			case inClass:
			case n >= '1' && n <= '9':
				return "backreferences"
			case n == 'g' || n == 'k':
				return "backreferences/subroutines"
			}
			i++
			continue
		}
		if inClass {
			if c == ']' {
				inClass = false
			}
			continue
		}
		if c == '[' {
			inClass = true
			// A ']' right after '[' or '[^' is a literal member.
			if i+1 < len(expr) && expr[i+1] == '^' {
				i++
			}
			if i+1 < len(expr) && expr[i+1] == ']' {
				i++
			}
			continue
		}
		rest := expr[i:]
		for _, u := range unsupportedRegexConstructs {
			if strings.HasPrefix(rest, u.token) {
				return u.what
			}
		}
	}
	return ""
}

// regexMatch matches one compiled RegexValue against a value.
// UNCONFIRMED (alb.md §5.2, §8 item 9: anchoring is not documented): kumo
// matches anywhere in the value, like Go's MatchString; AWS's examples
// anchor with ^ and $ themselves.
func regexMatch(re *regexp.Regexp, s string) bool {
	return re.MatchString(s)
}

// compileRegexValues compiles a condition's RegexValues.
func compileRegexValues(field string, vs []string) ([]*regexp.Regexp, error) {
	out := make([]*regexp.Regexp, 0, len(vs))
	for _, v := range vs {
		re, err := CompileRuleRegex(v, maxRuleRegexLen)
		if err != nil {
			return nil, fmt.Errorf("%s condition: %w", field, err)
		}
		out = append(out, re)
	}
	return out, nil
}

// hostRegexCondition implements host-header RegexValues (alb.md §5.2):
// against the first Host header without its port; any regex matching wins.
// Host values are lowercased first, as wildcard matching is
// case-insensitive (UNCONFIRMED for regexes: AWS hostnames are
// case-insensitive, so a regex written in lowercase matches any case).
type hostRegexCondition []*regexp.Regexp

func (c hostRegexCondition) match(r *http.Request, _ netip.Addr) bool {
	host := strings.ToLower(hostWithoutPort(r.Host))
	for _, re := range c {
		if regexMatch(re, host) {
			return true
		}
	}
	return false
}

// pathRegexCondition implements path-pattern RegexValues (alb.md §5.2):
// case-sensitive, against the path as sent, without the query.
type pathRegexCondition []*regexp.Regexp

func (c pathRegexCondition) match(r *http.Request, _ netip.Addr) bool {
	path := requestPath(r)
	for _, re := range c {
		if regexMatch(re, path) {
			return true
		}
	}
	return false
}

// headerRegexCondition implements http-header RegexValues (alb.md §5.2):
// each value of the named header is tried in turn.
type headerRegexCondition struct {
	name string
	res  []*regexp.Regexp
}

func (c headerRegexCondition) match(r *http.Request, _ netip.Addr) bool {
	for _, hv := range r.Header[c.name] {
		for _, re := range c.res {
			if regexMatch(re, hv) {
				return true
			}
		}
	}
	return false
}

// anyCondition ORs a condition's wildcard Values with its RegexValues.
type anyCondition []condition

func (c anyCondition) match(r *http.Request, peer netip.Addr) bool {
	for _, x := range c {
		if x.match(r, peer) {
			return true
		}
	}
	return false
}

// compileRegexCondition compiles a host-header, path-pattern or http-header
// condition with RegexValues (alb.md §5.2): its wildcard Values and its
// regexes are OR-ed like the values of one condition.
func compileRegexCondition(mc *model.Condition) (condition, error) {
	res, err := compileRegexValues(mc.Field, mc.RegexValues)
	if err != nil {
		return nil, err
	}
	var rc condition
	switch mc.Field {
	case "host-header":
		rc = hostRegexCondition(res)
	case "path-pattern":
		rc = pathRegexCondition(res)
	case "http-header":
		if mc.HTTPHeaderName == "" {
			return nil, fmt.Errorf("http-header condition has no header name")
		}
		rc = headerRegexCondition{name: http.CanonicalHeaderKey(mc.HTTPHeaderName), res: res}
	default:
		return nil, fmt.Errorf("%s conditions take no RegexValues (only host-header, path-pattern and http-header do)", mc.Field)
	}
	if len(mc.Values) == 0 {
		return rc, nil
	}
	plain := *mc
	plain.RegexValues = nil
	wc, err := compileCondition(&plain)
	if err != nil {
		return nil, err
	}
	return anyCondition{wc, rc}, nil
}
