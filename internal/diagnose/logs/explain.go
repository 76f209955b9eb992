package logs

import (
	"context"
	"fmt"
	"slices"
	"sort"
	"strings"
	"time"

	"github.com/kumo-dev/kumo/internal/accesslog"
)

// DefaultWindow is the default correlation window: an ALB entry within this
// much of a CloudFront line's time counts as the same request's neighbourhood.
const DefaultWindow = 60 * time.Second

// defaultSamples is how many request IDs a group keeps by default.
const defaultSamples = 5

// maxUnreadableSamples bounds the unreadable lines quoted in a report.
const maxUnreadableSamples = 10

// anyHost is the albSeconds key that counts every ALB line.
const anyHost = "*"

// maxGroupHosts bounds the ALB hosts an ALB group lists.
const maxGroupHosts = 5

// maxCorrelatedLines bounds the CloudFront error times a group keeps for
// correlation; lines past it are counted but not correlated.
const maxCorrelatedLines = 1 << 16

// ExplainConfig configures Explain.
type ExplainConfig struct {
	Input
	// Window is the correlation window (± around each CloudFront error);
	// 0 means DefaultWindow.
	Window time.Duration
	// OriginDomains are extra host names that identify the origin in ALB
	// logs (the ALB request host or SNI), besides the CloudFront line's
	// cs(Host) and x-host-header.
	OriginDomains []string
	// Samples is how many sample request IDs each group keeps; 0 means 5.
	Samples int
}

// Report is the result of Explain.
type Report struct {
	// Lines counts the lines read, by log kind.
	Lines map[string]int64 `json:"lines"`
	// ErrorLines is the number of error lines, all of them in Groups.
	ErrorLines int64 `json:"error_lines"`
	// Unreadable counts lines no parser accepted; UnreadableSamples quotes
	// the first few as "path:line: error".
	Unreadable        int64    `json:"unreadable"`
	UnreadableSamples []string `json:"unreadable_samples,omitempty"`
	// Groups are the error groups, CloudFront first, then by count.
	Groups []*Group `json:"groups"`
}

// Group is one kind of error: lines that share log kind, status, result
// types or target status, error reason, timing shape and host.
type Group struct {
	Log                string `json:"log"`
	Status             int    `json:"status"`
	ResultType         string `json:"result_type,omitempty"`
	DetailedResultType string `json:"detailed_result_type,omitempty"`
	// TargetStatus is the ALB target_status_code ("-" when none).
	TargetStatus string `json:"target_status,omitempty"`
	ErrorReason  string `json:"error_reason,omitempty"`
	// Shape is the ALB timing shape (ShapeNone, ShapeNoResponse, ...).
	Shape string `json:"timing_shape,omitempty"`
	// Host is the CloudFront cs(Host) (the distribution) or the health
	// check's target group.
	Host string `json:"host,omitempty"`
	// Hosts are up to five ALB request hosts seen in the group.
	Hosts []string  `json:"hosts,omitempty"`
	Count int64     `json:"count"`
	First time.Time `json:"first"`
	Last  time.Time `json:"last"`
	// SampleIDs are x-edge-request-id (CloudFront), the trace id (ALB),
	// conn_trace_id (connection logs) or the target (health checks).
	SampleIDs   []string     `json:"sample_ids"`
	Explanation Explanation  `json:"explanation"`
	Correlation *Correlation `json:"correlation,omitempty"`

	key   string
	hosts map[string]bool
	times []int64
}

// Correlation says what the ALB logs show around a CloudFront error group.
type Correlation struct {
	// ALBLogs is whether any ALB access-log line was read.
	ALBLogs bool `json:"alb_logs"`
	// HostSeen is whether any ALB line has this group's host (request host
	// or SNI) at any time.
	HostSeen bool `json:"host_seen"`
	// WithALB and WithoutALB count this group's lines that have / have no
	// ALB entry for the host within ±Window.
	WithALB    int64  `json:"with_alb_entry"`
	WithoutALB int64  `json:"without_alb_entry"`
	Window     string `json:"window"`
	// MatchedOn is "host", or "time" when the ALB logs never mention the
	// group's hosts and no --origin-domain was given.
	MatchedOn string `json:"matched_on"`
	// FailedHandshakes counts this group's lines with a failed ALB
	// connection-log entry (tls_verify_status Failed:…) within ±Window.
	FailedHandshakes int64 `json:"failed_handshakes_in_window"`
	// Note is the conclusion in words.
	Note string `json:"note"`
}

// explainer accumulates a Report.
type explainer struct {
	cfg    ExplainConfig
	rep    Report
	groups map[string]*Group
	// albSeconds counts ALB access-log lines per host per Unix second.
	albSeconds map[string]map[int64]int32
	albLines   int64
	// connFailed counts failed connection-log entries per Unix second.
	connFailed map[int64]int32
	connLines  int64
}

