package edge

import (
	"context"
	"fmt"
	"io"
	"net/http"

	"github.com/kumo-dev/kumo/internal/model"
)

// originGroup is an origin group resolved against its distribution's
// origins (cloudfront.md §3.2).
type originGroup struct {
	id                 string
	primary, secondary *origin
	codes              map[int]bool
}

// newOriginGroups resolves a distribution's origin groups.
func newOriginGroups(md *model.Distribution, origins map[string]*origin) (map[string]*originGroup, error) {
	out := map[string]*originGroup{}
	for _, g := range md.OriginGroups {
		if _, dup := origins[g.ID]; dup {
			return nil, fmt.Errorf("origin group %q has the Id of an origin", g.ID)
		}
		if _, dup := out[g.ID]; dup {
			return nil, fmt.Errorf("duplicate origin group id %q", g.ID)
		}
		p, ok1 := origins[g.Primary]
		s, ok2 := origins[g.Secondary]
		if !ok1 || !ok2 {
			return nil, fmt.Errorf("origin group %q: members %q and %q must be origins of the distribution", g.ID, g.Primary, g.Secondary)
		}
		og := &originGroup{id: g.ID, primary: p, secondary: s, codes: map[int]bool{}}
		for _, c := range g.FailoverStatusCodes {
			og.codes[c] = true
		}
		out[g.ID] = og
	}
	return out, nil
}

// failoverMethod implements cloudfront.md §3.2: only GET, HEAD and OPTIONS
// requests fail over.
func failoverMethod(m string) bool {
	return m == http.MethodGet || m == http.MethodHead || m == http.MethodOptions
}

// shouldFailover implements the failover criteria of cloudfront.md §3.2:
// the primary answered with one of the group's status codes, or could not
// be reached (connection failure, TLS failure, timeout). UNCONFIRMED:
// origin DNS and TLS failures are taken as "cannot connect".
func (g *originGroup) shouldFailover(resp *http.Response, err error) bool {
	if err != nil {
		return Classify(err) != ReasonViewerGone
	}
	return g.codes[resp.StatusCode]
}

// roundTripFailover sends req to the behavior's origin and, when the
// behavior targets an origin group, fails over to the secondary origin per
// shouldFailover (GET/HEAD/OPTIONS only). Every request goes to the primary
// first. build makes the request for the secondary.
func (t *txn) roundTripFailover(ctx context.Context, req *http.Request, build func(*origin) (*http.Request, error)) (*http.Response, error) {
	o := t.beh.origin
	resp, err := o.roundTrip(ctx, req)
	g := t.beh.group
	if g == nil || !failoverMethod(t.r.Method) || ctx.Err() != nil || !g.shouldFailover(resp, err) {
		return resp, err
	}
	if err != nil {
		t.e.logger.Info("edge: failing over to the secondary origin", "group", g.id, "primary", o.m.ID,
			"secondary", g.secondary.m.ID, "request_id", t.requestID(), "err", err)
	} else {
		t.e.logger.Info("edge: failing over to the secondary origin", "group", g.id, "primary", o.m.ID,
			"secondary", g.secondary.m.ID, "request_id", t.requestID(), "status", resp.StatusCode)
		_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, 64<<10))
		resp.Body.Close()
	}
	req2, berr := build(g.secondary)
	if berr != nil {
		return nil, berr
	}
	return g.secondary.roundTrip(ctx, req2)
}
