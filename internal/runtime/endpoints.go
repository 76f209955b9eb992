package runtime

import (
	"crypto/tls"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
)

// Endpoints describes a running kumo: the map between the modeled world and
// the local sockets. It is printed by `kumo up` and written to
// <state-dir>/endpoints.json, where other kumo commands find it.
type Endpoints struct {
	PID      int    `json:"pid"`
	StateDir string `json:"stateDir"`
	// CAFile is the local CA certificate to trust (curl --cacert).
	CAFile string `json:"caFile"`
	// Admin is the loopback address of the admin endpoint.
	Admin  string `json:"admin"`
	Source string `json:"stackFile"`
	Viewer struct {
		HTTPS string `json:"https"`
		HTTP  string `json:"http"`
		// HTTP3 is the UDP address of the HTTP/3 listener ("" when off).
		HTTP3 string `json:"http3,omitempty"`
	} `json:"viewer"`
	Distributions []DistributionEndpoint `json:"distributions"`
	LoadBalancers []LoadBalancerEndpoint `json:"loadBalancers"`
	Instances     []InstanceEndpoint     `json:"instances"`
	Records       []RecordEndpoint       `json:"records"`
	Ignored       []map[string]string    `json:"ignored,omitempty"`
	Logs          map[string]string      `json:"logs"`
}

// DistributionEndpoint is one distribution.
type DistributionEndpoint struct {
	LogicalID  string   `json:"logicalId"`
	ID         string   `json:"id"`
	DomainName string   `json:"domainName"`
	Aliases    []string `json:"aliases,omitempty"`
	// HTTPVersion is the distribution's HttpVersion (http1.1, http2, http3, http2and3).
	HTTPVersion string `json:"httpVersion"`
	// URL is the HTTPS URL to use together with Resolve.
	URL string `json:"url"`
	// Resolve is the curl --resolve value for URL.
	Resolve string `json:"resolve"`
}

// LoadBalancerEndpoint is one load balancer and its listeners.
type LoadBalancerEndpoint struct {
	LogicalID string             `json:"logicalId"`
	Name      string             `json:"name"`
	DNSName   string             `json:"dnsName"`
	Listeners []ListenerEndpoint `json:"listeners"`
	Targets   []TargetEndpoint   `json:"targets"`
}

// ListenerEndpoint is one listener: its modeled port and local address.
type ListenerEndpoint struct {
	Protocol string `json:"protocol"`
	Port     int    `json:"port"`
	Local    string `json:"local"`
	// Names are the names of the default certificate (HTTPS listeners).
	Names []string `json:"certificateNames,omitempty"`
}

// TargetEndpoint is one registered target with its last known health.
type TargetEndpoint struct {
	TargetGroup string `json:"targetGroup"`
	ID          string `json:"id"`
	Addr        string `json:"addr"`
	Local       string `json:"local"`
	State       string `json:"state"`
	Reason      string `json:"reason,omitempty"`
}

// InstanceEndpoint is one EC2 stand-in.
type InstanceEndpoint struct {
	LogicalID string `json:"logicalId"`
	ID        string `json:"id"`
	PrivateIP string `json:"privateIp"`
	Local     string `json:"local"`
}

// RecordEndpoint is one Route 53 record.
type RecordEndpoint struct {
	Name   string   `json:"name"`
	Type   string   `json:"type"`
	Values []string `json:"values,omitempty"`
	Alias  string   `json:"alias,omitempty"`
}

