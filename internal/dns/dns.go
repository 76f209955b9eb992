// Package dns maps the names of the modeled world to local endpoints: a
// (modeled name, port) pair such as (alb.example.com, 443) becomes the local
// address to dial, such as 127.0.0.1:9443. It follows Route 53 records
// (aliases, CNAMEs, A/AAAA values) of the stack, knows which names belong to
// the modeled world (CloudFront and ELB names and the stack's hosted zones),
// and hands every other name to the system resolver, so real internet
// origins keep working.
package dns

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/netip"
	"strconv"
	"strings"

	"github.com/kumo-dev/kumo/internal/model"
)

// Modeled AWS DNS suffixes (cloudfront.md §1, alb.md §3.4).
const (
	cloudFrontSuffix = "cloudfront.net"
	elbSuffix        = "elb.amazonaws.com"
	dualstackPrefix  = "dualstack."
)

// maxChain is the longest chain of names (aliases and CNAMEs) followed
// before giving up. UNCONFIRMED: Route 53 and recursive resolvers cap CNAME
// chains at roughly 8-16 links; kumo uses 8.
const maxChain = 8

// Endpoints is the local side of the name mapping, built by the runtime.
type Endpoints struct {
	// Hosts maps a lowercase modeled host name to port → local "host:port"
	// (e.g. the ALB DNS name → 443 → 127.0.0.1:9443; a distribution domain →
	// 443 → the edge's HTTPS address, 80 → its HTTP address).
	Hosts map[string]map[int]string
	// Addrs maps a modeled "ip:port" (10.0.4.254:80) to a local "host:port".
	Addrs map[string]string
}

// SystemResolver resolves names outside the modeled world.
// *net.Resolver implements it.
type SystemResolver interface {
	LookupHost(ctx context.Context, host string) ([]string, error)
}

// Options configure a Resolver.
type Options struct {
	// Logger receives debug lines for resolutions; nil means slog.Default().
	Logger *slog.Logger
	// System resolves non-modeled names; nil means net.DefaultResolver.
	System SystemResolver
}

// Answer is the result of a resolution.
type Answer struct {
	// Dial is the local "host:port" to dial.
	Dial string
	// Name is the canonical modeled name reached (after aliases and
	// CNAMEs), or the IP address.
	Name string
	// Chain lists the names followed, starting with the asked host, e.g.
	// ["alb.example.com", "alb-test-1234567890.ap-northeast-1.elb.amazonaws.com"].
	Chain []string
}

// Resolver resolves modeled and real names. It is read-only after New and
// safe for concurrent use.
type Resolver struct {
	hosts    map[string]map[int]string
	addrs    map[netip.AddrPort]string
	records  map[string][]*model.Record
	suffixes []string
	// modeledEndpoints are the names of stack LBs and distributions: they
	// exist even when nothing listens on them.
	modeledEndpoints map[string]bool
	sys              SystemResolver
	log              *slog.Logger
}

// New builds a Resolver for stack with the local endpoints ep.
func New(stack *model.Stack, ep Endpoints, opt Options) *Resolver {
	r := &Resolver{
		hosts:            make(map[string]map[int]string, len(ep.Hosts)),
		addrs:            make(map[netip.AddrPort]string, len(ep.Addrs)),
		records:          map[string][]*model.Record{},
		modeledEndpoints: map[string]bool{},
		sys:              opt.System,
		log:              opt.Logger,
	}
	if r.sys == nil {
		r.sys = net.DefaultResolver
	}
	if r.log == nil {
		r.log = slog.Default()
	}
	for h, ports := range ep.Hosts {
		n := normalize(h)
		m := r.hosts[n]
		if m == nil {
			m = make(map[int]string, len(ports))
			r.hosts[n] = m
		}
		for p, a := range ports {
			m[p] = a
		}
	}
	for k, v := range ep.Addrs {
		ap, err := netip.ParseAddrPort(k)
		if err != nil {
			r.log.Warn("dns: ignoring malformed Endpoints.Addrs key", "key", k, "err", err)
			continue
		}
		r.addrs[netip.AddrPortFrom(ap.Addr().Unmap(), ap.Port())] = v
	}
	r.suffixes = modeledSuffixes(stack)
	if stack != nil {
		for _, rec := range stack.Records {
			if rec == nil {
				continue
			}
			n := normalize(rec.Name)
			r.records[n] = append(r.records[n], rec)
		}
		for _, lb := range stack.LoadBalancers {
			if lb != nil && lb.DNSName != "" {
				r.modeledEndpoints[normalize(lb.DNSName)] = true
			}
		}
		for _, d := range stack.Distributions {
			if d != nil && d.DomainName != "" {
				r.modeledEndpoints[normalize(d.DomainName)] = true
			}
		}
	}
	return r
}

