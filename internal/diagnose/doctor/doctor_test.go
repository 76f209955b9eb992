package doctor

import (
	"bytes"
	"encoding/json"
	"strings"
	"testing"

	"github.com/kumo-dev/kumo/internal/stack"
)

// edit replaces old (which must occur in the template) with new.
type edit struct{ old, new string }

// Insertion points of the default template.
const (
	atDistConfig = "        HttpVersion: http2\n"
	atBehavior   = "          Compress: true\n"
	atTGProps    = "      HealthCheckTimeoutSeconds: 4\n"
	atResources  = "  AlbRecord:\n"
	cachingOpt   = "          CachePolicyId: 658327ea-f89d-4fab-a63d-7e88639e58f6\n"
	redirectAct  = "        - Type: redirect\n          RedirectConfig:\n            Protocol: HTTPS\n            Port: \"443\"\n            Host: \"#{host}\"\n            Path: \"/#{path}\"\n            Query: \"#{query}\"\n            StatusCode: HTTP_301\n"
	forwardAct   = "        - Type: forward\n          TargetGroupArn: !Ref WebTargetGroup\n"
	allViewer    = atBehavior + "          OriginRequestPolicyId: 216adef6-5c7f-47e4-b989-5492eafa07d3\n"
	cookieORP    = "  CookieORP:\n    Type: AWS::CloudFront::OriginRequestPolicy\n    Properties:\n      OriginRequestPolicyConfig:\n        Name: cookies\n        HeadersConfig: {HeaderBehavior: none}\n        CookiesConfig: {CookieBehavior: all}\n        QueryStringsConfig: {QueryStringBehavior: none}\n"
	cookieCP     = "  CookieCP:\n    Type: AWS::CloudFront::CachePolicy\n    Properties:\n      CachePolicyConfig:\n        Name: cookies-key\n        MinTTL: 0\n        DefaultTTL: 60\n        MaxTTL: 3600\n        ParametersInCacheKeyAndForwardedToOrigin:\n          EnableAcceptEncodingGzip: true\n          HeadersConfig: {HeaderBehavior: none}\n          CookiesConfig: {CookieBehavior: all}\n          QueryStringsConfig: {QueryStringBehavior: none}\n"
	sticky       = atTGProps + "      TargetGroupAttributes:\n        - Key: stickiness.enabled\n          Value: \"true\"\n"
	legacyAll    = "          ForwardedValues:\n            QueryString: false\n            Cookies: {Forward: all}\n"
)

func rules(first, second string) string {
	r := func(id, prio, pattern string) string {
		return "  " + id + ":\n    Type: AWS::ElasticLoadBalancingV2::ListenerRule\n    Properties:\n      ListenerArn: !Ref HttpsListener\n      Priority: " + prio +
			"\n      Conditions:\n        - Field: path-pattern\n          Values: [\"" + pattern + "\"]\n      Actions:\n        - Type: fixed-response\n          FixedResponseConfig: {StatusCode: \"404\", ContentType: text/plain}\n"
	}
	return r("RuleA", "1", first) + r("RuleB", "2", second) + atResources
}

// render applies edits to the default template.
func render(t *testing.T, edits []edit) []byte {
	t.Helper()
	src := string(stack.DefaultTemplate())
	for _, e := range edits {
		if !strings.Contains(src, e.old) {
			t.Fatalf("edit: %q is not in the template", e.old)
		}
		src = strings.Replace(src, e.old, e.new, 1)
	}
	return []byte(src)
}

func check(t *testing.T, src []byte) *Report {
	t.Helper()
	st, err := stack.Parse("stack.yaml", src, stack.Options{})
	if err != nil {
		t.Fatalf("the test template does not load: %v", err)
	}
	return Check(st, Options{Source: src})
}

func ids(r *Report) []string {
	var out []string
	for _, f := range r.Findings {
		out = append(out, f.ID)
	}
	return out
}

