package stack

import (
	"fmt"
	"strings"
)

// Resource types kumo serves.
const (
	typeDistribution        = "AWS::CloudFront::Distribution"
	typeLoadBalancer        = "AWS::ElasticLoadBalancingV2::LoadBalancer"
	typeListener            = "AWS::ElasticLoadBalancingV2::Listener"
	typeListenerRule        = "AWS::ElasticLoadBalancingV2::ListenerRule"
	typeListenerCertificate = "AWS::ElasticLoadBalancingV2::ListenerCertificate"
	typeTargetGroup         = "AWS::ElasticLoadBalancingV2::TargetGroup"
	typeCertificate         = "AWS::CertificateManager::Certificate"
	typeRecordSet           = "AWS::Route53::RecordSet"
	typeRecordSetGroup      = "AWS::Route53::RecordSetGroup"
	typeInstance            = "AWS::EC2::Instance"
)

// resourceSpec is what kumo knows of a supported type: its property names
// (the CloudFormation schema, including those kumo accepts and ignores), its
// Fn::GetAtt attributes and its Metadata.Kumo keys.
type resourceSpec struct {
	props []string
	attrs []string
	kumo  []string
}

var resourceSpecs = map[string]resourceSpec{
	typeDistribution: {
		props: []string{"DistributionConfig", "Tags"},
		attrs: []string{"DomainName", "Id"},
		kumo:  []string{"DomainName", "LocalDefault"},
	},
	typeLoadBalancer: {
		props: []string{"EnableCapacityReservationProvisionStabilize", "EnablePrefixForIpv6SourceNat", "EnforceSecurityGroupInboundRulesOnPrivateLinkTraffic", "IpAddressType", "Ipv4IpamPoolId", "LoadBalancerAttributes", "MinimumLoadBalancerCapacity", "Name", "Scheme", "SecurityGroups", "SubnetMappings", "Subnets", "Tags", "Type"},
		attrs: []string{"CanonicalHostedZoneID", "DNSName", "LoadBalancerArn", "LoadBalancerFullName", "LoadBalancerName", "SecurityGroups"},
		kumo:  []string{"DNSName", "Logs"},
	},
	typeListener: {
		props: []string{"AlpnPolicy", "Certificates", "DefaultActions", "ListenerAttributes", "LoadBalancerArn", "MutualAuthentication", "Port", "Protocol", "SslPolicy"},
		attrs: []string{"ListenerArn"},
		kumo:  []string{"Listen"},
	},
	typeListenerRule: {
		props: []string{"Actions", "Conditions", "ListenerArn", "Priority", "Transforms"},
		attrs: []string{"IsDefault", "RuleArn"},
	},
	typeListenerCertificate: {
		props: []string{"Certificates", "ListenerArn"},
	},
	typeTargetGroup: {
		props: []string{"HealthCheckEnabled", "HealthCheckIntervalSeconds", "HealthCheckPath", "HealthCheckPort", "HealthCheckProtocol", "HealthCheckTimeoutSeconds", "HealthyThresholdCount", "IpAddressType", "Matcher", "Name", "Port", "Protocol", "ProtocolVersion", "Tags", "TargetControlPort", "TargetGroupAttributes", "TargetType", "Targets", "UnhealthyThresholdCount", "VpcId"},
		attrs: []string{"LoadBalancerArns", "TargetGroupArn", "TargetGroupFullName", "TargetGroupName"},
		kumo:  []string{"Targets"},
	},
	typeCertificate: {
		props: []string{"CertificateAuthorityArn", "CertificateExport", "CertificateTransparencyLoggingPreference", "DomainName", "DomainValidationOptions", "KeyAlgorithm", "SubjectAlternativeNames", "Tags", "ValidationMethod"},
		kumo:  []string{"CertificateFile", "PrivateKeyFile"},
	},
	typeRecordSet: {
		props: recordSetProps,
	},
	typeRecordSetGroup: {
		props: []string{"Comment", "HostedZoneId", "HostedZoneName", "RecordSets"},
	},
	typeCachePolicy: {
		props: []string{"CachePolicyConfig"},
		attrs: []string{"Id", "LastModifiedTime"},
	},
	typeOriginRequestPolicy: {
		props: []string{"OriginRequestPolicyConfig"},
		attrs: []string{"Id", "LastModifiedTime"},
	},
	typeResponseHeadersPolicy: {
		props: []string{"ResponseHeadersPolicyConfig"},
		attrs: []string{"Id", "LastModifiedTime"},
	},
	typeInstance: {
		props: []string{"AdditionalInfo", "Affinity", "AvailabilityZone", "BlockDeviceMappings", "CpuOptions", "CreditSpecification", "DisableApiTermination", "EbsOptimized", "ElasticGpuSpecifications", "ElasticInferenceAccelerators", "EnclaveOptions", "HibernationOptions", "HostId", "HostResourceGroupArn", "IamInstanceProfile", "ImageId", "InstanceInitiatedShutdownBehavior", "InstanceType", "Ipv6AddressCount", "Ipv6Addresses", "KernelId", "KeyName", "LaunchTemplate", "LicenseSpecifications", "MetadataOptions", "Monitoring", "NetworkInterfaces", "PlacementGroupName", "PrivateDnsNameOptions", "PrivateIpAddress", "PropagateTagsToVolumeOnCreation", "RamdiskId", "SecurityGroupIds", "SecurityGroups", "SourceDestCheck", "SsmAssociations", "SubnetId", "Tags", "Tenancy", "UserData", "Volumes"},
		attrs: []string{"AvailabilityZone", "InstanceId", "PrivateDnsName", "PrivateIp"},
		kumo:  []string{"Listen", "Upstream"},
	},
}

