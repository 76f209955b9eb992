package accesslog

import (
	"compress/gzip"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"regexp"
	"sort"
	"strings"
	"sync"
	"testing"
	"time"
)

// fakeClock is a settable clock for LogOptions.Now.
type fakeClock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *fakeClock) Now() time.Time { c.mu.Lock(); defer c.mu.Unlock(); return c.t }
func (c *fakeClock) Set(t time.Time) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.t = t
}

// waitFor polls cond until it holds or 10 s pass.
func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	tick := time.NewTicker(5 * time.Millisecond)
	defer tick.Stop()
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		<-tick.C
	}
}

// listFiles returns the paths of all regular files under dir, relative to
// dir, sorted.
func listFiles(t *testing.T, dir string) []string {
	t.Helper()
	var out []string
	filepath.WalkDir(dir, func(p string, d os.DirEntry, err error) error {
		if err == nil && !d.IsDir() {
			rel, _ := filepath.Rel(dir, p)
			out = append(out, rel)
		}
		return nil
	})
	sort.Strings(out)
	return out
}

// gunzip returns the decompressed content of a .gz file.
func gunzip(t *testing.T, path string) string {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	zr, err := gzip.NewReader(f)
	if err != nil {
		t.Fatal(err)
	}
	b, err := io.ReadAll(zr)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

// checkMode fails unless path has permission bits want.
func checkMode(t *testing.T, path string, want os.FileMode) {
	t.Helper()
	fi, err := os.Stat(path)
	if err != nil {
		t.Fatal(err)
	}
	if fi.Mode().Perm() != want {
		t.Errorf("%s mode %v, want %v", path, fi.Mode().Perm(), want)
	}
}

const testDist = "E2Q3EXAMPLE7K"

func cfAt(t time.Time, id string) *CloudFrontRecord {
	r := seedCloudFrontMiss()
	r.Time = t
	r.RequestID = id
	return r
}

func TestCloudFrontLogLiveRotateClose(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "cf")
	l, err := OpenCloudFrontLog(dir, testDist, LogOptions{FlushInterval: 10 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { l.Close() })
	h8 := time.Date(2023, 3, 17, 8, 37, 50, 0, time.UTC)
	if err := l.Write(cfAt(h8, "a")); err != nil {
		t.Fatal(err)
	}
	// Live readability: the line shows up in the plain file without Close.
	waitFor(t, "live line", func() bool {
		recs, err := ReadCloudFrontLogs(dir, testDist)
		return err == nil && len(recs) == 1 && recs[0].RequestID == "a"
	})
	files := listFiles(t, dir)
	live := regexp.MustCompile(`^` + testDist + `\.2023-03-17-08\.[A-Z0-9]{11}$`)
	if len(files) != 1 || !live.MatchString(files[0]) {
		t.Fatalf("files %q, want one live file matching %v", files, live)
	}
	b, _ := os.ReadFile(filepath.Join(dir, files[0]))
	if !strings.HasPrefix(string(b), CloudFrontHeader) {
		t.Errorf("live file does not start with the header: %q", b)
	}
	checkMode(t, filepath.Join(dir, files[0]), 0o644)
	checkMode(t, dir, 0o755)

	// A record for a later hour finishes the 08 file: gzipped, plain removed.
	if err := l.Write(cfAt(h8.Add(time.Hour), "b")); err != nil {
		t.Fatal(err)
	}
	gz := filepath.Join(dir, files[0]+".gz")
	waitFor(t, "gzipped 08 file", func() bool {
		_, errGz := os.Stat(gz)
		_, errPlain := os.Stat(filepath.Join(dir, files[0]))
		return errGz == nil && os.IsNotExist(errPlain)
	})
	checkMode(t, gz, 0o644)
	if got, want := gunzip(t, gz), CloudFrontHeader+string(cfAt(h8, "a").AppendLine(nil)); got != want {
		t.Errorf("gz content %q, want %q", got, want)
	}
	// A late record for 08 goes to a new 08 file.
	if err := l.Write(cfAt(h8.Add(time.Minute), "late")); err != nil {
		t.Fatal(err)
	}
	if err := l.Close(); err != nil {
		t.Fatal(err)
	}
	if err := l.Write(cfAt(h8, "x")); err == nil {
		t.Error("Write after Close succeeded")
	}
	gzName := regexp.MustCompile(`^` + testDist + `\.2023-03-17-(08|09)\.[A-Z0-9]{11}\.gz$`)
	files = listFiles(t, dir)
	if len(files) != 3 {
		t.Fatalf("files after Close %q, want 3 .gz files", files)
	}
	for _, f := range files {
		if !gzName.MatchString(f) {
			t.Errorf("file %q does not match %v", f, gzName)
		}
	}
	recs, err := ReadCloudFrontLogs(dir, testDist)
	if err != nil {
		t.Fatal(err)
	}
	var ids []string
	for _, r := range recs {
		ids = append(ids, r.RequestID)
	}
	sort.Strings(ids[:2]) // the two 08 files are ordered by their random ids
	if strings.Join(ids, ",") != "a,late,b" {
		t.Errorf("records %v, want a,late (hour 08) then b (hour 09)", ids)
	}
}

func TestCloudFrontLogWriteThrough(t *testing.T) {
	dir := t.TempDir()
	l, err := OpenCloudFrontLog(dir, testDist, LogOptions{FlushInterval: -1})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { l.Close() })
	now := time.Now().UTC().Truncate(time.Second)
	for i := range 3 {
		if err := l.Write(cfAt(now, fmt.Sprint(i))); err != nil {
			t.Fatal(err)
		}
		recs, err := ReadCloudFrontLogs(dir, testDist)
		if err != nil || len(recs) != i+1 {
			t.Fatalf("after write %d: %d records, %v", i, len(recs), err)
		}
	}
}

