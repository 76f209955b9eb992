package main

import (
	"path/filepath"

	"github.com/spf13/cobra"

	"github.com/kumo-dev/kumo/internal/demo"
)

func newDemoCmd(g *globals) *cobra.Command {
	return &cobra.Command{
		Use:   "demo",
		Short: "Show why CloudFront → ALB over HTTPS answers 502, and the fix, on this machine",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			log, err := g.logger()
			if err != nil {
				return err
			}
			stateDir, err := g.resolvedStateDir()
			if err != nil {
				return err
			}
			return demo.Run(cmd.Context(), demo.Options{
				StateDir: filepath.Join(stateDir, "demo"),
				Out:      g.stdout,
				Logger:   log,
			})
		},
	}
}
