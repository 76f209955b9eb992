package stack

import (
	"errors"
	"os"
	"strings"
	"testing"
)

func baseTemplate(t testing.TB) string {
	t.Helper()
	b, err := os.ReadFile("testdata/base.yaml")
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

// edit replaces exactly one occurrence of old in s.
func edit(t testing.TB, s, old, new string) string {
	t.Helper()
	if strings.Count(s, old) != 1 {
		t.Fatalf("edit: %q occurs %d times in the template", old, strings.Count(s, old))
	}
	return strings.Replace(s, old, new, 1)
}

func TestBaseTemplateIsValid(t *testing.T) {
	st, err := Parse("stack.yaml", []byte(baseTemplate(t)), Options{})
	if err != nil {
		t.Fatal(err)
	}
	if got := st.Distributions[0].Comment; got != "prod distribution" {
		t.Errorf("Comment = %q", got)
	}
	if got := st.Distributions[0].Origins[0].DomainName; got != "alb.example.com" {
		t.Errorf("origin = %q", got)
	}
}

func TestMalformedTemplates(t *testing.T) {
	type rep struct{ old, new string }
	cases := []struct {
		name string
		reps []rep
		raw  string // used instead of the base template when set
		opt  Options
		want string
	}{
		{name: "bad origin protocol policy",
			reps: []rep{{"OriginProtocolPolicy: https-only", "OriginProtocolPolicy: https"}},
			want: `stack.yaml:75: Resources.CDN.Properties.DistributionConfig.Origins[0].CustomOriginConfig.OriginProtocolPolicy: "https" is not one of http-only, https-only, match-viewer`},
		{name: "unknown Ref",
			reps: []rep{{"LoadBalancerArn: !Ref LB", "LoadBalancerArn: !Ref LBB"}},
			want: `stack.yaml:25: Resources.Https.Properties.LoadBalancerArn.Ref: "LBB" is not a parameter or resource of this template (did you mean "LB"?)`},
		{name: "unknown GetAtt attribute",
			reps: []rep{{"DNSName: !GetAtt LB.DNSName", "DNSName: !GetAtt LB.DnsName"}},
			want: `stack.yaml:63: Resources.Rec.Properties.AliasTarget.DNSName.Fn::GetAtt: LB (AWS::ElasticLoadBalancingV2::LoadBalancer) has no attribute "DnsName" (did you mean "DNSName"?); its attributes are CanonicalHostedZoneID, DNSName, LoadBalancerArn, LoadBalancerFullName, LoadBalancerName, SecurityGroups`},
		{name: "GetAtt of unknown resource",
			reps: []rep{{"DNSName: !GetAtt LB.DNSName", "DNSName: !GetAtt Nope.DNSName"}},
			want: `stack.yaml:63: Resources.Rec.Properties.AliasTarget.DNSName.Fn::GetAtt: "Nope" is not a resource of this template`},
		{name: "cycle",
			reps: []rep{{"      PrivateIpAddress: 10.0.4.254", "      PrivateIpAddress: !GetAtt TG.TargetGroupName"}},
			want: `stack.yaml:44: Resources.TG: circular dependency between resources: TG -> Web1 -> TG; break it (for example use a literal value instead of a Ref/GetAtt)`},
		{name: "IP origin",
			reps: []rep{{"DomainName: !Ref Rec", "DomainName: 192.0.2.10"}},
			want: `stack.yaml:73: Resources.CDN.Properties.DistributionConfig.Origins[0].DomainName: The parameter origin name cannot be an IP address.`},
		{name: "bad origin port",
			reps: []rep{{"OriginProtocolPolicy: https-only", "OriginProtocolPolicy: https-only\n              HTTPSPort: 8443\n              HTTPPort: 1000"}},
			want: `stack.yaml:77: Resources.CDN.Properties.DistributionConfig.Origins[0].CustomOriginConfig.HTTPPort: 1000 is not an allowed origin port: use 80, 443 or 1024-65535`},
		{name: "bad TTL order",
			reps: []rep{{"          MinTTL: 0", "          MinTTL: 100\n          DefaultTTL: 50"}},
			want: `stack.yaml:80: Resources.CDN.Properties.DistributionConfig.DefaultCacheBehavior.MinTTL: MinTTL (100) must not exceed DefaultTTL (50)`},
		{name: "TargetOriginId names no origin",
			reps: []rep{{"TargetOriginId: alb", "TargetOriginId: alb2"}},
			want: `stack.yaml:77: Resources.CDN.Properties.DistributionConfig.DefaultCacheBehavior.TargetOriginId: "alb2" is not the Id of an origin of this distribution (did you mean "alb"?); origins are alb`},
		{name: "bad matcher",
			reps: []rep{{`Matcher: {HttpCode: "200"}`, `Matcher: {HttpCode: "200-600"}`}},
			want: `stack.yaml:49: Resources.TG.Properties.Matcher.HttpCode: "200-600": codes must be within 200-499 (a range low to high)`},
		{name: "duplicate rule priority",
			reps: []rep{{"  TG:\n", "  Rule2:\n    Type: AWS::ElasticLoadBalancingV2::ListenerRule\n    Properties:\n      ListenerArn: !Ref Https\n      Priority: 10\n      Conditions: [{Field: host-header, Values: [a.example.com]}]\n      Actions: [{Type: forward, TargetGroupArn: !Ref TG}]\n  TG:\n"}},
			want: `stack.yaml:48: Resources.Rule2.Properties.Priority: priority 10 is already used by Rule1 on listener Https; priorities are unique per listener`},
		{name: "unknown Metadata.Kumo key",
			reps: []rep{{"        Listen: 127.0.0.1:9443", "        Listne: 127.0.0.1:9443"}},
			want: `stack.yaml:23: Resources.Https.Metadata.Kumo.Listne: unknown Metadata.Kumo key (did you mean "Listen"?); the keys for AWS::ElasticLoadBalancingV2::Listener are Listen`},
		{name: "parameter without default",
			reps: []rep{{"    Default: prod\n", ""}},
			want: `stack.yaml:3: Parameters.Env: parameter "Env" has no Default and no value was given; kumo has no prompt: add a Default or pass it in Options.Parameters (kumo up --parameter Env=VALUE)`},
		{name: "AllowedValues violated",
			opt:  Options{Parameters: map[string]string{"Env": "staging"}},
			want: `stack.yaml:3: Parameters.Env: value "staging" of parameter Env is not one of the AllowedValues: prod, dev`},
		{name: "unsupported intrinsic",
			reps: []rep{{`Comment: !Sub "${Env} distribution"`, `Comment: !FindInMap [M, a, b]`}},
			want: `stack.yaml:70: Resources.CDN.Properties.DistributionConfig.Comment.Fn::FindInMap: Fn::FindInMap is not supported by kumo; supported intrinsic functions are Ref, Fn::GetAtt, Fn::Sub, Fn::Join, Fn::Select, Fn::Split, Fn::Base64, Fn::GetAZs`},
		{name: "Fn::If",
			reps: []rep{{`Comment: !Sub "${Env} distribution"`, `Comment: !If [IsProd, a, b]`}},
			want: `stack.yaml:70: Resources.CDN.Properties.DistributionConfig.Comment.Fn::If: Fn::If is not supported: kumo does not support Conditions; write the value the stack should use`},
		{name: "unknown intrinsic",
			reps: []rep{{`Comment: !Sub "${Env} distribution"`, `Comment: {"Fn::Jion": ["", [a]]}`}},
			want: `stack.yaml:70: Resources.CDN.Properties.DistributionConfig.Comment.Fn::Jion: unknown intrinsic function Fn::Jion (did you mean "Fn::Join"?); supported intrinsic functions are Ref, Fn::GetAtt, Fn::Sub, Fn::Join, Fn::Select, Fn::Split, Fn::Base64, Fn::GetAZs`},
		{name: "non-loopback ip target without mapping",
			reps: []rep{{"      Port: 80\n", "      Port: 80\n      TargetType: ip\n"}, {"        - Id: !Ref Web1", "        - Id: 10.0.9.9"}},
			want: `stack.yaml:52: Resources.TG.Properties.Targets[0].Id: ip target 10.0.9.9:80 is not a loopback address, so kumo needs to know which local server stands in for it: add Metadata.Kumo.Targets {"10.0.9.9:80": "127.0.0.1:<port>"} to TG`},
		{name: "HTTPS listener without certificate",
			reps: []rep{{"      Certificates:\n        - CertificateArn: !Ref Cert\n", ""}},
			want: `stack.yaml:24: Resources.Https.Properties.Certificates: missing; required: an HTTPS listener needs a default certificate: [{CertificateArn: !Ref <certificate>}]`},
		{name: "alias target not in stack",
			reps: []rep{{"DNSName: !GetAtt LB.DNSName", "DNSName: other-123.ap-northeast-1.elb.amazonaws.com"}},
			want: `stack.yaml:63: Resources.Rec.Properties.AliasTarget.DNSName: "other-123.ap-northeast-1.elb.amazonaws.com" is not the DNS name of a load balancer or distribution of this stack (kumo cannot serve other alias targets); the stack's are: alb-test-6457126957.us-east-1.elb.amazonaws.com, dbq96c1t9zpa7q.cloudfront.net`},
		{name: "YAML syntax error",
			reps: []rep{{"      Name: alb-test\n", "      Name: [alb-test\n"}},
			want: `stack.yaml:18: (syntax): invalid YAML/JSON: ',' or ']' must be specified`},
		{name: "string where a list is expected",
			reps: []rep{{"      Subnets: [!Ref Vpc]", "      Subnets: subnet-1"}},
			want: `stack.yaml:18: Resources.LB.Properties.Subnets: expected a list of strings, got "subnet-1"`},
		{name: "unknown property typo",
			reps: []rep{{"      Protocol: HTTPS", "      Protocl: HTTPS"}},
			want: "stack.yaml:24: Resources.Https.Properties.Protocol: missing; required: one of HTTP, HTTPS\nstack.yaml:26: Resources.Https.Properties.Protocl: unknown property (did you mean \"Protocol\"?)"},
		{name: "Conditions section",
			raw:  "Conditions:\n  IsProd: !Equals [a, a]\nResources:\n  Vpc:\n    Type: AWS::EC2::VPC\n",
			want: `stack.yaml:1: Conditions: Conditions are not supported by kumo: it serves one concrete stack; remove the Conditions section and any Condition or Fn::If`},
		{name: "network load balancer",
			reps: []rep{{"      Name: alb-test\n", "      Name: alb-test\n      Type: network\n"}},
			want: `stack.yaml:18: Resources.LB.Properties.Type: "network" load balancers are not supported: kumo serves Application Load Balancers (Type: application)`},
		{name: "bad connection attempts",
			reps: []rep{{"          - Id: alb\n", "          - Id: alb\n            ConnectionAttempts: 5\n"}},
			want: `stack.yaml:73: Resources.CDN.Properties.DistributionConfig.Origins[0].ConnectionAttempts: 5 is out of range: must be from 1 to 3`},
		{name: "disallowed custom header",
			reps: []rep{{"          - Id: alb\n", "          - Id: alb\n            OriginCustomHeaders: [{HeaderName: X-Amz-Foo, HeaderValue: x}]\n"}},
			want: `stack.yaml:73: Resources.CDN.Properties.DistributionConfig.Origins[0].OriginCustomHeaders[0].HeaderName: "X-Amz-Foo" cannot be a custom origin header: names starting with X-Amz- or X-Edge- are reserved`},
		{name: "bad allowed methods",
			reps: []rep{{"          TargetOriginId: alb\n", "          TargetOriginId: alb\n          AllowedMethods: [GET, POST]\n"}},
			want: `stack.yaml:78: Resources.CDN.Properties.DistributionConfig.DefaultCacheBehavior.AllowedMethods: [GET, POST] is not an allowed set: use one of [GET, HEAD], [GET, HEAD, OPTIONS], [GET, HEAD, OPTIONS, PUT, POST, PATCH, DELETE]`},
		{name: "both cache policy and forwarded values",
			reps: []rep{{"          TargetOriginId: alb\n", "          TargetOriginId: alb\n          CachePolicyId: 658327ea-f89d-4fab-a63d-7e88639e58f6\n"}},
			want: `stack.yaml:80: Resources.CDN.Properties.DistributionConfig.DefaultCacheBehavior.ForwardedValues: a cache behavior takes CachePolicyId or ForwardedValues, not both`},
		{name: "bad origin path",
			reps: []rep{{"          - Id: alb\n", "          - Id: alb\n            OriginPath: /static/\n"}},
			want: `stack.yaml:73: Resources.CDN.Properties.DistributionConfig.Origins[0].OriginPath: "/static/" must start with / and must not end with /`},
		{name: "authenticate action",
			reps: []rep{{"        - Type: fixed-response\n", "        - Type: authenticate-oidc\n"}},
			want: `stack.yaml:42: Resources.Rule1.Properties.Actions[0].Type: authenticate-oidc actions are not emulated by kumo (it has no identity provider or token validation to run them against); use forward, redirect or fixed-response`},
		{name: "listener attributes",
			reps: []rep{{"      LoadBalancerArn: !Ref LB\n", "      LoadBalancerArn: !Ref LB\n      ListenerAttributes:\n        - Key: routing.http.response.server.enabled\n          Value: \"false\"\n"}},
			want: `stack.yaml:26: Resources.Https.Properties.ListenerAttributes: listener attributes are not emulated by kumo yet; remove them (load-balancer and target-group attributes are supported)`},
		{name: "jwt-validation action",
			reps: []rep{{"        - Type: fixed-response\n", "        - Type: jwt-validation\n"}},
			want: `stack.yaml:42: Resources.Rule1.Properties.Actions[0].Type: jwt-validation actions are not emulated by kumo (it has no identity provider or token validation to run them against); use forward, redirect or fixed-response`},
		{name: "regex lookahead",
			reps: []rep{{"          Values: [/api/*]\n", "          PathPatternConfig: {RegexValues: [\"^/api/(?=v1)\"]}\n"}},
			want: `stack.yaml:40: Resources.Rule1.Properties.Conditions[0].PathPatternConfig.RegexValues[0]: regex "^/api/(?=v1)" uses lookahead, which ALB regexes do not support`},
		{name: "regex backreference",
			reps: []rep{{"        - Field: path-pattern\n          Values: [/api/*]\n", "        - Field: host-header\n          HostHeaderConfig: {RegexValues: [\"^(a)\\\\1$\"]}\n"}},
			want: `stack.yaml:40: Resources.Rule1.Properties.Conditions[0].HostHeaderConfig.RegexValues[0]: regex "^(a)\\1$" uses backreferences, which ALB regexes do not support`},
		{name: "regex on a method condition",
			reps: []rep{{"        - Field: path-pattern\n          Values: [/api/*]\n", "        - Field: http-request-method\n          HttpRequestMethodConfig: {RegexValues: [\"^G\"]}\n"}},
			want: `stack.yaml:40: Resources.Rule1.Properties.Conditions[0].HttpRequestMethodConfig.RegexValues: RegexValues apply only to host-header, path-pattern and http-header conditions`},
		{name: "too many wildcards",
			reps: []rep{{"          Values: [/api/*]\n", "          Values: [/a*/*/*/*]\n        - Field: host-header\n          Values: [\"*.ex?mple.com\"]\n"}},
			want: `stack.yaml:38: Resources.Rule1.Properties.Conditions: has 6 wildcards (* and ?) in total; a rule takes at most 5`},
		{name: "too many condition values",
			reps: []rep{{"          Values: [/api/*]\n", "          Values: [/a, /b, /c, /d]\n"}},
			want: `stack.yaml:40: Resources.Rule1.Properties.Conditions[0].Values: has 4 values; a path-pattern condition takes at most 3`},
		{name: "too many source-ip values",
			reps: []rep{{"        - Field: path-pattern\n          Values: [/api/*]\n", "        - Field: source-ip\n          SourceIpConfig: {Values: [10.0.0.0/8, 10.1.0.0/16, 10.2.0.0/16, 10.3.0.0/16, 10.4.0.0/16, 10.5.0.0/16]}\n"}},
			want: "stack.yaml:38: Resources.Rule1.Properties.Conditions: has 6 condition values in total; a rule takes at most 5\nstack.yaml:40: Resources.Rule1.Properties.Conditions[0].SourceIpConfig.Values: has 6 values; a source-ip condition takes at most 5"},
		{name: "empty condition value",
			reps: []rep{{"          Values: [/api/*]\n", "          Values: [\"\"]\n"}},
			want: `stack.yaml:40: Resources.Rule1.Properties.Conditions[0].Values[0]: "" is not a path pattern: 1-128 characters of A-Z a-z 0-9 _ - . $ / ~ " ' @ : + & and wildcards * ?`},
		{name: "transform with a bad regex",
			reps: []rep{{"      Priority: 10\n", "      Priority: 10\n      Transforms:\n        - Type: url-rewrite\n          UrlRewriteConfig: {Rewrites: [{Regex: \"a++\", Replace: /b}]}\n"}},
			want: `stack.yaml:40: Resources.Rule1.Properties.Transforms[0].UrlRewriteConfig.Rewrites[0].Regex: regex "a++" uses possessive quantifiers, which ALB regexes do not support`},
		{name: "two host-header-rewrite transforms",
			reps: []rep{{"      Priority: 10\n", "      Priority: 10\n      Transforms:\n        - Type: host-header-rewrite\n          HostHeaderRewriteConfig: {Rewrites: [{Regex: a, Replace: b}]}\n        - Type: host-header-rewrite\n          HostHeaderRewriteConfig: {Rewrites: [{Regex: a, Replace: b}]}\n"}},
			want: `stack.yaml:41: Resources.Rule1.Properties.Transforms[1].Type: a rule takes at most one host-header-rewrite transform`},
		{name: "anomaly mitigation on",
			reps: []rep{{"      Matcher: {HttpCode: \"200\"}\n", "      Matcher: {HttpCode: \"200\"}\n      TargetGroupAttributes: [{Key: load_balancing.algorithm.anomaly_mitigation, Value: \"on\"}]\n"}},
			want: `stack.yaml:50: Resources.TG.Properties.TargetGroupAttributes[0].Value: load_balancing.algorithm.anomaly_mitigation: "on" is not emulated by kumo (AWS does not publish its anomaly thresholds); use off`},
		{name: "bad minimum healthy percentage",
			reps: []rep{{"      Matcher: {HttpCode: \"200\"}\n", "      Matcher: {HttpCode: \"200\"}\n      TargetGroupAttributes: [{Key: target_group_health.unhealthy_state_routing.minimum_healthy_targets.percentage, Value: \"150\"}]\n"}},
			want: `stack.yaml:50: Resources.TG.Properties.TargetGroupAttributes[0].Value: target_group_health.unhealthy_state_routing.minimum_healthy_targets.percentage: "150" must be a percentage from 1 to 100, or off`},
		{name: "slow start with least outstanding requests",
			reps: []rep{{"      Matcher: {HttpCode: \"200\"}\n", "      Matcher: {HttpCode: \"200\"}\n      TargetGroupAttributes: [{Key: load_balancing.algorithm.type, Value: least_outstanding_requests}, {Key: slow_start.duration_seconds, Value: \"30\"}]\n"}},
			want: `stack.yaml:50: Resources.TG.Properties.TargetGroupAttributes: slow_start.duration_seconds cannot be combined with load_balancing.algorithm.type=least_outstanding_requests`},
		{name: "HTTP2 target group on an HTTP listener",
			reps: []rep{{"      Protocol: HTTPS\n      Port: 443\n", "      Protocol: HTTP\n      Port: 80\n"}, {"      Certificates:\n        - CertificateArn: !Ref Cert\n", ""}, {"      Matcher: {HttpCode: \"200\"}\n", "      ProtocolVersion: HTTP2\n      Matcher: {HttpCode: \"200\"}\n"}},
			want: `stack.yaml:19: Resources.Https: target group TG has ProtocolVersion HTTP2, which needs an HTTPS listener; Https is HTTP`},
		{name: "GrpcCode on an HTTP1 target group",
			reps: []rep{{"      Matcher: {HttpCode: \"200\"}\n", "      Matcher: {GrpcCode: \"12\"}\n"}},
			want: `stack.yaml:49: Resources.TG.Properties.Matcher.GrpcCode: GrpcCode applies to GRPC target groups only; use HttpCode`},
		{name: "listener protocol TCP",
			reps: []rep{{"      Protocol: HTTPS", "      Protocol: TCP"}},
			want: `stack.yaml:26: Resources.Https.Properties.Protocol: "TCP" is a Network/Gateway Load Balancer protocol; kumo serves ALBs: use HTTP or HTTPS`},
		{name: "bad SslPolicy",
			reps: []rep{{"      Port: 443\n", "      Port: 443\n      SslPolicy: ELBSecurityPolicy-2016-09\n"}},
			want: `stack.yaml:28: Resources.Https.Properties.SslPolicy: "ELBSecurityPolicy-2016-09" is not an ALB security policy (did you mean "ELBSecurityPolicy-2016-08"?); policies are ELBSecurityPolicy-TLS13-1-2-2021-06, ?, ELBSecurityPolicy-TLS13-1-3-PQ-2025-09`},
		{name: "unknown LB attribute",
			reps: []rep{{"      Subnets: [!Ref Vpc]", "      LoadBalancerAttributes: [{Key: idle_timeout.seconds, Value: \"30\"}]"}},
			want: `stack.yaml:18: Resources.LB.Properties.LoadBalancerAttributes[0].Key: unknown attribute "idle_timeout.seconds"; known attributes are access_logs.s3.bucket, ?, idle_timeout.timeout_seconds, ?, zonal_shift.config.enabled`},
		{name: "record outside zone",
			reps: []rep{{"      Name: alb.example.com\n      Type: A", "      Name: alb.example.org\n      Type: A"}},
			want: `stack.yaml:60: Resources.Rec.Properties.Name: alb.example.org is not inside the hosted zone example.com`},
		{name: "bad Kumo DNSName",
			reps: []rep{{"  LB:\n    Type: AWS::ElasticLoadBalancingV2::LoadBalancer\n", "  LB:\n    Type: AWS::ElasticLoadBalancingV2::LoadBalancer\n    Metadata: {Kumo: {DNSName: other-123.ap-northeast-1.elb.amazonaws.com}}\n"}},
			want: `stack.yaml:16: Resources.LB.Metadata.Kumo.DNSName: "other-123.ap-northeast-1.elb.amazonaws.com" does not start with the load balancer name "alb-test": it must be alb-test-<digits>.us-east-1.elb.amazonaws.com`},
		{name: "bad distribution domain",
			reps: []rep{{"    Type: AWS::CloudFront::Distribution\n", "    Type: AWS::CloudFront::Distribution\n    Metadata: {Kumo: {DomainName: x.cloudfront.net}}\n"}},
			want: `stack.yaml:67: Resources.CDN.Metadata.Kumo.DomainName: "x.cloudfront.net" is not a CloudFront domain: it must be d + 12-13 lowercase letters/digits + .cloudfront.net (like dpekz4s0xzujc.cloudfront.net)`},
		{name: "instance target not in stack",
			reps: []rep{{"        - Id: !Ref Web1", "        - Id: i-0123456789abcdef0"}},
			want: `stack.yaml:51: Resources.TG.Properties.Targets[0].Id: "i-0123456789abcdef0" is not an instance of this stack; instance targets must be !Ref of an AWS::EC2::Instance in the template`},
		{name: "Kumo target mapping not loopback",
			reps: []rep{{"      Port: 80\n", "      Port: 80\n      TargetType: ip\n"}, {"        - Id: !Ref Web1", "        - Id: 10.0.9.9"}, {"  TG:\n    Type: AWS::ElasticLoadBalancingV2::TargetGroup\n", "  TG:\n    Type: AWS::ElasticLoadBalancingV2::TargetGroup\n    Metadata: {Kumo: {Targets: {\"10.0.9.9:80\": \"10.1.1.1:80\"}}}\n"}},
			want: `stack.yaml:46: Resources.TG.Metadata.Kumo.Targets["10.0.9.9:80"]: "10.1.1.1:80" is not a loopback address (127.0.0.0/8, ::1 or localhost); kumo never dials out to other networks on its own`},
		{name: "missing ViewerProtocolPolicy",
			reps: []rep{{"          ViewerProtocolPolicy: redirect-to-https\n", ""}},
			want: `stack.yaml:76: Resources.CDN.Properties.DistributionConfig.DefaultCacheBehavior.ViewerProtocolPolicy: missing; required: one of allow-all, https-only, redirect-to-https`},
		{name: "Sub with unknown variable",
			reps: []rep{{`Comment: !Sub "${Env} distribution"`, `Comment: !Sub "${Envv} distribution"`}},
			want: `stack.yaml:70: Resources.CDN.Properties.DistributionConfig.Comment.Fn::Sub: "Envv" is not a parameter or resource of this template (did you mean "Env"?)`},
		{name: "health check timeout not below interval",
			reps: []rep{{"      Port: 80\n", "      Port: 80\n      HealthCheckIntervalSeconds: 5\n      HealthCheckTimeoutSeconds: 5\n"}},
			want: `stack.yaml:50: Resources.TG.Properties.HealthCheckTimeoutSeconds: the health check timeout (5 s) must be smaller than the interval (5 s)`},
		{name: "two problems at once",
			reps: []rep{{"OriginProtocolPolicy: https-only", "OriginProtocolPolicy: https"}, {"      Protocol: HTTPS", "      Protocol: HTTPX"}},
			want: "stack.yaml:26: Resources.Https.Properties.Protocol: \"HTTPX\" is not one of HTTP, HTTPS\nstack.yaml:75: Resources.CDN.Properties.DistributionConfig.Origins[0].CustomOriginConfig.OriginProtocolPolicy: \"https\" is not one of http-only, https-only, match-viewer"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			src := tc.raw
			if src == "" {
				src = baseTemplate(t)
				for _, r := range tc.reps {
					src = edit(t, src, r.old, r.new)
				}
			}
			st, err := Parse("stack.yaml", []byte(src), tc.opt)
			if err == nil {
				t.Fatalf("no error; stack %+v", st)
			}
			var one *Error
			var many Errors
			if !errors.As(err, &one) && !errors.As(err, &many) {
				t.Fatalf("error is %T, want *Error or Errors", err)
			}
			if os.Getenv("KUMO_SHOW") != "" {
				t.Logf("GOT %s", err)
			}
			if got := err.Error(); !matchWant(got, tc.want) {
				t.Errorf("got:\n%s\nwant:\n%s", got, tc.want)
			}
		})
	}
	if len(cases) < 25 {
		t.Fatalf("only %d cases", len(cases))
	}
}

// matchWant compares exactly, except that "?" in want matches any run of
// characters (used where a value is generated).
func matchWant(got, want string) bool {
	parts := strings.Split(want, "?")
	if len(parts) == 1 {
		return got == want
	}
	if !strings.HasPrefix(got, parts[0]) {
		return false
	}
	rest := got[len(parts[0]):]
	for i, p := range parts[1:] {
		if i == len(parts)-2 {
			return strings.HasSuffix(rest, p)
		}
		j := strings.Index(rest, p)
		if j < 0 {
			return false
		}
		rest = rest[j+len(p):]
	}
	return true
}
