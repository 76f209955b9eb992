package stack

import (
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/kumo-dev/kumo/internal/model"
)

func TestDefaultTemplate(t *testing.T) {
	st, err := Parse(DefaultTemplateName, DefaultTemplate(), Options{})
	if err != nil {
		t.Fatal(err)
	}
	if st.Source != "" || st.Region != "ap-northeast-1" || st.AccountID != "123456789012" {
		t.Errorf("Source/Region/Account = %q %q %q", st.Source, st.Region, st.AccountID)
	}
	if len(st.Distributions) != 1 || len(st.LoadBalancers) != 1 || len(st.TargetGroups) != 1 ||
		len(st.Certificates) != 1 || len(st.Records) != 1 || len(st.Instances) != 2 {
		t.Fatalf("counts: %d dist %d lb %d tg %d cert %d rec %d inst", len(st.Distributions), len(st.LoadBalancers),
			len(st.TargetGroups), len(st.Certificates), len(st.Records), len(st.Instances))
	}
	wantIgnored := []model.IgnoredResource{{LogicalID: "Vpc", Type: "AWS::EC2::VPC"}, {LogicalID: "AlbSecurityGroup", Type: "AWS::EC2::SecurityGroup"}}
	if !reflect.DeepEqual(st.Ignored, wantIgnored) {
		t.Errorf("Ignored = %+v", st.Ignored)
	}

	d := st.Distributions[0]
	if d.DomainName != "dpekz4s0xzujc.cloudfront.net" || !d.Enabled || d.HTTPVersion != "http2" || d.ViewerCertificate != nil || d.MinimumProtocolVersion != "TLSv1" {
		t.Errorf("distribution = %+v", d)
	}
	if len(d.ID) != 14 || d.ID[0] != 'E' || strings.ToUpper(d.ID) != d.ID {
		t.Errorf("distribution ID = %q", d.ID)
	}
	o := d.Origins[0]
	wantOrigin := &model.Origin{ID: "alb", DomainName: "alb.example.com", ConnectionAttempts: 3, ConnectionTimeout: 10 * time.Second,
		Custom: model.CustomOriginConfig{HTTPPort: 80, HTTPSPort: 443, ProtocolPolicy: model.OriginHTTPSOnly, SSLProtocols: []string{"TLSv1.2"},
			ReadTimeout: 30 * time.Second, KeepaliveTimeout: 5 * time.Second}}
	if !reflect.DeepEqual(o, wantOrigin) {
		t.Errorf("origin = %+v", o)
	}
	wantBehavior := &model.CacheBehavior{TargetOriginID: "alb", ViewerProtocolPolicy: model.ViewerRedirectToHTTPS,
		AllowedMethods: []string{"GET", "HEAD"}, CachedMethods: []string{"GET", "HEAD"}, Compress: true,
		CachePolicyID: "658327ea-f89d-4fab-a63d-7e88639e58f6"}
	if !reflect.DeepEqual(d.DefaultBehavior, wantBehavior) {
		t.Errorf("default behavior = %+v", d.DefaultBehavior)
	}

	lb := st.LoadBalancers[0]
	if lb.Name != "alb-test" || lb.DNSName != "alb-test-1234567890.ap-northeast-1.elb.amazonaws.com" || lb.Scheme != "internet-facing" ||
		lb.FullName != "app/alb-test/"+lb.ID || lb.ARN != "arn:aws:elasticloadbalancing:ap-northeast-1:123456789012:loadbalancer/app/alb-test/"+lb.ID ||
		lb.Attributes["idle_timeout.timeout_seconds"] != "60" || lb.AccessLogs {
		t.Errorf("load balancer = %+v", lb)
	}
	if len(lb.ID) != 16 || strings.Trim(lb.ID, "0123456789abcdef") != "" {
		t.Errorf("lb ID = %q", lb.ID)
	}
	if len(lb.Listeners) != 2 {
		t.Fatalf("listeners = %d", len(lb.Listeners))
	}
	https, http := lb.Listeners[0], lb.Listeners[1]
	cert := st.Certificates[0]
	if https.Protocol != "HTTPS" || https.Port != 443 || https.Listen != "127.0.0.1:9443" || https.SslPolicy != "ELBSecurityPolicy-2016-08" ||
		len(https.Certificates) != 1 || https.Certificates[0] != cert {
		t.Errorf("https listener = %+v", https)
	}
	if a := https.DefaultActions; len(a) != 1 || a[0].Type != model.ActionForward || len(a[0].TargetGroups) != 1 ||
		a[0].TargetGroups[0].TargetGroup != st.TargetGroups[0] || a[0].TargetGroups[0].Weight != 1 {
		t.Errorf("https default actions = %+v", a)
	}
	if http.Protocol != "HTTP" || http.Port != 80 || http.Listen != "127.0.0.1:9080" || http.SslPolicy != "" || len(http.Certificates) != 0 {
		t.Errorf("http listener = %+v", http)
	}
	wantRedirect := &model.RedirectConfig{Protocol: "HTTPS", Port: "443", Host: "#{host}", Path: "/#{path}", Query: "#{query}", StatusCode: "HTTP_301"}
	if a := http.DefaultActions; len(a) != 1 || a[0].Type != model.ActionRedirect || !reflect.DeepEqual(a[0].Redirect, wantRedirect) {
		t.Errorf("http default actions = %+v", a)
	}
	if cert.DomainName != "alb.example.com" || !strings.HasPrefix(cert.ARN, "arn:aws:acm:ap-northeast-1:123456789012:certificate/") ||
		!reflect.DeepEqual(cert.Names(), []string{"alb.example.com"}) {
		t.Errorf("certificate = %+v", cert)
	}

	tg := st.TargetGroups[0]
	wantHC := model.HealthCheck{Enabled: true, Protocol: "HTTP", Port: "traffic-port", Path: "/", Interval: 5 * time.Second,
		Timeout: 4 * time.Second, HealthyThreshold: 5, UnhealthyThreshold: 2, Matcher: "200"}
	if tg.Name != "alb-tg" || tg.Protocol != "HTTP" || tg.Port != 80 || tg.TargetType != "instance" || tg.HealthCheck != wantHC ||
		tg.FullName != "targetgroup/alb-tg/"+tg.ID || tg.Attributes["deregistration_delay.timeout_seconds"] != "300" {
		t.Errorf("target group = %+v", tg)
	}
	var addrs []string
	for i, tgt := range tg.Targets {
		addrs = append(addrs, tgt.Addr)
		if tgt.Instance != st.Instances[i] || tgt.ID != st.Instances[i].ID || tgt.Local != "" {
			t.Errorf("target %d = %+v", i, tgt)
		}
	}
	if !reflect.DeepEqual(addrs, []string{"10.0.4.254:80", "10.0.5.23:80"}) {
		t.Errorf("targets = %v", addrs)
	}
	for _, in := range st.Instances {
		if len(in.ID) != 19 || !strings.HasPrefix(in.ID, "i-") {
			t.Errorf("instance ID = %q", in.ID)
		}
	}
	rec := st.Records[0]
	if rec.Name != "alb.example.com" || rec.Zone != "example.com" || rec.Type != "A" || rec.AliasTarget != lb.DNSName || len(rec.Values) != 0 {
		t.Errorf("record = %+v", rec)
	}
	// The model must stay serialisable (design.md: etcd later).
	if _, err := json.Marshal(st); err != nil {
		t.Errorf("marshal: %v", err)
	}
}

