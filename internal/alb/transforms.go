package alb

import (
	"fmt"
	"net/http"
	"net/url"
	"regexp"
	"strings"

	"github.com/kumo-dev/kumo/internal/model"
)

// Request transform statuses logged in access-log field 33 (alb.md §1.3
// #33, §5.4). UNCONFIRMED: AWS documents no value vocabulary (only "-" has
// been observed); kumo logs these two names, and "-" when no transform's
// regex matched.
const (
	TransformStatusSuccess = "Success"
	TransformStatusFailed  = "Failed"
)

// FailureTransformFailed: a rule transform's regex matched but the rewrite
// gave an invalid host or URL → 500 (alb.md §5.4), target "-", timings
// -1 -1 -1.
const FailureTransformFailed Failure = "TransformFailed"

// ruleTransforms is a rule's compiled transforms (alb.md §5.4).
type ruleTransforms struct {
	host []rewrite
	url  []rewrite
}

// rewrite is one compiled Regex/Replace pair.
type rewrite struct {
	re   *regexp.Regexp
	tmpl string // Replace with $n turned into ${n} for regexp.Expand
}

// compileTransforms implements the transform limits of alb.md §5.4: at most
// one host-header-rewrite and one url-rewrite per rule, each regex and
// replacement at most 1024 characters, regexes without the unsupported
// features of §5.2.
func compileTransforms(mts []*model.Transform) (*ruleTransforms, error) {
	if len(mts) == 0 {
		return nil, nil
	}
	rt := &ruleTransforms{}
	seen := map[string]bool{}
	for _, mt := range mts {
		if mt == nil {
			return nil, fmt.Errorf("nil transform")
		}
		if seen[mt.Type] {
			return nil, fmt.Errorf("two %s transforms; a rule takes at most one of each type", mt.Type)
		}
		seen[mt.Type] = true
		if len(mt.Rewrites) == 0 {
			return nil, fmt.Errorf("%s transform has no rewrites", mt.Type)
		}
		var list []rewrite
		for _, rw := range mt.Rewrites {
			re, err := CompileRuleRegex(rw.Regex, maxTransformRegexLen)
			if err != nil {
				return nil, fmt.Errorf("%s transform: %w", mt.Type, err)
			}
			if len(rw.Replace) > maxTransformRegexLen {
				return nil, fmt.Errorf("%s transform: Replace is %d characters; at most %d are allowed", mt.Type, len(rw.Replace), maxTransformRegexLen)
			}
			list = append(list, rewrite{re: re, tmpl: replaceTemplate(rw.Replace)})
		}
		switch mt.Type {
		case model.TransformHostHeaderRewrite:
			rt.host = list
		case model.TransformURLRewrite:
			rt.url = list
		default:
			return nil, fmt.Errorf("unknown transform type %q (want host-header-rewrite or url-rewrite)", mt.Type)
		}
	}
	return rt, nil
}

// replaceTemplate turns AWS's $1, $2 ... capture references into Go's
// ${1}, ${2} so "$1x" keeps its x (Go would read "$1x" as a group named 1x).
func replaceTemplate(s string) string {
	if !strings.Contains(s, "$") {
		return s
	}
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		if s[i] == '$' && i+1 < len(s) && s[i+1] >= '0' && s[i+1] <= '9' {
			j := i + 1
			for j < len(s) && s[j] >= '0' && s[j] <= '9' {
				j++
			}
			b.WriteString("${" + s[i+1:j] + "}")
			i = j - 1
			continue
		}
		if s[i] == '$' {
			b.WriteString("$$") // a lone $ is literal
			continue
		}
		b.WriteByte(s[i])
	}
	return b.String()
}

// applyRewrite implements one transform (alb.md §5.4): the first rewrite
// whose regex matches replaces the matched part of s with its Replace,
// capture references expanded. UNCONFIRMED: AWS does not say whether
// several Rewrites chain or whether every match is replaced; kumo applies
// the first matching rewrite once. matched is false when no regex matched
// (the request then goes on unchanged).
func applyRewrite(list []rewrite, s string) (out string, matched bool) {
	for _, rw := range list {
		loc := rw.re.FindStringSubmatchIndex(s)
		if loc == nil {
			continue
		}
		dst := make([]byte, 0, len(s)+len(rw.tmpl))
		dst = append(dst, s[:loc[0]]...)
		dst = rw.re.ExpandString(dst, rw.tmpl, s, loc)
		dst = append(dst, s[loc[1]:]...)
		return string(dst), true
	}
	return s, false
}

// transformURI is the input of a url-rewrite: the path and, when present,
// "?" and the query, as the client sent them. UNCONFIRMED (alb.md §5.4:
// whether url-rewrite sees the path only or path and query is not
// documented; AWS's example rewrites a path into "/product.php?id=$1").
func transformURI(r *http.Request) string {
	if r.URL.RawQuery == "" && !r.URL.ForceQuery {
		return requestPath(r)
	}
	return requestPath(r) + "?" + r.URL.RawQuery
}

// validTransformedHost reports whether a rewritten Host is usable: 1-255
// visible characters of a host name or IP literal with an optional port.
// A rewrite that gives anything else fails with 500 (alb.md §5.4).
func validTransformedHost(h string) bool {
	if h == "" || len(h) > 255 {
		return false
	}
	for i := 0; i < len(h); i++ {
		c := h[i]
		ok := c == '-' || c == '.' || c == ':' || c == '[' || c == ']' || c == '_' ||
			('a' <= c && c <= 'z') || ('A' <= c && c <= 'Z') || ('0' <= c && c <= '9')
		if !ok {
			return false
		}
	}
	return true
}

// applyTransforms implements alb.md §5.4 for a matched rule: after routing,
// rewrite the Host and the URL of r in place and record fields 31–33. It
// returns false when a regex matched but the rewrite gave an invalid value
// (→ 500).
func (ex *exchange) applyTransforms(r *http.Request, rt *ruleTransforms) bool {
	rec := &ex.rec
	applied := false
	if rt.host != nil {
		if h, ok := applyRewrite(rt.host, r.Host); ok {
			applied = true
			if !validTransformedHost(h) {
				rec.RequestTransformStatus = TransformStatusFailed
				return false
			}
			r.Host = h
			rec.TransformedHost = h
		}
	}
	if rt.url != nil {
		if u, ok := applyRewrite(rt.url, transformURI(r)); ok {
			applied = true
			nu, err := url.ParseRequestURI(u)
			if err != nil || !strings.HasPrefix(u, "/") || strings.ContainsAny(u, " \t\r\n") {
				rec.RequestTransformStatus = TransformStatusFailed
				return false
			}
			r.URL.Path, r.URL.RawPath, r.URL.RawQuery = nu.Path, nu.RawPath, nu.RawQuery
			rec.TransformedURI = u
		}
	}
	if applied {
		rec.RequestTransformStatus = TransformStatusSuccess
	}
	return true
}
