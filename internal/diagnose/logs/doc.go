// Package logs owns kumo's after-the-fact log diagnosis: `kumo logs explain`
// (group the error lines of CloudFront standard logs and ALB access,
// connection and health-check logs, correlate CloudFront with the ALB by
// time window and host, and explain each group's cause and next step) and
// `kumo logs stats` (streaming statistics in flat memory). It reads files,
// folder trees as AWS delivers them to S3, plain or gzip, and stdin, and
// parses every line with package accesslog.
package logs
