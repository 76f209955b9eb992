package stack

import (
	"strings"
	"testing"
)

// TestUnemulatedProperties: properties kumo accepts but does not emulate are
// reported with their line, path and effect; unset or disabled ones are not.
func TestUnemulatedProperties(t *testing.T) {
	src := string(DefaultTemplate())
	src = strings.Replace(src, "        HttpVersion: http2\n", `        HttpVersion: http2
        WebACLId: arn:aws:wafv2:us-east-1:123456789012:global/webacl/x/1
        Restrictions:
          GeoRestriction:
            RestrictionType: whitelist
            Locations: [JP]
        IPV6Enabled: false
`, 1)
	src = strings.Replace(src, "          CustomOriginConfig:\n", "          OriginShield: {Enabled: false}\n          CustomOriginConfig:\n", 1)
	st, err := Parse("stack.yaml", []byte(src), Options{})
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, u := range st.Unemulated {
		if u.Line == 0 || u.Effect == "" || u.File != "stack.yaml" {
			t.Errorf("incomplete note %+v", u)
		}
		got = append(got, u.Path)
	}
	want := []string{
		"Resources.Distribution.Properties.DistributionConfig.WebACLId",
		"Resources.Distribution.Properties.DistributionConfig.Restrictions",
	}
	if strings.Join(got, "|") != strings.Join(want, "|") {
		t.Errorf("unemulated = %v, want %v (IPV6Enabled false and OriginShield disabled are not notes)", got, want)
	}
}
