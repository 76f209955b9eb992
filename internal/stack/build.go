package stack

import (
	"fmt"
	"net"
	"net/netip"
	"os"
	"path/filepath"
	"regexp"
	"sort"
	"strconv"
	"strings"

	"github.com/kumo-dev/kumo/internal/model"
)

// buildModel turns the resolved resources into the model, type by type, so
// that references (by ARN, ID or DNS name) always find their target.
func (b *builder) buildModel(st *model.Stack) {
	for _, r := range b.order {
		if !r.supported {
			st.Ignored = append(st.Ignored, model.IgnoredResource{LogicalID: r.id, Type: r.typ})
			continue
		}
		if r.inCycle || r.tainted || r.rprops == nil {
			continue
		}
		p := sub("Resources", r.id)
		spec := resourceSpecs[r.typ]
		checkKeys(b.errs, r.rprops, sub(p, "Properties"), spec.props, "properties of "+r.typ)
		b.checkKumoKeys(r, spec.kumo)
	}
	if len(st.Ignored) > 0 {
		names := make([]string, len(st.Ignored))
		for i, ig := range st.Ignored {
			names[i] = ig.LogicalID + " (" + ig.Type + ")"
		}
		b.log.Debug("resources kumo does not serve", "resources", strings.Join(names, ", "))
	}
	steps := []struct {
		typ string
		fn  func(*resource, obj, obj, *model.Stack)
	}{
		{typeCertificate, b.buildCertificate},
		{typeInstance, b.buildInstance},
		{typeLoadBalancer, b.buildLoadBalancer},
		{typeTargetGroup, b.buildTargetGroup},
		{typeListener, b.buildListener},
		{typeListenerCertificate, b.buildListenerCertificate},
		{typeListenerRule, b.buildRule},
		{typeCachePolicy, b.buildCachePolicy},
		{typeOriginRequestPolicy, b.buildOriginRequestPolicy},
		{typeResponseHeadersPolicy, b.buildResponseHeadersPolicy},
		{typeDistribution, b.buildDistribution},
		{typeRecordSet, b.buildRecordSet},
		{typeRecordSetGroup, b.buildRecordSetGroup},
	}
	for _, s := range steps {
		for _, r := range b.order {
			if r.typ != s.typ || r.inCycle || r.tainted || r.rprops == nil {
				continue
			}
			p := sub("Resources", r.id)
			props := b.obj(r.rprops, sub(p, "Properties"))
			meta := b.obj(r.rmeta, sub(p, "Metadata.Kumo"))
			s.fn(r, props, meta, st)
		}
	}
	b.finishLoadBalancers(st)
	b.checkListenAddresses(st)
	b.checkAliases(st)
	b.checkRecords(st)
	sort.SliceStable(b.unemulated, func(i, j int) bool { return b.unemulated[i].Line < b.unemulated[j].Line })
	st.Unemulated = b.unemulated
}

func (b *builder) checkKumoKeys(r *resource, allowed []string) {
	m := r.rmeta
	if m == nil {
		return
	}
	p := sub(sub("Resources", r.id), "Metadata.Kumo")
	for i, k := range m.keys {
		if contains(allowed, k) {
			continue
		}
		if len(allowed) == 0 {
			b.errs.add(m.klin[i], sub(p, k), "unknown Metadata.Kumo key; %s takes no Metadata.Kumo keys", r.typ)
			continue
		}
		b.errs.add(m.klin[i], sub(p, k), "unknown Metadata.Kumo key%s; the keys for %s are %s", suggest(k, allowed), r.typ, strings.Join(allowed, ", "))
	}
}

// hostPort validates a local address host:port (host an IP literal or
// localhost). loopback additionally requires 127.0.0.0/8, ::1 or localhost.
func hostPort(s string, loopback bool) error {
	host, port, err := net.SplitHostPort(s)
	if err != nil {
		return fmt.Errorf("%q is not host:port (like 127.0.0.1:8080)", s)
	}
	pn, err := strconv.Atoi(port)
	if err != nil || pn < 1 || pn > 65535 {
		return fmt.Errorf("%q: the port must be 1-65535", s)
	}
	if host == "localhost" {
		return nil
	}
	ip, err := netip.ParseAddr(host)
	if err != nil {
		return fmt.Errorf("%q: the host must be an IP address or localhost", s)
	}
	if loopback && !ip.IsLoopback() {
		return fmt.Errorf("%q is not a loopback address (127.0.0.0/8, ::1 or localhost); kumo never dials out to other networks on its own", s)
	}
	return nil
}

// ---- AWS::CertificateManager::Certificate ----

var certDomainRe = regexp.MustCompile(`^(\*\.)?([a-z0-9_]([a-z0-9_-]{0,61}[a-z0-9])?\.)+[a-z][a-z0-9-]*[a-z0-9]$`)

// certificateDomain implements the ACM domain-name rule: a fully qualified
// name of at most 253 characters, labels of at most 63, a wildcard only as the
// whole left-most label.
func certificateDomain(s string) error {
	if len(s) > 253 {
		return fmt.Errorf("%q is longer than 253 characters", s)
	}
	if !certDomainRe.MatchString(strings.ToLower(s)) {
		return fmt.Errorf("%q is not a fully qualified domain name (a wildcard is allowed only as the whole left-most label, *.example.com)", s)
	}
	return nil
}