func TestCloudFrontLogConcurrent(t *testing.T) {
	dir := t.TempDir()
	l, err := OpenCloudFrontLog(dir, testDist, LogOptions{FlushInterval: time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	base := time.Date(2023, 3, 17, 8, 59, 0, 0, time.UTC)
	const writers, each = 8, 200
	var wg sync.WaitGroup
	for w := range writers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range each {
				ts := base.Add(time.Duration(i) * time.Second) // crosses into hour 09
				if err := l.Write(cfAt(ts, fmt.Sprintf("w%d-%d", w, i))); err != nil {
					t.Error(err)
					return
				}
			}
		}()
	}
	wg.Wait()
	if err := l.Close(); err != nil {
		t.Fatal(err)
	}
	recs, err := ReadCloudFrontLogs(dir, testDist)
	if err != nil {
		t.Fatal(err)
	}
	seen := map[string]bool{}
	for _, r := range recs {
		if seen[r.RequestID] {
			t.Errorf("duplicate %s", r.RequestID)
		}
		seen[r.RequestID] = true
	}
	if len(recs) != writers*each || len(seen) != writers*each {
		t.Errorf("read %d records (%d distinct), want %d", len(recs), len(seen), writers*each)
	}
	for _, f := range listFiles(t, dir) {
		if !strings.HasSuffix(f, ".gz") {
			t.Errorf("file %s left unzipped after Close", f)
		}
	}
}

func TestOpenCloudFrontLogBadID(t *testing.T) {
	for _, id := range []string{"", "../x", "E1.2", "a b"} {
		if _, err := OpenCloudFrontLog(t.TempDir(), id, LogOptions{}); err == nil {
			t.Errorf("OpenCloudFrontLog(%q) succeeded", id)
		}
	}
}

var testALBIdentity = ALBLogIdentity{AccountID: "123456789012", Region: "ap-northeast-1",
	LBName: "alb-test", LBID: "96e12a2c8669fbe5", NodeIP: "10.0.1.5"}

