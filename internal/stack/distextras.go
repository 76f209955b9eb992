package stack

import (
	"fmt"
	"strings"
	"time"

	"github.com/kumo-dev/kumo/internal/model"
)

// Custom error response codes (cloudfront.md §5.5).
var (
	customErrorCodes    = []int64{400, 403, 404, 405, 414, 416, 500, 501, 502, 503, 504}
	customResponseCodes = []int64{200, 400, 403, 404, 405, 414, 416, 500, 501, 502, 503, 504}
	// failoverStatusCodes implements cloudfront.md §3.2.
	failoverStatusCodes = []int64{400, 403, 404, 416, 500, 502, 503, 504}
)

// defaultErrorCachingMinTTL is ErrorCachingMinTTL when a custom error
// response leaves it out (cloudfront.md §4.4: 10 s).
const defaultErrorCachingMinTTL = 10

// maxResponsePagePath is the longest ResponsePagePath. UNCONFIRMED: taken
// to be the 4,000-character limit of CloudFront paths (cloudfront.md §4.9).
const maxResponsePagePath = 4000

func containsInt(list []int64, v int64) bool {
	for _, x := range list {
		if x == v {
			return true
		}
	}
	return false
}

func intsText(list []int64) string {
	s := make([]string, len(list))
	for i, v := range list {
		s[i] = fmt.Sprint(v)
	}
	return strings.Join(s, ", ")
}

// customErrorResponses implements cloudfront.md §5.5 for
// DistributionConfig.CustomErrorResponses: ErrorCode from the allowed set
// and at most once, ResponsePagePath (starting with /) and ResponseCode
// together, ErrorCachingMinTTL ≥ 0 (default 10 s).
func (b *builder) customErrorResponses(dc obj, d *model.Distribution) {
	items, _ := dc.list("CustomErrorResponses")
	seen := map[int64]bool{}
	for _, it := range items {
		it.keys([]string{"ErrorCachingMinTTL", "ErrorCode", "ResponseCode", "ResponsePagePath"})
		code, ok := it.reqInt("ErrorCode", 100, 599)
		if !ok {
			continue
		}
		if !containsInt(customErrorCodes, code) {
			it.errf("ErrorCode", "%d cannot have a custom error response; use one of %s", code, intsText(customErrorCodes))
			continue
		}
		if seen[code] {
			it.errf("ErrorCode", "%d has two custom error responses", code)
			continue
		}
		seen[code] = true
		ce := &model.CustomErrorResponse{ErrorCode: int(code), ErrorCachingMinTTL: defaultErrorCachingMinTTL * time.Second}
		ce.ResponsePagePath, _ = it.str("ResponsePagePath", "")
		if p := ce.ResponsePagePath; p != "" && (!strings.HasPrefix(p, "/") || len(p) > maxResponsePagePath) {
			it.errf("ResponsePagePath", "%q must start with / and be at most %d characters (like /errors/404.html)", p, maxResponsePagePath)
		}
		if it.has("ResponseCode") {
			rc, ok := it.int("ResponseCode", 0, 100, 599)
			if ok && !containsInt(customResponseCodes, rc) {
				it.errf("ResponseCode", "%d is not allowed; use one of %s", rc, intsText(customResponseCodes))
			}
			ce.ResponseCode = int(rc)
		}
		switch {
		case ce.ResponsePagePath != "" && !it.has("ResponseCode"):
			it.missing("ResponseCode", "the status sent with ResponsePagePath")
		case ce.ResponsePagePath == "" && it.has("ResponseCode"):
			it.missing("ResponsePagePath", "the page sent with ResponseCode")
		}
		if it.has("ErrorCachingMinTTL") {
			s, _ := it.int("ErrorCachingMinTTL", defaultErrorCachingMinTTL, 0, 1<<31-1)
			ce.ErrorCachingMinTTL = time.Duration(s) * time.Second
		}
		d.CustomErrorResponses = append(d.CustomErrorResponses, ce)
	}
}

// originGroups implements cloudfront.md §3.2 for
// DistributionConfig.OriginGroups: a unique Id (not an origin's), exactly
// two members that are origins of the distribution, and failover status
// codes from the allowed set.
func (b *builder) originGroups(dc obj, d *model.Distribution) {
	og, ok := dc.child("OriginGroups")
	if !ok {
		return
	}
	og.keys([]string{"Items", "Quantity"})
	items, _ := og.list("Items")
	if og.has("Quantity") {
		if q, ok := og.int("Quantity", 0, 0, 1<<31-1); ok && int(q) != len(items) {
			og.errf("Quantity", "is %d but Items lists %d origin groups", q, len(items))
		}
	}
	for _, it := range items {
		it.keys([]string{"FailoverCriteria", "Id", "Members", "SelectionCriteria"})
		g := &model.OriginGroup{}
		g.ID, _ = it.reqStr("Id", "a unique origin group Id")
		if g.ID != "" {
			for _, o := range d.Origins {
				if o.ID == g.ID {
					it.errf("Id", "%q is already the Id of an origin", g.ID)
				}
			}
			for _, x := range d.OriginGroups {
				if x.ID == g.ID {
					it.errf("Id", "origin group Id %q is used twice", g.ID)
				}
			}
		}
		it.enum("SelectionCriteria", "default", false, "default", "media-quality-based")
		if m, ok := it.child("Members"); !ok {
			if !it.has("Members") {
				it.missing("Members", "Items: [{OriginId: primary}, {OriginId: secondary}]")
			}
		} else {
			m.keys([]string{"Items", "Quantity"})
			ms, _ := m.list("Items")
			if len(ms) != 2 {
				m.errf("Items", "lists %d members; an origin group has exactly two (primary, secondary)", len(ms))
			}
			var ids []string
			for _, mo := range ms {
				mo.keys([]string{"OriginId"})
				id, ok := mo.reqStr("OriginId", "the Id of an origin of this distribution")
				if !ok {
					continue
				}
				found := false
				for _, o := range d.Origins {
					found = found || o.ID == id
				}
				if !found {
					mo.errf("OriginId", "%q is not the Id of an origin of this distribution", id)
				}
				ids = append(ids, id)
			}
			if len(ids) == 2 {
				if ids[0] == ids[1] {
					m.errf("Items", "the primary and secondary are the same origin %q", ids[0])
				}
				g.Primary, g.Secondary = ids[0], ids[1]
			}
		}
		if fc, ok := it.child("FailoverCriteria"); !ok {
			if !it.has("FailoverCriteria") {
				it.missing("FailoverCriteria", "StatusCodes: {Items: [500, 502, 503, 504]}")
			}
		} else {
			fc.keys([]string{"StatusCodes"})
			sc, ok := fc.child("StatusCodes")
			if !ok {
				if !fc.has("StatusCodes") {
					fc.missing("StatusCodes", "Items: the status codes that fail over ("+intsText(failoverStatusCodes)+")")
				}
			} else {
				sc.keys([]string{"Items", "Quantity"})
				codes, _ := sc.strList("Items")
				if len(codes) == 0 {
					sc.missing("Items", "at least one of "+intsText(failoverStatusCodes))
				}
				for i, c := range codes {
					var n int64
					if _, err := fmt.Sscan(c, &n); err != nil || !containsInt(failoverStatusCodes, n) {
						b.errs.add(sc.line("Items"), idx(sc.p("Items"), i), "%q is not a failover status code; use %s", c, intsText(failoverStatusCodes))
						continue
					}
					g.FailoverStatusCodes = append(g.FailoverStatusCodes, int(n))
				}
			}
		}
		d.OriginGroups = append(d.OriginGroups, g)
	}
}
