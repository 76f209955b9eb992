package alb

import (
	"fmt"
	"net/http"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/kumo-dev/kumo/internal/model"
)

// action is a rule's compiled terminal action (alb.md §5.3).
type action struct {
	kind string // model.ActionForward, ActionRedirect or ActionFixedResponse

	// forward
	groups      []*targetGroup
	weights     []int
	totalWeight int
	// tgSticky is the TargetGroupStickinessConfig duration (0: off) and
	// tag names the action's groups in its AWSALBTG cookie (stickiness.go).
	tgSticky time.Duration
	tag      [8]byte

	// redirect
	redirect *model.RedirectConfig
	status   int // redirect or fixed-response status

	// fixed-response
	contentType string
	body        string
}

func (lb *LoadBalancer) compileActions(mas []*model.Action) (*action, error) {
	if len(mas) == 0 {
		return nil, fmt.Errorf("no actions")
	}
	sorted := append([]*model.Action(nil), mas...)
	sort.SliceStable(sorted, func(i, j int) bool { return sorted[i].Order < sorted[j].Order })
	// alb.md §5.3: the terminal action has the highest Order. kumo models no
	// authenticate actions, so every action but the last is an error.
	if len(sorted) > 1 {
		return nil, fmt.Errorf("%d actions: only one terminal action (forward, redirect, fixed-response) is supported", len(sorted))
	}
	ma := sorted[len(sorted)-1]
	a := &action{kind: ma.Type}
	switch ma.Type {
	case model.ActionForward:
		if len(ma.TargetGroups) == 0 {
			return nil, fmt.Errorf("forward action without target groups")
		}
		for _, wtg := range ma.TargetGroups {
			if wtg.TargetGroup == nil {
				return nil, fmt.Errorf("forward action references a nil target group")
			}
			if wtg.Weight < 0 || wtg.Weight > 999 {
				return nil, fmt.Errorf("target group %s: weight %d out of range 0-999", wtg.TargetGroup.Name, wtg.Weight)
			}
			tg, err := lb.targetGroupFor(wtg.TargetGroup)
			if err != nil {
				return nil, err
			}
			a.groups = append(a.groups, tg)
			a.weights = append(a.weights, wtg.Weight)
			a.totalWeight += wtg.Weight
		}
		if a.totalWeight == 0 && len(a.groups) > 1 {
			return nil, fmt.Errorf("forward action: every target group has weight 0")
		}
		if err := a.compileGroupStickiness(ma); err != nil {
			return nil, err
		}
	case model.ActionRedirect:
		rc := ma.Redirect
		if rc == nil {
			return nil, fmt.Errorf("redirect action without RedirectConfig")
		}
		switch rc.StatusCode {
		case "HTTP_301":
			a.status = http.StatusMovedPermanently
		case "HTTP_302":
			a.status = http.StatusFound
		default:
			return nil, fmt.Errorf("redirect StatusCode %q: want HTTP_301 or HTTP_302", rc.StatusCode)
		}
		switch strings.ToUpper(rc.Protocol) {
		case "", "#{PROTOCOL}", "HTTP", "HTTPS":
		default:
			return nil, fmt.Errorf("redirect Protocol %q: want HTTP, HTTPS or #{protocol}", rc.Protocol)
		}
		if rc.Path != "" && !strings.HasPrefix(rc.Path, "/") {
			return nil, fmt.Errorf("redirect Path %q must start with /", rc.Path)
		}
		a.redirect = rc
	case model.ActionFixedResponse:
		fr := ma.FixedResponse
		if fr == nil {
			return nil, fmt.Errorf("fixed-response action without FixedResponseConfig")
		}
		if c := fr.StatusCode / 100; fr.StatusCode < 200 || fr.StatusCode > 599 || c == 3 {
			return nil, fmt.Errorf("fixed-response StatusCode %d: want 2XX, 4XX or 5XX", fr.StatusCode)
		}
		a.status, a.contentType, a.body = fr.StatusCode, fr.ContentType, fr.MessageBody
	default:
		return nil, fmt.Errorf("unsupported action type %q", ma.Type)
	}
	return a, nil
}