var recordSetProps = []string{"AliasTarget", "CidrRoutingConfig", "Comment", "Failover", "GeoLocation", "GeoProximityLocation", "HealthCheckId", "HostedZoneId", "HostedZoneName", "MultiValueAnswer", "Name", "Region", "ResourceRecords", "SetIdentifier", "TTL", "Type", "Weight"}

// unmodeledAttrs are real attributes kumo deliberately does not model.
var unmodeledAttrs = map[string]string{
	typeInstance + ".PublicIp":      "not modeled: kumo instances have no public address (they sit behind the ALB); use PrivateIp",
	typeInstance + ".PublicDnsName": "not modeled: kumo instances have no public address (they sit behind the ALB); use PrivateDnsName",
	typeInstance + ".VpcId":         "not modeled: kumo does not model VPCs; Ref the VPC resource instead",
	typeInstance + ".SubnetId":      "not modeled: kumo does not model subnets; Ref the subnet resource instead",
	typeCertificate + ".Id":         "not modeled; use Ref for the certificate ARN",
}

// elbHostedZones is the Route 53 hosted zone of Application Load Balancers
// per region (CanonicalHostedZoneID; alb.md §3.4, AWS "Elastic Load
// Balancing endpoints and quotas").
var elbHostedZones = map[string]string{
	"us-east-1":      "Z35SXDOTRQ7X7K",
	"us-east-2":      "Z3AADJGX6KTTL2",
	"us-west-1":      "Z368ELLRRE2KJ0",
	"us-west-2":      "Z1H1FL5HABSF5",
	"af-south-1":     "Z268VQBMOI5EKX",
	"ap-east-1":      "Z3DQVH9N71FHZ0",
	"ap-south-1":     "ZP97RAFLXTNZK",
	"ap-northeast-1": "Z14GRHDCWA56QT",
	"ap-northeast-2": "ZWKZPGTI48KDX",
	"ap-northeast-3": "Z5LXEXXYW11ES",
	"ap-southeast-1": "Z1LMS91P8CMLE5",
	"ap-southeast-2": "Z1GM3OXH4ZPM65",
	"ca-central-1":   "ZQSVJUPU6J1EY",
	"eu-central-1":   "Z215JYRZR1TBD5",
	"eu-west-1":      "Z32O12XQLNTSW2",
	"eu-west-2":      "ZHURV8PSTC4K8",
	"eu-west-3":      "Z3Q77PNBQS71R4",
	"eu-north-1":     "Z23TAZ7LKYBL5L",
	"eu-south-1":     "Z3ULH7SSC9OV64",
	"me-south-1":     "ZS929ML54UICD",
	"sa-east-1":      "Z2P70J7HTTTPLU",
}