func albAt(id string) *ALBRecord {
	r := seedALB()
	r.ConnTraceID = id
	return r
}

func TestALBLogLiveIntervalClose(t *testing.T) {
	dir := t.TempDir()
	clock := &fakeClock{t: time.Date(2026, 9, 23, 7, 11, 27, 0, time.UTC)}
	l, err := OpenALBLog(dir, testALBIdentity, LogOptions{Now: clock.Now, FlushInterval: 10 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { l.Close() })
	if err := l.Write(albAt("TID_a")); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "live ALB line", func() bool {
		recs, err := ReadALBLogs(dir)
		return err == nil && len(recs) == 1 && recs[0].ConnTraceID == "TID_a"
	})
	files := listFiles(t, dir)
	name := regexp.MustCompile(`^AWSLogs/123456789012/elasticloadbalancing/ap-northeast-1/2026/09/23/123456789012_elasticloadbalancing_ap-northeast-1_app\.alb-test\.96e12a2c8669fbe5_20260923T0715Z_10\.0\.1\.5_[a-z0-9]{8}\.log$`)
	if len(files) != 1 || !name.MatchString(files[0]) {
		t.Fatalf("files %q, want one matching %v", files, name)
	}
	checkMode(t, filepath.Join(dir, files[0]), 0o644)
	checkMode(t, filepath.Join(dir, "AWSLogs", "123456789012", "elasticloadbalancing", "ap-northeast-1", "2026", "09", "23"), 0o755)
	b, _ := os.ReadFile(filepath.Join(dir, files[0]))
	if string(b) != string(albAt("TID_a").AppendLine(nil)) {
		t.Errorf("live content %q (no header expected)", b)
	}

	// The interval ends: the background ticker gzips the file.
	clock.Set(time.Date(2026, 9, 23, 7, 15, 0, 0, time.UTC))
	waitFor(t, "interval gzip", func() bool {
		f := listFiles(t, dir)
		return len(f) == 1 && f[0] == files[0]+".gz"
	})
	// The next write goes to the 07:20 file; at 23:57 the 00:00 file is dated the next day.
	if err := l.Write(albAt("TID_b")); err != nil {
		t.Fatal(err)
	}
	clock.Set(time.Date(2026, 9, 23, 7, 19, 59, 0, time.UTC)) // same interval, same file
	if err := l.Write(albAt("TID_b2")); err != nil {
		t.Fatal(err)
	}
	clock.Set(time.Date(2026, 9, 23, 23, 57, 0, 0, time.UTC))
	if err := l.Write(albAt("TID_c")); err != nil {
		t.Fatal(err)
	}
	if err := l.Close(); err != nil {
		t.Fatal(err)
	}
	files = listFiles(t, dir)
	gzName := regexp.MustCompile(`^AWSLogs/123456789012/elasticloadbalancing/ap-northeast-1/2026/09/(23|24)/123456789012_elasticloadbalancing_ap-northeast-1_app\.alb-test\.96e12a2c8669fbe5_(20260923T0715Z|20260923T0720Z|20260924T0000Z)_10\.0\.1\.5_[a-z0-9]{8}\.log\.gz$`)
	if len(files) != 3 {
		t.Fatalf("files %q, want 3", files)
	}
	for _, f := range files {
		if !gzName.MatchString(f) {
			t.Errorf("file %q does not match %v", f, gzName)
		}
	}
	if !strings.Contains(strings.Join(files, "\n"), "/2026/09/24/") {
		t.Errorf("the interval ending 00:00 is not under the next day: %q", files)
	}
	recs, err := ReadALBLogs(dir)
	if err != nil {
		t.Fatal(err)
	}
	var ids []string
	for _, r := range recs {
		ids = append(ids, r.ConnTraceID)
	}
	if strings.Join(ids, ",") != "TID_a,TID_b,TID_b2,TID_c" {
		t.Errorf("records %v", ids)
	}
}

