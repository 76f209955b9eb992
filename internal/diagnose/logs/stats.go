package logs

import (
	"context"
	"fmt"
	"io"
	"sort"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/kumo-dev/kumo/internal/accesslog"
)

// Stats defaults.
const (
	// DefaultTop is how many top URIs and edge locations are reported.
	DefaultTop = 10
	// topCapacity is the number of space-saving counters per top list:
	// any key with more than 1/topCapacity of the lines is guaranteed kept.
	topCapacity = 4096
	// maxResultTypes bounds the distinct result-type names counted; more are
	// counted as "other" (AWS defines fewer than 20).
	maxResultTypes = 64
)

// StatsConfig configures ComputeStats.
type StatsConfig struct {
	Input
	// Top is how many top URIs and edge locations to report; 0 means 10.
	Top int
}

// Share is a name with its count and its fraction of the total.
type Share struct {
	Name  string  `json:"name"`
	Count int64   `json:"count"`
	Ratio float64 `json:"ratio"`
}

// StatusCount is one bar of a status histogram; status 0 is "-" / 000.
type StatusCount struct {
	Status int   `json:"status"`
	Count  int64 `json:"count"`
}

// Quantiles summarises a duration distribution in seconds; each value is
// within ±QuantileRelativeError of the true quantile.
type Quantiles struct {
	Count int64   `json:"count"`
	P50   float64 `json:"p50_seconds"`
	P90   float64 `json:"p90_seconds"`
	P99   float64 `json:"p99_seconds"`
	Max   float64 `json:"max_seconds"`
}

// CloudFrontStats are the statistics of the CloudFront lines.
type CloudFrontStats struct {
	Requests int64 `json:"requests"`
	// HitRatio is (Hit + RefreshHit + OriginShieldHit) / requests, by
	// x-edge-detailed-result-type (x-edge-result-type in older layouts).
	HitRatio         float64       `json:"hit_ratio"`
	ResultTypes      []Share       `json:"result_types"`
	Statuses         []StatusCount `json:"statuses"`
	TopURIs          []TopEntry    `json:"top_uris"`
	TopEdgeLocations []TopEntry    `json:"top_edge_locations"`
	TimeTaken        Quantiles     `json:"time_taken"`
	BytesSent        int64         `json:"bytes_sent"`
	BytesReceived    int64         `json:"bytes_received"`
}

// ALBStats are the statistics of the ALB access-log lines.
type ALBStats struct {
	Requests             int64         `json:"requests"`
	ELBStatuses          []StatusCount `json:"elb_statuses"`
	TargetStatuses       []StatusCount `json:"target_statuses"`
	TopURIs              []TopEntry    `json:"top_uris"`
	TargetProcessingTime Quantiles     `json:"target_processing_time"`
	BytesSent            int64         `json:"bytes_sent"`
	BytesReceived        int64         `json:"bytes_received"`
}

// Stats is the result of ComputeStats.
type Stats struct {
	Lines      map[string]int64 `json:"lines"`
	Unreadable int64            `json:"unreadable"`
	// UnreadableSamples quotes the first few unreadable lines' errors.
	UnreadableSamples []string         `json:"unreadable_samples,omitempty"`
	CloudFront        *CloudFrontStats `json:"cloudfront,omitempty"`
	ALB               *ALBStats        `json:"alb,omitempty"`
	// QuantileRelativeError is the estimator's documented error bound.
	QuantileRelativeError float64 `json:"quantile_relative_error"`
}

// statsAcc accumulates in fixed memory: arrays for statuses, a bounded map
// for result types, space-saving counters for top lists, log histograms.
type statsAcc struct {
	lines                  [5]int64
	unreadable             int64
	unreadableSamples      []string
	cfResults              map[string]*int64 // pointer values: updating an existing string key would replace the stored key with the aliased one
	cfStatus, elb, target  [1000]int64
	cfURIs, cfEdges, aURIs *TopK
	cfTime, aTime          LogHistogram
	cfSent, cfRecv         int64
	aSent, aRecv           int64
}

// ComputeStats streams the input once and returns its statistics. Memory
// does not grow with the input: see statsAcc.
func ComputeStats(ctx context.Context, cfg StatsConfig) (*Stats, error) {
	if cfg.Top <= 0 {
		cfg.Top = DefaultTop
	}
	a := &statsAcc{cfResults: map[string]*int64{}, cfURIs: NewTopK(topCapacity), cfEdges: NewTopK(topCapacity), aURIs: NewTopK(topCapacity)}
	if err := ReadLines(ctx, cfg.Input, a.line); err != nil {
		return nil, fmt.Errorf("stats: %w", err)
	}
	return a.result(cfg.Top), nil
}

