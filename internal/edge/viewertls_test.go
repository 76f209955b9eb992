package edge

import (
	"crypto/tls"
	"testing"

	"github.com/kumo-dev/kumo/internal/model"
)

// TestViewerSecurityPolicyCiphers implements cloudfront.md §5.7 through
// real handshakes: each security policy allows its own protocols and
// TLS 1.2 cipher suites and refuses the others (the local CA issues ECDSA
// certificates, so the ECDHE-ECDSA suites are the ones that can be tried).
func TestViewerSecurityPolicyCiphers(t *testing.T) {
	const (
		gcm    = tls.TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256
		chacha = tls.TLS_ECDHE_ECDSA_WITH_CHACHA20_POLY1305_SHA256
		sha256 = tls.TLS_ECDHE_ECDSA_WITH_AES_128_CBC_SHA256
		sha1   = tls.TLS_ECDHE_ECDSA_WITH_AES_128_CBC_SHA
	)
	for _, tc := range []struct {
		policy  string
		version uint16
		cipher  uint16
		ok      bool
	}{
		{"TLSv1.2_2021", tls.VersionTLS12, gcm, true},
		{"TLSv1.2_2021", tls.VersionTLS12, chacha, true},
		{"TLSv1.2_2021", tls.VersionTLS12, sha256, false},
		{"TLSv1.2_2021", tls.VersionTLS11, sha1, false},
		{"TLSv1.2_2019", tls.VersionTLS12, sha256, true},
		{"TLSv1.2_2019", tls.VersionTLS12, sha1, false},
		{"TLSv1.2_2018", tls.VersionTLS12, sha1, false},
		{"TLSv1.1_2016", tls.VersionTLS12, sha1, true},
		{"TLSv1.1_2016", tls.VersionTLS11, sha1, true},
		{"TLSv1.1_2016", tls.VersionTLS10, sha1, false},
		{"TLSv1_2016", tls.VersionTLS10, sha1, true},
		{"TLSv1.2_2025", tls.VersionTLS12, chacha, false},
		{"TLSv1.2_2025", tls.VersionTLS12, gcm, true},
		{"TLSv1.3_2025", tls.VersionTLS12, gcm, false},
		{"TLSv1.3_2025", tls.VersionTLS13, 0, true},
	} {
		ev := newEnv(t, nil, testStack(testOrigin("origin.example.com", model.OriginHTTPOnly), policyBehavior(CachingOptimizedID, ""),
			func(d *model.Distribution) {
				d.Aliases = []string{"www.example.com"}
				d.ViewerCertificate = &model.Certificate{DomainName: "www.example.com"}
				d.MinimumProtocolVersion = tc.policy
			}))
		cfg := &tls.Config{ServerName: "www.example.com", RootCAs: ev.ca.Pool(), MinVersion: tc.version, MaxVersion: tc.version}
		if tc.cipher != 0 {
			cfg.CipherSuites = []uint16{tc.cipher}
		}
		conn, err := tls.Dial("tcp", ev.httpsSrv.Addr(), cfg)
		if (err == nil) != tc.ok {
			t.Errorf("%s with %s %s: err %v, want ok=%v", tc.policy, tls.VersionName(tc.version), tls.CipherSuiteName(tc.cipher), err, tc.ok)
		}
		if err == nil {
			conn.Close()
		}
	}
}
