package runtime_test

import (
	"context"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/kumo-dev/kumo/internal/accesslog"
	"github.com/kumo-dev/kumo/internal/admin"
	"github.com/kumo-dev/kumo/internal/runtime"
)

// TestBrokenSeedConnectionLog is the foundation's reference case seen from
// the ALB (alb.md §1.12): CloudFront abandons the handshake for the LB's
// generated name, the access log stays empty, and the connection log has
// the failed handshake; the health-check log has the checks (§1.13).
func TestBrokenSeedConnectionLog(t *testing.T) {
	e := start(t, brokenTemplate(t))
	d := e.stack.Distributions[0]
	if res := e.viewer(http.MethodGet, "https", d.DomainName, "/", nil); res.status != http.StatusBadGateway {
		t.Fatalf("status %d, want 502", res.status)
	}
	lb := e.stack.LoadBalancers[0]
	var failed *accesslog.ALBConnectionRecord
	poll(t, "failed handshake in the connection log", func() bool {
		recs, err := accesslog.ReadALBConnectionLogs(runtime.ALBDir(e.stateDir))
		if err != nil {
			return false
		}
		for _, r := range recs {
			if strings.HasPrefix(r.TLSVerifyStatus, "Failed:") {
				failed = r
				return true
			}
		}
		return false
	})
	if failed.ListenerPort != 443 || failed.TLSHandshakeLatency != accesslog.ALBTimingNotMeasured ||
		failed.ELB != lb.FullName || failed.IPAddress != runtime.ALBNodeIP || !strings.HasPrefix(failed.ConnTraceID, "TID_") {
		t.Errorf("connection-log line %+v", failed)
	}
	if recs, err := accesslog.ReadALBLogs(runtime.ALBDir(e.stateDir)); err != nil || len(recs) != 0 {
		t.Errorf("the access log has %d lines (err %v); the handshake never completed", len(recs), err)
	}
	poll(t, "health-check log lines", func() bool {
		recs, err := accesslog.ReadALBHealthCheckLogs(runtime.ALBDir(e.stateDir))
		return err == nil && len(recs) >= 2 && recs[0].Status == "PASS" && recs[0].ELB == lb.FullName
	})
}

// TestAdminTargetsAndMetrics: GET /v1/targets answers in the
// describe-target-health shape (alb.md §7.6); GET /metrics serves the
// CloudWatch-named metrics and, like every admin route, needs the token.
func TestAdminTargetsAndMetrics(t *testing.T) {
	e := start(t, albStack{}.render())
	if r := e.alb("alb.example.com", "/"); r.status != http.StatusOK {
		t.Fatalf("ALB request: %d", r.status)
	}
	ep := e.rt.Endpoints()
	c, err := admin.NewClient(ep.Admin, e.stateDir)
	if err != nil {
		t.Fatal(err)
	}
	var rep runtime.TargetsReport
	poll(t, "both targets healthy", func() bool {
		rep = runtime.TargetsReport{}
		if err := c.Do(context.Background(), "GET", "/v1/targets", nil, &rep); err != nil {
			t.Fatal(err)
		}
		n := 0
		for _, lb := range rep.LoadBalancers {
			for _, tg := range lb.TargetGroups {
				for _, d := range tg.TargetHealthDescriptions {
					if d.TargetHealth.State == "healthy" && d.TargetHealth.Reason == "" && d.Target.Port == 80 &&
						strings.HasPrefix(d.Target.Id, "i-") && d.HealthCheckPort == "80" {
						n++
					}
				}
			}
		}
		return n == 2
	})
	if len(rep.LoadBalancers) != 1 || rep.LoadBalancers[0].LoadBalancerName != "alb-test" ||
		len(rep.LoadBalancers[0].TargetGroups) != 1 || rep.LoadBalancers[0].TargetGroups[0].TargetGroupName != "alb-tg" {
		t.Fatalf("report %+v", rep)
	}

	req, _ := http.NewRequest("GET", "http://"+ep.Admin+"/metrics", nil)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusUnauthorized {
		t.Errorf("/metrics without the token: %d, want 401", resp.StatusCode)
	}
	tok, err := os.ReadFile(filepath.Join(e.stateDir, admin.TokenFile))
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Authorization", "Bearer "+strings.TrimSpace(string(tok)))
	resp, err = http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	b, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	lb := e.stack.LoadBalancers[0].FullName
	for _, want := range []string{
		`aws_alb_RequestCount{LoadBalancer="` + lb + `",TargetGroup="targetgroup/alb-tg/`,
		`aws_alb_HealthyHostCount{LoadBalancer="` + lb + `",TargetGroup="targetgroup/alb-tg/`,
		`aws_alb_NewConnectionCount{LoadBalancer="` + lb + `"}`,
	} {
		if !strings.Contains(string(b), want) {
			t.Errorf("/metrics lacks %s", want)
		}
	}
}

// TestLogsFollowAttributes: with Metadata.Kumo.Logs "attributes" each ALB
// log is written only when its attribute turns it on (alb.md §6.9) — here
// the connection log alone; with the default "all" every log is written.
func TestLogsFollowAttributes(t *testing.T) {
	const lbDecl = "  LoadBalancer:\n    Type: AWS::ElasticLoadBalancingV2::LoadBalancer\n    Properties:\n      Name: alb-test\n"
	src := string(albStack{}.render())
	if !strings.Contains(src, lbDecl) {
		t.Fatal("template lacks the load balancer declaration")
	}
	src = strings.Replace(src, lbDecl, "  LoadBalancer:\n    Type: AWS::ElasticLoadBalancingV2::LoadBalancer\n    Metadata:\n      Kumo:\n        Logs: attributes\n"+
		"    Properties:\n      Name: alb-test\n      LoadBalancerAttributes:\n        - Key: connection_logs.s3.enabled\n          Value: \"true\"\n", 1)
	e := start(t, []byte(src))
	if r := e.alb("alb.example.com", "/"); r.status != http.StatusOK {
		t.Fatalf("ALB request: %d", r.status)
	}
	e.shutdown()
	dir := runtime.ALBDir(e.stateDir)
	conns, err := accesslog.ReadALBConnectionLogs(dir)
	if err != nil || len(conns) != 1 {
		t.Errorf("connection log: %d lines, err %v", len(conns), err)
	}
	if recs, err := accesslog.ReadALBLogs(dir); err != nil || len(recs) != 0 {
		t.Errorf("access log written although access_logs.s3.enabled is off: %d lines, err %v", len(recs), err)
	}
	if recs, err := accesslog.ReadALBHealthCheckLogs(dir); err != nil || len(recs) != 0 {
		t.Errorf("health-check log written although health_check_logs.s3.enabled is off: %d lines, err %v", len(recs), err)
	}
}
