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
