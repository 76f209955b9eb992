package edge

import "crypto/tls"

// OriginCipher is one cipher CloudFront offers a custom origin, by its
// OpenSSL name; ID is 0 where Go's crypto/tls cannot speak it.
type OriginCipher struct {
	Name string
	ID   uint16
}

// OriginCiphers implements the cipher list of cloudfront.md §2.1: the
// ciphers CloudFront offers a custom origin for TLS 1.2 and below, in the
// documented order. Go cannot offer ECDHE-*-AES256-SHA384 nor RC4-MD5; the
// edge offers the rest. TLS 1.3 suites are not configurable in Go (all three
// are offered). The edge dials origins with this list and `kumo probe`
// reports it, so the two never disagree.
func OriginCiphers() []OriginCipher {
	return []OriginCipher{
		{"ECDHE-ECDSA-AES256-GCM-SHA384", tls.TLS_ECDHE_ECDSA_WITH_AES_256_GCM_SHA384},
		{"ECDHE-ECDSA-AES256-SHA384", 0},
		{"ECDHE-ECDSA-AES256-SHA", tls.TLS_ECDHE_ECDSA_WITH_AES_256_CBC_SHA},
		{"ECDHE-ECDSA-AES128-GCM-SHA256", tls.TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256},
		{"ECDHE-ECDSA-AES128-SHA256", tls.TLS_ECDHE_ECDSA_WITH_AES_128_CBC_SHA256},
		{"ECDHE-ECDSA-AES128-SHA", tls.TLS_ECDHE_ECDSA_WITH_AES_128_CBC_SHA},
		{"ECDHE-RSA-AES256-GCM-SHA384", tls.TLS_ECDHE_RSA_WITH_AES_256_GCM_SHA384},
		{"ECDHE-RSA-AES256-SHA384", 0},
		{"ECDHE-RSA-AES256-SHA", tls.TLS_ECDHE_RSA_WITH_AES_256_CBC_SHA},
		{"ECDHE-RSA-AES128-GCM-SHA256", tls.TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256},
		{"ECDHE-RSA-AES128-SHA256", tls.TLS_ECDHE_RSA_WITH_AES_128_CBC_SHA256},
		{"ECDHE-RSA-AES128-SHA", tls.TLS_ECDHE_RSA_WITH_AES_128_CBC_SHA},
		{"AES256-SHA", tls.TLS_RSA_WITH_AES_256_CBC_SHA},
		{"AES128-SHA", tls.TLS_RSA_WITH_AES_128_CBC_SHA},
		{"DES-CBC3-SHA", tls.TLS_RSA_WITH_3DES_EDE_CBC_SHA},
		{"RC4-MD5", 0},
	}
}

// OriginCipherSuites returns the IDs of the OriginCiphers Go can offer.
func OriginCipherSuites() []uint16 {
	var ids []uint16
	for _, c := range OriginCiphers() {
		if c.ID != 0 {
			ids = append(ids, c.ID)
		}
	}
	return ids
}
