// Package accesslog owns the AWS log formats kumo writes and reads: the
// CloudFront standard access log (W3C, 33 tab-separated fields) and the
// Application Load Balancer access log (space-separated, quoted fields). For
// each it has one record type, a writer that escapes fields and names and
// rotates files as AWS does, and a parser that reads every historical layout.
package accesslog
