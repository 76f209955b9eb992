package main

import (
	"fmt"

	"github.com/spf13/cobra"

	"github.com/kumo-dev/kumo/internal/diagnose/probe"
)

func newProbeCmd(g *globals) *cobra.Command {
	var (
		cfg    probe.Config
		format string
	)
	cmd := &cobra.Command{
		Use:   "probe https://host[:port]",
		Short: "Run CloudFront's origin checks against a live HTTPS server and predict CloudFront's answer",
		Long: `probe connects to an HTTPS origin the way CloudFront does and reports DNS,
TCP, the TLS versions and ciphers CloudFront offers, the certificate's name
against the origin domain (or the forwarded Host), the chain's completeness
and order, trust (the system roots plus the kumo CA of --state-dir) and
expiry — every failing check, not only the first — and ends with the answer
CloudFront would give, such as 502 OriginConnectError. The exit code is
non-zero when CloudFront would fail.`,
		Example: `  kumo probe https://alb-test-1234567890.ap-northeast-1.elb.amazonaws.com:9443 \
      --resolve alb-test-1234567890.ap-northeast-1.elb.amazonaws.com:9443:127.0.0.1`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			if format != "text" && format != "json" {
				return fmt.Errorf("--format %q: want text or json", format)
			}
			log, err := g.logger()
			if err != nil {
				return err
			}
			stateDir, err := g.resolvedStateDir()
			if err != nil {
				return err
			}
			if cfg.Roots, cfg.Trust, err = probe.OriginTrust(stateDir); err != nil {
				return err
			}
			cfg.URL = args[0]
			cfg.Logger = log
			rep, err := probe.Run(cmd.Context(), cfg)
			if err != nil {
				return err
			}
			if format == "json" {
				err = rep.WriteJSON(g.stdout)
			} else {
				err = rep.WriteText(g.stdout)
			}
			if err != nil {
				return err
			}
			if rep.Failed() {
				return fmt.Errorf("probe: CloudFront would answer %d %s: %s", rep.Outcome.Status, rep.Outcome.DetailedResultType, rep.Outcome.Message)
			}
			return nil
		},
	}
	f := cmd.Flags()
	f.StringVar(&cfg.OriginDomain, "origin-domain", "", "the origin's DomainName (default: the URL's host)")
	f.StringVar(&cfg.Host, "host", "", "a forwarded viewer Host: the certificate must cover it and it is sent as SNI")
	f.StringVar(&cfg.SNI, "sni", "", "send this server name instead of the one CloudFront sends")
	f.StringSliceVar(&cfg.SSLProtocols, "origin-ssl-protocols", []string{"TLSv1.2"}, "OriginSslProtocols: SSLv3, TLSv1, TLSv1.1, TLSv1.2 (read as a minimum, as the edge does)")
	f.StringArrayVar(&cfg.Resolve, "resolve", nil, "host:port:address[,address...]: use these addresses for host:port (as curl)")
	f.StringVar(&format, "format", "text", "output format: text or json")
	return cmd
}