// redirectLocation implements the redirect action's URL (alb.md §5.3):
// unset components keep the request's (#{protocol}, #{host}, #{port},
// /#{path}, #{query}); #{path} has no leading slash; the Location always
// carries an explicit port; values are not percent-encoded. An empty query
// gives no trailing "?" (UNCONFIRMED; observed Locations show none).
func (l *listener) redirectLocation(rc *model.RedirectConfig, r *http.Request) string {
	protocol := l.scheme
	host := hostWithoutPort(r.Host)
	port := l.port
	path := strings.TrimPrefix(requestPath(r), "/")
	query := r.URL.RawQuery
	expand := func(v string) string {
		if !strings.Contains(v, "#{") {
			return v
		}
		return strings.NewReplacer(
			"#{protocol}", protocol, "#{host}", host, "#{port}", port,
			"#{path}", path, "#{query}", query,
		).Replace(v)
	}
	proto, h, p, pa, q := "#{protocol}", "#{host}", "#{port}", "/#{path}", "#{query}"
	if rc.Protocol != "" {
		proto = rc.Protocol
	}
	if rc.Host != "" {
		h = rc.Host
	}
	if rc.Port != "" {
		p = rc.Port
	}
	if rc.Path != "" {
		pa = rc.Path
	}
	if rc.Query != "" {
		q = rc.Query
	}
	var b strings.Builder
	b.WriteString(strings.ToLower(expand(proto)))
	b.WriteString("://")
	b.WriteString(expand(h))
	b.WriteByte(':')
	b.WriteString(expand(p))
	b.WriteString(expand(pa))
	if qs := expand(q); qs != "" {
		b.WriteByte('?')
		b.WriteString(qs)
	}
	return b.String()
}

// ServerHeader is the Server header of every LB-generated response (alb.md §2.3).
const ServerHeader = "awselb/2.0"

// reasonGatewayTimeout is the 504 reason phrase in the error page.
// UNCONFIRMED (alb.md §2.3): nginx's spelling "Gateway Time-out" is assumed.
const reasonGatewayTimeout = "Gateway Time-out"

// reasonIncompatibleProtocol is the 464 reason phrase in the error page.
// UNCONFIRMED (alb.md §2.1, §2.3: no 464 page has been observed): kumo
// names it after the documented cause.
const reasonIncompatibleProtocol = "Incompatible Protocol"

// lbPageReason is the reason phrase of an LB-generated page (alb.md §2.3).
func lbPageReason(status int) string {
	switch status {
	case http.StatusServiceUnavailable:
		return "Service Temporarily Unavailable"
	case http.StatusGatewayTimeout:
		return reasonGatewayTimeout
	case http.StatusFound:
		return "Found"
	case StatusIncompatibleProtocol:
		return reasonIncompatibleProtocol
	}
	return http.StatusText(status)
}

// lbPageBody implements the nginx-like body of LB-generated responses with
// CRLF line ends (alb.md §2.3): 503 → 162 bytes, 502 → 122, 301 → 134.
func lbPageBody(status int) string {
	title := strconv.Itoa(status) + " " + lbPageReason(status)
	return "<html>\r\n<head><title>" + title + "</title></head>\r\n<body>\r\n<center><h1>" +
		title + "</h1></center>\r\n</body>\r\n</html>\r\n"
}

// lbPages holds the pre-rendered page bodies (no per-request rendering).
type lbPages map[int]string

func newLBPages() lbPages {
	p := lbPages{}
	for _, s := range []int{301, 302, 400, 464, 500, 502, 503, 504} {
		p[s] = lbPageBody(s)
	}
	return p
}

func (p lbPages) body(status int) string {
	if b, ok := p[status]; ok {
		return b
	}
	return lbPageBody(status)
}

// setLBHeaders sets the headers of an LB-generated response (alb.md §2.3):
// Server, Date, Content-Type, Content-Length and, over HTTP/1.x,
// Connection: keep-alive.
func setLBHeaders(h http.Header, r *http.Request, contentType string, length int, now time.Time) {
	h["Server"] = []string{ServerHeader}
	h["Date"] = []string{now.UTC().Format(http.TimeFormat)}
	if contentType != "" {
		h["Content-Type"] = []string{contentType}
	}
	h["Content-Length"] = []string{strconv.Itoa(length)}
	if r.ProtoMajor == 1 {
		h["Connection"] = []string{"keep-alive"}
	}
}
