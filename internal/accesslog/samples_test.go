package accesslog

import (
	"bufio"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"testing"
)

// markedMalformed lists the sample lines whose own '#' comments say they are
// truncated or malformed: file name → line number → the text the file's
// comments must contain and the text the parse error must contain.
var markedMalformed = map[string]map[int]struct{ comment, err string }{
	"09-elastic-integrations-test-cloudfront.txt": {
		19: {comment: "last line is truncated", err: "cloudfront log: 31 fields, want 18, 19, 23, 24, 26 or ≥33"},
	},
}

// sampleParser returns the parser for a sample file, by its kind.
func sampleParser(dir, name string) (string, func(string) error) {
	switch {
	case dir == "cloudfront-logs":
		return "cloudfront", func(l string) error { _, err := ParseCloudFrontLine(l); return err }
	case name == "connection-logs.log":
		return "alb connection", func(l string) error { _, err := ParseALBConnectionLine(l); return err }
	case name == "health-check-logs.log":
		return "alb health check", func(l string) error { _, err := ParseALBHealthCheckLine(l); return err }
	default:
		return "alb", func(l string) error { _, err := ParseALBLine(l); return err }
	}
}

// sharedTestdata finds the project's shared testdata (../shared/testdata
// beside the repository root), which testdata/samples copies; "" if absent.
func sharedTestdata() string {
	dir, err := filepath.Abs(".")
	if err != nil {
		return ""
	}
	for {
		if _, err := os.Stat(filepath.Join(dir, "go.mod")); err == nil {
			cand := filepath.Join(filepath.Dir(dir), "shared", "testdata")
			if st, err := os.Stat(cand); err == nil && st.IsDir() {
				return cand
			}
			return ""
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			return ""
		}
		dir = parent
	}
}

// TestSamplesAllLinesRead walks the real-log samples — the copy in
// testdata/samples and, when present, the shared testdata it was copied
// from — and checks that every non-comment line is read by a parser, except
// the lines their files mark as truncated, which must fail with a clear
// error.
func TestSamplesAllLinesRead(t *testing.T) {
	roots := []string{filepath.Join("testdata", "samples")}
	if shared := sharedTestdata(); shared != "" {
		roots = append(roots, shared)
	} else {
		t.Log("no ../shared/testdata beside the repository; checking the copy in testdata/samples only")
	}
	for _, root := range roots {
		t.Run(filepath.Base(filepath.Dir(root))+"/"+filepath.Base(root), func(t *testing.T) { checkSamples(t, root) })
	}
}

func checkSamples(t *testing.T, root string) {
	total, parsed, malformed := 0, 0, 0
	perKind := map[string]int{}
	for _, dir := range []string{"cloudfront-logs", "alb-logs"} {
		paths, err := filepath.Glob(filepath.Join(root, dir, "*"))
		if err != nil || len(paths) == 0 {
			t.Fatalf("no samples in %s: %v", dir, err)
		}
		sort.Strings(paths)
		for _, path := range paths {
			name := filepath.Base(path)
			kind, parse := sampleParser(dir, name)
			f, err := os.Open(path)
			if err != nil {
				t.Fatal(err)
			}
			var comments strings.Builder
			sc := bufio.NewScanner(f)
			sc.Buffer(nil, 1<<20)
			lineNo := 0
			for sc.Scan() {
				lineNo++
				line := sc.Text()
				if strings.HasPrefix(line, "#") {
					comments.WriteString(line)
					comments.WriteByte('\n')
					continue
				}
				if strings.TrimSpace(line) == "" {
					continue
				}
				total++
				err := parse(line)
				if m, ok := markedMalformed[name][lineNo]; ok {
					malformed++
					if !strings.Contains(comments.String(), m.comment) {
						t.Errorf("%s:%d: listed as malformed but the file's comments do not say %q", name, lineNo, m.comment)
					}
					if err == nil {
						t.Errorf("%s:%d: marked malformed but parsed", name, lineNo)
					} else if !strings.Contains(err.Error(), m.err) {
						t.Errorf("%s:%d: error %q, want it to contain %q", name, lineNo, err, m.err)
					}
					continue
				}
				if err != nil {
					t.Errorf("%s:%d: %v", name, lineNo, err)
					continue
				}
				parsed++
				perKind[kind]++
			}
			f.Close()
			if err := sc.Err(); err != nil {
				t.Fatal(err)
			}
		}
	}
	t.Logf("sample lines: total %d, parsed %d, marked malformed %d; by parser %v", total, parsed, malformed, perKind)
	if parsed != total-malformed {
		t.Errorf("parsed %d, want total %d - marked malformed %d = %d", parsed, total, malformed, total-malformed)
	}
	if malformed != 1 {
		t.Errorf("marked malformed lines found: %d, want 1", malformed)
	}
}

// TestSampleLayouts checks the layout (field count) reported for one line of
// each historical CloudFront layout and the ALB eras.
func TestSampleLayouts(t *testing.T) {
	cf := []struct {
		file   string
		fields int
	}{
		{"06-goaccess-issue108-2014-range.txt", 18},
		{"11-node-log-dissector-2015.txt", 19},
		{"05-logstash-patterns-core-2016.txt", 23},
		{"02-aws-docs-example-2014-26-fields.txt", 26},
		{"04-task-seed-2023-nrt57.txt", 33},
		{"01-aws-docs-example-2019-current.txt", 33}, // includes the trailing-TAB line
	}
	for _, c := range cf {
		b, err := os.ReadFile(filepath.Join("testdata", "samples", "cloudfront-logs", c.file))
		if err != nil {
			t.Fatal(err)
		}
		for _, line := range strings.Split(strings.TrimSpace(string(b)), "\n") {
			if strings.HasPrefix(line, "#") {
				continue
			}
			_, n, err := ParseCloudFrontLineFields(line)
			if err != nil || n != c.fields {
				t.Errorf("%s: fields %d err %v, want %d", c.file, n, err, c.fields)
			}
		}
	}
	alb := map[string][]int{
		"elastic-beats-filebeat-alb.log": {25},
		"coralogix-grpcs.log":            {29},
		"newest-format-2025-2026.log":    {33, 36},
		"vrl-tests-alb.log":              {29, 30},
	}
	for file, want := range alb {
		b, err := os.ReadFile(filepath.Join("testdata", "samples", "alb-logs", file))
		if err != nil {
			t.Fatal(err)
		}
		seen := map[int]bool{}
		for _, line := range strings.Split(strings.TrimSpace(string(b)), "\n") {
			if strings.HasPrefix(line, "#") {
				continue
			}
			_, n, err := ParseALBLineFields(line)
			if err != nil {
				t.Fatalf("%s: %v", file, err)
			}
			seen[n] = true
		}
		for _, w := range want {
			if !seen[w] {
				t.Errorf("%s: no %d-field line seen (saw %v)", file, w, seen)
			}
		}
	}
}
