package stack

import (
	"net/netip"
	"strings"

	"github.com/kumo-dev/kumo/internal/model"
)

func (b *builder) buildRecordSet(r *resource, o, meta obj, st *model.Stack) {
	if rec := b.recordSet(r.id, o, "", ""); rec != nil {
		st.Records = append(st.Records, rec)
		r.obj = rec
	}
}

func (b *builder) buildRecordSetGroup(r *resource, o, meta obj, st *model.Stack) {
	zoneName, _ := o.str("HostedZoneName", "")
	zoneID, _ := o.str("HostedZoneId", "")
	if zoneName != "" && zoneID != "" {
		o.errf("HostedZoneId", "give HostedZoneName or HostedZoneId, not both")
	}
	sets, _ := o.list("RecordSets")
	if !o.has("RecordSets") {
		o.missing("RecordSets", "a list of record sets")
	}
	for _, s := range sets {
		if rec := b.recordSet(r.id, s, zoneName, zoneID); rec != nil {
			st.Records = append(st.Records, rec)
		}
	}
}

// zoneOfID finds the name of an AWS::Route53::HostedZone of the template from
// the stand-in ID a Ref to it yields.
func (b *builder) zoneOfID(id string) string {
	for _, r := range b.order {
		if r.typ == "AWS::Route53::HostedZone" && fakeID(r.typ, b.stackName, r.id) == id {
			if n := r.raw.get("Properties").get("Name"); n != nil && n.kind == kString {
				return strings.ToLower(strings.TrimSuffix(n.str, "."))
			}
		}
	}
	return ""
}

// recordSet reads one record set (alone or inside a RecordSetGroup).
func (b *builder) recordSet(logicalID string, o obj, groupZone, groupZoneID string) *model.Record {
	o.keys(recordSetProps)
	rec := &model.Record{LogicalID: logicalID}
	name, ok := o.reqStr("Name", "the record's fully qualified name, like alb.example.com")
	if ok {
		rec.Name = strings.ToLower(strings.TrimSuffix(name, "."))
		if err := certificateDomain(rec.Name); err != nil {
			o.errf("Name", "%v", err)
		}
	}
	rec.Type, _ = o.enum("Type", "", true, "A", "AAAA", "CNAME")
	zn, _ := o.str("HostedZoneName", "")
	zid, _ := o.str("HostedZoneId", "")
	if zn != "" && zid != "" {
		o.errf("HostedZoneId", "give HostedZoneName or HostedZoneId, not both")
	}
	if zn == "" && zid == "" {
		zn, zid = groupZone, groupZoneID
	}
	if zn == "" && zid == "" {
		o.missing("HostedZoneName", "HostedZoneName (like example.com.) or HostedZoneId")
	}
	if zn != "" {
		rec.Zone = strings.ToLower(strings.TrimSuffix(zn, "."))
	} else if zid != "" {
		rec.Zone = b.zoneOfID(zid)
	}
	if rec.Zone != "" && rec.Name != "" && rec.Name != rec.Zone && !strings.HasSuffix(rec.Name, "."+rec.Zone) {
		o.errf("Name", "%s is not inside the hosted zone %s", rec.Name, rec.Zone)
	}
	for _, k := range []string{"SetIdentifier", "Weight", "Failover", "GeoLocation", "GeoProximityLocation", "Region", "MultiValueAnswer", "CidrRoutingConfig"} {
		if o.has(k) {
			o.errf(k, "routing policies are not supported by kumo: it serves simple records only")
		}
	}
	at, hasAlias := o.child("AliasTarget")
	if hasAlias {
		at.keys([]string{"DNSName", "EvaluateTargetHealth", "HostedZoneId"})
		if o.has("TTL") {
			o.errf("TTL", "an alias record takes no TTL (the target's TTL is used)")
		}
		if o.has("ResourceRecords") {
			o.errf("ResourceRecords", "an alias record takes no ResourceRecords")
		}
		if rec.Type == "CNAME" {
			o.errf("Type", "kumo supports alias records of type A or AAAA only")
		}
		at.bool("EvaluateTargetHealth", false)
		dns, ok1 := at.reqStr("DNSName", "the DNS name of a load balancer or distribution of this stack")
		zone, ok2 := at.reqStr("HostedZoneId", "the target's hosted zone ID (Z2FDTNDATAQYW2 for CloudFront, the region's ELB zone for a load balancer)")
		if ok1 {
			b.pendingAliases = append(b.pendingAliases, pendingAlias{rec: rec, at: at, dns: dns, zone: zone, zoneOK: ok2})
		}
		return rec
	}
	ttl, _ := o.int("TTL", 0, 0, 2147483647)
	if !o.has("TTL") {
		o.missing("TTL", "the TTL in seconds (required without AliasTarget)")
	}
	rec.TTL = ttl
	vals, _ := o.strList("ResourceRecords")
	if !o.has("ResourceRecords") {
		o.missing("ResourceRecords", "the record values, or an AliasTarget")
	}
	for i, v := range vals {
		p := idx(o.p("ResourceRecords"), i)
		switch rec.Type {
		case "A", "AAAA":
			ip, err := netip.ParseAddr(v)
			if err != nil || (rec.Type == "A") != ip.Is4() {
				fam := "IPv4"
				if rec.Type == "AAAA" {
					fam = "IPv6"
				}
				b.errs.add(o.line("ResourceRecords"), p, "%q is not an %s address, which a type %s record holds", v, fam, rec.Type)
				continue
			}
			v = ip.String()
		case "CNAME":
			v = strings.ToLower(strings.TrimSuffix(v, "."))
			if err := certificateDomain(v); err != nil {
				b.errs.add(o.line("ResourceRecords"), p, "%v", err)
				continue
			}
		}
		rec.Values = append(rec.Values, v)
	}
	if rec.Type == "CNAME" && len(vals) > 1 {
		o.errf("ResourceRecords", "a CNAME record holds exactly one name, got %d", len(vals))
	}
	if rec.Type == "CNAME" && rec.Zone != "" && rec.Name == rec.Zone {
		o.errf("Name", "a CNAME record cannot be at the zone apex %s; use an alias A record", rec.Zone)
	}
	return rec
}

