package metrics

import (
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
)

func scrape(t *testing.T, r *Registry) string {
	t.Helper()
	srv := httptest.NewServer(r.Handler())
	defer srv.Close()
	resp, err := http.Get(srv.URL)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	if ct := resp.Header.Get("Content-Type"); !strings.HasPrefix(ct, "text/plain") {
		t.Errorf("Content-Type %q, want the Prometheus text format", ct)
	}
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

// TestCloudWatchNamedMetrics checks the names and labels of the exposition
// (CloudWatch AWS/ApplicationELB metric names, LoadBalancer and
// TargetGroup dimensions) and how requests are counted (alb.md §2.1).
func TestCloudWatchNamedMetrics(t *testing.T) {
	r := New()
	const lb = "app/alb-test/96e12a2c8669fbe5"
	tg := TargetGroupDimension("arn:aws:elasticloadbalancing:ap-northeast-1:123456789012:targetgroup/alb-tg/d3bb7ccab2dace96")
	if tg != "targetgroup/alb-tg/d3bb7ccab2dace96" {
		t.Fatalf("dimension %q", tg)
	}
	r.ObserveRequest(Request{LoadBalancer: lb, TargetGroup: tg, ELBStatus: 200, TargetStatus: 200, HasTargetTime: true, TargetResponseTime: 0.002, Bytes: 100})
	r.ObserveRequest(Request{LoadBalancer: lb, TargetGroup: tg, ELBStatus: 404, TargetStatus: 404, HasTargetTime: true, TargetResponseTime: 0.001, Bytes: 50})
	r.ObserveRequest(Request{LoadBalancer: lb, TargetGroup: tg, ELBStatus: 502, TargetConnectError: true, Bytes: 10})
	r.ObserveRequest(Request{LoadBalancer: lb, ELBStatus: 301, NonCompliant: true})
	r.ConnectionOpened(lb)
	r.ConnectionOpened(lb)
	r.ConnectionClosed(lb)
	r.ClientTLSNegotiationError(lb)
	remove := r.SetHealthSource(lb, func() []HostCount { return []HostCount{{TargetGroup: tg, Healthy: 2, Unhealthy: 1}} })
	text := scrape(t, r)
	for _, want := range []string{
		`aws_alb_RequestCount{LoadBalancer="` + lb + `",TargetGroup="` + tg + `"} 3`,
		`aws_alb_RequestCount{LoadBalancer="` + lb + `",TargetGroup=""} 1`,
		`aws_alb_HTTPCode_Target_2XX_Count{LoadBalancer="` + lb + `",TargetGroup="` + tg + `"} 1`,
		`aws_alb_HTTPCode_Target_4XX_Count{LoadBalancer="` + lb + `",TargetGroup="` + tg + `"} 1`,
		`aws_alb_HTTPCode_ELB_5XX_Count{LoadBalancer="` + lb + `"} 1`,
		`aws_alb_HTTPCode_ELB_502_Count{LoadBalancer="` + lb + `"} 1`,
		`aws_alb_HTTPCode_ELB_3XX_Count{LoadBalancer="` + lb + `"} 1`,
		`aws_alb_TargetConnectionErrorCount{LoadBalancer="` + lb + `",TargetGroup="` + tg + `"} 1`,
		`aws_alb_TargetResponseTime_count{LoadBalancer="` + lb + `",TargetGroup="` + tg + `"} 2`,
		`aws_alb_ProcessedBytes{LoadBalancer="` + lb + `"} 160`,
		`aws_alb_NewConnectionCount{LoadBalancer="` + lb + `"} 2`,
		`aws_alb_ActiveConnectionCount{LoadBalancer="` + lb + `"} 1`,
		`aws_alb_ClientTLSNegotiationErrorCount{LoadBalancer="` + lb + `"} 1`,
		`aws_alb_DesyncMitigationMode_NonCompliant_Request_Count{LoadBalancer="` + lb + `"} 1`,
		`aws_alb_HealthyHostCount{LoadBalancer="` + lb + `",TargetGroup="` + tg + `"} 2`,
		`aws_alb_UnHealthyHostCount{LoadBalancer="` + lb + `",TargetGroup="` + tg + `"} 1`,
	} {
		if !strings.Contains(text, want+"\n") {
			t.Errorf("exposition lacks %s", want)
		}
	}
	if strings.Contains(text, "HTTPCode_ELB_4XX_Count{") {
		t.Error("a target's 404 counted as an LB-generated 4XX")
	}
	// A newer source for the same load balancer survives the old one's removal.
	r.SetHealthSource(lb, func() []HostCount { return []HostCount{{TargetGroup: tg, Healthy: 5}} })
	remove()
	if text := scrape(t, r); !strings.Contains(text, `aws_alb_HealthyHostCount{LoadBalancer="`+lb+`",TargetGroup="`+tg+`"} 5`+"\n") {
		t.Errorf("replacement source lost:\n%s", text)
	}
	var nilReg *Registry
	nilReg.ObserveRequest(Request{}) // a nil registry records nothing and does not panic
}
