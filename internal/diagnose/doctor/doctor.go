// Package doctor is kumo's static analysis of a stack (`kumo doctor`): it
// reads a resolved model.Stack and reports, before anything is deployed or
// served, the configurations that make CloudFront or the ALB fail — above
// all an origin whose certificate does not cover the origin domain
// (cloudfront.md §2.3, §2.5). Each finding has a stable check ID, a
// severity, the template file, line and field path it is about, what a
// viewer and the logs will see, why, and the change to the template that
// fixes it.
//
// It owns the check rules and their rendering (text and JSON); it reads the
// model only and never starts anything.
package doctor

import (
	"sort"
	"strconv"
	"strings"

	"github.com/kumo-dev/kumo/internal/model"
	"github.com/kumo-dev/kumo/internal/stack"
)

// Severity is how bad a finding is.
type Severity string

// Severities, worst first.
const (
	SeverityError   Severity = "error"
	SeverityWarning Severity = "warning"
	SeverityInfo    Severity = "info"
)

func (s Severity) rank() int {
	switch s {
	case SeverityError:
		return 0
	case SeverityWarning:
		return 1
	}
	return 2
}

// Check IDs. They are stable: CI configurations may refer to them.
const (
	// IDOriginTLSName: the ALB certificate does not cover the origin domain
	// (the headline; cloudfront.md §2.3 rule 4, §2.5).
	IDOriginTLSName = "KUMO-ORIGIN-TLS-NAME"
	// IDOriginTLSHost: the viewer Host is forwarded and the ALB certificate
	// does not cover a viewer host (cloudfront.md §2.2, §2.3, §3.3).
	IDOriginTLSHost = "KUMO-ORIGIN-TLS-HOST"
	// IDOriginDNS: the origin domain is a name of the stack's world that
	// resolves to nothing (cloudfront.md §2.4).
	IDOriginDNS = "KUMO-ORIGIN-DNS"
	// IDOriginNoListener: the ALB has no listener on the origin port.
	IDOriginNoListener = "KUMO-ORIGIN-NO-LISTENER"
	// IDOriginHTTPToHTTPS: CloudFront speaks plain HTTP to an HTTPS listener.
	IDOriginHTTPToHTTPS = "KUMO-ORIGIN-HTTP-TO-HTTPS-LISTENER"
	// IDOriginHTTPSToHTTP: CloudFront starts TLS against an HTTP listener.
	IDOriginHTTPSToHTTP = "KUMO-ORIGIN-HTTPS-TO-HTTP-LISTENER"
	// IDRedirectLoop: an http-only origin to an ALB HTTP listener that
	// redirects to HTTPS.
	IDRedirectLoop = "KUMO-REDIRECT-LOOP"
	// IDAuthorizationNotForwarded: an origin request policy selects
	// Authorization, which CloudFront never forwards that way on GET/HEAD.
	IDAuthorizationNotForwarded = "KUMO-AUTHORIZATION-NOT-FORWARDED"
	// IDCacheKeyCookies: cookies reach the origin but are not in the cache key.
	IDCacheKeyCookies = "KUMO-CACHE-KEY-COOKIES"
	// IDStickinessCookie: ALB stickiness behind a behavior that forwards no
	// cookies, so CloudFront removes the ALB's Set-Cookie.
	IDStickinessCookie = "KUMO-CACHE-DROPS-STICKINESS-COOKIE"
	// IDHealthCheck: a target group's health check can never pass against
	// the built-in web server.
	IDHealthCheck = "KUMO-HEALTH-CHECK-NEVER-PASSES"
	// IDNoTargets: a forwarded-to target group has no registered targets.
	IDNoTargets = "KUMO-TG-NO-TARGETS"
	// IDRuleShadowed: a listener rule can never match.
	IDRuleShadowed = "KUMO-RULE-SHADOWED"
	// IDDefaultRootObject: the DefaultRootObject is not served.
	IDDefaultRootObject = "KUMO-DEFAULT-ROOT-OBJECT"
	// IDErrorPagePath: a custom error page cannot be fetched.
	IDErrorPagePath = "KUMO-ERROR-PAGE-PATH"
)

// Fix is the change to the template that fixes a finding: a sentence and,
// when it is one line, that line before and after.
type Fix struct {
	Text   string `json:"text"`
	Before string `json:"before,omitempty"`
	After  string `json:"after,omitempty"`
}

// Finding is one problem found in a stack.
type Finding struct {
	ID       string   `json:"id"`
	Severity Severity `json:"severity"`
	File     string   `json:"file"`
	Line     int      `json:"line"`
	Path     string   `json:"path"`
	// Title is a one-line summary.
	Title string `json:"title"`
	// Effect is what will happen: the status and the log fields a viewer
	// and the logs will see.
	Effect string `json:"effect"`
	// Why explains the rule behind the effect.
	Why string `json:"why"`
	Fix Fix    `json:"fix"`
}

// Summary counts the findings by severity.
type Summary struct {
	Errors   int `json:"errors"`
	Warnings int `json:"warnings"`
	Infos    int `json:"info"`
}

// Report is the result of Check.
type Report struct {
	File     string    `json:"file"`
	Findings []Finding `json:"findings"`
	Summary  Summary   `json:"summary"`
}

// HasErrors reports whether any finding has error severity.
func (r *Report) HasErrors() bool { return r.Summary.Errors > 0 }

