package stack

import (
	"fmt"
	"net/netip"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/kumo-dev/kumo/internal/model"
)

// ---- AWS::ElasticLoadBalancingV2::LoadBalancer ----

var elbNameRe = regexp.MustCompile(`^[A-Za-z0-9]([A-Za-z0-9-]{0,30}[A-Za-z0-9])?$`)

// elbName implements the load balancer / target group name rule (alb.md §6.1):
// at most 32 alphanumerics and hyphens, no leading or trailing hyphen; a load
// balancer name cannot start with "internal-".
func elbName(s string, lb bool) error {
	if !elbNameRe.MatchString(s) {
		return fmt.Errorf("%q is not a valid name: at most 32 letters, digits and hyphens, not starting or ending with a hyphen", s)
	}
	if lb && strings.HasPrefix(strings.ToLower(s), "internal-") {
		return fmt.Errorf("%q cannot start with \"internal-\"", s)
	}
	return nil
}

var lbDNSRe = regexp.MustCompile(`^(internal-)?(.+)-([0-9]{1,12})\.([a-z0-9-]+)\.elb\.amazonaws\.com$`)

// lbDNSName implements the ALB DNS name format (alb.md §3.4):
// [internal-]<name>-<digits>.<region>.elb.amazonaws.com.
func lbDNSName(dns, name, region string, internal bool) error {
	m := lbDNSRe.FindStringSubmatch(dns)
	if m == nil {
		return fmt.Errorf("%q is not an ALB DNS name: it must be <name>-<digits>.<region>.elb.amazonaws.com (internal-<name>-... for an internal scheme)", dns)
	}
	if !strings.EqualFold(m[2], name) {
		return fmt.Errorf("%q does not start with the load balancer name %q: it must be %s-<digits>.%s.elb.amazonaws.com", dns, name, name, region)
	}
	if m[4] != region {
		return fmt.Errorf("%q is in region %s, but the stack is in %s", dns, m[4], region)
	}
	if internal != (m[1] != "") {
		if internal {
			return fmt.Errorf("%q lacks the internal- prefix that an internal load balancer's name has", dns)
		}
		return fmt.Errorf("%q has the internal- prefix, but the Scheme is internet-facing", dns)
	}
	return nil
}

// lbAttribute is one known LoadBalancerAttributes key with its default and
// value check (alb.md §6.9).
type lbAttribute struct {
	def   string
	check func(string) error
}

func boolAttr(v string) error {
	if v != "true" && v != "false" {
		return fmt.Errorf("must be \"true\" or \"false\"")
	}
	return nil
}

func rangeAttr(lo, hi int) func(string) error {
	return func(v string) error {
		n, err := strconv.Atoi(v)
		if err != nil || n < lo || n > hi {
			return fmt.Errorf("must be an integer from %d to %d", lo, hi)
		}
		return nil
	}
}

func enumAttr(vals ...string) func(string) error {
	return func(v string) error {
		if !contains(vals, v) {
			return fmt.Errorf("must be one of %s", strings.Join(vals, ", "))
		}
		return nil
	}
}

func anyAttr(string) error { return nil }

// loadBalancerAttributes implements alb.md §6.9: the ALB attribute keys,
// their defaults and values.
func loadBalancerAttributes() map[string]lbAttribute {
	return map[string]lbAttribute{
		"access_logs.s3.enabled":                                   {"false", boolAttr},
		"access_logs.s3.bucket":                                    {"", anyAttr},
		"access_logs.s3.prefix":                                    {"", anyAttr},
		"connection_logs.s3.enabled":                               {"false", boolAttr},
		"connection_logs.s3.bucket":                                {"", anyAttr},
		"connection_logs.s3.prefix":                                {"", anyAttr},
		"health_check_logs.s3.enabled":                             {"false", boolAttr},
		"health_check_logs.s3.bucket":                              {"", anyAttr},
		"health_check_logs.s3.prefix":                              {"", anyAttr},
		"deletion_protection.enabled":                              {"false", boolAttr},
		"idle_timeout.timeout_seconds":                             {"60", rangeAttr(1, 4000)},
		"client_keep_alive.seconds":                                {"3600", rangeAttr(60, 604800)},
		"ipv6.deny_all_igw_traffic":                                {"", boolAttr},
		"routing.http.desync_mitigation_mode":                      {"defensive", enumAttr("monitor", "defensive", "strictest")},
		"routing.http.drop_invalid_header_fields.enabled":          {"false", boolAttr},
		"routing.http.preserve_host_header.enabled":                {"false", boolAttr},
		"routing.http.x_amzn_tls_version_and_cipher_suite.enabled": {"false", boolAttr},
		"routing.http.xff_client_port.enabled":                     {"false", boolAttr},
		"routing.http.xff_header_processing.mode":                  {"append", enumAttr("append", "preserve", "remove")},
		"routing.http2.enabled":                                    {"true", boolAttr},
		"waf.fail_open.enabled":                                    {"false", boolAttr},
		"zonal_shift.config.enabled":                               {"false", boolAttr},
		"load_balancing.cross_zone.enabled":                        {"true", enumAttr("true")},
	}
}

