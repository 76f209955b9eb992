package logs

import (
	"bufio"
	"bytes"
	"compress/gzip"
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"time"
	"unsafe"
)

// Kind is the log format of one line.
type Kind int

// The log kinds kumo reads.
const (
	// KindUnknown is a line no detector recognised.
	KindUnknown Kind = iota
	// KindCloudFront is a CloudFront standard (v1.0 W3C) log line.
	KindCloudFront
	// KindALB is an Application Load Balancer access-log line.
	KindALB
	// KindALBConnection is an ALB connection-log line.
	KindALBConnection
	// KindALBHealthCheck is an ALB health-check-log line.
	KindALBHealthCheck
)

// String names the kind as the accesslog parse errors do.
func (k Kind) String() string {
	switch k {
	case KindCloudFront:
		return "cloudfront"
	case KindALB:
		return "alb"
	case KindALBConnection:
		return "alb connection"
	case KindALBHealthCheck:
		return "alb health check"
	}
	return "unknown"
}

// StdinPath is the path that names standard input.
const StdinPath = "-"

// maxLineBytes bounds one log line, as accesslog does: CloudFront does not
// log requests with more than 20 KB of headers and ALB truncates user agents
// at 8 KB, so 1 MiB is ample.
const maxLineBytes = 1 << 20

// readBufferBytes is the size of the line reader's buffer.
const readBufferBytes = 256 << 10

// Line is one non-blank, non-comment line handed to a LineFunc. Bytes (and
// Text, which aliases it) are only valid during the call.
type Line struct {
	// Source is the file path, or "-" for stdin.
	Source string
	// No is the 1-based line number in Source (after decompression).
	No int
	// Kind is the detected format.
	Kind Kind
	// Bytes is the line without its line ending.
	Bytes []byte
}

// Text returns the line as a string that aliases Bytes without copying;
// it must not be retained after the LineFunc returns (use strings.Clone).
func (l *Line) Text() string {
	if len(l.Bytes) == 0 {
		return ""
	}
	return unsafe.String(&l.Bytes[0], len(l.Bytes))
}

// LineFunc receives each line; a non-nil error stops the reading.
type LineFunc func(*Line) error

// ProgressFunc is told the bytes read so far (compressed bytes for .gz
// files) and the total input size (0 when unknown, as for stdin); final is
// true on the last call, when the input has been read.
type ProgressFunc func(done, total int64, final bool)

// progressInterval is how often a ProgressFunc is called at most.
const progressInterval = 200 * time.Millisecond

// Input names what to read.
type Input struct {
	// Paths are files, directories (read recursively, in path order) or "-".
	Paths []string
	// Stdin is read for "-"; nil means os.Stdin.
	Stdin io.Reader
	// Progress, if set, is called periodically while reading.
	Progress ProgressFunc
}

// inputFile is one resolved input.
type inputFile struct {
	path string
	size int64
}

// resolve expands directories into their regular files (hidden files and
// directories are skipped) and checks that every path exists.
func (in *Input) resolve() ([]inputFile, error) {
	if len(in.Paths) == 0 {
		return nil, errors.New("no input: give one or more files, directories or - for stdin")
	}
	var out []inputFile
	for _, p := range in.Paths {
		if p == StdinPath {
			out = append(out, inputFile{path: StdinPath})
			continue
		}
		st, err := os.Stat(p)
		if err != nil {
			return nil, fmt.Errorf("input: %w", err)
		}
		if !st.IsDir() {
			out = append(out, inputFile{path: p, size: st.Size()})
			continue
		}
		var files []inputFile
		err = filepath.WalkDir(p, func(path string, d fs.DirEntry, err error) error {
			if err != nil {
				return err
			}
			if path != p && strings.HasPrefix(d.Name(), ".") {
				if d.IsDir() {
					return filepath.SkipDir
				}
				return nil
			}
			if !d.Type().IsRegular() {
				return nil
			}
			info, err := d.Info()
			if err != nil {
				return err
			}
			files = append(files, inputFile{path: path, size: info.Size()})
			return nil
		})
		if err != nil {
			return nil, fmt.Errorf("input: reading directory %s: %w", p, err)
		}
		sort.Slice(files, func(i, j int) bool { return files[i].path < files[j].path })
		out = append(out, files...)
	}
	return out, nil
}

// countingReader counts the bytes read through it.
type countingReader struct {
	r io.Reader
	n *int64
}

func (c countingReader) Read(p []byte) (int, error) {
	n, err := c.r.Read(p)
	*c.n += int64(n)
	return n, err
}

