package probe

import "github.com/kumo-dev/kumo/internal/edge"

// offeredCipherNames lists CloudFront's origin ciphers (edge.OriginCiphers)
// by OpenSSL name, marking those Go cannot offer.
func offeredCipherNames() []string {
	cs := edge.OriginCiphers()
	names := make([]string, 0, len(cs))
	for _, c := range cs {
		n := c.Name
		if c.ID == 0 {
			n += " (not offered: Go cannot speak it)"
		}
		names = append(names, n)
	}
	return names
}