func TestBrokenOriginLine(t *testing.T) {
	src := string(DefaultTemplate())
	if n := strings.Count(src, DefaultOriginLine+"\n"); n != 1 {
		t.Fatalf("DefaultOriginLine occurs %d times as a line", n)
	}
	broken := strings.Replace(src, DefaultOriginLine+"\n", BrokenOriginLine+"\n", 1)
	st, err := Parse("broken.yaml", []byte(broken), Options{})
	if err != nil {
		t.Fatal(err)
	}
	got := st.Distributions[0].Origins[0].DomainName
	if got != st.LoadBalancers[0].DNSName || got != "alb-test-1234567890.ap-northeast-1.elb.amazonaws.com" {
		t.Errorf("broken origin = %q", got)
	}
	if st.Source != "broken.yaml" {
		t.Errorf("Source = %q", st.Source)
	}
}

// probe resolves src and returns the resolved Tags of resource Probe as Go
// values.
func probe(t *testing.T, name, src string) (any, error) {
	t.Helper()
	b := &builder{file: name, opt: Options{}, log: discardLogger(), errs: &errList{file: name}}
	b.root = parseTemplate([]byte(src), b.errs)
	if b.root != nil {
		b.topLevel()
		b.parameters()
		if b.collectResources() {
			b.resolveAll()
		}
	}
	if err := b.errs.result(); err != nil {
		return nil, err
	}
	return toGo(b.res["Probe"].rprops.get("Tags")), nil
}