func (b *builder) buildCertificate(r *resource, o, meta obj, st *model.Stack) {
	c := &model.Certificate{LogicalID: r.id, ARN: r.ref}
	if d, ok := o.reqStr("DomainName", "the domain name to issue the certificate for"); ok {
		if err := certificateDomain(d); err != nil {
			o.errf("DomainName", "%v", err)
		}
		c.DomainName = strings.ToLower(d)
	}
	if sans, ok := o.strList("SubjectAlternativeNames"); ok {
		for i, s := range sans {
			if err := certificateDomain(s); err != nil {
				b.errs.add(o.line("SubjectAlternativeNames"), idx(o.p("SubjectAlternativeNames"), i), "%v", err)
			}
			c.SubjectAlternativeNames = append(c.SubjectAlternativeNames, strings.ToLower(s))
		}
	}
	o.enum("ValidationMethod", "", false, "DNS", "EMAIL")
	o.enum("KeyAlgorithm", "", false, "RSA_1024", "RSA_2048", "RSA_3072", "RSA_4096", "EC_prime256v1", "EC_secp384r1", "EC_secp521r1")
	cf, okc := meta.str("CertificateFile", "")
	kf, okk := meta.str("PrivateKeyFile", "")
	if okc && okk {
		switch {
		case cf != "" && kf == "":
			meta.missing("PrivateKeyFile", "the PEM private key file that goes with CertificateFile")
		case cf == "" && kf != "":
			meta.missing("CertificateFile", "the PEM certificate file that goes with PrivateKeyFile")
		case cf != "":
			c.CertFile = b.existingFile(meta, "CertificateFile", cf)
			c.KeyFile = b.existingFile(meta, "PrivateKeyFile", kf)
		}
	}
	r.obj = c
	st.Certificates = append(st.Certificates, c)
}

// existingFile resolves a Metadata.Kumo file path against the template's
// directory and checks that it is a readable regular file.
func (b *builder) existingFile(meta obj, key, p string) string {
	full := p
	if !filepath.IsAbs(full) {
		full = filepath.Join(b.dir, p)
	}
	fi, err := os.Stat(full)
	if err != nil {
		meta.errf(key, "file %s does not exist or cannot be read (paths are relative to the template's directory)", full)
		return ""
	}
	if !fi.Mode().IsRegular() {
		meta.errf(key, "%s is not a regular file", full)
		return ""
	}
	return full
}

// ---- AWS::EC2::Instance ----

// assignIP gives an instance without PrivateIpAddress a stable, unique
// address in 10.0.0.0/16 (never .0-.3 or .255 of a /24, which AWS reserves).
func (b *builder) assignIP(id string) string {
	if b.usedIPs == nil {
		b.usedIPs = map[string]bool{}
		for _, r := range b.order {
			if r.typ == typeInstance {
				if v := r.props.get("PrivateIpAddress"); v != nil && v.kind == kString {
					b.usedIPs[v.str] = true
				}
			}
		}
	}
	d := digest("instance-ip", b.stackName, id)
	for i := 0; ; i++ {
		x := (int(d[0]) + i) % 256
		y := 4 + (int(d[1])+i*7)%250
		ip := fmt.Sprintf("10.0.%d.%d", x, y)
		if !b.usedIPs[ip] {
			b.usedIPs[ip] = true
			return ip
		}
	}
}

func (b *builder) buildInstance(r *resource, o, meta obj, st *model.Stack) {
	in := &model.Instance{LogicalID: r.id, ID: r.ref, PrivateIP: scalarText(r.attrs["PrivateIp"])}
	if s, ok := o.str("PrivateIpAddress", ""); ok && s != "" {
		ip, err := netip.ParseAddr(s)
		if err != nil || !ip.Is4() {
			o.errf("PrivateIpAddress", "%q is not an IPv4 address", s)
		} else if !ip.IsPrivate() {
			o.errf("PrivateIpAddress", "%q is not a private address (10.0.0.0/8, 172.16.0.0/12 or 192.168.0.0/16)", s)
		}
	}
	if s, ok := meta.str("Listen", ""); ok && s != "" {
		if err := hostPort(s, true); err != nil {
			meta.errf("Listen", "%v", err)
		} else {
			in.Listen = s
		}
	}
	if s, ok := meta.str("Upstream", ""); ok && s != "" {
		if err := hostPort(s, true); err != nil {
			meta.errf("Upstream", "%v", err)
		} else {
			in.Upstream = s
		}
	}
	for _, other := range st.Instances {
		if other.PrivateIP == in.PrivateIP {
			o.errf("PrivateIpAddress", "%s is also the private IP of %s; instances need distinct addresses", in.PrivateIP, other.LogicalID)
		}
	}
	r.obj = in
	st.Instances = append(st.Instances, in)
}

// checkListenAddresses rejects two local sockets on one address.
func (b *builder) checkListenAddresses(st *model.Stack) {
	seen := map[string]string{}
	check := func(addr, owner string, r *resource) {
		if addr == "" {
			return
		}
		if prev, ok := seen[addr]; ok {
			b.errs.add(r.rmeta.keyLine("Listen"), sub(sub("Resources", r.id), "Metadata.Kumo.Listen"), "%s is already the Listen address of %s; each listener and instance needs its own local address", addr, prev)
			return
		}
		seen[addr] = owner
	}
	for _, r := range b.order {
		if r.inCycle || r.obj == nil {
			continue
		}
		switch o := r.obj.(type) {
		case *model.Listener:
			check(o.Listen, r.id, r)
		case *model.Instance:
			check(o.Listen, r.id, r)
		}
	}
}
