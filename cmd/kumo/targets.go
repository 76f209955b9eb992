package main

import (
	"encoding/json"
	"fmt"
	"io"
	"strconv"
	"text/tabwriter"

	"github.com/spf13/cobra"

	"github.com/kumo-dev/kumo/internal/runtime"
)

// newTargetsCmd is `kumo targets`: the live health of every target, like
// `aws elbv2 describe-target-health`, read from the running kumo's admin
// endpoint (GET /v1/targets).
func newTargetsCmd(g *globals) *cobra.Command {
	var output, group string
	cmd := &cobra.Command{
		Use:   "targets",
		Short: "Print the live health of every target (state, reason, description), like aws elbv2 describe-target-health",
		Long: `Print the live health of every registered target of the running kumo.

--output table (the default) prints one row per target. --output json prints
the AWS JSON shape: with --target-group NAME|ARN exactly what
"aws elbv2 describe-target-health" prints ({"TargetHealthDescriptions": [...]});
without it, every load balancer's target groups, each with its
TargetHealthDescriptions.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if output != "table" && output != "json" {
				return fmt.Errorf("--output %q: want table or json", output)
			}
			c, err := adminClient(g)
			if err != nil {
				return err
			}
			var rep runtime.TargetsReport
			if err := c.Do(cmd.Context(), "GET", "/v1/targets", nil, &rep); err != nil {
				return err
			}
			if group != "" {
				tg, err := findTargetGroup(rep, group)
				if err != nil {
					return err
				}
				rep = runtime.TargetsReport{LoadBalancers: []runtime.LoadBalancerTargets{{TargetGroups: []runtime.TargetGroupHealth{tg}}}}
				if output == "json" {
					return writeJSON(g.stdout, struct {
						TargetHealthDescriptions []runtime.TargetHealthDescription
					}{tg.TargetHealthDescriptions})
				}
			}
			if output == "json" {
				return writeJSON(g.stdout, rep)
			}
			return printTargets(g.stdout, rep)
		},
	}
	cmd.Flags().StringVarP(&output, "output", "o", "table", "output format: table or json")
	cmd.Flags().StringVar(&group, "target-group", "", "only this target group (name or ARN)")
	return cmd
}

// findTargetGroup picks one target group by name or ARN.
func findTargetGroup(rep runtime.TargetsReport, key string) (runtime.TargetGroupHealth, error) {
	var names []string
	for _, lb := range rep.LoadBalancers {
		for _, tg := range lb.TargetGroups {
			if tg.TargetGroupName == key || tg.TargetGroupArn == key {
				return tg, nil
			}
			names = append(names, tg.TargetGroupName)
		}
	}
	return runtime.TargetGroupHealth{}, fmt.Errorf("no target group %q in the running stack (target groups: %v)", key, names)
}

func writeJSON(w io.Writer, v any) error {
	enc := json.NewEncoder(w)
	enc.SetIndent("", "    ") // the AWS CLI indents by 4
	return enc.Encode(v)
}

// printTargets prints the table: one row per target.
func printTargets(w io.Writer, rep runtime.TargetsReport) error {
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "TARGET GROUP\tTARGET\tPORT\tHEALTH CHECK PORT\tSTATE\tREASON\tDESCRIPTION")
	n := 0
	for _, lb := range rep.LoadBalancers {
		for _, tg := range lb.TargetGroups {
			for _, d := range tg.TargetHealthDescriptions {
				n++
				fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\t%s\n", tg.TargetGroupName, d.Target.Id, strconv.Itoa(d.Target.Port),
					dash(d.HealthCheckPort), d.TargetHealth.State, dash(d.TargetHealth.Reason), dash(d.TargetHealth.Description))
			}
		}
	}
	if err := tw.Flush(); err != nil {
		return err
	}
	if n == 0 {
		_, err := fmt.Fprintln(w, "(no registered targets)")
		return err
	}
	return nil
}

func dash(s string) string {
	if s == "" {
		return "-"
	}
	return s
}
