package probe

import (
	"encoding/json"
	"fmt"
	"io"
	"strings"
	"text/tabwriter"
	"time"
)

// WriteJSON writes the report as indented JSON.
func (r *Report) WriteJSON(w io.Writer) error {
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	if err := enc.Encode(r); err != nil {
		return fmt.Errorf("writing the probe report: %w", err)
	}
	return nil
}

// WriteText writes the report for a human: the settings, every check, the
// TLS versions, the chain as sent, and CloudFront's outcome last.
func (r *Report) WriteText(w io.Writer) error {
	var b strings.Builder
	fmt.Fprintf(&b, "kumo probe %s\n\n", r.URL)
	tw := tabwriter.NewWriter(&b, 0, 0, 2, ' ', 0)
	fmt.Fprintf(tw, "  origin domain\t%s\n", r.OriginDomain)
	if r.Host != "" {
		fmt.Fprintf(tw, "  forwarded Host\t%s\n", r.Host)
	} else {
		fmt.Fprintf(tw, "  forwarded Host\t(none: Host is not forwarded)\n")
	}
	fmt.Fprintf(tw, "  SNI sent\t%s\n", r.SNI)
	fmt.Fprintf(tw, "  certificate must cover\t%s\n", r.ExpectedName)
	fmt.Fprintf(tw, "  OriginSslProtocols\t%s (CloudFront offers %s)\n", strings.Join(r.Protocols, ", "), strings.Join(r.Offered, ", "))
	fmt.Fprintf(tw, "  trust\t%s\n", r.Trust)
	_ = tw.Flush()

	b.WriteString("\nChecks\n")
	tw = tabwriter.NewWriter(&b, 0, 0, 2, ' ', 0)
	for _, c := range r.Checks {
		fmt.Fprintf(tw, "  %s\t%s\t%s\n", strings.ToUpper(string(c.Status)), c.ID, c.Summary)
	}
	_ = tw.Flush()

	if len(r.Versions) > 0 {
		b.WriteString("\nTLS versions (one handshake each, CloudFront's ciphers)\n")
		tw = tabwriter.NewWriter(&b, 0, 0, 2, ' ', 0)
		for _, v := range r.Versions {
			offered := "not offered by CloudFront"
			if v.Offered {
				offered = "offered by CloudFront"
			}
			res := "accepted, " + v.Cipher
			if !v.Accepted {
				res = "refused: " + v.Error
			}
			fmt.Fprintf(tw, "  %s\t%s\t%s\n", v.Version, offered, res)
		}
		_ = tw.Flush()
	}
	fmt.Fprintf(&b, "\nCiphers CloudFront offers (TLS 1.2 and below): %s\n", strings.Join(r.Ciphers, ", "))

	if len(r.Chain) > 0 {
		b.WriteString("\nCertificate chain as sent\n")
		for _, c := range r.Chain {
			fmt.Fprintf(&b, "  #%d %s\n     issuer %s\n     valid %s to %s", c.Index, c.Subject, c.Issuer,
				c.NotBefore.Format(time.RFC3339), c.NotAfter.Format(time.RFC3339))
			if len(c.DNSNames) > 0 {
				fmt.Fprintf(&b, "\n     DNS names %s", strings.Join(c.DNSNames, ", "))
			}
			switch {
			case c.SelfSigned:
				b.WriteString("\n     self-signed")
			case c.IsCA:
				b.WriteString("\n     CA certificate")
			}
			b.WriteString("\n")
		}
	}

	b.WriteString("\nOutcome\n")
	o := r.Outcome
	if o.WouldConnect {
		fmt.Fprintf(&b, "  CloudFront would connect to the origin (%d: the viewer gets the origin's response).\n", o.Status)
	} else {
		fmt.Fprintf(&b, "  CloudFront would answer %d %s (X-Cache: %s; reason %s)\n", o.Status, o.DetailedResultType, o.XCache, o.Reason)
		fmt.Fprintf(&b, "  error page: %s\n", o.Message)
		fmt.Fprintf(&b, "  because: %s\n", o.Cause)
		if n := len(r.Failing()); n > 1 {
			fmt.Fprintf(&b, "  (%d checks fail; each one alone makes CloudFront fail)\n", n)
		}
	}
	_, err := io.WriteString(w, b.String())
	if err != nil {
		return fmt.Errorf("writing the probe report: %w", err)
	}
	return nil
}