func toGo(n *node) any {
	switch n.kind {
	case kSeq:
		out := []any{}
		for _, it := range n.item {
			out = append(out, toGo(it))
		}
		return out
	case kMap:
		out := map[string]any{}
		for i, k := range n.keys {
			out[k] = toGo(n.vals[i])
		}
		return out
	}
	return n.str
}

const intrinsicYAML = `Parameters:
  Env: {Type: String, Default: prod}
  Ports: {Type: CommaDelimitedList, Default: "80,443"}
Metadata:
  Kumo: {Region: ap-northeast-1}
Resources:
  Vpc: {Type: AWS::EC2::VPC}
  LB:
    Type: AWS::ElasticLoadBalancingV2::LoadBalancer
    Metadata: {Kumo: {DNSName: alb-test-1234567890.ap-northeast-1.elb.amazonaws.com}}
    Properties: {Name: alb-test}
  L:
    Type: AWS::ElasticLoadBalancingV2::Listener
    Properties: {LoadBalancerArn: !Ref LB, Protocol: HTTP, Port: 80, DefaultActions: [{Type: forward, TargetGroupArn: !Ref TG}]}
  TG:
    Type: AWS::ElasticLoadBalancingV2::TargetGroup
    Properties: {Name: tg, Protocol: HTTP, Port: 80}
  Web1:
    Type: AWS::EC2::Instance
    Properties: {PrivateIpAddress: 10.0.4.254}
  Probe:
    Type: AWS::CertificateManager::Certificate
    Properties:
      DomainName: x.example.com
      Tags: EXPR
`

const intrinsicJSON = `{
 "Parameters": {"Env": {"Type": "String", "Default": "prod"}, "Ports": {"Type": "CommaDelimitedList", "Default": "80,443"}},
 "Metadata": {"Kumo": {"Region": "ap-northeast-1"}},
 "Resources": {
  "Vpc": {"Type": "AWS::EC2::VPC"},
  "LB": {"Type": "AWS::ElasticLoadBalancingV2::LoadBalancer",
         "Metadata": {"Kumo": {"DNSName": "alb-test-1234567890.ap-northeast-1.elb.amazonaws.com"}},
         "Properties": {"Name": "alb-test"}},
  "L": {"Type": "AWS::ElasticLoadBalancingV2::Listener",
        "Properties": {"LoadBalancerArn": {"Ref": "LB"}, "Protocol": "HTTP", "Port": 80,
                       "DefaultActions": [{"Type": "forward", "TargetGroupArn": {"Ref": "TG"}}]}},
  "TG": {"Type": "AWS::ElasticLoadBalancingV2::TargetGroup", "Properties": {"Name": "tg", "Protocol": "HTTP", "Port": 80}},
  "Web1": {"Type": "AWS::EC2::Instance", "Properties": {"PrivateIpAddress": "10.0.4.254"}},
  "Probe": {"Type": "AWS::CertificateManager::Certificate",
            "Properties": {"DomainName": "x.example.com", "Tags": EXPR}}
 }
}`