type pendingAlias struct {
	rec    *model.Record
	at     obj
	dns    string
	zone   string
	zoneOK bool
}

// checkRecords resolves alias targets against the stack's load balancers and
// distributions, and rejects clashing records (same name and type, or a
// CNAME next to another record).
func (b *builder) checkRecords(st *model.Stack) {
	for _, pa := range b.pendingAliases {
		name := strings.ToLower(strings.TrimSuffix(pa.dns, "."))
		name = strings.TrimPrefix(name, "dualstack.")
		found := false
		for _, lb := range st.LoadBalancers {
			if strings.EqualFold(lb.DNSName, name) {
				found = true
				pa.rec.AliasTarget = lb.DNSName
				if want := elbHostedZone(b.region); pa.zoneOK && want != UnknownRegionHostedZoneID && pa.zone != want {
					pa.at.errf("HostedZoneId", "%q is not the hosted zone of load balancers in %s; use %s (!GetAtt %s.CanonicalHostedZoneID)", pa.zone, b.region, want, lb.LogicalID)
				}
			}
		}
		for _, d := range st.Distributions {
			if strings.EqualFold(d.DomainName, name) {
				found = true
				pa.rec.AliasTarget = d.DomainName
				if pa.zoneOK && pa.zone != CloudFrontHostedZoneID {
					pa.at.errf("HostedZoneId", "%q is not the CloudFront hosted zone; alias records to a distribution use %s", pa.zone, CloudFrontHostedZoneID)
				}
			}
		}
		if !found {
			var cands []string
			for _, lb := range st.LoadBalancers {
				cands = append(cands, lb.DNSName)
			}
			for _, d := range st.Distributions {
				cands = append(cands, d.DomainName)
			}
			msg := "none are defined"
			if len(cands) > 0 {
				msg = strings.Join(cands, ", ")
			}
			pa.at.errf("DNSName", "%q is not the DNS name of a load balancer or distribution of this stack (kumo cannot serve other alias targets); the stack's are: %s", pa.dns, msg)
		}
	}
	type key struct{ name, typ string }
	seen := map[key]*model.Record{}
	byName := map[string][]*model.Record{}
	for _, r := range st.Records {
		if r.Name == "" || r.Type == "" {
			continue
		}
		k := key{r.Name, r.Type}
		res := b.res[r.LogicalID]
		if prev, ok := seen[k]; ok {
			b.errs.add(res.line, sub("Resources", r.LogicalID), "record %s %s is also defined by %s; a name and type can be defined once", r.Name, r.Type, prev.LogicalID)
			continue
		}
		seen[k] = r
		for _, o := range byName[r.Name] {
			if o.Type == "CNAME" || r.Type == "CNAME" {
				b.errs.add(res.line, sub("Resources", r.LogicalID), "a CNAME record for %s cannot coexist with the %s record of %s", r.Name, o.Type, o.LogicalID)
			}
		}
		byName[r.Name] = append(byName[r.Name], r)
	}
}
