package main

import (
	"fmt"
	"os"
	"strings"
	"time"

	"github.com/kumo-dev/kumo/internal/diagnose/logs"
	"github.com/spf13/cobra"
)

// newLogsCmd is `kumo logs`: explain and stats over CloudFront and ALB logs.
func newLogsCmd(g *globals) *cobra.Command {
	cmd := &cobra.Command{
		Use:   "logs",
		Short: "Explain errors in, and summarise, CloudFront and ALB logs as AWS delivers them",
	}
	cmd.AddCommand(newLogsExplainCmd(g), newLogsStatsCmd(g))
	return cmd
}

// stderrIsTerminal reports whether kumo's stderr is the process's stderr
// and a terminal (for the progress bar).
func (g *globals) stderrIsTerminal() bool {
	if g.stderr != os.Stderr {
		return false
	}
	st, err := os.Stderr.Stat()
	return err == nil && st.Mode()&os.ModeCharDevice != 0
}

func newLogsExplainCmd(g *globals) *cobra.Command {
	var (
		format  string
		window  time.Duration
		origins []string
		samples int
	)
	cmd := &cobra.Command{
		Use:   "explain PATH...",
		Short: "Group the error lines of CloudFront and ALB logs and explain each group's cause and next step",
		Long: strings.TrimSpace(`
Reads CloudFront standard logs and ALB access, connection and health-check
logs — files, or folder trees as AWS delivers them to S3, plain or .gz; "-"
reads stdin — detecting each line's format by its content. Groups the error
lines by status, result type and reason; for each group prints the count,
the first and last time, sample request IDs, the cause and the next step.
CloudFront errors are correlated with the ALB log by time window and host.`),
		Args: cobra.MinimumNArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			if err := logs.CheckFormat(format); err != nil {
				return err
			}
			if window <= 0 {
				return fmt.Errorf("--window %v: want a positive duration", window)
			}
			rep, err := logs.Explain(cmd.Context(), logs.ExplainConfig{
				Input:         logs.Input{Paths: args, Stdin: cmd.InOrStdin()},
				Window:        window,
				OriginDomains: origins,
				Samples:       samples,
			})
			if err != nil {
				return err
			}
			return rep.Write(g.stdout, format)
		},
	}
	cmd.Flags().StringVar(&format, "format", logs.FormatText, "output format: text or json")
	cmd.Flags().DurationVar(&window, "window", logs.DefaultWindow, "correlation window around each CloudFront error")
	cmd.Flags().StringSliceVar(&origins, "origin-domain", nil, "the origin's host name(s) as the ALB logs them (request host or SNI)")
	cmd.Flags().IntVar(&samples, "samples", 5, "sample request IDs per group")
	return cmd
}

func newLogsStatsCmd(g *globals) *cobra.Command {
	var (
		format string
		top    int
	)
	cmd := &cobra.Command{
		Use:   "stats PATH...",
		Short: "Hit ratio, status histogram, top URIs and edge locations, latency percentiles and bytes, in flat memory",
		Long: strings.TrimSpace(`
Streams CloudFront standard logs and ALB access logs (files, folder trees,
.gz, or "-" for stdin) once, in memory that does not grow with the input:
top lists use space-saving counters and percentiles a log-bucket histogram
accurate to ±0.39 %. A progress bar goes to stderr when it is a terminal and
the input is large.`),
		Args: cobra.MinimumNArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			if err := logs.CheckFormat(format); err != nil {
				return err
			}
			if top <= 0 {
				return fmt.Errorf("--top %d: want a positive number", top)
			}
			in := logs.Input{Paths: args, Stdin: cmd.InOrStdin()}
			if g.stderrIsTerminal() {
				in.Progress = logs.ProgressBar(g.stderr)
			}
			st, err := logs.ComputeStats(cmd.Context(), logs.StatsConfig{Input: in, Top: top})
			if err != nil {
				return err
			}
			return st.Write(g.stdout, format)
		},
	}
	cmd.Flags().StringVar(&format, "format", logs.FormatText, "output format: text or json")
	cmd.Flags().IntVar(&top, "top", logs.DefaultTop, "how many top URIs and edge locations")
	return cmd
}