// Resolve maps host (a name or an IP literal) and port to the local address
// to dial. A modeled name without a record yields an error wrapping
// ErrNotFound; a modeled endpoint without a listener on port one wrapping
// ErrNoListener.
func (r *Resolver) Resolve(ctx context.Context, host string, port int) (Answer, error) {
	if port < 1 || port > 65535 {
		return Answer{}, fmt.Errorf("resolve %s: invalid port %d", host, port)
	}
	name := normalize(host)
	if name == "" {
		return Answer{}, fmt.Errorf("resolve: empty host name")
	}
	ans, err := r.resolve(ctx, name, port)
	if err != nil {
		return ans, err
	}
	if r.log.Enabled(ctx, slog.LevelDebug) {
		r.log.DebugContext(ctx, "dns: resolved", "host", name, "port", port, "dial", ans.Dial, "chain", ans.Chain)
	}
	return ans, nil
}

func (r *Resolver) resolve(ctx context.Context, name string, port int) (Answer, error) {
	chain := make([]string, 0, 4)
	asked := name
	for {
		if ip, err := netip.ParseAddr(name); err == nil {
			return Answer{Dial: r.dialIP(ip, port), Name: ip.Unmap().String(), Chain: append(chain, name)}, nil
		}
		for _, seen := range chain {
			if seen == name {
				return Answer{Chain: chain}, fmt.Errorf("lookup %s: alias/CNAME loop %s: %w", asked, strings.Join(append(chain, name), " -> "), ErrLookupFailed)
			}
		}
		if len(chain) == maxChain {
			return Answer{Chain: chain}, fmt.Errorf("lookup %s: more than %d aliases/CNAMEs (%s ...): %w", asked, maxChain, strings.Join(chain, " -> "), ErrLookupFailed)
		}
		chain = append(chain, name)

		if ports, ok := r.hosts[name]; ok {
			addr, ok := ports[port]
			if !ok {
				return Answer{Name: name, Chain: chain}, fmt.Errorf("dial %s: %w", net.JoinHostPort(name, strconv.Itoa(port)), ErrNoListener)
			}
			return Answer{Dial: addr, Name: name, Chain: chain}, nil
		}
		if next, ok := dualstackTarget(name); ok {
			name = next
			continue
		}
		if recs := r.records[name]; len(recs) > 0 {
			next, ip, err := followRecord(name, recs)
			if err != nil {
				return Answer{Chain: chain}, err
			}
			if ip.IsValid() {
				return Answer{Dial: r.dialIP(ip, port), Name: name, Chain: chain}, nil
			}
			name = next
			continue
		}
		if r.modeledEndpoints[name] {
			return Answer{Name: name, Chain: chain}, fmt.Errorf("dial %s: %w", net.JoinHostPort(name, strconv.Itoa(port)), ErrNoListener)
		}
		if hasSuffix(name, r.suffixes) {
			return Answer{Chain: chain}, fmt.Errorf("lookup %s: %w", name, ErrNotFound)
		}
		return r.lookupSystem(ctx, name, port, chain)
	}
}

// dualstackTarget implements alb.md §3.4: Route 53 aliases point at
// "dualstack.<lb DNS name>", which resolves like the LB name itself.
func dualstackTarget(name string) (string, bool) {
	rest, ok := strings.CutPrefix(name, dualstackPrefix)
	if !ok || !hasSuffix(rest, []string{elbSuffix}) {
		return "", false
	}
	return rest, true
}

// followRecord implements Route 53 resolution of one name: a CNAME is
// followed to its value; an A/AAAA alias to its AliasTarget; an A/AAAA
// record with values yields an address. IPv4 (A) is preferred over AAAA, as
// a dual-stack client without IPv6 would; of several values the first is
// used (UNCONFIRMED: Route 53 answers with all values in varying order and
// clients try them in turn; kumo dials one, deterministically).
func followRecord(name string, recs []*model.Record) (next string, ip netip.Addr, err error) {
	var a, aaaa, cname *model.Record
	for _, rec := range recs {
		switch strings.ToUpper(rec.Type) {
		case "A":
			if a == nil {
				a = rec
			}
		case "AAAA":
			if aaaa == nil {
				aaaa = rec
			}
		case "CNAME":
			if cname == nil {
				cname = rec
			}
		}
	}
	if cname != nil {
		target := ""
		if len(cname.Values) > 0 {
			target = normalize(cname.Values[0])
		}
		if target == "" {
			return "", netip.Addr{}, fmt.Errorf("lookup %s: CNAME record %s has no value: %w", name, cname.LogicalID, ErrLookupFailed)
		}
		return target, netip.Addr{}, nil
	}
	for _, rec := range []*model.Record{a, aaaa} {
		if rec == nil {
			continue
		}
		if rec.AliasTarget != "" {
			return normalize(rec.AliasTarget), netip.Addr{}, nil
		}
		for _, v := range rec.Values {
			if ip, err := netip.ParseAddr(strings.TrimSpace(v)); err == nil {
				return "", ip, nil
			}
		}
		return "", netip.Addr{}, fmt.Errorf("lookup %s: %s record %s has no IP address values (%q): %w", name, rec.Type, rec.LogicalID, rec.Values, ErrLookupFailed)
	}
	return "", netip.Addr{}, fmt.Errorf("lookup %s: %w", name, ErrNotFound)
}

