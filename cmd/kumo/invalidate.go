package main

import (
	"encoding/json"
	"fmt"
	"net/http"
	"strings"

	"github.com/spf13/cobra"

	"github.com/kumo-dev/kumo/internal/runtime"
)

func newInvalidateCmd(g *globals) *cobra.Command {
	var dist, ref string
	var wait bool
	cmd := &cobra.Command{
		Use:   "invalidate --distribution ID PATH...",
		Short: "Remove objects from a running distribution's cache (like aws cloudfront create-invalidation)",
		Long: strings.TrimSpace(`
Invalidate removes every cached variant of the objects the paths name from
the running kumo's distribution. A path starts with /; * is allowed only as
the last character (/images/*, /file.jpg*); paths are case-sensitive and a
path with a query string (/a.jpg?v=1) names that query's object only.

--distribution takes the distribution ID (E...), its logical ID or its
domain name. The output is CloudFront's create-invalidation output; with
--wait it is printed once the invalidation is Completed.`),
		Example: `  kumo invalidate --distribution E1UOOOPI28P7FY '/images/*' /index.html`,
		Args:    cobra.MinimumNArgs(1),
		RunE: func(cmd *cobra.Command, paths []string) error {
			if dist == "" {
				return fmt.Errorf("--distribution is required (the distribution ID, logical ID or domain name)")
			}
			c, err := adminClient(g)
			if err != nil {
				return err
			}
			ctx := cmd.Context()
			var ep runtime.Endpoints
			if err := c.Do(ctx, http.MethodGet, "/v1/endpoints", nil, &ep); err != nil {
				return err
			}
			id, err := distributionID(ep, dist)
			if err != nil {
				return err
			}
			var out runtime.InvalidationOutput
			in := runtime.CreateInvalidationInput{Paths: paths, CallerReference: ref}
			if err := c.Do(ctx, http.MethodPost, "/v1/distributions/"+id+"/invalidations", in, &out); err != nil {
				return err
			}
			if wait {
				loc := out.Location
				if out, err = runtime.WaitInvalidation(ctx, c, id, out.Invalidation.ID); err != nil {
					return err
				}
				out.Location = loc
			}
			b, err := json.MarshalIndent(out, "", "    ")
			if err != nil {
				return err
			}
			_, err = fmt.Fprintf(g.stdout, "%s\n", b)
			return err
		},
	}
	cmd.Flags().StringVar(&dist, "distribution", "", "distribution ID (E...), logical ID or domain name")
	cmd.Flags().StringVar(&ref, "caller-reference", "", "caller reference echoed in the output (default: generated)")
	cmd.Flags().BoolVar(&wait, "wait", false, "wait until the invalidation is Completed")
	return cmd
}

// distributionID finds the distribution that s names: its ID, logical ID
// or domain name.
func distributionID(ep runtime.Endpoints, s string) (string, error) {
	var known []string
	for _, d := range ep.Distributions {
		if d.ID == s || d.LogicalID == s || strings.EqualFold(d.DomainName, s) {
			return d.ID, nil
		}
		known = append(known, d.ID+" ("+d.LogicalID+", "+d.DomainName+")")
	}
	return "", fmt.Errorf("no distribution %q in the running stack; distributions: %s", s, strings.Join(known, ", "))
}