func TestChecks(t *testing.T) {
	usEast := edit{"Region: ap-northeast-1", "Region: us-east-1"}
	usEastLB := edit{"DNSName: alb-test-1234567890.ap-northeast-1.elb.amazonaws.com", "DNSName: alb-test-1234567890.us-east-1.elb.amazonaws.com"}
	aliases := edit{atDistConfig, atDistConfig + "        Aliases: [www.example.com]\n        ViewerCertificate:\n          AcmCertificateArn: !Ref WwwCert\n          SslSupportMethod: sni-only\n"}
	wwwCert := edit{atResources, "  WwwCert:\n    Type: AWS::CertificateManager::Certificate\n    Properties:\n      DomainName: www.example.com\n" + atResources}
	for _, tc := range []struct {
		id, name string
		edits    []edit
		want     bool
	}{
		{IDOriginTLSName, "elb name", []edit{{stack.DefaultOriginLine, stack.BrokenOriginLine}}, true},
		{IDOriginTLSName, "route 53 name", nil, false},
		{IDOriginTLSName, "elb name, match-viewer", []edit{{stack.DefaultOriginLine, stack.BrokenOriginLine}, {"OriginProtocolPolicy: https-only", "OriginProtocolPolicy: match-viewer"}}, true},
		{IDOriginTLSName, "elb name, http-only", []edit{{stack.DefaultOriginLine, stack.BrokenOriginLine}, {"OriginProtocolPolicy: https-only", "OriginProtocolPolicy: http-only"}, {redirectAct, forwardAct}}, false},
		{IDOriginTLSName, "dualstack elb name", []edit{{stack.DefaultOriginLine, "          DomainName: dualstack.alb-test-1234567890.ap-northeast-1.elb.amazonaws.com"}}, true},
		{IDOriginTLSName, "CNAME to the elb name", []edit{{stack.DefaultOriginLine, "          DomainName: www.example.com"}, {atResources, "  WwwRecord:\n    Type: AWS::Route53::RecordSet\n    Properties:\n      HostedZoneName: example.com.\n      Name: www.example.com\n      Type: CNAME\n      TTL: \"300\"\n      ResourceRecords: [alb.example.com]\n" + atResources}}, true},
		{IDOriginTLSName, "host forwarded instead", []edit{{stack.DefaultOriginLine, stack.BrokenOriginLine}, {atBehavior, atBehavior + "          OriginRequestPolicyId: bf0718e1-ba1e-49d1-88b1-f726733018ae\n"}}, false},
		{IDOriginTLSHost, "alias not covered", []edit{usEast, usEastLB, aliases, wwwCert, {atBehavior, atBehavior + "          OriginRequestPolicyId: bf0718e1-ba1e-49d1-88b1-f726733018ae\n"}}, true},
		{IDOriginTLSHost, "AllViewer", []edit{{atBehavior, allViewer}}, true},
		{IDOriginTLSHost, "legacy Host allow-list", []edit{{cachingOpt, "          ForwardedValues:\n            QueryString: false\n            Headers: [Host]\n"}}, true},
		{IDOriginTLSHost, "legacy without Host", []edit{{cachingOpt, "          ForwardedValues:\n            QueryString: false\n            Headers: [Accept-Language]\n"}}, false},
		{IDOriginTLSHost, "AllViewerExceptHostHeader", []edit{{atBehavior, atBehavior + "          OriginRequestPolicyId: b689b0a8-53d0-40ab-baf2-68738e2966ac\n"}}, false},
		{IDOriginDNS, "no record", []edit{{stack.DefaultOriginLine, "          DomainName: origin.example.com"}}, true},
		{IDOriginDNS, "record", nil, false},
		{IDOriginNoListener, "https port 8443", []edit{{"            HTTPSPort: 443\n", "            HTTPSPort: 8443\n"}}, true},
		{IDOriginNoListener, "https port 443", nil, false},
		{IDOriginHTTPSToHTTP, "https to port 80", []edit{{"            HTTPSPort: 443\n", "            HTTPSPort: 80\n"}}, true},
		{IDOriginHTTPSToHTTP, "https to port 443", nil, false},
		{IDOriginHTTPToHTTPS, "http to port 443", []edit{{"OriginProtocolPolicy: https-only", "OriginProtocolPolicy: http-only\n            HTTPPort: 443"}}, true},
		{IDOriginHTTPToHTTPS, "http to port 80", []edit{{"OriginProtocolPolicy: https-only", "OriginProtocolPolicy: http-only"}, {redirectAct, forwardAct}}, false},
		{IDRedirectLoop, "http-only to redirecting listener", []edit{{"OriginProtocolPolicy: https-only", "OriginProtocolPolicy: http-only"}}, true},
		{IDRedirectLoop, "http-only to forwarding listener", []edit{{"OriginProtocolPolicy: https-only", "OriginProtocolPolicy: http-only"}, {redirectAct, forwardAct}}, false},
		{IDAuthorizationNotForwarded, "AllViewer with CachingOptimized", []edit{{atBehavior, allViewer}}, true},
		{IDAuthorizationNotForwarded, "AllViewer with Amplify (keys on Authorization)", []edit{{atBehavior, allViewer}, {cachingOpt, "          CachePolicyId: 2e54312d-136d-493c-8eb9-b001f22f67d2\n"}}, false},
		{IDCacheKeyCookies, "cookies forwarded, not keyed", []edit{{atResources, cookieORP + atResources}, {atBehavior, atBehavior + "          OriginRequestPolicyId: !Ref CookieORP\n"}}, true},
		{IDCacheKeyCookies, "cookies forwarded and keyed", []edit{{atResources, cookieORP + cookieCP + atResources}, {atBehavior, atBehavior + "          OriginRequestPolicyId: !Ref CookieORP\n"}, {cachingOpt, "          CachePolicyId: !Ref CookieCP\n"}}, false},
		{IDStickinessCookie, "stickiness behind CachingOptimized", []edit{{atTGProps, sticky}}, true},
		{IDStickinessCookie, "stickiness with cookies forwarded", []edit{{atTGProps, sticky}, {cachingOpt, legacyAll}}, false},
		{IDHealthCheck, "path 404", []edit{{atTGProps, atTGProps + "      HealthCheckPath: /health\n"}}, true},
		{IDHealthCheck, "matcher 204", []edit{{atTGProps, atTGProps + "      Matcher: {HttpCode: \"204\"}\n"}}, true},
		{IDHealthCheck, "https", []edit{{atTGProps, atTGProps + "      HealthCheckProtocol: HTTPS\n"}}, true},
		{IDHealthCheck, "other port", []edit{{atTGProps, atTGProps + "      HealthCheckPort: \"8080\"\n"}}, true},
		{IDHealthCheck, "icon path", []edit{{atTGProps, atTGProps + "      HealthCheckPath: /icons/apache_pb2.gif\n      HealthCheckPort: \"80\"\n"}}, false},
		{IDNoTargets, "no targets", []edit{{"      Targets:\n        - Id: !Ref Web1\n        - Id: !Ref Web2\n", ""}}, true},
		{IDNoTargets, "two targets", nil, false},
		{IDRuleShadowed, "catch-all first", []edit{{atResources, rules("/*", "/api/*")}}, true},
		{IDRuleShadowed, "specific first", []edit{{atResources, rules("/api/*", "/*")}}, false},
		{IDDefaultRootObject, "home.html", []edit{{atDistConfig, atDistConfig + "        DefaultRootObject: home.html\n"}}, true},
		{IDDefaultRootObject, "index.html", []edit{{atDistConfig, atDistConfig + "        DefaultRootObject: index.html\n"}}, false},
		{IDErrorPagePath, "missing page", []edit{{atDistConfig, atDistConfig + "        CustomErrorResponses:\n          - ErrorCode: 503\n            ResponsePagePath: /errors/503.html\n            ResponseCode: 503\n"}}, true},
		{IDErrorPagePath, "served page", []edit{{atDistConfig, atDistConfig + "        CustomErrorResponses:\n          - ErrorCode: 503\n            ResponsePagePath: /index.html\n            ResponseCode: 503\n"}}, false},
	} {
		t.Run(tc.id+"/"+tc.name, func(t *testing.T) {
			rep := check(t, render(t, tc.edits))
			var got *Finding
			for i := range rep.Findings {
				if rep.Findings[i].ID == tc.id {
					got = &rep.Findings[i]
				}
			}
			if (got != nil) != tc.want {
				t.Fatalf("finding %s present = %v, want %v; findings %v", tc.id, got != nil, tc.want, ids(rep))
			}
			if got == nil {
				return
			}
			if testing.Verbose() {
				var b bytes.Buffer
				WriteText(&b, &Report{File: "stack.yaml", Findings: []Finding{*got}}, false)
				t.Log(b.String())
			}
			if got.Line == 0 || got.Path == "" || got.File != "stack.yaml" || got.Effect == "" || got.Why == "" || got.Fix.Text == "" {
				t.Errorf("incomplete finding: %+v", *got)
			}
		})
	}
}

