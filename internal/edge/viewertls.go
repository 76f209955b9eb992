package edge

import (
	"crypto/tls"
	"fmt"
)

// Viewer TLS 1.2-and-below cipher suites of the security policies
// (cloudfront.md §5.7), by OpenSSL name. Suites Go does not implement
// (ECDHE-*-AES256-SHA384, RC4-MD5) are left out; TLS 1.3 suites are not
// configurable in Go and are always TLS_AES_128_GCM_SHA256,
// TLS_AES_256_GCM_SHA384 and TLS_CHACHA20_POLY1305_SHA256 (so
// TLSv1.2_2025's TLS 1.3 CHACHA20 exclusion is not applied; UNCONFIRMED
// whether it applies to TLS 1.3). Go chooses the order among allowed
// suites itself, not CloudFront's server preference.
var (
	ciphers2021 = []uint16{
		tls.TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256, tls.TLS_ECDHE_ECDSA_WITH_AES_256_GCM_SHA384, tls.TLS_ECDHE_ECDSA_WITH_CHACHA20_POLY1305_SHA256,
		tls.TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256, tls.TLS_ECDHE_RSA_WITH_AES_256_GCM_SHA384, tls.TLS_ECDHE_RSA_WITH_CHACHA20_POLY1305_SHA256,
	}
	ciphers2019add = []uint16{tls.TLS_ECDHE_ECDSA_WITH_AES_128_CBC_SHA256, tls.TLS_ECDHE_RSA_WITH_AES_128_CBC_SHA256}
	ciphers2018add = []uint16{tls.TLS_RSA_WITH_AES_128_GCM_SHA256, tls.TLS_RSA_WITH_AES_256_GCM_SHA384, tls.TLS_RSA_WITH_AES_128_CBC_SHA256}
	ciphers2016add = []uint16{
		tls.TLS_ECDHE_ECDSA_WITH_AES_128_CBC_SHA, tls.TLS_ECDHE_ECDSA_WITH_AES_256_CBC_SHA,
		tls.TLS_ECDHE_RSA_WITH_AES_128_CBC_SHA, tls.TLS_ECDHE_RSA_WITH_AES_256_CBC_SHA,
		tls.TLS_RSA_WITH_AES_256_CBC_SHA, tls.TLS_RSA_WITH_AES_128_CBC_SHA,
	}
	ciphersTLSv1add = []uint16{tls.TLS_RSA_WITH_3DES_EDE_CBC_SHA}
)

// viewerCiphers implements the cipher half of cloudfront.md §5.7: the
// TLS 1.0-1.2 cipher suites a viewer security policy allows (each older
// policy adds to the newer one's list; TLSv1.2_2025 drops CHACHA20;
// TLSv1.3_2025 allows TLS 1.3 only, so nil).
func viewerCiphers(policy string) ([]uint16, error) {
	var out []uint16
	add := func(s ...[]uint16) {
		for _, l := range s {
			out = append(out, l...)
		}
	}
	switch policy {
	case "TLSv1.3_2025":
		return nil, nil
	case "TLSv1.2_2025":
		for _, c := range ciphers2021 {
			if c != tls.TLS_ECDHE_ECDSA_WITH_CHACHA20_POLY1305_SHA256 && c != tls.TLS_ECDHE_RSA_WITH_CHACHA20_POLY1305_SHA256 {
				out = append(out, c)
			}
		}
	case "TLSv1.2_2021":
		add(ciphers2021)
	case "TLSv1.2_2019":
		add(ciphers2021, ciphers2019add)
	case "TLSv1.2_2018":
		add(ciphers2021, ciphers2019add, ciphers2018add)
	case "TLSv1.1_2016", "TLSv1_2016":
		add(ciphers2021, ciphers2019add, ciphers2018add, ciphers2016add)
	case "", "TLSv1", "SSLv3":
		add(ciphers2021, ciphers2019add, ciphers2018add, ciphers2016add, ciphersTLSv1add)
	default:
		return nil, fmt.Errorf("unknown MinimumProtocolVersion %q", policy)
	}
	return out, nil
}

// viewerCurves are the key exchange groups of cloudfront.md §5.7: the
// hybrid post-quantum X25519MLKEM768 (TLS 1.3), X25519, prime256v1 and
// secp384r1.
func viewerCurves() []tls.CurveID {
	return []tls.CurveID{tls.X25519MLKEM768, tls.X25519, tls.CurveP256, tls.CurveP384}
}
