package alb

import (
	"strings"
	"testing"
)

// TestSuspiciousHeaderName: the allocation-free check agrees with the
// normalisation it stands for (trim, '_' as '-', lower case).
func TestSuspiciousHeaderName(t *testing.T) {
	ref := func(k string) bool {
		if k == "Content-Length" || k == "Transfer-Encoding" {
			return false
		}
		n := strings.ToLower(strings.ReplaceAll(strings.TrimSpace(k), "_", "-"))
		return n == "content-length" || n == "transfer-encoding"
	}
	for _, k := range []string{
		"Content-Length", "Transfer-Encoding", "Content_Length", "content-length", "CONTENT_LENGTH",
		"Transfer_Encoding", " Content-Length", "Content-Length ", "Content-Lengt", "Content-Lengths",
		"Content_Lengtj", "X-Content-Length", "Transfer-Encodinf", "", "_", "Content=Length", "Content\x00Length",
	} {
		if got, want := suspiciousHeaderName(k), ref(k); got != want {
			t.Errorf("suspiciousHeaderName(%q) = %v, want %v", k, got, want)
		}
	}
}