// Explain reads the input and groups, explains and correlates its error
// lines. Unreadable lines are counted and quoted, not fatal.
func Explain(ctx context.Context, cfg ExplainConfig) (*Report, error) {
	if cfg.Window == 0 {
		cfg.Window = DefaultWindow
	}
	if cfg.Window < 0 {
		return nil, fmt.Errorf("explain: window %v is negative", cfg.Window)
	}
	if cfg.Samples <= 0 {
		cfg.Samples = defaultSamples
	}
	e := &explainer{cfg: cfg, groups: map[string]*Group{}, albSeconds: map[string]map[int64]int32{}, connFailed: map[int64]int32{}}
	e.rep.Lines = map[string]int64{}
	if err := ReadLines(ctx, cfg.Input, e.line); err != nil {
		return nil, fmt.Errorf("explain: %w", err)
	}
	e.finish()
	return &e.rep, nil
}

// line handles one input line.
func (e *explainer) line(l *Line) error {
	text := string(l.Bytes) // records are kept (hosts, ids): no aliasing
	var err error
	switch l.Kind {
	case KindCloudFront:
		var r *accesslog.CloudFrontRecord
		if r, err = accesslog.ParseCloudFrontLine(text); err == nil {
			e.cloudFront(r)
		}
	case KindALB:
		var r *accesslog.ALBRecord
		if r, err = accesslog.ParseALBLine(text); err == nil {
			e.alb(r)
		}
	case KindALBConnection:
		var r *accesslog.ALBConnectionRecord
		if r, err = accesslog.ParseALBConnectionLine(text); err == nil {
			e.connection(r)
		}
	case KindALBHealthCheck:
		var r *accesslog.ALBHealthCheckRecord
		if r, err = accesslog.ParseALBHealthCheckLine(text); err == nil {
			e.healthCheck(r)
		}
	default:
		err = fmt.Errorf("not a CloudFront, ALB access, connection or health-check log line")
	}
	if err != nil {
		e.rep.Unreadable++
		if len(e.rep.UnreadableSamples) < maxUnreadableSamples {
			e.rep.UnreadableSamples = append(e.rep.UnreadableSamples, fmt.Sprintf("%s:%d: %v", l.Source, l.No, err))
		}
		return nil
	}
	e.rep.Lines[l.Kind.String()]++
	return nil
}

// IsCloudFrontError reports whether a CloudFront line is an error line: a
// status ≥ 400, a 000 status, or an error result type (cloudfront.md §1.6).
func IsCloudFrontError(r *accesslog.CloudFrontRecord) bool {
	if r.Status >= 400 || r.Status == 0 {
		return true
	}
	if _, ok := cloudFrontResultExplanations[r.ResultType]; ok {
		return true
	}
	return r.ResultType == "Error"
}

// IsALBError reports whether an ALB access-log line is an error line: the
// load balancer's status is ≥ 400 or "-"/000 (alb.md §2.1), or it names an
// error_reason.
func IsALBError(r *accesslog.ALBRecord) bool {
	return r.ELBStatus >= 400 || r.ELBStatus == 0 || r.ErrorReason != ""
}

func (e *explainer) group(key string, make func() *Group) *Group {
	g := e.groups[key]
	if g == nil {
		g = make()
		g.key = key
		g.hosts = map[string]bool{}
		e.groups[key] = g
	}
	return g
}

// add counts one line with time t and sample id in g.
func (e *explainer) add(g *Group, t time.Time, id string) {
	g.Count++
	e.rep.ErrorLines++
	if g.First.IsZero() || t.Before(g.First) {
		g.First = t
	}
	if t.After(g.Last) {
		g.Last = t
	}
	if id != "" && len(g.SampleIDs) < e.cfg.Samples && !slices.Contains(g.SampleIDs, id) {
		g.SampleIDs = append(g.SampleIDs, id)
	}
}

func (e *explainer) cloudFront(r *accesslog.CloudFrontRecord) {
	if !IsCloudFrontError(r) {
		return
	}
	key := fmt.Sprintf("cf|%d|%s|%s|%s|%s", r.Status, r.ResultType, r.ResponseResultType, r.DetailedResultType, r.Host)
	g := e.group(key, func() *Group {
		return &Group{Log: KindCloudFront.String(), Status: r.Status, ResultType: r.ResultType, DetailedResultType: r.DetailedResultType, Host: r.Host,
			Explanation: explainCloudFront(r.Status, r.ResultType, r.ResponseResultType, r.DetailedResultType)}
	})
	for _, h := range []string{r.Host, r.HostHeader} {
		if h != "" {
			g.hosts[strings.ToLower(h)] = true
		}
	}
	if len(g.times) < maxCorrelatedLines {
		g.times = append(g.times, r.Time.Unix())
	}
	e.add(g, r.Time, r.RequestID)
}

