package alb

import (
	"strconv"

	"github.com/kumo-dev/kumo/internal/model"
)

// Target health reason and description of a target whose group no
// listener rule uses (alb.md §6.3).
const (
	ReasonNotInUse      = "Target.NotInUse"
	descriptionNotInUse = "Given target group is not configured to receive traffic from ELB"
)

// NotInUseHealth implements the `unused` state of alb.md §6.3 for a target
// group that no listener rule or default action of any load balancer
// references: every registered target is unused with reason
// Target.NotInUse, and is never health-checked. `kumo targets` reports the
// stack's unreferenced groups with it.
func NotInUseHealth(tg *model.TargetGroup) []TargetHealth {
	out := make([]TargetHealth, 0, len(tg.Targets))
	for _, t := range tg.Targets {
		if t == nil {
			continue
		}
		port := tg.HealthCheck.Port
		if port == "" || port == "traffic-port" {
			port = ""
			if i := lastColon(t.Addr); i >= 0 {
				port = t.Addr[i+1:]
			}
		} else if _, err := strconv.Atoi(port); err != nil {
			port = tg.HealthCheck.Port
		}
		out = append(out, TargetHealth{
			TargetGroupARN: tg.ARN, TargetGroupName: tg.Name,
			TargetID: t.ID, Addr: t.Addr, Local: t.Local, HealthCheckPort: port,
			State: StateUnused, Reason: ReasonNotInUse, Description: descriptionNotInUse,
		})
	}
	return out
}

func lastColon(s string) int {
	for i := len(s) - 1; i >= 0; i-- {
		if s[i] == ':' {
			return i
		}
	}
	return -1
}