// line handles one line. Text aliases the reader's buffer: the parsers'
// strings are not retained except through TopK, which copies new keys.
func (a *statsAcc) line(l *Line) error {
	var err error
	switch l.Kind {
	case KindCloudFront:
		var r *accesslog.CloudFrontRecord
		var n int
		if r, n, err = accesslog.ParseCloudFrontLineFields(l.Text()); err == nil {
			a.cloudFront(r, n >= 19)
		}
	case KindALB:
		var r *accesslog.ALBRecord
		if r, err = accesslog.ParseALBLine(l.Text()); err == nil {
			a.alb(r)
		}
	case KindALBConnection:
		_, err = accesslog.ParseALBConnectionLine(l.Text())
	case KindALBHealthCheck:
		_, err = accesslog.ParseALBHealthCheckLine(l.Text())
	default:
		err = fmt.Errorf("not a CloudFront, ALB access, connection or health-check log line")
	}
	if err != nil {
		a.unreadable++
		if len(a.unreadableSamples) < maxUnreadableSamples {
			a.unreadableSamples = append(a.unreadableSamples, fmt.Sprintf("%s:%d: %v", l.Source, l.No, err))
		}
		return nil
	}
	a.lines[l.Kind]++
	return nil
}

// cloudFront counts one CloudFront line; hasTime is false for the 18-field
// layout, which has no time-taken (cloudfront.md §1.1).
func (a *statsAcc) cloudFront(r *accesslog.CloudFrontRecord, hasTime bool) {
	rt := r.DetailedResultType
	if rt == "" {
		rt = r.ResultType
	}
	if c := a.cfResults[rt]; c != nil {
		*c++
	} else if len(a.cfResults) < maxResultTypes {
		a.cfResults[strings.Clone(rt)] = new(int64(1)) // rt may alias the line buffer
	} else if c := a.cfResults["other"]; c != nil {
		*c++
	} else {
		a.cfResults["other"] = new(int64(1))
	}
	if r.Status >= 0 && r.Status < len(a.cfStatus) {
		a.cfStatus[r.Status]++
	}
	a.cfURIs.Add(r.URIStem)
	a.cfEdges.Add(r.EdgeLocation)
	if hasTime {
		a.cfTime.Add(r.TimeTaken)
	}
	a.cfSent += r.SCBytes
	if r.CSBytes > 0 {
		a.cfRecv += r.CSBytes
	}
}

// requestPath returns the path of an ALB request field, without the query.
func requestPath(req string) string {
	i := strings.Index(req, "://")
	if i < 0 {
		return "-"
	}
	p := req[i+3:]
	j := strings.IndexByte(p, '/')
	if j < 0 {
		return "/"
	}
	p = p[j:]
	if k := strings.IndexAny(p, "? "); k >= 0 {
		p = p[:k]
	}
	return p
}

func (a *statsAcc) alb(r *accesslog.ALBRecord) {
	if r.ELBStatus >= 0 && r.ELBStatus < len(a.elb) {
		a.elb[r.ELBStatus]++
	}
	if r.TargetStatus >= 0 && r.TargetStatus < len(a.target) {
		a.target[r.TargetStatus]++
	}
	a.aURIs.Add(requestPath(r.Request))
	a.aTime.Add(r.TargetProcessingTime)
	a.aSent += r.SentBytes
	a.aRecv += r.ReceivedBytes
}

// histogram lists the non-zero statuses in order.
func histogram(c *[1000]int64) []StatusCount {
	out := []StatusCount{}
	for s, n := range c {
		if n > 0 {
			out = append(out, StatusCount{Status: s, Count: n})
		}
	}
	return out
}

func quantiles(h *LogHistogram) Quantiles {
	return Quantiles{Count: h.Count(), P50: h.Quantile(0.50).Seconds(), P90: h.Quantile(0.90).Seconds(), P99: h.Quantile(0.99).Seconds(), Max: h.Max().Seconds()}
}

func (a *statsAcc) result(top int) *Stats {
	s := &Stats{Lines: map[string]int64{}, Unreadable: a.unreadable, UnreadableSamples: a.unreadableSamples, QuantileRelativeError: QuantileRelativeError}
	for k, n := range a.lines {
		if n > 0 {
			s.Lines[Kind(k).String()] = n
		}
	}
	if n := a.lines[KindCloudFront]; n > 0 {
		cf := &CloudFrontStats{Requests: n, Statuses: histogram(&a.cfStatus), TopURIs: a.cfURIs.Top(top), TopEdgeLocations: a.cfEdges.Top(top),
			TimeTaken: quantiles(&a.cfTime), BytesSent: a.cfSent, BytesReceived: a.cfRecv}
		var hits int64
		for name, cp := range a.cfResults {
			c := *cp
			cf.ResultTypes = append(cf.ResultTypes, Share{Name: name, Count: c, Ratio: float64(c) / float64(n)})
			if name == "Hit" || name == "RefreshHit" || name == "OriginShieldHit" {
				hits += c
			}
		}
		sort.Slice(cf.ResultTypes, func(i, j int) bool {
			x, y := cf.ResultTypes[i], cf.ResultTypes[j]
			if x.Count != y.Count {
				return x.Count > y.Count
			}
			return x.Name < y.Name
		})
		cf.HitRatio = float64(hits) / float64(n)
		s.CloudFront = cf
	}
	if n := a.lines[KindALB]; n > 0 {
		s.ALB = &ALBStats{Requests: n, ELBStatuses: histogram(&a.elb), TargetStatuses: histogram(&a.target), TopURIs: a.aURIs.Top(top),
			TargetProcessingTime: quantiles(&a.aTime), BytesSent: a.aSent, BytesReceived: a.aRecv}
	}
	return s
}

