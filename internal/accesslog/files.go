package accesslog

import (
	"crypto/rand"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"sync"
	"time"

	"github.com/klauspost/compress/gzip"
)

// DefaultFlushInterval is how often buffered lines are handed to the
// kernel when LogOptions.FlushInterval is 0: a line is in the live file
// about this long after Write returns, or later if the disk makes the
// file's previous write wait (fileWriter).
const DefaultFlushInterval = 200 * time.Millisecond

// Modes of the files and directories the log writers create.
const (
	fileMode os.FileMode = 0o644
	dirMode  os.FileMode = 0o755
)

// LogOptions configures CloudFrontLog and ALBLog.
type LogOptions struct {
	// Now is the clock (ALB intervals are taken from it); nil is time.Now.
	Now func() time.Time
	// FlushInterval is how often a background goroutine writes buffered
	// lines to the live file. 0 means DefaultFlushInterval; a negative value
	// means write-through: every Write reaches the file before it returns.
	FlushInterval time.Duration
	// Logger receives write and compression failures; nil is slog.Default().
	Logger *slog.Logger
}

// resolved returns the clock, flush period, write-through flag and logger.
func (o LogOptions) resolved() (func() time.Time, time.Duration, bool, *slog.Logger) {
	now := o.Now
	if now == nil {
		now = time.Now
	}
	every, through := o.FlushInterval, false
	if every == 0 {
		every = DefaultFlushInterval
	}
	if every < 0 {
		every, through = DefaultFlushInterval, true
	}
	lg := o.Logger
	if lg == nil {
		lg = slog.Default()
	}
	return now, every, through, lg
}

// liveFile is a plain-text log file being written.
type liveFile struct {
	path string
	w    *fileWriter
}

// createLive creates path (which must not exist) with mode 0644 and buffers
// header as its first bytes.
func createLive(path, header string) (*liveFile, error) {
	if err := os.MkdirAll(filepath.Dir(path), dirMode); err != nil {
		return nil, fmt.Errorf("create log directory: %w", err)
	}
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_EXCL, fileMode)
	if err != nil {
		return nil, fmt.Errorf("create log file: %w", err)
	}
	if err := f.Chmod(fileMode); err != nil {
		f.Close()
		return nil, fmt.Errorf("chmod log file: %w", err)
	}
	lf := &liveFile{path: path, w: newFileWriter(f, true)}
	if header != "" {
		lf.w.WriteString(header)
	}
	return lf, nil
}

// close writes every buffered line, fsyncs and closes the live file.
func (lf *liveFile) close() error {
	if err := lf.w.close(); err != nil {
		return fmt.Errorf("finish %s: %w", lf.path, err)
	}
	return nil
}

// gzipLevel is the compression level of finished log files. A local kumo
// compresses on the core that serves, so speed matters more than size:
// klauspost/compress at BestSpeed packs a 16 MiB ALB log about 3.5 times
// faster than compress/gzip's default level, into files about 10 % larger
// (8.2 % of the plain size against 7.5 %). Any gzip reader reads them.
const gzipLevel = gzip.BestSpeed

// gzipChunk is how much of a finished log file is compressed between two
// yields of the compressing goroutine (yieldingReader): about 0.1 ms of
// work at gzipLevel.
const gzipChunk = 32 * 1024

// yieldingReader reads from r and, after each read, lets the scheduler run
// the goroutines that are waiting (yield is runtime.Gosched). Compressing a
// finished log file is seconds of CPU work; with kumo on one core (one P),
// a goroutine doing it unbroken would keep the P for Go's whole 10 ms time
// slice at a time, and every request would wait behind it. Yielding after
// each chunk puts the compressor behind the requests instead.
type yieldingReader struct {
	r     io.Reader
	yield func()
}

func (y *yieldingReader) Read(p []byte) (int, error) {
	n, err := y.r.Read(p)
	y.yield()
	return n, err
}