// ReadLines calls fn for every non-blank line of the input that does not
// start with '#' (W3C headers, comments), with the line's detected kind.
// Gzip input is recognised by its magic bytes, whatever its name.
func ReadLines(ctx context.Context, in Input, fn LineFunc) error {
	files, err := in.resolve()
	if err != nil {
		return err
	}
	var total int64
	for _, f := range files {
		total += f.size
	}
	lr := &lineReader{ctx: ctx, progress: in.Progress, total: total, fn: fn}
	lr.br = bufio.NewReaderSize(nil, readBufferBytes)
	lr.zbr = bufio.NewReaderSize(nil, readBufferBytes)
	for _, f := range files {
		if err := lr.readFile(f.path, in.Stdin); err != nil {
			return err
		}
	}
	if lr.progress != nil {
		lr.progress(lr.done, total, true)
	}
	return nil
}

// lineReader reads lines from one file after another, reusing its buffers.
type lineReader struct {
	ctx      context.Context
	progress ProgressFunc
	total    int64
	done     int64
	lastProg time.Time
	fn       LineFunc
	br, zbr  *bufio.Reader
	long     []byte
	line     Line
}

// readFile reads one input file (or stdin).
func (lr *lineReader) readFile(path string, stdin io.Reader) error {
	var src io.Reader
	if path == StdinPath {
		src = stdin
		if src == nil {
			src = os.Stdin
		}
	} else {
		f, err := os.Open(path)
		if err != nil {
			return fmt.Errorf("input: %w", err)
		}
		defer f.Close()
		src = f
	}
	lr.br.Reset(countingReader{r: src, n: &lr.done})
	r := lr.br
	if magic, _ := r.Peek(2); len(magic) == 2 && magic[0] == 0x1f && magic[1] == 0x8b {
		zr, err := gzip.NewReader(r)
		if err != nil {
			return fmt.Errorf("input %s: %w", path, err)
		}
		defer zr.Close()
		lr.zbr.Reset(zr)
		r = lr.zbr
	}
	if err := lr.readAll(path, r); err != nil {
		return fmt.Errorf("input %s: %w", path, err)
	}
	return nil
}

// readAll splits r into lines and hands each to fn.
func (lr *lineReader) readAll(path string, r *bufio.Reader) error {
	lr.line = Line{Source: path}
	for {
		b, err := r.ReadSlice('\n')
		if errors.Is(err, bufio.ErrBufferFull) {
			lr.long = append(lr.long[:0], b...)
			for errors.Is(err, bufio.ErrBufferFull) {
				b, err = r.ReadSlice('\n')
				if len(lr.long)+len(b) > maxLineBytes {
					return fmt.Errorf("line %d: longer than %d bytes", lr.line.No+1, maxLineBytes)
				}
				lr.long = append(lr.long, b...)
			}
			b = lr.long
		}
		if len(b) > 0 {
			if cerr := lr.emit(b); cerr != nil {
				return cerr
			}
		}
		if err == io.EOF {
			return nil
		}
		if err != nil {
			return err
		}
	}
}

// emit trims the line ending, skips blank and '#' lines, detects the kind
// and calls fn.
func (lr *lineReader) emit(b []byte) error {
	lr.line.No++
	if lr.line.No&0xFFFF == 0 {
		if err := lr.ctx.Err(); err != nil {
			return err
		}
		if lr.progress != nil {
			if now := time.Now(); now.Sub(lr.lastProg) >= progressInterval {
				lr.lastProg = now
				lr.progress(lr.done, lr.total, false)
			}
		}
	}
	b = bytes.TrimSuffix(b, []byte{'\n'})
	b = bytes.TrimSuffix(b, []byte{'\r'})
	if len(b) == 0 || b[0] == '#' || len(bytes.TrimSpace(b)) == 0 {
		return nil
	}
	lr.line.Bytes = b
	lr.line.Kind = DetectKind(b)
	return lr.fn(&lr.line)
}

// DetectKind tells the format of one log line by its content: a TAB-separated
// line that starts with a date is CloudFront (cloudfront.md §1.1); a line
// that starts with an ISO timestamp is an ALB connection log (alb.md §1.12);
// a space-separated line whose third field is the load balancer id
// (app/…) is an ALB access log (alb.md §1.3); one whose third field is a
// number (the check latency) is an ALB health-check log (alb.md §1.13).
func DetectKind(b []byte) Kind {
	if bytes.IndexByte(b, '\t') >= 0 {
		return KindCloudFront
	}
	if len(b) > 10 && b[0] >= '0' && b[0] <= '9' && b[10] == 'T' {
		return KindALBConnection
	}
	rest := b
	var third []byte
	for i := 0; i < 3; i++ {
		j := bytes.IndexByte(rest, ' ')
		if j < 0 {
			if i == 2 {
				third = rest
			}
			break
		}
		if i == 2 {
			third = rest[:j]
		}
		rest = rest[j+1:]
	}
	switch {
	case len(third) == 0:
		return KindUnknown
	case bytes.HasPrefix(third, []byte("app/")):
		return KindALB
	case third[0] >= '0' && third[0] <= '9':
		return KindALBHealthCheck
	}
	return KindALB
}