func TestALBLogConcurrent(t *testing.T) {
	dir := t.TempDir()
	clock := &fakeClock{t: time.Date(2026, 9, 23, 7, 14, 0, 0, time.UTC)}
	l, err := OpenALBLog(dir, testALBIdentity, LogOptions{Now: clock.Now, FlushInterval: time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	const writers, each = 8, 200
	var wg sync.WaitGroup
	for w := range writers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range each {
				if w == 0 && i == each/2 {
					clock.Set(time.Date(2026, 9, 23, 7, 16, 0, 0, time.UTC)) // next interval mid-way
				}
				if err := l.Write(albAt(fmt.Sprintf("TID_%d_%d", w, i))); err != nil {
					t.Error(err)
					return
				}
			}
		}()
	}
	wg.Wait()
	if err := l.Close(); err != nil {
		t.Fatal(err)
	}
	recs, err := ReadALBLogs(dir)
	if err != nil {
		t.Fatal(err)
	}
	seen := map[string]bool{}
	for _, r := range recs {
		seen[r.ConnTraceID] = true
	}
	if len(recs) != writers*each || len(seen) != writers*each {
		t.Errorf("read %d records (%d distinct), want %d", len(recs), len(seen), writers*each)
	}
}

func TestOpenALBLogBadIdentity(t *testing.T) {
	bad := []func(*ALBLogIdentity){
		func(i *ALBLogIdentity) { i.AccountID = "1234" },
		func(i *ALBLogIdentity) { i.Region = "AP/1" },
		func(i *ALBLogIdentity) { i.LBName = "bad_name" },
		func(i *ALBLogIdentity) { i.LBName = "-x" },
		func(i *ALBLogIdentity) { i.LBID = "xyz" },
		func(i *ALBLogIdentity) { i.NodeIP = "10.0.0.1/../x" },
	}
	for n, mod := range bad {
		id := testALBIdentity
		mod(&id)
		if _, err := OpenALBLog(t.TempDir(), id, LogOptions{}); err == nil {
			t.Errorf("case %d: OpenALBLog(%+v) succeeded", n, id)
		}
	}
}

// BenchmarkCloudFrontLogWrite compares the buffered writer (background flush
// every 200 ms) with write-through (one write(2) per line).
func BenchmarkCloudFrontLogWrite(b *testing.B) {
	for _, mode := range []struct {
		name  string
		flush time.Duration
	}{{"buffered", 0}, {"write-through", -1}} {
		b.Run(mode.name, func(b *testing.B) {
			l, err := OpenCloudFrontLog(b.TempDir(), testDist, LogOptions{FlushInterval: mode.flush})
			if err != nil {
				b.Fatal(err)
			}
			r := seedCloudFrontMiss()
			r.Time = time.Now()
			b.ReportAllocs()
			for b.Loop() {
				if err := l.Write(r); err != nil {
					b.Fatal(err)
				}
			}
			b.StopTimer()
			if err := l.Close(); err != nil {
				b.Fatal(err)
			}
		})
	}
}

// TestYieldingReader: the compressor's reader passes every byte through
// and yields to the scheduler after each read, so a finished file's gzip
// never holds the P for long.
func TestYieldingReader(t *testing.T) {
	src := strings.Repeat("0123456789abcdef", 10_000)
	yields := 0
	y := &yieldingReader{r: strings.NewReader(src), yield: func() { yields++ }}
	var out strings.Builder
	n, err := io.CopyBuffer(&out, y, make([]byte, gzipChunk))
	if err != nil || n != int64(len(src)) || out.String() != src {
		t.Fatalf("copied %d bytes, %v; want all %d unchanged", n, err, len(src))
	}
	if min := len(src) / gzipChunk; yields < min {
		t.Fatalf("%d yields for %d bytes in %d-byte reads, want at least %d", yields, len(src), gzipChunk, min)
	}
}