// TestSeedStacks: the broken seed stack gives exactly the headline finding,
// at the origin's DomainName line, with the demo's fix; the fixed stack
// gives none.
func TestSeedStacks(t *testing.T) {
	fixed := stack.DefaultTemplate()
	if rep := check(t, fixed); len(rep.Findings) != 0 || rep.HasErrors() {
		t.Fatalf("default stack: findings %v", ids(rep))
	}
	broken := render(t, []edit{{stack.DefaultOriginLine, stack.BrokenOriginLine}})
	rep := check(t, broken)
	if len(rep.Findings) != 1 || rep.Findings[0].ID != IDOriginTLSName || !rep.HasErrors() {
		t.Fatalf("broken stack: findings %v, want exactly %s", ids(rep), IDOriginTLSName)
	}
	f := rep.Findings[0]
	wantLine := 0
	for i, l := range strings.Split(string(broken), "\n") {
		if l == stack.BrokenOriginLine {
			wantLine = i + 1
		}
	}
	if f.Line != wantLine || f.Path != "Resources.Distribution.Properties.DistributionConfig.Origins[0].DomainName" || f.Severity != SeverityError {
		t.Errorf("finding at %d %s %s, want line %d", f.Line, f.Path, f.Severity, wantLine)
	}
	if f.Fix.Before != "DomainName: !GetAtt LoadBalancer.DNSName" || f.Fix.After != "DomainName: alb.example.com" {
		t.Errorf("fix %q -> %q", f.Fix.Before, f.Fix.After)
	}
	for _, want := range []string{"502", "Error from cloudfront", "OriginConnectError", "no ALB access log line"} {
		if !strings.Contains(f.Effect, want) {
			t.Errorf("effect %q lacks %q", f.Effect, want)
		}
	}
}

