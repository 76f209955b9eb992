package stack

import (
	"strings"
	"testing"
	"time"
)

const extrasTemplate = `Resources:
  D:
    Type: AWS::CloudFront::Distribution
    Properties:
      DistributionConfig:
        Enabled: true
        Origins:
          - {Id: a, DomainName: a.example.com, CustomOriginConfig: {OriginProtocolPolicy: https-only}}
          - {Id: b, DomainName: b.example.com, CustomOriginConfig: {OriginProtocolPolicy: https-only}}
        OriginGroups:
          Quantity: 1
          Items:
            - Id: g
              FailoverCriteria: {StatusCodes: {Quantity: 2, Items: [500, 503]}}
              Members: {Quantity: 2, Items: [{OriginId: a}, {OriginId: b}]}
        CustomErrorResponses:
          - {ErrorCode: 404, ResponsePagePath: /errors/404.html, ResponseCode: 200, ErrorCachingMinTTL: 30}
          - {ErrorCode: 503}
        DefaultCacheBehavior: {TargetOriginId: g, ViewerProtocolPolicy: allow-all, CachePolicyId: 658327ea-f89d-4fab-a63d-7e88639e58f6}
`

func TestOriginGroupsAndCustomErrorResponses(t *testing.T) {
	st, err := Parse("stack.yaml", []byte(extrasTemplate), Options{})
	if err != nil {
		t.Fatal(err)
	}
	d := st.Distributions[0]
	if len(d.OriginGroups) != 1 || d.OriginGroups[0].Primary != "a" || d.OriginGroups[0].Secondary != "b" || len(d.OriginGroups[0].FailoverStatusCodes) != 2 {
		t.Errorf("origin groups %+v", d.OriginGroups)
	}
	ce := d.CustomErrorResponses
	if len(ce) != 2 || ce[0].ErrorCode != 404 || ce[0].ResponseCode != 200 || ce[0].ErrorCachingMinTTL != 30*time.Second ||
		ce[1].ErrorCachingMinTTL != 10*time.Second || ce[1].ResponsePagePath != "" {
		t.Errorf("custom error responses %+v %+v", ce[0], ce[1])
	}
	for _, tc := range []struct{ old, new, want string }{
		{"Items: [500, 503]", "Items: [500, 501]", `stack.yaml:14: Resources.D.Properties.DistributionConfig.OriginGroups.Items[0].FailoverCriteria.StatusCodes.Items[1]: "501" is not a failover status code`},
		{"{OriginId: b}", "{OriginId: c}", `Members.Items[1].OriginId: "c" is not the Id of an origin of this distribution`},
		{"[{OriginId: a}, {OriginId: b}]", "[{OriginId: a}]", "Members.Items: lists 1 members; an origin group has exactly two"},
		{"- Id: g", "- Id: a", `OriginGroups.Items[0].Id: "a" is already the Id of an origin`},
		{"ErrorCode: 503}", "ErrorCode: 412}", "ErrorCode: 412 cannot have a custom error response"},
		{"ErrorCode: 503}", "ErrorCode: 404}", "ErrorCode: 404 has two custom error responses"},
		{"ResponsePagePath: /errors/404.html, ", "", "CustomErrorResponses[0].ResponsePagePath: missing; required: the page sent with ResponseCode"},
		{"ResponseCode: 200", "ResponseCode: 302", "ResponseCode: 302 is not allowed"},
		{"TargetOriginId: g", "TargetOriginId: x", `TargetOriginId: "x" is not the Id of an origin of this distribution`},
	} {
		_, err := Parse("stack.yaml", []byte(edit(t, extrasTemplate, tc.old, tc.new)), Options{})
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%s → %s: got %v, want %q", tc.old, tc.new, err, tc.want)
		}
	}
}
