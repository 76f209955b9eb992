package alb

import (
	"io"
	"net/http"
	"strings"
	"testing"

	"github.com/kumo-dev/kumo/internal/model"
)

// TestRegexConditions checks RegexValues on host-header, path-pattern and
// http-header through real requests (alb.md §5.2), OR-ed with Values.
func TestRegexConditions(t *testing.T) {
	be := newBackend(t, "default", nil)
	hit := func(name string) *model.TargetGroup {
		b := newBackend(t, name, nil)
		return noHealthCheck(mkTG("tg-"+name, b.target("10.0.9."+string(rune('1'+len(name)%8))+":80")))
	}
	rules := []*model.Rule{
		{Priority: 1, Conditions: []*model.Condition{{Field: "host-header", RegexValues: []string{`^api-[0-9]+\.example\.com$`}}}, Actions: forward(hit("host"))},
		{Priority: 2, Conditions: []*model.Condition{{Field: "path-pattern", Values: []string{"/static/*"}, RegexValues: []string{`^/v[0-9]+/items/[a-z]+$`}}}, Actions: forward(hit("path"))},
		{Priority: 3, Conditions: []*model.Condition{{Field: "http-header", HTTPHeaderName: "x-env", RegexValues: []string{`^dev-[0-9]{2}$`}}}, Actions: forward(hit("header"))},
	}
	l := httpListener(80, forward(noHealthCheck(mkTG("alb-tg", be.target("10.0.4.254:80")))), rules...)
	ru := start(t, Config{LB: loadBalancer(l)})
	url := "http://" + ru.addrs[l]
	c := noRedirectClient()
	for _, tc := range []struct {
		path string
		hdr  map[string]string
		want string
	}{
		{"/", map[string]string{"Host": "api-12.example.com"}, "host"},
		{"/", map[string]string{"Host": "API-12.Example.com:80"}, "host"}, // case-insensitive, port stripped
		{"/", map[string]string{"Host": "api-x.example.com"}, "default"},
		{"/v2/items/abc", nil, "path"},
		{"/v2/items/ABC", nil, "default"}, // path is case-sensitive
		{"/static/a/b.css", nil, "path"},  // the wildcard Value still matches
		{"/", map[string]string{"X-Env": "dev-42"}, "header"},
		{"/", map[string]string{"X-Env": "dev-420"}, "default"},
	} {
		if _, got := get(t, c, url+tc.path, tc.hdr); got != tc.want {
			t.Errorf("%s %v → %s, want %s", tc.path, tc.hdr, got, tc.want)
		}
	}
}

// TestCompileRuleRegexRejectsUnsupportedFeatures checks the regex rules of
// alb.md §5.2: every unsupported construct is rejected at load.
func TestCompileRuleRegexRejectsUnsupportedFeatures(t *testing.T) {
	for _, tc := range []struct{ re, what string }{
		{`a(?=b)`, "lookahead"}, {`a(?!b)`, "lookahead"}, {`(?<=a)b`, "lookbehind"}, {`(?<!a)b`, "lookbehind"},
		{`(a)\1`, "backreferences"}, {`(?<n>a)\k<n>`, "backreferences"}, {`(?>a+)`, "atomic groups"},
		{`a*+`, "possessive"}, {`a++`, "possessive"}, {`a?+`, "possessive"}, {`a{2}+`, "possessive"},
		{`(?R)`, "recursion"}, {`(?&name)`, "subroutines"}, {`\p{L}`, "Unicode"}, {`\P{L}`, "Unicode"},
		{`(`, "missing closing"}, {strings.Repeat("a", 129), "at most 128"}, {"", "empty"},
	} {
		_, err := CompileRuleRegex(tc.re, maxRuleRegexLen)
		if err == nil || !strings.Contains(err.Error(), tc.what) {
			t.Errorf("CompileRuleRegex(%q) = %v, want an error about %s", tc.re, err, tc.what)
		}
	}
	for _, ok := range []string{`^a\+b$`, `[*+?]`, `[]*+]`, `[^]a++]`, `a\*+`, `^/v[0-9]{1,3}/.*$`, `\\1`} {
		if _, err := CompileRuleRegex(ok, maxRuleRegexLen); err != nil {
			t.Errorf("CompileRuleRegex(%q): %v", ok, err)
		}
	}
}

// TestRuleTransformsRewriteAfterRouting checks host-header-rewrite and
// url-rewrite (alb.md §5.4): applied after routing, seen by the target,
// logged in fields 31–33; no match leaves the request unchanged.
func TestRuleTransformsRewriteAfterRouting(t *testing.T) {
	type seen struct{ host, uri string }
	got := make(chan seen, 4)
	be := newBackend(t, "A", func(w http.ResponseWriter, r *http.Request) {
		got <- seen{r.Host, r.RequestURI}
		_, _ = io.WriteString(w, "ok")
	})
	tg := noHealthCheck(mkTG("alb-tg", be.target("10.0.4.254:80")))
	rule := &model.Rule{Priority: 5,
		Conditions: []*model.Condition{{Field: "host-header", Values: []string{"mywebsite-*.com"}}},
		Actions:    forward(tg),
		Transforms: []*model.Transform{
			{Type: model.TransformHostHeaderRewrite, Rewrites: []model.Rewrite{{Regex: `^mywebsite-(.+).com$`, Replace: "internal.dev.$1.myweb.com"}}},
			{Type: model.TransformURLRewrite, Rewrites: []model.Rewrite{{Regex: `^/dp/([A-Za-z0-9]+)/?$`, Replace: "/product.php?id=$1"}}},
		}}
	l := httpListener(80, forward(tg), rule)
	ru := start(t, Config{LB: loadBalancer(l)})
	c := noRedirectClient()
	url := "http://" + ru.addrs[l]

	get(t, c, url+"/dp/B0042", map[string]string{"Host": "mywebsite-example.com"})
	if s := <-got; s.host != "internal.dev.example.myweb.com" || s.uri != "/product.php?id=B0042" {
		t.Errorf("target saw %+v", s)
	}
	rec := ru.sink.wait(t, 1)[0]
	if rec.MatchedRulePriority != 5 || rec.TransformedHost != "internal.dev.example.myweb.com" ||
		rec.TransformedURI != "/product.php?id=B0042" || rec.RequestTransformStatus != TransformStatusSuccess ||
		rec.Request != "GET http://mywebsite-example.com:80/dp/B0042 HTTP/1.1" {
		t.Errorf("record %+v", rec)
	}
	// The URL regex does not match: only the host is rewritten.
	get(t, c, url+"/other?q=1", map[string]string{"Host": "mywebsite-shop.com"})
	if s := <-got; s.host != "internal.dev.shop.myweb.com" || s.uri != "/other?q=1" {
		t.Errorf("target saw %+v", s)
	}
	if rec := ru.sink.wait(t, 2)[1]; rec.TransformedURI != "" || rec.TransformedHost != "internal.dev.shop.myweb.com" {
		t.Errorf("record %+v", rec)
	}
	// The default rule has no transforms.
	get(t, c, url+"/dp/B0042", map[string]string{"Host": "example.org"})
	if s := <-got; s.host != "example.org" || s.uri != "/dp/B0042" {
		t.Errorf("target saw %+v", s)
	}
	if rec := ru.sink.wait(t, 3)[2]; rec.RequestTransformStatus != "" || rec.MatchedRulePriority != 0 {
		t.Errorf("record %+v", rec)
	}
}
