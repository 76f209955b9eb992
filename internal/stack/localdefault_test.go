package stack

import (
	"strings"
	"testing"
)

// TestLocalDefault covers Metadata.Kumo.LocalDefault: carried into the model,
// a boolean, and set by at most one distribution.
func TestLocalDefault(t *testing.T) {
	second := `
  CDN2:
    Type: AWS::CloudFront::Distribution
    Metadata: {Kumo: {LocalDefault: %s}}
    Properties:
      DistributionConfig:
        Enabled: true
        Origins:
          - Id: alb
            DomainName: !Ref Rec
            CustomOriginConfig:
              OriginProtocolPolicy: https-only
        DefaultCacheBehavior:
          TargetOriginId: alb
          ViewerProtocolPolicy: allow-all
          ForwardedValues: {QueryString: false}
`
	cdn := "  CDN:\n    Type: AWS::CloudFront::Distribution\n"
	cases := []struct {
		name    string
		first   string // Metadata of CDN ("" for none)
		second  string // LocalDefault of CDN2 ("" for no CDN2)
		want    []bool // LocalDefault per distribution
		wantErr string
	}{
		{name: "absent", want: []bool{false}},
		{name: "set", first: "{Kumo: {LocalDefault: true}}", want: []bool{true}},
		{name: "false", first: "{Kumo: {LocalDefault: false}}", want: []bool{false}},
		{name: "other distribution", first: "{Kumo: {LocalDefault: false}}", second: "true", want: []bool{false, true}},
		{name: "not a boolean", first: "{Kumo: {LocalDefault: yes please}}",
			wantErr: `Resources.CDN.Metadata.Kumo.LocalDefault: expected true or false, got "yes please"`},
		{name: "two distributions", first: "{Kumo: {LocalDefault: true}}", second: "true",
			wantErr: "Resources.CDN2.Metadata.Kumo.LocalDefault: distribution CDN already sets LocalDefault: true; at most one distribution"},
		{name: "misspelt key", first: "{Kumo: {LocalDefaults: true}}",
			wantErr: `Resources.CDN.Metadata.Kumo.LocalDefaults: unknown Metadata.Kumo key (did you mean "LocalDefault"?)`},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			src := baseTemplate(t)
			if c.first != "" {
				src = edit(t, src, cdn, cdn+"    Metadata: "+c.first+"\n")
			}
			if c.second != "" {
				src += strings.Replace(second, "%s", c.second, 1)
			}
			st, err := Parse("stack.yaml", []byte(src), Options{})
			if c.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), c.wantErr) {
					t.Fatalf("err = %v, want it to contain %q", err, c.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if len(st.Distributions) != len(c.want) {
				t.Fatalf("%d distributions, want %d", len(st.Distributions), len(c.want))
			}
			for i, d := range st.Distributions {
				if d.LocalDefault != c.want[i] {
					t.Errorf("%s: LocalDefault = %v, want %v", d.LogicalID, d.LocalDefault, c.want[i])
				}
			}
		})
	}
}