// Endpoints returns the current endpoint table.
func (rt *Runtime) Endpoints() Endpoints {
	health := rt.Health()
	rt.mu.Lock()
	defer rt.mu.Unlock()
	var ep Endpoints
	ep.PID = os.Getpid()
	ep.StateDir = rt.opt.StateDir
	ep.CAFile = rt.ca.CertFile()
	ep.Admin = rt.admin.Addr()
	ep.Viewer.HTTPS = rt.viewer.https.Addr()
	ep.Viewer.HTTP = rt.viewer.http.Addr()
	if rt.h3 != nil {
		ep.Viewer.HTTP3 = rt.h3.Addr()
	}
	if rt.stack == nil { // still starting
		return ep
	}
	ep.Source = rt.stack.Source
	host, port, _ := net.SplitHostPort(ep.Viewer.HTTPS)
	for _, d := range rt.stack.Distributions {
		ep.Distributions = append(ep.Distributions, DistributionEndpoint{
			LogicalID:   d.LogicalID,
			ID:          d.ID,
			DomainName:  d.DomainName,
			Aliases:     d.Aliases,
			HTTPVersion: d.HTTPVersion,
			URL:         "https://" + net.JoinHostPort(d.DomainName, port) + "/",
			Resolve:     d.DomainName + ":" + port + ":" + host,
		})
	}
	for _, lb := range rt.stack.LoadBalancers {
		le := LoadBalancerEndpoint{LogicalID: lb.LogicalID, Name: lb.Name, DNSName: lb.DNSName}
		for _, l := range lb.Listeners {
			lep := ListenerEndpoint{Protocol: l.Protocol, Port: l.Port, Local: rt.listeners[rt.listenerKey(l)].Addr()}
			if len(l.Certificates) > 0 {
				lep.Names = l.Certificates[0].Names()
			}
			le.Listeners = append(le.Listeners, lep)
		}
		for _, th := range health[lb.ARN] {
			le.Targets = append(le.Targets, TargetEndpoint{
				TargetGroup: th.TargetGroupName, ID: th.TargetID, Addr: th.Addr, Local: th.Local,
				State: th.State, Reason: th.Reason,
			})
		}
		ep.LoadBalancers = append(ep.LoadBalancers, le)
	}
	for _, inst := range rt.stack.Instances {
		local := inst.Upstream
		if s, ok := rt.webs[inst.ID+"|"+inst.Listen]; ok {
			local = s.Addr()
		}
		ep.Instances = append(ep.Instances, InstanceEndpoint{LogicalID: inst.LogicalID, ID: inst.ID, PrivateIP: inst.PrivateIP, Local: local})
	}
	for _, r := range rt.stack.Records {
		ep.Records = append(ep.Records, RecordEndpoint{Name: r.Name, Type: r.Type, Values: r.Values, Alias: r.AliasTarget})
	}
	for _, ig := range rt.stack.Ignored {
		ep.Ignored = append(ep.Ignored, map[string]string{"logicalId": ig.LogicalID, "type": ig.Type})
	}
	ep.Logs = map[string]string{
		"cloudfront": CloudFrontDir(rt.opt.StateDir),
		"alb":        ALBDir(rt.opt.StateDir),
	}
	return ep
}

// WriteEndpoints writes endpoints.json into the state directory, atomically.
func (rt *Runtime) WriteEndpoints() error {
	ep := rt.Endpoints()
	b, err := json.MarshalIndent(ep, "", "  ")
	if err != nil {
		return fmt.Errorf("encoding endpoints: %w", err)
	}
	path := filepath.Join(rt.opt.StateDir, EndpointsFile)
	tmp := path + ".tmp"
	if err := os.WriteFile(tmp, append(b, '\n'), 0o644); err != nil {
		return fmt.Errorf("writing %s: %w", tmp, err)
	}
	if err := os.Rename(tmp, path); err != nil {
		return fmt.Errorf("writing %s: %w", path, err)
	}
	return nil
}

// ReadEndpoints reads the endpoints.json of the kumo running with stateDir.
func ReadEndpoints(stateDir string) (*Endpoints, error) {
	path := filepath.Join(stateDir, EndpointsFile)
	b, err := os.ReadFile(path)
	if errors.Is(err, os.ErrNotExist) {
		return nil, fmt.Errorf("no kumo is running with state directory %s (%s does not exist; start one with `kumo up`)", stateDir, path)
	}
	if err != nil {
		return nil, fmt.Errorf("reading %s: %w", path, err)
	}
	var ep Endpoints
	if err := json.Unmarshal(b, &ep); err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	return &ep, nil
}

// notReady answers while a listener is bound but its first stack is not
// applied yet (a window of microseconds at start-up).
type notReady struct{}

func (notReady) ServeHTTP(w http.ResponseWriter, _ *http.Request) {
	http.Error(w, "kumo is starting", http.StatusServiceUnavailable)
}

func notReadyTLS(*tls.ClientHelloInfo) (*tls.Config, error) {
	return nil, errors.New("kumo is starting")
}

func lowerDNS(name string) string { return strings.TrimSuffix(strings.ToLower(name), ".") }
