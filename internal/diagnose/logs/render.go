package logs

import (
	"encoding/json"
	"fmt"
	"io"
	"sort"
	"strings"
	"time"
)

// Output formats.
const (
	// FormatText is human-readable output.
	FormatText = "text"
	// FormatJSON is indented JSON.
	FormatJSON = "json"
)

// CheckFormat returns an error unless f is FormatText or FormatJSON.
func CheckFormat(f string) error {
	if f != FormatText && f != FormatJSON {
		return fmt.Errorf("--format %q: want text or json", f)
	}
	return nil
}

// writeJSON writes v as indented JSON.
func writeJSON(w io.Writer, v any) error {
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	enc.SetEscapeHTML(false)
	return enc.Encode(v)
}

// fmtTime formats a log time.
func fmtTime(t time.Time) string { return t.UTC().Format(time.RFC3339) }

// Write writes the report in format (FormatText or FormatJSON).
func (r *Report) Write(w io.Writer, format string) error {
	if err := CheckFormat(format); err != nil {
		return err
	}
	if format == FormatJSON {
		return writeJSON(w, r)
	}
	var b strings.Builder
	kinds := make([]string, 0, len(r.Lines))
	var total int64
	for k, n := range r.Lines {
		kinds = append(kinds, fmt.Sprintf("%s %d", k, n))
		total += n
	}
	sort.Strings(kinds)
	fmt.Fprintf(&b, "%d lines read (%s); %d error lines in %d groups; %d unreadable\n", total, strings.Join(kinds, ", "), r.ErrorLines, len(r.Groups), r.Unreadable)
	for _, s := range r.UnreadableSamples {
		fmt.Fprintf(&b, "  unreadable: %s\n", s)
	}
	for i, g := range r.Groups {
		b.WriteString("\n")
		fmt.Fprintf(&b, "[%d] %s  ×%d\n", i+1, g.title(), g.Count)
		if g.Host != "" {
			fmt.Fprintf(&b, "    host:     %s\n", g.Host)
		}
		if len(g.Hosts) > 0 {
			fmt.Fprintf(&b, "    hosts:    %s\n", strings.Join(g.Hosts, ", "))
		}
		fmt.Fprintf(&b, "    when:     %s … %s\n", fmtTime(g.First), fmtTime(g.Last))
		if len(g.SampleIDs) > 0 {
			fmt.Fprintf(&b, "    samples:  %s\n", strings.Join(g.SampleIDs, ", "))
		}
		fmt.Fprintf(&b, "    cause:    %s\n", g.Explanation.Cause)
		if g.Correlation != nil {
			fmt.Fprintf(&b, "    alb:      %s\n", g.Correlation.Note)
		}
		fmt.Fprintf(&b, "    next:     %s\n", g.Explanation.Next)
		fmt.Fprintf(&b, "    (%s, %s)\n", g.Explanation.ID, g.Explanation.Ref)
	}
	if len(r.Groups) == 0 {
		b.WriteString("no error lines\n")
	}
	_, err := io.WriteString(w, b.String())
	return err
}

// title is the one-line name of a group.
func (g *Group) title() string {
	switch g.Log {
	case KindCloudFront.String():
		st := fmt.Sprintf("%03d", g.Status)
		d := g.DetailedResultType
		if d == "" {
			d = "-"
		}
		return fmt.Sprintf("CloudFront %s %s/%s", st, g.ResultType, d)
	case KindALB.String():
		s := fmt.Sprintf("ALB %03d target %s timings %s", g.Status, g.TargetStatus, g.Shape)
		if g.ErrorReason != "" {
			s += " error_reason " + g.ErrorReason
		}
		return s
	case KindALBConnection.String():
		return "ALB connection " + g.ErrorReason
	}
	return fmt.Sprintf("ALB health check FAIL %03d %s", g.Status, g.ErrorReason)
}