func TestIntrinsics(t *testing.T) {
	const dns = "alb-test-1234567890.ap-northeast-1.elb.amazonaws.com"
	lbARN := "arn:aws:elasticloadbalancing:ap-northeast-1:123456789012:loadbalancer/app/alb-test/" + stableHex("lb-id", "kumo", "LB", 16)
	cases := []struct {
		name, yaml, json string
		want             any
	}{
		{"Ref parameter", `!Ref Env`, `{"Ref": "Env"}`, "prod"},
		{"Ref long form in YAML", `{Ref: Env}`, `{"Ref": "Env"}`, "prod"},
		{"Ref list parameter", `!Ref Ports`, `{"Ref": "Ports"}`, []any{"80", "443"}},
		{"pseudo Region", `!Ref AWS::Region`, `{"Ref": "AWS::Region"}`, "ap-northeast-1"},
		{"pseudo AccountId", `!Ref AWS::AccountId`, `{"Ref": "AWS::AccountId"}`, "123456789012"},
		{"pseudo StackName", `!Ref AWS::StackName`, `{"Ref": "AWS::StackName"}`, "kumo"},
		{"pseudo Partition", `!Ref AWS::Partition`, `{"Ref": "AWS::Partition"}`, "aws"},
		{"pseudo URLSuffix", `!Ref AWS::URLSuffix`, `{"Ref": "AWS::URLSuffix"}`, "amazonaws.com"},
		{"NoValue removes", `[a, !Ref AWS::NoValue, b]`, `["a", {"Ref": "AWS::NoValue"}, "b"]`, []any{"a", "b"}},
		{"NoValue in map", `{k: !Ref "AWS::NoValue", j: v}`, `{"k": {"Ref": "AWS::NoValue"}, "j": "v"}`, map[string]any{"j": "v"}},
		{"Ref LB is ARN", `!Ref LB`, `{"Ref": "LB"}`, lbARN},
		{"Ref ignored resource", `!Ref Vpc`, `{"Ref": "Vpc"}`, fakeID("AWS::EC2::VPC", "kumo", "Vpc")},
		{"Ref instance", `!Ref Web1`, `{"Ref": "Web1"}`, "i-" + stableHex("instance", "kumo", "Web1", 17)},
		{"GetAtt dotted", `!GetAtt LB.DNSName`, `{"Fn::GetAtt": "LB.DNSName"}`, dns},
		{"GetAtt list", `!GetAtt [LB, DNSName]`, `{"Fn::GetAtt": ["LB", "DNSName"]}`, dns},
		{"GetAtt long list", `{"Fn::GetAtt": [LB, LoadBalancerName]}`, `{"Fn::GetAtt": ["LB", "LoadBalancerName"]}`, "alb-test"},
		{"GetAtt full name", `!GetAtt LB.LoadBalancerFullName`, `{"Fn::GetAtt": "LB.LoadBalancerFullName"}`, "app/alb-test/" + stableHex("lb-id", "kumo", "LB", 16)},
		{"GetAtt hosted zone", `!GetAtt LB.CanonicalHostedZoneID`, `{"Fn::GetAtt": "LB.CanonicalHostedZoneID"}`, "Z14GRHDCWA56QT"},
		{"GetAtt private DNS", `!GetAtt Web1.PrivateDnsName`, `{"Fn::GetAtt": ["Web1", "PrivateDnsName"]}`, "ip-10-0-4-254.ap-northeast-1.compute.internal"},
		{"GetAtt private IP", `!GetAtt Web1.PrivateIp`, `{"Fn::GetAtt": "Web1.PrivateIp"}`, "10.0.4.254"},
		{"GetAtt LoadBalancerArns", `!GetAtt TG.LoadBalancerArns`, `{"Fn::GetAtt": "TG.LoadBalancerArns"}`, []any{lbARN}},
		{"GetAtt ignored GroupId", `!GetAtt Vpc.VpcId`, `{"Fn::GetAtt": "Vpc.VpcId"}`, fakeID("AWS::EC2::VPC", "kumo", "Vpc")},
		{"Sub string", `!Sub "${Env}-${AWS::Region}"`, `{"Fn::Sub": "${Env}-${AWS::Region}"}`, "prod-ap-northeast-1"},
		{"Sub attribute", `!Sub "https://${LB.DNSName}/"`, `{"Fn::Sub": "https://${LB.DNSName}/"}`, "https://" + dns + "/"},
		{"Sub literal", `!Sub "${!Literal}-${Env}"`, `{"Fn::Sub": "${!Literal}-${Env}"}`, "${Literal}-prod"},
		{"Sub with vars", `!Sub ["${a}.${Env}", {a: !GetAtt LB.LoadBalancerName}]`, `{"Fn::Sub": ["${a}.${Env}", {"a": {"Fn::GetAtt": "LB.LoadBalancerName"}}]}`, "alb-test.prod"},
		{"Join", `!Join ["-", [a, !Ref Env]]`, `{"Fn::Join": ["-", ["a", {"Ref": "Env"}]]}`, "a-prod"},
		{"Join list parameter", `!Join [",", !Ref Ports]`, `{"Fn::Join": [",", {"Ref": "Ports"}]}`, "80,443"},
		{"Select", `!Select [1, !Ref Ports]`, `{"Fn::Select": ["1", {"Ref": "Ports"}]}`, "443"},
		{"Split nested", `!Select [0, !Split [".", !GetAtt LB.DNSName]]`, `{"Fn::Select": [0, {"Fn::Split": [".", {"Fn::GetAtt": "LB.DNSName"}]}]}`, "alb-test-1234567890"},
		{"Base64", `!Base64 hi`, `{"Fn::Base64": "hi"}`, "aGk="},
		{"nested all", `!Join ["", [!Sub "${Env}", "-", !Select [0, !GetAZs ""]]]`, `{"Fn::Join": ["", [{"Fn::Sub": "${Env}"}, "-", {"Fn::Select": [0, {"Fn::GetAZs": ""}]}]]}`, "prod-ap-northeast-1a"},
	}
	for _, tc := range cases {
		for _, form := range []struct{ name, tmpl, expr string }{{"yaml", intrinsicYAML, tc.yaml}, {"json", intrinsicJSON, tc.json}} {
			t.Run(tc.name+"/"+form.name, func(t *testing.T) {
				got, err := probe(t, "t."+form.name, strings.Replace(form.tmpl, "EXPR", form.expr, 1))
				if err != nil {
					t.Fatal(err)
				}
				if !reflect.DeepEqual(got, tc.want) {
					t.Errorf("got %#v, want %#v", got, tc.want)
				}
			})
		}
	}
}

