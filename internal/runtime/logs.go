package runtime

import (
	"errors"
	"fmt"
	"log/slog"
	"path/filepath"
	"sync"

	"github.com/kumo-dev/kumo/internal/accesslog"
	"github.com/kumo-dev/kumo/internal/model"
)

// ALBNodeIP is the load-balancer node address that names ALB log files. A
// local kumo is one node on this machine.
const ALBNodeIP = "127.0.0.1"

// logSet owns the access-log files. It outlives reloads, so that a
// distribution or load balancer that survives a reload keeps its file and no
// line is lost; it is closed once, at shutdown, after every socket drained.
type logSet struct {
	dir    string
	log    *slog.Logger
	mu     sync.Mutex
	cf     map[string]*accesslog.CloudFrontLog // by distribution ID
	albs   map[string]*accesslog.ALBLog        // by load balancer ARN
	conns  map[string]*accesslog.ALBConnectionLog
	hcs    map[string]*accesslog.ALBHealthCheckLog
	closed bool
	// noAccess (Options.NoAccessLogs) opens no access or connection log and
	// hands out nil sinks for them.
	noAccess bool
}

func newLogSet(dir string, log *slog.Logger) *logSet {
	return &logSet{
		dir:   dir,
		log:   log,
		cf:    map[string]*accesslog.CloudFrontLog{},
		albs:  map[string]*accesslog.ALBLog{},
		conns: map[string]*accesslog.ALBConnectionLog{},
		hcs:   map[string]*accesslog.ALBHealthCheckLog{},
	}
}

// CloudFrontDir and ALBDir are where the two kinds of log go under the
// state directory's logs folder.
func CloudFrontDir(stateDir string) string { return filepath.Join(stateDir, "logs", "cloudfront") }

// ALBDir is the root of the ALB logs (the AWSLogs/... tree is below it).
func ALBDir(stateDir string) string { return filepath.Join(stateDir, "logs", "alb") }

func (s *logSet) openCloudFront(d *model.Distribution) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed {
		return errors.New("logs are closed")
	}
	if s.noAccess {
		return nil
	}
	if _, ok := s.cf[d.ID]; ok {
		return nil
	}
	l, err := accesslog.OpenCloudFrontLog(filepath.Join(s.dir, "cloudfront"), d.ID, accesslog.LogOptions{Logger: s.log})
	if err != nil {
		return fmt.Errorf("CloudFront log for %s: %w", d.ID, err)
	}
	s.cf[d.ID] = l
	return nil
}

func (s *logSet) openALB(stack *model.Stack, lb *model.LoadBalancer) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed {
		return errors.New("logs are closed")
	}
	id := accesslog.ALBLogIdentity{
		AccountID: stack.AccountID,
		Region:    stack.Region,
		LBName:    lb.Name,
		LBID:      lb.ID,
		NodeIP:    ALBNodeIP,
	}
	opt := accesslog.LogOptions{Logger: s.log}
	dir := filepath.Join(s.dir, "alb")
	if _, ok := s.albs[lb.ARN]; !ok && !s.noAccess && logEnabled(lb, attrAccessLogs) {
		l, err := accesslog.OpenALBLog(dir, id, opt)
		if err != nil {
			return fmt.Errorf("ALB log for %s: %w", lb.Name, err)
		}
		s.albs[lb.ARN] = l
	}
	if _, ok := s.conns[lb.ARN]; !ok && !s.noAccess && logEnabled(lb, attrConnectionLogs) {
		l, err := accesslog.OpenALBConnectionLog(dir, id, opt)
		if err != nil {
			return fmt.Errorf("ALB connection log for %s: %w", lb.Name, err)
		}
		s.conns[lb.ARN] = l
	}
	if _, ok := s.hcs[lb.ARN]; !ok && logEnabled(lb, attrHealthCheckLogs) {
		l, err := accesslog.OpenALBHealthCheckLog(dir, id, opt)
		if err != nil {
			return fmt.Errorf("ALB health-check log for %s: %w", lb.Name, err)
		}
		s.hcs[lb.ARN] = l
	}
	return nil
}

// The load-balancer attributes that turn each ALB log on (alb.md §1.1,
// §1.12, §1.13, §6.9).
const (
	attrAccessLogs      = "access_logs.s3.enabled"
	attrConnectionLogs  = "connection_logs.s3.enabled"
	attrHealthCheckLogs = "health_check_logs.s3.enabled"
)

