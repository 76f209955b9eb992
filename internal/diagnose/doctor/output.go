package doctor

import (
	"encoding/json"
	"fmt"
	"io"
	"strings"
)

// ANSI colors of the text output.
const (
	ansiReset  = "\x1b[0m"
	ansiBold   = "\x1b[1m"
	ansiRed    = "\x1b[31m"
	ansiGreen  = "\x1b[32m"
	ansiYellow = "\x1b[33m"
	ansiCyan   = "\x1b[36m"
)

// WriteJSON writes the report as one indented JSON object with the stable
// field names of Report, Finding, Fix and Summary.
func WriteJSON(w io.Writer, r *Report) error {
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	if err := enc.Encode(r); err != nil {
		return fmt.Errorf("writing the doctor report: %w", err)
	}
	return nil
}

// WriteText writes the report for people; color adds ANSI colors (use it
// only when w is a terminal).
func WriteText(w io.Writer, r *Report, color bool) error {
	paint := func(code, s string) string {
		if !color {
			return s
		}
		return code + s + ansiReset
	}
	var b strings.Builder
	if len(r.Findings) == 0 {
		fmt.Fprintf(&b, "kumo doctor: %s: no findings\n", r.File)
	} else {
		fmt.Fprintf(&b, "kumo doctor: %s: %s, %s, %s\n", r.File,
			plural(r.Summary.Errors, "error"), plural(r.Summary.Warnings, "warning"), plural(r.Summary.Infos, "info"))
	}
	for _, f := range r.Findings {
		sevColor := ansiCyan
		switch f.Severity {
		case SeverityError:
			sevColor = ansiRed
		case SeverityWarning:
			sevColor = ansiYellow
		}
		b.WriteString("\n")
		where := f.File
		if f.Line > 0 {
			where += ":" + itoa(f.Line)
		}
		fmt.Fprintf(&b, "%s %s %s %s\n", paint(sevColor+ansiBold, string(f.Severity)), paint(ansiBold, f.ID), where, f.Path)
		fmt.Fprintf(&b, "  %s\n", f.Title)
		fmt.Fprintf(&b, "  what happens: %s\n", f.Effect)
		fmt.Fprintf(&b, "  why: %s\n", f.Why)
		fmt.Fprintf(&b, "  fix: %s\n", f.Fix.Text)
		if f.Fix.Before != "" {
			fmt.Fprintf(&b, "    %s\n", paint(ansiRed, "- "+f.Fix.Before))
		}
		if f.Fix.After != "" {
			fmt.Fprintf(&b, "    %s\n", paint(ansiGreen, "+ "+f.Fix.After))
		}
	}
	if _, err := io.WriteString(w, b.String()); err != nil {
		return fmt.Errorf("writing the doctor report: %w", err)
	}
	return nil
}

func plural(n int, word string) string {
	if n == 1 || word == "info" {
		return fmt.Sprintf("%d %s", n, word)
	}
	return fmt.Sprintf("%d %ss", n, word)
}