// UnknownRegionHostedZoneID is the CanonicalHostedZoneID kumo reports for a
// load balancer in a region missing from its table. It is a placeholder that
// no real zone uses; alias records in such regions accept any HostedZoneId.
const UnknownRegionHostedZoneID = "ZKUMOUNKNOWNREGION"

// CloudFrontHostedZoneID is the hosted zone of every CloudFront distribution
// (Route 53 AliasTarget documentation).
const CloudFrontHostedZoneID = "Z2FDTNDATAQYW2"

func elbHostedZone(region string) string {
	if z, ok := elbHostedZones[region]; ok {
		return z
	}
	return UnknownRegionHostedZoneID
}

// identity computes a resolved resource's Ref value and attributes.
func (b *builder) identity(r *resource) {
	sn := b.stackName
	r.attrs = map[string]*node{}
	set := func(k, v string) { r.attrs[k] = str(v, 0) }
	props := r.rprops
	meta := r.rmeta
	text := func(n *node, key string) string {
		v := n.get(key)
		if v == nil || v.kind == kMap || v.kind == kSeq {
			return ""
		}
		return v.str
	}
	elbARN := fmt.Sprintf("arn:aws:elasticloadbalancing:%s:%s:", b.region, b.account)
	switch r.typ {
	case typeDistribution:
		dom := strings.ToLower(text(meta, "DomainName"))
		if dom == "" {
			dom = distributionDomain(sn, r.id)
		}
		id := distributionID(sn, r.id)
		r.ref = id
		set("Id", id)
		set("DomainName", dom)
	case typeLoadBalancer:
		name := text(props, "Name")
		if name == "" {
			name = physicalName(sn, r.id, 32)
		}
		id := stableHex("lb-id", sn, r.id, 16)
		arn := elbARN + "loadbalancer/app/" + name + "/" + id
		dns := text(meta, "DNSName")
		if dns == "" {
			prefix := ""
			if text(props, "Scheme") == "internal" {
				prefix = "internal-"
			}
			dns = prefix + name + "-" + lbDNSDigits(sn, r.id) + "." + b.region + ".elb.amazonaws.com"
		}
		r.ref = arn
		set("LoadBalancerArn", arn)
		set("LoadBalancerName", name)
		set("LoadBalancerFullName", "app/"+name+"/"+id)
		set("DNSName", dns)
		set("CanonicalHostedZoneID", elbHostedZone(b.region))
		sg := props.get("SecurityGroups")
		if sg == nil || sg.kind != kSeq {
			sg = &node{kind: kSeq}
		}
		r.attrs["SecurityGroups"] = sg
		r.obj = &lbIdentity{name: name, id: id}
	case typeListener:
		lbName, lbID := "unknown", "0000000000000000"
		if lb := b.byRef(typeLoadBalancer, text(props, "LoadBalancerArn")); lb != nil {
			if li, ok := lb.obj.(*lbIdentity); ok {
				lbName, lbID = li.name, li.id
			}
		}
		arn := elbARN + "listener/app/" + lbName + "/" + lbID + "/" + stableHex("listener", sn, r.id, 16)
		r.ref = arn
		set("ListenerArn", arn)
	case typeListenerRule:
		arn := elbARN + "listener-rule/app/unknown/0000000000000000/0000000000000000/" + stableHex("rule", sn, r.id, 16)
		if l := b.byRef(typeListener, text(props, "ListenerArn")); l != nil {
			arn = strings.Replace(l.ref, ":listener/", ":listener-rule/", 1) + "/" + stableHex("rule", sn, r.id, 16)
		}
		r.ref = arn
		set("RuleArn", arn)
		set("IsDefault", "false")
	case typeListenerCertificate:
		r.ref = elbARN + "listener-certificate/" + stableHex("listener-cert", sn, r.id, 16)
	case typeTargetGroup:
		name := text(props, "Name")
		if name == "" {
			name = physicalName(sn, r.id, 32)
		}
		id := stableHex("tg-id", sn, r.id, 16)
		arn := elbARN + "targetgroup/" + name + "/" + id
		r.ref = arn
		set("TargetGroupArn", arn)
		set("TargetGroupName", name)
		set("TargetGroupFullName", "targetgroup/"+name+"/"+id)
		tg := r
		r.lazy = map[string]func(int) *node{"LoadBalancerArns": func(line int) *node { return b.tgLoadBalancerArns(tg, line) }}
	case typeCertificate:
		r.ref = fmt.Sprintf("arn:aws:acm:%s:%s:certificate/%s", b.region, b.account, stableUUID("acm", sn, r.id))
	case typeRecordSet:
		r.ref = strings.TrimSuffix(strings.ToLower(text(props, "Name")), ".")
	case typeRecordSetGroup:
		r.ref = physicalName(sn, r.id, 64)
	case typeCachePolicy, typeOriginRequestPolicy, typeResponseHeadersPolicy:
		id := stableUUID("cf-policy", sn, r.id)
		r.ref = id
		set("Id", id)
		set("LastModifiedTime", policyLastModified)
	case typeInstance:
		id := "i-" + stableHex("instance", sn, r.id, 17)
		ip := text(props, "PrivateIpAddress")
		if ip == "" {
			ip = b.assignIP(r.id)
		}
		r.ref = id
		set("InstanceId", id)
		set("PrivateIp", ip)
		set("PrivateDnsName", privateDNSName(ip, b.region))
		set("AvailabilityZone", b.region+"a")
	}
}

