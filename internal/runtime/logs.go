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
	closed bool
}

func newLogSet(dir string, log *slog.Logger) *logSet {
	return &logSet{
		dir:  dir,
		log:  log,
		cf:   map[string]*accesslog.CloudFrontLog{},
		albs: map[string]*accesslog.ALBLog{},
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
	if _, ok := s.albs[lb.ARN]; ok {
		return nil
	}
	l, err := accesslog.OpenALBLog(filepath.Join(s.dir, "alb"), accesslog.ALBLogIdentity{
		AccountID: stack.AccountID,
		Region:    stack.Region,
		LBName:    lb.Name,
		LBID:      lb.ID,
		NodeIP:    ALBNodeIP,
	}, accesslog.LogOptions{Logger: s.log})
	if err != nil {
		return fmt.Errorf("ALB log for %s: %w", lb.Name, err)
	}
	s.albs[lb.ARN] = l
	return nil
}

// cloudfrontSink returns the function the edge calls with each record of
// distribution d. Its log must have been opened.
func (s *logSet) cloudfrontSink() func(*model.Distribution, *accesslog.CloudFrontRecord) {
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

// albSink returns the function load balancer lb calls with each record. Its
// log must have been opened.
func (s *logSet) albSink(lb *model.LoadBalancer) func(*accesslog.ALBRecord) {
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
	return errors.Join(errs...)
}
