package stack

import (
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"fmt"
	"strings"
)

// digest is the stable hash behind every generated name: the same stack name,
// logical ID and purpose always give the same bytes.
func digest(purpose, stackName, logicalID string) []byte {
	h := sha256.Sum256([]byte("kumo\x00" + purpose + "\x00" + stackName + "\x00" + logicalID))
	return h[:]
}

// stableChars draws n characters of alphabet from the digest (extended by
// re-hashing when needed).
func stableChars(purpose, stackName, logicalID, alphabet string, n int) string {
	var out []byte
	seed := digest(purpose, stackName, logicalID)
	for len(out) < n {
		for i := 0; i+1 < len(seed) && len(out) < n; i += 2 {
			v := binary.BigEndian.Uint16(seed[i:])
			out = append(out, alphabet[int(v)%len(alphabet)])
		}
		s := sha256.Sum256(seed)
		seed = s[:]
	}
	return string(out)
}

const (
	lowerAlnum = "abcdefghijklmnopqrstuvwxyz0123456789"
	upperAlnum = "ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789"
	digits     = "0123456789"
)

func stableHex(purpose, stackName, logicalID string, n int) string {
	return stableChars(purpose, stackName, logicalID, "0123456789abcdef", n)
}

// stableUUID is a version-4-shaped UUID stable for a logical ID.
func stableUUID(purpose, stackName, logicalID string) string {
	d := digest(purpose, stackName, logicalID)
	d[6] = d[6]&0x0f | 0x40
	d[8] = d[8]&0x3f | 0x80
	h := hex.EncodeToString(d[:16])
	return h[0:8] + "-" + h[8:12] + "-" + h[12:16] + "-" + h[16:20] + "-" + h[20:32]
}

// distributionDomain is d + 13 lowercase alphanumerics + .cloudfront.net
// (cloudfront.md §6).
func distributionDomain(stackName, id string) string {
	return "d" + stableChars("cf-domain", stackName, id, lowerAlnum, 13) + ".cloudfront.net"
}

// distributionID is E + 13 uppercase alphanumerics (cloudfront.md §6).
func distributionID(stackName, id string) string {
	return "E" + stableChars("cf-id", stackName, id, upperAlnum, 13)
}

// physicalName builds a CloudFormation-style generated name
// (<stack>-<logical>-<suffix>) of at most max characters. UNCONFIRMED: the
// exact truncation CloudFormation applies is undocumented; this keeps the
// shape of real names such as "mystack-LoadB-1RHK6A4CJA4B5".
func physicalName(stackName, id string, max int) string {
	suffix := stableChars("name", stackName, id, upperAlnum, 13)
	room := max - len(suffix) - 2
	s := sanitizeName(stackName)
	l := sanitizeName(id)
	if len(s)+len(l) > room {
		half := room / 2
		if len(s) > half && len(l) > room-half {
			s, l = s[:half], l[:room-half]
		} else if len(s) > room-len(l) {
			s = s[:room-len(l)]
		} else {
			l = l[:room-len(s)]
		}
	}
	return strings.Trim(s, "-") + "-" + strings.Trim(l, "-") + "-" + suffix
}

func sanitizeName(s string) string {
	var b strings.Builder
	for _, r := range s {
		if r < 128 && (r == '-' || r >= '0' && r <= '9' || r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z') {
			b.WriteRune(r)
		}
	}
	return b.String()
}

// lbDNSDigits is the decimal part of a generated ALB DNS name: 10 digits, no
// leading zero (alb.md §3.4).
func lbDNSDigits(stackName, id string) string {
	d := stableChars("lb-dns", stackName, id, digits, 10)
	if d[0] == '0' {
		d = "1" + d[1:]
	}
	return d
}

// ignoredPrefixes gives the ID prefix of the types kumo ignores, so that a
// Ref to them still yields a realistic value.
var ignoredPrefixes = map[string]string{
	"AWS::EC2::VPC":                          "vpc-",
	"AWS::EC2::Subnet":                       "subnet-",
	"AWS::EC2::SecurityGroup":                "sg-",
	"AWS::EC2::InternetGateway":              "igw-",
	"AWS::EC2::RouteTable":                   "rtb-",
	"AWS::EC2::NatGateway":                   "nat-",
	"AWS::EC2::NetworkAcl":                   "acl-",
	"AWS::EC2::NetworkInterface":             "eni-",
	"AWS::EC2::VPCEndpoint":                  "vpce-",
	"AWS::EC2::Volume":                       "vol-",
	"AWS::EC2::LaunchTemplate":               "lt-",
	"AWS::EC2::EIP":                          "eipalloc-",
	"AWS::EC2::KeyPair":                      "key-",
	"AWS::EC2::PlacementGroup":               "pg-",
	"AWS::EC2::TransitGateway":               "tgw-",
	"AWS::EC2::DHCPOptions":                  "dopt-",
	"AWS::EC2::CustomerGateway":              "cgw-",
	"AWS::EC2::VPNGateway":                   "vgw-",
	"AWS::Route53::HostedZone":               "Z",
	"AWS::CloudFront::CachePolicy":           "",
	"AWS::CloudFront::OriginRequestPolicy":   "",
	"AWS::CloudFront::ResponseHeadersPolicy": "",
}

// fakeID is the stable stand-in physical ID of a resource kumo ignores: a
// vpc-/subnet-/sg-... ID for EC2 networking types, an uppercase zone ID for
// hosted zones, a UUID for CloudFront policies, and
// "<stack>-<logical>-<suffix>" for anything else.
func fakeID(typ, stackName, id string) string {
	p, ok := ignoredPrefixes[typ]
	switch {
	case ok && p == "Z":
		return "Z" + stableChars("ignored", stackName, id, upperAlnum, 20)
	case ok && p == "":
		return stableUUID("ignored", stackName, id)
	case ok:
		return p + stableHex("ignored", stackName, id, 17)
	}
	return physicalName(stackName, id, 64)
}

// fakeAttr is the stand-in for Fn::GetAtt on an ignored resource: the fake
// ID for the *Id attributes (GroupId, VpcId, ...), else a placeholder naming
// the attribute.
func fakeAttr(typ, stackName, id, attr string) string {
	if strings.HasSuffix(attr, "Id") || attr == "Arn" {
		if attr == "Arn" {
			return fmt.Sprintf("arn:aws:kumo-ignored:::%s/%s", id, fakeID(typ, stackName, id))
		}
		return fakeID(typ, stackName, id)
	}
	return "kumo-ignored-" + strings.ToLower(id) + "-" + strings.ToLower(strings.ReplaceAll(attr, ".", "-"))
}
