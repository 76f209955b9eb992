package runtime

import (
	"net"
	"strconv"

	"github.com/kumo-dev/kumo/internal/alb"
)

// TargetsReport is the answer of the admin route GET /v1/targets: the live
// health of every registered target, by load balancer and target group.
// Each target group carries its TargetHealthDescriptions in the JSON shape
// of `aws elbv2 describe-target-health` (alb.md §7.6).
type TargetsReport struct {
	LoadBalancers []LoadBalancerTargets `json:"LoadBalancers"`
}

// LoadBalancerTargets is one load balancer's target groups.
type LoadBalancerTargets struct {
	LoadBalancerName string              `json:"LoadBalancerName"`
	LoadBalancerArn  string              `json:"LoadBalancerArn"`
	TargetGroups     []TargetGroupHealth `json:"TargetGroups"`
}

// TargetGroupHealth is one target group and the health of its targets.
type TargetGroupHealth struct {
	TargetGroupArn           string                    `json:"TargetGroupArn"`
	TargetGroupName          string                    `json:"TargetGroupName"`
	TargetHealthDescriptions []TargetHealthDescription `json:"TargetHealthDescriptions"`
}

// TargetHealthDescription is one target as describe-target-health prints
// it: absent members are omitted, HealthCheckPort is a string (omitted for
// unused targets), Reason and Description are absent for healthy targets.
type TargetHealthDescription struct {
	Target          TargetDescription `json:"Target"`
	HealthCheckPort string            `json:"HealthCheckPort,omitempty"`
	TargetHealth    TargetHealthState `json:"TargetHealth"`
}

// TargetDescription is a registered target: its id (instance id or IP) and
// port.
type TargetDescription struct {
	Id   string `json:"Id"` //nolint:revive // the AWS member name
	Port int    `json:"Port"`
}

// TargetHealthState is a target's state with its reason code and description.
type TargetHealthState struct {
	State       string `json:"State"`
	Reason      string `json:"Reason,omitempty"`
	Description string `json:"Description,omitempty"`
}

// Targets returns the live health of every target, load balancers in stack
// order, target groups and targets in model order.
func (rt *Runtime) Targets() TargetsReport {
	health := rt.Health()
	rt.mu.Lock()
	var lbs []LoadBalancerTargets
	if rt.stack != nil {
		for _, lb := range rt.stack.LoadBalancers {
			lbs = append(lbs, LoadBalancerTargets{LoadBalancerName: lb.Name, LoadBalancerArn: lb.ARN})
		}
	}
	rt.mu.Unlock()
	rep := TargetsReport{LoadBalancers: []LoadBalancerTargets{}}
	for _, l := range lbs {
		l.TargetGroups = targetGroupsHealth(health[l.LoadBalancerArn])
		rep.LoadBalancers = append(rep.LoadBalancers, l)
	}
	return rep
}

// targetGroupsHealth groups one load balancer's target health by target
// group, keeping the order Health reports.
func targetGroupsHealth(ths []alb.TargetHealth) []TargetGroupHealth {
	out := []TargetGroupHealth{}
	idx := map[string]int{}
	for _, th := range ths {
		i, ok := idx[th.TargetGroupARN]
		if !ok {
			i = len(out)
			idx[th.TargetGroupARN] = i
			out = append(out, TargetGroupHealth{TargetGroupArn: th.TargetGroupARN, TargetGroupName: th.TargetGroupName,
				TargetHealthDescriptions: []TargetHealthDescription{}})
		}
		out[i].TargetHealthDescriptions = append(out[i].TargetHealthDescriptions, describeTargetHealth(th))
	}
	return out
}

// describeTargetHealth implements the TargetHealthDescription shape of
// alb.md §7.6 for one target.
func describeTargetHealth(th alb.TargetHealth) TargetHealthDescription {
	d := TargetHealthDescription{
		Target:          TargetDescription{Id: th.TargetID},
		HealthCheckPort: th.HealthCheckPort,
		TargetHealth:    TargetHealthState{State: th.State, Reason: th.Reason, Description: th.Description},
	}
	if _, port, err := net.SplitHostPort(th.Addr); err == nil {
		d.Target.Port, _ = strconv.Atoi(port)
	}
	if th.State == alb.StateUnused {
		d.HealthCheckPort = ""
	}
	return d
}