// attributes reads a Key/Value attribute list against known keys, filling
// the defaults of the keys not given.
func (b *builder) attributes(o obj, key string, known map[string]lbAttribute) map[string]string {
	out := map[string]string{}
	for k, a := range known {
		if a.def != "" {
			out[k] = a.def
		}
	}
	items, _ := o.list(key)
	names := make([]string, 0, len(known))
	for k := range known {
		names = append(names, k)
	}
	sort.Strings(names)
	for _, it := range items {
		it.keys([]string{"Key", "Value"})
		k, ok1 := it.reqStr("Key", "an attribute name")
		v, ok2 := it.reqStr("Value", "the attribute value (a string)")
		if !ok1 || !ok2 {
			continue
		}
		a, ok := known[k]
		if !ok {
			it.errf("Key", "unknown attribute %q%s; known attributes are %s", k, suggest(k, names), strings.Join(names, ", "))
			continue
		}
		if err := a.check(v); err != nil {
			it.errf("Value", "%s: %q %v", k, v, err)
			continue
		}
		out[k] = v
	}
	return out
}

func (b *builder) buildLoadBalancer(r *resource, o, meta obj, st *model.Stack) {
	lb := &model.LoadBalancer{LogicalID: r.id, ARN: r.ref}
	lb.Name = scalarText(r.attrs["LoadBalancerName"])
	full := scalarText(r.attrs["LoadBalancerFullName"])
	lb.FullName = full
	lb.ID = full[strings.LastIndexByte(full, '/')+1:]
	lb.DNSName = scalarText(r.attrs["DNSName"])
	if o.has("Name") {
		if err := elbName(lb.Name, true); err != nil {
			o.errf("Name", "%v", err)
		}
	}
	if t, ok := o.str("Type", "application"); ok && t != "application" {
		if t == "network" || t == "gateway" {
			o.errf("Type", "%q load balancers are not supported: kumo serves Application Load Balancers (Type: application)", t)
		} else {
			o.errf("Type", "%q is not one of application, network, gateway", t)
		}
	}
	lb.Scheme, _ = o.enum("Scheme", "internet-facing", false, "internet-facing", "internal")
	o.enum("IpAddressType", "ipv4", false, "ipv4", "dualstack", "dualstack-without-public-ipv4")
	o.strList("Subnets")
	o.strList("SecurityGroups")
	lb.Attributes = b.attributes(o, "LoadBalancerAttributes", loadBalancerAttributes())
	lb.AccessLogs = lb.Attributes["access_logs.s3.enabled"] == "true"
	lb.Logs, _ = meta.enum("Logs", "all", false, "all", "attributes")
	if meta.has("DNSName") {
		if err := lbDNSName(lb.DNSName, lb.Name, b.region, lb.Scheme == "internal"); err != nil {
			meta.errf("DNSName", "%v", err)
		}
	}
	for _, other := range st.LoadBalancers {
		if other.Name == lb.Name {
			o.errf("Name", "load balancer name %q is already used by %s; names are unique per region", lb.Name, other.LogicalID)
		}
		if strings.EqualFold(other.DNSName, lb.DNSName) {
			meta.errf("DNSName", "%s is already the DNS name of %s", lb.DNSName, other.LogicalID)
		}
	}
	r.obj = lb
	st.LoadBalancers = append(st.LoadBalancers, lb)
}

// ---- AWS::ElasticLoadBalancingV2::TargetGroup ----

// DefaultHealthCheckTimeout is the ALB health-check timeout when
// HealthCheckTimeoutSeconds is absent. UNCONFIRMED: the 2023 user guide and
// CLI outputs say 5 s for instance/ip targets; newer API text says 6 s
// (alb.md §6.2, §8 item 12).
const DefaultHealthCheckTimeout = 5 * time.Second