// gzipAndReplace turns the finished plain file path into path+".gz" without
// ever losing a line: it writes path+".gz.tmp", fsyncs it, renames it to
// path+".gz", fsyncs the directory and only then removes path. On failure
// the plain file is left in place. The compressed file is written and
// fsynced through a ring as a live file is (fileWriter), so that neither
// blocks the P of the goroutine that compresses.
func gzipAndReplace(path string) (err error) {
	src, err := os.Open(path)
	if err != nil {
		return fmt.Errorf("gzip %s: %w", path, err)
	}
	defer src.Close()
	tmp := path + ".gz.tmp"
	dst, err := os.OpenFile(tmp, os.O_WRONLY|os.O_CREATE|os.O_TRUNC, fileMode)
	if err != nil {
		return fmt.Errorf("gzip %s: %w", path, err)
	}
	if err = dst.Chmod(fileMode); err != nil {
		dst.Close()
		os.Remove(tmp)
		return fmt.Errorf("gzip %s: %w", path, err)
	}
	fw := newFileWriter(dst, true)
	closed := false
	defer func() {
		if err != nil {
			if !closed {
				fw.abandon()
			}
			os.Remove(tmp)
		}
	}()
	zw, err := gzip.NewWriterLevel(fw, gzipLevel)
	if err != nil {
		return fmt.Errorf("gzip %s: %w", path, err)
	}
	if _, err = io.CopyBuffer(zw, &yieldingReader{r: src, yield: runtime.Gosched}, make([]byte, gzipChunk)); err != nil {
		return fmt.Errorf("gzip %s: %w", path, err)
	}
	if err = zw.Close(); err != nil {
		return fmt.Errorf("gzip %s: %w", path, err)
	}
	closed = true
	if err = fw.close(); err != nil {
		return fmt.Errorf("gzip %s: %w", path, err)
	}
	if err = os.Rename(tmp, path+".gz"); err != nil {
		return fmt.Errorf("gzip %s: %w", path, err)
	}
	if d, derr := os.Open(filepath.Dir(path)); derr == nil {
		_ = fsyncFile(d)
		d.Close()
	}
	if rerr := os.Remove(path); rerr != nil {
		return fmt.Errorf("gzip %s: remove plain file: %w", path, rerr)
	}
	return nil
}

// fileSet is the state shared by CloudFrontLog and ALBLog: the open live
// files keyed by period (unix seconds), a reusable line buffer, the
// background flusher and compressors, and the errors they met.
type fileSet struct {
	kind    string
	now     func() time.Time
	through bool
	log     *slog.Logger

	mu    sync.Mutex
	files map[int64]*liveFile
	// lastKey is the period of the last record CloudFrontLog.Write took:
	// no file of an earlier period is live while records keep this one.
	lastKey int64
	line    []byte
	closed  bool
	errs    []error
	// cur is the live file the last write went to, and curEnd the end of
	// its period (unix seconds): the next write of the same period goes
	// straight to it. finishLocked clears it.
	cur    *liveFile
	curEnd int64
	// syncNoted: the set said its files are written synchronously.
	syncNoted bool

	bg   sync.WaitGroup
	stop chan struct{}
}

// newFileSet starts the background flusher. expire, when non-nil, is called
// under the lock on every tick to finish files whose period is over.
func newFileSet(kind string, opt LogOptions, expire func(s *fileSet, now time.Time)) *fileSet {
	now, every, through, lg := opt.resolved()
	s := &fileSet{kind: kind, now: now, through: through, log: lg,
		files: make(map[int64]*liveFile), stop: make(chan struct{})}
	s.bg.Add(1)
	go func() {
		defer s.bg.Done()
		t := time.NewTicker(every)
		defer t.Stop()
		for {
			select {
			case <-s.stop:
				return
			case <-t.C:
			}
			s.mu.Lock()
			if s.closed {
				s.mu.Unlock()
				return
			}
			for _, f := range s.files {
				if err := f.w.Flush(); err != nil {
					s.failLocked(fmt.Errorf("flush %s: %w", f.path, err))
				}
			}
			if expire != nil {
				expire(s, s.now())
			}
			s.mu.Unlock()
		}
	}()
	return s
}

