package main

import (
	"github.com/spf13/cobra"

	"github.com/kumo-dev/kumo/internal/admin"
	"github.com/kumo-dev/kumo/internal/runtime"
)

// adminClient finds the kumo running with the state directory and returns a
// client for its admin endpoint.
func adminClient(g *globals) (*admin.Client, error) {
	stateDir, err := g.resolvedStateDir()
	if err != nil {
		return nil, err
	}
	ep, err := runtime.ReadEndpoints(stateDir)
	if err != nil {
		return nil, err
	}
	return admin.NewClient(ep.Admin, stateDir)
}

func newStatusCmd(g *globals) *cobra.Command {
	return &cobra.Command{
		Use:   "status",
		Short: "Print where the running kumo listens: distributions, load balancers, targets and their health",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			c, err := adminClient(g)
			if err != nil {
				return err
			}
			var ep runtime.Endpoints
			if err := c.Do(cmd.Context(), "GET", "/v1/endpoints", nil, &ep); err != nil {
				return err
			}
			printEndpoints(g.stdout, ep)
			return nil
		},
	}
}