// targetGroupAttributes implements alb.md §6.4–6.8: target group attribute
// keys, defaults and values.
func targetGroupAttributes() map[string]lbAttribute {
	return map[string]lbAttribute{
		"deregistration_delay.timeout_seconds":                                           {"300", rangeAttr(0, 3600)},
		"stickiness.enabled":                                                             {"false", boolAttr},
		"stickiness.type":                                                                {"lb_cookie", enumAttr("lb_cookie", "app_cookie")},
		"stickiness.lb_cookie.duration_seconds":                                          {"86400", rangeAttr(1, 604800)},
		"stickiness.app_cookie.cookie_name":                                              {"", appCookieName},
		"stickiness.app_cookie.duration_seconds":                                         {"86400", rangeAttr(1, 604800)},
		"slow_start.duration_seconds":                                                    {"0", slowStart},
		"load_balancing.algorithm.type":                                                  {"round_robin", enumAttr("round_robin", "least_outstanding_requests", "weighted_random")},
		"load_balancing.algorithm.anomaly_mitigation":                                    {"off", anomalyMitigation},
		"load_balancing.cross_zone.enabled":                                              {"use_load_balancer_configuration", enumAttr("true", "false", "use_load_balancer_configuration")},
		"target_group_health.dns_failover.minimum_healthy_targets.count":                 {"", anyAttr},
		"target_group_health.dns_failover.minimum_healthy_targets.percentage":            {"", anyAttr},
		"target_group_health.unhealthy_state_routing.minimum_healthy_targets.count":      {"1", minHealthyCount},
		"target_group_health.unhealthy_state_routing.minimum_healthy_targets.percentage": {"off", minHealthyPercentage},
		"lambda.multi_value_headers.enabled":                                             {"", boolAttr},
	}
}

func appCookieName(v string) error {
	for _, p := range []string{"AWSALB", "AWSALBAPP", "AWSALBTG"} {
		if strings.HasPrefix(v, p) {
			return fmt.Errorf("must not start with AWSALB, AWSALBAPP or AWSALBTG")
		}
	}
	if v == "" {
		return fmt.Errorf("must not be empty")
	}
	return nil
}

// slowStart implements alb.md §6.5: 0 (off) or 30-900 seconds.
func slowStart(v string) error {
	n, err := strconv.Atoi(v)
	if err != nil || (n != 0 && (n < 30 || n > 900)) {
		return fmt.Errorf("must be 0 (off) or 30-900")
	}
	return nil
}

var matcherPart = regexp.MustCompile(`^([0-9]{3})(-([0-9]{3}))?$`)

// healthCheckMatcher implements alb.md §6.2 Matcher.HttpCode: a code, a
// comma-separated list or a range, each within 200-499.
func healthCheckMatcher(s string) error {
	if s == "" {
		return fmt.Errorf("must not be empty")
	}
	parts := strings.Split(s, ",")
	if strings.Contains(s, "-") && len(parts) > 1 {
		return fmt.Errorf("%q mixes a list and a range: use a list (200,202) or one range (200-299)", s)
	}
	for _, p := range parts {
		m := matcherPart.FindStringSubmatch(strings.TrimSpace(p))
		if m == nil {
			return fmt.Errorf("%q is not an HTTP code, list (200,202) or range (200-299)", s)
		}
		lo, _ := strconv.Atoi(m[1])
		hi := lo
		if m[3] != "" {
			hi, _ = strconv.Atoi(m[3])
		}
		if lo < 200 || hi > 499 || lo > hi {
			return fmt.Errorf("%q: codes must be within 200-499 (a range low to high)", s)
		}
	}
	return nil
}

// targetIP implements alb.md §6.1 for ip targets: private ranges
// (10/8, 172.16/12, 192.168/16, 100.64/10); kumo also accepts loopback.
func targetIP(ip netip.Addr) bool {
	if ip.IsLoopback() || ip.IsPrivate() {
		return true
	}
	cgnat := netip.MustParsePrefix("100.64.0.0/10")
	return cgnat.Contains(ip)
}

