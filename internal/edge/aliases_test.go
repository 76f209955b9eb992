package edge

import (
	"net/http"
	"testing"

	"github.com/kumo-dev/kumo/internal/model"
)

// TestWildcardAliasSpecificity implements cloudfront.md §5.6: with
// overlapping alternate domain names on different distributions, the more
// specific one wins (exact over wildcard, the longer wildcard over the
// shorter), whatever the order of the distributions.
func TestWildcardAliasSpecificity(t *testing.T) {
	mk := func(name string) *originServer {
		return startOrigin(t, func(w http.ResponseWriter, r *http.Request) { _, _ = w.Write([]byte(name)) }, nil)
	}
	a, b, c := mk("wide"), mk("narrow"), mk("exact")
	dist := func(id, domain, originName string, alias string) *model.Distribution {
		d := testStack(testOrigin(originName, model.OriginHTTPOnly), policyBehavior(CachingDisabledID, "")).Distributions[0]
		d.ID, d.LogicalID, d.DomainName, d.Aliases = id, id, domain, []string{alias}
		return d
	}
	st := &model.Stack{Distributions: []*model.Distribution{
		dist("E1EXACT000000", "d1exact00000a.cloudfront.net", "c.example.net", "www.api.example.com"),
		dist("E2WIDE0000000", "d2wide000000a.cloudfront.net", "a.example.net", "*.example.com"),
		dist("E3NARROW00000", "d3narrow0000a.cloudfront.net", "b.example.net", "*.api.example.com"),
	}}
	ev := newEnv(t, nil, st)
	ev.res.Set("a.example.net", a.addr)
	ev.res.Set("b.example.net", b.addr)
	ev.res.Set("c.example.net", c.addr)
	cl := ev.client(false, false)
	for host, want := range map[string]string{
		"www.api.example.com":  "exact",
		"v2.api.example.com":   "narrow",
		"x.v2.api.example.com": "narrow",
		"api.example.com":      "wide",
		"www.example.com":      "wide",
	} {
		r := ev.do(cl, http.MethodGet, "http://"+host+"/", http.Header{"Host": {host}})
		if r.status != 200 || string(r.body) != want {
			t.Errorf("%s: %d %q, want %q", host, r.status, r.body, want)
		}
	}
}