func TestOutput(t *testing.T) {
	broken := render(t, []edit{{stack.DefaultOriginLine, stack.BrokenOriginLine}})
	rep := check(t, broken)
	var js bytes.Buffer
	if err := WriteJSON(&js, rep); err != nil {
		t.Fatal(err)
	}
	var back struct {
		File     string `json:"file"`
		Findings []struct {
			ID, Severity, File, Path string
			Line                     int
			Fix                      struct{ Text, Before, After string }
		} `json:"findings"`
		Summary struct {
			Errors int `json:"errors"`
		} `json:"summary"`
	}
	if err := json.Unmarshal(js.Bytes(), &back); err != nil {
		t.Fatal(err)
	}
	if back.Summary.Errors != 1 || len(back.Findings) != 1 || back.Findings[0].ID != IDOriginTLSName || back.Findings[0].Fix.After != "DomainName: alb.example.com" {
		t.Errorf("json: %s", js.String())
	}
	for _, color := range []bool{false, true} {
		var b bytes.Buffer
		if err := WriteText(&b, rep, color); err != nil {
			t.Fatal(err)
		}
		out := b.String()
		if strings.Contains(out, "\x1b[") != color {
			t.Errorf("color=%v: escape codes present = %v", color, !color)
		}
		for _, want := range []string{"KUMO-ORIGIN-TLS-NAME", "stack.yaml:", "- DomainName: !GetAtt LoadBalancer.DNSName", "+ DomainName: alb.example.com"} {
			if !strings.Contains(out, want) {
				t.Errorf("color=%v: output lacks %q:\n%s", color, want, out)
			}
		}
	}
	var b bytes.Buffer
	if err := WriteJSON(&b, check(t, stack.DefaultTemplate())); err != nil || !strings.Contains(b.String(), `"findings": []`) {
		t.Errorf("clean json: %v %s", err, b.String())
	}
}

func TestPatternCovers(t *testing.T) {
	for _, tc := range []struct {
		p, q string
		want bool
	}{
		{"/*", "/api/*", true}, {"/api/*", "/*", false}, {"/a?c", "/a*c", false}, {"/a?c", "/abc", true},
		{"*", "anything", true}, {"/x", "/x", true}, {"/x", "/y", false},
	} {
		if got := patternCovers(tc.p, tc.q); got != tc.want {
			t.Errorf("patternCovers(%q, %q) = %v", tc.p, tc.q, got)
		}
	}
}

// TestRejectedByStack documents the checks doctor does not need: the stack
// already refuses these templates, so no resolved stack can have them.
func TestRejectedByStack(t *testing.T) {
	for _, tc := range []struct {
		name  string
		edits []edit
		want  string
	}{
		{"viewer certificate does not cover an alias", []edit{{"Region: ap-northeast-1", "Region: us-east-1"},
			{"DNSName: alb-test-1234567890.ap-northeast-1.elb.amazonaws.com", "DNSName: alb-test-1234567890.us-east-1.elb.amazonaws.com"},
			{atDistConfig, atDistConfig + "        Aliases: [www.example.com]\n        ViewerCertificate:\n          AcmCertificateArn: !Ref AlbCertificate\n          SslSupportMethod: sni-only\n"}},
			"does not cover alias www.example.com"},
		{"legacy MinTTL above MaxTTL", []edit{{cachingOpt, "          ForwardedValues: {QueryString: false}\n          MinTTL: 100\n          DefaultTTL: 100\n          MaxTTL: 10\n"}}, "must not exceed MaxTTL"},
		{"cache policy MinTTL above MaxTTL", []edit{{atResources, strings.Replace(cookieCP, "MinTTL: 0", "MinTTL: 7200", 1) + atResources}}, "must not exceed"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := stack.Parse("stack.yaml", render(t, tc.edits), stack.Options{})
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("stack.Parse error %v, want one containing %q", err, tc.want)
			}
		})
	}
}