func (b *builder) buildTargetGroup(r *resource, o, meta obj, st *model.Stack) {
	tg := &model.TargetGroup{LogicalID: r.id, ARN: r.ref}
	tg.Name = scalarText(r.attrs["TargetGroupName"])
	tg.FullName = scalarText(r.attrs["TargetGroupFullName"])
	tg.ID = tg.FullName[strings.LastIndexByte(tg.FullName, '/')+1:]
	if o.has("Name") {
		if err := elbName(tg.Name, false); err != nil {
			o.errf("Name", "%v", err)
		}
	}
	tt, _ := o.str("TargetType", "instance")
	switch tt {
	case "instance", "ip":
	case "lambda", "alb":
		o.errf("TargetType", "%q targets are not supported by kumo: use instance or ip", tt)
	default:
		o.errf("TargetType", "%q is not one of instance, ip, lambda, alb", tt)
	}
	tg.TargetType = tt
	tg.Protocol, _ = o.enum("Protocol", "", true, "HTTP", "HTTPS")
	port, _ := o.reqInt("Port", 1, 65535)
	tg.Port = int(port)
	tg.ProtocolVersion, _ = o.enum("ProtocolVersion", "HTTP1", false, "HTTP1", "HTTP2", "GRPC")
	o.enum("IpAddressType", "ipv4", false, "ipv4", "ipv6")
	hc := model.HealthCheck{}
	if en, ok := o.bool("HealthCheckEnabled", true); ok {
		if !en {
			o.errf("HealthCheckEnabled", "health checks cannot be disabled for %s targets (alb.md §6.2); remove HealthCheckEnabled: false", tt)
		}
		hc.Enabled = true
	}
	hc.Protocol, _ = o.enum("HealthCheckProtocol", "HTTP", false, "HTTP", "HTTPS")
	hc.Port = "traffic-port"
	if v := o.n.get("HealthCheckPort"); v != nil {
		if s := scalarText(v); s != "traffic-port" {
			if n, ok := o.intOf(v, o.p("HealthCheckPort"), 1, 65535); ok {
				hc.Port = strconv.FormatInt(n, 10)
			}
		}
	}
	defPath := "/"
	if tg.ProtocolVersion == "GRPC" {
		defPath = "/AWS.ALB/healthcheck" // alb.md §6.2
	}
	hc.Path, _ = o.str("HealthCheckPath", defPath)
	if !strings.HasPrefix(hc.Path, "/") || len(hc.Path) > 1024 {
		o.errf("HealthCheckPath", "%q must start with / and be at most 1024 characters", hc.Path)
	}
	iv, ok1 := o.int("HealthCheckIntervalSeconds", 30, 5, 300)
	to, ok2 := o.int("HealthCheckTimeoutSeconds", int64(DefaultHealthCheckTimeout/time.Second), 2, 120)
	hc.Interval = time.Duration(iv) * time.Second
	hc.Timeout = time.Duration(to) * time.Second
	if ok1 && ok2 && to >= iv {
		o.errf("HealthCheckTimeoutSeconds", "the health check timeout (%d s) must be smaller than the interval (%d s)", to, iv)
	}
	ht, _ := o.int("HealthyThresholdCount", 5, 2, 10)
	ut, _ := o.int("UnhealthyThresholdCount", 2, 2, 10)
	hc.HealthyThreshold, hc.UnhealthyThreshold = int(ht), int(ut)
	hc.Matcher = "200"
	if tg.ProtocolVersion == "GRPC" {
		hc.GrpcMatcher = "12" // alb.md §6.2
	}
	if m, ok := o.child("Matcher"); ok {
		m.keys([]string{"HttpCode", "GrpcCode"})
		if m.has("GrpcCode") && tg.ProtocolVersion != "GRPC" {
			m.errf("GrpcCode", "GrpcCode applies to GRPC target groups only; use HttpCode")
		} else if m.has("HttpCode") && tg.ProtocolVersion == "GRPC" {
			m.errf("HttpCode", "a GRPC target group matches GrpcCode; use GrpcCode")
		} else if s, ok := m.str("GrpcCode", "12"); ok && m.has("GrpcCode") {
			if err := grpcCodeMatcher(s); err != nil {
				m.errf("GrpcCode", "%v", err)
			} else {
				hc.GrpcMatcher = s
			}
		}
		if s, ok := m.str("HttpCode", "200"); ok && tg.ProtocolVersion != "GRPC" {
			if err := healthCheckMatcher(s); err != nil {
				m.errf("HttpCode", "%v", err)
			} else {
				hc.Matcher = s
			}
		}
	}
	tg.HealthCheck = hc
	tg.Attributes = b.attributes(o, "TargetGroupAttributes", targetGroupAttributes())
	targetGroupAttributeRules(o, tg.Attributes)
	b.targets(r, tg, o, meta, st)
	for _, other := range st.TargetGroups {
		if other.Name == tg.Name {
			o.errf("Name", "target group name %q is already used by %s; names are unique per region", tg.Name, other.LogicalID)
		}
	}
	r.obj = tg
	st.TargetGroups = append(st.TargetGroups, tg)
}

