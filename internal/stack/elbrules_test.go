package stack

import (
	"testing"
	"time"

	"github.com/kumo-dev/kumo/internal/model"
)

// TestRuleRegexTransformsAndGroupStickinessLoad checks that RegexValues,
// Transforms, TargetGroupStickinessConfig, ProtocolVersion and GrpcCode
// reach the model (alb.md §5.2–5.4, §6.1–6.2).
func TestRuleRegexTransformsAndGroupStickinessLoad(t *testing.T) {
	src := baseTemplate(t)
	src = edit(t, src, "        - Field: path-pattern\n          Values: [/api/*]\n",
		"        - Field: host-header\n          HostHeaderConfig: {Values: [\"*.example.com\"], RegexValues: [\"^mywebsite-(.+)\\\\.com$\"]}\n"+
			"        - Field: http-header\n          HttpHeaderConfig: {HttpHeaderName: X-Env, RegexValues: [\"^dev-[0-9]+$\"]}\n")
	src = edit(t, src, "      Priority: 10\n", "      Priority: 10\n      Transforms:\n"+
		"        - Type: host-header-rewrite\n          HostHeaderRewriteConfig: {Rewrites: [{Regex: \"^mywebsite-(.+).com$\", Replace: \"internal.dev.$1.myweb.com\"}]}\n"+
		"        - Type: url-rewrite\n          UrlRewriteConfig: {Rewrites: [{Regex: \"^/dp/([A-Za-z0-9]+)/?$\", Replace: \"/product.php?id=$1\"}]}\n")
	src = edit(t, src, "        - Type: fixed-response\n          FixedResponseConfig: {StatusCode: \"404\", ContentType: text/plain}\n",
		"        - Type: forward\n          ForwardConfig:\n            TargetGroups: [{TargetGroupArn: !Ref TG, Weight: 1}, {TargetGroupArn: !Ref TG2, Weight: 3}]\n"+
			"            TargetGroupStickinessConfig: {Enabled: true, DurationSeconds: 3600}\n")
	src = edit(t, src, "  Web1:\n", "  TG2:\n    Type: AWS::ElasticLoadBalancingV2::TargetGroup\n    Properties:\n      Protocol: HTTPS\n      Port: 443\n      ProtocolVersion: GRPC\n      Matcher: {GrpcCode: \"0-12\"}\n  Web1:\n")
	st, err := Parse("stack.yaml", []byte(src), Options{})
	if err != nil {
		t.Fatal(err)
	}
	r := st.LoadBalancers[0].Listeners[0].Rules[0]
	if len(r.Conditions) != 2 || r.Conditions[0].RegexValues[0] != `^mywebsite-(.+)\.com$` || r.Conditions[0].Values[0] != "*.example.com" ||
		r.Conditions[1].HTTPHeaderName != "X-Env" || r.Conditions[1].RegexValues[0] != "^dev-[0-9]+$" {
		t.Errorf("conditions %+v %+v", *r.Conditions[0], *r.Conditions[1])
	}
	if len(r.Transforms) != 2 || r.Transforms[0].Type != model.TransformHostHeaderRewrite ||
		r.Transforms[0].Rewrites[0].Replace != "internal.dev.$1.myweb.com" || r.Transforms[1].Type != model.TransformURLRewrite {
		t.Errorf("transforms %+v", r.Transforms)
	}
	a := r.Actions[0]
	if a.TargetGroupStickiness == nil || a.TargetGroupStickiness.Duration != time.Hour || len(a.TargetGroups) != 2 || a.TargetGroups[1].Weight != 3 {
		t.Errorf("forward %+v", a)
	}
	tg2 := a.TargetGroups[1].TargetGroup
	if tg2.ProtocolVersion != "GRPC" || tg2.HealthCheck.GrpcMatcher != "0-12" || tg2.HealthCheck.Path != "/AWS.ALB/healthcheck" {
		t.Errorf("GRPC target group %+v", tg2)
	}
}
