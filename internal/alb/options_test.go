package alb

import (
	"strings"
	"testing"
	"time"

	"github.com/kumo-dev/kumo/internal/model"
)

// TestTargetGroupOptionsRejectedAtLoad checks that New refuses what kumo
// cannot do honestly (alb.md §5.3, §6.4–6.7).
func TestTargetGroupOptionsRejectedAtLoad(t *testing.T) {
	for _, tc := range []struct {
		name  string
		attrs map[string]string
		lb    func(tg, tg2 *model.TargetGroup) *model.LoadBalancer
		want  string
	}{
		{"anomaly mitigation", map[string]string{"load_balancing.algorithm.type": "weighted_random", "load_balancing.algorithm.anomaly_mitigation": "on"}, nil, "not emulated by kumo"},
		{"slow start with least outstanding requests", map[string]string{"load_balancing.algorithm.type": "least_outstanding_requests", "slow_start.duration_seconds": "30"}, nil, "cannot be combined"},
		{"slow start below 30 s", map[string]string{"slow_start.duration_seconds": "10"}, nil, "want 0 (off) or 30-900"},
		{"bad minimum healthy count", map[string]string{"target_group_health.unhealthy_state_routing.minimum_healthy_targets.count": "0"}, nil, "want an integer 1-1000"},
		{"app_cookie without a name", map[string]string{"stickiness.enabled": "true", "stickiness.type": "app_cookie"}, nil, "cookie_name"},
		{"sticky group in a weighted forward without group stickiness", map[string]string{"stickiness.enabled": "true"},
			func(tg, tg2 *model.TargetGroup) *model.LoadBalancer {
				return loadBalancer(httpListener(80, weightedForward(0, []*model.TargetGroup{tg, tg2}, 1, 1)))
			}, "needs TargetGroupStickinessConfig"},
		{"app_cookie in a weighted forward", map[string]string{"stickiness.enabled": "true", "stickiness.type": "app_cookie", "stickiness.app_cookie.cookie_name": "s"},
			func(tg, tg2 *model.TargetGroup) *model.LoadBalancer {
				return loadBalancer(httpListener(80, weightedForward(time.Hour, []*model.TargetGroup{tg, tg2}, 1, 1)))
			}, "cannot be used in a weighted forward"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			tg := mkTG("alb-tg", &model.Target{ID: "127.0.0.1", Addr: "127.0.0.1:1"})
			tg.Attributes = tc.attrs
			tg2 := mkTG("tg-2", &model.Target{ID: "127.0.0.1", Addr: "127.0.0.1:2"})
			m := loadBalancer(httpListener(80, forward(tg)))
			if tc.lb != nil {
				m = tc.lb(tg, tg2)
			}
			lb, err := New(Config{LB: m}, nil)
			if err == nil {
				lb.Close()
				t.Fatal("New accepted it")
			}
			if !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("error %q, want it to mention %q", err, tc.want)
			}
		})
	}
}

// TestNotInUseTargets checks the unused state of alb.md §6.3 for a target
// group that no rule references.
func TestNotInUseTargets(t *testing.T) {
	tg := mkTG("idle-tg", &model.Target{ID: "10.0.7.1", Addr: "10.0.7.1:8080"})
	got := NotInUseHealth(tg)
	if len(got) != 1 || got[0].State != StateUnused || got[0].Reason != "Target.NotInUse" ||
		got[0].Description != "Given target group is not configured to receive traffic from ELB" || got[0].HealthCheckPort != "8080" {
		t.Fatalf("%+v", got)
	}
}