// dialIP maps a modeled address to the local address to dial: an explicit
// Endpoints.Addrs mapping wins; a loopback address (127.0.0.0/8, ::1) is
// dialed directly; any other address is dialed as is (a real address).
func (r *Resolver) dialIP(ip netip.Addr, port int) string {
	ip = ip.Unmap()
	ap := netip.AddrPortFrom(ip, uint16(port))
	if local, ok := r.addrs[ap]; ok {
		return local
	}
	return ap.String()
}

// lookupSystem resolves a name outside the modeled world with the system
// resolver. NXDOMAIN wraps ErrNotFound; other failures ErrLookupFailed.
func (r *Resolver) lookupSystem(ctx context.Context, name string, port int, chain []string) (Answer, error) {
	addrs, err := r.sys.LookupHost(ctx, name)
	if err != nil {
		var de *net.DNSError
		if errors.As(err, &de) && de.IsNotFound {
			return Answer{Chain: chain}, fmt.Errorf("lookup %s: %w", name, ErrNotFound)
		}
		return Answer{Chain: chain}, fmt.Errorf("lookup %s: %w: %w", name, ErrLookupFailed, err)
	}
	ip, ok := pickAddr(addrs)
	if !ok {
		return Answer{Chain: chain}, fmt.Errorf("lookup %s: no addresses: %w", name, ErrNotFound)
	}
	return Answer{Dial: r.dialIP(ip, port), Name: name, Chain: chain}, nil
}

// pickAddr chooses the address to dial among a system lookup's answers: the
// first IPv4 address, else the first address.
func pickAddr(addrs []string) (netip.Addr, bool) {
	var first netip.Addr
	for _, s := range addrs {
		ip, err := netip.ParseAddr(s)
		if err != nil {
			continue
		}
		ip = ip.Unmap()
		if ip.Is4() {
			return ip, true
		}
		if !first.IsValid() {
			first = ip
		}
	}
	return first, first.IsValid()
}

// IsModeled reports whether name belongs to the modeled world: a
// CloudFront or ELB name, or a name in one of the stack's Route 53 zones.
// IP addresses are never modeled names.
func IsModeled(name string, stack *model.Stack) bool {
	n := normalize(name)
	if _, err := netip.ParseAddr(n); err == nil || n == "" {
		return false
	}
	return hasSuffix(n, modeledSuffixes(stack))
}

// modeledSuffixes lists the domains whose names kumo answers for: the AWS
// service domains and every hosted zone of the stack (Record.Zone, or the
// record's parent domain when the zone is unknown).
func modeledSuffixes(stack *model.Stack) []string {
	out := []string{cloudFrontSuffix, elbSuffix}
	if stack == nil {
		return out
	}
	seen := map[string]bool{cloudFrontSuffix: true, elbSuffix: true}
	for _, rec := range stack.Records {
		if rec == nil {
			continue
		}
		z := recordZone(rec)
		if z != "" && !seen[z] {
			seen[z] = true
			out = append(out, z)
		}
	}
	return out
}

// recordZone is the hosted zone a record lives in: Record.Zone, or else the
// record's parent domain. A parent that is a bare top-level domain (the
// record is itself a zone apex such as example.com) would claim the whole
// TLD, so the record's own name is used instead.
func recordZone(rec *model.Record) string {
	if z := normalize(rec.Zone); z != "" {
		return z
	}
	n := normalize(rec.Name)
	if _, parent, ok := strings.Cut(n, "."); ok && strings.Contains(parent, ".") {
		return parent
	}
	return n
}

// hasSuffix reports whether name equals one of the domains or lies under it.
func hasSuffix(name string, domains []string) bool {
	for _, d := range domains {
		if name == d || (len(name) > len(d) && name[len(name)-len(d)-1] == '.' && strings.HasSuffix(name, d)) {
			return true
		}
	}
	return false
}

// normalize lowercases a host name and drops a trailing dot, surrounding
// space and IPv6 brackets. DNS names are case-insensitive.
func normalize(host string) string {
	h := strings.TrimSpace(host)
	if len(h) > 1 && h[0] == '[' && h[len(h)-1] == ']' {
		h = h[1 : len(h)-1]
	}
	h = strings.TrimSuffix(h, ".")
	for i := 0; i < len(h); i++ {
		if c := h[i]; c >= 'A' && c <= 'Z' {
			return strings.ToLower(h)
		}
	}
	return h
}