func TestStableNames(t *testing.T) {
	tmpl := `Resources:
  A: {Type: AWS::ElasticLoadBalancingV2::LoadBalancer}
  B: {Type: AWS::ElasticLoadBalancingV2::LoadBalancer}
  TA: {Type: AWS::ElasticLoadBalancingV2::TargetGroup, Properties: {Protocol: HTTP, Port: 80}}
  TB: {Type: AWS::ElasticLoadBalancingV2::TargetGroup, Properties: {Protocol: HTTP, Port: 80}}
  CA: {Type: AWS::CertificateManager::Certificate, Properties: {DomainName: a.example.com}}
  CB: {Type: AWS::CertificateManager::Certificate, Properties: {DomainName: b.example.com}}
  IA: {Type: AWS::EC2::Instance}
  IB: {Type: AWS::EC2::Instance}
  DA:
    Type: AWS::CloudFront::Distribution
    Properties:
      DistributionConfig: {Enabled: true, Origins: [{Id: o, DomainName: o.example.com, CustomOriginConfig: {OriginProtocolPolicy: https-only}}], DefaultCacheBehavior: {TargetOriginId: o, ViewerProtocolPolicy: allow-all, CachePolicyId: 658327ea-f89d-4fab-a63d-7e88639e58f6}}
  DB:
    Type: AWS::CloudFront::Distribution
    Properties:
      DistributionConfig: {Enabled: true, Origins: [{Id: o, DomainName: o.example.com, CustomOriginConfig: {OriginProtocolPolicy: https-only}}], DefaultCacheBehavior: {TargetOriginId: o, ViewerProtocolPolicy: allow-all, CachePolicyId: 658327ea-f89d-4fab-a63d-7e88639e58f6}}
`
	names := func(st *model.Stack) [][2]string {
		return [][2]string{
			{st.LoadBalancers[0].Name, st.LoadBalancers[1].Name},
			{st.LoadBalancers[0].DNSName, st.LoadBalancers[1].DNSName},
			{st.LoadBalancers[0].ARN, st.LoadBalancers[1].ARN},
			{st.TargetGroups[0].ARN, st.TargetGroups[1].ARN},
			{st.Certificates[0].ARN, st.Certificates[1].ARN},
			{st.Instances[0].ID, st.Instances[1].ID},
			{st.Instances[0].PrivateIP, st.Instances[1].PrivateIP},
			{st.Distributions[0].DomainName, st.Distributions[1].DomainName},
			{st.Distributions[0].ID, st.Distributions[1].ID},
		}
	}
	st1, err := Parse("a.yaml", []byte(tmpl), Options{})
	if err != nil {
		t.Fatal(err)
	}
	st2, err := Parse("a.yaml", []byte(tmpl), Options{})
	if err != nil {
		t.Fatal(err)
	}
	n1, n2 := names(st1), names(st2)
	if !reflect.DeepEqual(n1, n2) {
		t.Errorf("names differ between runs:\n%v\n%v", n1, n2)
	}
	for _, p := range n1 {
		if p[0] == p[1] {
			t.Errorf("two logical IDs got the same name %q", p[0])
		}
	}
	if lb := st1.LoadBalancers[0]; len(lb.Name) > 32 || !strings.HasPrefix(lb.Name, "kumo-A-") ||
		!lbDNSRe.MatchString(lb.DNSName) || elbName(lb.Name, true) != nil {
		t.Errorf("generated LB name/DNS = %q %q", lb.Name, lb.DNSName)
	}
	if err := distributionDomainName(st1.Distributions[0].DomainName); err != nil {
		t.Error(err)
	}
	// A different stack name gives different names.
	st3, err := Parse("a.yaml", []byte(tmpl), Options{StackName: "other"})
	if err != nil {
		t.Fatal(err)
	}
	if names(st3)[7][0] == n1[7][0] || names(st3)[0][0] == n1[0][0] {
		t.Errorf("stack name does not change generated names")
	}
}