// requestHost returns the host of an ALB request field
// ("GET https://host:443/path HTTP/1.1"), lower-cased; "" if none.
func requestHost(req string) string {
	i := strings.Index(req, "://")
	if i < 0 {
		return ""
	}
	h := req[i+3:]
	if j := strings.IndexAny(h, "/ "); j >= 0 {
		h = h[:j]
	}
	if strings.HasPrefix(h, "[") { // IPv6 literal
		if j := strings.IndexByte(h, ']'); j >= 0 {
			return strings.ToLower(h[:j+1])
		}
	}
	if j := strings.LastIndexByte(h, ':'); j >= 0 {
		h = h[:j]
	}
	return strings.ToLower(h)
}

func (e *explainer) alb(r *accesslog.ALBRecord) {
	e.albLines++
	host := requestHost(r.Request)
	sec := r.Time.Unix()
	for _, h := range []string{anyHost, host, strings.ToLower(r.DomainName)} {
		if h == "" || h == "-" {
			continue
		}
		m := e.albSeconds[h]
		if m == nil {
			m = map[int64]int32{}
			e.albSeconds[h] = m
		}
		m[sec]++
		if h == host && strings.EqualFold(host, r.DomainName) {
			break
		}
	}
	if !IsALBError(r) {
		return
	}
	ms := func(d time.Duration) int64 {
		if d < 0 {
			return -1
		}
		return d.Milliseconds()
	}
	shape := ALBShape(ms(r.RequestProcessingTime), ms(r.TargetProcessingTime), ms(r.ResponseProcessingTime))
	ts := "-"
	if r.TargetStatus != 0 {
		ts = fmt.Sprint(r.TargetStatus)
	}
	hasTarget := r.Target != ""
	wait := 0.0
	if !r.RequestCreationTime.IsZero() {
		wait = r.Time.Sub(r.RequestCreationTime).Seconds()
	}
	expl := explainALB(r.ELBStatus, r.TargetStatus, r.ErrorReason, r.ActionsExecuted, hasTarget, shape, wait)
	key := fmt.Sprintf("alb|%d|%s|%s|%s|%t|%s", r.ELBStatus, ts, r.ErrorReason, shape, hasTarget, expl.ID)
	g := e.group(key, func() *Group {
		return &Group{Log: KindALB.String(), Status: r.ELBStatus, TargetStatus: ts, ErrorReason: r.ErrorReason, Shape: shape, Explanation: expl}
	})
	if host != "" && !g.hosts[host] && len(g.Hosts) < maxGroupHosts {
		g.hosts[host] = true
		g.Hosts = append(g.Hosts, host)
	}
	id := r.TraceID
	if id == "" {
		id = r.ConnTraceID
	}
	e.add(g, r.Time, id)
}

func (e *explainer) connection(r *accesslog.ALBConnectionRecord) {
	e.connLines++
	if !strings.HasPrefix(r.TLSVerifyStatus, "Failed") {
		return
	}
	e.connFailed[r.Time.Unix()]++
	key := "conn|" + r.TLSVerifyStatus
	g := e.group(key, func() *Group {
		return &Group{Log: KindALBConnection.String(), ErrorReason: r.TLSVerifyStatus, Explanation: connectionExplanation(r.TLSVerifyStatus)}
	})
	id := r.ConnTraceID
	if id == "" {
		id = fmt.Sprintf("%s:%d", r.ClientIP, r.ClientPort)
	}
	e.add(g, r.Time, id)
}

func (e *explainer) healthCheck(r *accesslog.ALBHealthCheckRecord) {
	if r.Status != "FAIL" {
		return
	}
	key := fmt.Sprintf("hc|%d|%s|%s", r.StatusCode, r.ReasonCode, r.TargetGroupID)
	g := e.group(key, func() *Group {
		return &Group{Log: KindALBHealthCheck.String(), Status: r.StatusCode, ErrorReason: r.ReasonCode, Host: r.TargetGroupID,
			Explanation: healthCheckExplanation(r.ReasonCode, r.StatusCode)}
	})
	e.add(g, r.Time, r.TargetAddr)
}

// logOrder sorts groups: CloudFront, ALB, connection, health check.
func logOrder(log string) int {
	switch log {
	case KindCloudFront.String():
		return 0
	case KindALB.String():
		return 1
	case KindALBConnection.String():
		return 2
	}
	return 3
}