// logEnabled decides whether lb writes the log its attribute names:
// always under Metadata.Kumo.Logs "all" (the local default, so that a
// template written for AWS, where logs go to S3 and are off by default,
// still shows every log locally); under "attributes" only when the
// attribute is "true", as on AWS.
func logEnabled(lb *model.LoadBalancer, attr string) bool {
	if lb.Logs != "attributes" {
		return true
	}
	return lb.Attributes[attr] == "true"
}

// cloudfrontSink returns the function the edge calls with each record of
// distribution d, or nil under Options.NoAccessLogs. Its log must have
// been opened.
func (s *logSet) cloudfrontSink() func(*model.Distribution, *accesslog.CloudFrontRecord) {
	if s.noAccess {
		return nil
	}
	s.mu.Lock()
	logs := make(map[string]*accesslog.CloudFrontLog, len(s.cf))
	for id, l := range s.cf {
		logs[id] = l
	}
	s.mu.Unlock()
	return func(d *model.Distribution, rec *accesslog.CloudFrontRecord) {
		l, ok := logs[d.ID]
		if !ok {
			s.log.Error("CloudFront log line lost: no log open", "distribution", d.ID)
			return
		}
		if err := l.Write(rec); err != nil {
			s.log.Error("CloudFront log line lost", "distribution", d.ID, "err", err)
		}
	}
}

// albSink returns the function load balancer lb calls with each record, or
// nil when lb's access log is off. Its log must have been opened.
func (s *logSet) albSink(lb *model.LoadBalancer) func(*accesslog.ALBRecord) {
	if s.noAccess || !logEnabled(lb, attrAccessLogs) {
		return nil
	}
	s.mu.Lock()
	l := s.albs[lb.ARN]
	s.mu.Unlock()
	return func(rec *accesslog.ALBRecord) {
		if l == nil {
			s.log.Error("ALB log line lost: no log open", "lb", lb.Name)
			return
		}
		if err := l.Write(rec); err != nil {
			s.log.Error("ALB log line lost", "lb", lb.Name, "err", err)
		}
	}
}

// Close flushes and closes (gzips) every log.
func (s *logSet) Close() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed {
		return nil
	}
	s.closed = true
	var errs []error
	for id, l := range s.cf {
		if err := l.Close(); err != nil {
			errs = append(errs, fmt.Errorf("closing CloudFront log %s: %w", id, err))
		}
	}
	for arn, l := range s.albs {
		if err := l.Close(); err != nil {
			errs = append(errs, fmt.Errorf("closing ALB log %s: %w", arn, err))
		}
	}
	for arn, l := range s.conns {
		if err := l.Close(); err != nil {
			errs = append(errs, fmt.Errorf("closing ALB connection log %s: %w", arn, err))
		}
	}
	for arn, l := range s.hcs {
		if err := l.Close(); err != nil {
			errs = append(errs, fmt.Errorf("closing ALB health-check log %s: %w", arn, err))
		}
	}
	return errors.Join(errs...)
}

// albConnSink returns the function load balancer lb calls with each
// connection-log record, or nil when that log is off. The node IP is this
// machine's (ALBNodeIP).
func (s *logSet) albConnSink(lb *model.LoadBalancer) func(*accesslog.ALBConnectionRecord) {
	if s.noAccess || !logEnabled(lb, attrConnectionLogs) {
		return nil
	}
	s.mu.Lock()
	l := s.conns[lb.ARN]
	s.mu.Unlock()
	return func(rec *accesslog.ALBConnectionRecord) {
		if l == nil {
			s.log.Error("ALB connection log line lost: no log open", "lb", lb.Name)
			return
		}
		if rec.IPAddress == "" {
			rec.IPAddress = ALBNodeIP
		}
		if err := l.Write(rec); err != nil {
			s.log.Error("ALB connection log line lost", "lb", lb.Name, "err", err)
		}
	}
}

// albHealthSink returns the function load balancer lb calls with each
// health-check-log record, or nil when that log is off.
func (s *logSet) albHealthSink(lb *model.LoadBalancer) func(*accesslog.ALBHealthCheckRecord) {
	if !logEnabled(lb, attrHealthCheckLogs) {
		return nil
	}
	s.mu.Lock()
	l := s.hcs[lb.ARN]
	s.mu.Unlock()
	return func(rec *accesslog.ALBHealthCheckRecord) {
		if l == nil {
			s.log.Error("ALB health-check log line lost: no log open", "lb", lb.Name)
			return
		}
		if rec.IPAddress == "" {
			rec.IPAddress = ALBNodeIP
		}
		if err := l.Write(rec); err != nil {
			s.log.Error("ALB health-check log line lost", "lb", lb.Name, "err", err)
		}
	}
}