func TestLoadCertificateFilesAndParameters(t *testing.T) {
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, "alb.pem"), []byte("cert"), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "alb.key"), []byte("key"), 0o600); err != nil {
		t.Fatal(err)
	}
	tmpl := `Parameters:
  Domain: {Type: String}
Resources:
  Cert:
    Type: AWS::CertificateManager::Certificate
    Metadata: {Kumo: {CertificateFile: alb.pem, PrivateKeyFile: KEY}}
    Properties: {DomainName: !Ref Domain, SubjectAlternativeNames: [www.example.com]}
`
	path := filepath.Join(dir, "stack.yaml")
	write := func(key string) {
		if err := os.WriteFile(path, []byte(strings.Replace(tmpl, "KEY", key, 1)), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	write("alb.key")
	st, err := Load(path, Options{Parameters: map[string]string{"Domain": "alb.example.com"}})
	if err != nil {
		t.Fatal(err)
	}
	c := st.Certificates[0]
	if c.CertFile != filepath.Join(dir, "alb.pem") || c.KeyFile != filepath.Join(dir, "alb.key") || c.DomainName != "alb.example.com" ||
		!reflect.DeepEqual(c.Names(), []string{"alb.example.com", "www.example.com"}) || st.Source != path {
		t.Errorf("certificate = %+v, source %q", c, st.Source)
	}
	write("missing.key")
	_, err = Load(path, Options{Parameters: map[string]string{"Domain": "alb.example.com"}})
	want := path + ":6: Resources.Cert.Metadata.Kumo.PrivateKeyFile: file " + filepath.Join(dir, "missing.key") + " does not exist or cannot be read (paths are relative to the template's directory)"
	if err == nil || err.Error() != want {
		t.Errorf("got %v\nwant %s", err, want)
	}
	_, err = Load(filepath.Join(dir, "nope.yaml"), Options{})
	var e *Error
	if !errors.As(err, &e) || e.File != filepath.Join(dir, "nope.yaml") || e.Line != 0 {
		t.Errorf("missing file: %v", err)
	}
	// An undeclared parameter value is an error too.
	write("alb.key")
	_, err = Load(path, Options{Parameters: map[string]string{"Domain": "a.example.com", "Domian": "x"}})
	if err == nil || !strings.Contains(err.Error(), `Parameters: a value was given for parameter "Domian", which the template does not declare (did you mean "Domain"?)`) {
		t.Errorf("undeclared parameter: %v", err)
	}
}

func TestIPTargetsAndRules(t *testing.T) {
	tmpl := `Resources:
  LB: {Type: AWS::ElasticLoadBalancingV2::LoadBalancer, Properties: {Name: lb, Scheme: internal}}
  L:
    Type: AWS::ElasticLoadBalancingV2::Listener
    Properties: {LoadBalancerArn: !Ref LB, Protocol: HTTP, Port: 80, DefaultActions: [{Type: fixed-response, FixedResponseConfig: {StatusCode: "503"}}]}
  R20:
    Type: AWS::ElasticLoadBalancingV2::ListenerRule
    Properties:
      ListenerArn: !Ref L
      Priority: 20
      Conditions: [{Field: http-header, HttpHeaderConfig: {HttpHeaderName: X-Env, Values: [blue]}}, {Field: query-string, QueryStringConfig: {Values: [{Key: v, Value: "1"}, {Value: x}]}}]
      Actions: [{Type: forward, ForwardConfig: {TargetGroups: [{TargetGroupArn: !Ref TG, Weight: 10}]}}]
  R5:
    Type: AWS::ElasticLoadBalancingV2::ListenerRule
    Properties:
      ListenerArn: !Ref L
      Priority: 5
      Conditions: [{Field: host-header, HostHeaderConfig: {Values: ["*.example.com"]}}, {Field: source-ip, SourceIpConfig: {Values: [192.0.2.0/24]}}]
      Actions: [{Type: redirect, RedirectConfig: {Host: www.example.com, StatusCode: HTTP_302}}]
  TG:
    Type: AWS::ElasticLoadBalancingV2::TargetGroup
    Metadata: {Kumo: {Targets: {"10.0.4.254:8080": "127.0.0.1:18080"}}}
    Properties:
      Protocol: HTTP
      Port: 8080
      TargetType: ip
      Targets: [{Id: 10.0.4.254}, {Id: 127.0.0.1, Port: 9000}]
`
	st, err := Parse("ip.yaml", []byte(tmpl), Options{})
	if err != nil {
		t.Fatal(err)
	}
	lb := st.LoadBalancers[0]
	if !strings.HasPrefix(lb.DNSName, "internal-lb-") || !strings.HasSuffix(lb.DNSName, ".us-east-1.elb.amazonaws.com") {
		t.Errorf("internal DNS name = %q", lb.DNSName)
	}
	tg := st.TargetGroups[0]
	got := [][2]string{{tg.Targets[0].Addr, tg.Targets[0].Local}, {tg.Targets[1].Addr, tg.Targets[1].Local}}
	if want := [][2]string{{"10.0.4.254:8080", "127.0.0.1:18080"}, {"127.0.0.1:9000", ""}}; !reflect.DeepEqual(got, want) {
		t.Errorf("targets = %v", got)
	}
	l := lb.Listeners[0]
	if len(l.Rules) != 2 || l.Rules[0].Priority != 5 || l.Rules[1].Priority != 20 {
		t.Fatalf("rules not sorted by priority: %+v", l.Rules)
	}
	r20 := l.Rules[1]
	if c := r20.Conditions; c[0].HTTPHeaderName != "X-Env" || !reflect.DeepEqual(c[0].Values, []string{"blue"}) ||
		!reflect.DeepEqual(c[1].QueryStrings, []model.KeyValue{{Key: "v", Value: "1"}, {Value: "x"}}) {
		t.Errorf("conditions = %+v %+v", c[0], c[1])
	}
	if a := r20.Actions[0]; a.TargetGroups[0].TargetGroup != tg || a.TargetGroups[0].Weight != 10 {
		t.Errorf("forward = %+v", a)
	}
	if a := l.Rules[0].Actions[0]; a.Redirect.Host != "www.example.com" || a.Redirect.StatusCode != "HTTP_302" {
		t.Errorf("redirect = %+v", a.Redirect)
	}
	if fr := l.DefaultActions[0].FixedResponse; fr.StatusCode != 503 || fr.ContentType != "" {
		t.Errorf("fixed response = %+v", fr)
	}
}

func TestAliasesAndOutputs(t *testing.T) {
	tmpl := `Resources:
  Cert:
    Type: AWS::CertificateManager::Certificate
    Properties: {DomainName: www.example.com, SubjectAlternativeNames: ["*.example.com"]}
  D1:
    Type: AWS::CloudFront::Distribution
    Properties:
      DistributionConfig:
        Enabled: true
        Aliases: [WWW.Example.com, img.example.com]
        ViewerCertificate: {AcmCertificateArn: !Ref Cert, SslSupportMethod: sni-only, MinimumProtocolVersion: TLSv1.2_2021}
        Logging: {Bucket: logs.s3.amazonaws.com, Prefix: cf/}
        Origins: [{Id: o, DomainName: o.example.com, OriginPath: /static, CustomOriginConfig: {OriginProtocolPolicy: match-viewer, OriginReadTimeout: 60}}]
        DefaultCacheBehavior: {TargetOriginId: o, ViewerProtocolPolicy: allow-all, ForwardedValues: {QueryString: true, Cookies: {Forward: whitelist, WhitelistedNames: [s]}, Headers: [Host]}, MinTTL: 100000}
        CacheBehaviors: [{PathPattern: /api/*, TargetOriginId: o, ViewerProtocolPolicy: https-only, CachePolicyId: 4135ea2d-6df8-44a3-9df3-4b5a84be39ad, AllowedMethods: [GET, HEAD, OPTIONS, PUT, POST, PATCH, DELETE], CachedMethods: [GET, HEAD, OPTIONS]}]
  D2:
    Type: AWS::CloudFront::Distribution
    Properties:
      DistributionConfig:
        Enabled: true
        Aliases: [www.example.com]
        ViewerCertificate: {AcmCertificateArn: !Ref Cert, SslSupportMethod: sni-only}
        Origins: [{Id: o, DomainName: o.example.com, CustomOriginConfig: {OriginProtocolPolicy: match-viewer}}]
        DefaultCacheBehavior: {TargetOriginId: o, ViewerProtocolPolicy: allow-all, CachePolicyId: 658327ea-f89d-4fab-a63d-7e88639e58f6}
Outputs:
  Broken: {Value: !Ref DoesNotExist}
`
	_, err := Parse("a.yaml", []byte(tmpl), Options{})
	want := `a.yaml:21: Resources.D2.Properties.DistributionConfig.Aliases[0]: alias www.example.com is already used by distribution D1; an alternate domain name can belong to only one distribution`
	if err == nil || err.Error() != want {
		t.Fatalf("got %v\nwant %s", err, want)
	}
	st, err := Parse("a.yaml", []byte(strings.Replace(tmpl, "Aliases: [www.example.com]", "Aliases: []", 1)), Options{})
	if err != nil {
		t.Fatal(err)
	}
	d := st.Distributions[0]
	if !reflect.DeepEqual(d.Aliases, []string{"www.example.com", "img.example.com"}) || d.ViewerCertificate != st.Certificates[0] ||
		d.MinimumProtocolVersion != "TLSv1.2_2021" || d.Logging != (model.Logging{Enabled: true, Bucket: "logs.s3.amazonaws.com", Prefix: "cf/"}) {
		t.Errorf("distribution = %+v", d)
	}
	if o := d.Origins[0]; o.OriginPath != "/static" || o.Custom.ReadTimeout != 60*time.Second || !reflect.DeepEqual(o.Custom.SSLProtocols, []string{"TLSv1", "SSLv3"}) {
		t.Errorf("origin = %+v", o)
	}
	db := d.DefaultBehavior
	wantFV := &model.ForwardedValues{QueryString: true, CookiesForward: "whitelist", WhitelistedNames: []string{"s"}, Headers: []string{"Host"}}
	// MinTTL above 86400 raises the DefaultTTL default to MinTTL (cloudfront.md §4.2).
	if !reflect.DeepEqual(db.ForwardedValues, wantFV) || db.MinTTL != 100000 || db.DefaultTTL != 100000 || db.MaxTTL != 31536000 {
		t.Errorf("default behavior = %+v %+v", db, db.ForwardedValues)
	}
	if b := d.Behaviors[0]; b.PathPattern != "/api/*" || len(b.AllowedMethods) != 7 || len(b.CachedMethods) != 3 || b.ForwardedValues != nil {
		t.Errorf("behavior = %+v", b)
	}
}