// Options configure Check.
type Options struct {
	// File names the template in findings; "" means st.Source, or
	// stack.DefaultTemplateName for the built-in stack.
	File string
	// Source is the template text, used to quote the line a fix changes;
	// nil means the fixes quote only the field.
	Source []byte
}

// checker holds one run.
type checker struct {
	st       *model.Stack
	file     string
	lines    []string
	findings []Finding
	records  map[string][]*model.Record
	lbs      map[string]*model.LoadBalancer
	dists    map[string]bool
}

// Check analyses st and returns every finding, errors first, then by line.
func Check(st *model.Stack, opt Options) *Report {
	c := &checker{st: st, file: opt.File, records: map[string][]*model.Record{},
		lbs: map[string]*model.LoadBalancer{}, dists: map[string]bool{}}
	if c.file == "" {
		c.file = st.Source
	}
	if c.file == "" {
		c.file = stack.DefaultTemplateName
	}
	if opt.Source != nil {
		c.lines = strings.Split(string(opt.Source), "\n")
	}
	for _, r := range st.Records {
		n := normalize(r.Name)
		c.records[n] = append(c.records[n], r)
	}
	for _, lb := range st.LoadBalancers {
		c.lbs[normalize(lb.DNSName)] = lb
	}
	for _, d := range st.Distributions {
		c.dists[normalize(d.DomainName)] = true
	}
	for _, d := range st.Distributions {
		for i, o := range d.Origins {
			c.checkOrigin(d, i, o)
		}
		c.checkCacheKeys(d)
		c.checkStickiness(d)
		c.checkDefaultRootObject(d)
		c.checkErrorPages(d)
	}
	c.checkTargetGroups()
	c.checkRules()
	rep := &Report{File: c.file, Findings: c.findings}
	if rep.Findings == nil {
		rep.Findings = []Finding{}
	}
	sort.SliceStable(rep.Findings, func(i, j int) bool {
		a, b := rep.Findings[i], rep.Findings[j]
		if a.Severity.rank() != b.Severity.rank() {
			return a.Severity.rank() < b.Severity.rank()
		}
		return a.Line < b.Line
	})
	for _, f := range rep.Findings {
		switch f.Severity {
		case SeverityError:
			rep.Summary.Errors++
		case SeverityWarning:
			rep.Summary.Warnings++
		default:
			rep.Summary.Infos++
		}
	}
	return rep
}

// add records a finding about path.
func (c *checker) add(f Finding, path string) {
	f.File, f.Path, f.Line = c.file, path, c.line(path)
	c.findings = append(c.findings, f)
}

// line returns the line of path, or of its closest ancestor that has one.
func (c *checker) line(path string) int {
	for p := path; p != ""; {
		if l := c.st.Line(p); l > 0 {
			return l
		}
		i := strings.LastIndexAny(p, ".[")
		if i < 0 {
			break
		}
		p = p[:i]
	}
	return 0
}

// text returns the trimmed template line of path ("" without a source).
func (c *checker) text(path string) string {
	l := c.st.Line(path)
	if l < 1 || l > len(c.lines) {
		return ""
	}
	return strings.TrimSpace(strings.TrimPrefix(strings.TrimSpace(c.lines[l-1]), "- "))
}

// before returns the quoted line of path, or "key: value" when the template
// text is not available or the key is absent.
func (c *checker) before(path, key, value string) string {
	if t := c.text(path); t != "" && strings.HasPrefix(t, key+":") {
		return t
	}
	if value == "" {
		return ""
	}
	return key + ": " + value
}

// Field paths of the template (the form stack errors use).
func resPath(logicalID string) string { return "Resources." + logicalID + ".Properties" }

func distPath(d *model.Distribution) string {
	return resPath(d.LogicalID) + ".DistributionConfig"
}

func originPath(d *model.Distribution, i int) string {
	return distPath(d) + ".Origins[" + itoa(i) + "]"
}

func behaviorPath(d *model.Distribution, cb *model.CacheBehavior) string {
	if cb == d.DefaultBehavior {
		return distPath(d) + ".DefaultCacheBehavior"
	}
	for i, b := range d.Behaviors {
		if b == cb {
			return distPath(d) + ".CacheBehaviors[" + itoa(i) + "]"
		}
	}
	return distPath(d)
}

// behaviors returns the default behavior followed by the ordered behaviors.
func behaviors(d *model.Distribution) []*model.CacheBehavior {
	var out []*model.CacheBehavior
	out = append(out, d.Behaviors...)
	if d.DefaultBehavior != nil {
		out = append([]*model.CacheBehavior{d.DefaultBehavior}, out...)
	}
	return out
}

// behaviorsFor returns the behaviors whose requests reach origin id, directly
// or through an origin group.
func behaviorsFor(d *model.Distribution, id string) []*model.CacheBehavior {
	var out []*model.CacheBehavior
	for _, cb := range behaviors(d) {
		if cb.TargetOriginID == id {
			out = append(out, cb)
			continue
		}
		for _, g := range d.OriginGroups {
			if g.ID == cb.TargetOriginID && (g.Primary == id || g.Secondary == id) {
				out = append(out, cb)
			}
		}
	}
	return out
}

func viewerHosts(d *model.Distribution) []string {
	return append(append([]string(nil), d.Aliases...), d.DomainName)
}

func normalize(s string) string {
	return strings.ToLower(strings.TrimSuffix(strings.TrimSpace(s), "."))
}

func itoa(i int) string { return strconv.Itoa(i) }
