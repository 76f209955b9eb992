package accesslog

import (
	"bytes"
	"compress/gzip"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"regexp"
	"sort"
	"strings"
)

// readLogFile returns the complete lines of a log file: a ".gz" file is
// decompressed whole; a live plain file is cut after its last "\n" (a line
// still being written is not yet part of the log). If a plain file has
// meanwhile been replaced by its ".gz", that is read instead.
func readLogFile(path string) ([]byte, error) {
	if strings.HasSuffix(path, ".gz") {
		return readGzip(path)
	}
	b, err := os.ReadFile(path)
	if errors.Is(err, fs.ErrNotExist) {
		return readGzip(path + ".gz")
	}
	if err != nil {
		return nil, err
	}
	if i := bytes.LastIndexByte(b, '\n'); i >= 0 {
		return b[:i+1], nil
	}
	return nil, nil
}

// readGzip decompresses a whole gzip file.
func readGzip(path string) ([]byte, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	zr, err := gzip.NewReader(f)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	b, err := io.ReadAll(zr)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	return b, nil
}

// logFile is one file found by a log reader.
type logFile struct {
	sortKey string // period, then name
	path    string
}

// pickFiles keeps, for each base name, the ".gz" file when both it and the
// plain file exist (between the rename and the removal in gzipAndReplace),
// and sorts the result by sortKey.
func pickFiles(found map[string]logFile) []logFile {
	var out []logFile
	for base, f := range found {
		if !strings.HasSuffix(f.path, ".gz") {
			if _, gz := found[base+".gz"]; gz {
				continue
			}
		}
		out = append(out, f)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].sortKey < out[j].sortKey })
	return out
}

// ReadCloudFrontLogs reads every log file of distributionID in dir, live and
// gzipped alike, in file order (UTC hour, then unique id; lines in file
// order). Errors name the file and line.
func ReadCloudFrontLogs(dir, distributionID string) ([]*CloudFrontRecord, error) {
	re, err := regexp.Compile(`^` + regexp.QuoteMeta(distributionID) + `\.(\d{4}-\d{2}-\d{2}-\d{2})\.([A-Z0-9]+)(\.gz)?$`)
	if err != nil {
		return nil, fmt.Errorf("cloudfront log: %w", err)
	}
	entries, err := os.ReadDir(dir)
	if err != nil {
		return nil, fmt.Errorf("cloudfront log: %w", err)
	}
	found := make(map[string]logFile)
	for _, e := range entries {
		m := re.FindStringSubmatch(e.Name())
		if m == nil || e.IsDir() {
			continue
		}
		found[e.Name()] = logFile{sortKey: m[1] + "." + m[2], path: filepath.Join(dir, e.Name())}
	}
	var out []*CloudFrontRecord
	for _, f := range pickFiles(found) {
		b, err := readLogFile(f.path)
		if err != nil {
			return out, fmt.Errorf("cloudfront log: %w", err)
		}
		recs, err := ParseCloudFront(bytes.NewReader(b))
		out = append(out, recs...)
		if err != nil {
			return out, fmt.Errorf("%s: %w", f.path, err)
		}
	}
	return out, nil
}

// albFileRE matches an ALB access-log file name (alb.md §1.1); group 1 is
// the interval end time.
const albFileRE = `^\d{12}_elasticloadbalancing_[a-z0-9-]+_app\.[A-Za-z0-9-]+\.[0-9a-f]{16}_(\d{8}T\d{4}Z)_[0-9A-Fa-f.:]+_[a-z0-9]+\.log(\.gz)?$`

// ReadALBLogs reads every ALB access-log file under dir (searched
// recursively; normally dir/AWSLogs/...), live and gzipped alike, in file
// order (interval end time, then path; lines in file order). Errors name the
// file and line.
func ReadALBLogs(dir string) ([]*ALBRecord, error) {
	re := regexp.MustCompile(albFileRE)
	found := make(map[string]logFile)
	err := filepath.WalkDir(dir, func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if d.IsDir() {
			return nil
		}
		if m := re.FindStringSubmatch(d.Name()); m != nil {
			found[path] = logFile{sortKey: m[1] + "\x00" + strings.TrimSuffix(path, ".gz"), path: path}
		}
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("alb log: %w", err)
	}
	var out []*ALBRecord
	for _, f := range pickFiles(found) {
		b, err := readLogFile(f.path)
		if err != nil {
			return out, fmt.Errorf("alb log: %w", err)
		}
		recs, err := ParseALB(bytes.NewReader(b))
		out = append(out, recs...)
		if err != nil {
			return out, fmt.Errorf("%s: %w", f.path, err)
		}
	}
	return out, nil
}
