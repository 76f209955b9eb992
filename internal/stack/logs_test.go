package stack

import (
	"strings"
	"testing"
)

// TestLoadBalancerLogsMetadata checks Metadata.Kumo.Logs on a load
// balancer: "all" by default, "attributes" accepted, anything else a clear
// error naming the line.
func TestLoadBalancerLogsMetadata(t *testing.T) {
	const lb = "  LB:\n    Type: AWS::ElasticLoadBalancingV2::LoadBalancer\n"
	for _, tc := range []struct {
		name, meta, want, wantErr string
	}{
		{"default", "", "all", ""},
		{"all", "    Metadata:\n      Kumo:\n        Logs: all\n", "all", ""},
		{"attributes", "    Metadata:\n      Kumo:\n        Logs: attributes\n", "attributes", ""},
		{"bad", "    Metadata:\n      Kumo:\n        Logs: some\n", "", `Resources.LB.Metadata.Kumo.Logs: "some" is not one of all, attributes`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			src := edit(t, baseTemplate(t), lb, lb+tc.meta)
			st, err := Parse("stack.yaml", []byte(src), Options{})
			if tc.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
					t.Fatalf("error %v, want %q", err, tc.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if got := st.LoadBalancers[0].Logs; got != tc.want {
				t.Fatalf("Logs = %q, want %q", got, tc.want)
			}
		})
	}
}

// TestBenchStackLogs checks the stack bench/run.sh measures: load balancer
// bench (18090), which run.sh compares with HAProxy, writes no access log,
// as on AWS by default and as HAProxy's bench config logs nothing;
// bench-logged (18091) is the same with its access log on.
func TestBenchStackLogs(t *testing.T) {
	st, err := Load("../../bench/kumo-bench.yaml", Options{})
	if err != nil {
		t.Fatal(err)
	}
	want := map[string]struct {
		listen     string
		accessLogs bool
	}{
		"bench":        {"127.0.0.1:18090", false},
		"bench-logged": {"127.0.0.1:18091", true},
	}
	for _, lb := range st.LoadBalancers {
		w, ok := want[lb.Name]
		if !ok {
			t.Errorf("unexpected load balancer %q", lb.Name)
			continue
		}
		delete(want, lb.Name)
		if lb.Logs != "attributes" || lb.AccessLogs != w.accessLogs {
			t.Errorf("%s: Logs %q, AccessLogs %v; want attributes, %v", lb.Name, lb.Logs, lb.AccessLogs, w.accessLogs)
		}
		if len(lb.Listeners) != 1 || lb.Listeners[0].Listen != w.listen {
			t.Errorf("%s: listeners %v, want one on %s", lb.Name, lb.Listeners, w.listen)
		}
	}
	for name := range want {
		t.Errorf("load balancer %q missing", name)
	}
}