// failLocked records and logs a background failure (s.mu held).
func (s *fileSet) failLocked(err error) {
	s.errs = append(s.errs, err)
	s.log.Error("access log failure", "log", s.kind, "err", err)
}

// finishLocked takes the live file of period key out of the set and, in
// the background, closes it (its last writes, fsync) and gzips it (s.mu
// held). Neither waits on the disk in the goroutine that logs.
func (s *fileSet) finishLocked(key int64) {
	f := s.files[key]
	if f == nil {
		return
	}
	if f == s.cur {
		s.cur = nil
	}
	delete(s.files, key)
	s.bg.Add(1)
	go func() {
		defer s.bg.Done()
		err := f.close()
		if err == nil {
			err = gzipAndReplace(f.path)
		}
		if err != nil {
			s.mu.Lock()
			s.failLocked(err)
			s.mu.Unlock()
		}
	}()
}

// createLive creates a live file for the set (createLive) and says once,
// at Warn, when its writes cannot go through io_uring.
func (s *fileSet) createLive(path, header string) (*liveFile, error) {
	f, err := createLive(path, header)
	if err != nil {
		return nil, err
	}
	if f.w.r == nil && !s.syncNoted {
		s.syncNoted = true
		s.log.Warn("access log files are written synchronously: a slow disk can delay requests",
			"log", s.kind, "reason", f.w.ringErr)
	}
	return f, nil
}

// writeLocked appends s.line to the live file f (s.mu held).
func (s *fileSet) writeLocked(f *liveFile) error {
	if _, err := f.w.Write(s.line); err != nil {
		return fmt.Errorf("%s log: write %s: %w", s.kind, f.path, err)
	}
	if s.through {
		if err := f.w.flushWait(); err != nil {
			return fmt.Errorf("%s log: write %s: %w", s.kind, f.path, err)
		}
	}
	return nil
}

// close finishes every live file, waits for the compressors and returns
// every failure met since open.
func (s *fileSet) close() error {
	s.mu.Lock()
	if s.closed {
		s.mu.Unlock()
		return nil
	}
	s.closed = true
	close(s.stop)
	for k := range s.files {
		s.finishLocked(k)
	}
	s.mu.Unlock()
	s.bg.Wait()
	s.mu.Lock()
	defer s.mu.Unlock()
	if err := errors.Join(s.errs...); err != nil {
		return fmt.Errorf("%s log: %w", s.kind, err)
	}
	return nil
}

// errClosed is returned by Write after Close.
func errClosed(kind string) error { return fmt.Errorf("%s log: write after Close", kind) }

// randomID returns n characters of [A-Z2-7] from crypto/rand.
func randomID(n int) string { return rand.Text()[:n] }

// cloudFrontUniqueID returns the <unique-ID> part of a CloudFront log file
// name: 11 uppercase alphanumerics like the docs example RT4KCN4SGK9
// (cloudfront.md §1.5). UNCONFIRMED: the real-world format; kumo uses
// [A-Z2-7].
func cloudFrontUniqueID() string { return randomID(11) }

// albRandom returns the {random} part of an ALB log file name: 8 lowercase
// alphanumerics as in every example (alb.md §1.1). UNCONFIRMED: the exact
// alphabet; kumo uses [a-z2-7].
func albRandom() string { return strings.ToLower(randomID(8)) }

// CloudFrontLog writes one distribution's standard log files in a directory,
// named and rotated as CloudFront names them (cloudfront.md §1.5): a live
// plain file <dir>/<DistributionID>.YYYY-MM-DD-HH.<UNIQUEID> per UTC hour of
// the records' Time, starting with CloudFrontHeader, gzipped to the same name
// + ".gz" when a record for a later hour arrives or on Close. Late records
// for an hour whose file is finished go into a new file for that hour
// ("several files per hour are possible"). Safe for concurrent use.
type CloudFrontLog struct {
	dir, dist string
	set       *fileSet
	lines     CloudFrontLineCache // under set.mu
}