// finish correlates the CloudFront groups and sorts the report.
func (e *explainer) finish() {
	for _, g := range e.groups {
		if g.Log == KindCloudFront.String() {
			for _, h := range e.cfg.OriginDomains {
				g.hosts[strings.ToLower(h)] = true
			}
			g.Correlation = e.correlate(g)
		}
		e.rep.Groups = append(e.rep.Groups, g)
	}
	sort.Slice(e.rep.Groups, func(i, j int) bool {
		a, b := e.rep.Groups[i], e.rep.Groups[j]
		if oa, ob := logOrder(a.Log), logOrder(b.Log); oa != ob {
			return oa < ob
		}
		if a.Count != b.Count {
			return a.Count > b.Count
		}
		return a.key < b.key
	})
	if e.rep.Groups == nil {
		e.rep.Groups = []*Group{}
	}
}

// connectSide reports whether a CloudFront error group is a failure to
// reach the origin at all (DNS, TCP, TLS, connect timeout; cloudfront.md
// §2.4), where no ALB entry means the request never got to the ALB.
func connectSide(g *Group) bool {
	switch g.DetailedResultType {
	case "OriginConnectError", "OriginDnsError", "OriginCommError":
		return true
	case "", "Error":
		return g.Status == 502 || g.Status == 504
	}
	return false
}

// correlate implements the CloudFront ↔ ALB correlation: for each error line
// of g, whether the ALB logged any request for g's hosts within ±Window.
// An ALB logs only requests it received (alb.md §1.1), so an origin
// connection failure with no ALB entry failed before the ALB: TCP or TLS
// (cloudfront.md §2.4–2.5).
func (e *explainer) correlate(g *Group) *Correlation {
	c := &Correlation{ALBLogs: e.albLines > 0, Window: e.cfg.Window.String(), MatchedOn: "host"}
	hosts := make([]string, 0, len(g.hosts))
	var seconds []map[int64]int32
	for h := range g.hosts {
		hosts = append(hosts, h)
		if m := e.albSeconds[h]; m != nil {
			seconds = append(seconds, m)
		}
	}
	sort.Strings(hosts)
	hl := strings.Join(hosts, ", ")
	c.HostSeen = len(seconds) > 0
	w := int64(e.cfg.Window / time.Second)
	for _, t := range g.times {
		for s := t - w; s <= t+w; s++ {
			if e.connFailed[s] > 0 {
				c.FailedHandshakes++
				break
			}
		}
	}
	suffix := ""
	if c.FailedHandshakes > 0 && connectSide(g) {
		suffix = fmt.Sprintf(" The ALB connection log shows failed TLS handshakes within ±%s of %d of these requests: the TLS handshake failed (certificate name, trust or protocol), not TCP.", e.cfg.Window, c.FailedHandshakes)
	}
	if !c.ALBLogs {
		c.Note = "No ALB access logs in the input: add the ALB's AWSLogs/… folder to see whether the ALB received these requests." + suffix
		return c
	}
	prefix := ""
	if !c.HostSeen && len(e.cfg.OriginDomains) == 0 {
		// Without --origin-domain, an ALB that logs another host (the
		// origin domain CloudFront sent) is matched on time only.
		c.MatchedOn = "time"
		seconds = []map[int64]int32{e.albSeconds[anyHost]}
		prefix = "Matched on time only (the ALB logs never mention " + hl + "; pass --origin-domain <the origin's domain> to match on host). "
	}
	for _, t := range g.times {
		found := false
		for _, m := range seconds {
			for s := t - w; s <= t+w && !found; s++ {
				found = m[s] > 0
			}
			if found {
				break
			}
		}
		if found {
			c.WithALB++
		} else {
			c.WithoutALB++
		}
	}
	what := "for " + hl
	if c.MatchedOn == "time" {
		what = "at all"
	}
	switch {
	case c.WithALB == 0 && g.DetailedResultType == "OriginDnsError":
		c.Note = fmt.Sprintf("No ALB entry %s within ±%s of any of these requests: the origin name did not resolve, so nothing reached the ALB.", what, e.cfg.Window)
	case c.WithALB == 0 && connectSide(g):
		c.Note = fmt.Sprintf("No ALB entry %s within ±%s of any of these requests: the ALB never received them, so the TCP connection or the TLS handshake failed before the ALB (an ALB logs only requests it received).", what, e.cfg.Window)
	case c.WithALB == 0:
		c.Note = fmt.Sprintf("No ALB entry %s within ±%s: these requests did not reach this ALB (check it is the origin, and its log delivery).", what, e.cfg.Window)
	default:
		c.Note = fmt.Sprintf("%d of these requests have ALB entries %s within ±%s (%d have none): the ALB was reached around then — see the ALB groups for the same times.", c.WithALB, what, e.cfg.Window, c.WithoutALB)
	}
	c.Note = prefix + c.Note + suffix
	if int64(len(g.times)) < g.Count {
		c.Note += fmt.Sprintf(" (Only the first %d lines were correlated.)", len(g.times))
	}
	return c
}
