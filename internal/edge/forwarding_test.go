package edge

import (
	"testing"

	"github.com/kumo-dev/kumo/internal/model"
)

// TestBehaviorForwarding checks the exported view of a behavior's cache key
// and origin forwarding against the rules the edge serves with.
func TestBehaviorForwarding(t *testing.T) {
	legacy := &model.CacheBehavior{TargetOriginID: "o1", ForwardedValues: &model.ForwardedValues{
		CookiesForward: "whitelist", WhitelistedNames: []string{"sess*"}, Headers: []string{"Host", "Authorization"}}, MaxTTL: 60, DefaultTTL: 60}
	for _, tc := range []struct {
		name                                       string
		b                                          *model.CacheBehavior
		legacy, caches, host, authOrigin, authORP  bool
		cookiesOutsideKey, sessCookie, otherCookie bool
	}{
		{"CachingOptimized", policyBehavior(CachingOptimizedID, ""), false, true, false, false, false, false, false, false},
		{"AllViewer", policyBehavior(CachingOptimizedID, AllViewerID), false, true, true, false, true, true, true, true},
		{"AllViewerExceptHostHeader", policyBehavior(CachingDisabledID, AllViewerExceptHostHeaderID), false, false, false, false, true, true, true, true},
		{"Amplify keys on Authorization", policyBehavior(AmplifyID, ""), false, true, true, true, false, false, true, true},
		{"legacy", legacy, true, true, true, true, false, false, true, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			f, err := BehaviorForwarding(tc.b)
			if err != nil {
				t.Fatal(err)
			}
			got := []bool{f.Legacy(), f.Caches(), f.ForwardsHost(), f.OriginHeader("authorization"), f.OriginRequestPolicyHeader("Authorization"),
				f.CookiesOutsideKey(), f.OriginCookie("session"), f.OriginCookie("other")}
			want := []bool{tc.legacy, tc.caches, tc.host, tc.authOrigin, tc.authORP, tc.cookiesOutsideKey, tc.sessCookie, tc.otherCookie}
			for i := range got {
				if got[i] != want[i] {
					t.Errorf("legacy/caches/host/authOrigin/authORP/cookiesOutsideKey/sess/other = %v, want %v", got, want)
					break
				}
			}
		})
	}
}