// OpenCloudFrontLog starts a CloudFront log for distributionID in dir
// (created 0755 if missing).
func OpenCloudFrontLog(dir, distributionID string, opt LogOptions) (*CloudFrontLog, error) {
	if distributionID == "" || strings.ContainsAny(distributionID, `/\. `) {
		return nil, fmt.Errorf("cloudfront log: distribution id %q is not a valid id", distributionID)
	}
	if err := os.MkdirAll(dir, dirMode); err != nil {
		return nil, fmt.Errorf("cloudfront log: %w", err)
	}
	return &CloudFrontLog{dir: dir, dist: distributionID, set: newFileSet(kindCloudFront, opt, nil)}, nil
}

// cloudFrontFileName is <DistributionId>.YYYY-MM-DD-HH.<unique-ID>, without
// the ".gz" (cloudfront.md §1.5).
func cloudFrontFileName(dist string, hour time.Time) string {
	return dist + "." + hour.UTC().Format("2006-01-02-15") + "." + cloudFrontUniqueID()
}

// Write appends rec to the live file for the UTC hour of rec.Time, first
// finishing (gzipping) the files of earlier hours. The line is readable in
// the file within the flush interval.
func (l *CloudFrontLog) Write(rec *CloudFrontRecord) error {
	if rec == nil {
		return errors.New("cloudfront log: nil record")
	}
	s := l.set
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed {
		return errClosed(s.kind)
	}
	const hourSeconds = int64(time.Hour / time.Second)
	if f, sec := s.cur, rec.Time.Unix(); f != nil && sec < s.curEnd && sec >= s.curEnd-hourSeconds {
		// The hour of the last record: its file is live.
		s.line = l.lines.Append(s.line[:0], rec)
		return s.writeLocked(f)
	}
	hour := rec.Time.UTC().Truncate(time.Hour)
	key := hour.Unix()
	if key != s.lastKey {
		// A record for another hour: finish the files of earlier hours.
		// (Records of one hour, the common case, skip the scan.)
		for k := range s.files {
			if k < key {
				s.finishLocked(k)
			}
		}
		s.lastKey = key
	}
	f := s.files[key]
	if f == nil {
		var err error
		f, err = s.createLive(filepath.Join(l.dir, cloudFrontFileName(l.dist, hour)), CloudFrontHeader)
		if err != nil {
			return fmt.Errorf("cloudfront log: %w", err)
		}
		s.files[key] = f
	}
	s.cur, s.curEnd = f, key+hourSeconds
	s.line = l.lines.Append(s.line[:0], rec)
	return s.writeLocked(f)
}

// Close flushes and gzips every live file and returns every failure met
// since open (including background flush and compression failures).
func (l *CloudFrontLog) Close() error { return l.set.close() }

// ALBLogIdentity names the load balancer node whose access log an ALBLog
// writes; it becomes the object key (alb.md §1.1).
type ALBLogIdentity struct {
	// AccountID is the 12-digit AWS account.
	AccountID string
	// Region is e.g. ap-northeast-1.
	Region string
	// LBName is the load balancer name (1–32 alphanumerics and hyphens).
	LBName string
	// LBID is the 16-hex-digit id part of app/<name>/<id>.
	LBID string
	// NodeIP is the IP of the node writing the file.
	NodeIP string
}