type lbIdentity struct{ name, id string }

// privateDNSName is ip-10-0-4-254.<region>.compute.internal, or
// ip-10-0-4-254.ec2.internal in us-east-1.
func privateDNSName(ip, region string) string {
	host := "ip-" + strings.ReplaceAll(ip, ".", "-")
	if region == "us-east-1" {
		return host + ".ec2.internal"
	}
	return host + "." + region + ".compute.internal"
}

// byRef finds the resource of type typ whose Ref value is ref.
func (b *builder) byRef(typ, ref string) *resource {
	if ref == "" {
		return nil
	}
	for _, r := range b.order {
		if r.typ == typ && r.done && r.ref == ref {
			return r
		}
	}
	return nil
}

// tgLoadBalancerArns is TargetGroup.LoadBalancerArns: the load balancers
// whose listeners or rules forward to the group.
func (b *builder) tgLoadBalancerArns(tg *resource, line int) *node {
	out := &node{kind: kSeq, line: line}
	seen := map[string]bool{}
	for _, o := range b.order {
		if !o.done || o.rprops == nil || !containsString(o.rprops, tg.ref) {
			continue
		}
		var lbArn string
		switch o.typ {
		case typeListener:
			lbArn = scalarText(o.rprops.get("LoadBalancerArn"))
		case typeListenerRule:
			if l := b.byRef(typeListener, scalarText(o.rprops.get("ListenerArn"))); l != nil && l.rprops != nil {
				lbArn = scalarText(l.rprops.get("LoadBalancerArn"))
			}
		default:
			continue
		}
		if lbArn != "" && !seen[lbArn] {
			seen[lbArn] = true
			out.item = append(out.item, str(lbArn, line))
		}
	}
	return out
}

func containsString(n *node, s string) bool {
	if n == nil {
		return false
	}
	switch n.kind {
	case kMap:
		for _, v := range n.vals {
			if containsString(v, s) {
				return true
			}
		}
	case kSeq:
		for _, v := range n.item {
			if containsString(v, s) {
				return true
			}
		}
	default:
		return n.str == s
	}
	return false
}