// Write writes the statistics as tables (FormatText) or JSON.
func (s *Stats) Write(w io.Writer, format string) error {
	if err := CheckFormat(format); err != nil {
		return err
	}
	if format == FormatJSON {
		return writeJSON(w, s)
	}
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	kinds := make([]string, 0, len(s.Lines))
	for k, n := range s.Lines {
		kinds = append(kinds, fmt.Sprintf("%s %d", k, n))
	}
	sort.Strings(kinds)
	fmt.Fprintf(tw, "lines\t%s; %d unreadable\n", strings.Join(kinds, ", "), s.Unreadable)
	for _, u := range s.UnreadableSamples {
		fmt.Fprintf(tw, "  unreadable\t%s\n", u)
	}
	q := func(name string, v Quantiles) {
		fmt.Fprintf(tw, "%s (n=%d)\tp50 %s\tp90 %s\tp99 %s\tmax %s\t(±%.2f%%)\n", name, v.Count, secs(v.P50), secs(v.P90), secs(v.P99), secs(v.Max), 100*s.QuantileRelativeError)
	}
	if cf := s.CloudFront; cf != nil {
		fmt.Fprintf(tw, "\nCLOUDFRONT\t%d requests\thit ratio %.1f%%\tsent %s\treceived %s\n", cf.Requests, 100*cf.HitRatio, byteSize(cf.BytesSent), byteSize(cf.BytesReceived))
		q("time-taken", cf.TimeTaken)
		fmt.Fprintln(tw, "\nRESULT TYPE\tCOUNT\tSHARE")
		for _, r := range cf.ResultTypes {
			fmt.Fprintf(tw, "%s\t%d\t%.1f%%\n", r.Name, r.Count, 100*r.Ratio)
		}
		statusTable(tw, "STATUS", cf.Statuses, cf.Requests)
		topTable(tw, "URI", cf.TopURIs)
		topTable(tw, "EDGE LOCATION", cf.TopEdgeLocations)
	}
	if a := s.ALB; a != nil {
		fmt.Fprintf(tw, "\nALB\t%d requests\tsent %s\treceived %s\n", a.Requests, byteSize(a.BytesSent), byteSize(a.BytesReceived))
		q("target_processing_time", a.TargetProcessingTime)
		statusTable(tw, "ELB STATUS", a.ELBStatuses, a.Requests)
		statusTable(tw, "TARGET STATUS", a.TargetStatuses, a.Requests)
		topTable(tw, "URI", a.TopURIs)
	}
	return tw.Flush()
}

func statusTable(w io.Writer, title string, c []StatusCount, total int64) {
	fmt.Fprintf(w, "\n%s\tCOUNT\tSHARE\n", title)
	for _, s := range c {
		name := fmt.Sprintf("%03d", s.Status)
		if s.Status == 0 {
			name = "-/000"
		}
		fmt.Fprintf(w, "%s\t%d\t%.1f%%\n", name, s.Count, 100*float64(s.Count)/float64(total))
	}
}

func topTable(w io.Writer, title string, t []TopEntry) {
	fmt.Fprintf(w, "\nTOP %s\tCOUNT\t\n", title)
	for _, e := range t {
		approx := ""
		if e.MaxError > 0 {
			approx = fmt.Sprintf("(≤ +%d)", e.MaxError)
		}
		fmt.Fprintf(w, "%s\t%d\t%s\n", e.Key, e.Count, approx)
	}
}

// secs formats seconds.
func secs(v float64) string {
	return time.Duration(v * float64(time.Second)).Round(time.Microsecond).String()
}

// byteSize formats a byte count.
func byteSize(n int64) string {
	const unit = 1024
	if n < unit {
		return fmt.Sprintf("%d B", n)
	}
	div, exp := int64(unit), 0
	for m := n / unit; m >= unit; m /= unit {
		div *= unit
		exp++
	}
	return fmt.Sprintf("%.1f %ciB", float64(n)/float64(div), "KMGTPE"[exp])
}

// largeInput is the input size from which ProgressBar draws.
const largeInput = 64 << 20

// ProgressBar returns a ProgressFunc that draws a one-line bar on w (meant
// for a terminal stderr) once the input is large (64 MiB): a percentage
// when the size is known, the bytes read otherwise (stdin).
func ProgressBar(w io.Writer) ProgressFunc {
	const width = 30
	drawn := false
	return func(done, total int64, final bool) {
		if total < largeInput && done < largeInput && !drawn {
			return
		}
		drawn = true
		if total > 0 {
			f := min(float64(done)/float64(total), 1)
			n := int(f * width)
			fmt.Fprintf(w, "\r[%s%s] %5.1f%% %s / %s ", strings.Repeat("=", n), strings.Repeat(" ", width-n), 100*f, byteSize(done), byteSize(total))
		} else {
			fmt.Fprintf(w, "\rread %s ", byteSize(done))
		}
		if final {
			fmt.Fprint(w, "\n")
		}
	}
}
