package dns

import "errors"

// ErrNotFound is returned (wrapped) for a name that does not exist: a modeled
// name with no record, or a name the system resolver reports as NXDOMAIN. The
// edge maps it to OriginDnsError.
var ErrNotFound = errors.New("no such host")

// ErrNoListener is returned (wrapped) when a modeled name exists but nothing
// listens on the asked port (an ALB without a listener on that port). A real
// client would see the connection refused; the edge maps it to
// OriginConnectError.
var ErrNoListener = errors.New("connection refused: no listener on that port")

// ErrLookupFailed is returned (wrapped) when a name exists or may exist but
// cannot be resolved: a CNAME/alias loop or chain that is too long, a record
// without usable values, or a system resolver failure other than NXDOMAIN
// (SERVFAIL, timeout). CloudFront reports these as OriginDnsError, like
// ErrNotFound (cloudfront.md §2.4, "DNS NXDOMAIN/SERVFAIL").
var ErrLookupFailed = errors.New("DNS lookup failed")