// validate checks the identity fields against the AWS formats so that the
// file name is well formed.
func (id ALBLogIdentity) validate() error {
	ok := func(s string, min, max int, allowed func(rune) bool) bool {
		if len(s) < min || len(s) > max {
			return false
		}
		for _, c := range s {
			if !allowed(c) {
				return false
			}
		}
		return true
	}
	digit := func(c rune) bool { return c >= '0' && c <= '9' }
	lowerHex := func(c rune) bool { return digit(c) || c >= 'a' && c <= 'f' }
	region := func(c rune) bool { return digit(c) || c >= 'a' && c <= 'z' || c == '-' }
	name := func(c rune) bool { return digit(c) || c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c == '-' }
	ip := func(c rune) bool { return lowerHex(c) || c >= 'A' && c <= 'F' || c == '.' || c == ':' }
	switch {
	case !ok(id.AccountID, 12, 12, digit):
		return fmt.Errorf("account id %q is not 12 digits", id.AccountID)
	case !ok(id.Region, 1, 64, region):
		return fmt.Errorf("region %q is not a region name", id.Region)
	case !ok(id.LBName, 1, 32, name) || strings.HasPrefix(id.LBName, "-") || strings.HasSuffix(id.LBName, "-"):
		return fmt.Errorf("load balancer name %q is not 1-32 alphanumerics and hyphens", id.LBName)
	case !ok(id.LBID, 16, 16, lowerHex):
		return fmt.Errorf("load balancer id %q is not 16 lowercase hex digits", id.LBID)
	case !ok(id.NodeIP, 2, 45, ip):
		return fmt.Errorf("node ip %q is not an IP address", id.NodeIP)
	}
	return nil
}

// ALBLogInterval is the period one ALB access-log file covers (alb.md §1.1).
const ALBLogInterval = 5 * time.Minute

// albLogKey is the object key of an ALB access-log file without ".gz":
// AWSLogs/{account}/elasticloadbalancing/{region}/{yyyy}/{mm}/{dd}/{account}_elasticloadbalancing_{region}_app.{lb-name}.{lb-id}_{end-time}_{node-ip}_{random}.log
// where end-time is the end of the 5-minute interval, YYYYMMDDTHHMMZ, and
// the date directories are the delivery (end) date (alb.md §1.1).
func albLogKey(id ALBLogIdentity, end time.Time) string {
	end = end.UTC()
	name := id.AccountID + "_elasticloadbalancing_" + id.Region + "_app." + id.LBName + "." + id.LBID +
		"_" + end.Format("20060102T1504Z") + "_" + id.NodeIP + "_" + albRandom() + ".log"
	return filepath.Join("AWSLogs", id.AccountID, "elasticloadbalancing", id.Region,
		end.Format("2006"), end.Format("01"), end.Format("02"), name)
}

// ALBLog writes one load balancer node's access-log files under dir, named
// as ALB names them (albLogKey): one live plain file per 5-minute interval of
// the clock (LogOptions.Now), gzipped to ".log.gz" once the interval has
// ended (checked on every Write and by the background ticker) or on Close.
// No header line. Safe for concurrent use.
type ALBLog struct{ l *albIntervalLog }

// OpenALBLog starts an access log for the load balancer node id in dir.
func OpenALBLog(dir string, id ALBLogIdentity, opt LogOptions) (*ALBLog, error) {
	l, err := openALBIntervalLog(kindALB, "", dir, id, opt)
	if err != nil {
		return nil, err
	}
	return &ALBLog{l: l}, nil
}

// expireALBLocked finishes every file of s whose 5-minute interval ended at
// or before now (s.mu held). It is handed the set rather than reading an
// ALBLog field, as the flusher starts before OpenALBLog returns.
func expireALBLocked(s *fileSet, now time.Time) {
	for k := range s.files {
		if k <= now.Unix() {
			s.finishLocked(k)
		}
	}
}

// Write appends rec to the live file of the current 5-minute interval.
func (l *ALBLog) Write(rec *ALBRecord) error {
	if rec == nil {
		return errors.New("alb log: nil record")
	}
	return l.l.write(rec.AppendLine)
}

// Close flushes and gzips every live file and returns every failure met
// since open.
func (l *ALBLog) Close() error { return l.l.set.close() }