// targets reads Targets and the Metadata.Kumo.Targets mapping.
//
// Metadata.Kumo.Targets maps a modeled ip target address to the local
// address kumo dials for it, e.g. "10.0.4.254:80": "127.0.0.1:8081". It is
// required for every ip target outside 127.0.0.0/8 (and ::1); the local
// addresses must be loopback, so kumo never dials a private network on its
// own.
func (b *builder) targets(r *resource, tg *model.TargetGroup, o, meta obj, st *model.Stack) {
	mapping := map[string]string{}
	used := map[string]bool{}
	if mm, ok := meta.child("Targets"); ok {
		for i, k := range mm.n.keys {
			v := mm.n.vals[i]
			p := mm.path + "[" + strconv.Quote(k) + "]"
			mapping[k] = "" // present: a bad value is reported once, here
			s, ok := asString(b.errs, v, p)
			if !ok {
				continue
			}
			if err := hostPort(s, true); err != nil {
				b.errs.add(v.line, p, "%v", err)
				continue
			}
			mapping[k] = s
		}
	}
	items, _ := o.list("Targets")
	seen := map[string]bool{}
	for _, it := range items {
		it.keys([]string{"AvailabilityZone", "Id", "Port", "QuicServerId"})
		id, ok := it.reqStr("Id", "an instance ID (!Ref of an AWS::EC2::Instance) or an IP address")
		if !ok {
			continue
		}
		port, ok := it.int("Port", int64(tg.Port), 1, 65535)
		if !ok {
			continue
		}
		t := &model.Target{ID: id}
		switch tg.TargetType {
		case "instance":
			var in *model.Instance
			for _, x := range st.Instances {
				if x.ID == id {
					in = x
				}
			}
			if in == nil {
				it.errf("Id", "%q is not an instance of this stack; instance targets must be !Ref of an AWS::EC2::Instance in the template", id)
				continue
			}
			t.Instance = in
			t.Addr = joinHostPort(in.PrivateIP, port)
		case "ip":
			ip, err := netip.ParseAddr(id)
			if err != nil {
				it.errf("Id", "%q is not an IP address; ip targets are registered by address", id)
				continue
			}
			if !targetIP(ip) {
				it.errf("Id", "%s is not a private address: ip targets must be in 10.0.0.0/8, 172.16.0.0/12, 192.168.0.0/16 or 100.64.0.0/10 (kumo also accepts loopback)", id)
				continue
			}
			t.Addr = joinHostPort(ip.String(), port)
			if !ip.IsLoopback() {
				local, ok := mapping[t.Addr]
				if !ok {
					it.errf("Id", "ip target %s is not a loopback address, so kumo needs to know which local server stands in for it: add Metadata.Kumo.Targets {%q: \"127.0.0.1:<port>\"} to %s", t.Addr, t.Addr, r.id)
					continue
				}
				used[t.Addr] = true
				t.Local = local
			}
		default:
			continue
		}
		key := t.ID + "|" + strconv.FormatInt(port, 10)
		if seen[key] {
			it.errf("Id", "target %s port %d is registered twice", id, port)
			continue
		}
		seen[key] = true
		tg.Targets = append(tg.Targets, t)
	}
	if mm, ok := meta.child("Targets"); ok {
		for i, k := range mm.n.keys {
			if _, good := mapping[k]; good && !used[k] {
				b.errs.add(mm.n.klin[i], mm.path+"["+strconv.Quote(k)+"]", "no non-loopback ip target of %s has the address %s; keys are the modeled <ip>:<port> of a registered target", r.id, k)
			}
		}
	}
}

func joinHostPort(host string, port int64) string {
	if strings.Contains(host, ":") {
		return "[" + host + "]:" + strconv.FormatInt(port, 10)
	}
	return host + ":" + strconv.FormatInt(port, 10)
}
